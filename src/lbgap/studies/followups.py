"""Is it the batch size or the number of updates? The remedies published after Keskar et al. (2017), tested on
the same networks, data and budget rules as Table 2.

Each *arm* is the Table 2 LB run of a seed (same x0, data order and stopping rule) with one change, or the SB/LB
baseline itself; its tag (``fu-<arm>``) keeps its records apart from Table 2's:

* ``sb``, ``lb``          the baselines, trained again beside the arms (same device, precision and code);
* ``lr-linear``           LR x k with k = B_LB / B_SB and a 5-epoch linear warm-up from the SB LR (Goyal et al.
                          2017, Section 2: "linear scaling rule" and "gradual warmup");
* ``lr-sqrt``             LR x sqrt(k) with the same warm-up (Hoffer et al. 2017, Section 4's sqrt(k) rule);
* ``ghost``               ghost batch normalisation over chunks of 128 examples (Hoffer et al., Algorithm 1). At
                          test time every run, this one included, normalises with the statistics of each
                          evaluation batch (Keras mode=2, ``models``): ghost batches change training only;
* ``regime``              as many updates as SB ("regime adaptation", Hoffer et al. Section 5): the epoch cap and the
                          stopping rule's patience multiplied by k, so the budget and the plateau test count the
                          same number of updates as SB's;
* ``hoffer``              all of Hoffer et al. at once: LR x sqrt(k) (no warm-up, as there), ghost batches, regime;
* ``sam-<rho>``           sharpness-aware minimisation (Foret et al. 2021) around Adam, rho in {0.01, 0.05, 0.2}:
                          the remedy that targets sharpness itself, so the direct test of the paper's causal claim.

Every finished run gets the sharpness the sharpness chapter endorses: Metric 2.1 in the full space at eps = 1e-3
with L-BFGS-B on the summed objective, and the Hessian's top eigenvalue (power iteration on 10,000 examples).

*Replicates.* The first set of arm runs (tag ``fu-<arm>``) trained on a GPU under bf16 autocast. A replicate on
another device or precision keeps its own records through a tag suffix, ``fu-<arm>+<replicate>`` (:data:`REPLICATES`;
``cpu``: float32 on a CPU, the precision of Table 2's baseline), so the two sets are never averaged together.
``sam-selected`` stands for SAM at the radius chosen on the validation split: each radius of :data:`SAM_RHOS` is
trained once (seed 0) on the 55,000/5,000 hold-out split (tag ``fu-sam-<rho>+val``, LB of the official split's
size), the radius with the best validation accuracy (:func:`select_sam_rho`) then runs as ``sam-<rho>`` for every seed.

CLI: ``lbgap sweep followups --net F1 --seeds 0-4 --profile paper`` (all arms), ``--arms lb,regime`` for some;
``--arms sb,lb,lr-linear,lr-sqrt,ghost,sam-selected --replicate cpu --device cpu`` for the CPU float32 replicate.
The chapter "Is it the batch or the updates?" (``chapters/followups.ipynb``) reads the records.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable, Sequence

from lbgap.core import config as cfgmod
from lbgap.core import records, sweep
from lbgap.core.train import make_config

logger = logging.getLogger(__name__)

GHOST = 128
WARMUP_EPOCHS = 5
SAM_RHOS = (0.01, 0.05, 0.2)
EPS = 1e-3
TAG_PREFIX = "fu-"
# tag suffix -> what the replicate is; "" is the first set (GPU, bf16 autocast)
REPLICATES = {"": "GPU, bf16 autocast", "cpu": "CPU, float32"}
VALIDATION = "val"              # suffix of the SAM radius-selection runs on the hold-out split
SAM_SELECTED = "sam-selected"   # pseudo-arm: SAM at the radius chosen on the validation split


def _scale(profile: str, lb_batch: int) -> float:
    """k = B_LB / B_SB of the profile."""
    return lb_batch / cfgmod.get_profile(profile)["sb_batch_size"]


def _lr(kind: str, warmup: bool = True) -> Callable[[str, int], dict]:
    def settings(profile: str, lb_batch: int) -> dict:
        base = cfgmod.OPTIMIZER_DEFAULTS["lr"]
        k = _scale(profile, lb_batch)
        lr = base * (k if kind == "linear" else math.sqrt(k))
        return dict(lr=lr, warmup_epochs=WARMUP_EPOCHS, warmup_from=base) if warmup else dict(lr=lr)
    return settings


def _regime(profile: str, lb_batch: int) -> dict:
    prof, k = cfgmod.get_profile(profile), _scale(profile, lb_batch)
    return dict(max_epochs=math.ceil(prof["max_epochs_sb"] * k), patience=math.ceil(prof["patience"] * k))


def _hoffer(profile: str, lb_batch: int) -> dict:
    return dict(_lr("sqrt", warmup=False)(profile, lb_batch), ghost_batch=GHOST, **_regime(profile, lb_batch))


# name -> regime, settings(profile, LB batch size) -> config overrides, source, label for tables, and what its
# paper reports (the claim our verdict answers)
ARMS: dict[str, dict] = {
    "sb": dict(regime="SB", settings=lambda p, b: {}, source="baseline", label="SB"),
    "lb": dict(regime="LB", settings=lambda p, b: {}, source="baseline", label="LB"),
    "lr-linear": dict(regime="LB", settings=_lr("linear"), source="Goyal et al. 2017",
                      label="LB, LR × k, warm-up",
                      claim="SB's accuracy up to 8k-image batches (ImageNet, SGD with momentum)"),
    "lr-sqrt": dict(regime="LB", settings=_lr("sqrt"), source="Hoffer et al. 2017",
                    label="LB, LR × √k, warm-up", claim="part of their remedy; keeps the update's noise level"),
    "ghost": dict(regime="LB", settings=lambda p, b: dict(ghost_batch=GHOST), source="Hoffer et al. 2017",
                  label=f"LB, ghost BN {GHOST}", claim="narrows the gap, not enough alone"),
    "regime": dict(regime="LB", settings=_regime, source="Hoffer et al. 2017", label="LB, SB's updates",
                   claim="the gap is caused by too few updates"),
    "hoffer": dict(regime="LB", settings=_hoffer, source="Hoffer et al. 2017", label="LB, all of Hoffer",
                   claim="closes the gap on MNIST, CIFAR and ImageNet"),
    **{f"sam-{rho:g}": dict(regime="LB", settings=(lambda p, b, rho=rho: dict(sam_rho=rho)),
                            source="Foret et al. 2021", label=f"LB + SAM ρ={rho:g}",
                            claim="flatter minima and better test accuracy") for rho in SAM_RHOS},
}


def get_arm(name: str) -> dict:
    """The arm ``name`` of :data:`ARMS` (its regime, settings, source, label and claim); ValueError naming the arms
    otherwise."""
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}: choose from {', '.join(ARMS)} (or 'all')")
    return ARMS[name]


def parse_arms(text: str) -> list[str]:
    """``"all"`` or a comma list of arm names (and ``sam-selected``), validated."""
    names = list(ARMS) if text.strip() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        if n != SAM_SELECTED:
            get_arm(n)
    if not names:
        raise ValueError("give at least one arm, or 'all'")
    return names


def arm_tag(arm: str, replicate: str = "") -> str:
    """``fu-<arm>`` for the first set, ``fu-<arm>+<replicate>`` for a replicate (or the validation runs)."""
    if replicate not in REPLICATES and replicate != VALIDATION:
        raise ValueError(f"unknown replicate {replicate!r}: choose one of "
                         f"{', '.join(repr(r) for r in REPLICATES)}")
    return TAG_PREFIX + arm + (f"+{replicate}" if replicate else "")


def parse_tag(tag: str) -> tuple[str, str] | None:
    """``"fu-lr-linear+cpu"`` -> ("lr-linear", "cpu"); ``"fu-lb"`` -> ("lb", ""); another tag -> None."""
    if not str(tag).startswith(TAG_PREFIX):
        return None
    arm, _, replicate = tag[len(TAG_PREFIX):].partition("+")
    return (arm, replicate) if arm in ARMS else None


def arm_config(net: str, arm: str, seed: int = 0, profile: str = "paper", replicate: str = "", **overrides):
    """The run of ``arm`` for (net, seed): the Table 2 config of its regime plus the arm's settings, tag fu-<arm>
    (``fu-<arm>+<replicate>`` for a replicate)."""
    spec = get_arm(arm)
    lb = make_config(net, "LB", seed, profile, **{k: v for k, v in overrides.items() if k == "device"})
    settings = spec["settings"](profile, lb.batch_size)
    return make_config(net, spec["regime"], seed, profile, tag=arm_tag(arm, replicate), **{**settings, **overrides})


def sam_validation_config(net: str, rho: float, profile: str = "paper", **overrides):
    """SAM at radius ``rho`` on the hold-out split, seed 0: LB at the official split's LB size (6,000 for F1; "10 %"
    of the 55,000 training images left would be 5,500; ``config.holdout_config``), tag ``fu-sam-<rho>+val``."""
    return cfgmod.holdout_config(net, "LB", 0, profile, sam_rho=rho, tag=arm_tag(f"sam-{rho:g}", VALIDATION),
                                 **overrides)


def sam_validation_table(net: str, results_dir: str | Path | None = None, profile: str = "paper"):
    """One row per finished SAM radius-selection run of ``net``: rho, validation accuracy (%) and loss."""
    import pandas as pd

    rows = []
    for rho in SAM_RHOS:
        cfg = sam_validation_config(net, rho, profile)
        rec = records.read_record(records.record_path(results_dir, profile, "train", cfg.run_id))
        if rec is not None and rec.get("status") == "ok":
            rows.append(dict(rho=rho, val_acc=100 * rec["final"]["test_acc"], val_loss=rec["final"]["test_loss"],
                             epochs=int(rec["epochs"])))
    return pd.DataFrame(rows, columns=["rho", "val_acc", "val_loss", "epochs"])


def select_sam_rho(net: str, results_dir: str | Path | None = None, profile: str = "paper") -> float | None:
    """The radius with the best validation accuracy (ties: lower validation loss) once every radius of
    :data:`SAM_RHOS` has its run; None before that."""
    df = sam_validation_table(net, results_dir, profile)
    if len(df) < len(SAM_RHOS):
        return None
    return float(df.sort_values(["val_acc", "val_loss"], ascending=[False, True]).rho.iloc[0])


def grid(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", arms: Sequence[str] = tuple(ARMS),
         replicate: str = "", **overrides) -> list:
    """The configurations of ``arms`` for every seed of ``seeds`` (seed-major; :func:`arm_config`)."""
    if not seeds:
        raise ValueError("give at least one seed")
    return [arm_config(net, arm, seed, profile, replicate, **overrides) for seed in seeds for arm in arms]


def run(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", arms: Sequence[str] = tuple(ARMS),
        results_dir: str | Path | None = None, force: bool = False,
        hessian_examples: int | None = 10000, train_examples: int | None = None, replicate: str = "",
        **overrides) -> list:
    """Per (seed, arm): train (skipped where recorded), then its sharpness entry and Hessian (skipped where
    recorded; f on ``train_examples`` training examples, None: all). ``sam-selected`` among ``arms``: first the
    radius-selection runs on the hold-out split, then SAM at the selected radius. Returns the training outcomes; a
    run whose sharpness failed is reported as failed."""
    from lbgap.measures import sharpness

    results_dir = records.store_root(results_dir)
    arms = list(arms)
    outcomes = []
    if SAM_SELECTED in arms:
        checks = [sam_validation_config(net, rho, profile, **overrides) for rho in SAM_RHOS]
        outcomes += sweep.run_grid(checks, results_dir, "serial", force=force, label=f"followups-sam-val-{net}")
        rho = select_sam_rho(net, results_dir, profile)
        if rho is None:
            logger.warning(f"SAM's radius is not selected yet ({net}): its validation runs did not all finish")
            arms.remove(SAM_SELECTED)
        else:
            logger.info(f"SAM radius selected on the validation split ({net}): rho = {rho:g}")
            arms[arms.index(SAM_SELECTED)] = f"sam-{rho:g}"
    cfgs = grid(net, seeds, profile, arms, replicate, **overrides)   # bad input fails before anything runs
    for cfg in cfgs:
        (out,) = sweep.run_grid([cfg], results_dir, "serial", force=force, label=f"followups-{cfg.run_id}")
        outcomes.append(sweep.measure_after(out, cfg, results_dir, "sharpness", lambda cfg=cfg: sharpness.compute(
            cfg, results_dir, eps=(EPS,), spaces=("full",), objective="sum", hessian=True,
            hessian_examples=hessian_examples, train_examples=train_examples, device=cfg.device, force=force)))
    return outcomes


def cpu_time(net: str, results_dir: str | Path | None = None, profile: str = "paper", replicate: str = "cpu") -> dict:
    """What ``replicate``'s own runs of ``net`` cost, from their records (``records.cost_of``): per part
    ("selection": SAM's radius-selection runs on the hold-out split; "train": the arm runs; "sharpness": their φ and
    λ_max), the number of records and the core-hours, and the CPUs and thread counts that trained. Table 2's runs
    that serve as its SB and LB (:data:`TABLE2_BASELINES`) are Table 2's cost, not counted here."""
    parts = {"selection": [], "train": []}
    for r in records.iter_records(results_dir, profile, "train"):
        cfg = r.get("config", {})
        parsed = parse_tag(cfg.get("tag", ""))
        if parsed and r.get("status") == "ok" and cfg.get("net") == net and parsed[1] in (replicate, VALIDATION):
            parts["selection" if parsed[1] == VALIDATION else "train"].append(r)
    return records.cost_of(parts, "train", results_dir, profile)


RUN_COLUMNS = ["net", "profile", "replicate", "seed", "arm", "batch_size", "lr", "test_acc", "train_loss", "epochs",
               "steps", "examples", "train_time_s", "wall_s", "device", "stop_reason", "phi", "hessian_top", "run_id"]
# a replicate whose SB and LB are Table 2's own runs where it has none of its own: the same configuration (the
# paper profile's caps, LR 1e-3, float32 on a CPU) under Table 2's tag
TABLE2_BASELINES = {"cpu": "uncapped"}


def _run_row(r: dict, prof: str, arm: str, rep: str, sharp) -> dict:
    """One row of :data:`RUN_COLUMNS` for training record ``r`` as arm ``arm`` of replicate ``rep``."""
    from lbgap.measures import sharpness

    cfg = r["config"]
    hit = sharpness.entry_for(sharp, r["run_id"], EPS, "full", "sum")   # its row carries the Hessian too
    n_train = int(r.get("data", {}).get("n_train") or 0)
    return dict(
        net=cfg["net"], profile=prof, replicate=rep, seed=int(cfg["seed"]), arm=arm, batch_size=int(cfg["batch_size"]),
        lr=float(cfg["lr"]), test_acc=100 * r["final"]["test_acc"], train_loss=r["final"]["train_loss"],
        epochs=int(r["epochs"]), steps=int(r["steps"]), examples=int(r["epochs"]) * n_train,
        train_time_s=float(r["train_time_s"]), wall_s=float(r["provenance"].get("wall_time_s") or float("nan")),
        device=r["provenance"].get("device"), stop_reason=r["stop_reason"],
        phi=float(hit.phi) if hit is not None else float("nan"),
        hessian_top=float(hit.hessian_top) if hit is not None and hit.hessian_top is not None else float("nan"),
        run_id=r["run_id"])


def runs_table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick"),
               replicate: str | None = ""):
    """One row per finished arm run of ``replicate`` ("" the first set, "cpu", ...; None: every replicate, with a
    ``replicate`` column saying which): network, profile, seed, arm, test accuracy (%), final training loss, epochs,
    steps, examples seen, seconds in training steps, wall seconds, device, stop reason, phi (Metric 2.1, full space,
    summed objective, eps = 1e-3; NaN where not measured), the Hessian's top eigenvalue and the run id. The radius-selection
    runs on the hold-out split are not arm runs (:func:`sam_validation_table`). A replicate of
    :data:`TABLE2_BASELINES` takes Table 2's SB and LB runs of each network it has runs of, for every seed it has no
    SB or LB run of its own (the same configuration but the tag)."""
    import pandas as pd

    from lbgap.core.config import RunConfig
    from lbgap.measures import sharpness

    rows = []
    for prof in profiles:
        recs = [r for r in records.iter_records(results_dir, prof, "train") if r.get("status") == "ok"]
        runs = [r for r in recs if parse_tag(r.get("config", {}).get("tag", "")) is not None]
        if not runs:
            continue
        sharp = sharpness.sharpness_table(results_dir, prof, tag=None)
        mine = []
        for r in runs:
            arm, rep = parse_tag(r["config"]["tag"])
            if rep == VALIDATION or (replicate is not None and rep != replicate):
                continue
            mine.append(_run_row(r, prof, arm, rep, sharp))
        base_tag = TABLE2_BASELINES.get(replicate or "")
        have = {(m["net"], m["seed"], m["arm"]) for m in mine}
        nets = {m["net"] for m in mine}
        for r in recs if base_tag and mine else []:
            cfg = r["config"]
            arm = {"SB": "sb", "LB": "lb"}.get(cfg.get("regime"))
            key = (cfg["net"], int(cfg["seed"]), arm)
            if cfg.get("tag") != base_tag or arm is None or key in have or key[0] not in nets:
                continue
            if RunConfig.from_dict({**cfg, "tag": arm_tag(arm, replicate)}) != arm_config(
                    cfg["net"], arm, int(cfg["seed"]), prof, replicate, device=cfg["device"]):
                continue   # not the same configuration as the arm (another cap or LR): not its baseline
            mine.append(_run_row(r, prof, arm, replicate, sharp))
        rows += mine
    if not rows:
        return pd.DataFrame(columns=RUN_COLUMNS)
    return _in_arm_order(pd.DataFrame(rows, columns=RUN_COLUMNS), ["net", "arm", "seed"])


def _in_arm_order(df, by: list[str]):
    """``df`` sorted by ``by``, arms in the order of :data:`ARMS` (baselines first)."""
    order = {a: i for i, a in enumerate(ARMS)}
    return df.sort_values(by, key=lambda s: s.map(order) if s.name == "arm" else s).reset_index(drop=True)


def summary(df):
    """Per (network, arm): seeds n, test accuracy mean and sd, the gap to SB (SB minus the arm, paired by seed:
    mean and sd over the seeds that have both), the median steps, examples, training seconds, and the median phi
    and Hessian top eigenvalue."""
    import pandas as pd

    rows = []
    for (net, arm), g in df.groupby(["net", "arm"], sort=False):
        sb = df[(df.net == net) & (df.arm == "sb")].set_index("seed")["test_acc"]
        mine = g.set_index("seed")["test_acc"]
        gap = (sb - mine).dropna()
        rows.append(dict(net=net, arm=arm, label=ARMS[arm]["label"], source=ARMS[arm]["source"], n=len(g),
                         acc_mean=mine.mean(), acc_sd=mine.std(), gap_mean=gap.mean() if len(gap) else float("nan"),
                         gap_sd=gap.std() if len(gap) > 1 else float("nan"), gap_n=len(gap),
                         steps=g.steps.median(), examples=g.examples.median(), train_time_s=g.train_time_s.median(),
                         phi=g.phi.median(), hessian_top=g.hessian_top.median()))
    out = pd.DataFrame(rows)
    return out if out.empty else _in_arm_order(out, ["net", "arm"])
