"""Steps-to-target: the crossing interpolation, the critical-batch fit, and a resumable synthetic run."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lbgap.core import records
from lbgap.studies import steps
from lbgap.core.train import ConfigError


def test_crossing_interpolates_in_log_steps():
    curve = [dict(step=10, val_acc=0.90), dict(step=40, val_acc=0.98)]
    s = steps.crossing(curve, 0.94)          # half way in accuracy -> geometric mean of the steps
    assert s == pytest.approx(math.sqrt(10 * 40))
    assert steps.crossing(curve, 0.99) is None
    assert steps.crossing(curve, 0.5) == 10


def test_fit_recovers_known_critical_batch():
    rng = np.random.default_rng(0)
    B = np.repeat([16, 64, 256, 1024, 4096], 3)
    S = steps.sb_model(B, 120.0, 700.0) * np.exp(rng.normal(0, 0.03, len(B)))
    fit = steps.fit_critical_batch(B, S, n_boot=200)
    assert fit["b_crit"] == pytest.approx(700, rel=0.15)
    assert fit["s_min"] == pytest.approx(120, rel=0.1)
    assert fit["e_min"] == pytest.approx(fit["s_min"] * fit["b_crit"])
    assert fit["b_crit_ci"][0] < fit["b_crit"] < fit["b_crit_ci"][1]
    assert 0.7 * 700 < fit["b_crit_ci"][0] and fit["b_crit_ci"][1] < 1.3 * 700
    with pytest.raises(ValueError, match="3 or more"):
        steps.fit_critical_batch([16, 64], [100, 50])


def test_lr_grid():
    assert steps.lr_grid("adam", 256) == [3e-4, 1e-3, 3e-3]
    assert 1e-3 in steps.lr_grid("adam", 4096)
    assert steps.lr_grid("sgd", 256)[1] == pytest.approx(0.1)
    with pytest.raises(ConfigError):
        steps.lr_grid("rmsprop", 256)


def test_run_to_target_writes_resumable_record(results_dir):
    cfg = steps.steps_config(8, 3e-3, "adam", 0, "smoke")
    rec = steps.run_to_target(cfg, 0.5, results_dir,
                              schedule=steps.Schedule(min_epochs=1.0, max_steps=60, first_eval_examples=8))
    assert rec["stop_reason"] in ("target", "cap") and rec["steps"] >= 13   # >= 1 epoch of 103 examples
    assert rec["budget"]["step"] == 13 and 0 <= rec["budget"]["test_acc"] <= 1
    assert "0.50" in rec["targets"] and rec["curve"][0]["step"] == 4   # first evaluation: step >= 4
    if rec["reached"]:
        assert rec["targets"]["0.50"]["steps"] <= rec["steps"]
    assert steps.run_to_target(cfg, 0.5, results_dir).get("skipped")
    df = steps.table(results_dir, "smoke")
    assert len(df) == 1 and df.batch_size.iloc[0] == 8
    with pytest.raises(ConfigError):
        steps.run_to_target(steps.steps_config(8, 1e-3, "adam", 0, "smoke"), 1.5, results_dir)


def test_next_notch_brackets_the_optimum():
    grid = steps.lr_grid("adam", 256)                       # 3e-4, 1e-3, 3e-3
    assert steps.next_notch(grid, 3e-4) == pytest.approx(1e-4)
    assert steps.next_notch(grid, 3e-3) == pytest.approx(9e-3)
    assert steps.next_notch(grid, 1e-3) is None
    assert steps.next_notch(grid + [1e-4], 1e-4) == pytest.approx(3.3e-5)


def test_sweep_grows_the_grid_until_the_best_lr_is_bracketed(results_dir):
    recs = steps.smoke_sweep(results_dir, seeds=(0,), optimizers=("adam",))
    df = steps.table(results_dir, "smoke")
    best = steps.best_lr(df, 0.5)
    for B, g in df.groupby("batch_size"):
        lrs = sorted(g.lr)
        assert len(lrs) == len(set(lrs)) and 3 <= len(lrs) <= 3 + steps.MAX_EXTEND
        if len(lrs) > 3:   # an added notch lies one factor of 3 beyond the grid it extended
            assert set(steps.lr_grid("adam", B)) < set(lrs)
        b = best[("adam", B)]
        if g.reached.any() and len(lrs) < 3 + steps.MAX_EXTEND:
            assert min(lrs) < b < max(lrs), f"B={B}: best lr {b} on the edge of {lrs}"
    assert len(recs) == len(df)


def _plain_batches(n: int, batch_size: int, seed: int):
    """The run's batches: one seeded permutation per epoch, the last partial batch kept."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    while True:
        yield from torch.randperm(n, generator=gen).split(batch_size)


@pytest.mark.parametrize("max_steps, stop, steps_done", [(40, "target", 17), (15, "cap", 15)])
def test_run_to_target_matches_a_plain_loop(results_dir, max_steps, stop, steps_done):
    """Curve, budget read-out, stop and final numbers equal those of plain Adam steps on the run's batches,
    evaluated where the schedule says (first at step 1, then x1.12, the budget point and the cap); the run
    goes past the end of its first epoch (13 batches of 8 of the 103 examples) and stops mid-epoch."""
    import torch

    from lbgap.core import data as datamod
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import evaluate, initial_model

    cfg = steps.steps_config(8, 3e-4, "adam", 1, "smoke")
    data = datamod.load(cfg.dataset, cfg.split, cfg.source, "cpu", cfg.n_train, cfg.n_test)
    schedule = steps.Schedule(min_epochs=1.0, max_steps=max_steps, first_eval_examples=8, first_eval_step=1)
    rec = steps.run_to_target(cfg, 0.99, results_dir, data=data, schedule=schedule)
    assert (rec["stop_reason"], rec["steps"]) == (stop, steps_done)

    n, budget_step, cap = len(data.train), 13, max_steps
    model = initial_model(cfg, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    curve, budget, next_eval, reached = [], None, 1, False
    for step, idx in enumerate(_plain_batches(n, 8, cfg.seed), start=1):
        x, y = data.train.batch(idx)
        loss = keras_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (next_eval, budget_step, cap):
            val_loss, val_acc = evaluate(model, data.test, cfg.eval_batch_size)
            curve.append((step, step * 8, val_loss, val_acc))
            next_eval = max(step + 1, math.ceil(step * 1.12))
            if step == budget_step:
                budget = evaluate(model, data.extra.get("official_test", data.test), cfg.eval_batch_size)[1]
            reached = reached or val_acc >= 0.99
            if (reached and step >= budget_step) or step >= cap:
                break
    assert [(r["step"], r["examples"], r["val_loss"], r["val_acc"]) for r in rec["curve"]] == curve
    assert rec["budget"]["step"] == budget_step and rec["budget"]["test_acc"] == budget
    final = evaluate(model, data.extra.get("official_test", data.test), cfg.eval_batch_size)
    assert (rec["final"]["test_loss"], rec["final"]["test_acc"]) == final
    assert rec["reached"] == reached and rec["cap_steps"] == cap


def test_a_non_finite_loss_stops_the_run_at_that_step(results_dir):
    import torch

    from lbgap.core import data as datamod
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import initial_model

    cfg = steps.steps_config(16, 1e12, "sgd", 0, "smoke")
    data = datamod.load(cfg.dataset, cfg.split, cfg.source, "cpu", cfg.n_train, cfg.n_test)
    rec = steps.run_to_target(cfg, 0.5, results_dir, data=data, schedule=steps.Schedule(max_steps=50))
    model = initial_model(cfg, data.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=1e12, momentum=steps.MOMENTUM)
    for step, idx in enumerate(_plain_batches(len(data.train), 16, cfg.seed), start=1):  # noqa: B007 (used after)
        x, y = data.train.batch(idx)
        loss = keras_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not math.isfinite(float(loss.detach())):
            break
    assert (rec["status"], rec["stop_reason"], rec["steps"]) == ("diverged", "diverged", step)
    assert [r["step"] for r in rec["curve"]] == [step]    # the one evaluation: where it diverged


def test_c1_runs_are_recorded_apart_from_f1(results_dir):
    sched = steps.Schedule(min_epochs=0.0, max_steps=6, first_eval_examples=8, first_eval_step=2)
    for net in ("F1", "C1"):
        cfg = steps.steps_config(16, 1e-3, "adam", 0, "smoke", net)
        assert cfg.net == net and cfg.split == "holdout" and cfg.run_id.startswith(f"{net}-")
        rec = steps.run_to_target(cfg, 0.99, results_dir, schedule=sched)
        assert rec["steps"] <= 6 and rec["stop_reason"] in ("target", "cap")
        assert set(rec["targets"]) == {f"{t:.2f}" for t in steps.TARGETS[net]} | {"0.99"}
    assert list(steps.table(results_dir, "smoke").net) == ["F1"]                       # the chapter's default
    assert list(steps.table(results_dir, "smoke", "C1").net) == ["C1"]
    assert sorted(steps.table(results_dir, "smoke", None).net) == ["C1", "F1"]
    assert set(steps.curve_table(results_dir, "smoke", "C1").step) <= {2, 3, 4, 5, 6}
    assert len(steps.curve_table(results_dir, "smoke", None)) == len(steps.curve_table(results_dir, "smoke")) + len(
        steps.curve_table(results_dir, "smoke", "C1"))
    with pytest.raises(ConfigError, match="runs F1 or C1"):
        steps.steps_config(16, 1e-3, "adam", 0, "smoke", "C2")


def test_the_command_keeps_the_precision_it_is_given(results_dir):
    # `lbgap sweep steps-to-target --precision` reaches every run's config: one study keeps one precision across
    # machines (a GPU node's default, bf16 autocast, would otherwise mix with float32 CPU runs)
    from lbgap.cli import main

    args = ["sweep", "steps-to-target", "--profile", "smoke", "--batch-sizes", "16", "--optimizers", "adam",
            "--seeds", "0-1", "--max-steps", "6", "--results-dir", str(results_dir)]
    assert main(args + ["--precision", "bf16"]) == 0
    precisions = {r["config"]["precision"] for r in records.iter_records(results_dir, "smoke", "steps")}
    assert precisions == {"bf16"}
