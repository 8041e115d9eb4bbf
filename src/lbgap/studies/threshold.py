"""Figure 4 of Keskar et al. (2017): test accuracy and sharpness of the final iterate against the batch size.

The paper (Section 2.2, Figure 4, networks F2 and C1): "The X-axis corresponds to the batch size used for training
the network for 100 epochs, left Y-axis corresponds to the testing accuracy at the final iterate and right Y-axis
corresponds to the sharpness of that iterate", and "there is a batch size (~15000 for F2 and ~500 for C1) after
which there is a large drop in testing accuracy". The batch sizes and the epsilon are not in the text.

What this module fixes where the paper is silent (each run's record keeps its exact config):

* every batch size trains for the same number of epochs (``epochs``, the paper's 100), Adam at lr 1e-3 as in
  Table 2, with no early stop: a Table 2 configuration with ``max_epochs=epochs``, ``patience`` beyond it and
  ``tag="fig4"`` (so these runs never mix with Table 2's);
* sharpness is Metric 2.1 at epsilon = 1e-3 in the full space, L-BFGS-B on the summed training loss (which reaches
  the box at a converged minimiser, where the mean-loss objective stalls: see the sharpness chapter), and in the
  random 100-dimensional subspace; f on ``train_examples`` training examples (None: all, the paper's definition);
* the default batch sizes are 64, 256, 1,024, 4,096 and 10 % (the paper's LB) and 50 % of the training set.

The measured curves are in the chapter "The batch-size threshold (Figure 4)" (``chapters/threshold.ipynb``).

CLI: ``lbgap sweep threshold --net F1 --epochs 20 --seeds 0 --profile quick --train-examples 10000`` (on a CPU);
``lbgap sweep threshold --net C1 --device cuda`` (the paper's 100 epochs, on a GPU). Finished runs and entries
are skipped, so an interrupted sweep resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lbgap.core import records
from lbgap.measures import sharpness
from lbgap.core import sweep
from lbgap.core.train import make_config

TAG = "fig4"
DEFAULT_BATCH_SIZES = ("64", "256", "1024", "4096", "10%", "50%")
EPS = 1e-3
SHARPNESS = (("full", "sum"), ("random", "mean"))   # (space, L-BFGS-B objective) per run


def grid(net: str, batch_sizes: Sequence[str | int] = DEFAULT_BATCH_SIZES, seeds: Sequence[int] = (0,),
         profile: str = "paper", epochs: int = 100, **overrides):
    """One fixed-epoch Table 2 configuration per (batch size, seed), smallest batch first; sizes that resolve
    to the same number of examples are run once."""
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: every batch size trains a fixed number of epochs, at least 1")
    if not batch_sizes or not seeds:
        raise ValueError("give at least one batch size and one seed")
    cfgs = {}
    for seed in seeds:
        for b in batch_sizes:
            cfg = make_config(net, b, seed, profile, max_epochs=epochs, patience=epochs + 1, tag=TAG, **overrides)
            cfgs.setdefault(cfg.run_id, cfg)
    return sorted(cfgs.values(), key=lambda c: (c.seed, c.batch_size))


def run(net: str, batch_sizes: Sequence[str | int] = DEFAULT_BATCH_SIZES, seeds: Sequence[int] = (0,),
        profile: str = "paper", epochs: int = 100, train_examples: int | None = None,
        results_dir: str | Path | None = None, executor: str = "serial", force: bool = False,
        **overrides) -> list:
    """Seed by seed: train the seed's grid (finished runs skipped), then the sharpness of each final iterate, so
    that an interrupted sweep leaves whole seeds behind. Returns the training outcomes; a failed run is reported
    there and gets no sharpness."""
    results_dir = records.store_root(results_dir)
    grid(net, batch_sizes, seeds, profile, epochs, **overrides)   # bad input fails before anything runs
    outcomes = []
    for seed in seeds:
        cfgs = grid(net, batch_sizes, (seed,), profile, epochs, **overrides)
        done = sweep.run_grid(cfgs, results_dir, executor, force=force, label=f"threshold-{net}")
        outcomes += done
        sharpness.measure_runs(cfgs, done, SHARPNESS, (EPS,), train_examples, results_dir, force)
    return outcomes


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick")):
    """One row per run of the sweep: batch size, epochs and steps trained, final train loss and accuracy, test
    accuracy, and phi at eps = 1e-3 in each space (NaN where not computed yet). Per network the first of
    ``profiles`` that has runs (as the other chapters)."""
    import pandas as pd

    frames = [kept for _, _, kept in records.first_profile_runs(results_dir, profiles, lambda df: df.tag == TAG)]
    if not frames:
        return pd.DataFrame(columns=["net", "profile", "batch_size", "seed", "epochs", "steps", "train_loss",
                                     "train_acc", "test_acc", "phi_full_sum", "phi_random", "sharpness_examples"])
    runs = pd.concat(frames, ignore_index=True)
    sharp = pd.concat([sharpness.sharpness_table(results_dir, p, tag=TAG) for p in runs.profile.unique()],
                      ignore_index=True)
    rows = []
    for _, r in runs.iterrows():
        row = dict(net=r.net, profile=r.profile, batch_size=int(r.batch_size), seed=int(r.seed),
                   epochs=int(r.epochs), steps=int(r.steps), train_loss=r.train_loss, train_acc=100 * r.train_acc,
                   test_acc=100 * r.test_acc)
        row.update(sharpness.phi_columns(sharp, r.run_id, EPS))
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["net", "batch_size", "seed"]).reset_index(drop=True)


def plot(df, ax, title: str = ""):
    """The paper's layout: test accuracy (left axis) and sharpness (right axis, log) against the batch size (log);
    one dot per seed, the line through the means."""
    import numpy as np

    mean = df.groupby("batch_size")[["test_acc", "phi_full_sum", "phi_random"]].mean().reset_index()
    ax.plot(mean.batch_size, mean.test_acc, "o-", color="C0", label="test accuracy")
    ax.scatter(df.batch_size, df.test_acc, color="C0", s=12, alpha=0.5)
    ax.set_xscale("log")
    ax.set_xticks(list(mean.batch_size), [f"{b:,}" for b in mean.batch_size], fontsize=8, rotation=30)
    ax.minorticks_off()
    ax.set_xlabel("batch size")
    ax.set_ylabel("test accuracy (%)", color="C0")
    right = ax.twinx()
    for col, colour, label in (("phi_full_sum", "C3", "sharpness, full space"),
                               ("phi_random", "C1", "sharpness, random subspace")):
        ok = mean[np.isfinite(mean[col]) & (mean[col] > 0)]
        if len(ok):
            right.plot(ok.batch_size, ok[col], "s--", color=colour, label=label)
    right.set_yscale("log")
    right.set_ylabel("sharpness φ (ε = 1e-3)", color="C3")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=8, loc="lower left")
    ax.set_title(title)
    return right
