"""``lbgap sweep warmstart``: Figure 5, LB training warm-started from SB iterates (piggybacking;
``lbgap.studies.warmstart``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import experiment_options, sweep_exit
from lbgap.cli import options as opt


def add_parser(grids) -> None:
    p = grids.add_parser("warmstart", help="Figure 5: LB training warm-started from SB iterates (piggybacking)")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4 (the paper: F2 and C1)")
    p.add_argument("--seeds", default="0", type=opt.seeds, help="seeds: a range like 0-4 or a list like 0,2,5 (default 0)")
    p.add_argument("--sb-epochs", type=opt.positive_int, default=100, help="epochs of the SB run that supplies the warm starts")
    p.add_argument("--lb-epochs", type=opt.positive_int, default=100, help="epochs of each piggybacked LB run (fixed)")
    p.add_argument("--warm-epochs", default="",
                   help="comma-separated SB epochs to warm-start from (default 0,1,2,3,5,10,20,50,100 up to "
                        "--sb-epochs, and --sb-epochs itself)")
    experiment_options(p)
    p.set_defaults(func=run)


def warm_epochs(text: str) -> list[int]:
    """``--warm-epochs 0,1,5`` -> [0, 1, 5]."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--warm-epochs {text!r}: give comma-separated whole numbers of SB epochs, e.g. 0,1,5,20") \
            from None


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import warmstart

    warm = warm_epochs(a.warm_epochs) if a.warm_epochs else None
    outcomes = warmstart.run(a.net, sweep.parse_seeds(a.seeds), a.profile, a.sb_epochs, a.lb_epochs, warm,
                             a.train_examples or None, a.results_dir, force=a.force, device=a.device)
    return sweep_exit(f"warm-start sweep {a.net} ({a.profile}, {a.sb_epochs} SB + {a.lb_epochs} LB epochs)", outcomes)
