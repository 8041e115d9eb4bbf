"""``lbgap sweep trajectory``: Figure 6, sharpness against the loss along SB and LB training
(``lbgap.studies.trajectory``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import experiment_options, sweep_exit
from lbgap.cli import options as opt

# lbgap.studies.trajectory's default, repeated so that building the parser needs no torch (tests/test_cli.py).
DEFAULT_POINTS = 12


def add_parser(grids) -> None:
    p = grids.add_parser("trajectory", help="Figure 6: sharpness against the loss along SB and LB training")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4 (the paper: F2 and C1)")
    p.add_argument("--seeds", default="0", type=opt.seeds, help="the paper shows one trial")
    p.add_argument("--epochs", type=opt.positive_int, default=100, help="epochs in both regimes (fixed; no early stop)")
    p.add_argument("--points", type=opt.positive_int, default=DEFAULT_POINTS, help="kept iterates per run besides x0")
    experiment_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import trajectory

    outcomes = trajectory.run(a.net, sweep.parse_seeds(a.seeds), a.profile, a.epochs, a.points,
                              a.train_examples or None, a.results_dir, force=a.force, device=a.device)
    return sweep_exit(f"trajectory sweep {a.net} ({a.profile}, {a.epochs} epochs)", outcomes)
