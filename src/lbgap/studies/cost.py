"""What a batch size costs on this machine: time per step and per epoch, throughput, peak memory and the test accuracy
after a fixed number of steps, measured, one record per (network, batch size, seed).

Each measurement is a freshly spawned process of its own (:func:`lbgap.core.memory.in_fresh_process`) with
:data:`lbgap.core.memory.STUDY_THREADS` CPU threads (the count is recorded), so that its peak resident memory
belongs to that batch size alone. The peak is the process's own (``VmHWM``, not ``ru_maxrss``, which a child
inherits from its parent) and is read when the training steps end, *before* the test evaluation, whose
5,000-image batches would otherwise set it for the small batch sizes: data, model, optimizer and the largest
batch's activations, after imports (``peak_rss_mib``; the peak after evaluation is kept beside it as
``peak_rss_after_eval_mib``). On a GPU the record also keeps ``torch.cuda.max_memory_allocated`` (training only).
The processes run seed by seed, every batch size of a seed in turn, so that a machine that slows down part-way
slows every batch size alike (an interleaved schedule, not one batch size after another). Within a run:

* ``steps`` optimizer steps (Adam 1e-3, the run's x0 and data order as in ``train``), the first ``warmup`` of them
  untimed; the others timed one by one (wall and process CPU time, synchronised on a GPU): the median seconds per
  step, samples per second = B / that, seconds per epoch = steps per epoch x that (an estimate: evaluation and
  the epoch's last partial batch left out);
* the test accuracy after those ``steps`` steps, the same number of updates for every batch size.

The test accuracy after a fixed number of *epochs* comes from the gradient-norm study's records (same x0, data order
and optimizer: ``studies.gradient_norm``), so no run is repeated.

CLI: ``lbgap sweep cost --net F1 --profile quick --seeds 0-2``.
"""
from __future__ import annotations

import logging
import math
import statistics
import time
from pathlib import Path
from typing import Sequence

from lbgap.core import memory, records

logger = logging.getLogger(__name__)

BATCHES = (16, 32, 64, 128, 256, "LB")
KIND = "cost"


def run_id(net: str, batch_size: int, seed: int, steps: int) -> str:
    """A cost record's name: ``<net>-b<batch size>-s<seed>-steps<steps>``."""
    return f"{net}-b{batch_size}-s{seed}-steps{steps}"


def measure(net: str, batch: int | str, seed: int, profile: str = "quick", steps: int = 100, warmup: int = 5,
            results_dir: str | Path | None = None, device: str | None = None, force: bool = False) -> dict:
    """One measurement in this process: its record (written), or the existing one unless ``force``. The peak
    RSS is this process's, so call it in a fresh process for a peak that belongs to this batch size alone
    (:func:`run` does)."""
    import torch

    from lbgap.core import train as trainmod
    from lbgap.core.train import StopTraining, make_config

    cfg = make_config(net, batch, seed, profile, save_checkpoints=False, **({"device": device} if device else {}))
    results_dir = records.store_root(results_dir)
    rid = run_id(net, cfg.batch_size, seed, steps)
    path = records.record_path(results_dir, profile, KIND, rid)
    done = records.done(path, force)
    if done is not None:
        return done
    if steps <= warmup:
        raise ValueError(f"steps={steps} must be larger than warmup={warmup}")
    rss_before = memory.peak_rss_bytes() / 2**20   # after imports, before the data
    dev = trainmod.compute_device(cfg.device)
    started, t0 = records.now(), time.perf_counter()
    data = trainmod.training_data(cfg, None, dev)
    trainer = trainmod.make_trainer(cfg, data.num_classes, dev)
    wall, cpu = [], []
    clock = dict(w=time.perf_counter(), c=time.process_time())

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def on_step(progress) -> None:
        sync()
        w, c = time.perf_counter(), time.process_time()
        if progress.step > warmup:
            wall.append(w - clock["w"])
            cpu.append(c - clock["c"])
        if progress.step >= steps:
            raise StopTraining
        clock.update(w=time.perf_counter(), c=time.process_time())

    sync()
    clock.update(w=time.perf_counter(), c=time.process_time())
    trainer.until_stopped(data.train, on_step)
    peak_train = memory.peak_rss_bytes() / 2**20                  # training only: read before the evaluation
    cuda_peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    test_loss, test_acc = trainmod.evaluate(trainer.model, data.test, cfg.eval_batch_size)
    per_step = statistics.median(wall)
    n = len(data.train)
    out = dict(config=cfg.to_dict(), net=net, seed=seed, batch_size=cfg.batch_size, steps=steps, warmup=warmup,
               seconds_per_step=per_step, cpu_seconds_per_step=statistics.median(cpu),
               samples_per_s=cfg.batch_size / per_step, steps_per_epoch=math.ceil(n / cfg.batch_size),
               seconds_per_epoch=math.ceil(n / cfg.batch_size) * per_step, n_train=n,
               test_acc=test_acc, test_loss=test_loss, examples=trainer.progress.examples,
               peak_rss_mib=peak_train, peak_rss_after_eval_mib=memory.peak_rss_bytes() / 2**20,
               rss_before_mib=rss_before, memory_phase="training", memory_method=memory.memory_method(),
               cuda_max_allocated_mib=cuda_peak, threads=torch.get_num_threads())
    return records.write_record(results_dir, profile, KIND, rid, **out,
                                provenance=records.provenance(dev, time.perf_counter() - t0, started))


def run(net: str = "F1", seeds: Sequence[int] = (0, 1, 2), profile: str = "quick", batches: Sequence = BATCHES,
        steps: int = 100, results_dir: str | Path | None = None, device: str | None = None, force: bool = False,
        threads: int = memory.STUDY_THREADS) -> list[dict]:
    """Seed by seed, each batch size in a freshly spawned process with ``threads`` CPU threads (:func:`measure`);
    finished measurements are skipped."""
    from lbgap.core.train import make_config

    for b in batches:   # bad input fails here, in one line, before any process starts
        make_config(net, b, seeds[0] if seeds else 0, profile, **({"device": device} if device else {}))
    out = []
    store = str(records.store_root(results_dir))
    for seed in seeds:
        for b in batches:
            cfg = make_config(net, b, seed, profile, **({"device": device} if device else {}))
            rec = records.done(records.record_path(store, profile, KIND, run_id(net, cfg.batch_size, seed, steps)),
                               force)
            if rec is not None:   # recorded: no process started
                out.append(rec)
                continue
            rec, _ = memory.in_fresh_process(_measure_with_threads, threads=threads, net=net, batch=b, seed=seed,
                                             profile=profile, steps=steps, results_dir=store, device=device,
                                             force=force, torch_threads=threads)
            logger.info(f"cost      {net} B={rec['batch_size']} seed {seed}: {rec['seconds_per_step'] * 1e3:.1f} "
                        f"ms/step, peak RSS {rec['peak_rss_mib']:.0f} MiB, test acc {100 * rec['test_acc']:.2f} %")
            out.append(rec)
    return out


def _measure_with_threads(torch_threads: int, **kwargs) -> dict:
    """:func:`measure` in the spawned process, with torch's intra-op thread count set to ``torch_threads``."""
    memory.set_torch_threads(torch_threads)
    return measure(**kwargs)


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick")):
    """One row per cost record (its fields, without config and provenance, plus the device)."""
    import pandas as pd

    rows = [dict({k: v for k, v in r.items() if k not in ("config", "provenance", "kind", "schema")},
                 profile=prof, device=r["provenance"].get("device"))
            for prof in profiles for r in records.iter_records(results_dir, prof, KIND)]
    return pd.DataFrame(rows)
