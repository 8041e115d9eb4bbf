"""Where the library's messages go. Every module logs through ``logging.getLogger(__name__)`` (loggers under
``lbgap``): progress at INFO, problems that do not stop the work at WARNING, detail at DEBUG. The library installs
no handler of its own; a program that wants the lines shown calls :func:`log_to_stdout` (the command line does,
``cli.configure_logging``, and so do the processes the library starts for it: sweep workers, cluster jobs,
:func:`lbgap.core.memory.in_fresh_process`). This module imports only :mod:`logging`, so a measuring child process
that calls it loads nothing else.
"""
from __future__ import annotations

import logging
import sys

ROOT = "lbgap"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is logged (a test's capture, a redirected notebook)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def log_to_stdout(level: int = logging.INFO) -> None:
    """Show the messages of the ``lbgap`` loggers at ``level`` and above on stdout as bare lines. Replaces the
    handler an earlier call installed (a test or a notebook may call the command line several times)."""
    logger = logging.getLogger(ROOT)
    for h in [h for h in logger.handlers if isinstance(h, _StdoutHandler)]:
        logger.removeHandler(h)
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def current_level() -> int:
    """The level the ``lbgap`` loggers show now: what a child process is given, so that it shows the same."""
    return logging.getLogger(ROOT).getEffectiveLevel()
