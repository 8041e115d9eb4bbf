"""Figure 5 of Keskar et al. (2017): large-batch training warm-started from small-batch iterates ("piggybacking").

The paper (Section 4, Figure 5, networks F2 and C1): "We train the network for 100 epochs using ADAM with a batch
size of 256, and retain the iterate after each epoch in memory. Using these 100 iterates as starting points we
train the network using a LB method for 100 epochs and receive a 100 piggybacked (or warm-started) large-batch
solutions." Upper panels: test accuracy of the SB iterate and of the piggybacked LB solution against the number
of SB epochs; lower panels: the sharpness of the LB solutions. Warm starts after a few SB epochs give no
improvement and high sharpness; after "a certain number of epochs" the accuracy improves and the sharpness falls
(SB has ended its "exploration phase").

What this module fixes where the paper is silent (each run's record keeps its exact config):

* the SB run is the Table 2 SB configuration trained for ``sb_epochs`` (no early stop, ``tag="fig5"``) that keeps
  its iterate after each epoch of ``warm_epochs`` (epoch 0 = x0) instead of all of them;
* each piggybacked run is the Table 2 LB configuration (10 %) of the same seed, started from one kept iterate
  (``init_from``) with a fresh Adam (lr 1e-3) and trained ``lb_epochs`` with no early stop
  (``tag="fig5-sb<k>"``); warm start 0 is plain LB from x0 for the same number of epochs;
* sharpness of each LB solution: Metric 2.1 at eps = 1e-3, full space with L-BFGS-B on the summed loss and the
  random 100-dimensional subspace (as Figures 4 and 6), f on ``train_examples`` training examples (None: all).

The measured curves are in the chapter "Warm-starting large batches from small-batch iterates (Figure 5)"
(``chapters/warmstart.ipynb``).

CLI: ``lbgap sweep warmstart --net F1 --profile quick --sb-epochs 20 --lb-epochs 20 --train-examples 10000``
(on a CPU); ``lbgap sweep warmstart --net C1 --device cuda`` (the paper's 100 + 100 epochs, on a GPU). Finished
runs and entries are skipped, so an interrupted sweep resumes.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from lbgap.core import checkpoints
from lbgap.core import records
from lbgap.measures import sharpness
from lbgap.core import sweep
from lbgap.core.train import make_config, train_size

TAG = "fig5"
EPS = 1e-3
SHARPNESS = (("full", "sum"), ("random", "mean"))   # (space, L-BFGS-B objective) per LB solution
DEFAULT_WARM_EPOCHS = (0, 1, 2, 3, 5, 10, 20, 50, 100)


def warm_list(sb_epochs: int, warm_epochs: Sequence[int] | None = None) -> list[int]:
    """The SB epochs to warm-start from: ``warm_epochs`` (default: 0, 1, 2, 3, 5, 10, 20, 50, 100 up to
    ``sb_epochs``, and ``sb_epochs`` itself), sorted, each once; each must lie in [0, sb_epochs]."""
    if sb_epochs < 1:
        raise ValueError(f"sb_epochs={sb_epochs}: the SB run trains a fixed number of epochs, at least 1")
    if warm_epochs is None:
        warm_epochs = [k for k in DEFAULT_WARM_EPOCHS if k <= sb_epochs] + [sb_epochs]
    out = sorted({int(k) for k in warm_epochs})
    bad = [k for k in out if not 0 <= k <= sb_epochs]
    if not out or bad:
        raise ValueError(f"warm-start epochs {bad or 'none'}: give epochs between 0 (x0) and sb_epochs={sb_epochs}")
    return out


def configs(net: str, seed: int = 0, profile: str = "paper", sb_epochs: int = 100, lb_epochs: int = 100,
            warm_epochs: Sequence[int] | None = None, **overrides):
    """The SB run that keeps the warm starts, then one LB config per warm start (in the order of ``warm_list``)."""
    if lb_epochs < 1:
        raise ValueError(f"lb_epochs={lb_epochs}: each piggybacked LB run trains a fixed number of epochs, at least 1")
    warm = warm_list(sb_epochs, warm_epochs)
    sb = make_config(net, "SB", seed, profile, max_epochs=sb_epochs, patience=sb_epochs + 1, tag=TAG, **overrides)
    per_epoch = math.ceil(train_size(sb.dataset, sb.split, sb.source, sb.n_train) / sb.batch_size)
    sb.extra = dict(sb.extra, snapshot_steps=[k * per_epoch for k in warm], steps_per_epoch=per_epoch)
    lbs = []
    for k in warm:
        lb = make_config(net, "LB", seed, profile, max_epochs=lb_epochs, patience=lb_epochs + 1, tag=f"{TAG}-sb{k}",
                         init_from=f"{profile}/{sb.run_id}/step{k * per_epoch}.pt", **overrides)
        lb.extra = dict(lb.extra, warm_epoch=k, warm_run=sb.run_id)
        lbs.append(lb)
    return sb, lbs


def run(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", sb_epochs: int = 100, lb_epochs: int = 100,
        warm_epochs: Sequence[int] | None = None, train_examples: int | None = None,
        results_dir: str | Path | None = None, executor: str = "serial", force: bool = False,
        **overrides) -> list:
    """Seed by seed: the SB run (finished runs skipped), then the LB runs from its kept iterates, then the
    sharpness of each LB solution, so that an interrupted sweep leaves whole seeds behind. Returns the training
    outcomes; a failed run is reported there and gets no sharpness."""
    results_dir = records.store_root(results_dir)
    for seed in seeds:   # bad input fails before anything runs
        configs(net, seed, profile, sb_epochs, lb_epochs, warm_epochs, **overrides)
    outcomes = []
    for seed in seeds:
        sb, lbs = configs(net, seed, profile, sb_epochs, lb_epochs, warm_epochs, **overrides)
        first = sweep.run_grid([sb], results_dir, executor, force=force, label=f"warmstart-{net}-SB")
        outcomes += first
        if first[0].status not in ("done", "skipped"):
            continue
        missing = [lb for lb in lbs if not checkpoints.warm_start_path(lb.init_from, results_dir).is_file()
                   and not records.record_path(results_dir, profile, "train", lb.run_id).is_file()]
        if missing:   # the SB record exists but its kept iterates are gone (checkpoints are not committed)
            raise FileNotFoundError(f"the kept SB iterates of {sb.run_id} are missing ({missing[0].init_from}): "
                                    f"retrain it with `lbgap sweep warmstart --net {net} --seeds {seed} --force`")
        done = sweep.run_grid(lbs, results_dir, executor, force=force, label=f"warmstart-{net}-LB")
        outcomes += done
        sharpness.measure_runs(lbs, done, SHARPNESS, (EPS,), train_examples, results_dir, force)
    return outcomes


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick")):
    """One row per piggybacked LB run: network, seed, warm-start epoch k, the SB iterate's train loss and test
    accuracy after k epochs (from the SB run's per-epoch evaluation), the LB solution's final train loss, train
    and test accuracy, and its phi at eps = 1e-3 in each space (NaN where not computed yet). Per network the
    first of ``profiles`` that has Figure 5 runs (as the other chapters)."""
    import pandas as pd

    rows, seen = [], set()
    for prof in profiles:   # each profile's records read once
        recs = list(records.iter_records(results_dir, prof, "train"))
        lbs = [r for r in recs if str(r["config"]["tag"]).startswith(f"{TAG}-sb") and r["status"] == "ok"
               and r["config"]["net"] not in seen]
        if not lbs:
            continue
        seen |= {r["config"]["net"] for r in lbs}
        sb_hist = {r["run_id"]: {h["epoch"]: h for h in r["history"]} for r in recs if r["config"]["tag"] == TAG}
        sharp = sharpness.sharpness_table(results_dir, prof, tag=None)
        for rec in lbs:
            c, f = rec["config"], rec["final"]
            k = int(c["extra"]["warm_epoch"])
            at = sb_hist.get(c["extra"]["warm_run"], {}).get(k, {})
            rows.append(dict(net=c["net"], profile=prof, seed=int(c["seed"]), warm_epoch=k,
                             batch_size=int(c["batch_size"]), lb_epochs=int(rec["epochs"]), lb_steps=int(rec["steps"]),
                             sb_train_loss=at.get("train_loss", float("nan")),
                             sb_test_acc=100 * at.get("test_acc", float("nan")), lb_train_loss=f["train_loss"],
                             lb_train_acc=100 * f["train_acc"], lb_test_acc=100 * f["test_acc"],
                             **sharpness.phi_columns(sharp, rec["run_id"], EPS)))
    if not rows:
        return pd.DataFrame(columns=["net", "profile", "seed", "warm_epoch", "sb_test_acc", "lb_test_acc",
                                     "phi_full_sum", "phi_random"])
    return pd.DataFrame(rows).sort_values(["net", "seed", "warm_epoch"]).reset_index(drop=True)


def plot(df, axes, title: str = ""):
    """The paper's layout: upper ``axes[0]`` test accuracy of the SB iterate (blue) and of the piggybacked LB
    solution (red) against the SB warm-start epochs; lower ``axes[1]`` the LB solutions' sharpness (log), full
    space and random subspace. One dot per seed, the line through the means. The x axis is symlog (0 = x0)."""
    top, bottom = axes
    mean = df.groupby("warm_epoch")[["sb_test_acc", "lb_test_acc", "phi_full_sum", "phi_random"]].mean()
    for col, colour, label in (("sb_test_acc", "C0", "SB iterate"), ("lb_test_acc", "C3", "piggybacked LB")):
        top.plot(mean.index, mean[col], "o-", color=colour, label=label)
        top.scatter(df.warm_epoch, df[col], color=colour, s=12, alpha=0.5)
    top.set_ylabel("test accuracy (%)")
    # the axis spans the LB solutions and the trained SB iterates; x0's chance-level accuracy is written, not drawn
    shown = np.concatenate([df.lb_test_acc.to_numpy(float), df[df.warm_epoch > 0].sb_test_acc.to_numpy(float)])
    shown = shown[np.isfinite(shown)]
    if len(shown):
        lo, hi = shown.min(), shown.max()
        pad = max(0.1, 0.1 * (hi - lo))
        top.set_ylim(lo - pad, hi + pad)
        at_x0 = mean.sb_test_acc.get(0, float("nan"))
        if np.isfinite(at_x0) and at_x0 < lo - pad:
            top.annotate(f"SB at x0: {at_x0:.1f} % (below the axis)", (0, lo - pad), xytext=(4, 6),
                         textcoords="offset points", fontsize=8, color="C0")
    top.legend(fontsize=8)
    top.set_title(title)
    for col, colour, label in (("phi_full_sum", "C3", "full space"), ("phi_random", "C1", "random subspace")):
        ok = mean[np.isfinite(mean[col]) & (mean[col] > 0)]
        if len(ok):
            bottom.plot(ok.index, ok[col], "s--", color=colour, label=label)
            bottom.scatter(df.warm_epoch, df[col], color=colour, s=12, alpha=0.5)
    bottom.set_yscale("log")
    bottom.set_ylabel("LB sharpness φ (ε = 1e-3)")
    bottom.legend(fontsize=8)
    for ax in axes:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(sorted(df.warm_epoch.unique()), [str(k) for k in sorted(df.warm_epoch.unique())])
        ax.minorticks_off()
        ax.set_xlim(-0.3, df.warm_epoch.max() * 1.15 + 0.3)
    bottom.set_xlabel("SB epochs before the switch to LB (warm start)")
