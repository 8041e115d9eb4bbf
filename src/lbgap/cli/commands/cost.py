"""``lbgap sweep cost``: time per step and per epoch, throughput, peak memory and test accuracy after a fixed number of
steps against the batch size, each batch size measured in a process of its own (``lbgap.studies.cost``)."""
from __future__ import annotations

import argparse

from lbgap.cli import options as opt

BATCHES = "16,32,64,128,256,LB"


def add_parser(grids) -> None:
    p = grids.add_parser("cost", help="time, throughput, peak memory and accuracy after a fixed number of steps, "
                                      "per batch size")
    p.add_argument("--steps", type=opt.positive_int, default=100,
                   help="optimizer steps per measurement, the first 5 untimed (default 100)")
    opt.batch_study_options(p, BATCHES)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import memory, sweep
    from lbgap.studies import cost

    batches = [b.strip() for b in a.batches.split(",") if b.strip()]
    cost.run(a.net, sweep.parse_seeds(a.seeds), a.profile, batches, a.steps, a.results_dir, a.device, a.force,
             threads=a.threads or memory.STUDY_THREADS)
    return 0
