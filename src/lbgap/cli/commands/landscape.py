"""``lbgap landscape SEED NET``: Figures 3 and 7 and filter-normalised views of one SB/LB pair
(``lbgap.measures.landscape``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt

# lbgap.measures.landscape's parts, repeated so that building the parser needs no torch (tests/test_cli.py).
PARTS = ("linear", "curvilinear", "filter1d", "contour")


def add_parser(sub) -> None:
    p = sub.add_parser("landscape", help="Figures 3 and 7 and filter-normalised views of one SB/LB pair")
    p.add_argument("seed", type=opt.seed, help="seed of the SB/LB pair, a whole number >= 0")
    p.add_argument("net", help="the network of Table 1: F1 | F2 | C1 | C2 | C3 | C4")
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS,
                   help="which views, one or more of linear curvilinear filter1d contour (default all four)")
    p.add_argument("--points", type=opt.positive_int, default=25, help="alpha points on [-1, 2] (paper: 25)")
    p.add_argument("--train-examples", type=opt.count_or_all, default=0, help="N training examples for the train curves, "
                   "the first N or N spread evenly over a speaker-ordered set (0 = all, default)")
    p.add_argument("--test-examples", type=opt.count_or_all, default=0, help="N test examples for the test curves, chosen "
                   "likewise (0 = all, default)")
    p.add_argument("--grid-points", type=opt.positive_int, default=11, help="2-D contour grid per axis (default 11)")
    p.add_argument("--contour-examples", type=opt.count_or_all, default=5000, help="training examples for the contour (0 = all)")
    p.add_argument("--profile", default="paper", type=opt.profile_name, help="profile of the training records: smoke | "
                   "quick | paper (default paper)")
    p.add_argument("--split", default=None, choices=["official", "holdout"], help="evaluation split of the runs "
                   "(default: as `lbgap train` chooses it)")
    p.add_argument("--bn", default=None, choices=["batch", "running"], help="BatchNorm semantics of the runs "
                   "(default batch)")
    p.add_argument("--tag", default=None, type=opt.tag, help="the runs' --tag, if they were trained with one "
                   "(default none)")
    p.add_argument("--device", default="auto", type=opt.device, help="auto | cpu | cuda[:N] (default auto: CUDA if present)")
    store_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import paths
    from lbgap.measures import landscape

    results_dir = paths.resolve(a.results_dir, paths.RESULTS_DIR)
    sb, lb = landscape.pair_configs(a.net, a.seed, a.profile, results_dir, split=a.split, bn=a.bn, tag=a.tag)
    opt.check_checkpoints(sb, lb, results_dir=results_dir)
    rec = landscape.compute(sb, lb, results_dir, parts=a.parts, points=a.points,
                            train_examples=a.train_examples or None, test_examples=a.test_examples or None,
                            grid_points=a.grid_points, contour_examples=a.contour_examples or None,
                            device=a.device, force=a.force)
    if rec.get("skipped"):
        print(f"skipped {rec['run_id']}: every requested part exists (use --force to recompute)")
    return 0
