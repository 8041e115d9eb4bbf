"""``lbgap sweep gradient-norm``: full-batch and mini-batch gradient norms, distance from x0 and losses against the
batch size at equal numbers of examples seen (``lbgap.studies.gradient_norm``)."""
from __future__ import annotations

import argparse

from lbgap.cli import options as opt

BATCHES = "16,32,64,128,256,1024,LB"


def add_parser(grids) -> None:
    p = grids.add_parser("gradient-norm", help="gradient norms and distance from x0 vs batch size, at equal "
                                               "examples seen")
    p.add_argument("--rules", default="fixed,sqrt", help="learning-rate rules: fixed (Adam 1e-3) and/or sqrt "
                                                         "(1e-3 x sqrt(B/256)) (default both)")
    p.add_argument("--epochs", type=opt.positive_int, default=2, help="epochs per run (default 2)")
    p.add_argument("--grad-examples", type=opt.positive_int, default=10000,
                   help="training examples of the full-batch gradient and training loss (default 10000)")
    opt.batch_study_options(p, BATCHES)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import memory, sweep
    from lbgap.studies import gradient_norm

    rules = [r.strip() for r in a.rules.split(",") if r.strip()]
    batches = [b.strip() for b in a.batches.split(",") if b.strip()]
    gradient_norm.run(a.net, sweep.parse_seeds(a.seeds), a.profile, batches, rules, a.epochs, a.grad_examples,
                      a.results_dir, force=a.force, device=a.device,
                      threads=a.threads or memory.STUDY_THREADS)
    return 0
