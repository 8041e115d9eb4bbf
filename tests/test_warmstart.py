"""warmstart.py (Figure 5): LB runs warm-started from kept SB iterates, their sharpness and table, on smoke data."""
from __future__ import annotations

import pytest

from lbgap import cli
from lbgap.core import records
from lbgap.studies import warmstart as ws
from lbgap.core.train import ConfigError, make_config, train


def test_warm_list_defaults_and_bad_epochs():
    assert ws.warm_list(20) == [0, 1, 2, 3, 5, 10, 20]
    assert ws.warm_list(100) == [0, 1, 2, 3, 5, 10, 20, 50, 100]
    assert ws.warm_list(7, [5, 0, 5]) == [0, 5]
    with pytest.raises(ValueError, match=r"\[9\].*sb_epochs=7"):
        ws.warm_list(7, [0, 9])
    with pytest.raises(ValueError, match="sb_epochs=0"):
        ws.warm_list(0)


def test_configs_keep_each_warm_epoch_and_start_lb_from_it():
    sb, lbs = ws.configs("F1", 2, "smoke", sb_epochs=3, lb_epochs=2, warm_epochs=[0, 1, 3])
    per_epoch = 128 // 16   # smoke: 128 training examples, SB = 16
    assert (sb.regime, sb.tag, sb.max_epochs) == ("SB", "fig5", 3) and sb.patience > 3
    assert sb.extra["snapshot_steps"] == [0, per_epoch, 3 * per_epoch]
    assert [lb.tag for lb in lbs] == ["fig5-sb0", "fig5-sb1", "fig5-sb3"]
    assert all(lb.regime == "LB" and lb.max_epochs == 2 and lb.seed == 2 for lb in lbs)
    assert lbs[2].init_from == f"smoke/{sb.run_id}/step{3 * per_epoch}.pt"
    with pytest.raises(ValueError, match="lb_epochs=0"):
        ws.configs("F1", 0, "smoke", sb_epochs=3, lb_epochs=0)


@pytest.mark.slow
def test_sweep_starts_each_lb_run_from_its_sb_iterate(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setattr(ws, "SHARPNESS", (("random", "mean"),))   # full space on a 1.5 M-parameter MLP: slow
    args = ["sweep", "warmstart", "--net", "F1", "--profile", "smoke", "--sb-epochs", "3", "--lb-epochs", "2",
            "--warm-epochs", "0,1,3", "--train-examples", "64", "--results-dir", str(tmp_path)]
    assert cli.main(args) == 0
    sb, lbs = ws.configs("F1", 0, "smoke", 3, 2, [0, 1, 3])
    sb_rec = records.read_json(records.record_path(tmp_path, "smoke", "train", sb.run_id))
    sb_loss = {h["epoch"]: h["train_loss"] for h in sb_rec["history"]}
    for lb, k in zip(lbs, (0, 1, 3)):
        rec = records.read_json(records.record_path(tmp_path, "smoke", "train", lb.run_id))
        # the LB run's evaluation before its first step is the SB iterate after k epochs: the warm start loaded
        assert rec["history"][0]["train_loss"] == pytest.approx(sb_loss[k], rel=1e-6)
        assert rec["epochs"] == 2 and rec["config"]["init_from"] == lb.init_from
    assert sb_loss[0] != pytest.approx(sb_loss[3])   # the warm starts differ
    df = ws.table(tmp_path, ("smoke",))
    assert list(df.warm_epoch) == [0, 1, 3] and df.phi_random.gt(0).all() and df.phi_full_sum.isna().all()
    assert df.sb_test_acc.tolist() == pytest.approx([100 * h["test_acc"] for h in sb_rec["history"]
                                                     if h["epoch"] in (0, 1, 3)])
    assert df.sharpness_examples.iloc[0] == "the first 64 training examples"
    stamp = records.record_path(tmp_path, "smoke", "sharpness", lbs[0].run_id).stat().st_mtime_ns
    assert cli.main(args) == 0   # resumable: every run and entry is found done
    assert records.record_path(tmp_path, "smoke", "sharpness", lbs[0].run_id).stat().st_mtime_ns == stamp
    assert [v.startswith("fig5") for v in records.train_table(tmp_path, "smoke").variant] == [True] * 4


def test_a_missing_warm_start_is_a_clear_error(tmp_path, checkpoints):
    cfg = make_config("F1", "LB", 0, "smoke", init_from="smoke/nothing/step8.pt")
    with pytest.raises(ConfigError, match="warm start .*nothing.* does not exist"):
        train(cfg, tmp_path)
    assert not list(tmp_path.rglob("*.json"))   # nothing half-written
    with pytest.raises(ConfigError, match="relative to the checkpoint store"):
        make_config("F1", "LB", 0, "smoke", init_from="/etc/x.pt")
    assert cli.main(["sweep", "warmstart", "--net", "F1", "--profile", "smoke", "--sb-epochs", "2",
                     "--warm-epochs", "0,5", "--results-dir", str(tmp_path)]) == 2   # 5 > 2: refused up front
