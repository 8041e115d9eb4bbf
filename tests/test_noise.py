"""Gradient-noise statistics against known answers: a quadratic, Gaussian chunk gradients, a BN-free model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lbgap.measures import noise
from lbgap.core.data import TensorDataset


def test_quadratic_toy_matches_exact_stationary_loss():
    lr, sigma = 0.1, 4.0
    df = noise.quadratic_toy((1, 8), steps=300, lr=lr, sigma=sigma, reps=4000, seed=1)
    for m in (1, 8):
        tail = df[(df.m == m) & (df.step >= 200)]["mean"].mean()
        exact = noise.quadratic_stationary_loss(m, lr, sigma)
        assert tail == pytest.approx(exact, rel=0.08)
    # noise-free part: E[theta_t] - 3 = -3 (1 - 2 lr)^t, so at step 5 the mean loss is >= 9 (1 - 2 lr)^10
    first = df[(df.m == 8) & (df.step == 5)]["mean"].iloc[0]
    assert first >= 9 * (1 - 2 * lr) ** 10
    with pytest.raises(ValueError, match="learning rate"):
        noise.quadratic_toy(lr=1.5)


def test_two_batch_estimator_is_unbiased_on_gaussian_chunks():
    rng = np.random.default_rng(0)
    d, k, b_small, sigma = 50, 8, 16, 0.3
    G = rng.normal(size=d) * 0.05
    tr_sigma, g2_true = d * sigma**2, float(G @ G)
    est = []
    for _ in range(4000):
        chunks = G + rng.normal(size=(k, d)) * sigma / np.sqrt(b_small)   # chunk mean of b_small examples
        est.append(noise.two_batch_estimates(chunks @ chunks.T, b_small))
    g2, s = np.mean(est, axis=0)
    assert s == pytest.approx(tr_sigma, rel=0.02)
    assert g2 == pytest.approx(g2_true, rel=0.05)
    # the naive |G_small|^2 is biased upwards by tr(Sigma)/B_small, the estimator is not
    naive = np.mean([np.mean(np.sum((G + rng.normal(size=(k, d)) * sigma / 4) ** 2, 1)) for _ in range(200)])
    assert naive > g2_true + 0.5 * tr_sigma / b_small


def test_b_simple_summary_recovers_known_noise_scale():
    rng = np.random.default_rng(1)
    d, k, b_small, sigma = 40, 16, 8, 0.5
    G = np.full(d, 0.05)
    truth = d * sigma**2 / float(G @ G)                      # tr(Sigma) / |G|^2 = 100
    probes = []
    for t in range(40):
        chunks = G + rng.normal(size=(k, d)) * sigma / np.sqrt(b_small)
        probes.append(dict(step=10 * t, val_acc=0.5 + 0.01 * t, gram=chunks @ chunks.T))
    rec = dict(probes=probes, b_small=b_small, batch_size=32)
    s = noise.b_simple_summary(rec, target=0.7, window=10, n_boot=300)
    assert s["reached"] and s["step"] == 200
    assert s["ci"][0] < truth < s["ci"][1] and s["b_simple"] == pytest.approx(truth, rel=0.3)
    series = noise.noise_scale_series(rec)
    assert np.isnan(series.b_simple.iloc[0]) and series.b_simple.iloc[-1] == pytest.approx(truth, rel=0.4)
    assert (series.b_se.iloc[1:] > 0).all()


def _linear_problem(n=400, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, d), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 3, (n,), generator=g)
    torch.manual_seed(seed)
    return TensorDataset(x, y), nn.Linear(d, 3)


def test_noise_scan_slope_is_minus_one_without_batchnorm():
    ds, model = _linear_problem()
    scan = noise.noise_scan(model, ds, [2, 4, 8, 16, 32, 64, 128], draws=300, seed=0, chunk=128)
    fit = noise.fit_slope(scan, n_boot=200)
    assert fit["slope"] == pytest.approx(-1.0, abs=0.06)
    assert fit["slope_ci"][0] < -1.0 < fit["slope_ci"][1] or abs(fit["slope"] + 1) < 0.03
    # tr(Sigma) against brute-force per-example gradients (population covariance, divisor N - 1 in the FPC)
    per = torch.stack([noise.minibatch_gradient(model, ds, torch.tensor([i])).double() for i in range(len(ds))])
    g = per.mean(0)
    tr_sigma = float(((per - g) ** 2).sum(1).mean())
    assert float(scan["full_grad_sqnorm"]) == pytest.approx(float(g @ g), rel=1e-5)
    assert fit["tr_sigma"] == pytest.approx(tr_sigma * len(ds) / (len(ds) - 1), rel=0.1)
    tab = noise.scan_table(scan)
    assert (tab.cos.diff().dropna() > 0).all()   # bigger minibatches point closer to g


def test_noise_scan_rejects_m_of_one():
    ds, model = _linear_problem(n=20)
    with pytest.raises(ValueError, match="between 2"):
        noise.noise_scan(model, ds, [1, 4])


def test_track_and_scan_records_on_synthetic_data(results_dir, checkpoints):
    rec = noise.track_noise_scale(0, "smoke", batch_size=16, epochs=2, probe_every=3, b_small=4, chunks=6,
                                  results_dir=results_dir)
    assert len(rec["probes"]) >= 4 and np.asarray(rec["probes"][0]["gram"]).shape == (6, 6)
    again = noise.track_noise_scale(0, "smoke", batch_size=16, epochs=2, probe_every=3, b_small=4, chunks=6,
                                    results_dir=results_dir)
    assert again.get("skipped")
    series = noise.noise_scale_series(again)
    assert len(series) == len(rec["probes"]) and np.isfinite(series.tr_sigma).all()
    s = noise.b_simple_summary(again, target=2.0, n_boot=50)     # unreachable target: the end of the run
    assert not s["reached"] and s["step"] == rec["probes"][-1]["step"]
    from lbgap.core.train import initial_model, make_config

    scan = noise.run_scan("init", 0, "smoke", results_dir=results_dir, draws=3,
                          model=initial_model(make_config("F1", "SB", 0, "smoke")))
    assert [r["m"] for r in scan["rows"]] == [2, 4, 8, 10]      # 10 % of the 103 hold-out-split examples
    assert (results_dir / "smoke" / "noise" / "scan-F1-mnist-init-s0.json").is_file()


def test_cli_bad_input_exits_2(capsys):
    from lbgap.cli import main

    assert main(["noise", "scan", "--at", "middle", "--profile", "smoke"]) == 2
    assert "init, sb, lb or track" in capsys.readouterr().err


def test_track_noise_scale_matches_a_plain_loop(results_dir, checkpoints):
    """Probes (step, validation accuracy, Gram matrix) and final weights equal those of plain Adam steps on the
    run's batches with a probe before every 5th step and one after the last (13 steps: 2 epochs of 7 batches of
    16 of the 103 examples, the last cut off): the probe grid does not divide the run and crosses an epoch."""
    import math

    from lbgap.core import data as datamod
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import ConfigError, evaluate, initial_model, make_config

    rec = noise.track_noise_scale(0, "smoke", batch_size=16, epochs=2, probe_every=5, b_small=4, chunks=6,
                                  results_dir=results_dir)
    cfg = make_config("F1", 16, 0, "smoke", split="holdout")
    data = datamod.load(cfg.dataset, cfg.split, cfg.source, "cpu", cfg.n_train, cfg.n_test)
    n = len(data.train)
    total = math.ceil(2 * n / 16)
    model = initial_model(cfg, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen, probe_gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(10_000)
    probes = []

    def probe(step):
        idx = torch.randperm(n, generator=probe_gen)[:24].view(6, 4)
        G = torch.stack([noise.minibatch_gradient(model, data.train, i).double() for i in idx])
        probes.append((step, evaluate(model, data.test, cfg.eval_batch_size)[1], (G @ G.T).numpy()))

    order = [b for _ in range(2) for b in torch.randperm(n, generator=gen).split(16)][:total]
    for step, idx in enumerate(order):
        if step % 5 == 0:
            probe(step)
        x, y = data.train.batch(idx)
        loss = keras_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    probe(total)
    assert rec["steps"] == total == 13 and [p["step"] for p in rec["probes"]] == [0, 5, 10, 13]
    for p, (step, val_acc, gram) in zip(rec["probes"], probes, strict=True):
        assert p["step"] == step and p["val_acc"] == val_acc and np.array_equal(p["gram"], gram)
    final = torch.load(results_dir / "_checkpoints" / "smoke" / rec["run_id"] / "final.pt", weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(final[k], v)
    with pytest.raises(ConfigError, match="positive number of epochs"):
        noise.track_noise_scale(0, "smoke", batch_size=16, epochs=0, results_dir=results_dir, force=True)
