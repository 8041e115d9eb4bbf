"""studies/gradient_norm.py: the measurement grid, the LR rules, and the gradient norms against a direct computation."""
from __future__ import annotations

import math

import pytest
import torch

from lbgap.core.models import keras_cross_entropy
from lbgap.core.train import initial_model
from lbgap.studies import gradient_norm as gn


def test_checkpoints_double_through_the_first_epoch_then_step_evenly():
    assert gn.checkpoints(1000, 1) == [0, 256, 512, 1000]
    pts = gn.checkpoints(60000, 2, per_epoch=4)
    assert pts[:3] == [0, 256, 512] and 60000 in pts and pts[-4:] == [75000, 90000, 105000, 120000]


def test_lr_rules():
    assert gn.lr_for(16, "fixed") == 1e-3
    assert gn.lr_for(1024, "sqrt") == pytest.approx(2e-3) and gn.lr_for(64, "sqrt") == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="unknown learning-rate rule 'cubic'"):
        gn.lr_for(16, "cubic")


def test_record_matches_a_direct_full_batch_gradient_and_counts_every_step(tmp_path):
    cfg = gn.config("F1", 16, "sqrt", 0, "smoke", epochs=2)
    assert (cfg.lr, cfg.max_epochs, cfg.tag) == (pytest.approx(2.5e-4), 2, "gn-sqrt")
    rec = gn.measure_run(cfg, tmp_path, grad_examples=64, noise_chunk=16)
    rows = rec["history"]
    assert [r["examples"] for r in rows] == gn.checkpoints(128, 2)
    assert rows[0]["dist"] == 0 and rows[-1]["dist"] > 0
    assert sum(r["steps_averaged"] for r in rows) == rows[-1]["step"] == 2 * 128 // 16
    # x0 of the seed, the first 64 training examples in one evaluation batch (smoke: eval batch 64), eval mode
    from lbgap.core import data as datamod

    data = datamod.load("mnist", "official", "synthetic", torch.device("cpu"), 128, 64)
    model = initial_model(cfg, data.num_classes).eval()
    x, y = data.train.batch(torch.arange(64))
    grads = torch.autograd.grad(keras_cross_entropy(model(x), y), [p for p in model.parameters()])
    direct = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
    assert rows[0]["grad_full"] == pytest.approx(direct, rel=1e-4)   # float32 sums in another order
    # the sampling term: the two-batch estimator on 4 chunks of 16 (eval mode), computed here by hand
    chunks = []
    for i in range(4):
        xi, yi = data.train.batch(torch.arange(16 * i, 16 * (i + 1)))
        gi = torch.autograd.grad(keras_cross_entropy(model(xi), yi), list(model.parameters()))
        chunks.append(torch.cat([g.reshape(-1) for g in gi]).double())
    small = sum(float(c @ c) for c in chunks) / 4               # mean |g_i|^2 over chunks of 16
    big = float(torch.stack(chunks).mean(0).norm()) ** 2        # |mean|^2: 64 examples
    trace = (small - big) / (1 / 16 - 1 / 64)
    assert rows[0]["trace_cov"] == pytest.approx(trace, rel=1e-3) and trace > 0
    assert rows[0]["sampling_term"] == pytest.approx(trace / 64, rel=1e-3)
    assert rows[0]["grad_full_debiased"] == pytest.approx(math.sqrt(max(direct**2 - trace / 64, 0)), rel=1e-3)
    assert all(r["grad_full_debiased"] <= r["grad_full"] for r in rows)
    assert rec["shown"] == "grad_full" and rec["noise_chunk"] == 16 and rec["threads"] >= 1
    with pytest.raises(ValueError, match="at least two chunks of 64"):
        gn.sampling_term(model, data.train.subset(torch.arange(64)), list(model.parameters()), 64)
    assert gn.measure_run(cfg, tmp_path, grad_examples=64)["skipped"] is True
    df = gn.table(tmp_path, ("smoke",))
    assert len(df) == len(rows) and set(df.rule) == {"sqrt"}
