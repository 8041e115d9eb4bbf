"""Sweeps on a SLURM cluster through submitit: one job array per sweep (``executor.map_array``).

Each array task runs :func:`lbgap.core.sweep.run_one` for one run of the grid (for ``table2``: Table 2's
networks x {SB, LB} x seeds), so a task on a compute node behaves exactly like a run in the ``serial`` or
``local`` executor: the record is written atomically into the shared record store, the run holds a claim
while in flight (a second sweep, from any machine, does not start it again), and a failure leaves
``failed/<run_id>.json`` with its error lines for ``lbgap status``. Only runs that have no record and no live
claim are submitted, so resubmitting a sweep resumes it. A task that SLURM preempts, or whose time limit
nears (submitit's signal), is requeued through submitit's checkpoint protocol (:class:`RequeuedRun`) and its
run goes on from the training state it saved (``resume.ResumeState``), not from epoch 0.

Resources come from the profile (:data:`RESOURCES`: one GPU, 8 CPUs and 32 GB per paper run, and a time
limit per network; the array gets the largest limit among the sweep's networks), each overridable from the
command line. ``lbgap sweep table2 --executor submitit --dry-run`` prints the array and the sbatch script
without submitting anything, and works on a machine without SLURM.
"""
from __future__ import annotations

import logging
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lbgap.core import paths
from lbgap.core import records
from lbgap.core import sweep
from lbgap.core.config import RunConfig
from lbgap.core.sweep import Outcome

# Per run: GPUs, CPUs, memory, and a wall-clock limit in minutes per network. The limits are budgets with
# several-fold slack over rough single-GPU estimates (paper profile: SB <= 100 epochs, LB <= 300 epochs,
# each evaluated on the full training and test sets every epoch); override with --slurm-time.
RESOURCES: dict[str, dict] = {
    "smoke": dict(gpus=0, cpus=1, mem_gb=4, minutes=dict(F1=10, F2=10, C1=10, C2=10, C3=10, C4=10)),
    "quick": dict(gpus=1, cpus=4, mem_gb=16, minutes=dict(F1=15, F2=20, C1=20, C2=30, C3=20, C4=30)),
    "paper": dict(gpus=1, cpus=8, mem_gb=32, minutes=dict(F1=30, F2=120, C1=60, C2=180, C3=60, C4=180)),
}

logger = logging.getLogger(__name__)


def parse_time(text: str | int | None) -> int | None:
    """SLURM time formats -> minutes: ``90``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    if text is None or isinstance(text, int):
        return text
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if not m:
        raise ValueError(f"time limit {text!r} is not a SLURM time: use minutes (90), HH:MM:SS (4:00:00) "
                         "or D-HH:MM:SS (1-00:00:00)")
    d, a, b, c = m.groups()
    if d is not None:
        parts = [int(a), int(b or 0), int(c or 0)]                       # days-hours[:minutes[:seconds]]
        minutes = int(d) * 1440 + parts[0] * 60 + parts[1] + (parts[2] > 0)
    elif c is not None:
        minutes = int(a) * 60 + int(b) + (int(c) > 0)                    # hours:minutes:seconds
    elif b is not None:
        minutes = int(a) + (int(b) > 0)                                  # minutes:seconds
    else:
        minutes = int(a)
    if minutes < 1:
        raise ValueError(f"time limit {text!r} must be at least one minute")
    return minutes


def parse_mem(text: str | float | None) -> float | None:
    """``32G``, ``32GB``, ``500M``, ``32`` (GB) -> GB."""
    if text is None or isinstance(text, (int, float)):
        return text
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([MmGgTt]?)[Bb]?", str(text).strip())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"memory {text!r} must look like 32G, 500M or 32 (GB)")
    return float(m.group(1)) * {"": 1, "M": 1 / 1024, "G": 1, "T": 1024}[m.group(2).upper()]


def _fmt_time(minutes: int) -> str:
    d, rest = divmod(minutes, 1440)
    return (f"{d}-" if d else "") + f"{rest // 60}:{rest % 60:02d}:00"


@dataclass
class Resources:
    """What each task of the array asks SLURM for."""

    gpus: int
    cpus: int
    mem_gb: float
    minutes: int
    partition: str | None = None
    parallelism: int | None = None      # at most this many tasks at once (SLURM's %N)
    extra: dict = field(default_factory=dict)
    limit_from: str = ""                # which network set the time limit

    def describe(self) -> str:
        """One line: GPUs, CPUs, memory, time limit (and where it came from), partition."""
        gpu = f"{self.gpus} GPU" + ("s" if self.gpus != 1 else "")
        return (f"{gpu}, {self.cpus} CPU{'s' if self.cpus != 1 else ''}, {self.mem_gb:g} GB, time limit {_fmt_time(self.minutes)}"
                + (f" ({self.limit_from})" if self.limit_from else "")
                + f", partition {self.partition or '(cluster default)'}")

    def sbatch(self, job_name: str, n: int) -> dict:
        """The parameters of submitit's SlurmExecutor (sbatch names)."""
        mem = f"{int(self.mem_gb)}GB" if self.mem_gb == int(self.mem_gb) else f"{int(self.mem_gb * 1024)}MB"
        p = dict(job_name=job_name, time=self.minutes, nodes=1, ntasks_per_node=1, cpus_per_task=self.cpus,
                 mem=mem, gpus_per_node=self.gpus or None, partition=self.partition,
                 array_parallelism=self.parallelism or n, additional_parameters=self.extra or None)
        return {k: v for k, v in p.items() if v is not None}


def resources_for(grid: Sequence[RunConfig], partition: str | None = None, time: str | int | None = None,
                  gpus: int | None = None, cpus: int | None = None, mem: str | float | None = None,
                  parallelism: int | None = None, extra: dict | None = None) -> Resources:
    """The profile's resources for this grid, with the command line's overrides."""
    profiles = {c.profile for c in grid}
    table = RESOURCES.get(next(iter(profiles)) if len(profiles) == 1 else "paper", RESOURCES["paper"])
    nets = sorted({c.net for c in grid}, key=lambda n: -table["minutes"].get(n, 60))
    minutes, limit_from = table["minutes"].get(nets[0], 60) if nets else 60, f"the slowest network, {nets[0]}" if nets else ""
    if time is not None:
        minutes, limit_from = parse_time(time), "--slurm-time"
    for name, value in (("gpus", gpus), ("cpus", cpus), ("parallelism", parallelism)):
        if value is not None and value < (0 if name == "gpus" else 1):
            raise ValueError(f"--slurm-{name} {value} must be {'>= 0' if name == 'gpus' else 'at least 1'}")
    return Resources(gpus=table["gpus"] if gpus is None else gpus, cpus=cpus or table["cpus"],
                     mem_gb=parse_mem(mem) or table["mem_gb"], minutes=minutes, partition=partition,
                     parallelism=parallelism, extra=dict(extra or {}), limit_from=limit_from)


class RequeuedRun:
    """An array task's function (:func:`lbgap.core.sweep.run_one`) that submitit requeues, with the same
    arguments, when the task is preempted or times out (``checkpoint``, as ``submitit.helpers.Checkpointable``
    does); the run it trains resumes from its last saved state (``resume.ResumeState``)."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        from lbgap.core.logs import log_to_stdout

        log_to_stdout()   # the job's log file shows what the run says (e.g. that it resumed)
        return self.fn(*args, **kwargs)

    def checkpoint(self, *args, **kwargs):
        """submitit's hook on preemption or timeout: requeue the same call (the run resumes from its saved state)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(paths.REPO_ROOT)) if path.is_relative_to(paths.REPO_ROOT) else str(path)


class SubmititExecutor:
    """One submitit job array per sweep. ``cluster="slurm"`` submits and returns (``wait=True`` blocks until
    the tasks end); ``"local"`` runs the array as subprocesses of this machine (submitit's LocalExecutor,
    used by the tests) and always waits."""

    name = "submitit"

    def __init__(self, cluster: str = "slurm", wait: bool | None = None, partition: str | None = None,
                 time: str | int | None = None, gpus: int | None = None, cpus: int | None = None,
                 mem: str | float | None = None, parallelism: int | None = None, extra: dict | None = None):
        if cluster not in ("slurm", "local", "debug"):
            raise ValueError(f"submitit cluster {cluster!r}: choose slurm, local or debug")
        self.cluster = cluster
        self.wait = True if cluster != "slurm" else bool(wait)
        self.options = dict(partition=partition, time=time, gpus=gpus, cpus=cpus, mem=mem,
                            parallelism=parallelism, extra=extra)
        parse_time(time), parse_mem(mem)  # bad values fail now, before anything is written
        self.sweep, self.folder = "sweep", None

    def prepare(self, grid: Sequence[RunConfig], name: str, folder: Path) -> None:
        """Called by run_grid before anything is written: fail early where nothing can be submitted."""
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ValueError("the submitit executor needs the submitit package: pip install 'lbgap[cluster]'") from None
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ValueError("no SLURM here (sbatch is not on PATH): submit from the cluster's login node, use "
                             "--dry-run to see the job array, or --executor local to run on this machine")
        self._setup(grid, name, folder)

    def _setup(self, grid: Sequence[RunConfig], name: str, folder: Path) -> None:
        self.sweep, self.folder, self.resources = name, Path(folder), resources_for(grid, **self.options)

    def _executor(self):
        import submitit

        r = self.resources
        ex = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        params = dict(name=f"lbgap-{self.sweep}", timeout_min=r.minutes, nodes=1, tasks_per_node=1,
                      cpus_per_task=r.cpus, mem_gb=r.mem_gb, gpus_per_node=r.gpus)
        if self.cluster == "slurm":
            params.update(slurm_partition=r.partition, slurm_array_parallelism=r.parallelism,
                          slurm_additional_parameters=r.extra or None)
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def map(self, fn: Callable, items: list) -> Iterable[Outcome]:
        """Submit the items not yet recorded as one job array and yield each item's :class:`Outcome` in order as its task ends."""
        if self.folder is None:  # used outside run_grid
            grid = [RunConfig.from_dict(i[0]) for i in items]
            self.prepare(grid, sweep.sweep_name("grid", grid), sweep.sweep_dir(items[0][1], grid[0].profile) / "logs")
        items = [(c, str(Path(rd).resolve()), f) for c, rd, f in items]  # tasks may run elsewhere
        from lbgap.core.train import existing_record

        ready: dict[int, Outcome] = {}
        todo: list[int] = []
        for i, (cfg_dict, rd, force) in enumerate(items):
            cfg = RunConfig.from_dict(cfg_dict)
            state, info = sweep.run_state(rd, cfg.profile, cfg.run_id)
            if state == "done" and not force:
                try:
                    existing_record(cfg, Path(rd))  # refuses a record of a different configuration
                    ready[i] = Outcome(cfg.run_id, "skipped")
                except ValueError as e:
                    ready[i] = Outcome(cfg.run_id, "failed", f"{type(e).__name__}: {e}")
            elif state == "running":
                ready[i] = Outcome(cfg.run_id, "running", f"in flight on {info.get('host', '?')} "
                                                          f"(pid {info.get('pid', '?')})")
            else:
                todo.append(i)
        jobs = {}
        if todo:
            ex = self._executor()
            submitted = ex.map_array(RequeuedRun(fn), *zip(*[items[i] for i in todo]))
            jobs = dict(zip(todo, submitted))
            array_id = str(submitted[0].job_id).split("_")[0]
            logger.info(f"submitit ({self.cluster}): job array {array_id}, {len(todo)} tasks, "
                         f"{self.resources.describe()}; logs in {_rel(self.folder)}")
        try:
            for i in range(len(items)):
                if i in ready:
                    yield ready[i]
                    continue
                job, run_id = jobs[i], RunConfig.from_dict(items[i][0]).run_id
                if not self.wait:
                    yield Outcome(run_id, "submitted", f"job {job.job_id}")
                    continue
                try:
                    yield job.result()
                except Exception as e:  # noqa: BLE001 - the task died (killed, timed out, node failure)
                    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                    yield Outcome(run_id, "failed", f"JobDied: submitit job {job.job_id} ended without a result "
                                                    f"({first[:200]}); its log: {_rel(job.paths.stderr)}")
        finally:
            if self.cluster != "slurm":  # local tasks must not outlive the sweep (SLURM ones do)
                for job in jobs.values():
                    if not job.done():
                        job.cancel(check=False)

    def dry_run(self, grid: Sequence[RunConfig], results_dir: str | Path | None, label: str,
                force: bool = False) -> list[str]:
        """What would be submitted, as lines: the runs, the resources, the array and the sbatch script."""
        results_dir = records.store_root(results_dir).resolve()
        name = sweep.sweep_name(label, grid)
        self._setup(grid, name, sweep.sweep_dir(results_dir, grid[0].profile) / "logs" / name)
        states = [sweep.run_state(results_dir, c.profile, c.run_id)[0] for c in grid]
        todo = [c for c, s in zip(grid, states) if (force and s != "running") or s in ("missing", "failed")]
        nets, regimes, seeds = (sorted({getattr(c, k) for c in grid}, key=str) for k in ("net", "regime", "seed"))
        count = {s: states.count(s) for s in ("done", "running", "failed", "missing")}
        r = self.resources
        lines = [f"submitit dry run (nothing submitted): sweep {name}, profile {grid[0].profile}",
                 f"grid: {len(grid)} runs = {len(nets)} nets x {len(regimes)} regimes x {len(seeds)} seeds; "
                 + ", ".join(f"{v} {k}" for k, v in count.items()),
                 f"job array: {len(todo)} tasks" + (f" (0-{len(todo) - 1}%{r.parallelism or len(todo)})" if todo else "")
                 + f"; each task: {r.describe()}",
                 f"logs: {_rel(self.folder)}/<array id>_<task>/"]
        if todo:
            lines.append(f"{'task':>4}  {'run id':<36} {'net':<3} {'regime':<6} {'batch':>5} {'seed':>4} "
                         f"{'epochs':>6}")
            for k, c in enumerate(todo):
                lines.append(f"{k:>4}  {c.run_id:<36} {c.net:<3} {c.regime or '-':<6} {c.batch_size:>5} "
                             f"{c.seed:>4} {c.max_epochs:>6}")
            lines += ["sbatch script submitit would submit:", *self._sbatch_text(len(todo)).rstrip().splitlines()]
        return lines

    def _sbatch_text(self, n: int) -> str:
        try:
            from submitit.slurm.slurm import _make_sbatch_string
        except ImportError:
            return "(install submitit to see it: pip install 'lbgap[cluster]')"
        command = f"{sys.executable} -u -m submitit.core._submit {self.folder / '%j'}"
        return _make_sbatch_string(command=command, folder=self.folder / "%j", map_count=n,
                                   **self.resources.sbatch(f"lbgap-{self.sweep}", n))
