"""trajectory.py (Figure 6): kept iterates along SB and LB training and phi at each, on smoke data."""
from __future__ import annotations

import pytest
import torch

from lbgap import cli
from lbgap.core import records
from lbgap.studies import trajectory as tj
from lbgap.core.train import checkpoint_dir


def test_schedule_is_log_spaced_from_x0_to_the_last_step():
    assert tj.schedule(100, 3) == [0, 1, 10, 100]
    assert tj.schedule(4, 12) == [0, 1, 2, 3, 4]   # fewer steps than points: each step once
    with pytest.raises(ValueError, match="at least 1"):
        tj.schedule(0)


def test_configs_are_fixed_epoch_tagged_and_carry_their_schedule():
    sb, lb = tj.configs("F1", 0, "smoke", epochs=3, points=4)
    assert (sb.batch_size, lb.batch_size) == (16, 32) and sb.tag == lb.tag == "fig6"
    assert sb.max_epochs == 3 and sb.patience > 3
    assert sb.extra["snapshot_steps"][-1] == 3 * 128 // 16 and lb.extra["snapshot_steps"][-1] == 3 * 128 // 32
    with pytest.raises(ValueError, match="epochs=0"):
        tj.configs("F1", 0, "smoke", epochs=0)


@pytest.mark.slow
def test_sweep_keeps_iterates_and_measures_phi_along_them(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setattr(tj, "SHARPNESS", (("random", "mean"),))   # full space on a 1.5 M-parameter MLP: slow
    args = ["sweep", "trajectory", "--net", "F1", "--profile", "smoke", "--epochs", "2", "--points", "3",
            "--results-dir", str(tmp_path)]
    assert cli.main(args) == 0
    sb, lb = tj.configs("F1", 0, "smoke", epochs=2, points=3)
    rec = records.read_json(records.record_path(tmp_path, "smoke", "train", lb.run_id))
    assert rec["snapshots"] == lb.extra["snapshot_steps"] == [0, 1, 3, 8]
    final = torch.load(checkpoint_dir(lb, tmp_path) / "final.pt", weights_only=True)
    last = torch.load(checkpoint_dir(lb, tmp_path) / "step8.pt", weights_only=True)
    assert all(torch.equal(final[k], last[k]) for k in final)   # the last kept iterate is the final one
    df = tj.table(tmp_path, ("smoke",))
    assert len(df) == 2 * 4 and df.phi_random.gt(0).all() and df.phi_full_sum.isna().all()
    x0 = df[df.step == 0].set_index("regime")
    assert x0.loc["SB", "phi_random"] == pytest.approx(x0.loc["LB", "phi_random"])   # same x0 for SB and LB
    end = df[(df.regime == "LB")].iloc[-1]
    assert end.loss == pytest.approx(rec["final"]["train_loss"], rel=1e-5)   # f at the end = the run's train loss
    assert end.loss < x0.loc["LB", "loss"]
    # resumable: a rerun finds every entry and run done
    stamp = records.record_path(tmp_path, "smoke", "trajectory", lb.run_id).stat().st_mtime_ns
    assert cli.main(args) == 0
    assert records.record_path(tmp_path, "smoke", "trajectory", lb.run_id).stat().st_mtime_ns == stamp


def test_a_run_without_kept_iterates_is_a_clear_error(tmp_path, checkpoints):
    from lbgap.core.train import make_config, train

    cfg = make_config("F1", "SB", 0, "smoke")
    train(cfg, tmp_path)
    with pytest.raises(ValueError, match="kept no iterates"):
        tj.compute(cfg, tmp_path)
