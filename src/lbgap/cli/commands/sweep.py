"""``lbgap sweep GRID``: run a grid of runs, skipping finished ones; one module per grid (:data:`GRIDS`)."""
from __future__ import annotations

from lbgap.cli.commands import (cost, followups, gradient_norm, remedy, steps, table2, threshold, trajectory, tuned_lr,
                                warmstart)

GRIDS = {
    "table2": table2,
    "steps-to-target": steps,
    "threshold": threshold,
    "remedy": remedy,
    "followups": followups,
    "gradient-norm": gradient_norm,
    "cost": cost,
    "trajectory": trajectory,
    "warmstart": warmstart,
    "tuned-lr": tuned_lr,
}


def add_parser(sub) -> None:
    ps = sub.add_parser("sweep", help="run a grid of runs, skipping finished ones")
    grids = ps.add_subparsers(dest="grid", required=True)
    for grid in GRIDS.values():
        grid.add_parser(grids)
