"""``lbgap sweep threshold``: Figure 4, test accuracy and sharpness against the batch size
(``lbgap.studies.threshold``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import experiment_options, sweep_exit
from lbgap.cli import options as opt

# lbgap.studies.threshold's batch sizes, repeated so that building the parser needs no torch (tests/test_cli.py).
DEFAULT_BATCH_SIZES = ("64", "256", "1024", "4096", "10%", "50%")


def add_parser(grids) -> None:
    p = grids.add_parser("threshold", help="Figure 4: test accuracy and sharpness against the batch size")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4 (the paper: F2 and C1)")
    p.add_argument("--batch-sizes", default=",".join(DEFAULT_BATCH_SIZES),
                   help="comma-separated integers or percentages of the training set")
    p.add_argument("--seeds", default="0", type=opt.seeds, help="seeds: a range like 0-4 or a list like 0,2,5 (default 0)")
    p.add_argument("--epochs", type=opt.positive_int, default=100, help="epochs at every batch size (paper: 100)")
    experiment_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import threshold

    sizes = [s.strip() for s in a.batch_sizes.split(",") if s.strip()]
    outcomes = threshold.run(a.net, sizes, sweep.parse_seeds(a.seeds), a.profile, a.epochs, a.train_examples or None,
                             a.results_dir, force=a.force, device=a.device)
    return sweep_exit(f"threshold sweep {a.net} ({a.profile}, {a.epochs} epochs)", outcomes)
