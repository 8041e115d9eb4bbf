"""remedies.py (Table 7, conservative training): the proximal LB runs, their table and the paper's, on smoke data."""
from __future__ import annotations

import pytest

from lbgap import cli
from lbgap.book import remedies as book_remedies
from lbgap.book.paper import paper_table
from lbgap.core import records
from lbgap.studies import remedies as rm


def test_grid_is_the_lb_config_plus_the_remedy():
    (cfg,) = rm.grid("F1", [1], "smoke")
    assert (cfg.regime, cfg.batch_size, cfg.seed) == ("LB", 32, 1)
    assert (cfg.inner_steps, cfg.prox, cfg.tag) == (3, 1e-3, "conservative")   # Appendix E.2
    assert cfg.run_id.endswith("-b32-s1-conservative")
    with pytest.raises(ValueError, match="unknown remedy 'mixup'"):
        rm.grid("F1", [0], "smoke", "mixup")


@pytest.mark.slow
def test_sweep_records_and_the_table_sets_it_beside_table2_runs(tmp_path, checkpoints, monkeypatch):
    from lbgap.core.train import make_config, train

    monkeypatch.setattr(rm, "SHARPNESS", (("random", "mean"),))
    sb = train(make_config("F1", "SB", 0, "smoke"), tmp_path)   # the baseline exists: the sweep leaves it alone
    assert cli.main(["sweep", "remedy", "--net", "F1", "--profile", "smoke", "--seeds", "0",
                     "--results-dir", str(tmp_path)]) == 0
    assert records.read_json(records.record_path(tmp_path, "smoke", "train", sb["run_id"])) == sb
    lb = records.read_json(records.record_path(tmp_path, "smoke", "train", "F1-mnist-official-b32-s0"))
    rec = records.read_json(records.record_path(tmp_path, "smoke", "train", "F1-mnist-official-b32-s0-conservative"))
    assert rec["optimizer_steps"] == 3 * rec["steps"] == 3 * lb["steps"]
    df = rm.table(tmp_path, ("smoke",))
    assert len(df) == 1
    row = df.iloc[0]
    assert row.test_acc_sb == pytest.approx(100 * sb["final"]["test_acc"])
    assert row.test_acc_lb == pytest.approx(100 * lb["final"]["test_acc"])
    assert row.test_acc_remedy == pytest.approx(100 * rec["final"]["test_acc"])
    assert row["phi_remedy_random_0.001"] > 0 and row["phi_remedy_random_0.0005"] > 0
    assert row["phi_lb_random_0.001"] > 0 and row["phi_lb_full_0.001"] != row["phi_lb_full_0.001"]   # NaN: not run
    sharp = records.read_json(records.record_path(tmp_path, "smoke", "sharpness", rec["run_id"]))
    assert sorted(sharp["entries"]) == ["random-eps0.0005-p100-A0", "random-eps0.001-p100-A0"]
    cmp = book_remedies.compare_with_paper(df, "conservative").set_index("network")
    assert cmp.loc["F1", "paper conservative LB test %"] == "98.12 ± 0.01"   # data/paper/table7.csv
    assert cmp.loc["F1", "n"] == 1


def test_paper_tables_6_and_7():
    t7, t6 = paper_table(7), paper_table(6)   # rm.REMEDIES names them
    assert (rm.REMEDIES["conservative"]["table"], rm.REMEDIES["augment"]["table"]) == (7, 6)
    assert list(t7.network) == ["F1", "F2", "C1", "C2", "C3", "C4"] and list(t6.network) == ["C1", "C2", "C3", "C4"]
    assert (t7.test_acc_sb_mean > t7.test_acc_lb_mean).sum() == 5   # only F1's conservative LB beats its SB
    assert t6.set_index("network").loc["C2", "phi_eps1e-3_mean"] == 468.65


def test_augment_trains_sb_and_lb_of_the_conv_nets_only():
    cfgs = rm.grid("C1", [0], "smoke", "augment")
    assert [(c.regime, c.augment, c.tag) for c in cfgs] == [("SB", "paper", "augment"), ("LB", "paper", "augment")]
    from lbgap.core.train import ConfigError

    with pytest.raises(ConfigError, match="convolutional networks"):
        rm.grid("F1", [0], "smoke", "augment")


@pytest.mark.slow
def test_augmented_sweep_table_and_comparison(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setattr(rm, "SHARPNESS", (("random", "mean"),))
    assert cli.main(["sweep", "remedy", "--net", "C1", "--remedy", "augment", "--profile", "smoke", "--seeds", "0",
                     "--train-examples", "32", "--results-dir", str(tmp_path)]) == 0
    df = rm.table(tmp_path, ("smoke",), "augment")
    assert len(df) == 1 and df.test_acc_remedy_sb.notna().all() and df.test_acc_sb.notna().all()
    plain = records.read_json(records.record_path(tmp_path, "smoke", "train", "C1-cifar10-official-b16-s0"))
    aug = records.read_json(records.record_path(tmp_path, "smoke", "train", "C1-cifar10-official-b16-s0-augment"))
    assert plain["history"][0] == {**aug["history"][0], **{k: plain["history"][0][k] for k in ("time_s",)}}
    assert aug["final"]["train_loss"] != plain["final"]["train_loss"]   # same x0, different (augmented) batches
    cmp = book_remedies.compare_with_paper(df, "augment").set_index("network")
    assert cmp.loc["C1", "paper augmented SB test %"] == "83.63 ± 0.14"
    assert "augmented SB test %" in cmp.columns
    long = book_remedies.by_measure(cmp.reset_index()).set_index("measure")   # one row per measure, regimes as columns
    assert list(long.index) == ["test accuracy (%)", "φ at ε = 1e-3", "φ at ε = 5e-4"]
    assert long.loc["test accuracy (%)", "paper: augmented SB"] == "83.63 ± 0.14"
    assert long.loc["test accuracy (%)", "augmented SB"] == cmp.loc["C1", "augmented SB test %"]
    assert long.loc["φ at ε = 1e-3", "paper: augmented LB"] == cmp.loc["C1", "paper φ 1e-3"]   # the paper's φ: remedy LB
    assert long.loc["φ at ε = 1e-3", "augmented SB"] == "—"                                 # never measured


@pytest.mark.slow
def test_control_is_conservative_training_without_the_proximal_term(tmp_path, checkpoints, monkeypatch):
    monkeypatch.setattr(rm, "SHARPNESS", (("random", "mean"),))
    (ctrl,) = rm.grid("F1", [0], "smoke", "repeat3")
    (cons,) = rm.grid("F1", [0], "smoke", "conservative")
    assert (ctrl.inner_steps, ctrl.prox) == (3, 0.0)
    assert {k for k, v in ctrl.material().items() if v != cons.material()[k]} == {"prox", "tag"}
    for remedy in ("conservative", "repeat3"):
        rm.run("F1", [0], "smoke", remedy, results_dir=tmp_path)
    df = rm.control_table(tmp_path, ("smoke",))
    assert len(df) == 1
    rec = records.read_json(records.record_path(tmp_path, "smoke", "train", ctrl.run_id))
    assert df.test_acc_control.iloc[0] == pytest.approx(100 * rec["final"]["test_acc"])
    assert df.train_loss_control.iloc[0] == pytest.approx(rec["final"]["train_loss"])
    assert df["phi_control_random_0.001"].iloc[0] > 0
    with pytest.raises(ValueError, match="no control run; the controls are: repeat3 \\(of conservative\\)"):
        rm.control_table(tmp_path, ("smoke",), "augment")


def test_paired_effects_is_a_paired_t_test():
    import math

    import pandas as pd
    from scipy import stats

    df = pd.DataFrame(dict(net=["F1"] * 3 + ["C1"], a=[1.0, 2.0, 3.0, 5.0], b=[0.0, 0.0, 4.0, 1.0]))
    out = rm.paired_effects(df, [("a − b", "a", "b")]).set_index("network")
    d = [1.0, 2.0, -1.0]
    mean, sd = sum(d) / 3, math.sqrt(sum((x - sum(d) / 3) ** 2 for x in d) / 2)
    t = mean / (sd / math.sqrt(3))
    assert out.loc["F1", "mean"] == pytest.approx(mean) and out.loc["F1", "std"] == pytest.approx(sd)
    assert out.loc["F1", "p"] == pytest.approx(2 * stats.t.sf(abs(t), df=2))
    assert (out.loc["F1", "n"], out.loc["F1", "a_larger"]) == (3, 2)
    assert out.loc["C1", "n"] == 1 and math.isnan(out.loc["C1", "p"])   # one seed: no test
