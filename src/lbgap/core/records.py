"""Result records: one JSON file per run, written atomically, read back into pandas.

Layout: ``<results_dir>/<profile>/<kind>/<run_id>.json`` where ``kind`` is ``train``, ``sharpness``,
``landscape``, ``noise``, ... A record holds the exact config, the seed, the outcome and the provenance
(code version and git commit, torch version, device, wall time). Records are small and committed for
the ``quick`` and ``paper`` profiles; ``smoke`` records are git-ignored and never shown as results.

Writing is ``tempfile`` + ``os.replace`` in the same folder: a crash or Ctrl-C leaves either the old file
or the new one, never half of one, and a run that did not finish leaves no record. A record that several
processes extend (the sharpness record gains one entry per (eps, space)) is updated with ``update_json``:
read-merge-write under an exclusive ``flock`` on a hidden ``.<name>.lock`` beside it, so no entry is lost.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import json
import math
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch

from lbgap import __version__
from lbgap.core import paths

SCHEMA = 1


def record_path(results_dir: Path, profile: str, kind: str, run_id: str) -> Path:
    return Path(results_dir) / profile / kind / f"{run_id}.json"


def _clean(obj: Any) -> Any:
    """JSON-safe: tensors/numpy to Python, NaN/inf to strings (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if torch.is_tensor(obj):
        return _clean(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return _clean(obj.item())
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (``mkstemp`` would leave 0600, which hides
    records from the other users of a shared record store)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """``write(tmp)`` into a temporary file beside ``path`` (umask permissions), then ``os.replace`` it onto
    ``path``; on any failure the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, _file_mode())
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_json(path: Path, data: dict) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(_clean(data), f, indent=1, sort_keys=False, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
    return _atomic_write(path, write)


def atomic_torch_save(obj: Any, path: Path) -> Path:
    return _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_json(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive advisory lock for a read-modify-write of the record at ``path`` (released on exit or death)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def update_json(path: Path, update: Callable[[dict | None], dict]) -> dict:
    """Atomically replace the record at ``path`` by ``update(current)`` (``None`` if there is none yet), holding
    the record's lock from the read to the write; returns what was written."""
    with locked(path):
        new = update(read_json(path) if Path(path).is_file() else None)
        atomic_write_json(path, new)
    return new


def save_piece(path: Path, rec: dict, collection: str, items: dict, fresh: bool = False, **replace) -> dict:
    """Add ``items`` to ``rec[collection]`` (sharpness ``entries``, landscape ``parts``) and set ``replace``'s keys,
    merged into the record *on disk* -- another process may have added pieces since ``rec`` was read -- under
    the record's lock; ``fresh`` (a forced recomputation) starts from ``rec`` instead. Returns the new record."""
    def merge(current: dict | None) -> dict:
        out = dict(rec if fresh or current is None else current)
        out[collection] = {**out.get(collection, {}), **items}
        out.update(replace)
        return out
    return update_json(path, merge)


def git_commit(root: Path | None = None) -> str:
    """The code version of a record: HEAD's short hash, ``+dirty`` when a tracked file other than a result
    record differs from it (records are data: a sweep that rewrites one record does not make the next dirty)."""
    if os.environ.get("LBGAP_GIT_COMMIT"):  # a copy of the tree without .git (e.g. the GPU machine)
        return os.environ["LBGAP_GIT_COMMIT"]
    root = root or paths.REPO_ROOT
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)data/results"], capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {torch.get_num_threads()} threads)"


def provenance(device: torch.device | str, wall_time_s: float | None = None, started: str | None = None) -> dict:
    """Where and with what a record was made. On a GPU it also says whether TF32 was on when the record was
    written (``tf32``: matmul and cuDNN flags; the project's policy is both off, ``train.TF32``)."""
    out = dict(lbgap_version=__version__, git_commit=git_commit(), torch_version=torch.__version__,
               python=platform.python_version(), device=device_name(device), host_cores=os.cpu_count(),
               cpu=cpu_description(), started=started, finished=now(), wall_time_s=wall_time_s)
    if torch.device(device).type == "cuda":
        out["tf32"] = dict(matmul=bool(torch.backends.cuda.matmul.allow_tf32),
                           cudnn=bool(torch.backends.cudnn.allow_tf32))
    return out


@functools.cache
def cpu_description() -> str:
    """The host CPU's model and the kernel family torch picked for it (e.g. "... Xeon ... (AVX512)"). Two CPUs
    that pick different kernels round float32 differently, so one seed's CPU runs agree only to ~1e-7 at x0
    and part later; this is what tells such records apart."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} ({torch.backends.cpu.get_cpu_capability()})"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def iter_records(results_dir: Path | str | None = None, profile: str | None = None,
                 kind: str | None = None) -> Iterable[dict]:
    root = Path(results_dir) if results_dir is not None else paths.RESULTS_DIR
    pattern = f"{profile or '*'}/{kind or '*'}/*.json"
    for path in sorted(root.glob(pattern)):
        try:
            rec = read_json(path)
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"result record {path} is unreadable ({e}); delete it and rerun that run") from e
        rec.setdefault("_path", str(path))
        yield rec


def preferred_records(results_dir: Path | str | None, profiles: Iterable[str], kind: str) -> list[dict]:
    """Records of ``kind`` over ``profiles`` (best first, e.g. paper then quick), each network's from the first
    profile that has any: a chapter never mixes profiles within one network."""
    out, seen = [], set()
    for prof in profiles:
        recs = list(iter_records(results_dir, prof, kind))
        out += [r for r in recs if r["net"] not in seen]
        seen |= {r["net"] for r in recs}
    return out


def count_lines(results_dir: Path | str | None, kind: str, label: str) -> list[str]:
    """``lbgap status``: one line counting the records of ``kind`` across profiles, none if there are none."""
    n = sum(1 for _ in iter_records(results_dir, None, kind))
    return [f"{label}: {n}"] if n else []


def variant(tag: str | None) -> str:
    """The experiment a config tag belongs to, for tables that count runs: the part before the first "-"
    (Figure 5's piggybacked runs "fig5-sb0", "fig5-sb3", ... are all "fig5"; "" is Table 2's)."""
    return str(tag or "").split("-", 1)[0]


def train_table(results_dir: Path | str | None = None, profile: str | None = None):
    """One row per training record: the config fields, the final metrics and provenance, flat."""
    import pandas as pd

    rows = []
    for r in iter_records(results_dir, profile, "train"):
        c = r["config"]
        row = dict(run_id=r["run_id"], profile=c["profile"], net=c["net"], dataset=c["dataset"],
                   split=c["split"], source=c["source"], bn=c["bn"], regime=c["regime"] or f"B{c['batch_size']}",
                   batch_size=c["batch_size"], seed=c["seed"], tag=c.get("tag", ""), variant=variant(c.get("tag")), status=r["status"],
                   stop_reason=r["stop_reason"], epochs=r["epochs"], steps=r["steps"],
                   dist_from_init=r["dist_from_init"], wall_time_s=r["provenance"]["wall_time_s"],
                   samples_per_s=r["samples_per_s"], device=r["provenance"]["device"],
                   git_commit=r["provenance"]["git_commit"],
                   # how the evaluation passes were batched (a record without the field predates interleaving)
                   eval_order=r.get("data", {}).get("eval_order", "stored"))
        row.update({k: v for k, v in r["final"].items()})
        rows.append(row)
    return pd.DataFrame(rows)



def first_profile_runs(results_dir: Path | str | None, profiles: Iterable[str], keep):
    """The training runs a figure chapter shows, per network from the first of ``profiles`` (best first) that has
    runs selected by ``keep`` (a function of a :func:`train_table` frame, giving a boolean mask): yields
    ``(profile, runs, kept)``, the profile's whole train table and its kept rows of networks not seen yet. Each
    profile's records are read once; a chapter never mixes profiles within one network."""
    seen: set = set()
    for prof in profiles:
        runs = train_table(results_dir, prof)
        if not len(runs):
            continue
        kept = runs[keep(runs) & ~runs.net.isin(seen)]
        if len(kept):
            seen |= set(kept.net)
            yield prof, runs, kept

def history_table(results_dir: Path | str | None = None, profile: str | None = None):
    """Long table of per-epoch metrics (for learning curves, Figure 2)."""
    import pandas as pd

    rows = []
    for r in iter_records(results_dir, profile, "train"):
        c = r["config"]
        for h in r["history"]:
            rows.append(dict(net=c["net"], regime=c["regime"] or f"B{c['batch_size']}", seed=c["seed"],
                             batch_size=c["batch_size"], profile=c["profile"], tag=c.get("tag", ""), **h))
    return pd.DataFrame(rows)
