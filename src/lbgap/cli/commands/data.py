"""``lbgap data download|import|list|verify``: get datasets into the cache, and check it."""
from __future__ import annotations

import argparse

from lbgap.cli.options import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="get datasets into the cache")
    p.add_argument("action", choices=["download", "import", "list", "verify"],
                   help="verify: re-hash the cache files (NAME, or every cached dataset)")
    p.add_argument("name", nargs="?", default="", help="mnist | cifar10 | cifar100 | so762 | timit")
    p.add_argument("--from", dest="from_", default=None, help="a data pack folder (default ../shared/data)")
    p.add_argument("--data-dir", default=None, help="torchvision-format files already on disk")
    p.add_argument("--root", default=None, help="download: where torchvision keeps the raw files")
    p.set_defaults(func=run, check=check)


def check(a: argparse.Namespace) -> str | None:
    """Before anything runs: download and import need a name."""
    if a.action in ("download", "import") and not a.name:
        return "data download/import needs a dataset name"
    return None


def run(a: argparse.Namespace) -> int:
    from lbgap.core import data, paths

    if a.action == "list":
        import pandas as pd

        print(pd.DataFrame(data.status()).to_string(index=False))
        return 0
    name = a.name.lower()
    if name and name not in data.DATASETS:
        raise UserError(f"unknown dataset {a.name!r}: choose one of {', '.join(data.DATASETS)}")
    if a.action == "verify":
        names = [name] if name else [n for n in data.DATASETS if data.cache_path(n).is_file()]
        if not names:
            raise UserError("nothing is cached to verify; import a dataset first (`lbgap data import NAME`)")
        for n in names:
            print(data.verify(n))
        return 0
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
