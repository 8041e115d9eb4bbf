"""Huge N, few features: the headline timing of the regression study (``studies.regression``), the time each method
needs to reach a target on the rows it uses, with the generation of those rows timed apart.

The study's runs time generation and arithmetic together (generation stands in for reading the rows). Near a
target the fastest methods, the exact solve on the first rows and SGD with a small batch, use a few thousand rows,
and both of those timings are then dominated by generating one 65,536-row block (~3 ms): a comparison of them
compares generation, not the methods. Here, for one seed and a plan of (method, rows needed) taken from the
study's measured runs:

* the rows the method uses (rows ``0 ... examples-1`` of the seed, the ones its run saw) are generated, timed
  ``repeats`` times (whole blocks of :data:`~lbgap.studies.regression_data.BLOCK` rows: the unit of the generator);
* the solve alone is timed ``repeats`` times on those rows, after one untimed call: for the exact pass X'X, X'y
  and the 4x4 solve (:func:`exact_solve`); for SGD its updates, last and averaged iterate
  (:func:`sgd_updates`, the arithmetic of ``regression_methods.sgd`` without the loss checks);
* medians of process CPU and wall seconds are kept, with every repeat, and the gap the solve reaches (a check that
  the timed work is the work that reached the target).

Every plan of a seed is timed in one process (``core.memory.in_fresh_process``, one thread), so both methods see
the same seeds and the same machine state. numpy and scipy only.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from lbgap.studies.regression_data import BLOCK, Problem, relative_gap, residuals, rows
from lbgap.studies.regression_methods import AVG_C

REPEATS = 7   # timings per (method, seed): the median is reported (at least 5)


def exact_solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares solution on the rows ``(x, y)``: ``(X'X)^{-1} X'y`` by a 4x4 solve."""
    return np.linalg.solve(x.T @ x, x.T @ y)


@np.errstate(over="ignore", invalid="ignore")
def sgd_updates(problem: Problem, x: np.ndarray, y: np.ndarray, batch: int, lr: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch SGD from w = 0 over the rows ``(x, y)`` in order, ``len(x) // batch`` steps of size ``lr``: the
    updates of ``regression_methods.sgd`` (same arithmetic, same order), without its loss checks. Returns the
    last iterate and its polynomial-decay average."""
    d = problem.d
    w, wbar = np.zeros(d), np.zeros(d)
    steps = len(x) // batch
    if batch == 1:   # the scalar path of sgd: numpy's per-call overhead dominates a 4-vector step
        logistic = problem.logistic
        for i in range(steps):
            xi = x[i]
            z = xi @ w
            r = (1.0 / (1.0 + math.exp(-z)) if -z < 700 else 0.0) - y[i] if logistic else z - y[i]
            w -= (lr * r) * xi
            wbar += ((AVG_C + 1) / (i + 1 + AVG_C)) * (w - wbar)
        return w, wbar
    for step in range(1, steps + 1):
        xb, yb = x[(step - 1) * batch:step * batch], y[(step - 1) * batch:step * batch]
        w = w - (lr / batch) * (xb.T @ residuals(problem, xb, yb, w))
        wbar += ((AVG_C + 1) / (step + AVG_C)) * (w - wbar)
    return w, wbar


def timed(fn: Callable, repeats: int = REPEATS, warmup: int = 1) -> tuple[object, dict]:
    """``fn()`` ``warmup`` times untimed, then ``repeats`` times timed one by one; returns the last result and the
    medians of process CPU and wall seconds with every repeat."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be at least 1")
    for _ in range(warmup):
        fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return out, dict(cpu_s=statistics.median(cpu), wall_s=statistics.median(wall), cpu_s_all=cpu, wall_s_all=wall)


def time_plan(problem: Problem, seed: int, plan: list[dict], repeats: int = REPEATS) -> list[dict]:
    """Time each entry of ``plan`` (dicts with ``method`` "exact" or "sgd", ``examples`` the rows it used, and for
    SGD ``batch``, ``lr`` and ``variant``, "last" or "avg") on seed ``seed``: generation and solve apart (see the
    module docstring). Returns the entries with ``generate`` and ``solve`` timings (dicts of :func:`timed`),
    ``blocks`` generated and the ``gap`` the solve reaches."""
    out = []
    for item in plan:
        n = int(item["examples"])
        if n < 1:
            raise ValueError(f"a plan entry needs at least one row (got examples={n})")
        (x, y), gen = timed(lambda: rows(problem, seed, 0, n), repeats)   # noqa: B023 -- called at once
        if item["method"] == "exact":
            if problem.logistic:
                raise ValueError("the exact solve is for least squares only")
            w, solve = timed(lambda: exact_solve(x, y), repeats)   # noqa: B023
            gap = relative_gap(problem, w)
        elif item["method"] == "sgd":
            (w, wbar), solve = timed(lambda: sgd_updates(problem, x, y, int(item["batch"]), float(item["lr"])),  # noqa: B023
                                     repeats)
            gap = relative_gap(problem, wbar if item.get("variant") == "avg" else w)
        else:
            raise ValueError(f"unknown method {item['method']!r} in a timing plan: exact or sgd")
        out.append(dict(item, generate=gen, solve=solve, blocks=-(-n // BLOCK), gap=gap, repeats=repeats))
    return out
