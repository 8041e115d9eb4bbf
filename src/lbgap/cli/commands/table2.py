"""``lbgap sweep table2``: networks x {SB, LB} x seeds (the paper's Table 2), on any executor."""
from __future__ import annotations

import argparse

from lbgap.cli.options import executor_kwargs, executor_options, run_options, run_overrides
from lbgap.cli import options as opt


def add_parser(grids) -> None:
    p = grids.add_parser("table2", help="networks x {SB, LB} x seeds (the paper's Table 2)")
    p.add_argument("--seeds", default="0-4", type=opt.seeds, help="seeds: a range like 0-4 or a list like 0,2,5 (default 0-4)")
    p.add_argument("--nets", default=None, help="comma-separated (default all six)")
    executor_options(p)
    p.add_argument("--post", default=None, help="after each SB/LB pair: e.g. sharpness,landscape")
    run_options(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from lbgap.core import sweep

    grid = sweep.table2_grid(a.profile, sweep.parse_seeds(a.seeds), a.nets, **run_overrides(a))
    post = [p for p in (a.post or "").split(",") if p]
    kw = executor_kwargs(a)
    if a.dry_run:
        return dry_run(grid, a, kw, "table2")
    outcomes = sweep.run_grid(grid, a.results_dir, a.executor, force=a.force, post=post, label="table2", **kw)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed", "running", "submitted")}
    print(f"table2 sweep ({a.profile}): {len(grid)} runs: "
          + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("done", "skipped", "failed"))
          + (" (running: in flight elsewhere, not started twice)" if counts["running"] else "")
          + (" (submitted: see `lbgap status`)" if counts["submitted"] else ""))
    return 1 if counts["failed"] else 0


def dry_run(grid: list, a: argparse.Namespace, kw: dict, label: str) -> int:
    """``--dry-run``: the executor's own description (submitit: the job array), else the runs it would start."""
    from lbgap.core import paths, sweep

    ex = sweep.make_executor(a.executor, **kw)
    if hasattr(ex, "dry_run"):
        lines = ex.dry_run(grid, a.results_dir, label, a.force)
    else:
        rd = a.results_dir if a.results_dir is not None else paths.RESULTS_DIR
        states = [sweep.run_state(rd, c.profile, c.run_id)[0] for c in grid]
        todo = [c for c, s in zip(grid, states) if (a.force and s != "running") or s in ("missing", "failed")]
        lines = [f"dry run ({a.executor} executor, nothing run): {len(grid)} runs, "
                 + ", ".join(f"{states.count(s)} {s}" for s in ("done", "running", "failed", "missing")),
                 f"would run {len(todo)}:"] + [f"  {c.run_id}" for c in todo]
    print("\n".join(lines))
    return 0
