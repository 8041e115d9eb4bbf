"""Huge N, few features: full-batch gradient descent, mini-batch SGD and one exact pass on regressions with
4 features and N = 10^4 ... 10^9 rows, streamed from a seeded model and never stored.

Two problems (:data:`PROBLEMS`): least squares, ``y = x.w* + noise``, and logistic regression,
``P(y=1|x) = sigmoid(x.w*)``, both with ``x ~ N(0, Sigma)`` (4 correlated features, condition number 10).
Row ``i`` of seed ``s`` is a function of ``(s, i)`` only: rows come in fixed blocks of :data:`BLOCK` rows, each
drawn by its own numpy Generator (SFC64) seeded from ``(seed, problem, block index)``, so any chunking of a range gives
the same rows.

Every method is scored on the *population* loss ``L(w) = E[loss(x, y; w)]``, which is exact here: for least
squares ``L(w) = (noise^2 + (w-w*)' Sigma (w-w*)) / 2``; the logistic model is well specified, so its minimiser is
``w*`` and ``L(w)`` is a two-dimensional Gaussian expectation (the pair ``(x.w*, x.w)``), computed by Gauss-Hermite
quadrature. The relative gap ``(L(w) - L*) / L*`` is what the targets (1 %, 0.1 %) refer to; the sample
minimiser over N rows is ``d/N`` (least squares) above ``L*`` in expectation, ~0.04 % at N = 10^4.

Time is the process CPU time of one thread (``OMP_NUM_THREADS=1``) spent generating rows and computing
gradients, without the loss checks; wall time is kept beside it. Generation stands in for reading the rows.
Results are JSON records under ``data/results/<profile>/regression/``; :func:`run_study` writes them.
"""
from __future__ import annotations

import functools
import math
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from lbgap.core import paths

KIND = "regression"
BLOCK = 2**16            # rows per seeded block: the unit of reproducibility
CHUNK = 2**20            # rows per chunk of a GD pass: bounds memory (32 MiB of float64 features per chunk)
TARGETS = (0.01, 0.001)  # relative gaps to the optimal population loss
AVG_C = 3                # polynomial-decay averaging (Shamir & Zhang 2013): weight (c+1)/(t+c) on step t
CHECK_RATIO = 1.05       # loss checks at geometrically spaced example counts (5 % resolution)
HOLD = 2.0               # SGD and the exact pass reach a target once they stay below it for twice the examples


@dataclass(frozen=True)
class Problem:
    """A seeded generative model: ``x = z L'`` with ``z ~ N(0, I)``, labels from ``w_star``."""
    name: str
    code: int                # enters the block seeds, so the two problems never share rows
    chol: np.ndarray         # L, Sigma = L L'
    w_star: np.ndarray
    noise: float = 0.0       # least squares: standard deviation of the additive noise

    @property
    def d(self) -> int:
        return len(self.w_star)

    @property
    def cov(self) -> np.ndarray:
        return self.chol @ self.chol.T

    @property
    def logistic(self) -> bool:
        return self.name == "logistic"


def _covariance_factor() -> np.ndarray:
    """A fixed 4x4 factor with eigenvalues of Sigma (2, 1, 0.5, 0.2): correlated features, condition number 10."""
    q, _ = np.linalg.qr(np.array([[2., 1, 0, 1], [1, 3, 1, 0], [0, 1, 2, 1], [1, 0, 1, 3]]))
    return q @ np.diag(np.sqrt([2.0, 1.0, 0.5, 0.2]))


PROBLEMS = {
    "least_squares": Problem("least_squares", 1, _covariance_factor(), np.array([1.0, -2.0, 0.5, 1.5]), noise=1.0),
    "logistic": Problem("logistic", 2, _covariance_factor(), np.array([1.0, -2.0, 0.5, 1.5])),
}


def get_problem(name: str) -> Problem:
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown regression problem {name!r}; choose one of {', '.join(PROBLEMS)}") from None


# ----------------------------------------------------------------------------------------------- the data

def block(problem: Problem, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``index*BLOCK ... (index+1)*BLOCK - 1`` of ``seed``: their own Generator, so a function of the index."""
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence([int(seed), problem.code, int(index)])))
    x = rng.standard_normal((BLOCK, problem.d)) @ problem.chol.T
    if problem.logistic:
        y = (rng.random(BLOCK) < expit(x @ problem.w_star)).astype(np.float64)
    else:
        y = x @ problem.w_star + problem.noise * rng.standard_normal(BLOCK)
    return x, y


def stream(problem: Problem, seed: int, stop: int, chunk: int = CHUNK, start: int = 0
           ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rows ``start ... stop-1`` in pieces of ``chunk`` rows (the last may be shorter), generated block by block;
    at most one chunk and one block are held at a time."""
    if chunk < 1 or start < 0 or stop < start:
        raise ValueError(f"stream needs 0 <= start <= stop and chunk >= 1 (got start={start}, stop={stop}, "
                         f"chunk={chunk})")
    xs, ys, held, pos = [], [], 0, start
    while pos < stop:
        b = pos // BLOCK
        x, y = block(problem, seed, b)
        lo, hi = pos - b * BLOCK, min(BLOCK, stop - b * BLOCK)
        x, y = x[lo:hi], y[lo:hi]
        pos += hi - lo
        while len(x):
            take = min(chunk - held, len(x))
            xs.append(x[:take]), ys.append(y[:take])
            held += take
            x, y = x[take:], y[take:]
            if held == chunk:
                yield np.concatenate(xs), np.concatenate(ys)
                xs, ys, held = [], [], 0
    if held:
        yield np.concatenate(xs), np.concatenate(ys)


def rows(problem: Problem, seed: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start ... stop-1`` in memory (small ranges only: tests, the noise-scale sample)."""
    return next(stream(problem, seed, stop, chunk=max(1, stop - start), start=start),
                (np.empty((0, problem.d)), np.empty(0)))


# ----------------------------------------------------------------------------------- losses and gradients

def _softplus(t):
    return np.logaddexp(0.0, t)


@dataclass(frozen=True)
class _Quadrature:
    nodes: np.ndarray
    weights: np.ndarray


def _gauss_hermite(n: int = 96) -> _Quadrature:
    """Nodes and weights for E[f(Z)], Z ~ N(0, 1)."""
    t, w = np.polynomial.hermite.hermgauss(n)
    return _Quadrature(np.sqrt(2.0) * t, w / np.sqrt(np.pi))


_GH = _gauss_hermite()


def optimal_loss(problem: Problem) -> float:
    """``L* = L(w*)``: noise^2/2 for least squares; for the (well-specified) logistic model the mean binary entropy
    of sigmoid(x.w*), x.w* ~ N(0, w*' Sigma w*), by Gauss-Hermite quadrature."""
    if not problem.logistic:
        return problem.noise**2 / 2
    a = math.sqrt(problem.w_star @ problem.cov @ problem.w_star) * _GH.nodes
    p = expit(a)
    return float(_GH.weights @ (p * _softplus(-a) + (1 - p) * _softplus(a)))


def population_loss(problem: Problem, w: np.ndarray) -> float:
    """``L(w)`` exactly (least squares) or by 96x96-point Gauss-Hermite quadrature over ``(x.w*, x.w)`` (logistic)."""
    w = np.asarray(w, dtype=np.float64)
    s = problem.cov
    if not problem.logistic:
        dlt = w - problem.w_star
        return float((problem.noise**2 + dlt @ s @ dlt) / 2)
    caa, cab, cbb = problem.w_star @ s @ problem.w_star, problem.w_star @ s @ w, w @ s @ w
    alpha = cab / caa
    beta = math.sqrt(max(cbb - alpha * cab, 0.0))
    a = math.sqrt(caa) * _GH.nodes[:, None]
    b = alpha * a + beta * _GH.nodes[None, :]
    p = expit(a)
    f = p * _softplus(-b) + (1 - p) * _softplus(b)
    return float(_GH.weights @ f @ _GH.weights)


def relative_gap(problem: Problem, w: np.ndarray) -> float:
    """``(L(w) - L*) / L*`` on the population loss (for least squares, ``(w-w*)' Sigma (w-w*) / noise^2``)."""
    if not problem.logistic:
        dlt = np.asarray(w) - problem.w_star
        return float(dlt @ problem.cov @ dlt) / problem.noise**2
    lstar = optimal_loss(problem)
    return (population_loss(problem, w) - lstar) / lstar


def residuals(problem: Problem, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d loss / d (x.w) per row: ``x.w - y`` (least squares, loss (x.w - y)^2 / 2) or ``sigmoid(x.w) - y``."""
    z = x @ w
    return (expit(z) if problem.logistic else z) - y


def sample_losses(problem: Problem, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    z = x @ w
    return _softplus(z) - y * z if problem.logistic else (z - y) ** 2 / 2


# ---------------------------------------------------------------------------------------- the methods

class _Clock:
    """CPU and wall seconds of the work between ``resume`` and ``pause`` (the loss checks are left out)."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self._c = self._w = None

    def resume(self):
        self._c, self._w = time.process_time(), time.perf_counter()

    def pause(self):
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


class _Targets:
    """When each tracked iterate reaches each target: examples, steps, CPU and wall seconds at the first check
    from which the gap stays at or below the target until ``hold`` times as many examples (``hold=1``: the first
    crossing). A noisy iterate that dips below a target for a moment is not counted; a run that ends while a
    crossing is holding counts it (:meth:`finish`)."""

    def __init__(self, variants=("last",), targets=TARGETS, hold: float = 1.0):
        self.targets, self.hold = tuple(targets), hold
        self.hit = {v: {} for v in variants}
        self._pending = {v: {} for v in variants}
        self.curve: list[dict] = []

    def check(self, gaps: dict, examples: int, steps: int, clock: _Clock) -> None:
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
    clock, tg = _Clock(), _Targets(targets=targets, hold=HOLD)
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
    clock, tg = _Clock(), _Targets(targets=targets)
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
    clock, tg = _Clock(), _Targets(("last", "avg"), targets, hold=HOLD)
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


# ----------------------------------------------------------------------------------------- the study

PROFILES = {
    # seconds: tests and the chapter's smoke run
    "smoke": dict(ns=(10**4, 10**5), batches=(1, 256, 4096), seeds=(1,), gd_tune_n=10**4, gd_full_max_n=10**5,
                  gd_max_passes=300, gd_lrs=(0.5, 0.9), sgd_lr_start=-3, sgd_lr_span=3, sgd_cap=2**16,
                  noise_rows=2**16, child_min_n=None, all_seeds_max_n=10**5, gd_pass_max_n=10**5,
                  logistic_lr_scale=4.0),
    # the real study on one CPU core: tuning on seed 0, measurements on seeds 1 and 2 (N <= 10^6; seed 1 above)
    "quick": dict(ns=tuple(10**k for k in range(4, 10)), batches=(1, 16, 256, 4096, 65536), seeds=(1, 2),
                  gd_tune_n=10**5, gd_full_max_n=10**7, gd_max_passes=2000,
                  gd_lrs=(0.5, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0), sgd_lr_start=-3, sgd_lr_span=8, sgd_cap=2**20,
                  noise_rows=2**20, child_min_n=10**8, all_seeds_max_n=10**6, gd_pass_max_n=10**9,
                  logistic_lr_scale=4.0),
}


def _n_tag(n: int) -> str:
    k = round(math.log10(n))
    return f"1e{k}" if 10**k == n else str(n)


def _prefixed_path(results_dir: Path, profile: str, problem: str, run_id: str) -> Path:
    """Where the record store keeps run ``<problem>-<run_id>`` (``<results_dir>/<profile>/regression/``)."""
    from lbgap.core import records   # imported here: the streaming child processes stay numpy-only
    return records.record_path(results_dir, profile, KIND, f"{problem}-{run_id}")


def _done(path: Path, force: bool) -> dict | None:
    """The record at ``path``, read back through the store (marked ``skipped``), unless ``force`` or there is none."""
    from lbgap.core import records
    return records.done(path, force)


def _write(path: Path, rec: dict, started: str, wall: float) -> dict:
    """A record of the store's current schema, with CPU provenance and the thread count, written atomically."""
    from lbgap.core import records
    prov = dict(records.provenance("cpu", wall, started), omp_num_threads=_threads())
    rec = records.new_record(KIND, **rec, provenance=prov)
    records.atomic_write_json(path, rec)
    return rec


def _threads() -> str | None:
    import os
    return os.environ.get("OMP_NUM_THREADS")


def _now() -> str:
    import datetime as dt
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` of /proc/self/status (Linux; per address space, so a
    spawned process does not inherit its parent's peak, as ``getrusage``'s ``ru_maxrss`` does across exec),
    else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(fn: str, kwargs: dict) -> dict:
    """Run ``fn(**kwargs)`` in this (spawned, numpy-only) process; add its peak RSS and its RSS before the pass."""
    base = _peak_rss_bytes()
    out = globals()[fn](get_problem(kwargs.pop("problem")), **kwargs)
    out["rss_before_bytes"] = base
    out["peak_rss_bytes"] = _peak_rss_bytes()
    out["isolated_process"] = True
    return out


def _call(fn: str, problem: Problem, isolate: bool, **kwargs) -> dict:
    if not isolate:
        return globals()[fn](problem, **kwargs)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        return ex.submit(_child, fn, dict(kwargs, problem=problem.name)).result()


def _run(path: Path, force: bool, log, fn: str, problem: Problem, isolate: bool = False,
         meta: dict | None = None, **kwargs) -> dict:
    """One record: read it back if it exists (unless ``force``), else compute and write it."""
    if (done := _done(path, force)) is not None:
        return done
    started, t0 = _now(), time.perf_counter()
    out = _call(fn, problem, isolate, **kwargs)
    rec = _write(path, dict(run_id=path.stem, problem=problem.name, **(meta or {}), **out), started,
                 time.perf_counter() - t0)
    hit = rec["targets"].get(f"{min(TARGETS):g}")
    log(f"{path.stem}: {rec['status']}, gap {rec['final_gap']:.2e}, {rec['examples']:,} examples, "
        f"{rec['cpu_s']:.2f} CPU s" + (f"; {min(TARGETS):g} at {hit['examples']:,} examples" if hit else ""))
    return rec


def _best(recs: list[dict], target: float) -> dict | None:
    hits = [r for r in recs if r["targets"].get(f"{target:g}")]
    return min(hits, key=lambda r: r["targets"][f"{target:g}"]["examples"]) if hits else None


def run_study(profile: str = "quick", results_dir=None, force: bool = False, problems=tuple(PROBLEMS),
              seeds=None, log=print) -> list[dict]:
    """The whole study for ``profile`` (``smoke`` or ``quick``), one JSON record per run; existing records are
    read back unless ``force``. Order: tune GD's step on ``gd_tune_n`` rows and SGD's step per batch size on the
    stream (seed 0), then every (problem, method, N, seed) with the tuned steps, then the noise scale along GD's
    path, and last the exact pass over the largest N. Runs that stream N >= ``child_min_n`` rows in full go to a
    fresh process that reports its peak RSS. Full-batch GD runs to the target up to ``gd_full_max_n`` rows; up to
    ``gd_pass_max_n`` it runs one pass, and its time to a target is estimated as the passes the largest full run
    needed times the measured time per pass; beyond, the time per pass is scaled in proportion to N. Passes over
    N > ``all_seeds_max_n`` rows are made for the first seed only."""
    if profile not in PROFILES:
        raise ValueError(f"unknown regression profile {profile!r}; choose one of {', '.join(PROFILES)}")
    cfg = PROFILES[profile]
    results_dir = Path(results_dir) if results_dir is not None else paths.RESULTS_DIR
    seeds = tuple(cfg["seeds"] if seeds is None else seeds)
    out, deferred = [], []
    for name in problems:
        pb = get_problem(name)
        lam = float(np.linalg.eigvalsh(pb.cov).max())
        scale = cfg["logistic_lr_scale"] if pb.logistic else 1.0
        rp = functools.partial(_prefixed_path, results_dir, profile, name)

        # -- full-batch GD: tune the step (as a fraction of 2/lambda_max(Sigma)) on gd_tune_n rows, seed 0
        tune_n = cfg["gd_tune_n"]
        gd_tune = []
        for f in cfg["gd_lrs"]:
            best = _best(gd_tune, min(TARGETS))
            abandon = None if best is None else best["targets"][f"{min(TARGETS):g}"]["steps"]
            gd_tune.append(_run(rp(f"gd-tune-f{f:g}-N{_n_tag(tune_n)}-s0"), force, log, "gd", pb,
                                meta=dict(method="gd", role="tune", n=tune_n, seed=0, batch=tune_n,
                                          lr=2 * scale * f / lam, lr_fraction=f, abandon_after=abandon),
                                seed=0, n=tune_n, lr=2 * scale * f / lam, max_passes=cfg["gd_max_passes"],
                                abandon_after=abandon))
        out += gd_tune
        gd_best = _best(gd_tune, min(TARGETS)) or _best(gd_tune, max(TARGETS))
        gd_lr = gd_best["lr"] if gd_best else 2 * scale * cfg["gd_lrs"][0] / lam

        # -- SGD: tune the step per batch size on the stream (rows never repeat), seed 0: a line search over
        #    steps scale * 2^k from k = sgd_lr_start, up while the examples to the last target fall, then down
        sgd_lrs = {b: _tune_sgd(pb, b, scale, cfg, rp, force, log, out) for b in cfg["batches"]}

        # -- measured runs at every N
        for seed in seeds:
            gd_full = gd_pass = None
            for n in cfg["ns"]:
                big = cfg["child_min_n"] is not None and n >= cfg["child_min_n"]
                full_pass = seed == seeds[0] or n <= cfg["all_seeds_max_n"]   # passes over the largest N: one seed
                if not pb.logistic and full_pass:
                    run = functools.partial(_run, rp(f"exact-N{_n_tag(n)}-s{seed}"), force, log, "one_pass", pb,
                                            isolate=big, meta=dict(method="exact", role="measure", n=n, seed=seed,
                                                                   batch=n),
                                            seed=seed, n=n, progress=big)
                    deferred.append(run) if big and n == max(cfg["ns"]) else out.append(run())
                if full_pass and n <= cfg["gd_full_max_n"]:
                    gd_full = _run(rp(f"gd-N{_n_tag(n)}-s{seed}"), force, log, "gd", pb,
                                   meta=dict(method="gd", role="measure", n=n, seed=seed, batch=n, lr=gd_lr,
                                             bounded=False),
                                   seed=seed, n=n, lr=gd_lr, max_passes=cfg["gd_max_passes"])
                    out.append(gd_full)
                elif full_pass and n <= cfg["gd_pass_max_n"]:
                    gd_pass = _bounded_gd(rp(f"gd-N{_n_tag(n)}-s{seed}"), force, log, pb, seed, n, gd_lr,
                                          gd_full, big)
                    out.append(gd_pass)
                elif full_pass and gd_pass is not None:
                    out.append(_extrapolated_gd(rp(f"gd-N{_n_tag(n)}-s{seed}"), force, log, pb, seed, n, gd_lr,
                                                gd_pass))
                for b in cfg["batches"]:
                    if b > n:
                        continue
                    for lr in sorted({v for v in sgd_lrs[b].values() if v is not None}, reverse=True):
                        tuned_for = [f"{t:g}" for t, v in sgd_lrs[b].items() if v == lr]
                        out.append(_run(rp(f"sgd-B{b}-lr{lr:g}-N{_n_tag(n)}-s{seed}"), force, log, "sgd",
                                        pb, meta=dict(method="sgd", role="measure", n=n, seed=seed, batch=b, lr=lr,
                                                      tuned_for=tuned_for),
                                        seed=seed, n=n, batch=b, lr=lr, max_examples=max(cfg["sgd_cap"], 512 * b)))
            if seed == seeds[0]:
                noise_from = gd_full

        # -- gradient noise scale along the full-batch GD path of the largest fully run N (seed 0)
        path_rec = noise_from if noise_from is not None else gd_tune[0]
        sgd_final = [r for r in out if r.get("problem") == name and r.get("role") == "measure"
                     and r.get("method") == "sgd" and r["n"] == max(cfg["ns"]) and r["seed"] == seeds[0]]
        out.append(_noise_record(rp("noise"), force, log, pb, path_rec, cfg["noise_rows"], sgd_final))
    out += [run() for run in deferred]        # the exact pass over the largest N last: the longest run
    return out


def _tune_sgd(pb: Problem, batch: int, scale: float, cfg: dict, rp, force: bool, log, out: list) -> dict:
    """SGD's step for one batch size, tuned on the stream (seed 0) by a line search over ``scale * 2^k`` from
    ``k = sgd_lr_start``: up while the examples to the last target fall, then down likewise (and on down while no
    step has reached it). Returns the best step per target; the runs are appended to ``out``."""
    tried: dict[int, dict] = {}
    last = f"{min(TARGETS):g}"

    def score(k: int) -> float:
        if k not in tried:
            lr = scale * 2.0**k
            best = _best(list(tried.values()), min(TARGETS))
            abandon = None if best is None else int(HOLD * best["targets"][last]["examples"])
            tried[k] = _run(rp(f"sgd-B{batch}-tune-lr{lr:g}-s0"), force, log, "sgd", pb,
                            meta=dict(method="sgd", role="tune", n=max(cfg["ns"]), seed=0, batch=batch, lr=lr,
                                      abandon_after=abandon),
                            seed=0, n=max(cfg["ns"]), batch=batch, lr=lr,
                            max_examples=max(cfg["sgd_cap"], 512 * batch), abandon_after=abandon)
        hit = tried[k]["targets"].get(last)
        return hit["examples"] if hit else math.inf

    k0 = cfg["sgd_lr_start"]
    for direction in (1, -1):
        k, prev = k0, score(k0)
        while -cfg["sgd_lr_span"] <= k + direction - k0 <= cfg["sgd_lr_span"]:
            cur = score(k + direction)
            if not (cur < prev or (direction < 0 and math.isinf(cur) and math.isinf(prev))):
                break
            k, prev = k + direction, cur
    out += list(tried.values())
    return {t: (_best(list(tried.values()), t) or {}).get("lr") for t in TARGETS}


def _bounded_gd(path: Path, force: bool, log, pb: Problem, seed: int, n: int, lr: float, full: dict | None,
                isolate: bool) -> dict:
    """GD at an N too large to run to the target here: one pass, measured; the time to each target estimated as
    the passes the largest fully run N needed (same seed and step) times this N's time per pass."""
    if (done := _done(path, force)) is not None:
        return done
    started, t0 = _now(), time.perf_counter()
    out = _call("gd", pb, isolate, seed=seed, n=n, lr=lr, max_passes=1, progress=isolate)
    est = {}
    for t in TARGETS:
        hit = (full or {}).get("targets", {}).get(f"{t:g}")
        est[f"{t:g}"] = None if not hit else dict(
            examples=hit["steps"] * n, steps=hit["steps"], cpu_s=hit["steps"] * out["cpu_per_pass_s"],
            wall_s=hit["steps"] * out["wall_per_pass_s"], variant="last", estimated=True)
    out.update(targets=est, status="bounded")
    rec = _write(path, dict(run_id=path.stem, problem=pb.name, method="gd", role="measure", n=n, seed=seed,
                            batch=n, lr=lr, bounded=True, passes_from=(full or {}).get("run_id"), **out),
                 started, time.perf_counter() - t0)
    log(f"{path.stem}: 1 pass in {rec['cpu_per_pass_s']:.1f} CPU s (bounded; targets estimated)")
    return rec


def _extrapolated_gd(path: Path, force: bool, log, pb: Problem, seed: int, n: int, lr: float, ref: dict) -> dict:
    """GD at an N not even one pass of which is run here: time per pass scaled in proportion to N from the
    bounded record ``ref`` (a pass costs the same per row at any N: the pass streams in fixed chunks)."""
    if (done := _done(path, force)) is not None:
        return done
    started, t0 = _now(), time.perf_counter()
    f = n / ref["n"]
    est = {k: None if v is None else dict(v, examples=v["steps"] * n, cpu_s=v["cpu_s"] * f, wall_s=v["wall_s"] * f)
           for k, v in ref["targets"].items()}
    rec = _write(path, dict(run_id=path.stem, problem=pb.name, method="gd", role="measure", n=n, seed=seed,
                            batch=n, lr=lr, bounded=True, extrapolated_from=ref["run_id"], passes=0, examples=0,
                            cpu_s=0.0, wall_s=0.0, cpu_per_pass_s=ref["cpu_per_pass_s"] * f,
                            wall_per_pass_s=ref["wall_per_pass_s"] * f, final_gap=None, targets=est,
                            status="extrapolated"), started, time.perf_counter() - t0)
    log(f"{path.stem}: not run; {rec['cpu_per_pass_s']:.0f} CPU s per pass extrapolated from {ref['run_id']}")
    return rec


def _noise_record(path: Path, force: bool, log, pb: Problem, gd_rec: dict, rows_n: int,
                  sgd_recs: list[dict] = ()) -> dict:
    """B_noise at the iterates of the full-batch path ``gd_rec`` (source ``gd``) and at the last and averaged
    iterates where the SGD runs ``sgd_recs`` stopped (source ``sgd``: states SGD itself visits near a target)."""
    if (done := _done(path, force)) is not None:
        return done
    started, t0 = _now(), time.perf_counter()
    x, y = rows(pb, 10_000, 0, rows_n)          # a sample of its own (seed 10,000), never used for training
    pts = []
    todo = [(w, "gd", None) for w in [[0.0] * pb.d] + gd_rec["path"]]
    todo += [(r[k], "sgd", r["batch"]) for r in sgd_recs for k in ("w", "w_avg")]
    for w, source, batch in todo:
        est = noise_scale(pb, np.array(w), x, y)
        pts.append(dict(w=w, source=source, batch=batch, gap=relative_gap(pb, np.array(w)), b_noise=est["b_noise"],
                        trace=est["trace"], grad_sq=est["grad_sq"],
                        b_noise_exact=None if pb.logistic else noise_scale_exact(pb, np.array(w))))
    rec = _write(path, dict(run_id=path.stem, problem=pb.name, method="noise", role="noise", rows=rows_n,
                            path_from=gd_rec["run_id"], sgd_from=[r["run_id"] for r in sgd_recs], points=pts,
                            status="ok"), started, time.perf_counter() - t0)
    log(f"{path.stem}: B_noise at {len(pts)} points ({gd_rec['run_id']} and {len(sgd_recs)} SGD runs)")
    return rec
