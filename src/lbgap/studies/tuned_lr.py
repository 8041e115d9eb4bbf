"""Is the gap still there when the learning rate is tuned for each batch size? (F1, the paper's protocol otherwise.)

The later literature compares batch sizes only after tuning the learning rate for each one: Shallue et al. (2019)
found no loss of accuracy once the LR and the budget are tuned per batch size, Goyal et al. (2017) none up to 8k
images on ImageNet with the linear rule and a warm-up. Keskar et al. use one LR (Adam 1e-3) for both regimes.

Two stages, each run a training record of its own (tag ``tlr-x<multiplier>``):

* ``grid`` -- selection, on the 55,000/5,000 hold-out split (the ``holdout`` split of ``lbgap.core.data``: a fixed,
  seeded, class-stratified 5,000 of MNIST's training images; its "test" numbers are validation numbers), seed 0, one
  run per point: SB (256) at LR x {1/4, 1/2, 1, 2, 4} of 1e-3 and LB (6,000, the official split's 10 %) at
  x {1, 2, 4, 8, 16}, with Goyal's 5-epoch linear warm-up from 1e-3 for LB at x4 and above. Where the best point
  sits at an edge of what was tried, the grid is extended by one point beyond it (:func:`extension`).
* ``final`` -- each batch size at its selected multiplier (best validation accuracy, :func:`selection`) on the
  official 60,000/10,000 split, seeds 0-4. A selected x1 *is* Table 2's uncapped run of that batch size (same
  configuration, LR and cap), so it is read from that record instead of being trained again.

The test set chooses nothing: it is read only in the ``final`` stage. Caps and stopping rule are the paper
profile's (SB 100 epochs, LB 300, plateau of the training loss). The chapter's verdict is the paired SB - LB gap at
the tuned LRs beside the untuned one.

CLI: ``lbgap sweep tuned-lr --stage grid --batches SB`` (then ``LB``; two processes may run side by side),
``--stage final --seeds 0-4``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from lbgap.core import config as cfgmod
from lbgap.core import records, sweep
from lbgap.core.config import RunConfig
from lbgap.core.train import make_config

logger = logging.getLogger(__name__)

NET = "F1"
BASE_LR = cfgmod.OPTIMIZER_DEFAULTS["lr"]
MULTIPLIERS = {"SB": (0.25, 0.5, 1.0, 2.0, 4.0), "LB": (1.0, 2.0, 4.0, 8.0, 16.0)}
WARMUP_FROM_MULTIPLIER = 4.0   # LB at LR x4 and above warms up (Goyal et al. 2017, Section 2.2) ...
WARMUP_EPOCHS = 5.0            # ... linearly over 5 epochs from the base LR
TAG_PREFIX = "tlr-x"
NO_WARMUP = "-nowarmup"        # tag suffix of the warm-up check: an LB grid point that would warm up, trained without
TABLE2_TAG = "uncapped"        # Table 2's runs at the paper's caps: the x1 point of the final stage
EPS = 1e-3                     # Metric 2.1's box, full space, summed objective (the sharpness chapter's choice)
STAGES = ("grid", "final")


def tag(multiplier: float) -> str:
    """The tag of a run at LR ``multiplier`` x 1e-3: ``tlr-x<multiplier>`` (:func:`multiplier_of` reads it back)."""
    return f"{TAG_PREFIX}{multiplier:g}"


def multiplier_of(tag_text: str) -> float | None:
    """``"tlr-x0.25"`` -> 0.25; another tag -> None."""
    if not str(tag_text).startswith(TAG_PREFIX):
        return None
    try:
        return float(tag_text[len(TAG_PREFIX):])
    except ValueError:
        return None


def batch_size(regime: str, profile: str = "paper") -> int:
    """SB: the profile's small batch; LB: 10 % of the *official* training set (6,000 for MNIST), on both splits, so
    the LR is tuned for the batch size that Table 2 uses."""
    if regime not in MULTIPLIERS:
        raise ValueError(f"unknown regime {regime!r}: choose SB or LB")
    return make_config(NET, regime, 0, profile, split="official").batch_size


def warms_up(regime: str, multiplier: float) -> bool:
    """Whether the protocol warms ``regime`` up at LR ``multiplier`` x 1e-3 (LB at x4 and above)."""
    return regime == "LB" and multiplier >= WARMUP_FROM_MULTIPLIER


def config(regime: str, multiplier: float, seed: int = 0, stage: str = "grid", profile: str = "paper",
           warmup: bool = True, **overrides) -> RunConfig:
    """The run of ``regime`` at LR ``multiplier`` x 1e-3: the hold-out split in the grid stage, the official one in
    the final stage (where x1 without warm-up is Table 2's own uncapped run). ``warmup=False`` drops the warm-up
    the protocol gives LB at x4 and above (tag suffix :data:`NO_WARMUP`: the warm-up check, not a grid point)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: choose {' or '.join(STAGES)}")
    if regime not in MULTIPLIERS:
        raise ValueError(f"unknown regime {regime!r}: choose SB or LB")
    if not multiplier > 0:
        raise ValueError(f"LR multiplier {multiplier} must be positive")
    settings = dict(lr=BASE_LR * multiplier, tag=tag(multiplier))
    if warms_up(regime, multiplier) and warmup:
        settings.update(warmup_epochs=WARMUP_EPOCHS, warmup_from=BASE_LR)
    elif warms_up(regime, multiplier):
        settings.update(tag=tag(multiplier) + NO_WARMUP)
    if stage == "grid":   # the official split's batch size and cap on the hold-out split (LB: 6,000, not 5,500)
        return cfgmod.holdout_config(NET, regime, seed, profile, **{**settings, **overrides})
    if multiplier == 1.0:
        settings.update(lr=BASE_LR, tag=TABLE2_TAG)
    prof = cfgmod.get_profile(profile)
    cap = prof["max_epochs_lb"] if regime == "LB" else prof["max_epochs_sb"]
    return make_config(NET, regime, seed, profile, **{"split": "official", "max_epochs": cap, **settings, **overrides})


def grid(regimes: Sequence[str] = ("SB", "LB"), profile: str = "paper", multipliers: dict | None = None,
         **overrides) -> list[RunConfig]:
    """The selection grid (seed 0, hold-out split): ``multipliers`` per regime, default :data:`MULTIPLIERS`."""
    table = multipliers or MULTIPLIERS
    return [config(r, m, 0, "grid", profile, **overrides) for r in regimes for m in table[r]]


# ------------------------------------------------------------------------------------------------ reading records
def grid_table(results_dir: str | Path | None = None, profile: str = "paper"):
    """One row per finished grid run (hold-out split, tag ``tlr-x*``): regime, batch size, multiplier, LR, warm-up
    epochs, validation accuracy (%) and loss, epochs, stop reason, wall seconds, threads, host load at start."""
    import pandas as pd

    sizes = {batch_size(r, profile): r for r in MULTIPLIERS}
    rows = []
    for r in records.iter_records(results_dir, profile, "train"):
        cfg = r.get("config", {})
        m = multiplier_of(cfg.get("tag", ""))
        if m is None or cfg.get("split") != "holdout" or r.get("status") != "ok" or cfg.get("net") != NET:
            continue
        regime = sizes.get(int(cfg["batch_size"]))
        if regime is None:
            continue
        prov = r.get("provenance", {})
        rows.append(dict(regime=regime, batch_size=int(cfg["batch_size"]), multiplier=m, lr=float(cfg["lr"]),
                         warmup_epochs=float(cfg.get("warmup_epochs") or 0.0),
                         val_acc=100 * r["final"]["test_acc"], val_loss=r["final"]["test_loss"],
                         epochs=int(r["epochs"]), stop_reason=r["stop_reason"],
                         wall_s=float(prov.get("wall_time_s") or float("nan")), threads=prov.get("threads"),
                         host_load_start=(prov.get("host_load_start") or [None])[0]))
    cols = ["regime", "batch_size", "multiplier", "lr", "warmup_epochs", "val_acc", "val_loss", "epochs",
            "stop_reason", "wall_s", "threads", "host_load_start"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["regime", "multiplier"], key=lambda s: s.map({"SB": 0, "LB": 1}) if s.name == "regime"
                          else s).reset_index(drop=True)


def selection(df) -> dict[str, float]:
    """Per regime, the multiplier with the best validation accuracy (ties: the lower validation loss). Only
    regimes with grid runs appear."""
    out = {}
    for regime, g in df.groupby("regime", sort=False):
        best = g.sort_values(["val_acc", "val_loss"], ascending=[False, True]).iloc[0]
        out[regime] = float(best.multiplier)
    return out


def extension(df) -> dict[str, float]:
    """Per regime whose best point is the smallest or largest multiplier tried: the next point beyond it (half or
    double), so that the selected LR is bracketed; regimes already bracketed are absent."""
    out = {}
    for regime, g in df.groupby("regime", sort=False):
        best, tried = selection(g)[regime], sorted(g.multiplier)
        if len(tried) < 2:
            continue
        if best == tried[-1]:
            out[regime] = best * 2
        elif best == tried[0]:
            out[regime] = best / 2
    return out


def final_table(results_dir: str | Path | None = None, profile: str = "paper", chosen: dict | None = None):
    """One row per finished final-stage run (official split) of each regime at its selected multiplier
    (``chosen``, default: :func:`selection` of the grid): regime, seed, multiplier, LR, test accuracy (%), epochs,
    steps, stop reason, |x - x0|, phi (Metric 2.1, full space, summed objective, eps 1e-3) and the Hessian's top
    eigenvalue where measured (NaN otherwise)."""
    import pandas as pd

    from lbgap.measures import sharpness

    chosen = chosen if chosen is not None else selection(grid_table(results_dir, profile))
    sharp = sharpness.sharpness_table(results_dir, profile, tag=None)
    done = {r["run_id"]: r for r in records.iter_records(results_dir, profile, "train") if r.get("status") == "ok"}
    seeds = sorted({int(r["config"]["seed"]) for r in done.values()})
    rows = []
    for regime, m in chosen.items():
        for seed in seeds:
            cfg = config(regime, m, seed, "final", profile)
            rec = done.get(cfg.run_id)
            if rec is None:
                continue
            hit = sharpness.entry_for(sharp, cfg.run_id, EPS, "full", "sum")
            rows.append(dict(regime=regime, seed=seed, multiplier=m, lr=cfg.lr, test_acc=100 * rec["final"]["test_acc"],
                             epochs=int(rec["epochs"]), steps=int(rec["steps"]), stop_reason=rec["stop_reason"],
                             dist_from_init=float(rec["dist_from_init"]),
                             phi=float(hit.phi) if hit is not None else float("nan"),
                             hessian_top=float(hit.hessian_top) if hit is not None and hit.hessian_top is not None
                             else float("nan")))
    cols = ["regime", "seed", "multiplier", "lr", "test_acc", "epochs", "steps", "stop_reason", "dist_from_init",
            "phi", "hessian_top"]
    return pd.DataFrame(rows, columns=cols)


def warmup_table(results_dir: str | Path | None = None, profile: str = "paper"):
    """The warm-up check: per LB grid point trained both with the protocol's warm-up and without it (tag suffix
    :data:`NO_WARMUP`), hold-out split, seed 0: multiplier, validation accuracy (%) and loss, epochs and stop reason
    of each. Empty until a run without warm-up exists."""
    import pandas as pd

    grid_rows = grid_table(results_dir, profile)
    rows = []
    for r in records.iter_records(results_dir, profile, "train"):
        cfg = r.get("config", {})
        t = str(cfg.get("tag", ""))
        if not t.endswith(NO_WARMUP) or cfg.get("split") != "holdout" or r.get("status") != "ok":
            continue
        m = multiplier_of(t[: -len(NO_WARMUP)])
        twin = grid_rows[(grid_rows.regime == "LB") & (grid_rows.multiplier == m)]
        if m is None or twin.empty:
            continue
        w = twin.iloc[0]
        rows.append(dict(multiplier=m, val_acc_warmup=w.val_acc, val_acc_none=100 * r["final"]["test_acc"],
                         val_loss_warmup=w.val_loss, val_loss_none=r["final"]["test_loss"], epochs_warmup=w.epochs,
                         epochs_none=int(r["epochs"]), stop_warmup=w.stop_reason, stop_none=r["stop_reason"]))
    cols = ["multiplier", "val_acc_warmup", "val_acc_none", "val_loss_warmup", "val_loss_none", "epochs_warmup",
            "epochs_none", "stop_warmup", "stop_none"]
    return pd.DataFrame(rows, columns=cols).sort_values("multiplier").reset_index(drop=True)


def cpu_time(results_dir: str | Path | None = None, profile: str = "paper") -> dict:
    """What the study cost, from its records (``records.cost_of``): per part ("grid": selection and warm-up check
    runs on the hold-out split; "final": training on the official split; "sharpness": φ and λ_max of the final
    runs), the number of records and the core-hours, and the CPUs and thread counts that ran the training."""
    parts = {"grid": [], "final": []}
    for r in records.iter_records(results_dir, profile, "train"):
        cfg = r.get("config", {})
        if str(cfg.get("tag", "")).startswith(TAG_PREFIX) and r.get("status") == "ok" and cfg.get("net") == NET:
            parts["grid" if cfg.get("split") == "holdout" else "final"].append(r)
    return records.cost_of(parts, "final", results_dir, profile)


# ---------------------------------------------------------------------------------------------------- running
def run(stage: str, regimes: Sequence[str] = ("SB", "LB"), seeds: Sequence[int] = (0, 1, 2, 3, 4),
        profile: str = "paper", results_dir: str | Path | None = None, force: bool = False,
        multipliers: Sequence[float] | None = None, sharpness_after: bool = True, accept_edge: bool = False,
        warmup: bool = True, **overrides) -> list:
    """Train one stage (runs already recorded are skipped). ``grid``: the default points of ``regimes`` (or the
    given ``multipliers``), then the extension point where the recorded grid asks for one. ``final``: the
    selected multiplier of each regime for ``seeds``, each followed by its sharpness entry (Metric 2.1 and the
    Hessian's top eigenvalue) when ``sharpness_after``; refused while a regime's best grid point sits at an edge
    of what was tried, unless ``accept_edge``. Returns the outcomes."""
    results_dir = records.store_root(results_dir)
    outcomes: list = []
    if stage == "grid" and not warmup:   # the warm-up check: the given LB points that would warm up, without it
        pts = [m for m in (multipliers or MULTIPLIERS["LB"]) if warms_up("LB", m)] if "LB" in regimes else []
        if not pts:
            raise ValueError("--no-warmup trains LB grid points at x4 and above without their warm-up: give --batches "
                             "LB and such --multipliers")
        cfgs = [config("LB", m, 0, "grid", profile, warmup=False, **overrides) for m in pts]
        return sweep.run_grid(cfgs, results_dir, "serial", force=force, label="tuned-lr-nowarmup")
    if stage == "grid":
        table = {r: tuple(multipliers) if multipliers else MULTIPLIERS[r] for r in regimes}
        cfgs = grid(regimes, profile, table, **overrides)
        outcomes += sweep.run_grid(cfgs, results_dir, "serial", force=force, label="tuned-lr-grid")
        more = {r: m for r, m in extension(grid_table(results_dir, profile)).items() if r in regimes}
        while more and not multipliers:
            cfgs = [config(r, m, 0, "grid", profile, **overrides) for r, m in more.items()]
            outcomes += sweep.run_grid(cfgs, results_dir, "serial", force=force, label="tuned-lr-extend")
            if any(o.status not in ("done", "skipped") for o in outcomes[-len(cfgs):]):
                break
            more = {r: m for r, m in extension(grid_table(results_dir, profile)).items() if r in regimes}
        return outcomes
    if stage != "final":
        raise ValueError(f"unknown stage {stage!r}: choose {' or '.join(STAGES)}")
    recorded = grid_table(results_dir, profile)
    chosen = selection(recorded)
    missing = [r for r in regimes if r not in chosen]
    if missing:
        raise ValueError(f"no grid runs for {', '.join(missing)} in {results_dir}: run `lbgap sweep tuned-lr --stage "
                         "grid` first (the LR is chosen on the hold-out split)")
    open_edge = {r: m for r, m in extension(recorded).items() if r in regimes}
    if open_edge and not accept_edge:
        raise ValueError("the grid's best LR sits at its edge for " + ", ".join(
            f"{r} (next point x{m:g})" for r, m in open_edge.items()) + ": run `lbgap sweep tuned-lr --stage grid` "
            "to extend it before the final stage (or --accept-edge to train at the edge value)")
    from lbgap.measures import sharpness

    for seed in seeds:
        for regime in regimes:
            cfg = config(regime, chosen[regime], seed, "final", profile, **overrides)
            (out,) = sweep.run_grid([cfg], results_dir, "serial", force=force,
                                    label=f"tuned-lr-final-{cfg.run_id}")
            if sharpness_after:
                out = sweep.measure_after(out, cfg, results_dir, "sharpness", lambda cfg=cfg: sharpness.compute(
                    cfg, results_dir, eps=(EPS,), spaces=("full",), objective="sum", hessian=True, device=cfg.device,
                    force=force))
            outcomes.append(out)
    return outcomes
