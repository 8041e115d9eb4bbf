"""``lbgap sweep followups``: the remedies published after Keskar et al. -- LR scaling with warm-up, ghost batch
normalisation, as many updates as SB, SAM -- on the Table 2 networks (``lbgap.studies.followups``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import experiment_options, sweep_exit
from lbgap.cli import options as opt

# the names of lbgap.studies.followups.ARMS, repeated so that building the parser needs no torch (tests/test_cli.py)
ARM_NAMES = ("sb", "lb", "lr-linear", "lr-sqrt", "ghost", "regime", "hoffer", "sam-0.01", "sam-0.05", "sam-0.2")
SAM_SELECTED = "sam-selected"   # SAM at the radius chosen on the validation split (followups.SAM_SELECTED)
REPLICATES = ("", "cpu")        # followups.REPLICATES


def arms(text: str) -> str:
    names = ARM_NAMES if text.strip() == "all" else tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in (*ARM_NAMES, SAM_SELECTED)]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown arm(s) {', '.join(bad) or text!r}: give 'all' or a comma list of "
                                         f"{', '.join(ARM_NAMES)}, {SAM_SELECTED}")
    return ",".join(names)


def add_parser(grids) -> None:
    p = grids.add_parser("followups", help="is it the batch or the updates? LR scaling + warm-up, ghost BN, SB's "
                                           "number of updates, SAM: accuracy, steps, time and sharpness per arm")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4")
    p.add_argument("--seeds", default="0", type=opt.seeds, help="seeds: a range like 0-4 or a list like 0,2,5 (default 0)")
    p.add_argument("--arms", default="all", type=arms,
                   help=f"'all' (default) or a comma list of: {', '.join(ARM_NAMES)}, {SAM_SELECTED} (SAM at the "
                        "radius with the best validation accuracy on a 5,000-image hold-out, seed 0)")
    p.add_argument("--replicate", default="", choices=REPLICATES, help="'' (default): the first set of arm runs; cpu: "
                   "a float32 replicate on a CPU, kept apart by the tag suffix +cpu (use with --device cpu)")
    experiment_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import followups

    outcomes = followups.run(a.net, sweep.parse_seeds(a.seeds), a.profile, followups.parse_arms(a.arms),
                             a.results_dir, force=a.force,
                             train_examples=a.train_examples or None, device=a.device, replicate=a.replicate)
    return sweep_exit(f"follow-up sweep {a.net} ({a.profile})", outcomes)
