"""A measurement in a process of its own: its *own* peak resident memory and one thread count for every study.

Peak memory is read from ``VmHWM`` in ``/proc/self/status`` (Linux): the high-water mark of this process's address
space. ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is not: Linux carries it across ``exec``, so a child started
by ``subprocess`` or ``multiprocessing`` (fork + exec) reports at least the peak of the parent it was forked from
(a 13 MiB child of a 400 MiB parent reports ~413 MiB). :func:`in_fresh_process` runs a function in a freshly
spawned interpreter and returns, beside its result, that process's own peak; a study that wants the peak of one
phase (training, before its final evaluation) reads :func:`peak_rss_bytes` itself at the end of that phase.

:data:`STUDY_THREADS` is the CPU thread count the per-batch-size studies run with (cost, regression, gradient
norm; the steps study's default is the same): one, so that the numbers of different studies are comparable and two
measurements on one machine do not compete for cores; each record stores the count it ran with. The bench, which
measures the machine, keeps the machine's thread count (recorded) and reports its process's peak from here.

Imports only the standard library, so a numpy-only child stays numpy-only.
"""
from __future__ import annotations

import contextlib
import os
import resource
import sys
from collections.abc import Callable, Iterator
from typing import Any

STUDY_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
METHOD = "VmHWM"   # what a record's ``memory_method`` says when the peak came from /proc/self/status


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """This process's own peak resident memory so far (``VmHWM``); where /proc is missing, ``ru_maxrss``, which
    after a fork + exec may include the parent's peak (see the module docstring)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    scale = 1 if sys.platform == "darwin" else 1024   # macOS reports bytes, Linux KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def rss_bytes() -> int | None:
    """This process's resident memory now (``VmRSS``), or None where /proc is missing."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def memory_method() -> str:
    """``"VmHWM"`` where :func:`peak_rss_bytes` reads the process's own peak, else ``"ru_maxrss"``."""
    return METHOD if _status_kib("VmHWM") is not None else "ru_maxrss"


@contextlib.contextmanager
def thread_environment(threads: int) -> Iterator[None]:
    """Set the BLAS/OpenMP thread variables to ``threads`` while a child process is started (it reads them when
    numpy or torch loads), and restore them after."""
    if threads < 1:
        raise ValueError(f"threads={threads} must be at least 1")
    old = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(threads) for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def set_torch_threads(threads: int = STUDY_THREADS) -> int:
    """``torch.set_num_threads(threads)`` for a study running in this process; returns the count now in effect."""
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def _child(conn, fn: Callable, args: tuple, kwargs: dict, log_level: int | None = None) -> None:
    """The spawned process: run ``fn``, send back ("ok", result, memory) or ("error", exception, text); its log
    lines at ``log_level`` (the parent's) go to stdout, as the parent's do."""
    if log_level is not None:
        from lbgap.core.logs import log_to_stdout

        log_to_stdout(log_level)
    try:
        start = peak_rss_bytes()
        out = fn(*args, **kwargs)
        conn.send(("ok", out, dict(peak_rss_bytes=peak_rss_bytes(), start_peak_rss_bytes=start,
                                   memory_method=memory_method())))
    except BaseException as e:  # noqa: BLE001 -- handed to the parent, which raises it
        try:
            conn.send(("error", e, f"{type(e).__name__}: {e}"))
        except Exception:  # noqa: BLE001 -- an exception that does not pickle: its text
            conn.send(("error", None, f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def in_fresh_process(fn: Callable, *args, threads: int = STUDY_THREADS, **kwargs) -> tuple[Any, dict]:
    """``fn(*args, **kwargs)`` in a freshly spawned Python process with ``threads`` BLAS/OpenMP threads; returns
    ``(result, memory)`` with ``memory = {peak_rss_bytes, start_peak_rss_bytes, memory_method}``: the child's own
    peak at the end and after its imports. ``fn`` must be importable (a module-level function) and its arguments
    and result picklable. An exception in the child is raised here (the same exception where it pickles)."""
    import multiprocessing as mp

    from lbgap.core.logs import current_level

    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    with thread_environment(threads):
        proc = ctx.Process(target=_child, args=(send, fn, args, kwargs, current_level()))
        proc.start()
    send.close()
    try:
        status, out, extra = recv.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"the measurement process for {getattr(fn, '__name__', fn)} died (exit code "
                           f"{proc.exitcode}) before reporting; was it out of memory?") from None
    finally:
        recv.close()
    proc.join()
    if status == "error":
        if isinstance(out, BaseException):
            raise out
        raise RuntimeError(f"the measurement process failed: {extra}")
    return out, extra
