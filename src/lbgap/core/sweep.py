"""Grids of runs and the executors that run them.

A grid is a list of :class:`~lbgap.core.config.RunConfig`; the record store (``results``) is the single source
of truth, so a sweep is resumable: finished runs are skipped, and an interrupted run left no record and is
simply run again. Executors are a small seam: ``serial`` (this process) and ``local`` (N worker processes,
one per GPU) and ``submitit`` (``lbgap.core.cluster``: a SLURM job array), named in :data:`EXECUTORS`.
Any number of sweeps, on any machines sharing the record store, may run at once: a run in flight holds a
claim file and is not started twice (see "claims and failures" below).

``table2`` is the paper's grid: networks x {SB, LB} x seeds, seed-major so that each seed's SB/LB pair
finishes together and post-processing (sharpness, parametric curves) can run right after it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing import connection
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lbgap.core.config import RunConfig
from lbgap.core.logs import current_level, log_to_stdout
from lbgap.core.models import NETS
from lbgap.core.records import check_store, now, store_root

TABLE2_NETS = ("F1", "F2", "C1", "C2", "C3", "C4")
logger = logging.getLogger(__name__)


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"``; ``3`` -> [3]."""
    if isinstance(text, int):   # papermill passes `-p seeds 0` as an int
        text = str(text)
    if not isinstance(text, str):
        return [int(s) for s in text]
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                if int(b) < int(a):
                    raise ValueError
                out += range(int(a), int(b) + 1)
            elif part:
                out.append(int(part))
    except ValueError:
        raise ValueError(f"seeds {text!r} must look like '0-4' or '0,1,2' (non-negative integers)") from None
    if not out or min(out) < 0:
        raise ValueError(f"seeds {text!r} must look like '0-4' or '0,1,2' (non-negative integers)")
    return out


def parse_nets(text: str | Sequence[str] | None) -> list[str]:
    """``"F1,C1"`` (or a list) -> the network names, checked; None -> every network of Table 2."""
    if text is None:
        return list(TABLE2_NETS)
    names = [n.strip().upper() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    bad = [n for n in names if n not in NETS]
    if bad or not names:
        raise ValueError(f"unknown network(s) {', '.join(bad) or '(none)'}: choose from {', '.join(NETS)}")
    return names


def table2_grid(profile: str, seeds: Iterable[int], nets: Sequence[str] | None = None, **overrides) -> list[RunConfig]:
    """Table 2's grid: for each seed, each network's SB and LB configuration (seed-major, so pairs finish together)."""
    from lbgap.core.config import sb_lb_configs

    grid = []
    for seed in seeds:
        for net in parse_nets(nets):
            grid += sb_lb_configs(net, seed, profile, **overrides)
    return grid


# --------------------------------------------------------------------------------------- post-processing
# name -> "module:function" of fn(sb_cfg: RunConfig, lb_cfg: RunConfig, results_dir: Path, force: bool), run
# after each SB/LB pair (``sweep table2 --post NAME``); imported when a sweep asks for it.
POST_PAIR: dict[str, str] = {
    "sharpness": "lbgap.measures.sharpness:post_pair",   # Metric 2.1 (Tables 3-4) and the Hessian
    "landscape": "lbgap.measures.landscape:post_pair",   # Figures 3 and 7
}


def _resolve(target: str) -> Callable:
    """``"package.module:attribute"`` -> the attribute, importing its module now."""
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_post(name: str) -> Callable:
    """The post-processing step called ``name`` (see :data:`POST_PAIR`)."""
    if name not in POST_PAIR:
        raise ValueError(f"unknown post-processing {name!r}: choose from {', '.join(POST_PAIR)}")
    return _resolve(POST_PAIR[name])


# -------------------------------------------------------------------------------------------- executors
@dataclass
class Outcome:
    """What became of one item of a sweep: its status, an error line, a summary of its record."""
    run_id: str
    status: str          # "done", "skipped", "failed", "running" (claimed elsewhere), "submitted", and with a
    #                      deadline (LocalExecutor): "stopped" (at the deadline) or "deferred" (not started)
    error: str = ""
    record: dict | None = None


# ------------------------------------------------------------------------------- claims and failures
# Bookkeeping beside the records, in <results>/<profile>/_sweep/ (git-ignored), so that every executor on
# every machine sharing the record store sees it: claims/<run_id>.claim is created with O_CREAT|O_EXCL by
# the process that runs it (exactly one wins, NFS included) and holds host, pid, start time and a token;
# its mtime is the heartbeat. A claim is stale -- taken over by the next sweep -- when its heartbeat is
# older than STALE_MINUTES or its process is gone from this host. failed/<run_id>.json keeps a failure's
# error lines until the run succeeds; sweeps/<name>.json lists each sweep's runs for `lbgap status`.
STALE_MINUTES = float(os.environ.get("LBGAP_STALE_MINUTES", 10))
HEARTBEAT_S = 30.0
HOST = socket.gethostname()


def sweep_dir(results_dir: str | Path, profile: str) -> Path:
    """The sweeps' bookkeeping folder of a profile: ``<results>/<profile>/_sweep``."""
    return Path(results_dir) / profile / "_sweep"


def claim_path(results_dir: str | Path, profile: str, run_id: str) -> Path:
    """The claim file of run ``run_id`` (held while it trains)."""
    return sweep_dir(results_dir, profile) / "claims" / f"{run_id}.claim"


def failed_path(results_dir: str | Path, profile: str, run_id: str) -> Path:
    """The failure note of run ``run_id`` (kept until it succeeds)."""
    return sweep_dir(results_dir, profile) / "failed" / f"{run_id}.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_claim(path: Path) -> dict | None:
    """The claim at ``path`` with ``age_s`` (since its last heartbeat) and ``stale``; None if there is none."""
    try:
        mtime, raw = path.stat().st_mtime, path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        info = {}  # being written (or its writer died while writing)
    age = time.time() - mtime
    gone = info.get("host") == HOST and isinstance(info.get("pid"), int) and not _pid_alive(info["pid"])
    stale = age > STALE_MINUTES * 60 or gone or (not info and age > 60)
    return dict(info, age_s=age, stale=stale, _raw=raw)


class Claim:
    """The right to run one run: ``acquire()`` is False when a live claim is held elsewhere (``holder``)."""

    def __init__(self, results_dir: str | Path, profile: str, run_id: str):
        self.path, self.run_id = claim_path(results_dir, profile, run_id), run_id
        self.token, self.held, self.holder = uuid.uuid4().hex, False, None
        self._stop = threading.Event()

    def acquire(self) -> bool:
        """Take the claim (created exclusively; a stale one is set aside first); False if a live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = read_claim(self.path)
                if info is not None and not (info["stale"] and _set_aside(self.path, info["_raw"])):
                    self.holder = info
                    return False
                continue  # released or stale and set aside: try again
            with os.fdopen(fd, "w") as f:
                json.dump(dict(run_id=self.run_id, host=HOST, pid=os.getpid(), started=now(), token=self.token), f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            threading.Thread(target=self._beat, daemon=True).start()
            return True
        return False

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Give the claim up; never raises (it runs in ``finally``: a store gone read-only must not turn one
        run's failure into the whole sweep's). A claim that cannot be removed goes stale and is taken over."""
        self._stop.set()
        if self.held:
            self.held = False
            try:
                info = read_claim(self.path)
                if info is not None and info.get("token") == self.token:
                    self.path.unlink(missing_ok=True)
            except OSError:
                pass


def _set_aside(path: Path, raw: str) -> bool:
    """Move the stale claim ``raw`` out of the way; False if the file changed meanwhile (someone took over)."""
    aside = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    try:
        if aside.read_text() == raw:
            return True
        try:
            os.link(aside, path)  # a fresh claim: put it back (fails harmlessly if yet another exists)
        except FileExistsError:
            pass
        return False
    finally:
        aside.unlink(missing_ok=True)


def record_failure(results_dir: str | Path, profile: str, run_id: str, error: str) -> Path:
    """Write the failure note of run ``run_id``: its error lines, host, pid and time."""
    from lbgap.core.records import atomic_write_json

    lines = [line for line in error.strip().splitlines() if line.strip()]
    return atomic_write_json(failed_path(results_dir, profile, run_id),
                             dict(run_id=run_id, profile=profile, host=HOST, pid=os.getpid(), time=now(),
                                  error=lines[0] if lines else "unknown error", lines=lines[-20:]))


def measure_after(out: Outcome, cfg: RunConfig, results_dir: str | Path, what: str,
                  measure: Callable[[], object]) -> Outcome:
    """After a training outcome, ``measure()`` (e.g. the run's sharpness) where the run is recorded, under a claim
    of its own (``<what>-<run id>``) so that two sweeps sharing the store never measure the same run at once.
    Returns ``out``; a failed Outcome ``<what>:<run id>`` where the measurement raised (the training record stands
    and the measurement can be rerun)."""
    if out.status not in ("done", "skipped"):
        return out
    claim = Claim(results_dir, cfg.profile, f"{what}-{cfg.run_id}")
    if not claim.acquire():
        logger.info(f"running   {what} {cfg.run_id} (measured elsewhere)")
        return out
    try:
        measure()
    except Exception as e:  # noqa: BLE001  (reported; the sweep goes on)
        logger.warning(f"failed   {what} {cfg.run_id}: {e}")
        return Outcome(f"{what}:{cfg.run_id}", "failed", f"{type(e).__name__}: {e}")
    finally:
        claim.release()
    return out


def run_one(cfg_dict: dict, results_dir: str, force: bool = False) -> Outcome:
    """Run one config (in this or a worker process, on any machine); never raises: a failure becomes an
    Outcome and a ``failed/`` note. A run whose record exists is skipped; one claimed elsewhere is not started."""
    from lbgap.core.train import existing_record, train

    cfg = RunConfig.from_dict(cfg_dict)
    claim = Claim(results_dir, cfg.profile, cfg.run_id)
    try:
        done = None if force else existing_record(cfg, Path(results_dir))
        if done is not None:
            return Outcome(cfg.run_id, "skipped", record=_summary(done))
        if not claim.acquire():
            h = claim.holder
            return Outcome(cfg.run_id, "running", f"in flight on {h.get('host', '?')} (pid {h.get('pid', '?')}), "
                                                  f"heartbeat {h['age_s']:.0f} s ago")
        pause = float(cfg.extra.get("throttle_s", 0) or 0)  # testing crash safety: sleep after each epoch
        rec = train(cfg, results_dir, force=force, on_epoch=(lambda row: time.sleep(pause)) if pause else None)
        failed_path(results_dir, cfg.profile, cfg.run_id).unlink(missing_ok=True)
        return Outcome(cfg.run_id, "skipped" if rec.pop("skipped", False) else "done", record=_summary(rec))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - reported, the sweep goes on
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        try:
            record_failure(results_dir, cfg.profile, cfg.run_id, error)
        except Exception as note:  # noqa: BLE001 - the store itself failed: the Outcome still carries the error
            error += f"\n(the failure note could not be written either: {type(note).__name__}: {note})"
        return Outcome(cfg.run_id, "failed", error)
    finally:
        claim.release()


def _summary(rec: dict) -> dict:
    return {k: rec[k] for k in ("run_id", "status", "stop_reason", "epochs", "final") if k in rec}


class SerialExecutor:
    """Runs each item in this process, one after the other."""
    name = "serial"

    def map(self, fn: Callable, items: list) -> Iterable:
        """``fn(*item)`` for each item, in order."""
        for item in items:
            yield fn(*item)


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: claims are released, half-written temp files removed


def _worker_main(conn, env: dict, threads: int, log_level: int = logging.INFO) -> None:
    """A worker process: runs the ``(fn, args)`` it is sent, one at a time, until it gets ``None``; its log
    messages at ``log_level`` (the parent's) go to stdout."""
    signal.signal(signal.SIGTERM, _raise_exit)
    log_to_stdout(log_level)
    os.environ.update(env)  # before CUDA initialises: CUDA_VISIBLE_DEVICES pins this worker to its GPU
    import torch

    torch.set_num_threads(max(1, threads))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        conn.send(fn(*args))


def visible_gpus() -> list[str]:
    """GPU ids this process may use (``CUDA_VISIBLE_DEVICES`` if set, else all that torch sees)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalExecutor:
    """N worker processes on this machine: one per visible GPU, each pinned to it with
    ``CUDA_VISIBLE_DEVICES`` (``workers`` > GPUs shares them round-robin), or N CPU workers with
    ``cores // N`` torch threads each. A worker that dies (OOM killer, kill -9) fails only its own run and is
    replaced; Ctrl-C stops the workers cleanly (they ignore SIGINT and unwind on the SIGTERM sent to them).

    With a ``deadline`` (``time.time()`` seconds) it is deadline-aware: an item starts only if ``estimate(item)``
    seconds (default 0) fit before the deadline, else it is ``deferred`` (a later item may still fit); at the
    deadline the items in flight are stopped like Ctrl-C stops them (``stopped``): a training run keeps the
    resume state it saved last (``resume.ResumeState``) and goes on from there when it is run again."""

    name = "local"

    def __init__(self, workers: int | None = None, gpus: Sequence[str] | None = None, deadline: float | None = None,
                 estimate: Callable[[tuple], float] | None = None):
        self.gpus = list(visible_gpus() if gpus is None else gpus)
        self.workers = workers or len(self.gpus) or max(1, (os.cpu_count() or 2) // 2)
        if self.workers < 1:
            raise ValueError(f"workers={workers}: the local executor needs at least 1 worker process")
        self.deadline, self.estimate = deadline, estimate

    def time_left(self) -> float:
        """Seconds until the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.time()

    def _next(self, items: list, todo: list[int], results: dict) -> int | None:
        """The next item of ``todo`` that fits before the deadline; those that do not are deferred."""
        while todo:
            i = todo.pop()
            need, left = (self.estimate(items[i]) if self.estimate else 0.0), self.time_left()
            if need <= left:
                return i
            results[i] = Outcome(_item_id(items[i]), "deferred", f"not started: its estimate of {need:.0f} s does "
                                 f"not fit in the {max(left, 0):.0f} s left before the deadline")
        return None

    def _start(self, ctx, slot: int, threads: int):
        env = {"CUDA_VISIBLE_DEVICES": self.gpus[slot % len(self.gpus)]} if self.gpus else {}
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child, env, threads, current_level()), daemon=True,
                           name=f"lbgap-worker-{slot}")
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            proc.start()  # inherits "ignore SIGINT": Ctrl-C is this process's to handle
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        child.close()
        return proc, parent

    def map(self, fn: Callable, items: list) -> Iterable:
        """``fn(*item)`` for each item on the worker processes; yields the outcomes in the items' order."""
        ctx = mp.get_context("spawn")
        n = max(1, min(self.workers, len(items)))
        threads = max(1, (os.cpu_count() or 2) // n)
        slots: list = [None] * n
        busy: dict[int, int] = {}        # slot -> index of the item it runs
        results: dict[int, Outcome] = {}
        todo, nxt = list(range(len(items)))[::-1], 0
        try:
            while nxt < len(items):
                if self.time_left() <= 0:   # the deadline: stop what runs, start nothing more
                    _stop_workers([slots[s] for s in busy], busy={slots[s][0] for s in busy})
                    for s in list(busy):
                        i = busy.pop(s)
                        slots[s] = None
                        results[i] = Outcome(_item_id(items[i]), "stopped", "stopped at the deadline; a run goes "
                                             "on from its last saved state when it is run again")
                    while todo:
                        self._next(items, todo, results)
                for s in range(n):
                    if s not in busy and todo:
                        i = self._next(items, todo, results)
                        if i is None:
                            break
                        if slots[s] is None or not slots[s][0].is_alive():
                            slots[s] = self._start(ctx, s, threads)
                        busy[s] = i
                        slots[s][1].send((fn, items[i]))
                waiting = [slots[s][1] for s in busy] + [slots[s][0].sentinel for s in busy]
                if waiting:
                    connection.wait(waiting, timeout=None if self.deadline is None else max(0.0, self.time_left()))
                for s in list(busy):
                    proc, conn = slots[s]
                    out = None
                    if conn.poll():
                        try:
                            out = conn.recv()
                        except (EOFError, OSError, ValueError):
                            out = None
                    if out is None and proc.is_alive():
                        continue
                    if out is None:
                        proc.join()
                        out = Outcome(_item_id(items[busy[s]]), "failed",
                                      f"WorkerDied: the worker process running it died ({_exit_text(proc.exitcode)})")
                        slots[s] = None
                    results[busy.pop(s)] = out
                while nxt in results:
                    yield results.pop(nxt)
                    nxt += 1
        finally:
            _stop_workers([sl for sl in slots if sl is not None], busy={slots[s][0] for s in busy if slots[s]})


def run_command(item_id: str, cmd: Sequence[str], cwd: str, env: dict, log_path: str) -> Outcome:
    """A sweep item that is a command line (an executor's ``fn``): run ``cmd`` in its own process group with
    ``env`` added to this process's environment, its output appended to ``log_path``; ``done`` on exit status
    0, else ``failed`` with the log's tail. ``record``: its seconds. When this process is stopped (the
    deadline, Ctrl-C: SIGTERM unwinds it) the command's whole process group is stopped too, first with SIGTERM."""
    import subprocess

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log_path, "a") as log:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(os.environ, **env), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    seconds = round(time.time() - t0, 1)
    if rc == 0:
        return Outcome(item_id, "done", record=dict(seconds=seconds))
    tail = Path(log_path).read_text(errors="replace")[-1500:]
    return Outcome(item_id, "failed", f"{_exit_text(rc)} after {seconds:.0f} s; log tail:\n{tail}",
                   record=dict(seconds=seconds))


def _item_id(item) -> str:
    if isinstance(item[0], str):   # an item that names itself (run_command)
        return item[0]
    try:
        return RunConfig.from_dict(item[0]).run_id
    except Exception:  # noqa: BLE001 - not a run config: a generic item
        return str(item[0])[:80]


def _stop_workers(slots: list, busy: set, timeout: float = 30.0) -> None:
    """Idle workers are told to quit; busy ones get SIGTERM (they unwind); stragglers SIGKILL."""
    for proc, conn in slots:
        if not proc.is_alive():
            continue
        if proc in busy:
            proc.terminate()
        else:
            try:
                conn.send(None)
            except OSError:
                proc.terminate()
    deadline = time.monotonic() + timeout
    for proc, conn in slots:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()
        conn.close()


# name -> "module:attribute" of its factory, imported on first use (submitit is an optional dependency).
EXECUTORS: dict[str, str] = {
    "serial": "lbgap.core.sweep:SerialExecutor",        # this process
    "local": "lbgap.core.sweep:LocalExecutor",          # N worker processes, one per GPU
    "submitit": "lbgap.core.cluster:SubmititExecutor",  # one SLURM job array
}


def get_executor(name: str) -> Callable[..., object]:
    """The factory of the executor called ``name`` (see :data:`EXECUTORS`)."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}: choose one of {', '.join(EXECUTORS)}")
    return _resolve(EXECUTORS[name])


def make_executor(name: str, **kwargs):
    """The executor called ``name`` (:data:`EXECUTORS`) built with ``kwargs``."""
    return get_executor(name)(**kwargs)


def sweep_name(label: str, grid: Sequence[RunConfig]) -> str:
    """``<label>-<6 hex>``: the same grid always gets the same name, so a rerun resumes the same sweep."""
    ids = json.dumps(sorted([c.profile, c.run_id] for c in grid))
    return f"{label}-{hashlib.sha1(ids.encode()).hexdigest()[:6]}"


def write_manifest(results_dir: str | Path, label: str, grid: Sequence[RunConfig], executor: str) -> str:
    """Record which runs make up this sweep (``sweeps/<name>.json``); returns the sweep's name."""
    from lbgap.core.records import atomic_write_json, read_json

    name = sweep_name(label, grid)
    path = sweep_dir(results_dir, grid[0].profile) / "sweeps" / f"{name}.json"
    created = read_json(path).get("created") if path.is_file() else None
    atomic_write_json(path, dict(name=name, label=label, profile=grid[0].profile, created=created or now(),
                                 updated=now(), executor=executor, host=HOST,
                                 runs=[[c.profile, c.run_id] for c in grid]))
    return name


def run_state(results_dir: str | Path, profile: str, run_id: str) -> tuple[str, dict]:
    """``done`` (a record), ``running`` (a live claim), ``failed`` (a failure note) or ``missing``."""
    from lbgap.core.records import RecordError, read_json, read_record, record_path

    try:
        if read_record(record_path(results_dir, profile, "train", run_id)) is not None:
            return "done", {}
    except RecordError as e:   # a malformed record is not a finished run
        return "failed", {"error": str(e)}
    claim = read_claim(claim_path(results_dir, profile, run_id))
    if claim is not None and not claim["stale"]:
        return "running", claim
    fail = failed_path(results_dir, profile, run_id)
    if fail.is_file():
        try:
            return "failed", read_json(fail)
        except (OSError, ValueError):
            return "failed", {"error": f"unreadable failure note {fail.name}"}
    return "missing", ({"stale_claim": claim} if claim is not None else {})


def sweep_status(results_dir: str | Path | None = None) -> list[dict]:
    """Every recorded sweep with the state of each of its runs (the record store decides)."""
    from lbgap.core.records import read_json

    root = store_root(results_dir)
    out = []
    for path in sorted(root.glob("*/_sweep/sweeps/*.json")):
        try:
            man = read_json(path)
        except (OSError, ValueError):
            continue
        runs = [(rid, *run_state(root, prof, rid)) for prof, rid in man.get("runs", [])]
        out.append(dict(man, runs=runs, logs=str(path.parent.parent / "logs" / man["name"]),
                        counts={s: sum(r[1] == s for r in runs) for s in ("done", "running", "failed", "missing")}))
    return out


def run_grid(grid: list[RunConfig], results_dir: str | Path | None = None, executor: str | object = "serial",
             force: bool = False, post: Sequence[str] = (), label: str = "grid", **executor_kwargs) -> list[Outcome]:
    """Run every config of ``grid`` (skipping finished ones) and the requested post-processing per pair.

    The sweep is recorded as ``sweeps/<label>-<hash>.json`` (see :func:`sweep_status`); executors that
    want it (submitit: a per-sweep log folder) get it through ``prepare(grid, name, folder)``. Each run's outcome
    is logged, one line: INFO, WARNING for a failure."""
    results_dir = str(check_store(results_dir))   # a store that cannot be written fails before anything runs
    post_steps = {name: get_post(name) for name in post}   # unknown names fail before anything runs
    ex = make_executor(executor, **executor_kwargs) if isinstance(executor, str) else executor
    items = [(cfg.to_dict(), results_dir, force) for cfg in grid]
    outcomes: list[Outcome] = []
    pending: dict[tuple, dict] = {}
    if hasattr(ex, "prepare") and grid:
        name = sweep_name(label, grid)
        ex.prepare(grid, name, sweep_dir(results_dir, grid[0].profile) / "logs" / name)
    if grid:
        try:
            write_manifest(results_dir, label, grid, getattr(ex, "name", type(ex).__name__))
        except OSError as e:   # bookkeeping only: the runs' own writes decide each run's outcome
            logger.warning(f"(the sweep's manifest could not be written: {e}; `lbgap status` will not list this sweep)")
    results_iter = ex.map(run_one, items)
    try:
        for cfg, out in zip(grid, results_iter):
            outcomes.append(out)
            logger.log(logging.WARNING if out.status == "failed" else logging.INFO,
                       f"{out.status:9s} {out.run_id}" + (f"  ({out.error.splitlines()[0]})" if out.error else ""))
            if out.status == "failed" and not failed_path(results_dir, cfg.profile, cfg.run_id).is_file():
                try:
                    record_failure(results_dir, cfg.profile, cfg.run_id, out.error)  # its worker died: say so
                except OSError as e:
                    logger.warning(f"          (its failure note could not be written: {e})")
            if not post or out.status not in ("done", "skipped"):
                continue
            _post_pair(cfg, post_steps, pending, results_dir, force, outcomes)
    finally:
        getattr(results_iter, "close", lambda: None)()  # stops an executor's workers on Ctrl-C
    return outcomes


def _post_pair(cfg, post: dict[str, Callable], pending, results_dir, force, outcomes) -> None:
    """After each finished run: once both runs of its SB/LB pair are in, the requested post-processing
    (``post``: name -> step), each step under a claim of its own (:func:`measure_after`, ``post-<name>-<SB run
    id>``) so that two sweeps sharing the store never process the same pair at once."""
    key = (cfg.net, cfg.seed, cfg.dataset, cfg.split, cfg.bn, cfg.tag)
    pending.setdefault(key, {})[cfg.regime] = cfg
    pair = pending[key]
    if "SB" in pair and "LB" in pair:
        sb, lb = pair["SB"], pair["LB"]
        for name, fn in post.items():
            out = measure_after(Outcome(sb.run_id, "done"), sb, results_dir, f"post-{name}",
                                lambda fn=fn: fn(sb, lb, Path(results_dir), force))
            if out.status == "failed":
                outcomes.append(out)
            else:
                logger.info(f"post     {name} {cfg.net} seed {cfg.seed}")
