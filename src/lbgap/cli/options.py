"""Options and helpers that several commands share. Only argparse here: nothing heavy is imported until a
command runs, so ``lbgap --help`` stays fast."""
from __future__ import annotations

import argparse


class UserError(Exception):
    """Bad input found by a command: printed as one ``lbgap: error:`` line, exit status 2."""


def results_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", default=None, help="record store (default: data/results in the repo)")


def store_options(p: argparse.ArgumentParser, threads: int | None = None, force: bool = True) -> None:
    """Options every record-writing subcommand shares: ``--threads`` (applied by :func:`lbgap.cli.main`),
    ``--force`` (recompute what exists) and ``--results-dir``."""
    default = threads if threads else "torch's own"
    p.add_argument("--threads", type=int, default=threads, help=f"torch CPU threads (default {default})")
    if force:
        p.add_argument("--force", action="store_true", help="recompute even if a record exists")
    results_arg(p)


def experiment_options(p: argparse.ArgumentParser) -> None:
    """The tail every figure/table sweep (threshold, trajectory, remedy, warmstart) shares: where f is
    evaluated, profile, device, and :func:`store_options`."""
    p.add_argument("--train-examples", type=int, default=0,
                   help="sharpness f on N training examples (0 = the whole training set, the paper's definition)")
    p.add_argument("--profile", default="paper", help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda[:N] (default: the profile's)")
    store_options(p)


def run_options(p: argparse.ArgumentParser) -> None:
    """How a training run is configured (``train`` and ``sweep table2``), then :func:`store_options`."""
    p.add_argument("--profile", default="paper", help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda[:N] (default: the profile's)")
    p.add_argument("--split", default=None, choices=["official", "holdout"],
                   help="evaluation split (default: official where the test set is complete, else holdout)")
    p.add_argument("--bn", default=None, choices=["batch", "running"], help="BatchNorm semantics (default batch)")
    p.add_argument("--max-epochs", type=int, default=None, help="override the profile's epoch cap")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"])
    p.add_argument("--compile", default=None, help="torch.compile mode of the training step: default | "
                   "reduce-overhead | max-autotune (default: eager)")
    p.add_argument("--tag", default=None, help="variant name appended to the run id")
    p.add_argument("--inner-steps", type=int, default=None,
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
    p.add_argument("--workers", type=int, default=None, help="local executor: number of processes")
    p.add_argument("--dry-run", action="store_true", help="print what would run (submitit: the job array and its "
                   "sbatch script) without running or submitting anything")
    g = p.add_argument_group("submitit executor (SLURM); defaults come from the profile, see lbgap.core.cluster")
    g.add_argument("--slurm-partition", default=None)
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


def sweep_exit(what: str, outcomes) -> int:
    """Print a sweep's one-line summary; exit status 1 if any run failed."""
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"{what}: {len(outcomes)} runs, {len(failed)} failed")
    return 1 if failed else 0
