"""What batch size to use: B_simple measured along a short training run, turned into advice (``lbgap advise``).

McCandlish et al. (2018) model the steps and examples to reach a given loss as S = S_min (1 + B_noise/B) and
E = E_min (1 + B/B_noise) (their Eqs. 2.11-2.12), i.e. (S/S_min − 1)(E/E_min − 1) = 1, with B_crit ≈ B_noise and
B_simple = tr Σ / |G|² the estimate of B_noise that needs no training sweep (their Eq. 2.8, App. A.1). Here:

* :func:`measure_along_run`: train the model for a few hundred steps (SGD with momentum or Adam) and probe B_simple
  every ``probe_every`` steps with the book's two-batch estimator (``measures.noise.probe_estimates``); the value
  reported is the ratio of means over the second half of the probes (B_simple grows while the loss falls; the
  first steps would understate it) with a bootstrap interval over those probes (``noise.ratio_of_means``).
* :func:`doubling_limit`: the largest B at which doubling B still divides the steps by at least
  :data:`DOUBLING_GAIN` under that model: S(B)/S(2B) = (1 + b)/(1 + b/2) ≥ g ⇔ b = B_noise/B ≥ (g − 1)/(1 − g/2).
* :func:`tradeoff_table`: steps and examples relative to their minima, per batch size, from the equation above.
* :func:`lr_evidence`: the book's tuned learning rates per batch size (steps-to-target records): the slope of
  log lr against log B per optimizer with its 95 % t-interval, and the scaling rule it supports, by
  :func:`scaling_rule`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

DOUBLING_GAIN = 1.8      # "doubling B still nearly halves the steps": the steps fall by 1.8x or more (90 % of ideal)
SETTLE_FRACTION = 0.5    # B_simple is summarised over the last half of the probes
OPTIMIZERS = ("sgd", "adam")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3}


@dataclass
class Advice:
    """B_simple along a short run, with what it was measured from."""

    b_simple: float
    ci: tuple[float, float]
    probes_used: int
    b_init: float                 # the probe before the first step
    batch_size: int
    steps: int
    optimizer: str
    lr: float
    b_small: int
    b_big: int
    examples: int
    loss_first: float
    loss_last: float
    wall_s: float
    series: list = field(default_factory=list)   # per probe: step, g2, tr_sigma, train loss
    started: str | None = None                   # when the run began, and the host's load averages then
    load_at_start: list | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def measure_along_run(model: nn.Module, loss_fn: Callable, data, batch_size: int = 64, steps: int = 200,
                      optimizer: str = "sgd", lr: float | None = None, probe_every: int = 10, b_small: int = 32,
                      chunks: int = 8, seed: int = 0, device=None, progress: Callable[[int], None] | None = None
                      ) -> Advice:
    """Train ``model`` in place for ``steps`` steps of ``batch_size`` random examples (without replacement within a
    step) with ``optimizer`` ("sgd": momentum 0.9; "adam") at ``lr``, probing B_simple before the first step and
    every ``probe_every`` steps (one probe of ``chunks`` x ``b_small`` examples each). ``progress(k)`` is called
    after every step."""
    from lbgap.measure import _check, _device, as_examples
    from lbgap.measures import noise

    _check(model, loss_fn)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}: give 'sgd' or 'adam'")
    lr = DEFAULT_LR[optimizer] if lr is None else float(lr)
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"learning rate {lr}: give a positive number")
    if steps < 2 * probe_every or probe_every < 1:
        raise ValueError(f"steps={steps}, probe_every={probe_every}: train for at least two probe intervals")
    dev = _device(model, device)
    ex = as_examples(data, dev)
    n = len(ex)
    if batch_size < 2 or batch_size > n:
        raise ValueError(f"batch size {batch_size}: give a number between 2 and the {n} examples of the data")
    if chunks < 2 or b_small < 2 or chunks * b_small > n:
        raise ValueError(f"{chunks} chunks of {b_small} examples: need chunks >= 2, b_small >= 2 and at most the "
                         f"{n} examples of the data")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.SGD(params, lr=lr, momentum=0.9) if optimizer == "sgd" else torch.optim.Adam(params, lr=lr))
    from lbgap.core import records

    gen = torch.Generator().manual_seed(int(seed))
    probe_gen = torch.Generator().manual_seed(int(seed) + noise.PROBE_SEED_OFFSET)
    started, load_at_start, t0 = records.now(), records.host_load(), time.perf_counter()
    series, losses = [], []

    def probe(step: int) -> None:
        g2, s = noise.probe_estimates(model, ex, loss_fn, b_small, chunks, 1, probe_gen)[0]
        series.append(dict(step=step, g2=float(g2), tr_sigma=float(s),
                           loss=float(np.mean(losses[-probe_every:])) if losses else float("nan")))

    probe(0)
    for step in range(1, steps + 1):
        model.train()
        x, y = ex.batch(torch.randperm(n, generator=gen)[:batch_size])
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        if not torch.isfinite(loss.detach()):
            raise ValueError(f"the training loss is {float(loss)} at step {step}: lower the learning rate (--lr)")
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step % probe_every == 0:
            probe(step)
        if progress is not None:
            progress(step)
    opt.zero_grad(set_to_none=True)
    est = np.array([[r["g2"], r["tr_sigma"]] for r in series])
    tail = est[min(int(len(est) * SETTLE_FRACTION), len(est) - 2):]
    point, lo, hi = noise.ratio_of_means(tail, 2000, seed)
    return Advice(b_simple=point, ci=(lo, hi), probes_used=len(tail), b_init=float(est[0, 1] / est[0, 0]),
                  batch_size=batch_size, steps=steps, optimizer=optimizer, lr=lr, b_small=b_small,
                  b_big=b_small * chunks, examples=n, loss_first=losses[0], loss_last=float(np.mean(losses[-10:])),
                  wall_s=time.perf_counter() - t0, series=series, started=started, load_at_start=load_at_start)


# ------------------------------------------------------------------------------------------- the advice
def doubling_limit(b_noise: float, gain: float = DOUBLING_GAIN) -> float:
    """The largest B at which S(B)/S(2B) ≥ ``gain`` under S = S_min (1 + B_noise/B): B_noise (1 − g/2)/(g − 1)."""
    if not 1 < gain < 2:
        raise ValueError(f"gain {gain} must lie between 1 and 2 (doubling B at most halves the steps)")
    return b_noise * (1 - gain / 2) / (gain - 1)


def step_gain(b_ratio: float) -> float:
    """S(B)/S(2B) = (1 + b)/(1 + b/2) for b = B_noise/B: how much fewer steps a doubling of B buys."""
    return (1 + b_ratio) / (1 + b_ratio / 2)


# :func:`tradeoff_table`'s snake_case columns and their display labels (applied only when shown or printed)
TRADEOFF_LABELS = {"batch_size": "batch size", "steps_rel": "steps / S_min", "examples_rel": "examples / E_min",
                   "steps_range": "steps range", "examples_range": "examples range"}


def tradeoff_table(b_noise: float, ci: tuple[float, float] | None = None, batch_sizes=None):
    """Per batch size B: ``steps_rel`` = S/S_min = 1 + B_noise/B and ``examples_rel`` = E/E_min = 1 + B/B_noise
    (McCandlish et al. Eqs. 2.11-2.12), with their ranges over ``ci`` (the interval of B_noise) when given
    (``steps_range``, ``examples_range``); labels :data:`TRADEOFF_LABELS`."""
    import pandas as pd

    if not (b_noise > 0 and math.isfinite(b_noise)):
        raise ValueError(f"B_noise = {b_noise}: the noise scale must be a positive number")
    if batch_sizes is None:
        top = 2 ** math.ceil(math.log2(16 * b_noise))
        batch_sizes = [2 ** k for k in range(max(0, int(math.log2(top)) - 10), int(math.log2(top)) + 1)]
    rows = []
    for b in batch_sizes:
        row = {"batch_size": int(b), "steps_rel": 1 + b_noise / b, "examples_rel": 1 + b / b_noise}
        if ci is not None:
            lo, hi = (max(ci[0], 1e-12), ci[1])
            row["steps_range"] = (1 + lo / b, 1 + hi / b)
            row["examples_range"] = (1 + b / hi, 1 + b / lo)
        rows.append(row)
    return pd.DataFrame(rows)


def scaling_rule(lo: float, hi: float) -> str:
    """The learning-rate scaling a 95 % interval [lo, hi] of the slope of log lr against log B supports: the
    exponents 1 (linear, Goyal et al. 2017) and 1/2 (square root, Hoffer et al. 2017) it contains, else neither."""
    linear, sqrt = lo <= 1 <= hi, lo <= 0.5 <= hi
    if linear and sqrt:
        return "unresolved between square root and linear"
    if linear:
        return "linear (lr ∝ B)"
    if sqrt:
        return "square root (lr ∝ √B)"
    return "neither square root nor linear"


def lr_evidence(results_dir=None, profile: str = "quick") -> dict:
    """Per optimizer, from the book's steps-to-target records (F1, learning rate tuned per B on a factor-3 grid):
    slope of log(tuned lr) against log B, its 95 % t-interval, n batch sizes and :func:`scaling_rule`. Empty when
    there are no such records (e.g. lbgap installed without its repository)."""
    from scipy import stats

    from lbgap.studies import steps

    try:
        df = steps.table(results_dir, profile)
    except (OSError, ValueError, KeyError):
        return {}
    if df is None or not len(df):
        return {}
    best = steps.best_lr(df)
    out = {}
    for opt in sorted(set(best.index.get_level_values(0))):
        s = best.loc[opt].sort_index()
        if len(s) < 3:
            continue
        fit = stats.linregress(np.log(s.index.values.astype(float)), np.log(s.values.astype(float)))
        t = stats.t.ppf(0.975, len(s) - 2)
        lo, hi = fit.slope - t * fit.stderr, fit.slope + t * fit.stderr
        out[opt] = dict(slope=float(fit.slope), ci=(float(lo), float(hi)), n=int(len(s)),
                        batch_sizes=(int(s.index.min()), int(s.index.max())), rule=scaling_rule(lo, hi))
    return out


def report_lines(a: Advice, evidence: dict | None = None) -> list[str]:
    """The advice in words: B_simple and how sure, the batch range where doubling nearly halves the steps, and
    the learning-rate rule with the book's evidence."""
    lo, hi = a.ci
    lines = [f"B_simple = {a.b_simple:,.0f} (95% bootstrap CI {lo:,.0f} to {hi:,.0f}; ratio of means over the last "
             f"{a.probes_used} probes of a {a.steps}-step {a.optimizer} run at B = {a.batch_size}, lr {a.lr:g}; "
             f"{a.b_init:,.0f} before the first step)"]
    if not (a.b_simple > 0 and lo > 0):
        lines.append("how sure: not at all -- the interval reaches zero or below (|G|^2 is buried in noise): train "
                     "longer (--steps), or use more chunks per probe (--chunks)")
        return lines
    d_lo, d_hi = doubling_limit(lo), doubling_limit(hi)
    lines.append(f"doubling the batch still divides the steps by >= {DOUBLING_GAIN:g} up to B ~ "
                 f"{doubling_limit(a.b_simple):,.0f} (range {d_lo:,.0f} to {d_hi:,.0f}); at B = B_simple a doubling "
                 f"divides the steps by {step_gain(1.0):.2f} for {1.5:.1f}x the examples, at 4 B_simple by "
                 f"{step_gain(0.25):.2f}")
    lines.append(f"how sure: the interval spans a factor {hi / lo:.1f}; B_simple estimates the critical batch size "
                 "for the loss reached so far and grows as training goes on, so read it as a guide, not a bound")
    if not evidence:
        lines.append("lr scaling: no evidence here (the book's steps-to-target records are not in this record store)")
    for opt, e in (evidence or {}).items():
        lines.append(f"lr scaling for {opt}: {e['rule']} -- the book's F1 runs, lr tuned per B over "
                     f"B = {e['batch_sizes'][0]}..{e['batch_sizes'][1]} (n = {e['n']} batch sizes): slope of log lr "
                     f"on log B {e['slope']:.2f} (95% CI {e['ci'][0]:.2f} to {e['ci'][1]:.2f})")
    return lines


# ------------------------------------------------------------------------------------ inputs and records
DATASET_NAMES = ("mnist", "cifar10")
KIND = "advise"


def load_callable(spec: str, what: str) -> Callable:
    """``MODULE:FUNCTION`` (an importable module, or a path to a .py file) -> that function."""
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    module, sep, name = str(spec).rpartition(":")
    if not sep or not module or not name.isidentifier():
        raise ValueError(f"--{what} {spec!r}: give MODULE:FUNCTION, e.g. mypkg.models:build or path/to/file.py:build")
    try:
        if module.endswith(".py"):
            path = Path(module)
            if not path.is_file():
                raise ValueError(f"--{what} {spec!r}: no file {module}")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            mod = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mod)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")   # modules of the current folder, as `python -m` finds them
            mod = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"--{what} {spec!r}: cannot import {module} ({e}); check the module name and that it is "
                         "on PYTHONPATH") from None
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise ValueError(f"--{what} {spec!r}: {module} has no function {name!r}")
    return fn


def named_split(name: str) -> str:
    """The split a data set named to ``--data`` is read on: the one the book trains on (``config.default_split``:
    the official one where the cached test set is complete, else the seeded hold-out)."""
    from lbgap.core.config import default_split

    return default_split(name, "real")


def named_data(name: str, examples: int | None = None, device="cpu"):
    """A cached torchvision data set by name (``lbgap data import/download``) as an (X float in [0, 1], y) pair of
    its first ``examples`` training examples, on :func:`named_split`."""
    from lbgap.core import data as datamod

    if name not in DATASET_NAMES:
        raise ValueError(f"--data {name!r}: give MODULE:FUNCTION or one of {', '.join(DATASET_NAMES)}")
    bundle = datamod.load(name, named_split(name), "real", "cpu")
    n = len(bundle.train) if examples is None else min(examples, len(bundle.train))
    return bundle.train.batch(slice(0, n))


def load_inputs(model_spec: str, data_spec: str, examples: int | None = None):
    """The model (a fresh ``torch.nn.Module`` from ``MODULE:FUNCTION``) and the data (``MODULE:FUNCTION``
    returning a Dataset or an (X, y) pair, or a data set's name), with their types checked."""
    from lbgap.measure import Examples

    model = load_callable(model_spec, "model")()
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model {model_spec!r} returned a {type(model).__name__}, not a torch.nn.Module")
    if ":" in data_spec:
        data = load_callable(data_spec, "data")()
    else:
        data = named_data(data_spec, examples)
    try:
        ex = Examples(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--data {data_spec!r}: {e}") from None
    if examples is not None and ":" in data_spec:
        ex.n = min(ex.n, examples)
    return model, ex


def write(a: Advice, name: str, results_dir=None, profile: str = "quick", device="cpu", **info) -> dict:
    """An ``advise`` record of ``a`` (``lbgap.core.records``), with what was measured (``info``)."""
    from lbgap.core import records

    body = a.to_dict()
    started, load = body.pop("started"), body.pop("load_at_start")
    return records.write_record(results_dir, profile, KIND, records.check_name(name, "record name"), **body, **info,
                                provenance=records.provenance(device, a.wall_s, started, load))


def load(results_dir=None, profile: str = "quick") -> dict[str, dict]:
    """Every ``advise`` record of ``profile`` (:func:`write`), by record name."""
    from lbgap.core import records

    return {r["run_id"]: r for r in records.iter_records(results_dir, profile, KIND)}
