"""Parametric curves, filter normalisation, BN statistics, and the sharpness/landscape CLIs end to end."""
import math

import pytest
import torch
from torch import nn

from lbgap.measures import landscape as ls
from lbgap.core import records
from lbgap.core.data import TensorDataset
from lbgap.core.models import MLP


class Bundle:
    def __init__(self, train, test):
        self.train, self.test = train, test


def toy(seed=0, bn="batch"):
    torch.manual_seed(seed)
    x = torch.randint(0, 256, (40, 5), dtype=torch.uint8)
    y = (x[:, 0] > x[:, 1]).long()
    data = Bundle(TensorDataset(x[:30], y[:30]), TensorDataset(x[30:], y[30:]))
    a, b = MLP(5, 2, depth=2, width=8, bn=bn), MLP(5, 2, depth=2, width=8, bn=bn)
    return a, b, data


def test_alpha_grid_is_the_papers():
    g = ls.alpha_grid()
    assert len(g) == 25 and g[0] == -1 and g[-1] == 2
    assert 0.0 in g and any(abs(a - 1) < 1e-12 for a in g)
    with pytest.raises(ValueError):
        ls.alpha_grid(1, 0, 5)


@pytest.mark.parametrize("kind", ["linear", "curvilinear"])
def test_path_endpoints_are_the_two_solutions(kind):
    sb, lb, data = toy()
    params = ls.select_params(sb)
    x_sb, x_lb = ls.get_flat(params), ls.get_flat(ls.select_params(lb))
    rows = ls.interpolate(sb, params, x_sb, x_lb, data, 8, [0.0, 1.0, 0.5], kind)
    ref_sb = ls.evaluate(toy()[0], data.train, 8)
    ref_lb = ls.evaluate(toy()[1], data.test, 8)
    assert rows[0]["train_loss"] == pytest.approx(ref_sb[0], rel=1e-6)
    assert rows[1]["test_loss"] == pytest.approx(ref_lb[0], rel=1e-6)
    mid = ls.path_point(x_sb, x_lb, 0.5, kind)
    expect = (x_sb + x_lb) / 2 if kind == "linear" else (x_sb + x_lb) * math.sqrt(0.5)
    assert torch.allclose(mid, expect, atol=1e-6)
    assert rows[2]["train_loss"] != pytest.approx(rows[0]["train_loss"])


def test_filter_normalisation():
    conv = nn.Conv2d(3, 4, 3)
    lin = nn.Linear(6, 5)
    params = [conv.weight, conv.bias, lin.weight, lin.bias]
    d = ls.filter_normalized_direction(params, seed=0)
    parts = ls.params_like(params, d)
    for w, dw in zip(params, parts):
        if w.dim() == 1:
            assert torch.count_nonzero(dw) == 0
        else:
            assert torch.allclose(dw.reshape(len(dw), -1).norm(dim=1), w.detach().reshape(len(w), -1).norm(dim=1))
    assert torch.equal(d, ls.filter_normalized_direction(params, seed=0))
    assert not torch.equal(d, ls.filter_normalized_direction(params, seed=1))


def test_running_bn_statistics_are_recomputed_exactly():
    model, _, data = toy(bn="running")
    ls.recompute_bn_stats(model, data.train, batch_size=10)     # 3 equal batches: the exact data mean
    lin, bn = model.net[1], model.net[2]
    with torch.no_grad():
        h = lin(data.train.batch(slice(None))[0])
    assert torch.allclose(bn.running_mean, h.mean(0), atol=1e-5)
    hb = h.view(3, 10, -1)
    assert torch.allclose(bn.running_var, hb.var(1, unbiased=True).mean(0), atol=1e-5)
    assert bn.momentum == 0.1 and not model.training          # restored


def test_contour_centre_is_the_solution():
    sb, _, data = toy()
    params = ls.select_params(sb)
    x = ls.get_flat(params)
    d1 = ls.filter_normalized_direction(params, 0)
    d2 = ls.filter_normalized_direction(params, 1)
    c = ls.contour_2d(sb, params, x, d1, d2, [-1.0, 0.0, 1.0], data, 8)
    ref = ls.evaluate(toy()[0], data.train, 8)[0]
    assert c["train_loss"][1][1] == pytest.approx(ref, rel=1e-6)
    assert len(c["train_loss"]) == 3 and len(c["train_loss"][0]) == 3


@pytest.mark.slow
def test_cli_end_to_end_on_a_smoke_pair(tmp_path, checkpoints):
    from lbgap import cli
    from lbgap.core.train import make_config, train

    rd = tmp_path / "res"
    for regime in ("SB", "LB"):
        train(make_config("F1", regime, 0, "smoke", max_epochs=1), rd, progress=False)
    run = make_config("F1", "LB", 0, "smoke").run_id
    assert cli.main(["sharpness", run, "--profile", "smoke", "--results-dir", str(rd), "--eps", "1e-3",
                     "--space", "random", "--p", "5", "--maxiter", "3", "--no-hessian"]) == 0
    rec = records.read_json(records.record_path(rd, "smoke", "sharpness", run))
    assert set(rec["entries"]) == {"random-eps0.001-p5-A0"}   # full space: scipy's bounds set-up is O(n) Python
    e = rec["entries"]["random-eps0.001-p5-A0"]
    assert e["value"] >= 0 and e["nfev"] >= 2 and e["n_params"] == 1_462_794 and e["p"] == 5
    assert cli.main(["landscape", "0", "F1", "--profile", "smoke", "--results-dir", str(rd), "--points", "4",
                     "--parts", "linear", "curvilinear"]) == 0
    df = ls.curves_table(rd, "smoke")
    assert len(df) == 4 * 2 and set(df.split) == {"train", "test"}
    # bad input: a clear error, exit code 2, nothing written
    assert cli.main(["sharpness", "F9-nope", "--profile", "smoke", "--results-dir", str(rd)]) == 2
    assert cli.main(["landscape", "3", "F1", "--profile", "smoke", "--results-dir", str(rd)]) == 2


@pytest.mark.slow
def test_sweep_post_processing_is_found_without_importing_it_first():
    # a fresh interpreter that imports only lbgap.core.sweep: run_grid must find both post-processing steps
    import subprocess
    import sys

    code = ("from lbgap.core import sweep; assert sweep.run_grid([], post=['sharpness', 'landscape']) == []; "
            "import lbgap.measures.sharpness as s, lbgap.measures.landscape as l; "
            "assert sweep.get_post('sharpness') is s.post_pair and sweep.get_post('landscape') is l.post_pair")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_seed_summary_reads_the_curves_at_the_named_points(tmp_path):
    alphas = ls.alpha_grid(-1, 2, 25)
    rows = [dict(alpha=a, train_loss=a * a, test_loss=0.0, train_acc=1.0, test_acc=1.0) for a in alphas]
    line = [dict(t=t, train_loss=abs(t), test_loss=0.0, train_acc=1.0, test_acc=1.0)
            for t in ls.alpha_grid(-1, 1, 21)]
    rec = records.new_record("landscape", net="F1", seed=3, profile="paper", parts=dict(
        linear=dict(rows=rows), filter1d=dict(SB=line, LB=[dict(x, train_loss=5 * x["train_loss"] + 2) for x in line])))
    records.atomic_write_json(records.record_path(tmp_path, "paper", "landscape", "F1-pair-s3"), rec)
    row = ls.seed_summary(records.iter_records(tmp_path, "paper", "landscape")).iloc[0]
    assert row["seed"] == 3 and row["train_loss_am05"] == pytest.approx(0.25)
    assert row["train_loss_a15"] == pytest.approx(2.25) and row["train_loss_a1_lb"] == pytest.approx(1.0)
    assert row["sb_loss_t1_max"] == pytest.approx(1.0)
    assert row["lb_loss_t1_max"] == pytest.approx(7.0)
    assert row["rise_sb"] == pytest.approx(0.25) and row["rise_lb"] == pytest.approx(1.25)
    assert row["sb_rise_t1"] == pytest.approx(1.0) and row["lb_rise_t1"] == pytest.approx(5.0)
    assert row["rise_ratio"] == pytest.approx(5.0) and row["filter_rise_ratio"] == pytest.approx(5.0)
    # a flat SB side (no rise beyond SB) has no ratio, rather than a division error
    flat = [dict(x, train_loss=0.0) if x["alpha"] < 0.5 else x for x in rows]
    row = ls.seed_summary([dict(rec, parts=dict(linear=dict(rows=flat)))]).iloc[0]
    assert math.isnan(row["rise_ratio"]) and "filter_rise_ratio" not in row
    # the chapter's choice of records: each network from the first profile that has any
    for prof, net, seed in (("quick", "F1", 0), ("quick", "C1", 0), ("quick", "C1", 1)):
        records.atomic_write_json(records.record_path(tmp_path, prof, "landscape", f"{net}-pair-s{seed}"),
                                  dict(rec, net=net, seed=seed, profile=prof))
    chosen = records.preferred_records(tmp_path, ("paper", "quick"), "landscape")
    assert sorted((r["net"], r["profile"], r["seed"]) for r in chosen) == [
        ("C1", "quick", 0), ("C1", "quick", 1), ("F1", "paper", 3)]
    assert list(ls.seed_summary(chosen).profile) == ["quick", "quick", "paper"]


def test_examples_words_reads_the_recorded_rule_and_knows_the_old_default():
    new = dict(train_examples=20000, train_subset="spread", test_examples=50000, test_subset="spread")
    assert ls.examples_words(new) == "20,000 training examples spread evenly, 50,000 test examples spread evenly"
    # parts written before the rule was stored (schema 1, upgraded on read): the code then took the first N and
    # the whole test set
    old = records.upgrade(dict(schema=1, kind="landscape", parts=dict(
        linear=dict(train_examples=2000, test_examples=5000), contour=dict(train_examples=1000))))["parts"]
    assert ls.examples_words(old["linear"]) == "the first 2,000 training examples, the whole test set"
    assert ls.examples_words(old["contour"]) == "the first 1,000 training examples"


def test_table2_records_leave_variant_pairs_out():
    recs = [records.upgrade(dict(schema=1, kind="landscape", run_id="a")),   # before tags: a Table 2 pair
            records.new_record("landscape", run_id="b", tag=""), records.new_record("landscape", run_id="c", tag="uncapped")]
    assert [r["run_id"] for r in ls.table2_records(recs)] == ["a", "b"]
