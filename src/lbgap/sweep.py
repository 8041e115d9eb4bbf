"""Grids of runs and the executors that run them.

A grid is a list of :class:`~lbgap.config.RunConfig`; the record store (``results``) is the single source
of truth, so a sweep is resumable: finished runs are skipped, and an interrupted run left no record and is
simply run again. Executors are a small seam: ``serial`` (this process) and ``local`` (N worker processes);
a cluster executor plugs in through :func:`register_executor`.

``table2`` is the paper's grid: networks x {SB, LB} x seeds, seed-major so that each seed's SB/LB pair
finishes together and post-processing (sharpness, parametric curves) can run right after it.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import paths
from .config import RunConfig
from .models import NETS

TABLE2_NETS = ("F1", "F2", "C1", "C2", "C3", "C4")


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"``; ``3`` -> [3]."""
    if not isinstance(text, str):
        return [int(s) for s in text]
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                if int(b) < int(a):
                    raise ValueError
                out += range(int(a), int(b) + 1)
            elif part:
                out.append(int(part))
    except ValueError:
        raise ValueError(f"seeds {text!r} must look like '0-4' or '0,1,2' (non-negative integers)") from None
    if not out or min(out) < 0:
        raise ValueError(f"seeds {text!r} must look like '0-4' or '0,1,2' (non-negative integers)")
    return out


def parse_nets(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return list(TABLE2_NETS)
    names = [n.strip().upper() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    bad = [n for n in names if n not in NETS]
    if bad or not names:
        raise ValueError(f"unknown network(s) {', '.join(bad) or '(none)'}: choose from {', '.join(NETS)}")
    return names


def table2_grid(profile: str, seeds: Iterable[int], nets: Sequence[str] | None = None, **overrides) -> list[RunConfig]:
    from .train import sb_lb_configs

    grid = []
    for seed in seeds:
        for net in parse_nets(nets):
            grid += sb_lb_configs(net, seed, profile, **overrides)
    return grid


# --------------------------------------------------------------------------------------- post-processing
# name -> fn(sb_record, lb_record, results_dir, force) ; run after each (net, seed) SB/LB pair.
POST_PAIR: dict[str, Callable] = {}


def register_post(name: str, fn: Callable) -> None:
    POST_PAIR[name] = fn


# -------------------------------------------------------------------------------------------- executors
@dataclass
class Outcome:
    run_id: str
    status: str          # "done", "skipped", "failed"
    error: str = ""
    record: dict | None = None


def run_one(cfg_dict: dict, results_dir: str, force: bool = False) -> Outcome:
    """Run one config (in this or a worker process); never raises: a failure becomes an Outcome."""
    from .train import train

    cfg = RunConfig.from_dict(cfg_dict)
    try:
        rec = train(cfg, results_dir, force=force)
        return Outcome(cfg.run_id, "skipped" if rec.pop("skipped", False) else "done", record=_summary(rec))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - reported, the sweep goes on
        return Outcome(cfg.run_id, "failed", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")


def _summary(rec: dict) -> dict:
    return {k: rec[k] for k in ("run_id", "status", "stop_reason", "epochs", "final") if k in rec}


class SerialExecutor:
    name = "serial"

    def map(self, fn: Callable, items: list) -> Iterable:
        for item in items:
            yield fn(*item)


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


class LocalExecutor:
    """N worker processes on this machine (spawned, each with ``cores // N`` torch threads)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or max(1, (os.cpu_count() or 2) // 2)

    def map(self, fn: Callable, items: list) -> Iterable:
        threads = max(1, (os.cpu_count() or 2) // self.workers)
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                    initargs=(threads,)) as pool:
            futures = [pool.submit(fn, *item) for item in items]
            try:
                for fut in futures:
                    yield fut.result()
            except KeyboardInterrupt:
                for fut in futures:
                    fut.cancel()
                raise


EXECUTORS: dict[str, Callable[..., object]] = {"serial": SerialExecutor, "local": LocalExecutor}


def register_executor(name: str, factory: Callable[..., object]) -> None:
    EXECUTORS[name] = factory


def make_executor(name: str, **kwargs):
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}: choose one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name](**kwargs)


def run_grid(grid: list[RunConfig], results_dir: str | Path | None = None, executor: str | object = "serial",
             force: bool = False, post: Sequence[str] = (), log: Callable[[str], None] = print,
             **executor_kwargs) -> list[Outcome]:
    """Run every config of ``grid`` (skipping finished ones) and the requested post-processing per pair."""
    results_dir = str(Path(results_dir) if results_dir is not None else paths.RESULTS_DIR)
    for name in post:
        if name not in POST_PAIR:
            raise ValueError(f"unknown post-processing {name!r}: available {', '.join(POST_PAIR) or 'none'}")
    ex = make_executor(executor, **executor_kwargs) if isinstance(executor, str) else executor
    items = [(cfg.to_dict(), results_dir, force) for cfg in grid]
    outcomes: list[Outcome] = []
    pending: dict[tuple, dict] = {}
    for cfg, out in zip(grid, ex.map(run_one, items)):
        outcomes.append(out)
        log(f"{out.status:8s} {out.run_id}" + (f"  ({out.error.splitlines()[0]})" if out.error else ""))
        if not post or out.status == "failed":
            continue
        key = (cfg.net, cfg.seed, cfg.dataset, cfg.split, cfg.bn, cfg.tag)
        pending.setdefault(key, {})[cfg.regime] = cfg
        pair = pending[key]
        if "SB" in pair and "LB" in pair:
            for name in post:
                try:
                    POST_PAIR[name](pair["SB"], pair["LB"], Path(results_dir), force)
                    log(f"post     {name} {cfg.net} seed {cfg.seed}")
                except Exception as e:  # noqa: BLE001
                    outcomes.append(Outcome(f"{name}:{cfg.net}-s{cfg.seed}", "failed", f"{type(e).__name__}: {e}"))
                    log(f"failed   {name} {cfg.net} seed {cfg.seed}: {e}")
    return outcomes
