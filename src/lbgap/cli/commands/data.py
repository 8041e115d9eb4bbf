"""``lbgap data download|import|list``: get datasets into the cache."""
from __future__ import annotations

import argparse

from lbgap.cli.options import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="get datasets into the cache")
    p.add_argument("action", choices=["download", "import", "list"])
    p.add_argument("name", nargs="?", default="", help="mnist | cifar10 | cifar100 | so762 | timit")
    p.add_argument("--from", dest="from_", default=None, help="a data pack folder (default ../shared/data)")
    p.add_argument("--data-dir", default=None, help="torchvision-format files already on disk")
    p.add_argument("--root", default=None, help="download: where torchvision keeps the raw files")
    p.set_defaults(func=run, check=check)


def check(a: argparse.Namespace) -> str | None:
    """Before anything runs: download and import need a name."""
    if a.action != "list" and not a.name:
        return "data download/import needs a dataset name"
    return None


def run(a: argparse.Namespace) -> int:
    from lbgap.core import data, paths

    if a.action == "list":
        import pandas as pd

        print(pd.DataFrame(data.status()).to_string(index=False))
        return 0
    name = a.name.lower()
    if a.action == "download":
        path = data.download(name, a.root)
    elif a.from_ and a.data_dir:
        raise UserError("give either --from (a data pack) or --data-dir (torchvision files), not both")
    elif a.data_dir:
        path = data.import_data_dir(name, a.data_dir)
    else:
        src = a.from_ or str(paths.SHARED_DATA)
        if name in ("so762", "timit"):
            from lbgap.core import speech

            path = speech.import_dataset(name, src)
        else:
            path = data.import_pack(name, src)
    print(f"{name}: cached at {path}")
    return 0
