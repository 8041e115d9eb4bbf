"""``lbgap sharpness RUN``: Metric 2.1 (Tables 3-4) and the Hessian of a trained run, or the Dinh et al.
rescaling demonstration (``lbgap.measures.sharpness``)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt

# lbgap.measures.sharpness's defaults and choices, repeated so that building the parser needs no torch
# (tests/test_cli.py checks that they agree).
DEFAULT_EPS = (1e-3, 5e-4)
DEFAULT_SPACES = ("full", "random")
SUBSPACE_DIM = 100
A_SEED = 0
PARAM_SETS = ("all", "no_bn")
OBJECTIVES = ("mean", "sum")


def add_parser(sub) -> None:
    p = sub.add_parser("sharpness", help="Metric 2.1 (Tables 3-4) and the Hessian of a trained run")
    p.add_argument("run", help="a train run id (e.g. F1-mnist-official-b256-s0) or the path of a train record")
    p.add_argument("--eps", type=opt.positive_float, nargs="+", default=list(DEFAULT_EPS),
                   help="box sizes epsilon of Metric 2.1, one or more positive numbers (default 1e-3 5e-4)")
    p.add_argument("--space", nargs="+", default=list(DEFAULT_SPACES), choices=DEFAULT_SPACES,
                   help="full (the whole parameter space, Table 3) and/or random (a random p-dimensional subspace, "
                        "Table 4) (default both)")
    p.add_argument("--p", type=opt.positive_int, default=SUBSPACE_DIM, help="random subspace dimension (default 100)")
    p.add_argument("--a-seed", type=opt.seed, default=A_SEED, help="seed of the random matrix A")
    p.add_argument("--params", default="all", choices=PARAM_SETS, help="parameters perturbed (default all)")
    p.add_argument("--maxiter", type=opt.positive_int, default=10, help="L-BFGS-B iterations (paper: 10)")
    p.add_argument("--objective", default="mean", choices=OBJECTIVES,
                   help="what L-BFGS-B maximises: the mean training loss (default) or the sum (N x mean); "
                        "phi itself is always computed on the mean loss")
    p.add_argument("--no-hessian", action="store_true", help="skip the Hessian eigenvalue/trace")
    p.add_argument("--hessian-examples", type=opt.count_or_all, default=10000,
                   help="training examples used for Hessian-vector products (0 = all; default 10000)")
    p.add_argument("--train-examples", type=opt.count_or_all, default=0,
                   help="f on N training examples only, for a CPU: the first N, or N spread evenly over a "
                        "speaker-ordered set (F2); 0 = the whole training set, the paper's definition (default); "
                        "such entries are keyed and tabled apart")
    p.add_argument("--dinh", action="store_true", help="run the Dinh et al. rescaling demonstration instead")
    p.add_argument("--alphas", type=opt.positive_float, nargs="+", default=[1.0, 10.0], help="--dinh rescaling factors")
    p.add_argument("--profile", default="paper", type=opt.profile_name, help="profile of the training record (default paper)")
    p.add_argument("--device", default="auto", type=opt.device, help="auto | cpu | cuda[:N] (default auto: CUDA if present)")
    store_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.measures import sharpness

    results_dir, cfg = opt.trained_run(a)
    if a.dinh:
        sharpness.dinh_demo(cfg, results_dir, alphas=a.alphas, eps=a.eps[0], maxiter=a.maxiter, device=a.device,
                            force=a.force)
        return 0
    rec = sharpness.compute(cfg, results_dir, eps=a.eps, spaces=a.space, p=a.p, a_seed=a.a_seed, params=a.params,
                            maxiter=a.maxiter, objective=a.objective, hessian=not a.no_hessian,
                            hessian_examples=a.hessian_examples or None, train_examples=a.train_examples or None,
                            device=a.device, force=a.force)
    if rec.get("skipped"):
        print(f"skipped {cfg.run_id}: every requested entry exists (use --force to recompute)")
    return 0
