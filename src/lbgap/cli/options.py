"""Options and helpers that several commands share. Only argparse here: nothing heavy is imported until a
command runs, so ``lbgap --help`` stays fast."""
from __future__ import annotations

import argparse
import math
import re


class UserError(Exception):
    """Bad input found by a command: printed as one ``lbgap: error:`` line, exit status 2."""


# ------------------------------------------------------------------------- argument types (syntax only)
# Each ``type=`` function returns the parsed value or raises ``ArgumentTypeError`` with what is accepted;
# what needs the library (does the network exist, does the batch size fit the data) is checked there
# (``ConfigError`` / ``DataError``), so Python callers get the same checks.
def _int(text: str, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} {text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """A whole number >= 1 (threads, epochs, points, ...)."""
    value = _int(text, "value")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number of at least 1")
    return value


def count_or_all(text: str) -> int:
    """A whole number >= 0, where 0 means "all" (``--train-examples``)."""
    value = _int(text, "value")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (all) or a positive whole number")
    return value


def seed(text: str) -> int:
    value = _int(text, "seed")
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed {text!r} must be a non-negative whole number, e.g. 0")
    return value


_SEEDS = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def seeds(text: str) -> str:
    """Seeds as ``0-4`` (a range) or ``0,2,5`` (a list), non-negative; kept as text (``sweep.parse_seeds``)."""
    spec = str(text).replace(" ", "")
    ok = bool(_SEEDS.fullmatch(spec))
    for part in spec.split(",") if ok else ():
        lo, _, hi = part.partition("-")
        ok = ok and (not hi or int(hi) >= int(lo))
    if not ok:
        raise argparse.ArgumentTypeError(f"seeds {text!r} must look like '0-4' (first <= last) or '0,1,2' "
                                         "(non-negative whole numbers)")
    return spec


def positive_float(text: str) -> float:
    """A finite number > 0 (``--eps``, ``--lr``)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number, e.g. 1e-3")
    return value


def batch_size(text: str) -> str:
    """``SB``, ``LB``, a whole number >= 1 or a percentage in (0%, 100%]; kept as text (the library turns it
    into a size once it knows the training set: ``config.resolve_batch_size``)."""
    spec = str(text).strip()
    accepted = "give a whole number >= 1, a percentage in (0%, 100%] like 10%, SB or LB"
    if spec.upper() in ("SB", "LB"):
        return spec
    try:
        value = float(spec[:-1]) if spec.endswith("%") else int(spec)
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch size {spec!r} is not understood: {accepted}") from None
    if spec.endswith("%") and not (math.isfinite(value) and 0 < value <= 100):
        raise argparse.ArgumentTypeError(f"batch size {spec} is outside (0%, 100%]: {accepted}")
    if not spec.endswith("%") and value < 1:
        raise argparse.ArgumentTypeError(f"batch size {spec} is below 1: {accepted}")
    return spec


def profile_name(text: str) -> str:
    from lbgap.core.config import PROFILES   # dataclasses and json only

    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"unknown profile {text!r}: choose one of {', '.join(PROFILES)}")
    return text


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def device(text: str) -> str:
    if not _DEVICE.fullmatch(str(text)):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: give auto, cpu, cuda or cuda:N")
    return text


def tag(text: str) -> str:
    from lbgap.core.paths import SAFE_NAME

    if not SAFE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"tag {text!r} is not allowed: use letters, digits and . _ + - only "
                                         "(no slashes or spaces, no leading dot)")
    return text


def results_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", default=None, help="record store (default: data/results in the repo)")


def store_options(p: argparse.ArgumentParser, threads: int | None = None, force: bool = True) -> None:
    """Options every record-writing subcommand shares: ``--threads`` (applied by :func:`lbgap.cli.main`),
    ``--force`` (recompute what exists) and ``--results-dir``."""
    default = threads if threads else "torch's own"
    p.add_argument("--threads", type=positive_int, default=threads, help=f"torch CPU threads (default {default})")
    p.set_defaults(writes_records=True)   # lbgap.cli.main checks the record store before the command runs
    if force:
        p.add_argument("--force", action="store_true", help="recompute even if a record exists")
    results_arg(p)


def batch_study_options(p: argparse.ArgumentParser, batches: str, default_seeds: str = "0-2") -> None:
    """The options of the per-batch-size studies (gradient norm, cost): network, seeds, batch sizes, profile
    (default quick), device and :func:`store_options`."""
    p.add_argument("--net", default="F1", help="F1 F2 C1 C2 C3 C4 (default F1)")
    p.add_argument("--seeds", default=default_seeds, type=seeds,
                   help=f"seeds: a range like 0-2 or a list (default {default_seeds})")
    p.add_argument("--batches", default=batches, help=f"comma list of batch sizes, 'LB' or a percentage "
                                                     f"(default {batches})")
    p.add_argument("--profile", default="quick", type=profile_name, help="smoke | quick | paper (default quick)")
    p.add_argument("--device", default=None, type=device, help="auto | cpu | cuda[:N] (default: the profile's)")
    store_options(p)


def experiment_options(p: argparse.ArgumentParser) -> None:
    """The tail every figure/table sweep (threshold, trajectory, remedy, warmstart) shares: where f is
    evaluated, profile, device, and :func:`store_options`."""
    p.add_argument("--train-examples", type=count_or_all, default=0,
                   help="sharpness f on N training examples (0 = the whole training set, the paper's definition)")
    p.add_argument("--profile", default="paper", type=profile_name, help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, type=device, help="auto | cpu | cuda[:N] (default: the profile's)")
    store_options(p)


def run_options(p: argparse.ArgumentParser) -> None:
    """How a training run is configured (``train`` and ``sweep table2``), then :func:`store_options`."""
    p.add_argument("--profile", default="paper", type=profile_name, help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, type=device, help="auto | cpu | cuda[:N] (default: the profile's)")
    p.add_argument("--split", default=None, choices=["official", "holdout"],
                   help="evaluation split (default: official where the test set is complete, else holdout)")
    p.add_argument("--bn", default=None, choices=["batch", "running"], help="BatchNorm semantics (default batch)")
    p.add_argument("--max-epochs", type=positive_int, default=None, help="override the profile's epoch cap")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="auto | fp32 | bf16 (default: the profile's; auto = bf16 autocast on CUDA, fp32 on a CPU)")
    p.add_argument("--compile", default=None, help="torch.compile mode of the training step: default | "
                   "reduce-overhead | max-autotune (default: eager)")
    p.add_argument("--tag", default=None, type=tag, help="variant name appended to the run id (letters, digits, "
                   ". _ + -)")
    p.add_argument("--inner-steps", type=positive_int, default=None,
                   help="optimizer steps per batch (default 1; conservative training, Appendix E.2: 3)")
    p.add_argument("--prox", type=float, default=None,
                   help="proximal weight lambda of Eq. 5 (default 0 = off; Appendix E.2: 1e-3)")
    p.add_argument("--augment", default=None, choices=["paper"],
                   help="data augmentation of Appendix E.1 (conv nets only; default none)")
    store_options(p)


def run_overrides(a: argparse.Namespace) -> dict:
    """The :func:`run_options` (and ``train``'s --lr/--optimizer/--dataset) as config overrides."""
    train_only = {"lr": a.lr, "optimizer": a.optimizer, "dataset": a.dataset} if hasattr(a, "lr") else {}
    return dict(device=a.device, split=a.split, bn=a.bn, max_epochs=a.max_epochs, precision=a.precision,
                tag=a.tag, compile=a.compile, inner_steps=a.inner_steps, prox=a.prox, augment=a.augment, **train_only)


def executor_options(p: argparse.ArgumentParser) -> None:
    """Which executor runs a grid (``lbgap.core.sweep.EXECUTORS``) and the submitit/SLURM resources."""
    p.add_argument("--executor", default="serial", help="serial (this process) | local (one worker process per GPU, "
                   "or --workers CPU processes) | submitit (one SLURM job array)")
    p.add_argument("--workers", type=positive_int, default=None, help="local executor: number of processes")
    p.add_argument("--dry-run", action="store_true", help="print what would run (submitit: the job array and its "
                   "sbatch script) without running or submitting anything")
    g = p.add_argument_group("submitit executor (SLURM); defaults come from the profile, see lbgap.core.cluster")
    g.add_argument("--slurm-partition", default=None, help="SLURM partition (default: the cluster's default)")
    g.add_argument("--slurm-time", default=None, help="time limit per task: minutes, HH:MM:SS or D-HH:MM:SS")
    g.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per task")
    g.add_argument("--slurm-cpus", type=int, default=None, help="CPUs per task")
    g.add_argument("--slurm-mem", default=None, help="memory per task, e.g. 32G")
    g.add_argument("--slurm-parallelism", type=int, default=None, help="at most this many tasks at once")
    g.add_argument("--slurm-extra", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. account=myproj or qos=high (repeatable)")
    g.add_argument("--wait", action="store_true", help="block until the array's tasks end (then --post runs)")
    g.add_argument("--submitit-cluster", default="slurm", choices=["slurm", "local", "debug"],
                   help="local: run the array as subprocesses of this machine (testing)")


def executor_kwargs(a: argparse.Namespace) -> dict:
    """The keyword arguments of ``sweep.make_executor(a.executor, ...)``; options of another executor are
    an error."""
    slurm = dict(partition=a.slurm_partition, time=a.slurm_time, gpus=a.slurm_gpus, cpus=a.slurm_cpus,
                 mem=a.slurm_mem, parallelism=a.slurm_parallelism)
    if a.executor != "submitit":
        if any(v is not None for v in slurm.values()) or a.slurm_extra or a.wait or a.submitit_cluster != "slurm":
            raise UserError("--slurm-*, --wait and --submitit-cluster options need --executor submitit")
        if a.workers is not None and a.executor != "local":
            raise UserError("--workers needs --executor local")
        return {"workers": a.workers} if a.executor == "local" and a.workers else {}
    bad = [e for e in a.slurm_extra if "=" not in e or not e.split("=", 1)[0].strip()]
    if bad:
        raise UserError(f"--slurm-extra {bad[0]!r} must look like KEY=VALUE, e.g. account=myproj")
    extra = dict(e.split("=", 1) for e in a.slurm_extra)
    return dict(slurm, extra=extra or None, wait=a.wait, cluster=a.submitit_cluster)


def check_checkpoints(*configs, results_dir=None, which: tuple[str, ...] = ("x0", "final")) -> None:
    """Before a measure loads a run's saved weights: each existing ``which`` checkpoint of each run config is an
    intact zip (``torch.save``'s format; its CRCs are read, nothing is unpickled), else one line saying which
    file and how to recompute it. A missing checkpoint (or record) is left to the measure (it may not need it).
    ``results_dir``: the record store whose training records name the checkpoints."""
    import zipfile

    from lbgap.core import runs

    for cfg in configs:
        for w in which:
            try:
                path = runs.checkpoint_path(cfg, w, results_dir)
            except (ValueError, OSError):
                continue   # no such record or run: the measure itself says so
            if not path.is_file():
                continue
            try:
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                bad = str(e) or type(e).__name__
            if bad is not None:
                raise UserError(f"checkpoint {path} is unreadable (truncated or corrupt: {bad}); recompute it with "
                                f"`lbgap train --net {cfg.net} --batch-size {cfg.batch_size} --seed {cfg.seed} "
                                f"--profile {cfg.profile}" + (f" --tag {cfg.tag}" if cfg.tag else "") + " --force`")


def trained_run(a):
    """The record store and run config that ``a.run`` (a run id or a train record path) names under
    ``a.profile``, its saved weights checked first (:func:`check_checkpoints`): what a measure of one trained run
    (sharpness, eval-order) starts from."""
    from lbgap.core import paths, runs

    results_dir = paths.resolve(a.results_dir, paths.RESULTS_DIR)
    cfg = runs.resolve(a.run, a.profile, results_dir).config
    check_checkpoints(cfg, results_dir=results_dir)
    return results_dir, cfg


def sweep_exit(what: str, outcomes) -> int:
    """Print a sweep's one-line summary; exit status 1 if any run failed."""
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"{what}: {len(outcomes)} runs, {len(failed)} failed")
    return 1 if failed else 0
