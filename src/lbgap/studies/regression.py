"""Huge N, few features: the study driver. Full-batch gradient descent, mini-batch SGD and one exact pass on
regressions with 4 features and N = 10^4 ... 10^9 rows, streamed from a seeded model and never stored.

The study is three modules and a table: :mod:`~lbgap.studies.regression_data` (the generative model and the exact
population losses), :mod:`~lbgap.studies.regression_methods` (the exact pass, GD, SGD and the noise scale, each
timed on generation plus arithmetic) and :mod:`~lbgap.studies.regression_timing` (the headline timing: the solve
apart from generating the rows it uses); this module runs them over the grid of the study's sizes
under a run profile (``core.config.REGRESSION_SIZES``) and writes one JSON record per run under
``data/results/<profile>/regression/``; ``book.regression`` makes the chapter's tables and figures.

Time is process CPU time spent generating rows and computing gradients, without the loss checks; wall time is kept
beside it. Passes over N >= ``child_min_n`` rows and the headline timings run in a process of their own with
:data:`lbgap.core.memory.STUDY_THREADS` BLAS threads (``core.memory.in_fresh_process``), which also reports that
process's own peak memory; the other runs use the thread count of the calling process (``lbgap regression``
runs the whole study in such a process). Every record's provenance keeps ``omp_num_threads``.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lbgap.core import memory, records
from lbgap.core.config import REGRESSION_SIZES
from lbgap.studies.regression_data import PROBLEMS, Problem, get_problem, relative_gap, rows
from lbgap.studies.regression_methods import HOLD, TARGETS, gd, noise_scale, noise_scale_exact, one_pass, sgd
from lbgap.studies.regression_timing import time_plan

KIND = "regression"
logger = logging.getLogger(__name__)
__all__ = ["KIND", "PROBLEMS", "TARGETS", "get_problem", "regression_size", "run_study"]


def regression_size(profile: str) -> dict:
    """The study's sizes under run profile ``profile`` (``core.config.REGRESSION_SIZES``, a copy); a profile the
    study has no sizes for, in one line."""
    if profile not in REGRESSION_SIZES:
        raise ValueError(f"the regression study has no sizes for profile {profile!r}; choose one of "
                         f"{', '.join(REGRESSION_SIZES)}")
    return dict(REGRESSION_SIZES[profile])


def _n_tag(n: int) -> str:
    k = round(math.log10(n))
    return f"1e{k}" if 10**k == n else str(n)


def _best(recs: list[dict], target: float) -> dict | None:
    """The run that reached ``target`` with the fewest examples."""
    hits = [r for r in recs if r["targets"].get(f"{target:g}")]
    return min(hits, key=lambda r: r["targets"][f"{target:g}"]["examples"]) if hits else None


def _in_child(fn: Callable, problem: Problem, **kwargs) -> dict:
    """``fn(problem, **kwargs)`` in a fresh process with STUDY_THREADS threads: its result with that process's own
    peak RSS and its peak before the pass (after imports)."""
    out, mem = memory.in_fresh_process(fn, problem, threads=memory.STUDY_THREADS, **kwargs)
    return dict(out, rss_before_bytes=mem["start_peak_rss_bytes"], peak_rss_bytes=mem["peak_rss_bytes"],
                memory_method=mem["memory_method"], threads=memory.STUDY_THREADS, isolated_process=True)


@dataclass
class _Store:
    """Where the study's records go, and how one is read back (unless ``force``) or computed and written."""
    results_dir: Path
    profile: str
    force: bool

    def path(self, problem: Problem, run_id: str) -> Path:
        """The record of run ``<problem>-<run_id>`` (``<results_dir>/<profile>/regression/``)."""
        return records.record_path(self.results_dir, self.profile, KIND, f"{problem.name}-{run_id}")

    def done(self, path: Path) -> dict | None:
        return records.done(path, self.force)

    def write(self, path: Path, rec: dict, started: str, wall: float, threads: str | None = None) -> dict:
        """A record of the store's current schema with CPU provenance and the BLAS thread count, written
        atomically."""
        omp = threads if threads is not None else os.environ.get("OMP_NUM_THREADS")
        prov = dict(records.provenance("cpu", wall, started), omp_num_threads=omp)
        rec = records.new_record(KIND, **rec, provenance=prov)
        records.atomic_write_json(path, rec)
        return rec

    def run(self, path: Path, fn: Callable, problem: Problem, isolate: bool = False, meta: dict | None = None,
            **kwargs) -> dict:
        """One run of ``fn`` (``one_pass``, ``gd`` or ``sgd``): read back if recorded, else computed (in a fresh
        process when ``isolate``) and written."""
        if (done := self.done(path)) is not None:
            return done
        started, t0 = records.now(), time.perf_counter()
        out = _in_child(fn, problem, **kwargs) if isolate else fn(problem, **kwargs)
        rec = self.write(path, dict(run_id=path.stem, problem=problem.name, **(meta or {}), **out), started,
                         time.perf_counter() - t0, str(memory.STUDY_THREADS) if isolate else None)
        hit = rec["targets"].get(f"{min(TARGETS):g}")
        logger.info(f"{path.stem}: {rec['status']}, gap {rec['final_gap']:.2e}, {rec['examples']:,} examples, "
                    f"{rec['cpu_s']:.2f} CPU s"
                    + (f"; {min(TARGETS):g} at {hit['examples']:,} examples" if hit else ""))
        return rec


def run_study(profile: str = "quick", results_dir=None, force: bool = False, problems=tuple(PROBLEMS),
              seeds=None) -> list[dict]:
    """The whole study at the sizes of run profile ``profile`` (``smoke`` or ``quick``, :func:`regression_size`),
    one JSON record per run under ``<results_dir>/<profile>/regression/``; existing records are read back unless
    ``force``. Per problem: tune GD's step on ``gd_tune_n`` rows and SGD's step per batch size on the stream (seed
    0); measure every (method, N, seed) with the tuned steps (:func:`_measure_seed`); the noise scale along GD's
    path; the headline timing per seed (:func:`_headline`); last, the exact pass over the largest N (the longest
    run)."""
    cfg = regression_size(profile)
    store = _Store(records.store_root(results_dir), profile, force)
    seeds = tuple(cfg["seeds"] if seeds is None else seeds)
    out, deferred = [], []
    for name in problems:
        pb = get_problem(name)
        gd_tune, gd_lr = _tune_gd(store, pb, cfg)
        out += gd_tune
        sgd_lrs = {b: _tune_sgd(store, pb, b, cfg, out) for b in cfg["batches"]}
        noise_from, measured = None, []
        for seed in seeds:
            recs, later, gd_full = _measure_seed(store, pb, cfg, seed, seed == seeds[0], gd_lr, sgd_lrs)
            measured += recs
            deferred += later
            if seed == seeds[0]:
                noise_from = gd_full
        out += measured
        sgd_final = [r for r in measured if r["method"] == "sgd" and r["n"] == max(cfg["ns"]) and r["seed"] == seeds[0]]
        out.append(_noise_record(store, pb, noise_from or gd_tune[0], cfg["noise_rows"], sgd_final))
        out += [_headline(store, pb, seed, measured, cfg) for seed in seeds]
    out += [run() for run in deferred]        # the exact pass over the largest N last: the longest run
    return out


def _tune_gd(store: _Store, pb: Problem, cfg: dict) -> tuple[list[dict], float]:
    """GD's step as a fraction of 2/lambda_max(Sigma) (times ``logistic_lr_scale`` for the logistic problem), each
    fraction of ``gd_lrs`` run on ``gd_tune_n`` rows of seed 0, abandoned once it needs more steps than the best so
    far. Returns the runs and the step that reached the last target fastest."""
    lam = float(np.linalg.eigvalsh(pb.cov).max())
    scale = cfg["logistic_lr_scale"] if pb.logistic else 1.0
    tune_n, last = cfg["gd_tune_n"], f"{min(TARGETS):g}"
    runs: list[dict] = []
    for f in cfg["gd_lrs"]:
        best = _best(runs, min(TARGETS))
        abandon = None if best is None else best["targets"][last]["steps"]
        lr = 2 * scale * f / lam
        runs.append(store.run(store.path(pb, f"gd-tune-f{f:g}-N{_n_tag(tune_n)}-s0"), gd, pb,
                              meta=dict(method="gd", role="tune", n=tune_n, seed=0, batch=tune_n, lr=lr, lr_fraction=f,
                                        abandon_after=abandon),
                              seed=0, n=tune_n, lr=lr, max_passes=cfg["gd_max_passes"], abandon_after=abandon))
    best = _best(runs, min(TARGETS)) or _best(runs, max(TARGETS))
    return runs, best["lr"] if best else 2 * scale * cfg["gd_lrs"][0] / lam


def _tune_sgd(store: _Store, pb: Problem, batch: int, cfg: dict, out: list) -> dict:
    """SGD's step for one batch size, tuned on the stream (seed 0) by a line search over ``scale * 2^k`` from
    ``k = sgd_lr_start``: up while the examples to the last target fall, then down likewise (and on down while no
    step has reached it). Returns the best step per target; the runs are appended to ``out``."""
    scale = cfg["logistic_lr_scale"] if pb.logistic else 1.0
    tried: dict[int, dict] = {}
    last = f"{min(TARGETS):g}"

    def score(k: int) -> float:
        if k not in tried:
            lr = scale * 2.0**k
            best = _best(list(tried.values()), min(TARGETS))
            abandon = None if best is None else int(HOLD * best["targets"][last]["examples"])
            tried[k] = store.run(store.path(pb, f"sgd-B{batch}-tune-lr{lr:g}-s0"), sgd, pb,
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


def _measure_seed(store: _Store, pb: Problem, cfg: dict, seed: int, first: bool, gd_lr: float,
                  sgd_lrs: dict) -> tuple[list[dict], list[Callable[[], dict]], dict | None]:
    """Every measured run of one seed with the tuned steps: the exact pass (least squares) and full-batch GD at
    every N (passes over N > ``all_seeds_max_n`` for the ``first`` seed only; GD to the target up to
    ``gd_full_max_n``, one measured pass up to ``gd_pass_max_n``, extrapolated beyond) and SGD at every batch size
    and N with the step tuned for each target. Runs over N >= ``child_min_n`` rows go to a fresh process. Returns
    the records, the deferred exact pass over the largest N, and the GD record at the largest fully run N."""
    out, deferred, gd_full, gd_pass = [], [], None, None
    for n in cfg["ns"]:
        big = cfg["child_min_n"] is not None and n >= cfg["child_min_n"]
        full_pass = first or n <= cfg["all_seeds_max_n"]
        if not pb.logistic and full_pass:
            def exact(n=n, big=big):
                return store.run(store.path(pb, f"exact-N{_n_tag(n)}-s{seed}"), one_pass, pb, isolate=big,
                                 meta=dict(method="exact", role="measure", n=n, seed=seed, batch=n),
                                 seed=seed, n=n, progress=big)
            deferred.append(exact) if big and n == max(cfg["ns"]) else out.append(exact())
        path = store.path(pb, f"gd-N{_n_tag(n)}-s{seed}")
        if full_pass and n <= cfg["gd_full_max_n"]:
            gd_full = store.run(path, gd, pb, meta=dict(method="gd", role="measure", n=n, seed=seed, batch=n, lr=gd_lr,
                                                        bounded=False),
                                seed=seed, n=n, lr=gd_lr, max_passes=cfg["gd_max_passes"])
            out.append(gd_full)
        elif full_pass and n <= cfg["gd_pass_max_n"]:
            gd_pass = _bounded_gd(store, path, pb, seed, n, gd_lr, gd_full, big)
            out.append(gd_pass)
        elif full_pass and gd_pass is not None:
            out.append(_extrapolated_gd(store, path, pb, seed, n, gd_lr, gd_pass))
        for b in cfg["batches"]:
            if b > n:
                continue
            for lr in sorted({v for v in sgd_lrs[b].values() if v is not None}, reverse=True):
                tuned_for = [f"{t:g}" for t, v in sgd_lrs[b].items() if v == lr]
                out.append(store.run(store.path(pb, f"sgd-B{b}-lr{lr:g}-N{_n_tag(n)}-s{seed}"), sgd, pb,
                                     meta=dict(method="sgd", role="measure", n=n, seed=seed, batch=b, lr=lr,
                                               tuned_for=tuned_for),
                                     seed=seed, n=n, batch=b, lr=lr, max_examples=max(cfg["sgd_cap"], 512 * b)))
    return out, deferred, gd_full


def _bounded_gd(store: _Store, path: Path, pb: Problem, seed: int, n: int, lr: float, full: dict | None,
                isolate: bool) -> dict:
    """GD at an N too large to run to the target here: one pass, measured; the time to each target estimated as
    the passes the largest fully run N needed (same seed and step) times this N's time per pass."""
    if (done := store.done(path)) is not None:
        return done
    started, t0 = records.now(), time.perf_counter()
    kwargs = dict(seed=seed, n=n, lr=lr, max_passes=1, progress=isolate)
    out = _in_child(gd, pb, **kwargs) if isolate else gd(pb, **kwargs)
    est = {}
    for t in TARGETS:
        hit = (full or {}).get("targets", {}).get(f"{t:g}")
        est[f"{t:g}"] = None if not hit else dict(
            examples=hit["steps"] * n, steps=hit["steps"], cpu_s=hit["steps"] * out["cpu_per_pass_s"],
            wall_s=hit["steps"] * out["wall_per_pass_s"], variant="last", estimated=True)
    out.update(targets=est, status="bounded")
    rec = store.write(path, dict(run_id=path.stem, problem=pb.name, method="gd", role="measure", n=n, seed=seed,
                                 batch=n, lr=lr, bounded=True, passes_from=(full or {}).get("run_id"), **out),
                      started, time.perf_counter() - t0, str(memory.STUDY_THREADS) if isolate else None)
    logger.info(f"{path.stem}: 1 pass in {rec['cpu_per_pass_s']:.1f} CPU s (bounded; targets estimated)")
    return rec


def _extrapolated_gd(store: _Store, path: Path, pb: Problem, seed: int, n: int, lr: float, ref: dict) -> dict:
    """GD at an N not even one pass of which is run here: time per pass scaled in proportion to N from the
    bounded record ``ref`` (a pass costs the same per row at any N: the pass streams in fixed chunks)."""
    if (done := store.done(path)) is not None:
        return done
    started, t0 = records.now(), time.perf_counter()
    f = n / ref["n"]
    est = {k: None if v is None else dict(v, examples=v["steps"] * n, cpu_s=v["cpu_s"] * f, wall_s=v["wall_s"] * f)
           for k, v in ref["targets"].items()}
    rec = store.write(path, dict(run_id=path.stem, problem=pb.name, method="gd", role="measure", n=n, seed=seed,
                                 batch=n, lr=lr, bounded=True, extrapolated_from=ref["run_id"], passes=0, examples=0,
                                 cpu_s=0.0, wall_s=0.0, cpu_per_pass_s=ref["cpu_per_pass_s"] * f,
                                 wall_per_pass_s=ref["wall_per_pass_s"] * f, final_gap=None, targets=est,
                                 status="extrapolated"), started, time.perf_counter() - t0)
    logger.info(f"{path.stem}: not run; {rec['cpu_per_pass_s']:.0f} CPU s per pass extrapolated from {ref['run_id']}")
    return rec


def _noise_record(store: _Store, pb: Problem, gd_rec: dict, rows_n: int, sgd_recs: list[dict] = ()) -> dict:
    """B_noise at the iterates of the full-batch path ``gd_rec`` (source ``gd``) and at the last and averaged
    iterates where the SGD runs ``sgd_recs`` stopped (source ``sgd``: states SGD itself visits near a target)."""
    path = store.path(pb, "noise")
    if (done := store.done(path)) is not None:
        return done
    started, t0 = records.now(), time.perf_counter()
    x, y = rows(pb, 10_000, 0, rows_n)          # a sample of its own (seed 10,000), never used for training
    pts = []
    todo = [(w, "gd", None) for w in [[0.0] * pb.d] + gd_rec["path"]]
    todo += [(r[k], "sgd", r["batch"]) for r in sgd_recs for k in ("w", "w_avg")]
    for w, source, batch in todo:
        est = noise_scale(pb, np.array(w), x, y)
        pts.append(dict(w=w, source=source, batch=batch, gap=relative_gap(pb, np.array(w)), b_noise=est["b_noise"],
                        trace=est["trace"], grad_sq=est["grad_sq"],
                        b_noise_exact=None if pb.logistic else noise_scale_exact(pb, np.array(w))))
    rec = store.write(path, dict(run_id=path.stem, problem=pb.name, method="noise", role="noise", rows=rows_n,
                                 path_from=gd_rec["run_id"], sgd_from=[r["run_id"] for r in sgd_recs], points=pts,
                                 status="ok"), started, time.perf_counter() - t0)
    logger.info(f"{path.stem}: B_noise at {len(pts)} points ({gd_rec['run_id']} and {len(sgd_recs)} SGD runs)")
    return rec


def headline_plan(measured: list[dict], seed: int) -> list[dict]:
    """What :func:`_headline` times for ``seed``, from the study's measured runs of one problem: per target, the
    exact solve on the rows its pass needed (the largest N measured for this seed: the first rows are the same
    at every N) and SGD at each batch size with the step tuned for that target on the stream (the largest N),
    on the examples its run needed."""
    mine = [r for r in measured if r.get("seed") == seed and r.get("role") == "measure"]
    plan = []
    exact = [r for r in mine if r["method"] == "exact"]
    sgd_n = max((r["n"] for r in mine if r["method"] == "sgd"), default=None)
    for t in TARGETS:
        key = f"{t:g}"
        if exact:
            r = max(exact, key=lambda r: r["n"])
            if r["targets"].get(key):
                plan.append(dict(method="exact", target=t, examples=r["targets"][key]["examples"], batch=None,
                                 lr=None, variant="last", from_run=r["run_id"]))
        for r in sorted((r for r in mine if r["method"] == "sgd" and r["n"] == sgd_n
                         and key in r.get("tuned_for", [])), key=lambda r: r["batch"]):
            hit = r["targets"].get(key)
            if hit:
                plan.append(dict(method="sgd", target=t, examples=hit["examples"], batch=r["batch"], lr=r["lr"],
                                 variant=hit["variant"], from_run=r["run_id"]))
    return plan


def _headline(store: _Store, pb: Problem, seed: int, measured: list[dict], cfg: dict) -> dict:
    """The headline timing of one seed (``regression_timing.time_plan`` on :func:`headline_plan`), in a process
    of its own with STUDY_THREADS threads: every method timed on the same seed, generation apart."""
    path = store.path(pb, f"headline-s{seed}")
    if (done := store.done(path)) is not None:
        return done
    plan = headline_plan(measured, seed)
    started, t0 = records.now(), time.perf_counter()
    entries, mem = memory.in_fresh_process(time_plan, pb, seed, plan, cfg["headline_repeats"],
                                           threads=memory.STUDY_THREADS)
    rec = store.write(path, dict(run_id=path.stem, problem=pb.name, method="headline", role="headline", seed=seed,
                                 repeats=cfg["headline_repeats"], entries=entries, threads=memory.STUDY_THREADS,
                                 peak_rss_bytes=mem["peak_rss_bytes"], memory_method=mem["memory_method"],
                                 status="ok"), started, time.perf_counter() - t0, str(memory.STUDY_THREADS))
    logger.info(f"{path.stem}: {len(entries)} solves timed apart from generation, {cfg['headline_repeats']} repeats")
    return rec
