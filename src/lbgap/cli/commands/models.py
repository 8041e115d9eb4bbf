"""``lbgap models``: Table 1, the six networks and their parameter counts."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="Table 1: the six networks and their parameter counts")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    import pandas as pd

    from lbgap.core.models import model_table

    print(pd.DataFrame(model_table()).to_string(index=False))
    return 0
