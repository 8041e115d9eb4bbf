"""``lbgap sweep tuned-lr``: the learning rate tuned per batch size on a hold-out split, then SB vs LB at the tuned
rates on the official split (``lbgap.studies.tuned_lr``)."""
from __future__ import annotations

import argparse

from lbgap.cli import options as opt
from lbgap.cli.options import store_options, sweep_exit

STAGES = ("grid", "final")   # lbgap.studies.tuned_lr.STAGES, repeated so that building the parser needs no torch


def regimes(text: str) -> str:
    names = tuple(t.strip().upper() for t in text.split(",") if t.strip())
    if not names or any(n not in ("SB", "LB") for n in names):
        raise argparse.ArgumentTypeError(f"batch sizes {text!r}: give SB, LB or SB,LB")
    return ",".join(names)


def multipliers(text: str) -> str:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"multipliers {text!r}: give positive numbers such as 0.5,1,2")
    return text


def add_parser(grids) -> None:
    p = grids.add_parser("tuned-lr", help="F1: the LR tuned per batch size on a 55k/5k hold-out (grid), then SB vs "
                                          "LB at the tuned LRs on the official split, with sharpness (final)")
    p.add_argument("--stage", required=True, choices=STAGES, help="grid: LR x multipliers of 1e-3 on the hold-out "
                   "split, seed 0 (extended by one point where the best is at an edge); final: the selected LR per "
                   "batch size on the official split with Metric 2.1 and the Hessian's top eigenvalue")
    p.add_argument("--batches", default="SB,LB", type=regimes, help="SB, LB or SB,LB (default SB,LB)")
    p.add_argument("--seeds", default="0-4", type=opt.seeds, help="final stage: seeds, a range like 0-4 or a list "
                   "(default 0-4); the grid uses seed 0")
    p.add_argument("--multipliers", default=None, type=multipliers, help="grid stage: these LR multipliers instead "
                   "of the default grid (SB 0.25-4, LB 1-16), with no automatic extension")
    p.add_argument("--no-sharpness", action="store_true", help="final stage: train only")
    p.add_argument("--no-warmup", action="store_true", help="grid stage: the warm-up check, LB at the given "
                   "--multipliers of x4 and above trained without the protocol's 5-epoch warm-up (seed 0, hold-out "
                   "split; not a grid point)")
    p.add_argument("--accept-edge", action="store_true", help="final stage: train at a selected LR that sits at the "
                   "edge of the grid (refused otherwise: extend the grid first)")
    p.add_argument("--profile", default="paper", type=opt.profile_name, help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, type=opt.device, help="auto | cpu | cuda[:N] (default: the profile's)")
    store_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep
    from lbgap.studies import tuned_lr

    mults = [float(t) for t in a.multipliers.split(",") if t.strip()] if a.multipliers else None
    outcomes = tuned_lr.run(a.stage, a.batches.split(","), sweep.parse_seeds(a.seeds), a.profile, a.results_dir,
                            force=a.force, multipliers=mults, sharpness_after=not a.no_sharpness,
                            accept_edge=a.accept_edge, warmup=not a.no_warmup, device=a.device)
    return sweep_exit(f"tuned-LR {a.stage} ({a.profile})", outcomes)
