"""Steps-to-target vs batch size (Shallue et al. 2019 protocol) and the critical batch size (McCandlish et al. 2018).

For each batch size B and optimizer, the learning rate is tuned on a small log grid (seed 0; grown by a notch at an
edge the optimum sits on), then more seeds are run at the best LR. A run trains F1 on the MNIST training set minus
a seeded 5,000-image hold-out (the validation set, ``split="holdout"``), or C1 on CIFAR-10's 45k/5k hold-out
(``net="C1"``: 10-15 min per run on one CPU thread up to B = 1,024, so its largest batches are a GPU node's work),
and evaluates validation accuracy on a geometric step schedule (each evaluation ~12 % more steps than the last).
Steps-to-target is the first crossing of the target accuracy, interpolated linearly in log(steps) between the two
bracketing evaluations; examples-to-target = B x steps.

The fits are McCandlish et al.'s (Eq. 2.11 / 2.12; paper notes section 10):

    S(B) = S_min (1 + B_crit / B),      E(B) = E_min (1 + B / B_crit),      B_crit = E_min / S_min,

done jointly as one least-squares fit of log S(B) with ``scipy.optimize.curve_fit`` (E = B S, so both
curves share S_min and B_crit); the 1-sigma errors come from the fit covariance and, more honestly, from a
bootstrap over seeds. Each run also records wall time per epoch, samples/s and the process RSS (the cost table).
"""
from __future__ import annotations

import logging
import math
import resource
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from lbgap.core import data as datamod
from lbgap.core import records
from lbgap.core.train import ConfigError, Progress, StopTraining, compute_device, evaluate, make_config, make_trainer

KIND = "steps"
NETS = ("F1", "C1")              # the networks the study runs: F1 (the chapter's) and C1 (the advice's calibration)
# per network: validation accuracies whose crossing is recorded (plus the run's own target), the study's target and
# its batch sizes. F1's 95 % is what a 2-core CPU could afford; C1's 70 % is reached within ~5 epochs at SB (its
# quick runs reach 75 % test accuracy in 5 epochs), so the largest batch (10 % of the data) still gets there.
TARGETS = {"F1": (0.95, 0.96, 0.97), "C1": (0.65, 0.70, 0.75)}
HEADLINES = {"F1": 0.95, "C1": 0.70}
BATCH_SIZES = {"F1": (16, 32, 64, 128, 256, 512, 1024, 2048, 5500), "C1": (32, 64, 128, 256, 512, 1024, 2048, 4500)}
HEADLINE = HEADLINES["F1"]       # the chapter's (F1) target
SEEDS = (0, 1, 2)                # the study's seeds: the first tunes the LR, the others rerun the best one
FIXED_LR = 1e-3                  # the paper's Adam learning rate: the fixed-LR protocol runs train >= 1 epoch
EVAL_RATIO = 1.12                # geometric evaluation schedule
MOMENTUM = 0.9                   # SGD + heavy-ball momentum, the second optimizer
MAX_EXTEND = 2                   # grid notches added beyond an edge on which the tuned optimum sits
logger = logging.getLogger(__name__)


def lr_grid(optimizer: str, batch_size: int) -> list[float]:
    """Three log-spaced learning rates per batch size (factor ~3), centred where the optimum is expected.

    Adam: 1e-3 (the paper's, fixed-LR protocol) is always in the grid; the grid moves up one notch for
    B >= 1024. SGD+momentum: centred on 0.1 * sqrt(B / 256) (square-root scaling, Hoffer et al. 2017).
    """
    if optimizer == "adam":
        base = [3e-4, 1e-3, 3e-3] if batch_size < 1024 else [1e-3, 3e-3, 1e-2]
        return base
    if optimizer == "sgd":
        c = 0.1 * math.sqrt(batch_size / 256)
        return [float(f"{c * f:.2g}") for f in (1 / 3, 1.0, 3.0)]
    raise ConfigError(f"unknown optimizer {optimizer!r}: 'adam' or 'sgd'")


def next_notch(lrs, best: float) -> float | None:
    """The learning rate one grid notch (factor 3) beyond the edge of ``lrs`` that ``best`` sits on, None if
    ``best`` is inside the grid: Shallue et al.'s protocol wants the optimum bracketed, else its steps-to-target is
    only an upper bound."""
    lo, hi = min(lrs), max(lrs)
    if math.isclose(best, lo):
        return float(f"{lo / 3:.2g}")
    if math.isclose(best, hi):
        return float(f"{hi * 3:.2g}")
    return None


def check_net(net: str) -> str:
    """``net`` upper-cased if the study runs it (:data:`NETS`), else a ConfigError saying which it runs."""
    name = str(net).upper()
    if name not in NETS:
        raise ConfigError(f"the steps-to-target study runs {' or '.join(NETS)}, not {net!r}")
    return name


def steps_config(batch_size: int, lr: float, optimizer: str, seed: int, profile: str, net: str = "F1",
                 **overrides):
    """One run of the study: ``net`` (F1 or C1) at ``batch_size`` on the hold-out split (validation accuracy
    decides), Adam or SGD with heavy-ball momentum :data:`MOMENTUM` at ``lr``, tag ``<optimizer>-lr<lr>``, no
    checkpoints; the epoch cap (1,000) is a backstop, the target ends the run. ``overrides`` that are not None on
    top."""
    tag = f"{optimizer}-lr{lr:.2g}"
    kw = dict(split="holdout", optimizer=optimizer, lr=lr, tag=tag, save_checkpoints=False, max_epochs=1000)
    if optimizer == "sgd":
        kw["momentum"] = MOMENTUM
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(check_net(net), batch_size, seed, profile, **kw)


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # peak of the whole process instead (Linux reports KiB)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def crossing(curve: list[dict], target: float, key: str = "step") -> float | None:
    """First crossing of ``target`` by ``val_acc``, linear in log(key) between bracketing evaluations."""
    prev = None
    for row in curve:
        if row["val_acc"] >= target:
            if prev is None or prev[key] <= 0:
                return float(row[key])
            a0, a1 = prev["val_acc"], row["val_acc"]
            t = (target - a0) / (a1 - a0) if a1 > a0 else 1.0
            return float(math.exp(math.log(prev[key]) + t * (math.log(row[key]) - math.log(prev[key]))))
        prev = row
    return None


@dataclass(frozen=True)
class Schedule:
    """When a steps-to-target run is evaluated and when it stops (the defaults are the study's)."""

    min_epochs: float = 1.0            # train at least this long: the fixed-epoch-budget read-out point
    max_epochs: float = 8.0            # cap in epochs
    max_steps: int = 4000              # cap in steps
    abandon_steps: int | None = None   # the LR tuner gives a learning rate up once it needs this many steps
    first_eval_examples: int = 2000    # an evaluation costs ~1 step of B = 2,000, so large batches are not
    first_eval_step: int = 4           # evaluated at steps 1-3, where no run is near the target

    def cap_steps(self, n: int, batch_size: int) -> int:
        return min(self.max_steps, math.ceil(self.max_epochs * n / batch_size), self.abandon_steps or 10**12)

    def budget_step(self, n: int, batch_size: int) -> int:
        return math.ceil(self.min_epochs * n / batch_size)

    def first_eval(self, batch_size: int) -> int:
        return max(self.first_eval_step, math.ceil(self.first_eval_examples / batch_size))

    def cap_reason(self, step: int) -> str:
        """Why a run that hit its cap at ``step`` stopped: ``abandoned`` by the LR tuner, else ``cap``."""
        return "abandoned" if self.abandon_steps and self.abandon_steps <= step < self.max_steps else "cap"


class TargetWatch:
    """The ``on_step`` hook of :func:`run_to_target`: evaluates on the geometric schedule (and at the budget
    point and the cap), notes the first step at the target, and stops the run once the target is reached after
    the budget point, at the cap, or on a non-finite loss. Times the training steps between its calls."""

    def __init__(self, model, data: datamod.DataBundle, cfg, target: float, schedule: Schedule):
        n = len(data.train)
        self.model, self.data, self.cfg, self.target, self.schedule = model, data, cfg, target, schedule
        self.cap_steps = schedule.cap_steps(n, cfg.batch_size)
        self.budget_step = schedule.budget_step(n, cfg.batch_size)
        self.next_eval = schedule.first_eval(cfg.batch_size)
        self.curve, self.budget, self.reached = [], None, None
        self.status, self.stop = "ok", "cap"
        self.rss, self.t_train = _rss_mb(), 0.0
        self.clock = time.perf_counter()

    def measure(self, step: int) -> dict:
        vl, va = evaluate(self.model, self.data.test, self.cfg.eval_batch_size)
        row = dict(step=step, examples=step * self.cfg.batch_size, train_time_s=round(self.t_train, 4),
                   val_loss=vl, val_acc=va)
        self.curve.append(row)
        return row

    def __call__(self, progress: Progress) -> None:
        self.t_train += time.perf_counter() - self.clock
        step = progress.step
        if not math.isfinite(float(progress.loss)):
            self.status, self.stop = "diverged", "diverged"
            self.measure(step)
            raise StopTraining
        if step in (self.next_eval, self.budget_step, self.cap_steps):
            self.evaluate(step)
        self.clock = time.perf_counter()

    def evaluate(self, step: int) -> None:
        row = self.measure(step)
        self.rss = max(self.rss, _rss_mb())
        self.next_eval = max(step + 1, math.ceil(step * EVAL_RATIO))
        if step == self.budget_step:
            self.budget = dict(row, test_acc=evaluate(self.model, _test_set(self.data), self.cfg.eval_batch_size)[1])
        if self.reached is None and row["val_acc"] >= self.target:
            self.reached = step
        if self.reached is not None and step >= self.budget_step:
            self.stop = "target"
            raise StopTraining
        if step >= self.cap_steps:
            self.stop = self.schedule.cap_reason(step)
            raise StopTraining


def _test_set(data: datamod.DataBundle):
    """The official test set (the validation set is the hold-out, ``data.test``)."""
    return data.extra.get("official_test", data.test)


def run_to_target(cfg, target: float = HEADLINE, results_dir: str | Path | None = None, force: bool = False,
                  data: datamod.DataBundle | None = None, schedule: Schedule = Schedule()) -> dict:
    """Train until validation accuracy >= ``target`` and at least ``schedule.min_epochs`` epochs, or a cap; write a
    record.

    Caps (:class:`Schedule`): ``max_steps`` steps, ``max_epochs`` epochs, or ``abandon_steps`` (used by the LR tuner
    to stop a learning rate once it needs far more steps than the best one already found). The run's curve is kept
    so that crossings of every target in ``TARGETS`` and the accuracy after ``min_epochs`` epochs can be read off.
    Training goes through ``train.Trainer`` (the steps of ``lbgap train``) with :class:`TargetWatch` as its hook.
    """
    results_dir = records.store_root(results_dir)
    path = records.record_path(results_dir, cfg.profile, KIND, cfg.run_id)
    rec = records.done(path, force)
    if rec is not None:
        return rec
    if not 0 < target <= 1:
        raise ConfigError(f"target accuracy {target} must be in (0, 1]")
    device = compute_device(cfg.device)
    started, t_start, cpu_start = records.now(), time.perf_counter(), time.process_time()
    if data is None:
        data = datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)
    n = len(data.train)
    if cfg.batch_size > n:
        raise ConfigError(f"batch size {cfg.batch_size} is larger than the {n} training examples")
    trainer = make_trainer(cfg, data.num_classes, device)
    watch = TargetWatch(trainer.model, data, cfg, target, schedule)
    step = trainer.until_stopped(data.train, watch).step
    test_loss, test_acc = evaluate(trainer.model, _test_set(data), cfg.eval_batch_size)
    wall = time.perf_counter() - t_start
    curve, budget, reached, status, stop = watch.curve, watch.budget, watch.reached, watch.status, watch.stop
    t_train, rss, min_epochs, cap_steps = watch.t_train, watch.rss, schedule.min_epochs, watch.cap_steps
    targets = {}
    for t in sorted(set(TARGETS.get(cfg.net, ())) | {round(target, 4)}):
        s = crossing(curve, t)
        targets[f"{t:.2f}"] = dict(steps=s, examples=None if s is None else s * cfg.batch_size,
                                   train_time_s=None if s is None else _interp_time(curve, s))
    return records.write_record(
        results_dir, cfg.profile, KIND, cfg.run_id, status=status, stop_reason=stop,
        config=cfg.to_dict(), data=data.info, target=target, reached=reached is not None,
        targets=targets, steps=step, examples=step * cfg.batch_size, epochs=step * cfg.batch_size / n,
        min_epochs=min_epochs, cap_steps=cap_steps, budget=budget,
        final=dict(val_acc=curve[-1]["val_acc"], val_loss=curve[-1]["val_loss"], test_acc=test_acc,
                   test_loss=test_loss),
        train_time_s=t_train, time_per_epoch_s=t_train * n / max(1, step * cfg.batch_size),
        samples_per_s=step * cfg.batch_size / t_train if t_train else None, rss_mb=rss,
        cpu_time_s=time.process_time() - cpu_start,
        curve=curve, provenance=records.provenance(device, wall, started))


def _interp_time(curve: list[dict], s: float) -> float:
    steps = [r["step"] for r in curve]
    return float(np.interp(s, steps, [r["train_time_s"] for r in curve]))


def _score(rec: dict, target: float) -> tuple:
    """Lower is better: reached runs by steps-to-target, then unreached by highest validation accuracy."""
    s = rec["targets"].get(f"{target:.2f}", {}).get("steps")
    return (0, s, -rec["final"]["val_acc"]) if s is not None else (1, -rec["final"]["val_acc"], 0.0)


def sweep(batch_sizes, optimizers=("adam", "sgd"), seeds=SEEDS, profile: str = "quick",
          target: float | None = None, results_dir=None, force: bool = False, fixed_lr_seeds: bool = False,
          net: str = "F1", device: str | None = None, precision: str | None = None, **schedule) -> list[dict]:
    """LR tuning on seed ``seeds[0]`` (the grid of :func:`lr_grid`), then the other seeds at the best LR, for
    ``net`` (default target: its :data:`HEADLINES` entry) on ``device`` in ``precision`` (defaults: the
    profile's).

    Within one (optimizer, B) the middle LR runs first; the other two are abandoned once they need more
    than twice the steps of the best run so far (a budget rule; their records say ``abandoned``). Where the
    best LR that reached the target sits on an edge of the grid, the grid grows by one notch beyond it
    (:func:`next_notch`), up to ``MAX_EXTEND`` times, until the optimum is bracketed.
    ``fixed_lr_seeds`` also runs the other seeds of Adam at the paper's 1e-3 (the fixed-LR protocol).
    ``schedule``: fields of every run's :class:`Schedule` (``max_steps=...``, ...).
    """
    base = Schedule(**schedule)
    net = check_net(net)
    target = HEADLINES[net] if target is None else target
    results_dir = records.store_root(results_dir)
    seeds = list(seeds)
    machine = dict(device=device, precision=precision)
    data = None
    out = []
    for optimizer in optimizers:
        for B in batch_sizes:
            cfg0 = steps_config(B, lr_grid(optimizer, B)[1], optimizer, seeds[0], profile, net, **machine)
            if data is None:
                data = datamod.load(cfg0.dataset, cfg0.split, cfg0.source, compute_device(cfg0.device),
                                    cfg0.n_train, cfg0.n_test)
            grid = lr_grid(optimizer, B)
            tuned = []
            todo = [grid[1], grid[0], grid[2]]
            while todo:
                lr = todo.pop(0)
                best = [_score(r, target) for r in tuned if r["reached"]]
                abandon = max(2 * int(min(best)[1]) + 1, math.ceil(len(data.train) / B)) if best else None
                cfg = steps_config(B, lr, optimizer, seeds[0], profile, net, **machine)
                rec = run_to_target(cfg, target, results_dir, force, data,
                                    replace(_schedule_for(base, optimizer, lr), abandon_steps=abandon))
                tuned.append(rec)
                logger.info(_line(rec, target))
                best_rec = min(tuned, key=lambda r: _score(r, target))
                if not todo and best_rec["reached"] and len(tuned) < len(grid) + MAX_EXTEND:
                    lr_next = next_notch([r["config"]["lr"] for r in tuned], best_rec["config"]["lr"])
                    todo += [lr_next] if lr_next is not None else []
            out += tuned
            lrs = [best_rec["config"]["lr"]]
            if fixed_lr_seeds and optimizer == "adam" and FIXED_LR not in lrs:
                lrs.append(FIXED_LR)
            for lr in lrs:
                for seed in seeds[1:]:
                    rec = run_to_target(steps_config(B, lr, optimizer, seed, profile, net, **machine), target,
                                        results_dir, force, data, _schedule_for(base, optimizer, lr))
                    out.append(rec)
                    logger.info(_line(rec, target))
    return out


def _schedule_for(schedule: Schedule, optimizer: str, lr: float) -> Schedule:
    """Only the fixed-LR protocol runs (Adam, lr 1e-3) must train ``min_epochs``; the others stop at the target."""
    if optimizer == "adam" and math.isclose(lr, FIXED_LR):
        return schedule
    return replace(schedule, min_epochs=0.0)


def _line(rec: dict, target: float) -> str:
    s = rec["targets"].get(f"{target:.2f}", {}).get("steps")
    what = "skipped " if rec.get("skipped") else "done    "
    return (f"{what}{rec['run_id']}: {rec['stop_reason']}, {rec['steps']} steps, "
            f"steps-to-{target:.0%} {'-' if s is None else f'{s:.0f}'}, val {rec['final']['val_acc']:.4f}, "
            f"{rec['samples_per_s']:.0f} samples/s")


# --------------------------------------------------------------------------------------------- analysis
def _of_net(rec: dict, net: str | None) -> bool:
    return net is None or rec["config"]["net"] == net


def table(results_dir=None, profile: str = "quick", net: str | None = "F1"):
    """One row per steps record of ``net`` (None: every network; column ``net``), flat, for the chapter."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, KIND):
        if not _of_net(r, net):
            continue
        c = r["config"]
        row = dict(net=c["net"], optimizer=c["optimizer"], batch_size=c["batch_size"], lr=c["lr"], seed=c["seed"],
                   stop=r["stop_reason"], reached=r["reached"], steps=r["steps"], epochs=r["epochs"],
                   val_acc=r["final"]["val_acc"], test_acc=r["final"]["test_acc"],
                   time_per_epoch_s=r["time_per_epoch_s"], samples_per_s=r["samples_per_s"], rss_mb=r["rss_mb"],
                   train_time_s=r["train_time_s"], wall_time_s=r["provenance"]["wall_time_s"],
                   budget_val_acc=(r["budget"] or {}).get("val_acc"), budget_test_acc=(r["budget"] or {}).get("test_acc"),
                   device=r["provenance"]["device"])
        for t, v in r["targets"].items():
            row[f"steps@{t}"] = v["steps"]
            row[f"examples@{t}"] = v["examples"]
            row[f"time@{t}"] = v["train_time_s"]
        rows.append(row)
    return pd.DataFrame(rows)


def curve_table(results_dir=None, profile: str = "quick", net: str | None = "F1"):
    """Long table of every evaluation of every run of ``net`` (validation loss/accuracy against steps and
    examples)."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, KIND):
        if not _of_net(r, net):
            continue
        c = r["config"]
        for h in r["curve"]:
            rows.append(dict(optimizer=c["optimizer"], batch_size=c["batch_size"], lr=c["lr"], seed=c["seed"], **h))
    return pd.DataFrame(rows)


def smoke_sweep(results_dir, seeds=(0, 1, 2), optimizers=("adam", "sgd"), net: str = "F1") -> list[dict]:
    """The study's code path on tiny synthetic data (profile ``smoke``), in seconds: for notebooks and tests."""
    torch.set_num_threads(1)   # tiny tensors: threads only add overhead
    return sweep([4, 16, 64], optimizers, seeds, "smoke", target=0.5, results_dir=results_dir, net=net,
                 max_steps=40, first_eval_examples=8, first_eval_step=1)


def best_lr(df, target: float = HEADLINE):
    """The tuned learning rate per (optimizer, B): fewest steps-to-target on the tuning seed."""
    key = f"steps@{target:.2f}"
    seed0 = df[df.seed == df.seed.min()].copy()
    seed0["_rank"] = seed0[key].fillna(np.inf)
    seed0["_acc"] = -seed0["val_acc"]          # ties (and unreached runs) by final validation accuracy, as the sweep
    pick = seed0.sort_values(["_rank", "_acc"]).groupby(["optimizer", "batch_size"]).head(1)
    return pick.set_index(["optimizer", "batch_size"])["lr"]


def tuned_runs(df, target: float = HEADLINE):
    """Rows at the best LR per (optimizer, B), all seeds."""
    lr = best_lr(df, target)
    keep = [lr.get((o, b)) == rate for o, b, rate in zip(df.optimizer, df.batch_size, df.lr)]
    return df[keep]


def critical_batches(df, target: float = HEADLINE, n_boot: int = 500) -> tuple[dict, list[str]]:
    """Per optimizer, :func:`fit_critical_batch` to the runs of ``df`` (:func:`table`) at their tuned learning
    rates (:func:`tuned_runs`), by steps to ``target``; and a line for each optimizer that could not be fitted."""
    key = f"steps@{target:.2f}"
    out, failed = {}, []
    if not len(df):
        return out, failed
    for opt, g in tuned_runs(df, target).groupby("optimizer"):
        try:
            out[opt] = fit_critical_batch(g.batch_size, g[key], n_boot=n_boot)
        except (ValueError, RuntimeError) as e:
            failed.append(f"{opt}: no fit ({e})")
    return out, failed


def sb_model(B, s_min, b_crit):
    """McCandlish et al.'s steps to the target at batch size ``B``: S(B) = S_min (1 + B_crit / B) (their Eq. 2.11;
    :func:`fit_critical_batch` fits it)."""
    return s_min * (1 + b_crit / B)


def fit_critical_batch(batch_sizes, steps, n_boot: int = 1000, seed: int = 0, groups=None) -> dict:
    """Fit S(B) = S_min (1 + B_crit / B) in log space; E_min = S_min * B_crit.

    Returns S_min, B_crit, E_min with 1-sigma errors from the fit covariance and a bootstrap CI
    (resampling the runs within each batch size).
    """
    from scipy.optimize import curve_fit

    B = np.asarray(batch_sizes, float)
    S = np.asarray(steps, float)
    ok = np.isfinite(S)
    B, S = B[ok], S[ok]
    if len(np.unique(B)) < 3:
        raise ValueError(f"fitting S(B) needs reached targets at 3 or more batch sizes, got {len(np.unique(B))}")

    def logmodel(b, log_smin, log_bcrit):
        return log_smin + np.log1p(np.exp(log_bcrit) / b)

    def fit(b, s):
        p0 = (math.log(max(s.min(), 1.0) * 0.7), math.log(np.median(b)))
        p, cov = curve_fit(logmodel, b, np.log(s), p0=p0, maxfev=20000)
        return p, cov

    p, cov = fit(B, S)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    s_min, b_crit = math.exp(p[0]), math.exp(p[1])
    rng = np.random.default_rng(seed)
    boots = []
    idx_by_b = [np.flatnonzero(B == b) for b in np.unique(B)]
    for _ in range(n_boot):
        take = np.concatenate([rng.choice(ix, len(ix)) for ix in idx_by_b])
        try:
            pb, _ = fit(B[take], S[take])
            boots.append((math.exp(pb[0]), math.exp(pb[1])))
        except (RuntimeError, ValueError):
            continue
    boots = np.array(boots) if boots else np.full((1, 2), np.nan)
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    resid = np.log(S) - logmodel(B, *p)
    return dict(s_min=s_min, b_crit=b_crit, e_min=s_min * b_crit,
                s_min_se=s_min * se[0], b_crit_se=b_crit * se[1],   # delta method on the log parameters
                b_crit_ci=(float(lo[1]), float(hi[1])), s_min_ci=(float(lo[0]), float(hi[0])),
                n_runs=int(len(S)), n_batch_sizes=int(len(idx_by_b)), rms_log_resid=float(np.sqrt(np.mean(resid**2))))
