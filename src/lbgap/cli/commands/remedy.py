"""``lbgap sweep remedy``: Tables 6-7, LB training with data augmentation or conservative (proximal)
training (``lbgap.studies.remedies``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import experiment_options, sweep_exit
from lbgap.cli import options as opt

# the names of lbgap.studies.remedies.REMEDIES, sorted, repeated so that building the parser needs no torch
# (tests/test_cli.py).
REMEDY_NAMES = ("augment", "conservative", "repeat3")


def add_parser(grids) -> None:
    p = grids.add_parser("remedy", help="Tables 6-7: LB with data augmentation or conservative (proximal) "
                                        "training, accuracy and sharpness")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4")
    p.add_argument("--remedy", default="conservative", choices=list(REMEDY_NAMES),
                   help="conservative (Table 7, any network), repeat3 (its control: 3 Adam steps per batch, lambda = 0) "
                        "or augment (Table 6, C1-C4)")
    p.add_argument("--seeds", default="0", type=opt.seeds, help="seeds: a range like 0-4 or a list like 0,2,5 (default 0)")
    p.add_argument("--max-epochs", type=opt.positive_int, default=0,
                   help="epoch cap (default: the profile's LB cap; match the Table 2 LB runs you compare with)")
    p.add_argument("--no-baseline", action="store_true",
                   help="only the remedy's runs (default: also the seed's Table 2 SB/LB runs and LB sharpness)")
    experiment_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import remedies

    overrides = dict(device=a.device, max_epochs=a.max_epochs or None)
    outcomes = remedies.run(a.net, sweep.parse_seeds(a.seeds), a.profile, a.remedy, a.train_examples or None,
                            a.results_dir, force=a.force, baseline=not a.no_baseline, **overrides)
    return sweep_exit(f"remedy sweep {a.remedy} {a.net} ({a.profile})", outcomes)
