#!/usr/bin/env python3
"""Driver of ``scripts/gpu_paper.sh``: stage packed data, run the paper's Table 2 grid within a time budget.

A thin script over the library: the packed data are those of :mod:`lbgap.core.packs` (every file's size and
sha256 pinned there; the pack's ``MANIFEST.json`` is never read), records are written and copied through
:mod:`lbgap.core.records`, and the pairs are scheduled by :mod:`lbgap.core.sweep`'s deadline-aware
``LocalExecutor``.

The GPU node has no network: it receives a copy of the repository tree (with the git-ignored ``.carry/``, at
most 64 MiB per job) and gives back only the files written under ``$OUT``; its local files last from one job to
the next only while it stays up. Subcommands (``python scripts/gpu_paper.py CMD --help``):

* ``carry N``   (before a job, beside the packed data) fill ``.carry/`` with part N of the packed data from
  ../shared/data (:func:`carry_parts`: the pinned files of MNIST, CIFAR-10 and speechocean762 in parts of
  < 56 MB, so that each goes to the node with the repository in one job), each file checked against its pin.
* ``stage``     (node) copy ``.carry/`` into ``data/cache/pack/`` (kept while the node stays up) and import
  every dataset whose pinned files are all there (:func:`pack_complete`) and that is not in the cache yet.
* ``sweep``     (node) run what is not yet recorded: (net, seed) SB/LB pairs in priority order until the budget
  is spent. Each pair is one ``lbgap sweep table2`` command (``sweep.run_command``) with its own work folder
  (results + checkpoints), so a later call on the same node resumes it from what is recorded there, a run
  stopped at the deadline from its last saved state; a pair is *exported* (records copied into data/results
  and packed into $OUT) only when its two training runs and every post-processing finished. A pair starts
  only if its time estimate fits the remaining budget (``--span``: always); at the deadline running pairs are
  stopped (their finished runs and resume states stay in the work folder for the next call; a fresh node
  starts without them).
* ``bench-missing NET SB,LB`` (node) which regimes of a bench step have no CUDA record yet (so a bench step is
  skipped, or shortened, where the committed records or an earlier call already hold it).
* ``call-record N`` (node) write or update the record of this call (``<results>/<profile>/gpu_call/``): its
  GPU, start, the time spent inside the call, bench records and pairs; the reproducibility chapter sums them.
* ``collect DIR`` (after a job) unpack the records tarball(s) of the files a call gave back into data/results,
  never overwriting an existing record.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# light (no torch): the driver's other lbgap imports are in its commands
from lbgap.core import packs, paths  # noqa: E402

OUTGOING = ROOT / ".carry"  # git-ignored: the part of the packed data that goes to the node with the tree
STAGE = Path(os.environ.get("LBGAP_CACHE", ROOT / "data" / "cache")).resolve() / "pack"  # kept while the node is up
WORK = ROOT / "data" / "checkpoints" / "gpu_work"    # git-ignored; lasts between calls while the node is up
DATASETS = ("mnist", "cifar10", "so762")             # what the node trains on, in the order of the parts
PART_LIMIT = 56_000_000                              # bytes of packed data per part (the tree needs the rest)
# Seconds per (net, seed) pair on one H100 before any measurement (train SB || LB, then sharpness and
# landscape). Guesses from FLOP counts, replaced by the longest pair measured in this call ("estimates": not
# a profile, which names a configuration of runs in lbgap.core.config).
DEFAULT_ESTIMATE = {"F1": 240, "C1": 300, "F2": 420, "C2": 540, "C3": 300, "C4": 540}
JOB_LIMIT_MIB = 64  # what the node receives per job: the tree (tracked + untracked-not-ignored) and .carry/


def log(msg: str) -> None:
    """One line of the driver's log, with the time."""
    print(f"[gpu_paper {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def carry_parts(limit: int = PART_LIMIT) -> dict[int, list[str]]:
    """The packed files of :data:`DATASETS` (as :data:`packs.PACK_FILES` pins them), in order, cut into parts of
    at most ``limit`` bytes: part number -> paths relative to the pack folder."""
    parts: dict[int, list[str]] = {1: []}
    size = 0
    for name in DATASETS:
        for rel, (n, _) in packs.PACK_FILES[name].items():
            if parts[len(parts)] and size + n > limit:
                parts[len(parts) + 1], size = [], 0
            parts[len(parts)].append(rel)
            size += n
    return parts


def pinned_file_ok(path: Path, name: str, rel: str) -> bool:
    """Is ``path`` pack file ``rel`` of dataset ``name`` with the size and sha256 pinned in :mod:`lbgap.core.packs`?"""
    size, digest = packs.PACK_FILES[name][rel]
    if not path.is_file() or path.stat().st_size != size:
        return False
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest() == digest


def _dataset_of(rel: str) -> str:
    return next(name for name, files in packs.PACK_FILES.items() if rel in files)


# ------------------------------------------------------------------------------------------------ carry
def tree_commit() -> str:
    """This tree's code version as records name it (``records.git_commit``), never an inherited
    ``LBGAP_GIT_COMMIT``: the commit written into ``.carry/GIT_COMMIT`` names every record made on the node."""
    from lbgap.core import records

    inherited = os.environ.pop("LBGAP_GIT_COMMIT", None)
    try:
        return records.git_commit(ROOT)
    finally:
        if inherited is not None:
            os.environ["LBGAP_GIT_COMMIT"] = inherited


def cmd_carry(a) -> int:
    src = Path(a.shared)
    parts = carry_parts()
    if a.part not in parts:
        raise SystemExit(f"part {a.part} of the packed data does not exist: choose one of "
                         f"{', '.join(map(str, parts))}")
    for rel in parts[a.part]:
        if not (src / rel).is_file():
            raise SystemExit(f"{src / rel} is missing: point --shared at the folder of the packed data")
        if not pinned_file_ok(src / rel, _dataset_of(rel), rel):
            raise SystemExit(f"{src / rel} does not match the size and sha256 lbgap.core.packs pins for it: copy "
                             "the packed data again")
    shutil.rmtree(OUTGOING, ignore_errors=True)
    for rel in parts[a.part]:
        (OUTGOING / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, OUTGOING / rel)
    (OUTGOING / "GIT_COMMIT").write_text(tree_commit() + "\n")
    size = sum(p.stat().st_size for p in OUTGOING.rglob("*") if p.is_file())
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True).stdout.split(b"\0")
    repo = sum((ROOT / f.decode()).stat().st_size for f in tracked if f and (ROOT / f.decode()).is_file())
    total = (size + repo) / 2 ** 20
    print(f".carry/ holds part {a.part}: {size / 2**20:.1f} MiB + repository {repo / 2**20:.1f} MiB = {total:.1f} MiB "
          f"of the {JOB_LIMIT_MIB} MiB a job may send" + ("" if total < JOB_LIMIT_MIB else "  -- TOO LARGE"))
    return 0 if total < JOB_LIMIT_MIB else 1


# ------------------------------------------------------------------------------------------------ stage
def pack_complete(name: str, pack: Path = STAGE) -> bool:
    """Is every file :mod:`lbgap.core.packs` pins for dataset ``name`` in ``pack``, with its size and sha256?"""
    files = packs.PACK_FILES.get(name)
    return bool(files) and all(pinned_file_ok(pack / rel, name, rel) for rel in files)


def cmd_stage(a) -> int:
    from lbgap.core import data as datamod

    STAGE.mkdir(parents=True, exist_ok=True)
    if OUTGOING.is_dir():
        for p in OUTGOING.rglob("*"):
            if p.is_file():
                dst = STAGE / p.relative_to(OUTGOING)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.is_file() or dst.stat().st_size != p.stat().st_size:
                    shutil.copyfile(p, dst)
    rc = 0
    for name in DATASETS:
        if datamod.cache_path(name).is_file():
            log(f"{name}: in the cache")
        elif pack_complete(name):
            log(f"{name}: importing from the staged pack")
            t0 = time.time()
            r = subprocess.run([sys.executable, "-m", "lbgap.cli", "data", "import", name, "--from", str(STAGE)],
                               env=dict(os.environ, **_env()))
            rc |= r.returncode
            log(f"{name}: import {'ok' if r.returncode == 0 else 'FAILED'} in {time.time() - t0:.0f} s")
        else:
            have = sorted(str(p.relative_to(STAGE)) for p in (STAGE / name).glob("*")) if (STAGE / name).is_dir() else []
            log(f"{name}: not available (staged: {', '.join(have) or 'nothing'}); send the part of the packed data that holds it")
    return rc


# ------------------------------------------------------------------------------------------------ sweep
def _env(extra: dict | None = None) -> dict:
    """What a command started by the driver adds to the environment: the tree's code, unbuffered output, no
    progress bars, the tree's commit (``.carry/GIT_COMMIT``) for its records."""
    env = dict(PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONUNBUFFERED="1", CI="1")
    gc = OUTGOING / "GIT_COMMIT"
    if gc.is_file() and not os.environ.get("LBGAP_GIT_COMMIT"):
        env["LBGAP_GIT_COMMIT"] = gc.read_text().strip()
    env.update(extra or {})
    return env


class Pair:
    """One (net, seed) SB/LB pair of the sweep: its work folder and its ``lbgap sweep table2`` command."""

    def __init__(self, net: str, seed: int, a):
        self.net, self.seed, self.a = net, seed, a
        self.dir = Path(a.work) / a.profile / (f"{net}-s{seed}" + (f"-{a.tag}" if a.tag else ""))

    def __repr__(self) -> str:
        return f"{self.net} seed {self.seed}"

    def command(self) -> list[str]:
        """``lbgap sweep table2`` for this pair into its work folder's record store."""
        a = self.a
        cmd = [sys.executable, "-m", "lbgap.cli", "sweep", "table2", "--profile", a.profile, "--nets", self.net,
               "--seeds", str(self.seed), "--results-dir", str(self.dir / "results")]
        if a.device:
            cmd += ["--device", a.device]
        if a.post:
            cmd += ["--post", a.post]
        if a.pair_workers > 1:
            cmd += ["--executor", "local", "--workers", str(a.pair_workers)]
        if a.tag:
            cmd += ["--tag", a.tag]
        mode = _per_net(a.compile, self.net)
        if mode:
            cmd += ["--compile", mode]
        return cmd + list(a.extra or [])

    def item(self) -> tuple:
        """The executor's item: ``sweep.run_command``'s arguments."""
        env = _env({"LBGAP_CHECKPOINTS": str(self.dir / "checkpoints"), "OMP_NUM_THREADS": "2"})
        return (repr(self), self.command(), str(ROOT), env, str(self.dir / "log.txt"))


def _per_net(spec: str | None, net: str) -> str:
    """``"C2=default,F1=reduce-overhead"`` or ``"4"`` (all nets) -> the value for ``net`` ('' if none)."""
    if not spec:
        return ""
    vals = {}
    for part in spec.split(","):
        k, _, v = part.partition("=")
        if v:
            vals[k.strip().upper()] = v.strip()
        else:
            vals["*"] = k.strip()
    return vals.get(net, vals.get("*", ""))


def train_records_present(results_dir: Path, profile: str, net: str, seed: int, a) -> list[Path]:
    """Where the SB and LB training records of the pair (net, seed) go in ``results_dir``."""
    from lbgap.core import records
    from lbgap.core.config import sb_lb_configs

    ov = {"device": a.device} if a.device else {}
    if a.tag:
        ov["tag"] = a.tag
    cfgs = sb_lb_configs(net, seed, profile, **ov)
    return [records.record_path(results_dir, profile, "train", c.run_id) for c in cfgs]


def export(pair: Pair, stores: list[Path]) -> list[Path]:
    """Copy a finished pair's records into every store (results dir, this node's export store), byte for byte
    and never overwriting; return their paths relative to a store (``<profile>/<kind>/<id>.json``)."""
    from lbgap.core import records

    src = pair.dir / "results"
    out = []
    for p in sorted(src.glob("*/*/*.json")):  # bookkeeping folders (e.g. _sweep) start with _
        rel = p.relative_to(src)
        if any(part.startswith("_") for part in rel.parts):
            continue
        for store in stores:
            if not (store / rel).exists():
                records.atomic_write_bytes(store / rel, p.read_bytes())
        out.append(rel)
    return out


def pack(tarball: Path, store: Path, rels) -> None:
    """Records ``rels`` (paths relative to the record store ``store``) into ``tarball`` under
    ``data/results/<profile>/<kind>/<id>.json`` (what ``collect`` unpacks), written atomically."""
    from lbgap.core import records

    def write(tmp: str) -> None:
        with tarfile.open(tmp, "w:gz") as tf:
            for rel in sorted(set(rels)):
                tf.add(store / rel, arcname="data/results/" + Path(rel).as_posix())
    records.atomic_write(tarball, write)


def write_out(out: Path, exported: list[Path], summary: dict, store: Path) -> None:
    """Everything that must come back, in 2 files (+ the log by tee): every record this node exported so
    far and a summary JSON."""
    from lbgap.core import records

    pack(out / "records.tar.gz", store, exported)
    records.atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())


def cmd_pack(a) -> int:
    """Pack the record files named on stdin (one path a line, under ``--store``) into ``tarball``."""
    store = Path(a.store).resolve()
    rels = [Path(line.strip()).resolve().relative_to(store) for line in sys.stdin if line.strip()]
    if rels:
        pack(Path(a.tarball), store, rels)
    print(f"[export] {len(rels)} records -> {Path(a.tarball).name}", flush=True)
    return 0


def cmd_sweep(a) -> int:
    from lbgap.core import data as datamod
    from lbgap.core import sweep
    from lbgap.core.config import get_profile
    from lbgap.core.models import NETS

    deadline = time.time() + a.budget
    results_dir = Path(a.results_dir).resolve()
    store = Path(a.work).resolve() / "_exported"  # what this node exported (survives the tree sent again)
    out = Path(a.out or os.environ.get("OUT") or (ROOT / "gpu_out"))
    posts = [p for p in (a.post or "").split(",") if p]
    missing = [p for p in posts if p not in sweep.POST_PAIR]
    if missing:
        keep = ",".join(p for p in posts if p not in missing) or "''"
        log(f"post-processing {', '.join(missing)} is not available (its module is missing); pass --post {keep} "
            "to run without it")
        return 2
    nets = [n.strip().upper() for n in a.nets.split(",") if n.strip()]
    seeds = sweep.parse_seeds(a.seeds)
    summary = dict(started=time.strftime("%Y-%m-%dT%H:%M:%S"), budget_s=a.budget, profile=a.profile, tag=a.tag,
                   jobs=a.jobs, pairs=[])
    synthetic = get_profile(a.profile)["source"] == "synthetic"
    queue: list[Pair] = []
    for net in nets:
        dataset = NETS[net].dataset
        if not synthetic and not datamod.cache_path(dataset).is_file():
            log(f"{net}: skipped, {dataset} is not in the cache (send its part of the packed data and stage it first)")
            summary["pairs"].append(dict(net=net, status="no data"))
            continue
        for seed in seeds:
            present = [p.is_file() or (store / p.relative_to(results_dir)).is_file()
                       for p in train_records_present(results_dir, a.profile, net, seed, a)]
            if all(present):
                continue
            if any(present):
                log(f"{net} seed {seed}: one of SB/LB already has a record in {results_dir}: left alone "
                    "(a pair is exported whole; delete the lone record to recompute the pair)")
                summary["pairs"].append(dict(net=net, seed=seed, status="half present"))
                continue
            queue.append(Pair(net, seed, a))
    # pairs with finished runs in their work folder (a previous call on this node) go first
    queue.sort(key=lambda p: (not (p.dir / "results").is_dir(), nets.index(p.net), p.seed))
    log(f"{len(queue)} pairs to do: {', '.join(map(repr, queue)) or 'none'}; budget {a.budget:.0f} s")
    measured: dict[str, float] = {}
    exported = [p.relative_to(store) for p in store.glob("*/*/*.json")]  # earlier calls on this node
    n_before = len(exported)
    write_out(out, exported, summary, store)

    def estimate(net: str) -> float:
        return measured.get(net) or float(_per_net(a.estimate, net) or DEFAULT_ESTIMATE.get(net, 600))

    # consecutive pairs of one net share an executor with that net's number of pairs at once (--jobs)
    for net, group in itertools.groupby(queue, key=lambda p: p.net):
        group = list(group)
        ex = sweep.LocalExecutor(workers=int(_per_net(a.jobs, net) or 1), deadline=deadline,
                                 estimate=lambda item, net=net: 0.0 if a.span else estimate(net) * a.safety)
        for p, o in zip(group, ex.map(sweep.run_command, [p.item() for p in group])):
            seconds = round((o.record or {}).get("seconds", 0))
            if o.status == "done":
                files = export(p, [results_dir, store])
                exported += files
                measured[net] = max(measured.get(net, 0.0), seconds)
                shutil.rmtree(p.dir, ignore_errors=True)
                log(f"done     {p} in {seconds} s: {len(files)} records exported")
                summary["pairs"].append(dict(net=net, seed=p.seed, status="exported", seconds=seconds,
                                             records=[str(f) for f in files]))
            elif o.status == "failed":
                log(f"FAILED   {p}; its records are not exported: {o.error}")
                summary["pairs"].append(dict(net=net, seed=p.seed, status=f"failed ({o.error.splitlines()[0]})",
                                             seconds=seconds, log_tail=o.error))
            elif o.status == "stopped":
                log(f"stopped  {p} at the deadline; its finished runs and resume states stay in {p.dir} for the "
                    "next call on this node")
                summary["pairs"].append(dict(net=net, seed=p.seed, status="stopped at deadline"))
            else:
                summary["pairs"].append(dict(net=net, seed=p.seed, status="not started (no time left)",
                                             estimate_s=round(estimate(net))))
            write_out(out, exported, summary, store)
    summary["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    summary["exported_records"] = len(exported) - n_before
    summary["records_in_tarball"] = len(exported)
    write_out(out, exported, summary, store)
    left = [f"{p['net']} s{p['seed']}" for p in summary["pairs"] if p["status"].startswith("not started")]
    log(f"{len(exported) - n_before} records exported in this call, {len(exported)} in {out}/records.tar.gz; "
        f"not started: {', '.join(left) or 'none'}")
    return 0


# ------------------------------------------------------------------------------------------------ bench
def bench_missing(dirs: list[Path], profile: str, net: str, regimes: list[str], compile_mode: str = "",
                  precision: bool = False) -> list[str]:
    """The regimes of ``regimes`` with no GPU bench record yet for ``net`` in any of ``dirs`` (the committed
    results, this node's store): a bench step of gpu_paper.sh runs only those, so a call that was cut short,
    or a later one, measures what is missing instead of repeating what is committed.
    A step is matched on the record's own fields: CUDA device, net, regime (SB/LB), torch.compile mode, and
    for ``precision`` a bf16-vs-fp32 check in the record (else a baseline in it)."""
    want = {r.upper() for r in regimes}
    have = set()
    for d in dirs:
        for f in (Path(d) / profile / "bench").glob("*.json"):
            try:
                r = json.loads(f.read_text())
            except (OSError, ValueError):
                continue  # a half-written or foreign file never counts as done
            if (r.get("kind") == "bench" and r.get("device_type") == "cuda" and r.get("net") == net.upper()
                    and r.get("compile", "off") == (compile_mode or "off")
                    and ("precision_check" in r if precision else "baseline" in r or bool(compile_mode))):
                have.add(str(r.get("regime", "")).upper())
    return [r.upper() for r in regimes if r.upper() in want - have]


def cmd_bench_missing(a) -> int:
    dirs = [Path(a.results_dir), Path(a.work) / "_exported"]
    missing = bench_missing(dirs, a.profile, a.net, a.regimes.split(","), a.compile, a.precision)
    print(" ".join(missing))
    return 0


# ------------------------------------------------------------------------------------------ call record
def _gpu_name(device: str) -> str:
    if device == "cuda":
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20).stdout.strip().splitlines()
            if out:
                return out[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
        return "cuda (name not found)"
    return f"{device} ({os.uname().machine})"


def call_record(a) -> Path:
    """Write or update the record of one call of gpu_paper.sh, ``<results>/<profile>/gpu_call/<start>-call<N>.json``
    (through :mod:`lbgap.core.records`): which GPU, when, the time spent inside the call (``elapsed_s``, from the
    script's start; the node's start-up and the transfers are outside it), the bench records it wrote and the
    (net, seed) pairs its sweep finished or stopped, with their seconds (the sweep's summary.json). gpu_paper.sh
    writes it at the start, after every bench step and at the end (``--final``: ``complete``); a call cut off at
    the job's time limit keeps ``complete: false`` and the time up to its last update, a lower bound. The
    reproducibility chapter adds these up into the GPU time of the paper profile."""
    from lbgap.core import records   # LBGAP_GIT_COMMIT names the code on the node (no .git there)

    started = time.gmtime(a.started)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", started) + f"-call{a.call}"
    path = records.record_path(a.results_dir, a.profile, "gpu_call", run_id)
    try:
        rec = records.read_record(path)
    except records.RecordError:
        rec = None
    if rec is None:   # the call's first write
        gpu = _gpu_name(a.device)
        prov = dict(records.provenance(a.device, started=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", started),
                                       load_at_start=records.host_load()), device=gpu)
        rec = records.new_record("gpu_call", run_id=run_id, call=str(a.call), profile=a.profile, device=gpu,
                                 budget_s=a.budget, provenance=prov)
    elapsed = round(time.time() - a.started, 1)
    since = Path(a.since).stat().st_mtime if a.since and Path(a.since).exists() else a.started
    bench = sorted(f.name for f in (Path(a.results_dir) / a.profile / "bench").glob("*.json")
                   if f.stat().st_mtime >= since)
    try:
        summary = json.loads(Path(a.summary).read_text()) if a.summary else {}
    except (OSError, ValueError):
        summary = {}
    rec.update(elapsed_s=elapsed, complete=bool(a.final), bench=bench, tag=summary.get("tag", rec.get("tag", "")),
               jobs=summary.get("jobs", rec.get("jobs", "")), pairs=summary.get("pairs", rec.get("pairs", [])))
    rec["provenance"].update(finished=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), wall_time_s=elapsed,
                             host_load_end=records.host_load())
    records.atomic_write_json(path, rec)
    return path


def cmd_call_record(a) -> int:
    path = call_record(a)
    rec = json.loads(path.read_text())
    print(f"call record {path.name}: {rec['elapsed_s']:.0f} s on {rec['device']}"
          + (" (final)" if rec["complete"] else ""))
    return 0


# ---------------------------------------------------------------------------------------------- collect
def cmd_collect(a) -> int:
    from lbgap.core import records

    n_new = n_old = 0
    for tar in sorted(Path(a.dir).rglob("records*.tar.gz")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                if not m.isfile() or not m.name.startswith("data/results/") or ".." in Path(m.name).parts:
                    continue
                dst = ROOT / m.name
                data = tf.extractfile(m).read()
                if dst.exists():
                    n_old += 1
                    if hashlib.sha256(dst.read_bytes()).digest() != hashlib.sha256(data).digest():
                        print(f"kept the existing {m.name} (the call's copy differs)")
                    continue
                records.atomic_write_bytes(dst, data)
                n_new += 1
    print(f"collected {n_new} new records into data/results ({n_old} already present)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("carry", help="(before a job) fill .carry/ with part N of the packed data")
    p.add_argument("part", type=int, help="1: MNIST + CIFAR-10 mosaics 0-1, 2: the rest of CIFAR-10, "
                   "3: speechocean762 (carry_parts)")
    p.add_argument("--shared", default=str(paths.SHARED_DATA), help="the folder of the packed data")
    p.set_defaults(func=cmd_carry)
    p = sub.add_parser("stage", help="(node) stage .carry/ and import complete datasets")
    p.set_defaults(func=cmd_stage)
    p = sub.add_parser("sweep", help="(node) budgeted, resumable table2 sweep by (net, seed) pairs")
    p.add_argument("--budget", type=float, required=True, help="seconds from now until running pairs are stopped")
    p.add_argument("--profile", default="paper")
    p.add_argument("--device", default="cuda")
    p.add_argument("--nets", default="F1,C1,F2,C2,C3,C4", help="priority order")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--post", default="sharpness,landscape")
    p.add_argument("--tag", default="", help="variant of the pairs (a RunConfig tag), e.g. uncapped: F1 under the "
                   "profile's own epoch caps, beside the committed 50-epoch Table 2 runs")
    p.add_argument("--jobs", default="F1=4,C1=3,F2=2,C2=1,C3=3,C4=1", help="pairs at once, per net")
    p.add_argument("--pair-workers", type=int, default=2, help="processes per pair (SB and LB side by side)")
    p.add_argument("--compile", default="", help="per-net torch.compile mode, e.g. C2=default")
    p.add_argument("--estimate", default="", help="per-net seconds per pair, e.g. C2=500 (default: built-in guesses)")
    p.add_argument("--safety", type=float, default=1.0, help="launch a pair only if safety*estimate fits")
    p.add_argument("--span", action="store_true", help="start pairs even when they will not finish in this call "
                   "(their finished runs resume in the next call on the same node)")
    p.add_argument("--results-dir", default=str(ROOT / "data" / "results"))
    p.add_argument("--work", default=str(WORK))
    p.add_argument("--out", default=None, help="where records.tar.gz and summary.json go (default $OUT)")
    p.add_argument("extra", nargs="*", help="after --: more options for `lbgap sweep table2`")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("bench-missing", help="(node) print the regimes of a bench step with no CUDA record yet")
    p.add_argument("net")
    p.add_argument("regimes", help="comma-separated, e.g. SB,LB")
    p.add_argument("--compile", default="", help="the step's torch.compile mode ('' for eager)")
    p.add_argument("--precision", action="store_true", help="the step is a bf16-vs-fp32 check")
    p.add_argument("--profile", default="paper")
    p.add_argument("--results-dir", default=str(ROOT / "data" / "results"))
    p.add_argument("--work", default=str(WORK))
    p.set_defaults(func=cmd_bench_missing)
    p = sub.add_parser("call-record", help="(node) write or update the record of this call (gpu_call/)")
    p.add_argument("call", help="the call's label (gpu_paper.sh call N)")
    p.add_argument("--started", type=float, required=True, help="the call's start, seconds since the epoch")
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--device", default="cuda")
    p.add_argument("--since", default=None, help="a file whose mtime marks the call's start (bench records newer "
                   "than it are this call's)")
    p.add_argument("--summary", default=None, help="the sweep's summary.json, for the pairs")
    p.add_argument("--final", action="store_true", help="the call's last update")
    p.add_argument("--profile", default="paper")
    p.add_argument("--results-dir", default=str(ROOT / "data" / "results"))
    p.set_defaults(func=cmd_call_record)
    p = sub.add_parser("pack", help="(node) pack the record files named on stdin into a tarball for collect")
    p.add_argument("tarball", help="the tarball to write, e.g. $OUT/records-steps.tar.gz")
    p.add_argument("--store", required=True, help="the record store the files lie in")
    p.set_defaults(func=cmd_pack)
    p = sub.add_parser("collect", help="(after a job) unpack a call's records.tar.gz into data/results")
    p.add_argument("dir")
    p.set_defaults(func=cmd_collect)
    a = ap.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
