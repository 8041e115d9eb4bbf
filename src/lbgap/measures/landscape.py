"""Loss-landscape views: Figure 3 (linear SB-LB interpolation), Figure 7 (curvilinear), Li et al. (2018).

* Figure 3 (Keskar et al., Section 2.2): f(alpha x_LB + (1 - alpha) x_SB) for alpha in [-1, 2] (25 points,
  as the authors' ``plot_parametric_plot.py``), train and test cross-entropy and accuracy. alpha = 0 is the
  SB minimiser, alpha = 1 the LB one. Like the authors' code, only *trainable* parameters are interpolated
  (weights, biases, BN gamma/beta). With ``bn="batch"`` (Keras mode=2) there are no running statistics:
  every point is evaluated with the statistics of its own evaluation batches. With ``bn="running"`` the BN
  running statistics are *recomputed* on the training data at every point (Li et al.'s alternative is to
  interpolate them; we do not), and the record says so.
* Figure 7 (Appendix D): the curvilinear path f(sin(alpha pi/2) x_LB + cos(alpha pi/2) x_SB).
* Li et al. (2018): filter-normalised random directions d, each filter (output row of a Linear weight,
  output channel of a Conv weight) rescaled to the norm of the matching filter of the solution; biases and
  BN parameters get d = 0 (their default ``--xignore biasbn``). 1-D curves f(x + t d) around the SB and LB
  solutions with the same random seed, and a 2-D contour f(x + a d1 + b d2) around each.

Evaluation is ``model.eval()`` (dropout off) at the run's evaluation batch size, in the dataset's fixed
evaluation batches (``eval_batches``: interleaved for speech frames); to keep a CPU run affordable the curves
may use ``train_examples`` training and ``test_examples`` test examples (the first N, or N spread evenly over
a speaker-ordered set: ``data.example_subset``; recorded with each part).
CLI: ``lbgap landscape SEED NET`` writes ``<results>/<profile>/landscape/<net>-...-s<seed>.json``.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from lbgap.core import data as datamod
from lbgap.core import records
from lbgap.core import runs
from lbgap.measures.sharpness import select_params
from lbgap.core.train import evaluate

PARTS = ("linear", "curvilinear", "filter1d", "contour")
ALPHAS = (-1.0, 2.0, 25)
logger = logging.getLogger(__name__)


def alpha_grid(lo: float = -1.0, hi: float = 2.0, points: int = 25) -> list[float]:
    """``points`` evenly spaced values from ``lo`` to ``hi``, both included: Figure 3's alpha in [-1, 2] at 25
    points by default (the authors' ``plot_parametric_plot.py``), or the t (a, b) of the filter-normalised curves."""
    if points < 2 or not hi > lo:
        raise ValueError(f"an alpha grid needs at least 2 points and hi > lo (got {lo}, {hi}, {points})")
    return [float(a) for a in np.linspace(lo, hi, points)]


def get_flat(params: Sequence[nn.Parameter]) -> torch.Tensor:
    """The parameters ``params`` as one flat vector (a detached copy, in their order)."""
    return torch.nn.utils.parameters_to_vector([p.detach() for p in params]).clone()


def set_flat(params: Sequence[nn.Parameter], z: torch.Tensor) -> None:
    """Write the flat vector ``z`` (:func:`get_flat`'s layout) back into ``params``, in place."""
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(z, params)


def has_running_stats(model: nn.Module) -> bool:
    """Whether any BatchNorm of ``model`` keeps running statistics (``bn="running"``; Keras mode=2, the default
    ``bn="batch"``, keeps none), which :func:`point` then recomputes at every point."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats for m in model.modules())


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, dataset, batch_size: int) -> None:
    """Running BN statistics re-estimated on the training data: the equal-weight average of the per-batch
    statistics (``momentum=None``), i.e. the exact data mean when the batches have equal size."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for idx in dataset.eval_batches(batch_size):
        model(dataset.batch(idx)[0])
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def point(model, params, z, data, batch_size, test=True) -> dict:
    """Train (and test) loss/accuracy at flat parameters ``z`` (BN stats recomputed when they exist)."""
    set_flat(params, z)
    if has_running_stats(model):
        recompute_bn_stats(model, data.train, batch_size)
    row = {}
    row["train_loss"], row["train_acc"] = evaluate(model, data.train, batch_size)
    if test:
        row["test_loss"], row["test_acc"] = evaluate(model, data.test, batch_size)
    return row


def path_point(x_sb: torch.Tensor, x_lb: torch.Tensor, alpha: float, kind: str) -> torch.Tensor:
    """The point at ``alpha`` on the path from the SB minimiser (alpha 0) to the LB one (alpha 1): ``linear``,
    alpha x_LB + (1 - alpha) x_SB (Figure 3); ``curvilinear``, sin(alpha pi/2) x_LB + cos(alpha pi/2) x_SB
    (Figure 7, Appendix D)."""
    if kind == "linear":
        return alpha * x_lb + (1 - alpha) * x_sb
    if kind == "curvilinear":
        return math.sin(alpha * math.pi / 2) * x_lb + math.cos(alpha * math.pi / 2) * x_sb
    raise ValueError(f"path {kind!r} must be 'linear' or 'curvilinear'")


def interpolate(model, params, x_sb, x_lb, data, batch_size, alphas, kind="linear") -> list[dict]:
    """Figure 3 / 7's curve: for each alpha, train and test loss and accuracy (:func:`point`) at
    :func:`path_point`; one row per alpha. ``model``'s parameters are left at the last point."""
    rows = []
    for a in alphas:
        rows.append(dict(alpha=a, **point(model, params, path_point(x_sb, x_lb, a, kind), data, batch_size)))
        logger.debug(f"{kind} alpha={a:+.3f} train loss {rows[-1]['train_loss']:.4f}")
    return rows


def filter_normalized_direction(params: Sequence[nn.Parameter], seed: int, ignore_biasbn: bool = True) -> torch.Tensor:
    """Li et al. (2018) Sec. 4: random Gaussian d, each filter d_i <- d_i / ||d_i|| * ||theta_i||.

    A "filter" is a slice along the first (output) dimension of a weight with >= 2 dimensions. 1-D
    parameters (biases, BN gamma/beta) get 0 when ``ignore_biasbn`` (their default), else a copy of theta."""
    g = torch.Generator().manual_seed(int(seed))
    out = []
    for p in params:
        w = p.detach()
        d = torch.randn(w.shape, generator=g, dtype=torch.float32).to(device=w.device, dtype=w.dtype)
        if w.dim() <= 1:
            d = torch.zeros_like(w) if ignore_biasbn else w.clone()
        else:
            dn = d.reshape(len(d), -1).norm(dim=1).clamp_min(1e-12)
            wn = w.reshape(len(w), -1).norm(dim=1)
            d = d * (wn / dn).view(-1, *([1] * (w.dim() - 1)))
        out.append(d.reshape(-1))
    return torch.cat(out)


def line_1d(model, params, x, d, ts, data, batch_size) -> list[dict]:
    """Li et al. (2018)'s 1-D curve around ``x``: train and test loss and accuracy at x + t d for each t of ``ts``
    (``d``: a filter-normalised direction, :func:`filter_normalized_direction`); one row per t."""
    return [dict(t=t, **point(model, params, x + t * d, data, batch_size)) for t in ts]


def contour_2d(model, params, x, d1, d2, coords, data, batch_size) -> dict:
    """Li et al. (2018)'s 2-D contour around ``x``: train loss and accuracy at x + a d1 + b d2 for every (a, b) of
    ``coords`` x ``coords``, as matrices with rows b (y axis) and columns a (x axis)."""
    loss = np.zeros((len(coords), len(coords)))
    acc = np.zeros_like(loss)
    for i, a in enumerate(coords):
        for j, b in enumerate(coords):
            r = point(model, params, x + a * d1 + b * d2, data, batch_size, test=False)
            loss[j, i], acc[j, i] = r["train_loss"], r["train_acc"]   # rows = b (y axis), columns = a (x axis)
    return dict(coords=list(map(float, coords)), train_loss=loss.tolist(), train_acc=acc.tolist())


# ----------------------------------------------------------------------------------------- the record
def pair_id(sb_cfg, lb_cfg) -> str:
    """A landscape record's name: ``<net>-<dataset>-<split>-b<SB batch>-b<LB batch>-s<seed>[-bn<mode>][-<tag>]``,
    one per SB/LB pair (as ``RunConfig.run_id`` names a run)."""
    parts = [sb_cfg.net, sb_cfg.dataset, sb_cfg.split, f"b{sb_cfg.batch_size}", f"b{lb_cfg.batch_size}",
             f"s{sb_cfg.seed}"]
    if sb_cfg.bn != "batch":
        parts.append(f"bn{sb_cfg.bn}")
    if sb_cfg.tag:
        parts.append(sb_cfg.tag)
    return "-".join(parts)


def _load_pair(sb_cfg, lb_cfg, device, results_dir=None):
    sb, data, dev = runs.load(sb_cfg, device, results_dir=results_dir)   # IEEE float32 (no TF32 convolutions)
    lb = runs.find(lb_cfg, results_dir).model("final", dev, data.num_classes)
    return sb, lb, data, dev


def compute(sb_cfg, lb_cfg, results_dir: str | Path | None = None, parts: Sequence[str] = PARTS,
            points: int = 25, train_examples: int | None = None, test_examples: int | None = None,
            line_points: int = 21, line_range: float = 1.0,
            grid_points: int = 11, grid_range: float = 1.0, contour_examples: int | None = 5000,
            direction_seed: int = 0, device: str = "auto", force: bool = False) -> dict:
    """Landscape record of one SB/LB pair; each part is saved as soon as it is done (skipped if present).
    ``train_examples``/``test_examples``/``contour_examples``: how many examples the curves and the contour
    use (None: all), chosen by ``data.example_subset``."""
    if (sb_cfg.net, sb_cfg.seed, sb_cfg.dataset, sb_cfg.bn) != (lb_cfg.net, lb_cfg.seed, lb_cfg.dataset, lb_cfg.bn):
        raise ValueError(f"{sb_cfg.run_id} and {lb_cfg.run_id} are not an SB/LB pair of one network and seed")
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"unknown landscape part(s) {bad}: choose from {', '.join(PARTS)}")
    results_dir = records.store_root(results_dir)
    rid = pair_id(sb_cfg, lb_cfg)
    path = records.record_path(results_dir, sb_cfg.profile, "landscape", rid)
    rec = None if force else records.read_record(path)
    if rec is None:
        rec = records.new_record("landscape", run_id=rid, net=sb_cfg.net, seed=sb_cfg.seed,
                                 profile=sb_cfg.profile, sb_run=sb_cfg.run_id, lb_run=lb_cfg.run_id, bn=sb_cfg.bn,
                                 tag=sb_cfg.tag, eval_batch_size=sb_cfg.eval_batch_size,
                                 bn_handling=("batch statistics of each evaluation batch (Keras mode=2); nothing to interpolate"
                                              if sb_cfg.bn == "batch" else
                                              "running statistics recomputed on the training data at every point"),
                                 interpolated="trainable parameters (weights, biases, BN gamma/beta)", parts={})
    todo = [p for p in parts if p not in rec["parts"]]
    if not todo:
        rec["skipped"] = True
        return rec
    started, fresh = records.now(), force   # fresh: the first write replaces the record instead of merging
    sb, lb, data, dev = _load_pair(sb_cfg, lb_cfg, device, results_dir)
    model = sb  # evaluated at every point; its parameters are overwritten
    params = select_params(model)
    x_sb, x_lb = get_flat(params), get_flat(select_params(lb))
    bs = sb_cfg.eval_batch_size
    subset = functools.partial(datamod.example_subset, name=sb_cfg.dataset)
    (train, train_rule), (test, test_rule) = subset(data.train, train_examples), subset(data.test, test_examples)
    curves = dataclasses.replace(data, train=train, test=test)
    sizes = dict(train_examples=len(train), train_subset=train_rule, test_examples=len(test),
                 test_subset=test_rule, eval_order=train.eval_order)
    for part in todo:
        t0 = time.perf_counter()
        if part in ("linear", "curvilinear"):
            rows = interpolate(model, params, x_sb, x_lb, curves, bs, alpha_grid(-1, 2, points), part)
            out = dict(rows=rows, **sizes)
        elif part == "filter1d":
            ts = alpha_grid(-line_range, line_range, line_points)
            out = dict(**sizes, direction_seed=direction_seed,
                       normalisation="filter (Li et al. 2018), biases and BN parameters zero")
            for name, x in (("SB", x_sb), ("LB", x_lb)):
                d = filter_normalized_direction(params_like(params, x), direction_seed)
                out[name] = line_1d(model, params, x, d, ts, curves, bs)
                out[f"{name}_direction_norm"] = float(d.norm())
                out[f"{name}_weight_norm"] = float(x.norm())
        else:
            coords = alpha_grid(-grid_range, grid_range, grid_points)
            c_train, c_rule = subset(data.train, contour_examples)
            out = dict(train_examples=len(c_train), train_subset=c_rule,
                       direction_seeds=[direction_seed, direction_seed + 1],
                       normalisation="filter (Li et al. 2018), biases and BN parameters zero")
            for name, x in (("SB", x_sb), ("LB", x_lb)):
                pl = params_like(params, x)
                d1 = filter_normalized_direction(pl, direction_seed)
                d2 = filter_normalized_direction(pl, direction_seed + 1)
                out[name] = contour_2d(model, params, x, d1, d2, coords, dataclasses.replace(data, train=c_train),
                                       bs)
        out["wall_s"] = time.perf_counter() - t0
        rec = records.save_piece(path, rec, "parts", {part: out}, fresh, provenance=records.provenance(dev, None, started))
        fresh = False
        logger.info(f"landscape {rid} {part}: {out['wall_s']:.0f}s")
    set_flat(params, x_sb)
    return rec


def examples_words(part: dict) -> str:
    """Which examples a recorded part's curves used, in words (``data.subset_words``; parts written before the
    rule was recorded get it on read: ``records.upgrade``)."""
    words = datamod.subset_words(part["train_examples"], part["train_subset"], "training")
    if "test_examples" in part:
        words += ", " + datamod.subset_words(part["test_examples"], part["test_subset"], "test")
    return words


def params_like(params: Sequence[nn.Parameter], x: torch.Tensor) -> list[torch.Tensor]:
    """The flat vector ``x`` cut into tensors shaped like ``params`` (for filter normalisation around x)."""
    out, i = [], 0
    for p in params:
        out.append(x[i: i + p.numel()].view_as(p))
        i += p.numel()
    return out


# -------------------------------------------------------------------------------------------- tables
def curves_table(results_dir=None, profile=None, part: str = "linear"):
    """Long table of the linear/curvilinear curves: one row per (run, alpha, split) with loss and accuracy."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, "landscape"):
        if part not in r["parts"]:
            continue
        for row in r["parts"][part]["rows"]:
            for split in ("train", "test"):
                rows.append(dict(net=r["net"], seed=r["seed"], profile=r["profile"], alpha=row["alpha"], split=split,
                                 loss=row[f"{split}_loss"], acc=row[f"{split}_acc"]))
    return pd.DataFrame(rows)


def line_table(results_dir=None, profile=None):
    """One row per (pair, regime, t, split) of the recorded filter-normalised 1-D curves (part ``filter1d``) of
    ``profile`` (None: all): net, seed, regime, t, split, loss, accuracy."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, "landscape"):
        part = r["parts"].get("filter1d")
        if not part:
            continue
        for regime in ("SB", "LB"):
            for row in part[regime]:
                for split in ("train", "test"):
                    rows.append(dict(net=r["net"], seed=r["seed"], regime=regime, t=row["t"], split=split,
                                     loss=row[f"{split}_loss"], acc=row[f"{split}_acc"]))
    return pd.DataFrame(rows)


def table2_records(records) -> list[dict]:
    """The landscape records of Table 2's own pairs: a variant pair (a config tag, e.g. "uncapped") is left out,
    as :func:`lbgap.measures.sharpness.sharpness_table` leaves out variant runs (records older than the ``tag``
    field, all Table 2 pairs, get ``tag=""`` on read: ``records.upgrade``)."""
    return [r for r in records if not r["tag"]]


RISE_RATIO, FILTER_RISE_RATIO = "Fig. 3 rise beyond LB ÷ SB", "filter-normalised rise LB ÷ SB"
LINE_POINTS = ((-0.5, "am05", "α=-0.5"), (0.0, "a0_sb", "α=0 (SB)"), (1.0, "a1_lb", "α=1 (LB)"), (1.5, "a15", "α=1.5"))
# :func:`seed_summary`'s columns and their display labels (applied only when a table is shown)
LABELS = {**{f"train_loss_{key}": f"train loss {name}" for _, key, name in LINE_POINTS},
          "rise_sb": "rise beyond SB (α 0→-0.5)", "rise_lb": "rise beyond LB (α 1→1.5)", "rise_ratio": RISE_RATIO,
          "sb_loss_t1_max": "SB train loss at t=±1 (max)", "sb_rise_t1": "SB rise to t=±1",
          "lb_loss_t1_max": "LB train loss at t=±1 (max)", "lb_rise_t1": "LB rise to t=±1",
          "filter_rise_ratio": FILTER_RISE_RATIO}


def _ratio(a: float, b: float) -> float:
    """a / b, NaN where b is 0 (a flat side has no ratio to give)."""
    return a / b if b else float("nan")


def seed_summary(records):
    """Figure 3 and the filter-normalised view as numbers, one row per (network, seed): the training loss on the
    line through x_SB (alpha = 0) and x_LB (alpha = 1) at the two solutions and as far beyond each (alpha = -0.5,
    1.5), and the largest training loss at the ends (t = +-1) of each solution's filter-normalised direction.
    The "rise" columns subtract the loss at the solution itself, so that two points at different heights (an
    unconverged LB sits higher) are compared by how fast the loss climbs away from them; the two ratio columns
    (``rise_ratio``, ``filter_rise_ratio``) divide LB's rise by SB's (> 1: the loss climbs faster away from LB, the
    paper's claim). Columns are snake_case; :data:`LABELS` holds their display labels."""
    import pandas as pd

    rows = []
    for r in records:
        row = dict(net=r["net"], profile=r["profile"], seed=r["seed"])
        lin = r["parts"].get("linear")
        if lin:
            at = {round(x["alpha"], 6): x["train_loss"] for x in lin["rows"]}
            for a, key, _ in LINE_POINTS:
                row[f"train_loss_{key}"] = at.get(a, float("nan"))
            row["rise_sb"] = row["train_loss_am05"] - row["train_loss_a0_sb"]
            row["rise_lb"] = row["train_loss_a15"] - row["train_loss_a1_lb"]
            row["rise_ratio"] = _ratio(row["rise_lb"], row["rise_sb"])
        f1d = r["parts"].get("filter1d")
        if f1d:
            for regime in ("SB", "LB"):
                ends = [x["train_loss"] for x in f1d[regime] if abs(abs(x["t"]) - 1.0) < 1e-9]
                centre = min(f1d[regime], key=lambda x: abs(x["t"]))["train_loss"]
                low = regime.lower()
                row[f"{low}_loss_t1_max"] = max(ends) if ends else float("nan")
                row[f"{low}_rise_t1"] = row[f"{low}_loss_t1_max"] - centre
            row["filter_rise_ratio"] = _ratio(row["lb_rise_t1"], row["sb_rise_t1"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["net", "seed"]).reset_index(drop=True) if rows else pd.DataFrame()


# -------------------------------------------------------------------------------------------- sweep
def pair_configs(net: str, seed: int, profile: str, results_dir: Path, **overrides):
    """The SB and LB RunConfigs of (net, seed) as stored in their training records."""
    from lbgap.core.train import sb_lb_configs

    out = []
    for cfg in sb_lb_configs(net, seed, profile, **overrides):
        path = records.record_path(results_dir, profile, "train", cfg.run_id)
        if not path.is_file():
            raise FileNotFoundError(f"no training record {path}: train it first (`lbgap sweep table2 --nets {net} "
                                    f"--seeds {seed} --profile {profile}`) or check --profile/--results-dir")
        out.append(runs.resolve(path).config)
    return out


def post_pair(sb_cfg, lb_cfg, results_dir: Path, force: bool = False) -> None:
    """``lbgap sweep table2 --post landscape``: every part, full training set (a GPU run)."""
    compute(sb_cfg, lb_cfg, results_dir, force=force, device=sb_cfg.device)


# ------------------------------------------------------------------------------------------- figures
def plot_parametric(df, ax, title: str = "", xlabel: str = r"$\alpha$"):
    """Figure 3 style: loss on the left axis, accuracy (%) on the right; solid train, dashed test."""
    ax2 = ax.twinx()
    for split, style in (("train", "-"), ("test", "--")):
        d = df[df.split == split].sort_values("alpha")
        ax.plot(d.alpha, d.loss, style, color="tab:blue", label=f"{split} loss")
        ax2.plot(d.alpha, 100 * d.acc, style, color="tab:red", label=f"{split} accuracy")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cross-entropy", color="tab:blue")
    ax2.set_ylabel("accuracy (%)", color="tab:red")
    ax2.set_ylim(0, 102)
    for a in (0, 1):
        ax.axvline(a, color="0.8", lw=0.8, zorder=0)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="center left")
    ax.set_title(title)
    return ax2


def plot_contour(part: dict, ax, title: str = "", levels=None):
    """Li et al. style 2-D contour of the training loss around a solution (filter-normalised axes)."""
    c = np.asarray(part["coords"])
    z = np.asarray(part["train_loss"])
    cs = ax.contour(c, c, z, levels=levels if levels is not None else 12, cmap="viridis")
    ax.clabel(cs, fontsize=7, fmt="%.2g")
    ax.plot([0], [0], "k+")
    ax.set_title(title)
    ax.set_xlabel("direction 1")
    ax.set_ylabel("direction 2")
    return cs


def ensure_pair(net: str, seed: int, profile: str, results_dir, device: str = "auto", **overrides):
    """The SB/LB configs of (net, seed) as recorded; a missing run is trained now (existing ones are kept)."""
    from lbgap.core.config import RunConfig
    from lbgap.core.train import sb_lb_configs, train

    out = []
    for cfg in sb_lb_configs(net, seed, profile, device=device, **overrides):
        path = records.record_path(results_dir, profile, "train", cfg.run_id)
        rec = records.read_json(path) if path.is_file() else train(cfg, results_dir, progress=False)
        out.append(RunConfig.from_dict(rec["config"]))
    return out
