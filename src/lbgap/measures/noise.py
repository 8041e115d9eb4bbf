"""Minibatch gradient noise and the gradient-noise scale (McCandlish et al. 2018; paper notes section 10).

What is measured, and why that way. F1 has BatchNorm in batch mode (Keras mode=2), so a *per-example*
gradient is not defined (a batch of one cannot be normalised). We measure what SGD actually sees: the
gradient ĝ_m of the mean loss of a random minibatch of m distinct examples, with the model in train mode
(BN statistics of that minibatch). The reference "full-batch" gradient g is the average of the gradients
of consecutive chunks of 5,000 training examples (BN statistics of 5,000 ≈ population statistics).

* :func:`noise_scan`: for m on a log grid (2 ... LB), E‖ĝ_m − g‖² and cos(ĝ_m, g) over many draws. For
  i.i.d. per-example gradients with covariance Σ, sampling without replacement gives
  E‖ĝ_m − g‖² = tr(Σ)/m · (N − m)/(N − 1) (finite-population correction, FPC); we fit the log-log slope of
  the FPC-corrected variance (theory −1) by least squares, with a bootstrap over draws. With BN the
  minibatch gradient is also slightly biased (E ĝ_m ≠ g for small m), which the fit would show as a
  slope flatter than −1.
* :func:`track_noise_scale`: B_simple = tr(Σ)/|G|² along an SB training run, with McCandlish et al.'s
  unbiased two-batch-size estimator (their Appendix A.1): at a probe, k chunks of B_small examples give
  chunk gradients g_i; with B_big = k B_small and G_big their mean,
      |G|²  ≈ (B_big |G_big|² − B_small |G_small|²) / (B_big − B_small),
      tr Σ  ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big),        |G_small|² = mean_i |g_i|².
  Both are smoothed with an exponential moving average over probes before the ratio is taken, as in the
  paper; the uncertainty is a delete-one-chunk jackknife (the k x k Gram matrix of the chunk gradients
  is stored, so every replicate is exact and cheap), and a bootstrap over probes for the value at a target.
* :func:`quadratic_toy`: L(θ) = (θ − 3)², SGD with gradient noise of std σ/√m: the textbook picture,
  with its exact stationary variance η σ² / (4 m (1 − η)) for the tests.
"""
from __future__ import annotations

import hashlib
import math
import time

import numpy as np
import torch
from torch import nn

from lbgap.core import checkpoints
from lbgap.core import data as datamod
from lbgap.core import paths
from lbgap.core import records
from lbgap.core import runs
from lbgap.core.models import keras_cross_entropy
from lbgap.core.train import (ConfigError, Progress, StopTraining, compute_device, evaluate, initial_model,
                              make_config, make_trainer)

KIND = "noise"
FULL_CHUNK = 5000
PROBE_SEED_OFFSET = 10_000   # the probes' examples come from a generator seeded with this + the run's seed


# -------------------------------------------------------------------------------------------- gradients
def minibatch_gradient(model: nn.Module, ds, idx, loss_fn=keras_cross_entropy, train: bool = True) -> torch.Tensor:
    """Flat gradient of the mean loss ``loss_fn(outputs, targets)`` of minibatch ``idx`` of ``ds`` (anything with
    ``batch(idx) -> (x, y)``), train mode by default (BN batch statistics, as SGD sees it), float32."""
    model.train(train)
    model.zero_grad(set_to_none=True)
    x, y = ds.batch(idx)
    loss_fn(model(x), y).backward()
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters() if p.requires_grad]).detach().clone()


def full_gradient(model: nn.Module, ds, chunk: int = FULL_CHUNK) -> torch.Tensor:
    """Average gradient over the whole dataset, in consecutive chunks of ``chunk`` (weighted by size)."""
    n = len(ds)
    total = None
    for i in range(0, n, chunk):
        idx = torch.arange(i, min(n, i + chunk), device=ds.device)
        g = minibatch_gradient(model, ds, idx).double() * len(idx)
        total = g if total is None else total + g
    return total / n


# --------------------------------------------------------------------------------------- the m-scan
def noise_scan(model: nn.Module, ds, ms, draws: int = 16, seed: int = 0, chunk: int = FULL_CHUNK) -> dict:
    """E‖ĝ_m − g‖², ‖ĝ_m‖² and cos(ĝ_m, g) for every m in ``ms`` (``draws`` independent minibatches each)."""
    n = len(ds)
    ms = sorted({int(m) for m in ms})
    if ms[0] < 2 or ms[-1] > n:
        raise ValueError(f"minibatch sizes must be between 2 (BN needs two examples) and {n}, got {ms[0]}..{ms[-1]}")
    g = full_gradient(model, ds, chunk)
    gn = float(g.norm())
    gen = torch.Generator(device=ds.device).manual_seed(seed)
    rows = []
    for m in ms:
        dev2, cos, sq = [], [], []
        for _ in range(draws):
            idx = torch.randperm(n, generator=gen, device=ds.device)[:m]
            gm = minibatch_gradient(model, ds, idx).double()
            dev2.append(float((gm - g).pow(2).sum()))
            sq.append(float(gm.pow(2).sum()))
            cos.append(float(gm @ g) / (float(gm.norm()) * gn + 1e-300))
        rows.append(dict(m=m, fpc=(n - m) / (n - 1), dev2=dev2, sqnorm=sq, cos=cos))
    return dict(n=n, full_grad_sqnorm=gn**2, rows=rows)


def fit_slope(scan: dict, m_min: int = 1, m_max: int | None = None, n_boot: int = 2000, seed: int = 0) -> dict:
    """Least-squares slope of log(E‖ĝ_m − g‖² / FPC) against log m (theory −1), SE and bootstrap 95 % CI.

    Also returns tr Σ as the mean of m · E‖ĝ_m − g‖² / FPC over the fitted range and B_simple = tr Σ / |g|².
    """
    rows = [r for r in scan["rows"] if r["m"] >= m_min and (m_max is None or r["m"] <= m_max)]
    if len(rows) < 3:
        raise ValueError("fitting the slope needs at least 3 minibatch sizes in the range")
    m = np.array([r["m"] for r in rows], float)
    fpc = np.array([r["fpc"] for r in rows])
    d = [np.asarray(r["dev2"]) for r in rows]
    x = np.log(m)

    def ols(v):
        y = np.log(v / fpc)
        A = np.vstack([x, np.ones_like(x)]).T
        coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
        resid = y - A @ coef
        s2 = resid @ resid / max(1, len(y) - 2)
        cov = s2 * np.linalg.inv(A.T @ A)
        return coef, math.sqrt(cov[0, 0])

    means = np.array([v.mean() for v in d])
    (slope, icpt), se = ols(means)
    rng = np.random.default_rng(seed)
    boot = [ols(np.array([rng.choice(v, len(v)).mean() for v in d]))[0][0] for _ in range(n_boot)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    tr_sigma = float(np.mean(m * means / fpc))
    return dict(slope=float(slope), slope_se=float(se), slope_ci=(float(lo), float(hi)), intercept=float(icpt),
                tr_sigma=tr_sigma, b_simple=tr_sigma / scan["full_grad_sqnorm"], m_range=(int(m[0]), int(m[-1])))


def scan_table(scan: dict):
    """One row per minibatch size m of a :func:`noise_scan` record: the finite-population correction
    (N − m)/(N − 1), the mean E‖ĝ_m − g‖² over the draws with its standard error and divided by the FPC (theory:
    tr(Σ)/m), the mean and standard deviation of cos(ĝ_m, g), and the number of draws."""
    import pandas as pd

    return pd.DataFrame([dict(m=r["m"], fpc=r["fpc"], var=np.mean(r["dev2"]),
                              var_se=np.std(r["dev2"], ddof=1) / math.sqrt(len(r["dev2"])),
                              var_fpc=np.mean(r["dev2"]) / r["fpc"], cos=np.mean(r["cos"]),
                              cos_sd=np.std(r["cos"], ddof=1), draws=len(r["dev2"])) for r in scan["rows"]])


# ----------------------------------------------------------------------------- two-batch-size estimator
def two_batch_from_norms(g_small: float, g_big: float, b_small: float, b_big: float) -> tuple[float, float]:
    """McCandlish et al.'s unbiased (|G|², tr Σ) from |G_small|² (the mean squared norm of gradients of
    ``b_small`` examples) and |G_big|² (the squared norm of a gradient of ``b_big`` examples), their App. A.1."""
    g2 = (b_big * g_big - b_small * g_small) / (b_big - b_small)
    s = (g_small - g_big) / (1 / b_small - 1 / b_big)
    return g2, s


def two_batch_estimates(gram: np.ndarray, b_small: int, weights: np.ndarray | None = None) -> tuple[float, float]:
    """(|G|², tr Σ) from the Gram matrix of k chunk gradients of size ``b_small`` (McCandlish App. A.1).

    ``weights`` (counts per chunk, summing to k) gives a bootstrap resample exactly.
    """
    k = gram.shape[0]
    w = np.ones(k) if weights is None else np.asarray(weights, float)
    kk = w.sum()
    g_small = float(w @ np.diag(gram)) / kk
    g_big = float(w @ gram @ w) / kk**2
    return two_batch_from_norms(g_small, g_big, b_small, kk * b_small)


def ratio_of_means(est: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """B_simple = mean tr Σ / mean |G|² over probes (rows of ``est``: (|G|², tr Σ)) and its 95 % bootstrap
    interval over probes (single-probe ratios are very noisy, and |G|² of one probe can even be negative)."""
    est = np.asarray(est, float)
    point = est[:, 1].mean() / est[:, 0].mean()
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        pick = rng.choice(len(est), len(est))
        boots.append(est[pick, 1].mean() / est[pick, 0].mean())
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(point), float(lo), float(hi)


def probe_estimates(model: nn.Module, ds, loss_fn=keras_cross_entropy, b_small: int = 64, chunks: int = 16,
                    probes: int = 8, generator: torch.Generator | None = None, train: bool = True,
                    on_probe=None) -> np.ndarray:
    """(|G|², tr Σ) at the model's current weights from ``probes`` independent probes; each draws ``chunks``
    disjoint chunks of ``b_small`` examples (B_big = chunks x b_small) and keeps only the running sum of the
    chunk gradients and of their squared norms: memory of two parameter vectors, whatever ``chunks`` is."""
    n = len(ds)
    if chunks < 2 or b_small < 1 or chunks * b_small > n:
        raise ValueError(f"{chunks} chunks of {b_small} examples: need at least 2 chunks and at most the {n} "
                         "examples of the data set")
    device = getattr(ds, "device", "cpu")
    gen = generator or torch.Generator(device=device).manual_seed(0)
    out = []
    for _ in range(probes):
        idx = torch.randperm(n, generator=gen, device=device)[: chunks * b_small].view(chunks, b_small)
        total, sq = None, 0.0
        for i in idx:
            g = minibatch_gradient(model, ds, i, loss_fn, train).double()
            sq += float(g @ g)
            total = g if total is None else total.add_(g)
        model.zero_grad(set_to_none=True)
        g_big = float(total @ total) / chunks**2
        out.append(two_batch_from_norms(sq / chunks, g_big, b_small, chunks * b_small))
        if on_probe is not None:
            on_probe()
    return np.array(out)


def ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Bias-corrected exponential moving average along axis 0 (Adam-style debiasing)."""
    out = np.empty_like(values, dtype=float)
    acc = np.zeros_like(values[0], dtype=float)
    for t, v in enumerate(values):
        acc = beta * acc + (1 - beta) * v
        out[t] = acc / (1 - beta ** (t + 1))
    return out


def _jackknife(grams: list[np.ndarray], b_small: int) -> np.ndarray:
    """(k, T, 2) delete-one-chunk replicates of (|G|², tr Σ): chunk slot j is dropped at every probe."""
    k = grams[0].shape[0]
    out = np.empty((k, len(grams), 2))
    for j in range(k):
        w = np.ones(k)
        w[j] = 0.0
        out[j] = [two_batch_estimates(G, b_small, w) for G in grams]
    return out


def noise_scale_series(rec: dict, beta: float = 0.8):
    """Per-probe raw B_simple and its EMA along the run, with a delete-one-chunk jackknife standard error.

    |G|² falls ~100x within the first 10 steps, so the EMA starts at the second probe (step ``probe_every``);
    the probe at step 0 (initialisation) is reported on its own (``b_raw`` of the first row).
    """
    import pandas as pd

    probes, b_small = rec["probes"], rec["b_small"]
    grams = [np.asarray(p["gram"]) for p in probes]
    raw = np.array([two_batch_estimates(G, b_small) for G in grams])   # (T, 2): |G|², tr Σ
    jack = _jackknife(grams, b_small)                                    # (k, T, 2)
    k = jack.shape[0]

    def se(values):  # values (k, T)
        return np.sqrt((k - 1) / k * ((values - values.mean(0)) ** 2).sum(0))

    sm = np.full_like(raw, np.nan)
    sm[1:] = ema(raw[1:], beta)
    jb = np.full((k, len(grams)), np.nan)
    for j in range(k):
        e = ema(jack[j, 1:], beta)
        jb[j, 1:] = e[:, 1] / e[:, 0]
    b_ema = sm[:, 1] / sm[:, 0]
    return pd.DataFrame(dict(step=[p["step"] for p in probes], examples=[p["step"] * rec["batch_size"] for p in probes],
                             val_acc=[p["val_acc"] for p in probes], g2=raw[:, 0], tr_sigma=raw[:, 1],
                             b_raw=raw[:, 1] / raw[:, 0], b_raw_se=se(jack[:, :, 1] / jack[:, :, 0]),
                             b_simple=b_ema, b_se=se(jb)))


def b_simple_summary(rec: dict, target: float, window: int = 3, n_boot: int = 2000, seed: int = 0) -> dict:
    """B_simple where the run first reaches validation accuracy ``target`` (McCandlish et al. compare the
    critical batch for a target with the noise scale at that point of training).

    Ratio of the mean tr Σ to the mean |G|² over the probes within ``window`` probes of the first one at or
    above the target (single-probe ratios are very noisy), with a 95 % bootstrap interval over those probes;
    plus the value at initialisation (probe 0, jackknife SE) and at the end of the run (same window rule).
    """
    probes, b_small = rec["probes"], rec["b_small"]
    grams = [np.asarray(p["gram"]) for p in probes]
    est = np.array([two_batch_estimates(G, b_small) for G in grams])
    hit = next((i for i, p in enumerate(probes) if p["val_acc"] >= target), None)
    i0 = hit if hit is not None else len(probes) - 1
    sel = np.arange(max(1, i0 - window), min(len(probes), i0 + window + 1))
    point, lo, hi = ratio_of_means(est[sel], n_boot, seed)
    end = np.arange(max(1, len(probes) - 2 * window - 1), len(probes))
    series = noise_scale_series(rec)
    return dict(b_simple=point, ci=(lo, hi), reached=hit is not None,
                step=probes[i0]["step"], val_acc=probes[i0]["val_acc"],
                steps_window=(probes[sel[0]]["step"], probes[sel[-1]]["step"]),
                init=float(series.b_raw.iloc[0]), init_se=float(series.b_raw_se.iloc[0]),
                end=float(est[end, 1].mean() / est[end, 0].mean()), end_step=probes[-1]["step"],
                end_val_acc=probes[-1]["val_acc"])


# --------------------------------------------------------------------------------------- record makers
def _scan_model(which: str, cfg_net, data, profile: str, results_dir=None):
    """init: x0 of seed; sb / lb: the final weights of the ``profile`` training run of that regime (in the
    default store); track: the end of the tracked run of the store ``results_dir``."""
    if which == "init":
        return initial_model(cfg_net, data.num_classes), dict(source="x0 (initial_model)")
    if which == "track":   # the end of the SB run of :func:`track_noise_scale` (hold-out split, 2 epochs)
        where = checkpoints.store_dir(results_dir) / profile
        found = sorted(where.glob(f"track-F1-*-s{cfg_net.seed}/final.pt"))
        ck = found[0] if found else where / f"track-F1-s{cfg_net.seed}" / "final.pt"
        if not ck.is_file():
            raise FileNotFoundError(f"no checkpoint {ck}; run `lbgap noise track --profile {profile}` first")
        model = initial_model(cfg_net, data.num_classes)
        model.load_state_dict(torch.load(ck, map_location="cpu", weights_only=True))
        return model, dict(source=f"checkpoint {profile}/{ck.parent.name}/final.pt (end of the B_simple run)")
    tr = records.record_path(paths.RESULTS_DIR, profile, "train", make_config("F1", which.upper(), cfg_net.seed,
                                                                               profile).run_id)
    if not tr.is_file():
        raise FileNotFoundError(f"no training record {tr}: the {which.upper()} checkpoint would be of unknown "
                                f"provenance; run `lbgap train --net F1 --batch-size {which.upper()} --profile {profile}`")
    cfg = make_config("F1", which.upper(), cfg_net.seed, profile)
    run = runs.find(cfg)
    model = run.model("final", num_classes=data.num_classes)
    ck = run.checkpoint("final")
    info = dict(source=f"checkpoint {profile}/{cfg.run_id}/final.pt",
                checkpoint_sha256=hashlib.sha256(ck.read_bytes()).hexdigest()[:16])
    tr = records.record_path(paths.RESULTS_DIR, profile, "train", cfg.run_id)
    if tr.is_file():
        r = records.read_record(tr)
        info.update(train_epochs=r["epochs"], train_stop=r["stop_reason"], train_test_acc=r["final"]["test_acc"])
    return model, info


def default_ms(n: int, lb: int) -> list[int]:
    """The minibatch sizes a scan draws: 2, 4, 8, ... up to ``lb`` (the LB batch size), and ``lb`` itself (``n``,
    the training set's size, does not enter)."""
    ms = [2 ** k for k in range(1, 20) if 2 ** k <= lb]
    return ms + ([lb] if lb not in ms else [])


def run_scan(which: str, seed: int = 0, profile: str = "quick", ckpt_profile: str = "paper", draws: int = 16,
             results_dir=None, force: bool = False, data=None, model: nn.Module | None = None,
             m_max: int | None = None) -> dict:
    """Noise scan at ``which`` in {init, sb, lb} of F1 (seed ``seed``); writes a ``noise`` record."""
    if which not in ("init", "sb", "lb", "track"):
        raise ValueError(f"--at {which!r} must be init, sb, lb or track")
    results_dir = records.store_root(results_dir)
    # init and track: the hold-out training set of the steps study; sb / lb: the paper runs' official split
    cfg = make_config("F1", "SB", seed, profile, split="official" if which in ("sb", "lb") else "holdout")
    run_id = f"scan-{cfg.net}-{cfg.dataset}-{which}-s{seed}"
    path = records.record_path(results_dir, profile, KIND, run_id)
    rec = records.done(path, force)
    if rec is not None:
        return rec
    started, t0 = records.now(), time.perf_counter()
    device = compute_device(cfg.device)
    if data is None:
        data = datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)
    if model is None:
        model, info = _scan_model(which, cfg, data, profile if which == "track" else ckpt_profile, results_dir)
    else:
        info = dict(source="model given by the caller")
    model = model.to(device)
    n = len(data.train)
    lb = int(round(0.1 * n))
    ms = [m for m in default_ms(n, lb) if m_max is None or m <= m_max]
    scan = noise_scan(model, data.train, ms, draws, seed, chunk=min(FULL_CHUNK, n))
    tl, ta = evaluate(model, data.train, cfg.eval_batch_size)
    return records.write_record(
        results_dir, profile, KIND, run_id, what="scan", at=which, seed=seed, net="F1",
        dataset=cfg.dataset, data=data.info, weights=info, draws=draws, train_loss=tl, train_acc=ta,
        bn="batch statistics of each minibatch (train mode); g = mean over chunks of 5,000", **scan,
        provenance=records.provenance(device, time.perf_counter() - t0, started))


def track_noise_scale(seed: int = 0, profile: str = "quick", batch_size: int = 256, lr: float = 1e-3,
                      epochs: float = 2.0, probe_every: int = 10, b_small: int = 64, chunks: int = 16,
                      results_dir=None, force: bool = False, data=None) -> dict:
    """Train F1 with Adam at ``batch_size`` (SB) on the hold-out split and probe B_simple every ``probe_every`` steps.

    A probe draws ``chunks`` x ``b_small`` fresh examples, computes the chunk gradients (train mode, no
    update) and stores their Gram matrix, the validation accuracy and the step. Training goes through
    ``train.Trainer`` (the steps of ``lbgap train``), the probes run as its ``on_step`` hook.
    """
    results_dir = records.store_root(results_dir)
    cfg = make_config("F1", batch_size, seed, profile, split="holdout", lr=lr, save_checkpoints=False)
    run_id = f"track-{cfg.net}-{cfg.dataset}-{cfg.split}-b{batch_size}-s{seed}"
    path = records.record_path(results_dir, profile, KIND, run_id)
    rec = records.done(path, force)
    if rec is not None:
        return rec
    if chunks < 2 or b_small < 2:
        raise ConfigError("the two-batch estimator needs at least 2 chunks of at least 2 examples")
    if not (epochs > 0 and probe_every >= 1):
        raise ConfigError(f"epochs={epochs}, probe_every={probe_every}: train for a positive number of epochs and "
                          "probe every 1 or more steps")
    started, t0 = records.now(), time.perf_counter()
    device = compute_device(cfg.device)
    if data is None:
        data = datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)
    n = len(data.train)
    if chunks * b_small > n:
        raise ConfigError(f"{chunks} chunks of {b_small} exceed the {n} training examples")
    trainer = make_trainer(cfg, data.num_classes, device, results_dir)
    model = trainer.model
    probe_gen = torch.Generator(device=device).manual_seed(PROBE_SEED_OFFSET + cfg.seed)
    total = math.ceil(epochs * n / batch_size)
    probes = []

    def probe(step: int) -> None:
        idx = torch.randperm(n, generator=probe_gen, device=device)[: chunks * b_small].view(chunks, b_small)
        G = torch.stack([minibatch_gradient(model, data.train, i).double() for i in idx])
        vl, va = evaluate(model, data.test, cfg.eval_batch_size)
        probes.append(dict(step=step, val_loss=vl, val_acc=va, gram=(G @ G.T).cpu().numpy()))
        model.zero_grad(set_to_none=True)
        model.train()

    def after_step(progress: Progress) -> None:   # probes between steps, the last one after the final step
        if progress.step >= total:
            raise StopTraining
        if progress.step % probe_every == 0:
            probe(progress.step)

    probe(0)
    step = trainer.until_stopped(data.train, after_step).step
    probe(step)
    records.atomic_torch_save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                              checkpoints.store_dir(results_dir) / profile / run_id / "final.pt")
    return records.write_record(
        results_dir, profile, KIND, run_id, what="track", seed=seed, net="F1",
        config=cfg.to_dict(), data=data.info, batch_size=batch_size, b_small=b_small, chunks=chunks,
        b_big=b_small * chunks, probe_every=probe_every, steps=step, probes=probes,
        provenance=records.provenance(device, time.perf_counter() - t0, started))


def smoke(results_dir) -> None:
    """Every record of the chapter on tiny synthetic data (profile ``smoke``), in seconds."""
    torch.set_num_threads(1)
    track_noise_scale(0, "smoke", batch_size=16, epochs=3, probe_every=2, b_small=4, chunks=6, results_dir=results_dir)
    for at in ("init", "track"):
        run_scan(at, 0, "smoke", draws=4, results_dir=results_dir)


def load(results_dir=None, profile: str = "quick") -> dict[str, dict]:
    """Every ``noise`` record of ``profile`` (scans and tracks), by run id."""
    return {r["run_id"]: r for r in records.iter_records(results_dir, profile, KIND)}


# ------------------------------------------------------------------------------------ the quadratic toy
def quadratic_toy(batch_sizes=(1, 8, 32, 128), steps: int = 200, lr: float = 0.05, sigma: float = 4.0,
                  reps: int = 2000, theta0: float = 0.0, seed: int = 0):
    """SGD on L(θ) = (θ − 3)² with gradient 2(θ − 3) + σ ξ / √m, ξ ~ N(0, 1), ``reps`` repetitions.

    Returns per (m, step): mean loss and its 10/50/90 % quantiles across repetitions, plus examples = m·step.
    """
    import pandas as pd

    if lr <= 0 or lr >= 1:
        raise ValueError(f"learning rate {lr} must be in (0, 1) for SGD on (θ − 3)² to converge")
    rng = np.random.default_rng(seed)
    out = []
    for m in batch_sizes:
        theta = np.full(reps, float(theta0))
        for t in range(steps + 1):
            loss = (theta - 3.0) ** 2
            q10, q50, q90 = np.percentile(loss, [10, 50, 90])
            out.append(dict(m=m, step=t, examples=t * m, mean=loss.mean(), q10=q10, q50=q50, q90=q90))
            theta = theta - lr * (2 * (theta - 3.0) + sigma / math.sqrt(m) * rng.standard_normal(reps))
    return pd.DataFrame(out)


def quadratic_stationary_loss(m: int, lr: float, sigma: float) -> float:
    """Exact E[L] at stationarity: Var(θ) = η² σ²/m / (1 − (1 − 2η)²) = η σ² / (4 m (1 − η))."""
    return lr * sigma**2 / (4 * m * (1 - lr))
