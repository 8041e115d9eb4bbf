"""Result records: one JSON file per run, written atomically, read back into pandas.

Layout: ``<results_dir>/<profile>/<kind>/<run_id>.json`` where ``kind`` is ``train``, ``sharpness``,
``landscape``, ``noise``, ... A record holds the exact config, the seed, the outcome and the provenance
(code version and git commit, torch version, device, wall time). Records are small and committed for
the ``quick`` and ``paper`` profiles; ``smoke`` records are git-ignored and never shown as results.

Writing is ``tempfile`` + ``os.replace`` in the same folder: a crash or Ctrl-C leaves either the old file
or the new one, never half of one, and a run that did not finish leaves no record. A record that several
processes extend (the sharpness record gains one entry per (eps, space)) is updated with ``update_json``:
read-merge-write under an exclusive ``flock`` on a hidden ``.<name>.lock`` beside it, so no entry is lost.

The store in six calls: :func:`store_root` (where records live), :func:`check_store` (writable, before any
work), :func:`new_record` (``{schema, kind, ..., provenance}``), :func:`write_record` (build and write
atomically), :func:`done` (skip-if-done) and :func:`read_record` / :func:`iter_records` (read, upgraded to the
current :data:`SCHEMA` by :func:`upgrade` and checked by :func:`validate`: a malformed record is a
:class:`RecordError` naming its file, never a finished run).
Reading never rewrites a record: a schema-1 record stays schema 1 in the repository and is upgraded each time
it is read (one that a later run extends through :func:`save_piece` is written back whole, as the current
schema). What each kind holds after the upgrade: the ``...Record`` types below (:data:`KINDS`).
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
from typing import Any, Callable, Iterable, Iterator, TypedDict

import torch

from lbgap import __version__
from lbgap.core import paths

SCHEMA = 2   # 2: every field below present in every record of its kind (schema 1 omitted some: :func:`upgrade`)


# ------------------------------------------------------------------------------------------- where, what
class StoreError(OSError):
    """The record store cannot be written (a file where its folder should be, no permission, read-only)."""


class RecordError(ValueError):
    """A record on disk that cannot be used (unreadable, not an object, a field its kind needs is missing);
    the message names the file."""


def check_name(text: str, what: str = "name") -> str:
    """``text`` if it is safe as one path component (``paths.SAFE_NAME``), else a ``ValueError`` saying so."""
    if not isinstance(text, str) or not paths.SAFE_NAME.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not allowed: use letters, digits and . _ + - only "
                         "(no slashes, spaces or leading dot)")
    return text


def store_root(results_dir: str | os.PathLike | None = None) -> Path:
    """The folder the records live in: ``results_dir`` as given, or ``data/results`` when ``None``."""
    return Path(results_dir) if results_dir is not None else paths.RESULTS_DIR


def check_store(results_dir: str | os.PathLike | None = None, *names: str) -> Path:
    """Before any work: the record store is (or is made) a writable folder, and ``names`` (the profile, run id,
    ... a record will be filed under) are safe file names (:func:`check_name`); returns the store. Raises
    :class:`StoreError` (or ``ValueError`` for a name) with what is wrong and what to do, so that a run never
    finds out after training."""
    for name in names:
        check_name(name)
    root = store_root(results_dir).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(f"results dir {root} is a file, not a folder; give --results-dir a folder") from None
    except OSError as e:
        raise StoreError(f"results dir {root} cannot be created ({e.strerror}); give --results-dir a writable "
                         "folder") from None
    if not root.is_dir():
        raise StoreError(f"results dir {root} is not a folder; give --results-dir a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=root, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StoreError(f"results dir {root} is not writable ({e.strerror}); give --results-dir a writable "
                         "folder or fix its permissions") from None
    return root


def record_path(results_dir: str | os.PathLike | None, profile: str, kind: str, run_id: str) -> Path:
    """``<results_dir>/<profile>/<kind>/<run_id>.json``; each part must be a safe file name (:func:`check_name`),
    so no record is ever written outside the store."""
    check_name(profile, "profile")
    check_name(kind, "record kind")
    check_name(run_id, "run id")
    return store_root(results_dir) / profile / kind / f"{run_id}.json"


def new_record(kind: str, provenance: dict | None = None, **fields) -> dict:
    """A record of the current schema: ``{schema, kind, **fields, provenance}`` (no provenance yet for records
    that grow piece by piece: :func:`save_piece` sets it with each piece)."""
    return dict(schema=SCHEMA, kind=kind, **fields, **({} if provenance is None else dict(provenance=provenance)))


def write_record(results_dir: str | os.PathLike | None, profile: str, kind: str, run_id: str, /, provenance: dict,
                 **fields) -> dict:
    """Build the record (:func:`new_record`) of ``run_id`` and write it atomically to its place; returns it."""
    rec = new_record(kind, run_id=run_id, **fields, provenance=provenance)
    atomic_write_json(record_path(results_dir, profile, kind, run_id), rec)
    return rec


def done(path: Path, force: bool = False) -> dict | None:
    """Skip-if-done: the record at ``path`` marked ``skipped=True`` if it exists and ``force`` is off, else
    ``None`` (the caller computes it)."""
    if force or not Path(path).is_file():
        return None
    return dict(read_record(path), skipped=True)


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


def atomic_write(path: Path, write: Callable[[str], None]) -> Path:
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


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`): a copy of a record, byte for byte."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
    return atomic_write(path, write)


def atomic_write_json(path: Path, data: dict) -> Path:
    """Write the record ``data`` as JSON (NaN and inf as strings, :func:`_clean`) atomically: :func:`atomic_write`."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(_clean(data), f, indent=1, sort_keys=False, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
    return atomic_write(path, write)


def atomic_torch_save(obj: Any, path: Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (:func:`atomic_write`): checkpoints and resume states."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_json(path: Path) -> dict:
    """The JSON object in the file at ``path`` (no schema upgrade: :func:`read_record` for records)."""
    with open(path) as f:
        return json.load(f)


def read_record(path: Path) -> dict | None:
    """The record at ``path`` upgraded to the current schema (:func:`upgrade`); ``None`` if there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        rec = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"result record {path} is unreadable ({e}); delete it and rerun that run") from None
    if not isinstance(rec, dict):
        raise RecordError(f"result record {path} holds a JSON {type(rec).__name__}, not a record; delete it and "
                          "rerun that run")
    return validate(upgrade(rec, path), path)


# ---------------------------------------------------------------------------------------- schema versions
def _v1_to_v2(rec: dict) -> dict:
    """Schema 1 -> 2: the fields early schema-1 records lack, with the value the code that wrote them used.

    * train: ``data.eval_order`` "stored" (evaluation batches were consecutive slices before speech frames
      were interleaved); ``config.tag`` "" (Table 2's runs predate tags).
    * sharpness: ``config.tag`` ""; each entry's ``objective`` "mean" (the summed objective came later) and
      ``subset_rule`` "first" (f used the first N training examples); the Hessian's ``subset_rule`` "first".
    * landscape: ``tag`` "" (all were Table 2 pairs); each part's ``train_subset`` "first" and, where it has
      test examples, ``test_subset`` "all" (that code had no other choice).
    * bench: ``compile`` "off" (benchmarks before torch.compile was an option)."""
    kind = rec.get("kind")
    if kind in ("train", "sharpness"):
        rec.setdefault("config", {}).setdefault("tag", "")
    if kind == "train":
        rec.setdefault("data", {}).setdefault("eval_order", "stored")
    elif kind == "sharpness":
        for e in (rec.get("entries") or {}).values():
            e.setdefault("objective", "mean")
            e.setdefault("subset_rule", "first")
        if isinstance(rec.get("hessian"), dict):
            rec["hessian"].setdefault("subset_rule", "first")
    elif kind == "landscape":
        rec.setdefault("tag", "")
        for part in (rec.get("parts") or {}).values():
            part.setdefault("train_subset", "first")
            if "test_examples" in part:
                part.setdefault("test_subset", "all")
    elif kind == "bench":
        rec.setdefault("compile", "off")
    return rec


# schema N -> N + 1, applied in turn on read; a record without a ``schema`` field is schema 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


def upgrade(rec: dict, path: Path | str | None = None) -> dict:
    """``rec`` (as read from disk) upgraded to :data:`SCHEMA` by the :data:`MIGRATIONS` in turn; in place."""
    version = rec.get("schema", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordError(f"result record {path or rec.get('run_id', '?')} has schema {version!r}, which no lbgap "
                          "wrote; delete it and rerun that run")
    if version > SCHEMA:
        raise RecordError(f"record {path or rec.get('run_id', '?')} has schema {version!r}, which this lbgap "
                         f"(schema {SCHEMA}) cannot read; update lbgap")
    while version < SCHEMA:
        rec = MIGRATIONS[version](rec)
        version += 1
    rec["schema"] = SCHEMA
    return rec


# ---------------------------------------------------------------------------- what each kind holds (schema 2)
class Provenance(TypedDict, total=False):
    """Where and with what a record was made (:func:`provenance`)."""
    lbgap_version: str
    git_commit: str
    torch_version: str
    python: str
    device: str
    host_cores: int
    cpu: str             # absent in records older than the CPU description
    started: str | None
    finished: str
    wall_time_s: float | None
    tf32: dict           # GPU records only
    precision: dict      # train records


class TrainRecord(TypedDict):
    """A training record (``lbgap train``), schema :data:`SCHEMA`."""
    schema: int
    kind: str            # "train"
    run_id: str
    status: str          # "ok" | "diverged"
    stop_reason: str     # "max_epochs" | "plateau" | "diverged"
    config: dict         # RunConfig.to_dict(); ``tag`` always present
    data: dict           # the DataBundle's info; ``eval_order`` always present ("stored" | "interleaved")
    epochs: int
    steps: int
    final: dict          # train/test(/official_test) loss and accuracy at the end
    dist_from_init: float
    x0_norm: float
    samples_per_s: float | None
    train_time_s: float
    history: list        # one dict per epoch evaluation
    checkpoint: str | None   # its folder: repo-relative, "$LBGAP_CHECKPOINTS/...", or relative to its record store
    # config_hash (str), in records since checkpoints were keyed by it: names the folder's weights (``checkpoints``)
    provenance: Provenance


class SharpnessEntry(TypedDict, total=False):
    """One sharpness value of Metric 2.1 (Eq. 4) at one epsilon and space."""
    value: float         # phi, Eq. (4)
    f0: float
    fmax: float
    eps: float
    space: str           # "full" | "random"
    params: str
    objective: str       # "mean" | "sum" (always present)
    n_train: int
    train_set: int       # absent in the first records
    subset_rule: str     # always present
    wall_s: float


class SharpnessRecord(TypedDict):
    """The sharpness record of one trained run (Tables 3-4)."""
    schema: int
    kind: str            # "sharpness"
    run_id: str
    net: str
    regime: str
    seed: int
    batch_size: int
    profile: str
    config: dict
    entries: dict[str, SharpnessEntry]   # keyed by ``sharpness.entry_key``
    hessian: dict | None
    provenance: Provenance


class LandscapePart(TypedDict, total=False):
    """How one part of a landscape record was evaluated (subsets, batch order, seconds)."""
    train_examples: int
    train_subset: str    # always present
    test_examples: int
    test_subset: str     # present where test_examples is
    eval_order: str
    wall_s: float


class LandscapeRecord(TypedDict):
    """The parametric curves of one SB/LB pair (Figures 3 and 7)."""
    schema: int
    kind: str            # "landscape"
    run_id: str
    net: str
    seed: int
    profile: str
    sb_run: str
    lb_run: str
    tag: str             # always present ("" for Table 2's pairs)
    parts: dict[str, LandscapePart]   # linear, curvilinear, filter1d, contour
    provenance: Provenance


class EvalOrderRecord(TypedDict):
    """Accuracy of one run evaluated in stored-order vs interleaved BN batches."""
    schema: int
    kind: str            # "evalorder"
    run_id: str
    net: str
    regime: str
    seed: int
    profile: str
    eval_batch_size: int
    rows: dict           # {"train"|"test": {"stored"|"interleaved": {"loss", "acc"}}}
    provenance: Provenance


# the record kinds with a fixed layout; the others (dinh, trajectory, noise, steps, bench) are read as dicts
KINDS: dict[str, type] = {"train": TrainRecord, "sharpness": SharpnessRecord, "landscape": LandscapeRecord,
                          "evalorder": EvalOrderRecord}


# The fields a record must hold to be used at all (readers index them unguarded; a train record without them
# is not a finished run), with their JSON types; "*": every kind. The other fields of the layouts in
# :data:`KINDS` are documented there but not enforced (hand-made and partial records read on).
NEEDED: dict[str, dict[str, type]] = {
    "*": {},
    "train": {"run_id": str, "status": str, "config": dict, "final": dict},
    "sharpness": {},
    "landscape": {},
    "evalorder": {},
}


def validate(rec: dict, path: Path | str | None = None) -> dict:
    """``rec`` (upgraded) if it names its ``kind`` and holds what :data:`NEEDED` says that kind needs, with the
    right JSON types; else :class:`RecordError` naming ``path``. A record that fails is never taken as a
    finished run (``done``, the sweep's skip-if-done) and ``lbgap status`` lists it."""
    where = path or rec.get("run_id", "?")
    kind = rec.get("kind")
    if not isinstance(kind, str) or not kind:
        raise RecordError(f"result record {where} has no 'kind', so it is not a record lbgap wrote; delete it "
                          "and rerun that run")
    need = {**NEEDED["*"], **NEEDED.get(kind, {})}
    missing = [k for k in need if k not in rec]
    if missing:
        raise RecordError(f"result record {where} ({kind}) lacks {', '.join(missing)}, so it is incomplete; "
                          "delete it and rerun that run")
    wrong = [f"{k!r} is a {type(rec[k]).__name__}, not a {t.__name__}" for k, t in need.items()
             if not isinstance(rec[k], t)]
    if wrong:
        raise RecordError(f"result record {where} ({kind}): {'; '.join(wrong)}; delete it and rerun that run")
    return rec


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
        new = update(read_record(path))
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
    """The GPU's name, or ``cpu (<processor>, <n> threads)``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {torch.get_num_threads()} threads)"


def host_load() -> list[float] | None:
    """The host's 1-, 5- and 15-minute load averages now (None where the OS has none): with ``host_cores`` it
    says whether a timing was taken on an idle or a shared machine."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def provenance(device: torch.device | str, wall_time_s: float | None = None, started: str | None = None,
               load_at_start: list[float] | None = None) -> dict:
    """Where and with what a record was made: code and torch versions, device, torch's CPU thread count, the
    host's load averages at the start and at the end, wall time. The start load is ``load_at_start`` where the
    caller read it (:func:`host_load`), else the one :func:`now` read when it returned ``started``.
    On a GPU it also says whether TF32 was on when the record was written (``tf32``: matmul and cuDNN flags; the
    project's policy is both off, ``precision.TF32``)."""
    out = dict(lbgap_version=__version__, git_commit=git_commit(), torch_version=torch.__version__,
               python=platform.python_version(), device=device_name(device), host_cores=os.cpu_count(),
               cpu=cpu_description(), threads=torch.get_num_threads(),
               host_load_start=load_at_start if load_at_start is not None else _LOAD_AT.get(started),
               host_load_end=host_load(), started=started, finished=now(), wall_time_s=wall_time_s)
    if torch.device(device).type == "cuda":
        out["tf32"] = dict(matmul=bool(torch.backends.cuda.matmul.allow_tf32),
                           cudnn=bool(torch.backends.cudnn.allow_tf32))
    return out


def core_hours(rec: dict) -> float:
    """The core-hours a record's work took, from its provenance: the wall time (else finished − started, for a
    record that does not time itself) × the thread count; 0 where neither is recorded."""
    prov = rec.get("provenance") or {}
    seconds = prov.get("wall_time_s")
    if seconds is None and prov.get("started") and prov.get("finished"):
        seconds = (_dt.datetime.fromisoformat(prov["finished"]) - _dt.datetime.fromisoformat(prov["started"])).total_seconds()
    return float(seconds or 0) * int(prov.get("threads") or 1) / 3600


def cost_of(train: dict[str, list[dict]], measured: str, results_dir: Path | str | None = None,
            profile: str = "paper") -> dict:
    """What a study's records cost: per part of ``train`` (name -> its training records) and "sharpness" (the
    sharpness records in the store of part ``measured``'s runs), the number of records and the core-hours
    (:func:`core_hours`); and the CPUs and thread counts that trained."""
    ids = {r.get("run_id") for r in train[measured]}
    sharpness = [r for r in iter_records(results_dir, profile, "sharpness") if r.get("run_id") in ids]
    runs = [r for recs in train.values() for r in recs]
    parts = {name: dict(records=len(recs), core_h=sum(map(core_hours, recs))) for name, recs in
             {**train, "sharpness": sharpness}.items()}
    provs = [r.get("provenance") or {} for r in runs]
    return dict(parts=parts, cpus=sorted({p.get("cpu") or p.get("device") or "unrecorded" for p in provs}),
                threads=sorted({int(p.get("threads") or 1) for p in provs}))


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


_LOAD_AT: dict[str, list[float] | None] = {}   # now()'s timestamps -> the host load read with them


def now() -> str:
    """The current UTC time, ISO 8601 to the second (what records store). The host load read with it is kept, so
    that :func:`provenance` given this time as ``started`` records the load at the start of the work."""
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _LOAD_AT.setdefault(stamp, host_load())
    return stamp


def iter_records(results_dir: Path | str | None = None, profile: str | None = None,
                 kind: str | None = None, bad: list | None = None) -> Iterable[dict]:
    """Every record under ``results_dir`` (of ``profile`` and ``kind`` if given), upgraded to :data:`SCHEMA`,
    with ``_path`` set to its file. A malformed record raises :class:`RecordError`, unless ``bad`` is a list:
    then its error is appended there and the others are read on (``lbgap status``)."""
    pattern = f"{profile or '*'}/{kind or '*'}/*.json"
    for path in sorted(store_root(results_dir).glob(pattern)):
        try:
            rec = read_record(path)
        except RecordError as e:
            if bad is None:
                raise
            bad.append(str(e))
            continue
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


def count_lines(results_dir: Path | str | None, kind: str, label: str, bad: list | None = None) -> list[str]:
    """``lbgap status``: one line counting the records of ``kind`` across profiles, none if there are none
    (``bad``: as :func:`iter_records`)."""
    n = sum(1 for _ in iter_records(results_dir, None, kind, bad))
    return [f"{label}: {n}"] if n else []


def variant(tag: str | None) -> str:
    """The experiment a config tag belongs to, for tables that count runs: the part before the first "-"
    (Figure 5's piggybacked runs "fig5-sb0", "fig5-sb3", ... are all "fig5"; "" is Table 2's)."""
    return str(tag or "").split("-", 1)[0]


def train_table(results_dir: Path | str | None = None, profile: str | None = None, bad: list | None = None):
    """One row per training record: the config fields, the final metrics and provenance, flat (``bad``: as
    :func:`iter_records`)."""
    import pandas as pd

    rows = []
    for r in iter_records(results_dir, profile, "train", bad):
        c = r["config"]
        row = dict(run_id=r["run_id"], profile=c["profile"], net=c["net"], dataset=c["dataset"],
                   split=c["split"], source=c["source"], bn=c["bn"], regime=c["regime"] or f"B{c['batch_size']}",
                   batch_size=c["batch_size"], seed=c["seed"], tag=c["tag"], variant=variant(c["tag"]), status=r["status"],
                   stop_reason=r["stop_reason"], epochs=r["epochs"], steps=r["steps"],
                   max_epochs=c.get("max_epochs"), dist_from_init=r["dist_from_init"], wall_time_s=r["provenance"]["wall_time_s"],
                   samples_per_s=r["samples_per_s"], device=r["provenance"]["device"],
                   git_commit=r["provenance"]["git_commit"],
                   eval_order=r["data"]["eval_order"])   # how the evaluation passes were batched
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
                             batch_size=c["batch_size"], profile=c["profile"], tag=c["tag"], **h))
    return pd.DataFrame(rows)
