"""Measure your own model: the book's measurements on plain PyTorch objects.

Each function takes a ``torch.nn.Module``, a ``loss_fn(outputs, targets)`` with mean reduction and the data as
a ``torch.utils.data.Dataset`` of ``(input, target)`` pairs or an ``(X, y)`` tensor pair, runs on the model's
device (or ``device=``), and moves the data there one batch at a time. Each returns a small result object with
its numbers, the examples it used and its uncertainty. They call the code the book's chapters use:

* :func:`noise_scale`: McCandlish et al.'s gradient-noise scale B_simple = tr(Σ)/|G|² (their Eq. 2.8) by the
  unbiased two-batch-size estimator (their App. A.1; ``measures.noise.probe_estimates``), the ratio of the mean
  tr Σ to the mean |G|² over independent probes with a 95 % bootstrap interval (``noise.ratio_of_means``).
* :func:`top_eigenvalue`: the Hessian's largest eigenvalue by Lanczos on Hessian-vector products, with its residual
  (``measures.hessian.top_eigenvalue``).
* :func:`sharpness`: Keskar et al.'s Metric 2.1 (Eq. 4) in the full space or a random p-dimensional subspace, the
  mean or the summed objective (``measures.sharpness.epsilon_sharpness``).

Example::

    from lbgap import measure
    r = measure.noise_scale(model, torch.nn.functional.cross_entropy, (X, y))
    print(r.b_simple, r.ci)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["Examples", "as_examples", "noise_scale", "top_eigenvalue", "sharpness", "NoiseScale", "TopEigenvalue",
           "Sharpness"]


# ---------------------------------------------------------------------------------------------- the data
class Examples:
    """A data set seen through the interface of the book's measures: ``len``, ``batch(idx) -> (x, y)`` on
    ``device`` and ``eval_batches(batch_size)``. Indices are drawn on the CPU; only one batch is ever moved."""

    eval_order = "stored"
    device = torch.device("cpu")   # where indices are drawn

    def __init__(self, data, target_device: torch.device | str = "cpu", limit: int | None = None):
        self.target = torch.device(target_device)
        if isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(t) for t in data):
            x, y = data
            if len(x) != len(y):
                raise ValueError(f"data: {len(x)} inputs but {len(y)} targets; give an (X, y) pair of equal length")
            self.x, self.y, self.ds = x, y, None
            n = len(y)
        elif isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
            self.x = self.y = None
            self.ds = data
            n = len(data)
        else:
            raise TypeError(f"data of type {type(data).__name__}: give a torch.utils.data.Dataset of (input, target) "
                            "pairs or an (X, y) pair of tensors")
        if n < 1:
            raise ValueError("data: the data set is empty")
        self.n = n if limit is None else min(n, int(limit))

    def __len__(self) -> int:
        return self.n

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(idx, slice):
            idx = torch.arange(*idx.indices(self.n))
        idx = torch.as_tensor(idx).cpu().long()
        if self.ds is None:
            x, y = self.x[idx.to(self.x.device)], self.y[idx.to(self.y.device)]
        else:
            from torch.utils.data import default_collate

            x, y = default_collate([self.ds[int(i)] for i in idx])[:2]
        return x.to(self.target, non_blocking=True), torch.as_tensor(y).to(self.target, non_blocking=True)

    def eval_batches(self, batch_size: int) -> list:
        return [slice(i, min(i + batch_size, self.n)) for i in range(0, self.n, batch_size)]


def as_examples(data, device, limit: int | None = None) -> Examples:
    """``data`` as :class:`Examples` on ``device`` (its first ``limit`` examples if given)."""
    return data if isinstance(data, Examples) else Examples(data, device, limit)


def _device(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _check(model, loss_fn) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model of type {type(model).__name__}: give a torch.nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model: it has no trainable parameters")
    if not callable(loss_fn):
        raise TypeError("loss_fn: give a function loss_fn(outputs, targets) -> mean loss")


def _sum_loss(loss_fn):
    """The measures' (outputs, targets, reduction="sum") loss from a mean-reduced ``loss_fn``."""
    def f(outputs, targets, reduction: str = "sum"):
        mean = loss_fn(outputs, targets)
        return mean * len(targets) if reduction == "sum" else mean
    return f


# ------------------------------------------------------------------------------------------ noise scale
@dataclass
class NoiseScale:
    """B_simple with its 95 % bootstrap interval over probes, and what it was computed from."""

    b_simple: float
    ci: tuple[float, float]
    g2: float             # mean |G|² over probes (unbiased)
    tr_sigma: float       # mean tr Σ over probes (unbiased)
    probes: int
    b_small: int
    b_big: int
    examples: int         # examples of the data set the probes drew from
    wall_s: float
    train_mode: bool

    def to_dict(self) -> dict:
        return asdict(self)


def noise_scale(model: nn.Module, loss_fn: Callable, data, b_small: int = 64, chunks: int = 16, probes: int = 8,
                seed: int = 0, device=None, train_mode: bool = True, n_boot: int = 2000,
                progress: Callable[[], None] | None = None) -> NoiseScale:
    """B_simple = tr(Σ)/|G|² at the model's current weights (McCandlish et al. 2018, Eq. 2.8 and App. A.1).

    ``probes`` independent probes each draw ``chunks`` disjoint chunks of ``b_small`` examples (B_big = chunks x
    b_small) and give unbiased (|G|², tr Σ); B_simple is the ratio of their means, the interval a bootstrap over
    probes. ``train_mode`` (default True): gradients as SGD sees them (dropout on, BatchNorm with the batch's
    statistics, so a chunk's gradient is not a mean of per-example ones and the estimate is the noise scale of
    chunks of ``b_small``). Memory: two parameter vectors and one chunk. Weights are not changed.
    """
    from lbgap.measures import noise

    _check(model, loss_fn)
    dev = _device(model, device)
    ex = as_examples(data, dev)
    if chunks < 2 or b_small < 2 or probes < 2:
        raise ValueError(f"b_small={b_small}, chunks={chunks}, probes={probes}: the two-batch estimator needs chunks "
                         ">= 2 of b_small >= 2 examples, and the interval needs probes >= 2")
    if chunks * b_small > len(ex):
        raise ValueError(f"{chunks} chunks of {b_small} examples need {chunks * b_small} examples; the data has "
                         f"{len(ex)}: lower b_small or chunks")
    was_training = model.training
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    est = noise.probe_estimates(model, ex, loss_fn, b_small, chunks, probes, gen, train_mode, progress)
    model.train(was_training)
    point, lo, hi = noise.ratio_of_means(est, n_boot, seed)
    return NoiseScale(b_simple=point, ci=(lo, hi), g2=float(est[:, 0].mean()), tr_sigma=float(est[:, 1].mean()),
                      probes=probes, b_small=b_small, b_big=b_small * chunks, examples=len(ex),
                      wall_s=time.perf_counter() - t0, train_mode=train_mode)


# ------------------------------------------------------------------------------------------- Hessian
@dataclass
class TopEigenvalue:
    """λ_max of the Hessian of the mean loss over ``examples`` examples, by Lanczos, with its residual."""

    value: float
    residual: float
    converged: bool
    hvps: int
    examples: int
    n_params: int
    wall_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def top_eigenvalue(model: nn.Module, loss_fn: Callable, data, batch_size: int = 1024, max_examples: int | None = None,
                   tol: float = 1e-4, maxiter: int = 20, ncv: int = 20, seed: int = 0, device=None) -> TopEigenvalue:
    """The largest eigenvalue of the Hessian of the mean loss over the data (its first ``max_examples``), by
    Lanczos (``eigsh``, ``which="LA"``) on double-backward Hessian-vector products accumulated over batches of
    ``batch_size``, model in eval mode (BatchNorm with running statistics); ``tol``, ``maxiter`` (restarts) and
    ``ncv`` (Lanczos vectors, each a float64 copy of the parameters) go to ARPACK. Weights are not changed."""
    from lbgap.measures import hessian
    from lbgap.measures.sharpness import FullBatchLoss

    _check(model, loss_fn)
    dev = _device(model, device)
    ex = as_examples(data, dev, max_examples)
    was_training = model.training
    t0 = time.perf_counter()
    lf = FullBatchLoss(model, ex, batch_size, loss_fn=_sum_loss(loss_fn))
    x = lf.x()
    r = hessian.top_eigenvalue(lf.hvp, lf.n, tol=tol, maxiter=maxiter, ncv=ncv, seed=seed, device=dev,
                               dtype=x.dtype)
    lf.set(x)
    model.train(was_training)
    return TopEigenvalue(value=r.value, residual=r.residual, converged=r.converged, hvps=r.iterations,
                         examples=len(ex), n_params=lf.n, wall_s=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------- Metric 2.1
@dataclass
class Sharpness:
    """φ of Metric 2.1 (Keskar et al. 2017, Eq. 4) and what the inexact maximisation reached."""

    phi: float
    f0: float
    fmax: float
    eps: float
    space: str
    objective: str
    p: int
    nfev: int
    at_bound: float       # fraction of the box's coordinates the maximiser reached
    examples: int
    wall_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def sharpness(model: nn.Module, loss_fn: Callable, data, eps: float = 1e-3, space: str = "full", p: int = 100,
              objective: str = "mean", maxiter: int = 10, batch_size: int = 1024, max_examples: int | None = None,
              seed: int = 0, device=None) -> Sharpness:
    """Metric 2.1: φ = 100 (max_{y ∈ C_ε} f(x + A y) − f(x)) / (1 + f(x)), f the mean loss over the data in eval
    mode, maximised by 10 L-BFGS-B iterations from y = 0 as the paper does. ``space``: "full" (A = I, Table 3)
    or "random" (A n x ``p`` with N(0, 1) entries from ``seed``, Table 4). ``objective``: what L-BFGS-B climbs,
    the "mean" loss (the paper's f) or the "sum" (N x mean, the same maximiser; on a converged minimiser the mean's
    gradient is too small for 10 iterations to leave y = 0). Weights are restored afterwards."""
    from lbgap.measures import sharpness as sh

    _check(model, loss_fn)
    if space not in ("full", "random"):
        raise ValueError(f"space {space!r}: give 'full' or 'random'")
    if objective not in sh.OBJECTIVES:
        raise ValueError(f"objective {objective!r}: give 'mean' or 'sum'")
    dev = _device(model, device)
    ex = as_examples(data, dev, max_examples)
    was_training = model.training
    lf = sh.FullBatchLoss(model, ex, batch_size, loss_fn=_sum_loss(loss_fn))
    x = lf.x()
    A = sh.random_subspace(lf.n, p, seed, dev, x.dtype) if space == "random" else None
    try:
        r = sh.epsilon_sharpness(lf, x, eps, A, maxiter, solver_scale=sh.solver_scale(lf, objective))
    finally:
        lf.set(x)
        model.train(was_training)
    if not math.isfinite(r.value):
        raise ValueError(f"phi is {r.value}: the loss is not finite at or near these weights")
    return Sharpness(phi=r.value, f0=r.f0, fmax=r.fmax, eps=r.eps, space=space, objective=objective, p=r.p,
                     nfev=r.nfev, at_bound=r.at_bound, examples=len(ex), wall_s=r.wall_s)

