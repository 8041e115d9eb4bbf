"""Gradient norm and distance from x0 against the batch size, at equal numbers of examples seen.

A widely read claim about batch size: as the batch grows (i) the mean gradient norm grows, (ii) training ends
closer to the initial weights, and (iii) there is a "sweet spot" batch size. Keskar et al. (2017) measure only the
end points (their Figure 6 / Table 2 runs: LB ends 3-10 times closer to x0 than SB in their text). This study
measures the whole path, one run per (network, batch size B, learning-rate rule, seed):

* Adam as in every run of the book, at the paper's LR 1e-3 (``rule="fixed"``) or at 1e-3 * sqrt(B / 256)
  (``rule="sqrt"``, Hoffer et al. 2017's rule for adaptive methods, so that a larger batch may take larger steps);
* the same x0 and data-order seed for every B of a seed (the SB/LB convention of ``train``);
* at a log-spaced grid of examples seen (``checkpoints``; the first epoch densely, then to ``epochs`` epochs):
  - the full-batch gradient norm ||grad f(x)|| on ``grad_examples`` fixed training examples (eval mode, the
    evaluation batches every measurement of the book uses: ``measures.sharpness.FullBatchLoss``),
  - the mean mini-batch gradient norm mean_t ||grad f_B_t(x_t)|| over the training steps since the previous point
    (the gradients the optimizer used, before its update),
  - ||x - x0||, the training loss on the same examples and the test loss and accuracy (the whole test set).

The full-batch norm is an estimate: ``grad_examples`` (N) examples stand for the training set, so its square is
biased upward by the sampling term, E||g_N||^2 = ||grad f||^2 + tr(Sigma)/N, Sigma the covariance of one example's
gradient. The record keeps both: ``grad_full`` (||g_N||, as measured) and ``grad_full_debiased``
(sqrt(max(||g_N||^2 - tr(Sigma)/N, 0))), with ``trace_cov`` and ``sampling_term = tr(Sigma)/N``. tr(Sigma) comes
from the gradient-noise chapter's estimator (McCandlish et al. 2018, App. A.1; ``measures.noise.two_batch_estimates``)
on the gradients of the same N examples in chunks of ``noise_chunk`` (eval mode, like the full-batch gradient).
The chapter shows ``grad_full``; the debiased value says how much of it is sampling noise.

At a fixed point, E||grad f_B||^2 = ||grad f||^2 + tr(Sigma)/B for B examples drawn independently, so at the *same*
weights a larger batch has the *smaller* mini-batch gradient norm; at the same number of examples a larger batch has
taken fewer steps and sits earlier on its path, where the full gradient is larger. The record keeps both norms, so
the chapter can tell which effect wins. **Caveat (BatchNorm):** with batch-statistics BN (Keras mode 2, every
network here) an example's gradient depends on the other examples of its batch, so per-example gradients are not
defined and the identity, and with it the tr(Sigma)/N correction, is an approximation: the chunk gradients that
estimate tr(Sigma) are normalised with the statistics of ``noise_chunk`` examples, the full-batch gradient with those
of ``eval_batch_size``.

CLI: ``lbgap sweep gradient-norm --net F1 --profile quick --seeds 0-2 --epochs 2``.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Sequence

import torch

from lbgap.core import memory, records
from lbgap.core import train as trainmod
from lbgap.core.train import StopTraining, make_config

logger = logging.getLogger(__name__)

BATCHES = (16, 32, 64, 128, 256, 1024, "LB")
RULES = ("fixed", "sqrt")
BASE_LR, BASE_BATCH = 1e-3, 256
KIND = "gradnorm"


def lr_for(batch_size: int, rule: str) -> float:
    """Adam's learning rate at ``batch_size``: the paper's 1e-3 (``fixed``) or 1e-3 sqrt(B / 256) (``sqrt``, Hoffer
    et al. 2017's rule for adaptive methods)."""
    if rule not in RULES:
        raise ValueError(f"unknown learning-rate rule {rule!r}: choose {' or '.join(RULES)}")
    return BASE_LR if rule == "fixed" else BASE_LR * math.sqrt(batch_size / BASE_BATCH)


def checkpoints(n_train: int, epochs: int, per_epoch: int = 8) -> list[int]:
    """Examples seen at which to measure: 0, a doubling grid from 256 to one epoch, then ``per_epoch`` points per
    later epoch, up to ``epochs`` epochs."""
    pts = {0, n_train}
    k = 256
    while k < n_train:
        pts.add(k)
        k *= 2
    for e in range(1, epochs):
        pts.update(n_train * e + n_train * j // per_epoch for j in range(1, per_epoch + 1))
    return sorted(pts)


def config(net: str, batch: int | str, rule: str, seed: int, profile: str = "quick", epochs: int = 2, **overrides):
    """The run's RunConfig: the profile's Table 2 setup at batch size ``batch`` with the rule's LR, ``epochs``
    epochs, tag ``gn-<rule>`` (its record is of kind ``gradnorm``; no training record is written)."""
    probe = make_config(net, batch, seed, profile, **overrides)
    return make_config(net, batch, seed, profile, lr=lr_for(probe.batch_size, rule), max_epochs=epochs,
                       tag=f"gn-{rule}", save_checkpoints=False, **overrides)


def sampling_term(model: torch.nn.Module, subset, params, chunk: int) -> dict:
    """tr(Sigma) of one example's gradient on ``subset`` and the sampling term tr(Sigma)/N that it adds to the
    squared norm of the mean gradient over all N examples: the gradient-noise chapter's two-batch estimator
    (``measures.noise.two_batch_estimates``) on the gradients of the subset's evaluation batches of ``chunk``
    examples (eval mode; batches of another size, e.g. a last partial one, are left out)."""
    from lbgap.core.models import keras_cross_entropy
    from lbgap.measures.noise import two_batch_estimates

    model.eval()
    n = len(subset)
    size = lambda i: len(range(*i.indices(n))) if isinstance(i, slice) else len(i)  # noqa: E731 -- slices or indices
    batches = [i for i in subset.eval_batches(chunk) if size(i) == chunk]
    if len(batches) < 2:
        raise ValueError(f"the sampling term needs at least two chunks of {chunk} examples; {len(subset)} examples "
                         "given: lower noise_chunk or raise grad_examples")
    flat = []
    for idx in batches:
        x, y = subset.batch(idx)
        gs = torch.autograd.grad(keras_cross_entropy(model(x), y), params)
        flat.append(torch.cat([g.reshape(-1) for g in gs]).double())
    g = torch.stack(flat)
    g2, trace = two_batch_estimates((g @ g.T).cpu().numpy(), chunk)
    return dict(trace_cov=float(trace), sampling_term=float(trace) / len(subset), grad_sq_unbiased=float(g2),
                noise_chunks=len(batches))


def measure_run(cfg, results_dir: str | Path | None = None, grad_examples: int = 10000, force: bool = False,
                data=None, noise_chunk: int = 500) -> dict:
    """Train run ``cfg`` for its ``max_epochs`` epochs, measuring at :func:`checkpoints`; write and return its
    ``gradnorm`` record (the existing one unless ``force``). ``noise_chunk``: the chunk size of the tr(Sigma)
    estimate (:func:`sampling_term`), at most half the ``grad_examples``; the record keeps the size used."""
    from lbgap.core import data as datamod
    from lbgap.measures.sharpness import FullBatchLoss

    results_dir = records.store_root(results_dir)
    path = records.record_path(results_dir, cfg.profile, KIND, cfg.run_id)
    done = records.done(path, force)
    if done is not None:
        return done
    device = trainmod.compute_device(cfg.device)
    started, t0 = records.now(), time.perf_counter()
    data = trainmod.training_data(cfg, data, device)
    trainer = trainmod.make_trainer(cfg, data.num_classes, device)
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    x0 = trainmod.flat_params(model).clone()
    subset, rule = datamod.example_subset(data.train, grad_examples, cfg.dataset)
    full = FullBatchLoss(model, subset, cfg.eval_batch_size, params)
    noise_chunk = min(noise_chunk, len(subset) // 2)   # at least two chunks (tiny smoke subsets)
    n = len(data.train)
    grid = checkpoints(n, cfg.max_epochs)
    rows, acc = [], dict(sum=0.0, count=0)

    def point(examples: int, step: int) -> None:
        loss, g = full(full.x())
        gsq = float(g.double().norm()) ** 2
        noise = sampling_term(model, subset, params, noise_chunk)
        test_loss, test_acc = trainmod.evaluate(model, data.test, cfg.eval_batch_size)
        rows.append(dict(examples=examples, step=step, epoch=examples / n, grad_full=math.sqrt(gsq),
                         grad_full_debiased=math.sqrt(max(gsq - noise["sampling_term"], 0.0)),
                         trace_cov=noise["trace_cov"], sampling_term=noise["sampling_term"],
                         grad_minibatch=acc["sum"] / acc["count"] if acc["count"] else float("nan"),
                         steps_averaged=acc["count"], dist=float((trainmod.flat_params(model) - x0).norm()),
                         train_loss=loss, test_loss=test_loss, test_acc=test_acc))
        acc.update(sum=0.0, count=0)
        model.train()

    point(0, 0)
    todo = iter(grid[1:])
    nxt = next(todo)

    def on_step(progress) -> None:
        nonlocal nxt
        norms = torch._foreach_norm([p.grad for p in params])
        acc["sum"] += float(torch.linalg.vector_norm(torch.stack(norms)))
        acc["count"] += 1
        if progress.examples >= nxt:
            point(progress.examples, progress.step)
            while nxt is not None and nxt <= progress.examples:
                nxt = next(todo, None)
            if nxt is None:
                raise StopTraining

    trainer.until_stopped(data.train, on_step)
    wall = time.perf_counter() - t0
    logger.info(f"gradnorm  {cfg.run_id}: {len(rows)} points, {wall:.0f}s")
    return records.write_record(results_dir, cfg.profile, KIND, cfg.run_id, config=cfg.to_dict(), net=cfg.net,
                                seed=cfg.seed, batch_size=cfg.batch_size, rule=cfg.tag.removeprefix("gn-"),
                                lr=cfg.lr, grad_examples=len(subset), grad_subset_rule=rule, n_train=n,
                                noise_chunk=noise_chunk, shown="grad_full", threads=torch.get_num_threads(),
                                history=rows, provenance=records.provenance(device, wall, started))


def run(net: str = "F1", seeds: Sequence[int] = (0,), profile: str = "quick", batches: Sequence = BATCHES,
        rules: Sequence[str] = RULES, epochs: int = 2, grad_examples: int = 10000,
        results_dir: str | Path | None = None, force: bool = False, device: str | None = None,
        threads: int = memory.STUDY_THREADS,
        noise_chunk: int = 500) -> list[dict]:
    """Every (seed, rule, batch) run, seed by seed (the data loaded once), with ``threads`` CPU threads (recorded);
    finished runs are skipped."""
    cfgs = [config(net, b, r, s, profile, epochs, **({"device": device} if device else {}))
            for s in seeds for r in rules for b in batches]   # bad input fails before anything runs
    memory.set_torch_threads(threads)
    data, out = None, []
    for cfg in cfgs:
        if data is None:
            data = trainmod.training_data(cfg, None, trainmod.compute_device(cfg.device))
        out.append(measure_run(cfg, results_dir, grad_examples, force, data, noise_chunk))
    return out


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick")):
    """One row per (run, point): net, profile, seed, batch size, rule, LR and the history columns."""
    import pandas as pd

    rows = []
    for prof in profiles:
        for r in records.iter_records(results_dir, prof, KIND):
            for h in r["history"]:
                rows.append(dict(net=r["net"], profile=prof, seed=r["seed"], batch_size=r["batch_size"],
                                 rule=r["rule"], lr=r["lr"], **h))
    cols = ["net", "profile", "seed", "batch_size", "rule", "lr", "examples", "step", "epoch", "grad_full",
            "grad_full_debiased", "trace_cov", "sampling_term", "grad_minibatch", "steps_averaged", "dist", "train_loss", "test_loss", "test_acc"]
    return pd.DataFrame(rows, columns=cols)
