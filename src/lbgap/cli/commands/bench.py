"""``lbgap bench``: our training epoch timed against the idiomatic DataLoader baseline (``lbgap.studies.bench``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt

# lbgap.studies.bench's default, repeated so that building the parser needs no torch (tests/test_cli.py).
BASELINE_WORKERS = 2


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="time our training epoch against the idiomatic DataLoader baseline")
    p.add_argument("--net", required=True, help="the network of Table 1: F1 | F2 | C1 | C2 | C3 | C4")
    p.add_argument("--batch-size", nargs="+", type=opt.batch_size, default=["SB"], help="SB, LB, an integer or a percentage; several "
                   "values run one after another (default SB)")
    p.add_argument("--device", default=None, type=opt.device, help="auto | cpu | cuda (default auto)")
    p.add_argument("--n-samples", type=opt.positive_int, default=None, help="bound the examples per epoch (default: the whole "
                   "training set)")
    p.add_argument("--data", default="auto", choices=["auto", "real", "synthetic"], help="real cache if present "
                   "(auto), else synthetic data of the same shape")
    p.add_argument("--epochs", type=opt.positive_int, default=2, help="timed epochs per method (median; default 2)")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before each timed method (default 3)")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"], help="ours (default auto: bf16 "
                   "autocast on CUDA)")
    p.add_argument("--compile", default=None, help="torch.compile mode for ours: default | reduce-overhead | "
                   "max-autotune")
    p.add_argument("--workers", type=int, default=BASELINE_WORKERS, help="baseline DataLoader num_workers (2)")
    p.add_argument("--no-baseline", action="store_true", help="time ours only, not the DataLoader baseline")
    p.add_argument("--concurrent", type=int, default=0, help="also time N processes at once (aggregate samples/s)")
    p.add_argument("--stacked", type=int, default=0, help="also time N seeds stacked into one model in one "
                   "process (torch.func.stack_module_state + vmap; aggregate samples/s)")
    p.add_argument("--streams", type=int, default=0, help="also time N seeds in one process, one thread each, "
                   "on CUDA each on its own stream (aggregate samples/s)")
    p.add_argument("--sharpness", action="store_true", help="also time one full-space sharpness (Metric 2.1)")
    p.add_argument("--sharpness-vs-scipy", action="store_true", help="--sharpness, and the same maximisation "
                   "through scipy.optimize.minimize beside it (the ratio)")
    p.add_argument("--check-precision", action="store_true", help="bf16 vs fp32 short-run accuracy check")
    p.add_argument("--precision-epochs", type=int, default=3, help="--check-precision: epochs per run (default 3)")
    p.add_argument("--precision-seeds", type=int, default=2, help="--check-precision: seeds per precision "
                   "(default 2)")
    p.add_argument("--profile", default="paper", type=opt.profile_name, help="records go to <results>/<profile>/bench/ (default paper)")
    p.add_argument("--no-write", action="store_true", help="print only, write no record")
    store_options(p, force=False)
    p.set_defaults(func=run)


def bench_options(a: argparse.Namespace):
    """The :class:`lbgap.studies.bench.BenchOptions` the command line asks for."""
    from lbgap.studies.bench import BenchOptions

    return BenchOptions(device=a.device or "auto", n_samples=a.n_samples, source=a.data, epochs=a.epochs,
                        warmup_steps=a.warmup_steps, precision=a.precision or "auto", compile_mode=a.compile or "",
                        workers=a.workers, baseline=not a.no_baseline, concurrent=a.concurrent, stacked=a.stacked,
                        streams=a.streams, sharpness=a.sharpness, sharpness_vs_scipy=a.sharpness_vs_scipy)


def run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from lbgap.core import paths, records
    from lbgap.studies.bench import bench, check_precision

    options = bench_options(a)
    for batch in a.batch_size:
        rec = bench(a.net, batch, options, a.profile, a.results_dir, write=not a.no_write)
        if a.check_precision:
            pc = check_precision(a.net, batch, tuple(range(a.precision_seeds)), a.precision_epochs,
                                 a.device or "auto", a.n_samples)
            rec["precision_check"] = pc
            print(f"  bf16 vs fp32 after {pc['epochs']} epochs: test acc {pc['mean_acc_bf16']:.4f} vs "
                  f"{pc['mean_acc_fp32']:.4f} (diff {pc['diff']:+.4f}, seed sd {pc['seed_sd']:.4f}): "
                  + ("within seed noise" if pc["within_seed_noise"] else "NOT within seed noise"))
            if not a.no_write:
                rd = Path(a.results_dir) if a.results_dir is not None else paths.RESULTS_DIR
                records.atomic_write_json(records.record_path(rd, a.profile, "bench", rec["run_id"]), rec)
    return 0
