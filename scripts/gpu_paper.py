#!/usr/bin/env python3
"""Driver of ``scripts/gpu_paper.sh``: stage packed data, run the paper's Table 2 grid within a time budget.

The GPU node has no network: it receives a copy of the repository tree (with the git-ignored ``.carry/``, at
most 64 MiB per job) and gives back only the files written under ``$OUT``; its local files last from one job to
the next only while it stays up. Subcommands (``python scripts/gpu_paper.py CMD --help``):

* ``carry N``   (before a job, beside the packed data) fill ``.carry/`` with part N of the packed data from
  ../shared/data (each part < 56 MB, so that it goes to the node with the repository in one job).
* ``stage``     (node) copy ``.carry/`` into ``data/cache/pack/`` (kept while the node stays up) and import
  every dataset whose packed files are all there and that is not in the cache yet.
* ``sweep``     (node) run what is not yet recorded: (net, seed) SB/LB pairs in priority order until the budget
  is spent. Each pair is one ``lbgap sweep table2`` process with its own work folder (results + checkpoints),
  so a later call on the same node resumes it from what is recorded there; a pair is *exported* (records
  copied into data/results and packed into $OUT) only when its two training runs and every post-processing
  finished. A pair is launched only if its time estimate fits the remaining budget; at the deadline running
  pairs are stopped (their finished runs stay in the work folder for the next call; a fresh node starts
  without them).
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
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from lbgap.core import paths  # noqa: E402  (light: no torch; the driver's other lbgap imports are in its commands)

OUTGOING = ROOT / ".carry"  # git-ignored: the part of the packed data that goes to the node with the tree
STAGE = Path(os.environ.get("LBGAP_CACHE", ROOT / "data" / "cache")).resolve() / "pack"  # kept while the node is up
WORK = ROOT / "data" / "checkpoints" / "gpu_work"    # git-ignored; lasts between calls while the node is up
CIFAR = [f"cifar10/x_train.0{i}.webp" for i in range(5)]
CIFAR_REST = ["cifar10/x_test.00.webp", "cifar10/y_train.u8.xz", "cifar10/y_test.u8.xz", "cifar10/y_test_all.u8.xz"]
MNIST = ["mnist/x_train.u8.xz", "mnist/x_test.u8.xz", "mnist/y_train.u8.xz", "mnist/y_test.u8.xz"]
DATA_PARTS = {  # every part also holds MANIFEST.json and unpack.py
    1: MNIST + CIFAR[:2],
    2: CIFAR[2:] + CIFAR_REST,
    3: ["so762/so762_f2.npz.xz"],
}
# Seconds per (net, seed) pair on one H100 before any measurement (train SB || LB, then sharpness and
# landscape). Guesses from FLOP counts, replaced by the longest pair measured in this call.
DEFAULT_ESTIMATE = {"F1": 240, "C1": 300, "F2": 420, "C2": 540, "C3": 300, "C4": 540}
JOB_LIMIT_MIB = 64  # what the node receives per job: the tree (tracked + untracked-not-ignored) and .carry/


def log(msg: str) -> None:
    print(f"[gpu_paper {time.strftime('%H:%M:%S')}] {msg}", flush=True)


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
    if a.part not in DATA_PARTS:
        raise SystemExit(f"part {a.part} of the packed data does not exist: choose one of "
                         f"{', '.join(map(str, DATA_PARTS))}")
    shutil.rmtree(OUTGOING, ignore_errors=True)
    files = ["MANIFEST.json", "unpack.py"] + DATA_PARTS[a.part]
    for rel in files:
        if not (src / rel).is_file():
            raise SystemExit(f"{src / rel} is missing: point --shared at the folder of the packed data")
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
    """Are all packed files of dataset ``name`` in ``pack`` with the size MANIFEST.json gives?"""
    mf = pack / "MANIFEST.json"
    if name == "so762":
        return (pack / "so762" / "so762_f2.npz.xz").is_file()
    if not mf.is_file():
        return False
    spec = json.loads(mf.read_text())["datasets"].get(name)
    if spec is None:
        return False
    for arr in spec["arrays"].values():
        for f in arr["encoding"]["files"]:
            p = pack / f["path"]
            if not p.is_file() or p.stat().st_size != f["bytes"]:
                return False
    return True


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
    for name in ("mnist", "cifar10", "so762"):
        cached = datamod.cache_path(name).is_file()
        if cached:
            log(f"{name}: in the cache")
        elif pack_complete(name):
            log(f"{name}: importing from the staged pack")
            t0 = time.time()
            r = subprocess.run([sys.executable, "-m", "lbgap.cli", "data", "import", name, "--from", str(STAGE)],
                               env=_env())
            rc |= r.returncode
            log(f"{name}: import {'ok' if r.returncode == 0 else 'FAILED'} in {time.time() - t0:.0f} s")
        else:
            have = sorted(str(p.relative_to(STAGE)) for p in (STAGE / name).glob("*")) if (STAGE / name).is_dir() else []
            log(f"{name}: not available (staged: {', '.join(have) or 'nothing'}); send the part of the packed data that holds it")
    return rc


# ------------------------------------------------------------------------------------------------ sweep
def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONUNBUFFERED="1", CI="1")
    gc = OUTGOING / "GIT_COMMIT"
    if gc.is_file() and not env.get("LBGAP_GIT_COMMIT"):
        env["LBGAP_GIT_COMMIT"] = gc.read_text().strip()
    env.update(extra or {})
    return env


class Pair:
    def __init__(self, net: str, seed: int, a):
        self.net, self.seed, self.a = net, seed, a
        self.dir = Path(a.work) / a.profile / (f"{net}-s{seed}" + (f"-{a.tag}" if a.tag else ""))
        self.proc: subprocess.Popen | None = None
        self.t0 = 0.0
        self.log = None

    def __repr__(self) -> str:
        return f"{self.net} seed {self.seed}"

    def command(self) -> list[str]:
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

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.dir / "log.txt", "a")
        self.t0 = time.time()
        env = _env({"LBGAP_CHECKPOINTS": str(self.dir / "checkpoints"), "OMP_NUM_THREADS": "2"})
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


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
    from lbgap.core import records
    from lbgap.core.train import sb_lb_configs

    ov = {"device": a.device} if a.device else {}
    if a.tag:
        ov["tag"] = a.tag
    cfgs = sb_lb_configs(net, seed, profile, **ov)
    return [records.record_path(results_dir, profile, "train", c.run_id) for c in cfgs]


def export(pair: Pair, stores: list[Path]) -> list[Path]:
    """Copy a finished pair's records into every store (results dir, this node's export store), never
    overwriting; return their paths relative to a store (``<profile>/<kind>/<id>.json``)."""
    src = pair.dir / "results"
    out = []
    for p in sorted(src.glob("*/*/*.json")):  # bookkeeping folders (e.g. _sweep) start with _
        rel = p.relative_to(src)
        if any(part.startswith("_") for part in rel.parts):
            continue
        for store in stores:
            dst = store / rel
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_suffix(".json.tmp")
                shutil.copyfile(p, tmp)
                os.replace(tmp, dst)
        out.append(rel)
    return out


def write_out(out: Path, exported: list[Path], summary: dict, store: Path) -> None:
    """Everything that must come back, in 2 files (+ the log by tee): every record this node exported so
    far (``data/results/<profile>/<kind>/<id>.json``, which ``collect`` unpacks) and a summary JSON."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "records.tar.gz.tmp"
    with tarfile.open(tmp, "w:gz") as tf:
        for rel in sorted(set(exported)):
            tf.add(store / rel, arcname="data/results/" + rel.as_posix())
    os.replace(tmp, out / "records.tar.gz")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


def cmd_sweep(a) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from lbgap.core import data as datamod
    from lbgap.core import sweep
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
    queue: list[Pair] = []
    from lbgap.core.config import get_profile

    synthetic = get_profile(a.profile)["source"] == "synthetic"
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
    running: list[Pair] = []
    exported = [p.relative_to(store) for p in store.glob("*/*/*.json")]  # earlier calls on this node
    n_before = len(exported)
    write_out(out, exported, summary, store)

    def estimate(net: str) -> float:
        est = measured.get(net) or float(_per_net(a.estimate, net) or DEFAULT_ESTIMATE.get(net, 600))
        return est

    try:
        _loop(a, queue, running, measured, exported, summary, [results_dir, store], out, deadline, estimate)
    finally:  # an error or Ctrl-C never leaves a pair process running
        for p in running:
            p.stop()
    for p in queue:
        summary["pairs"].append(dict(net=p.net, seed=p.seed, status="not started (no time left)",
                                     estimate_s=round(estimate(p.net))))
    summary["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    summary["exported_records"] = len(exported) - n_before
    summary["records_in_tarball"] = len(exported)
    write_out(out, exported, summary, store)
    left = [f"{p.net} s{p.seed}" for p in queue]
    log(f"{len(exported) - n_before} records exported in this call, {len(exported)} in {out}/records.tar.gz; "
        f"not started: {', '.join(left) or 'none'}")
    return 0


def _loop(a, queue, running, measured, exported, summary, stores, out, deadline, estimate) -> None:
    while queue or running:
        now = time.time()
        for p in list(running):
            rc = p.proc.poll()
            if rc is None:
                continue
            running.remove(p)
            took = now - p.t0
            if rc == 0:
                files = export(p, stores)
                exported += files
                measured[p.net] = max(measured.get(p.net, 0.0), took)
                shutil.rmtree(p.dir, ignore_errors=True)
                log(f"done     {p} in {took:.0f} s: {len(files)} records exported")
                summary["pairs"].append(dict(net=p.net, seed=p.seed, status="exported", seconds=round(took),
                                             records=[str(f) for f in files]))
            else:
                tail = (p.dir / "log.txt").read_text()[-1500:]
                log(f"FAILED   {p} (exit {rc}) after {took:.0f} s; its records are not exported. Log tail:\n{tail}")
                summary["pairs"].append(dict(net=p.net, seed=p.seed, status=f"failed (exit {rc})",
                                             seconds=round(took), log_tail=tail))
            write_out(out, exported, summary, stores[1])
        remaining = deadline - time.time()
        if remaining <= 0:
            for p in running:
                p.stop()
                log(f"stopped  {p} at the deadline; finished runs stay in {p.dir} for the next "
                    "call on this node")
                summary["pairs"].append(dict(net=p.net, seed=p.seed, status="stopped at deadline",
                                             seconds=round(time.time() - p.t0)))
            running.clear()
            break
        for p in list(queue):
            if len(running) >= int(_per_net(a.jobs, p.net) or 1):
                break
            if estimate(p.net) * a.safety > remaining and not a.span:
                continue  # does not fit: a cheaper pair further down may
            queue.remove(p)
            p.start()
            running.append(p)
            log(f"start    {p} (estimate {estimate(p.net):.0f} s, {remaining:.0f} s left): {' '.join(p.command()[2:])}")
        if not running:
            break
        time.sleep(a.poll)


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
    """Write or update the record of one call of gpu_paper.sh, ``<results>/<profile>/gpu_call/<start>-call<N>.json``:
    which GPU, when, the time spent inside the call (``elapsed_s``, from the script's start; the node's
    start-up and the transfers are outside it), the bench records it wrote and the (net, seed)
    pairs its sweep finished or stopped, with their seconds (the sweep's summary.json). gpu_paper.sh writes
    it at the start, after every bench step and at the end (``--final``: ``complete``); a call cut off at the
    job's time limit keeps ``complete: false`` and the time up to its last update, a lower bound. The
    reproducibility chapter adds these up into the GPU time of the paper profile."""
    started = time.gmtime(a.started)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", started) + f"-call{a.call}"
    path = Path(a.results_dir) / a.profile / "gpu_call" / f"{run_id}.json"
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        import platform

        import torch  # once per call, on its first write

        from lbgap import __version__ as version
        from lbgap.core.records import git_commit  # LBGAP_GIT_COMMIT on the node (no .git there)
        gpu = _gpu_name(a.device)
        rec = dict(schema=1, kind="gpu_call", run_id=run_id, call=str(a.call), profile=a.profile,
                   device=gpu, budget_s=a.budget, provenance=dict(
                       lbgap_version=version, git_commit=git_commit(),
                       torch_version=torch.__version__, python=platform.python_version(),
                       device=gpu, started=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", started)))
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
    rec["provenance"].update(finished=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), wall_time_s=elapsed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def cmd_call_record(a) -> int:
    path = call_record(a)
    rec = json.loads(path.read_text())
    print(f"call record {path.name}: {rec['elapsed_s']:.0f} s on {rec['device']}"
          + (" (final)" if rec["complete"] else ""))
    return 0


# ---------------------------------------------------------------------------------------------- collect
def cmd_collect(a) -> int:
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
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_suffix(".json.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, dst)
                n_new += 1
    print(f"collected {n_new} new records into data/results ({n_old} already present)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("carry", help="(before a job) fill .carry/ with part N of the packed data")
    p.add_argument("part", type=int, help="1: MNIST + CIFAR-10 mosaics 0-1, 2: the rest of CIFAR-10, "
                   "3: speechocean762")
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
    p.add_argument("--poll", type=float, default=2.0)
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
    p = sub.add_parser("collect", help="(after a job) unpack a call's records.tar.gz into data/results")
    p.add_argument("dir")
    p.set_defaults(func=cmd_collect)
    a = ap.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
