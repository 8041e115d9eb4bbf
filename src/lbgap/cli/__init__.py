"""Command line: ``lbgap train | sweep | status | models | data`` (+ commands that feature modules add).

Every command that reads or writes records takes ``--results-dir`` (default ``data/results``). Bad input
exits with status 2 and one sentence on stderr; nothing is written in that case.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from lbgap.core import paths

# Feature modules that may add subcommands: each defines ``register_cli(sub, sweep_sub)``.
PLUGINS = ("lbgap.measures.sharpness", "lbgap.measures.landscape", "lbgap.core.speech", "lbgap.measures.noise", "lbgap.studies.steps", "lbgap.studies.threshold",
           "lbgap.studies.remedies", "lbgap.studies.trajectory", "lbgap.studies.warmstart", "lbgap.studies.bench", "lbgap.core.cluster")


class UserError(Exception):
    pass


def _results_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", default=None, help="record store (default: data/results in the repo)")


def store_options(p: argparse.ArgumentParser, threads: int | None = None, force: bool = True) -> None:
    """Options every record-writing subcommand shares: ``--threads`` (applied by :func:`main`), ``--force``
    (recompute what exists) and ``--results-dir``."""
    default = threads if threads else "torch's own"
    p.add_argument("--threads", type=int, default=threads, help=f"torch CPU threads (default {default})")
    if force:
        p.add_argument("--force", action="store_true", help="recompute even if a record exists")
    _results_arg(p)


def experiment_options(p: argparse.ArgumentParser) -> None:
    """The tail every figure/table sweep (threshold, trajectory, remedy) shares: where f is evaluated, profile,
    device, and :func:`store_options`."""
    p.add_argument("--train-examples", type=int, default=0,
                   help="sharpness f on N training examples (0 = the whole training set, the paper's definition)")
    p.add_argument("--profile", default="paper", help="smoke | quick | paper (default paper)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda[:N] (default: the profile's)")
    store_options(p)


def sweep_exit(what: str, outcomes) -> int:
    """Print a sweep's one-line summary; exit status 1 if any run failed."""
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"{what}: {len(outcomes)} runs, {len(failed)} failed")
    return 1 if failed else 0


def _run_options(p: argparse.ArgumentParser) -> None:
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


def _overrides(a: argparse.Namespace) -> dict:
    train_only = {"lr": a.lr, "optimizer": a.optimizer, "dataset": a.dataset} if hasattr(a, "lr") else {}
    return dict(device=a.device, split=a.split, bn=a.bn, max_epochs=a.max_epochs, precision=a.precision,
                tag=a.tag, compile=a.compile, inner_steps=a.inner_steps, prox=a.prox, augment=a.augment, **train_only)


def _epoch_line(cfg):
    """One progress line per epoch on stderr when it is not a terminal (a log file), where tqdm's bar is off."""
    def line(row: dict) -> None:
        print(f"{cfg.run_id} epoch {row['epoch']}/{cfg.max_epochs}: train loss {row['train_loss']:.4f}, "
              f"train acc {row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, {row['time_s']:.0f} s",
              file=sys.stderr, flush=True)
    return line


def cmd_train(a: argparse.Namespace) -> int:
    from lbgap.core.train import make_config, train

    cfg = make_config(a.net, a.batch_size, a.seed, a.profile, **_overrides(a))
    rec = train(cfg, a.results_dir, force=a.force, on_epoch=None if sys.stderr.isatty() else _epoch_line(cfg))
    if rec.get("skipped"):
        print(f"skipped {cfg.run_id}: a record exists (use --force to rerun)")
        return 0
    f = rec["final"]
    print(f"{cfg.run_id}: {rec['status']} after {rec['epochs']} epochs ({rec['stop_reason']}); "
          f"train acc {f['train_acc']:.4f}, test acc {f['test_acc']:.4f}; "
          f"{rec['samples_per_s']:.0f} samples/s on {rec['provenance']['device']}")
    return 0 if rec["status"] == "ok" else 1


def cmd_sweep_table2(a: argparse.Namespace) -> int:
    from lbgap.core import sweep

    grid = sweep.table2_grid(a.profile, sweep.parse_seeds(a.seeds), a.nets, **_overrides(a))
    post = [p for p in (a.post or "").split(",") if p]
    kw = _executor_kwargs(a)
    if a.dry_run:
        return _dry_run(grid, a, kw, "table2")
    outcomes = sweep.run_grid(grid, a.results_dir, a.executor, force=a.force, post=post, label="table2", **kw)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed", "running", "submitted")}
    print(f"table2 sweep ({a.profile}): {len(grid)} runs: "
          + ", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("done", "skipped", "failed"))
          + (" (running: in flight elsewhere, not started twice)" if counts["running"] else "")
          + (" (submitted: see `lbgap status`)" if counts["submitted"] else ""))
    return 1 if counts["failed"] else 0


def _executor_options(p: argparse.ArgumentParser) -> None:
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


def _executor_kwargs(a: argparse.Namespace) -> dict:
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


def _dry_run(grid: list, a: argparse.Namespace, kw: dict, label: str) -> int:
    from lbgap.core import sweep

    ex = sweep.make_executor(a.executor, **kw)
    if hasattr(ex, "dry_run"):
        lines = ex.dry_run(grid, a.results_dir, label, a.force)
    else:
        rd = a.results_dir if a.results_dir is not None else paths.RESULTS_DIR
        states = [sweep.run_state(rd, c.profile, c.run_id)[0] for c in grid]
        todo = [c for c, s in zip(grid, states) if (a.force and s != "running") or s in ("missing", "failed")]
        lines = [f"dry run ({a.executor} executor, nothing run): {len(grid)} runs, "
                 + ", ".join(f"{states.count(s)} {s}" for s in ("done", "running", "failed", "missing")),
                 f"would run {len(todo)}:"] + [f"  {c.run_id}" for c in todo]
    print("\n".join(lines))
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    import pandas as pd

    from lbgap.core import data
    from lbgap.core import records

    print("Data cache:")
    print(pd.DataFrame(data.status()).to_string(index=False))
    df = records.train_table(a.results_dir, a.profile)
    print("\nTraining records:" if len(df) else "\nTraining records: none")
    if len(df):
        # a variant (config tag: fig4, conservative, ...) is its own row, never counted with Table 2's runs
        g = df.groupby(["profile", "net", "regime", "variant"]).agg(
            runs=("seed", "size"), seeds=("seed", lambda s: ",".join(map(str, sorted(set(s))))),
            test_acc=("test_acc", "mean"), status=("status", lambda s: ",".join(sorted(set(s)))))
        print(g.to_string())
    missing = [n for n, d in (("C3", "cifar100"), ("C4", "cifar100")) if not any(r["dataset"] == d and r["usable"] != "no" and not r["usable"].startswith("no") for r in data.status())]
    if missing:
        print(f"\nNeeds CIFAR-100 (pixels not available here): {', '.join(missing)}; "
              "run `lbgap data download cifar100` where there is internet")
    for name in PLUGINS:
        mod = _plugin(name)
        if mod is not None and hasattr(mod, "status_lines"):
            for line in mod.status_lines(a.results_dir):
                print(line)
    return 0


def cmd_models(a: argparse.Namespace) -> int:
    import pandas as pd

    from lbgap.core.models import model_table

    print(pd.DataFrame(model_table()).to_string(index=False))
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from lbgap.core import data

    if a.action == "list":
        import pandas as pd

        print(pd.DataFrame(data.status()).to_string(index=False))
        return 0
    name = a.name.lower()
    if a.action == "download":
        path = data.download(name, a.root)
    elif a.from_ and a.data_dir:
        raise UserError("give either --from (a data pack) or --data-dir (torchvision files), not both")
    elif a.data_dir:
        path = data.import_data_dir(name, a.data_dir)
    else:
        src = a.from_ or str(paths.SHARED_DATA)
        if name in ("so762", "timit"):
            mod = _plugin("lbgap.core.speech")
            if mod is None:
                raise UserError(f"importing {name} needs the lbgap.core.speech module")
            path = mod.import_dataset(name, src)
        else:
            path = data.import_pack(name, src)
    print(f"{name}: cached at {path}")
    return 0


def _plugin(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lbgap", description="Keskar et al. (2017) reproduction: SB vs LB training")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one network at one batch size and seed")
    p.add_argument("--net", required=True, help="F1 F2 C1 C2 C3 C4")
    p.add_argument("--batch-size", required=True, help="an integer, a percentage like 10%%, or SB / LB")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--optimizer", default=None, choices=["adam", "sgd"])
    p.add_argument("--dataset", default=None, help="override the network's dataset (e.g. F2: so762 | timit)")
    _run_options(p)
    p.set_defaults(func=cmd_train)

    ps = sub.add_parser("sweep", help="run a grid of runs, skipping finished ones")
    sweep_sub = ps.add_subparsers(dest="grid", required=True)
    p = sweep_sub.add_parser("table2", help="networks x {SB, LB} x seeds (the paper's Table 2)")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--nets", default=None, help="comma-separated (default all six)")
    _executor_options(p)
    p.add_argument("--post", default=None, help="after each SB/LB pair: e.g. sharpness,landscape")
    _run_options(p)
    p.set_defaults(func=cmd_sweep_table2)

    p = sub.add_parser("status", help="what data and records exist")
    p.add_argument("--profile", default=None)
    _results_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("models", help="Table 1: the six networks and their parameter counts")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("data", help="get datasets into the cache")
    p.add_argument("action", choices=["download", "import", "list"])
    p.add_argument("name", nargs="?", default="", help="mnist | cifar10 | cifar100 | so762 | timit")
    p.add_argument("--from", dest="from_", default=None, help="a data pack folder (default ../shared/data)")
    p.add_argument("--data-dir", default=None, help="torchvision-format files already on disk")
    p.add_argument("--root", default=None, help="download: where torchvision keeps the raw files")
    p.set_defaults(func=cmd_data)

    for name in PLUGINS:
        mod = _plugin(name)
        if mod is not None and hasattr(mod, "register_cli"):
            mod.register_cli(sub, sweep_sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    from lbgap.core.data import DataError
    from lbgap.core.train import ConfigError

    ap = build_parser()
    a = ap.parse_args(argv)
    if a.command == "data" and a.action != "list" and not a.name:
        ap.error("data download/import needs a dataset name")
    if getattr(a, "threads", None):
        import torch

        torch.set_num_threads(a.threads)
    from lbgap.core.train import apply_float32_policy

    apply_float32_policy()   # float32 means IEEE float32 in every command (train.TF32)
    try:
        return int(a.func(a) or 0)
    except (UserError, ConfigError, DataError, ValueError, FileNotFoundError) as e:
        print(f"lbgap: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lbgap: interrupted; finished runs are kept, the interrupted one left no record", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
