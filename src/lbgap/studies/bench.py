"""``lbgap bench``: our training epoch against the PyTorch baseline a user would write, same net, batch, data; the
driver. It times the measurements of :mod:`lbgap.studies.bench_timing` (what "ours" and "baseline" are, and how each
is timed, is said there) for one (net, batch), prints each result and writes a record
``<results>/<profile>/bench/<id>.json``; :mod:`lbgap.studies.bench_table` reads them back for the reproducibility
chapter. Also here: the bf16-vs-fp32 short-run accuracy check (``--check-precision``).

The record keeps the host's thread count and load, and the bench process's own peak resident memory
(``core.memory``: ``VmHWM``, the whole bench; each concurrent process reports its own).
"""
from __future__ import annotations

import logging
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lbgap.core import data as datamod
from lbgap.core import memory, records
from lbgap.core.train import check_last_batch, make_config
from lbgap.core.train import train as train_run
from lbgap.studies.bench_table import bench_table
from lbgap.studies.bench_timing import (BASELINE_WORKERS, StackedSeeds, baseline_dataset, bench_data, eval_throughput,
                                        full_training_size, matmul_peak, resolve_batch, sharpness_timing,
                                        time_baseline, time_concurrent, time_ours, time_stacked, time_streams,
                                        train_flops_per_example)

logger = logging.getLogger(__name__)
__all__ = ["BASELINE_WORKERS", "BenchOptions", "StackedSeeds", "baseline_dataset", "bench", "bench_data", "bench_id",
           "bench_table", "check_precision", "full_training_size", "precision_verdict", "resolve_batch",
           "time_concurrent", "time_stacked", "time_streams", "train_flops_per_example"]


def check_precision(net: str, batch, seeds=(0, 1), epochs: int = 3, device: str = "auto",
                    n_samples: int | None = None) -> dict:
    """Train ``epochs`` epochs of the paper configuration in bf16 autocast and in fp32 for each seed
    (real data, into a temporary record store) and compare final test accuracy with the seed spread."""
    dev = datamod.resolve_device(device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for prec in ("bf16", "fp32"):
                cfg = make_config(net, batch, seed, "paper", precision=prec, device=str(dev), max_epochs=epochs,
                                  save_checkpoints=False)
                data = datamod.load(cfg.dataset, cfg.split, cfg.source, dev)
                if n_samples:
                    data.train = data.train.subset(torch.arange(min(n_samples, len(data.train)), device=dev))
                rec = train_run(cfg, tmp, force=True, data=data, progress=False)
                rows.append(dict(seed=seed, precision=prec, test_acc=rec["final"]["test_acc"],
                                 train_loss=rec["final"]["train_loss"], epochs=rec["epochs"]))
                logger.info(f"  precision check {net} b{cfg.batch_size} seed {seed} {prec}: test acc "
                            f"{rows[-1]['test_acc']:.4f}, train loss {rows[-1]['train_loss']:.4f}")
    acc = {p: [r["test_acc"] for r in rows if r["precision"] == p] for p in ("bf16", "fp32")}
    return dict(rows=rows, epochs=epochs, n_train=n_samples, **precision_verdict(acc["bf16"], acc["fp32"]))


def precision_verdict(acc_bf16, acc_fp32) -> dict:
    """Difference of mean accuracies against seed noise: within noise when |diff| <= 2 standard errors of a
    two-sample difference, using the pooled across-seed standard deviation of the two precisions."""
    n = len(acc_fp32)
    if n < 2 or len(acc_bf16) != n:
        raise ValueError("the precision check needs at least two seeds per precision")
    diff = statistics.mean(acc_bf16) - statistics.mean(acc_fp32)
    sd = math.sqrt((statistics.variance(acc_bf16) + statistics.variance(acc_fp32)) / 2)
    se = sd * math.sqrt(2 / n)
    return dict(mean_acc_bf16=statistics.mean(acc_bf16), mean_acc_fp32=statistics.mean(acc_fp32), diff=diff,
                seed_sd=sd, diff_se=se, within_seed_noise=bool(abs(diff) <= 2 * se))


# ----------------------------------------------------------------------------------------------- bench
@dataclass(frozen=True)
class BenchOptions:
    """What one bench measures, and how (``lbgap bench``'s options; the defaults are its defaults).

    ``device``: auto | cpu | cuda. ``n_samples``: examples per epoch (None: the whole training set); ``source``:
    auto (the real cache if present, else synthetic data of the same shape) | real | synthetic. ``epochs``: timed
    epochs per method (the median counts), each after ``warmup_steps`` untimed steps. ``precision``/
    ``compile_mode``: ours (``precision.autocast``; "" = eager). ``workers``: the baseline's DataLoader
    ``num_workers``; ``baseline``: time it at all. ``concurrent``/``stacked``/``streams``: also time that many seeds
    at once, as processes, vmapped in one model, or one thread (CUDA stream) each (0 or 1: not timed).
    ``sharpness``: time one full-space Metric 2.1 maximisation; ``sharpness_vs_scipy``: that and the same through
    ``scipy.optimize.minimize``."""

    device: str = "auto"
    n_samples: int | None = None
    source: str = "auto"
    epochs: int = 2
    warmup_steps: int = 3
    precision: str = "auto"
    compile_mode: str = ""
    workers: int = BASELINE_WORKERS
    baseline: bool = True
    concurrent: int = 0
    stacked: int = 0
    streams: int = 0
    sharpness: bool = False
    sharpness_vs_scipy: bool = False


def bench(net: str, batch="SB", options: BenchOptions = BenchOptions(), profile: str = "paper",
          results_dir: str | Path | None = None, write: bool = True) -> dict:
    """Time ours vs the baseline for one (net, batch) as ``options`` say and write a ``bench`` record
    (``<results>/<profile>/bench/<id>.json``, unless not ``write``); returns it."""
    o = options
    net = net.upper()
    dev = datamod.resolve_device(o.device)
    started, t_start = records.now(), time.perf_counter()
    ds, name, used, full_n = bench_data(net, o.n_samples, o.source)
    bs = resolve_batch(net, batch, full_n)   # the paper protocol's SB and LB (one_seed trains its config)
    if bs > len(ds):
        raise ValueError(f"batch size {bs} is larger than the {len(ds)} examples benchmarked; raise --n-samples "
                         f"to at least {bs}")
    check_last_batch(len(ds), bs, "examples benchmarked (--n-samples)")
    classes = datamod.DATASETS[name]["classes"]
    logger.info(f"bench {net} b{bs} on {records.device_name(dev)}: {len(ds)} {used} {name} examples, "
                f"{math.ceil(len(ds) / bs)} steps/epoch")
    rec = records.new_record(
        "bench", net=net, dataset=name, data_source=used, n_samples=len(ds),
        batch_size=bs, batch_spec=str(batch), regime={"SB": "SB", "LB": "LB"}.get(str(batch).upper(), ""),
        device_type=dev.type, epochs=o.epochs, warmup_steps=o.warmup_steps, compile=o.compile_mode or "off",
        threads=torch.get_num_threads(), host_load_1min=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    rec["flops_per_example"] = train_flops_per_example(net, classes)
    rec.update(matmul_peak(dev))
    t0 = time.perf_counter()
    ours = time_ours(net, ds, bs, dev, o.precision, o.compile_mode, o.epochs, o.warmup_steps, num_classes=classes)
    model = ours.pop("model")
    rec["precision_policy"] = ours.pop("policy")
    rec["ours"] = ours
    rec["ours_tflops"] = rec["flops_per_example"] * ours["samples_per_s"] / 1e12
    rec["ours_mfu"] = rec["ours_tflops"] / rec["peak_tflops"]
    logger.info(f"  ours     {ours['samples_per_s']:10.0f} samples/s  ({ours['epoch_s']:.3f} s/epoch, warm-up "
                f"{ours['warmup_s']:.1f} s, {rec['ours_tflops']:.3g} TFLOP/s = {100 * rec['ours_mfu']:.0f}% of the "
                f"{rec['peak_tflops']:.3g} TFLOP/s {rec['peak_dtype']} matmul peak)")
    if o.baseline:
        base = time_baseline(net, ds, bs, dev, o.epochs, o.warmup_steps, o.workers, num_classes=classes)
        rec["baseline"] = base
        rec["baseline_tflops"] = rec["flops_per_example"] * base["samples_per_s"] / 1e12
        rec["speedup"] = ours["samples_per_s"] / base["samples_per_s"]
        logger.info(f"  baseline {base['samples_per_s']:10.0f} samples/s  ({base['epoch_s']:.3f} s/epoch, "
                    f"DataLoader num_workers={o.workers}, eager fp32)")
        logger.info(f"  ratio    {rec['speedup']:10.2f} x")
    ev = eval_throughput(model, ds.to(dev), 5000, dev)
    rec.update(ev)
    logger.info(f"  eval     {ev['eval_samples_per_s']:10.0f} samples/s float32 (TF32 off)"
                + (f", {ev['eval_samples_per_s_tf32']:.0f} with TF32" if "eval_samples_per_s_tf32" in ev else ""))
    # several seeds at once, three ways; one that fails (they are the parts never run on every host) is recorded
    # with its error and the bench goes on, so the record of the rest is kept
    at_once = [
        ("concurrent", o.concurrent, "processes",
         lambda: time_concurrent(o.concurrent, net, o.n_samples, o.source, batch, dev, o.precision, o.compile_mode,
                                 o.epochs)),
        ("stacked", o.stacked, "seeds stacked (torch.func.vmap, one process)",
         lambda: time_stacked(o.stacked, net, ds, bs, dev, o.precision, o.epochs, o.warmup_steps, classes)),
        ("streams", o.streams, "seeds in one process (threads"
         + (", each on its own CUDA stream)" if dev.type == "cuda" else "; no streams on the CPU)"),
         lambda: time_streams(o.streams, net, ds, bs, dev, o.precision, o.epochs, o.warmup_steps, classes))]
    for key, n, what, measure in at_once:
        if not n or n < 2:
            continue
        try:
            out = measure()
        except Exception as e:
            rec[key] = dict(models=None, error=f"{type(e).__name__}: {e}")
            logger.warning(f"  {n} {what}: FAILED, {rec[key]['error']} (recorded; the bench goes on)")
            continue
        out.pop("trained", None)
        rec[key] = out
        logger.info(f"  {n} {what}: {out['aggregate_samples_per_s']:.0f} samples/s together "
                    f"({out['aggregate_samples_per_s'] / ours['samples_per_s']:.2f} x one model)")
    if o.sharpness or o.sharpness_vs_scipy:
        rec.update(sharpness_timing(model, ds.to(dev), 5000, vs_scipy=o.sharpness_vs_scipy))
        if "sharpness_s" not in rec:
            logger.info(f"  sharpness skipped: {rec['sharpness_skipped']}")
        else:
            logger.info(f"  sharpness full space, {rec['sharpness_maxiter']} L-BFGS-B iterations on {len(ds)} "
                        f"examples: {rec['sharpness_s']:.1f} s ({rec['sharpness_nfev']} evaluations)")
        if "sharpness_scipy_s" in rec:
            logger.info(f"  the same through scipy.optimize.minimize: {rec['sharpness_scipy_s']:.1f} s, ratio "
                        f"{rec['sharpness_speedup']:.2f} x, " + ("same phi and evaluations" if rec["sharpness_same"]
                                                                 else "DIFFERENT phi or evaluations"))
    wall = time.perf_counter() - t_start
    rec["bench_s"] = time.perf_counter() - t0
    rec.update(peak_rss_mib=memory.peak_rss_bytes() / 2**20, memory_method=memory.memory_method())
    rec["run_id"] = bench_id(rec)
    rec["provenance"] = records.provenance(dev, wall, started)
    if write:
        records.atomic_write_json(records.record_path(results_dir, profile, "bench", rec["run_id"]), rec)
    return rec


def bench_id(rec: dict) -> str:
    """A bench record's name: ``<net>-b<batch>-<cpu|cuda>-n<examples>[-<compile mode>][-ours]`` (``-ours``: no
    baseline was timed)."""
    dev = "cuda" if rec["device_type"] == "cuda" else "cpu"
    parts = [rec["net"], f"b{rec['batch_size']}", dev, f"n{rec['n_samples']}"]
    if rec["compile"] != "off":
        parts.append(rec["compile"])
    if "baseline" not in rec:
        parts.append("ours")
    return "-".join(parts)
