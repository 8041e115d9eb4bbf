"""``lbgap regression``: the "huge N, few features" study (least squares and logistic regression with 4 features,
N = 10^4 ... 10^9 streamed rows; one-pass solution, full-batch GD and mini-batch SGD to 1 % and 0.1 % of the
optimal loss)."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options

PROFILES = ("smoke", "quick")   # the profiles lbgap.core.config.REGRESSION_SIZES has sizes for (tests check)


def add_parser(sub) -> None:
    p = sub.add_parser("regression", help="huge N, few features: one exact pass vs full-batch GD vs mini-batch SGD")
    p.add_argument("--profile", default="quick", choices=PROFILES,
                   help="smoke: tiny N, seconds; quick: N up to 10^9 on one CPU core (default quick)")
    store_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import memory
    from lbgap.studies.regression import run_study

    # the whole study in a fresh process whose BLAS reads the study's thread count when numpy loads
    recs, _ = memory.in_fresh_process(run_study, a.profile, a.results_dir, force=a.force,
                                      threads=a.threads or memory.STUDY_THREADS)
    print(f"regression study ({a.profile}): {len(recs)} records")
    return 0
