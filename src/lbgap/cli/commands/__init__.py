"""The commands of ``lbgap``: name -> module. Each module has ``add_parser(sub)``, which adds its parser
(argparse only) and sets ``func`` to its ``run(args) -> exit status``; ``run`` imports the library.
``sweep``'s grids have their own table, :data:`lbgap.cli.commands.sweep.GRIDS`."""
from __future__ import annotations

from lbgap.cli.commands import (advise, bench, data, eval_order, landscape, models, noise, regression, sharpness, status,
                                sweep, train)

COMMANDS = {
    "train": train,
    "sweep": sweep,
    "status": status,
    "models": models,
    "data": data,
    "sharpness": sharpness,
    "landscape": landscape,
    "eval-order": eval_order,
    "noise": noise,
    "bench": bench,
    "regression": regression,
    "advise": advise,
}
