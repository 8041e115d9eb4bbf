"""Command line: ``lbgap <command>``, one module per command in :mod:`lbgap.cli.commands` (the table
``COMMANDS``), shared options in :mod:`lbgap.cli.options`.

Every command that reads or writes records takes ``--results-dir`` (default ``data/results``). Bad input
exits with status 2 and one sentence on stderr; nothing is written in that case. Building the parser imports
only argparse and the command modules, so ``lbgap --help`` loads neither torch nor numpy nor pandas; each
command imports what it needs when it runs.

The library reports progress through :mod:`logging` (loggers under ``lbgap``); the command line configures it
(:func:`configure_logging`): messages on stdout, ``--quiet`` keeps warnings only, ``--verbose`` adds debug lines.
Each command's own result (a table, a summary line) is printed, whatever the level.
"""
from __future__ import annotations

import argparse
import logging
import sys

from lbgap.cli.commands import COMMANDS
from lbgap.cli.options import UserError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a syntax error is one ``lbgap: error:`` line (which option, what is accepted, where to look),
    not the usage block."""

    def error(self, message: str):
        self.exit(2, f"lbgap: error: {message} (see `{self.prog} --help`)\n")


def _verbosity_options(p: argparse.ArgumentParser, default) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=default,
                   help="print warnings and the command's result only, no progress lines")
    g.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, default=default,
                   help="print debug lines too")


def build_parser() -> argparse.ArgumentParser:
    """The ``lbgap`` parser: one subcommand per entry of ``COMMANDS``; ``--quiet``/``--verbose`` before or after it."""
    ap = OneLineParser(prog="lbgap", description="Keskar et al. (2017) reproduction: SB vs LB training")
    _verbosity_options(ap, 0)
    sub = ap.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    _each_command(ap, lambda p: _verbosity_options(p, argparse.SUPPRESS))   # after the command too
    return ap


def _each_command(parser: argparse.ArgumentParser, fn) -> None:
    """``fn(p)`` for every (sub)command parser below ``parser`` (``lbgap sweep`` and ``lbgap sweep table2`` both)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in action.choices.values():
                fn(p)
                _each_command(p, fn)


LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


def configure_logging(verbosity: int = 0) -> None:
    """Show the library's messages (loggers under ``lbgap``) on stdout as bare lines: warnings only for
    ``verbosity`` -1 (``--quiet``), progress for 0, debug lines too for 1 (``--verbose``). Replaces the handler an
    earlier call installed (a test or a notebook may call :func:`main` several times)."""
    from lbgap.core.logs import log_to_stdout

    log_to_stdout(LEVELS[verbosity])


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    try:
        a = ap.parse_args(argv)
        problem = a.check(a) if hasattr(a, "check") else None   # what argparse cannot express
        if problem:
            ap.error(problem)
    except SystemExit as e:   # --help (0) or one line on a syntax error (2)
        return e.code if isinstance(e.code, int) else 2
    configure_logging(getattr(a, "verbosity", 0))
    if getattr(a, "threads", None):
        import torch

        torch.set_num_threads(a.threads)
    from lbgap.core.data import DataError
    from lbgap.core.records import StoreError, check_store
    from lbgap.core.config import ConfigError
    from lbgap.core.precision import apply_float32_policy

    apply_float32_policy()   # float32 means IEEE float32 in every command (precision.TF32)
    try:
        if getattr(a, "writes_records", False) and not (getattr(a, "no_write", False) or getattr(a, "dry_run", False)):
            check_store(a.results_dir)   # before any data is loaded or any step taken
        return int(a.func(a) or 0)
    except (UserError, ConfigError, DataError, StoreError, ValueError, FileNotFoundError) as e:
        print(f"lbgap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lbgap: interrupted; finished runs are kept, the interrupted one left no record", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
