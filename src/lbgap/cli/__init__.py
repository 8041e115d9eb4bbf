"""Command line: ``lbgap <command>``, one module per command in :mod:`lbgap.cli.commands` (the table
``COMMANDS``), shared options in :mod:`lbgap.cli.options`.

Every command that reads or writes records takes ``--results-dir`` (default ``data/results``). Bad input
exits with status 2 and one sentence on stderr; nothing is written in that case. Building the parser imports
only argparse and the command modules, so ``lbgap --help`` loads neither torch nor numpy nor pandas; each
command imports what it needs when it runs.
"""
from __future__ import annotations

import argparse
import sys

from lbgap.cli.commands import COMMANDS
from lbgap.cli.options import UserError


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lbgap", description="Keskar et al. (2017) reproduction: SB vs LB training")
    sub = ap.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    problem = a.check(a) if hasattr(a, "check") else None   # what argparse cannot express, with the usage line
    if problem:
        ap.error(problem)
    if getattr(a, "threads", None):
        import torch

        torch.set_num_threads(a.threads)
    from lbgap.core.data import DataError
    from lbgap.core.train import ConfigError, apply_float32_policy

    apply_float32_policy()   # float32 means IEEE float32 in every command (train.TF32)
    try:
        return int(a.func(a) or 0)
    except (UserError, ConfigError, DataError, ValueError, FileNotFoundError) as e:
        print(f"lbgap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lbgap: interrupted; finished runs are kept, the interrupted one left no record", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
