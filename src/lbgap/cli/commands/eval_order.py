"""``lbgap eval-order RUN``: F2's final model evaluated in stored-order and in interleaved batches."""
from __future__ import annotations

import argparse

from lbgap.cli.options import store_options
from lbgap.cli import options as opt


def add_parser(sub) -> None:
    p = sub.add_parser("eval-order", help="F2: evaluate a trained run in stored-order and interleaved batches")
    p.add_argument("run", help="a train run id (e.g. F2-so762-official-b256-s0) or the path of a train record")
    p.add_argument("--profile", default="paper", type=opt.profile_name, help="profile of the training record (default paper)")
    p.add_argument("--device", default="auto", type=opt.device, help="auto | cpu | cuda[:N] (default auto: CUDA if present)")
    store_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.studies.eval_order import eval_order_check

    results_dir, cfg = opt.trained_run(a)
    rec = eval_order_check(cfg, results_dir, a.device, a.force)
    for part, v in rec["rows"].items():
        print(f"{cfg.run_id} {part}: accuracy {v['stored']['acc']:.4f} in stored-order batches, "
              f"{v['interleaved']['acc']:.4f} interleaved" + (" (existing record)" if rec.get("skipped") else ""))
    return 0
