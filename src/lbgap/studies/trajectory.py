"""Figure 6 of Keskar et al. (2017): sharpness against the training loss along the SB and LB trajectories.

The paper (Section 4, Figure 6, "one random trial of the F2 and C1 networks"): "For larger values of the loss
function, i.e., near the initial point, SB and LB method yield similar values of sharpness. As the loss function
reduces, the sharpness of the iterates corresponding to the LB method rapidly increases, whereas for the SB method
the sharpness stays relatively constant initially and then reduces." How often sharpness was sampled and the
epsilon are not in the text.

What this module fixes where the paper is silent (each run's record keeps its exact config):

* SB and LB of one seed are the Table 2 configurations trained for a fixed number of epochs (``epochs``, no early
  stop) with ``tag="fig6"``; the weights are kept after the steps of a geometric schedule (``schedule``: step 0 =
  x0, then ~``points`` steps spaced evenly in log(step) up to the last), so the loss axis is covered from the
  initial point down to the minimiser in both regimes, although LB takes ~20x fewer steps per epoch;
* at every kept iterate: Metric 2.1 at eps = 1e-3, full space with L-BFGS-B on the summed loss and the random
  100-dimensional subspace (as Figure 4's ``threshold``), f on ``train_examples`` training examples (None: all);
  the loss axis is f at that iterate (the cross-entropy on the same examples).

The measured trajectories are in the chapter "Sharpness along training (Figure 6)" (``chapters/trajectory.ipynb``).

Records: the runs' ``train`` records (with ``snapshots``) and one ``trajectory`` record per run, an entry per
(step, space), saved after each entry; finished entries are skipped, so an interrupted sweep resumes.

CLI: ``lbgap sweep trajectory --net F1 --profile quick --epochs 20 --train-examples 10000`` (on a CPU);
``lbgap sweep trajectory --net C1 --device cuda`` / ``--net F2`` (the paper's networks, on a GPU).
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lbgap.core import data as datamod
from lbgap.core import records
from lbgap.core import runs
from lbgap.measures import sharpness
from lbgap.core import sweep
from lbgap.core.train import compute_device, make_config, train_size

logger = logging.getLogger(__name__)

TAG = "fig6"
EPS = 1e-3
SHARPNESS = (("full", "sum"), ("random", "mean"))   # (space, L-BFGS-B objective) per kept iterate
DEFAULT_POINTS = 12


def schedule(total_steps: int, points: int = DEFAULT_POINTS) -> list[int]:
    """Step 0 and ~``points`` steps spaced evenly in log(step) from 1 to ``total_steps`` (duplicates merged)."""
    if total_steps < 1 or points < 1:
        raise ValueError(f"total_steps={total_steps}, points={points}: both must be at least 1")
    return [0] + sorted({int(round(s)) for s in np.geomspace(1, total_steps, points)})


def configs(net: str, seed: int = 0, profile: str = "paper", epochs: int = 100, points: int = DEFAULT_POINTS,
            **overrides):
    """SB and LB of ``seed``: Table 2 configurations with a fixed epoch budget and the snapshot schedule."""
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: both regimes train a fixed number of epochs, at least 1")
    out = []
    for regime in ("SB", "LB"):
        cfg = make_config(net, regime, seed, profile, max_epochs=epochs, patience=epochs + 1, tag=TAG, **overrides)
        n = train_size(cfg.dataset, cfg.split, cfg.source, cfg.n_train)
        total = epochs * math.ceil(n / cfg.batch_size)
        cfg.extra = dict(cfg.extra, snapshot_steps=schedule(total, points), steps_per_epoch=math.ceil(n / cfg.batch_size))
        out.append(cfg)
    return out


def entry_key(step: int, space: str, objective: str) -> str:
    """The key of the Metric 2.1 entry of the iterate at ``step`` in a trajectory record:
    ``step<step>-<space>-eps0.001-<objective>``."""
    return f"step{step}-{space}-eps{EPS:g}-{objective}"


def compute(cfg, results_dir: str | Path | None = None, train_examples: int | None = None, device: str = "auto",
            force: bool = False) -> dict:
    """phi at every kept iterate of run ``cfg`` (its train record lists them); one entry per (step, space)."""
    results_dir = records.store_root(results_dir)
    train_rec = records.read_record(records.record_path(results_dir, cfg.profile, "train", cfg.run_id))
    steps = train_rec.get("snapshots") or []
    if not steps:
        raise ValueError(f"run {cfg.run_id} kept no iterates: train it with extra.snapshot_steps (`configs`)")
    path = records.record_path(results_dir, cfg.profile, "trajectory", cfg.run_id)
    rec = None if force else records.read_record(path)
    if rec is None:
        rec = records.new_record("trajectory", run_id=cfg.run_id, net=cfg.net, regime=cfg.regime, seed=cfg.seed,
                                 batch_size=cfg.batch_size, profile=cfg.profile, config=cfg.to_dict(), entries={})
    todo = [(s, sp, ob) for s in steps for sp, ob in SHARPNESS if entry_key(s, sp, ob) not in rec["entries"]]
    if not todo:
        rec["skipped"] = True
        return rec
    started, fresh = records.now(), force
    dev = compute_device(device)
    data = runs.load_data(cfg, dev)
    subset, rule = datamod.example_subset(data.train, train_examples, cfg.dataset)
    from lbgap.core.models import build_model

    model = build_model(cfg.net, bn=cfg.bn, num_classes=data.num_classes).to(dev)
    lf = sharpness.FullBatchLoss(model, subset, cfg.eval_batch_size)
    A = None
    per_epoch = cfg.extra.get("steps_per_epoch") or 1
    run = runs.find(cfg, results_dir)
    for step in sorted({s for s, _, _ in todo}):
        ckpt = run.checkpoint(f"step{step}")
        if not ckpt.is_file():
            raise FileNotFoundError(f"no kept iterate {ckpt}; checkpoints are not committed: retrain with "
                                    f"`lbgap sweep trajectory --net {cfg.net} --force`")
        model.load_state_dict(torch.load(ckpt, map_location=dev, weights_only=True))
        x = lf.x()
        for s, space, objective in todo:
            if s != step:
                continue
            if space == "random" and A is None:
                A = sharpness.random_subspace(lf.n, sharpness.SUBSPACE_DIM, sharpness.A_SEED, dev)
            t0 = time.perf_counter()
            r = sharpness.epsilon_sharpness(lf, x, EPS, A if space == "random" else None, 10,
                                            solver_scale=sharpness.solver_scale(lf, objective))
            lf.set(x)
            entry = dict(r.to_dict(), step=step, epoch=step / per_epoch, space=space, objective=objective,
                         n_train=lf.examples, train_set=len(data.train), subset_rule=rule,
                         eval_batch_size=cfg.eval_batch_size, wall_s=time.perf_counter() - t0)
            rec = records.save_piece(path, rec, "entries", {entry_key(step, space, objective): entry}, fresh,
                                     provenance=records.provenance(dev, None, started))
            fresh = False
            logger.info(f"trajectory {cfg.run_id} step {step:>6} {space:6s}: loss {r.f0:.4g}, phi {r.value:.3f} "
                f"({r.wall_s:.0f}s)")
    return rec


def run(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", epochs: int = 100,
        points: int = DEFAULT_POINTS, train_examples: int | None = None, results_dir: str | Path | None = None,
        executor: str = "serial", force: bool = False, **overrides) -> list:
    """Seed by seed: train SB and LB keeping the scheduled iterates (finished runs skipped), then phi along each."""
    results_dir = records.store_root(results_dir)
    for seed in seeds:   # bad input fails before anything runs
        configs(net, seed, profile, epochs, points, **overrides)
    outcomes = []
    for seed in seeds:
        cfgs = configs(net, seed, profile, epochs, points, **overrides)
        done = sweep.run_grid(cfgs, results_dir, executor, force=force, label=f"trajectory-{net}")
        outcomes += done
        for cfg, out in zip(cfgs, done):
            if out.status in ("done", "skipped"):
                compute(cfg, results_dir, train_examples, cfg.device, force)
    return outcomes


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick")):
    """One row per kept iterate: network, regime, seed, step, epoch, loss f (on the sharpness examples) and phi in
    each space. Per network the first of ``profiles`` that has trajectory records (as the other chapters)."""
    import pandas as pd

    rows = []
    for r in records.preferred_records(results_dir, profiles, "trajectory"):
        by_step: dict[int, dict] = {}
        for e in r["entries"].values():
            row = by_step.setdefault(e["step"], dict(net=r["net"], profile=r["profile"], regime=r["regime"],
                                                     seed=r["seed"], batch_size=r["batch_size"], step=e["step"],
                                                     epoch=e["epoch"], loss=e["f0"], examples=e["n_train"],
                                                     subset_rule=e["subset_rule"], phi_full_sum=float("nan"),
                                                     phi_random=float("nan")))
            row["phi_full_sum" if e["space"] == "full" else "phi_random"] = e["value"]
        rows += by_step.values()
    if not rows:
        return pd.DataFrame(columns=["net", "profile", "regime", "seed", "batch_size", "step", "epoch", "loss",
                                     "phi_full_sum", "phi_random"])
    return pd.DataFrame(rows).sort_values(["net", "seed", "regime", "step"]).reset_index(drop=True)


def plot(df, ax, column: str = "phi_full_sum", title: str = ""):
    """The paper's layout: sharpness against the training loss (log-log; loss decreasing to the right as
    training proceeds), SB (blue) and LB (red), one line per seed (the first solid, the others dashed)."""
    first = df.seed.min()
    for (regime, seed), g in df.sort_values("step").groupby(["regime", "seed"]):
        g = g[np.isfinite(g[column]) & (g[column] > 0)]
        if not len(g):
            continue
        colour = "C0" if regime == "SB" else "C3"
        ax.plot(g.loss, g[column], "o-" if seed == first else "s--", color=colour, ms=4, alpha=1 if seed == first
                else 0.6, label=f"{regime} (B = {g.batch_size.iloc[0]:,}), seed {seed}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("training cross-entropy (→ training proceeds)")
    ax.set_ylabel({"phi_full_sum": "φ, full space (ε = 1e-3)", "phi_random": "φ, random subspace (ε = 1e-3)"}[column])
    ax.legend(fontsize=8)
    ax.set_title(title)
