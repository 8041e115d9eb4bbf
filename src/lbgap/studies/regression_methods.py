"""Huge N, few features: the three methods of the regression study (``studies.regression``) on the streamed rows
of :mod:`lbgap.studies.regression_data`, and the gradient noise scale.

* :func:`one_pass`: the exact least-squares solution, X'X and X'y accumulated in one pass;
* :func:`gd`: full-batch gradient descent, one streamed pass per step;
* :func:`sgd`: mini-batch SGD with a constant step, the last iterate and its polynomial-decay average;
* :func:`noise_scale`: B_noise = tr(Sigma_g)/|G|^2 (McCandlish et al. 2018) from a sample, and its exact value for
  least squares.

Each method tracks when its iterate reaches each target relative gap (:class:`Targets`): examples, steps, and the
process CPU and wall seconds spent generating rows and computing gradients (:class:`Clock`, the loss checks left
out). numpy and scipy only, so that a pass run in a process of its own (``core.memory.in_fresh_process``) imports
nothing else.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from lbgap.studies.regression_data import (BLOCK, CHUNK, Problem, relative_gap, residuals, stream)

TARGETS = (0.01, 0.001)  # relative gaps to the optimal population loss
AVG_C = 3                # polynomial-decay averaging (Shamir & Zhang 2013): weight (c+1)/(t+c) on step t
CHECK_RATIO = 1.05       # loss checks at geometrically spaced example counts (5 % resolution)
HOLD = 2.0               # SGD and the exact pass reach a target once they stay below it for twice the examples


class Clock:
    """CPU and wall seconds of the work between ``resume`` and ``pause`` (the loss checks are left out)."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self._c = self._w = None

    def resume(self):
        self._c, self._w = time.process_time(), time.perf_counter()

    def pause(self):
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


class Targets:
    """When each tracked iterate reaches each target: examples, steps, CPU and wall seconds at the first check
    from which the gap stays at or below the target until ``hold`` times as many examples (``hold=1``: the first
    crossing). A noisy iterate that dips below a target for a moment is not counted; a run that ends while a
    crossing is holding counts it (:meth:`finish`)."""

    def __init__(self, variants=("last",), targets=TARGETS, hold: float = 1.0):
        self.targets, self.hold = tuple(targets), hold
        self.hit = {v: {} for v in variants}
        self._pending = {v: {} for v in variants}
        self.curve: list[dict] = []

    def check(self, gaps: dict, examples: int, steps: int, clock: Clock) -> None:
        self.curve.append(dict(examples=examples, steps=steps, cpu_s=round(clock.cpu, 6),
                               **{f"gap_{v}": g for v, g in gaps.items()}))
        for v, g in gaps.items():
            for t in self.targets:
                if t in self.hit[v]:
                    continue
                if not g <= t:
                    self._pending[v].pop(t, None)
                    continue
                here = dict(examples=examples, steps=steps, cpu_s=clock.cpu, wall_s=clock.wall)
                start = self._pending[v].setdefault(t, here)
                if examples >= self.hold * start["examples"]:
                    self.hit[v][t] = self._pending[v].pop(t)

    def finish(self) -> None:
        for v, pend in self._pending.items():
            self.hit[v].update(pend)
            pend.clear()

    def reached(self, t) -> dict | None:
        """The earliest crossing of ``t`` over the tracked iterates (``variant`` says which)."""
        best = [dict(h[t], variant=v) for v, h in self.hit.items() if t in h]
        return min(best, key=lambda r: r["examples"]) if best else None

    def summary(self) -> dict:
        return {f"{t:g}": self.reached(t) for t in self.targets}


def _diverged(gaps: dict) -> bool:
    return all(not math.isfinite(g) or g > 1e6 for g in gaps.values())


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import (
        tqdm,  # a text bar: also readable in a log or a notebook without widgets
    )
    return tqdm(total=total, desc=desc, unit="row", unit_scale=True, disable=not enabled, mininterval=5.0)


def one_pass(problem: Problem, seed: int, n: int, chunk: int = BLOCK, progress: bool = False,
             targets=TARGETS) -> dict:
    """The exact least-squares solution in one pass: accumulate X'X and X'y in float64 chunk by chunk, solve the
    4x4 system. The solution is also checked at geometrically spaced row counts, which gives the rows (and
    time) an exact solve on the first n rows needs to reach each target."""
    if problem.logistic:
        raise ValueError("one_pass solves least squares only; the logistic problem has no closed form")
    d = problem.d
    xtx, xty, seen = np.zeros((d, d)), np.zeros(d), 0
    clock, tg = Clock(), Targets(targets=targets, hold=HOLD)
    next_check = 64
    w = np.zeros(d)
    with _progress(n, f"{problem.name} exact pass", progress) as bar:
        clock.resume()
        for x, y in stream(problem, seed, n, chunk):
            for lo in range(0, len(x), BLOCK):     # accumulate in block-sized pieces, checking in between
                xb, yb = x[lo:lo + BLOCK], y[lo:lo + BLOCK]
                while len(xb):
                    take = min(len(xb), next_check - seen)
                    xtx += xb[:take].T @ xb[:take]
                    xty += xb[:take].T @ yb[:take]
                    seen += take
                    xb, yb = xb[take:], yb[take:]
                    if seen >= next_check:
                        w = np.linalg.solve(xtx, xty)
                        clock.pause()
                        tg.check(dict(last=relative_gap(problem, w)), seen, 1, clock)
                        next_check = max(seen + 1, math.ceil(seen * CHECK_RATIO))
                        clock.resume()
            bar.update(len(x))
        w = np.linalg.solve(xtx, xty)
        clock.pause()
    tg.check(dict(last=relative_gap(problem, w)), seen, 1, clock)
    tg.finish()
    return dict(w=w.tolist(), xtx=xtx.tolist(), xty=xty.tolist(), passes=1, examples=seen,
                final_gap=tg.curve[-1]["gap_last"], cpu_s=clock.cpu, wall_s=clock.wall,
                targets=tg.summary(), curve=_thin(tg.curve), status="ok")


@np.errstate(over="ignore", invalid="ignore")
def gd(problem: Problem, seed: int, n: int, lr: float, max_passes: int, chunk: int = CHUNK,
       progress: bool = False, targets=TARGETS, abandon_after: int | None = None) -> dict:
    """Full-batch gradient descent from w = 0 with a constant step: each step is one streamed pass over the n
    rows. Stops at the last target, at ``max_passes``, on divergence or, while tuning, after ``abandon_after``
    passes (the best step so far needed that many)."""
    w = np.zeros(problem.d)
    clock, tg = Clock(), Targets(targets=targets)
    status, path = "cap", []
    for p in range(1, max_passes + 1):
        grad = np.zeros(problem.d)
        with _progress(n, f"{problem.name} GD pass {p}", progress) as bar:
            clock.resume()
            for x, y in stream(problem, seed, n, chunk):
                grad += x.T @ residuals(problem, x, y, w)
                bar.update(len(x))
            w = w - lr * grad / n
            clock.pause()
        gaps = dict(last=relative_gap(problem, w))
        tg.check(gaps, p * n, p, clock)
        path.append(w.tolist())
        if _diverged(gaps):
            status = "diverged"
            break
        if all(tg.reached(t) for t in targets):
            status = "target"
            break
        if abandon_after is not None and p >= abandon_after:
            status = "abandoned"
            break
    return dict(w=w.tolist(), passes=p, examples=p * n, final_gap=tg.curve[-1]["gap_last"], cpu_s=clock.cpu,
                wall_s=clock.wall, cpu_per_pass_s=clock.cpu / p, wall_per_pass_s=clock.wall / p,
                targets=tg.summary(), curve=tg.curve, path=path, status=status)


def _cyclic(problem: Problem, seed: int, n: int, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rows 0 ... n-1, again and again (epochs over the same n rows, in order: the rows are i.i.d. already)."""
    while True:
        yield from stream(problem, seed, n, chunk)


@np.errstate(over="ignore", invalid="ignore")   # a diverging step overflows; the next check sees it
def sgd(problem: Problem, seed: int, n: int, batch: int, lr: float, max_examples: int,
        abandon_after: int | None = None, targets=TARGETS) -> dict:
    """Mini-batch SGD from w = 0 with a constant step over the n rows (in order, epoch after epoch), tracking the
    last iterate and its polynomial-decay average (Shamir & Zhang 2013). Stops when every target is reached
    (and the slower iterate is 1.5x behind), on divergence, at ``max_examples`` or, while tuning, once it has
    used ``abandon_after`` examples without beating the best step so far."""
    if batch > n:
        raise ValueError(f"batch {batch} is larger than the {n} rows; use full-batch gradient descent instead")
    d, logistic = problem.d, problem.logistic
    w, wbar = np.zeros(d), np.zeros(d)
    clock, tg = Clock(), Targets(("last", "avg"), targets, hold=HOLD)
    step, examples, next_check, status = 0, 0, batch, "cap"
    chunk = max(BLOCK, batch)
    src = _cyclic(problem, seed, n, chunk)
    bx, by, pos = np.empty((0, d)), np.empty(0), 0
    limit = max_examples if abandon_after is None else min(max_examples, abandon_after)
    first_done = None
    clock.resume()
    while True:
        if pos + batch > len(bx):
            x, y = next(src)
            bx, by, pos = np.concatenate([bx[pos:], x]), np.concatenate([by[pos:], y]), 0
        if batch == 1:   # scalar path: numpy's per-call overhead dominates a 4-vector step
            end = min(len(bx), pos + (next_check - examples))
            for i in range(pos, end):
                xi = bx[i]
                z = xi @ w
                r = (1.0 / (1.0 + math.exp(-z)) if -z < 700 else 0.0) - by[i] if logistic else z - by[i]
                w -= (lr * r) * xi
                step += 1
                wbar += ((AVG_C + 1) / (step + AVG_C)) * (w - wbar)
            examples += end - pos
            pos = end
        else:
            xb, yb = bx[pos:pos + batch], by[pos:pos + batch]
            pos += batch
            w = w - (lr / batch) * (xb.T @ residuals(problem, xb, yb, w))
            step += 1
            examples += batch
            wbar += ((AVG_C + 1) / (step + AVG_C)) * (w - wbar)
        if examples >= next_check:
            clock.pause()
            gaps = dict(last=relative_gap(problem, w), avg=relative_gap(problem, wbar))
            tg.check(gaps, examples, step, clock)
            next_check = max(examples + batch, math.ceil(examples * CHECK_RATIO))
            if _diverged(gaps):
                status = "diverged"
                break
            if first_done is None and all(tg.reached(t) for t in targets):
                first_done = examples
            if first_done is not None and (all(t in h for h in tg.hit.values() for t in targets)
                                           or examples > 1.5 * first_done):
                status = "target"
                break
            if examples >= limit:
                status = "abandoned" if abandon_after is not None and examples >= abandon_after else "cap"
                break
            clock.resume()
    tg.finish()
    return dict(w=w.tolist(), w_avg=wbar.tolist(), steps=step, examples=examples, epochs=examples / n,
                final_gap=tg.curve[-1]["gap_last"], final_gap_avg=tg.curve[-1]["gap_avg"], cpu_s=clock.cpu,
                wall_s=clock.wall, targets=tg.summary(),
                by_iterate={v: {f"{t:g}": h.get(t) for t in targets} for v, h in tg.hit.items()},
                curve=_thin(tg.curve), status=status)


def _thin(curve: list[dict], keep: int = 400) -> list[dict]:
    if len(curve) <= keep:
        return curve
    idx = np.unique(np.linspace(0, len(curve) - 1, keep).round().astype(int))
    return [curve[i] for i in idx]


# ------------------------------------------------------------------------------------- gradient noise

def noise_scale(problem: Problem, w: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict:
    """The simple noise scale ``B_noise = tr(Sigma_g) / |G|^2`` (McCandlish et al. 2018) at ``w`` from the
    per-example gradients of the rows ``(x, y)``: ``tr(Sigma_g)`` unbiased, ``|G|^2`` corrected for the
    ``tr(Sigma_g)/M`` the mean's own noise adds."""
    g = x * residuals(problem, x, y, np.asarray(w))[:, None]
    m = len(g)
    mean = g.mean(axis=0)
    tr = float(((g - mean) ** 2).sum() / (m - 1))
    g2 = float(mean @ mean) - tr / m
    return dict(trace=tr, grad_sq=g2, b_noise=tr / g2 if g2 > 0 else math.inf, rows=m)


def noise_scale_exact(problem: Problem, w: np.ndarray) -> float:
    """Least squares, Gaussian x: ``Cov(g) = G G' + (d' Sigma d + noise^2) Sigma`` with ``G = Sigma d``,
    ``d = w - w*`` (Isserlis), so ``B_noise = 1 + (d' Sigma d + noise^2) tr(Sigma) / |G|^2``."""
    if problem.logistic:
        raise ValueError("the exact noise scale is derived for least squares only; use noise_scale on a sample")
    s = problem.cov
    dlt = np.asarray(w) - problem.w_star
    g = s @ dlt
    return float(1 + (dlt @ s @ dlt + problem.noise**2) * np.trace(s) / (g @ g))
