"""lbgap.book.sb_vs_lb: Table 2 statistics, verdicts, the distance ratio, missing rows, learning curves and the
epoch-cap comparison, on hand-made records whose answers are known (mean/std by hand), so the book's numbers are
checked independently of any training."""
from __future__ import annotations

import math

import pytest
from book_records import sharpness_pair_record, three_f1_pairs, train_record

from lbgap.book import cap_check, sb_vs_lb
from lbgap.book.context import context
from lbgap.core import records


@pytest.fixture
def ctx(tmp_path):
    return three_f1_pairs(tmp_path)


def test_table2_mean_std_gap_and_verdict(ctx):
    nums = sb_vs_lb.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "test_acc"] == pytest.approx(99.0) and nums.loc["SB", "test_acc_std"] == pytest.approx(1.0)
    assert nums.loc["LB", "test_acc"] == pytest.approx(96.0) and nums.loc["LB", "capped"] == 1
    t2 = sb_vs_lb.table2(ctx)
    ours = t2.iloc[0]
    assert ours["runs"] == "ours: paper (n=3/3)"
    assert ours["test SB"] == "99.00 ± 1.00" and ours["test LB"] == "96.00 ± 1.00" and ours["gap SB−LB"] == "3.00"
    # gap 3.00 on every seed (paired by seed): above 0, far from the paper's 0.22
    assert ours["verdict"].startswith("gap's sign reproduced, not its size: +3.00 pt (n = 3, 95 % CI +3.00 … +3.00 pt)")
    assert "epoch cap" in ours["verdict"]
    assert t2.iloc[1]["test SB"] == "98.03 ± 0.07"  # the paper's row, from data/paper/table2.csv
    assert t2.iloc[2]["verdict"].startswith("no records yet")


def test_verdict_words_follow_the_paired_claim():
    from lbgap.book import claims

    sb = dict(n=5, test_acc=98.0, test_acc_std=0.1, capped=0)
    lb = dict(n=5, test_acc=98.0, test_acc_std=0.1, capped=0)
    a = {s: 98.0 + 0.1 * (s % 2) for s in range(5)}
    noise = claims.gap_vs_paper(a, {s: 98.0 + 0.1 * ((s + 1) % 2) for s in range(5)}, 0.22)
    assert sb_vs_lb.verdict("F1", sb, lb, 0.22, noise).startswith("gap unresolved (n = 5, 95 % CI −")
    flipped = claims.gap_vs_paper({s: v - 0.5 for s, v in a.items()}, a, 0.22)
    assert sb_vs_lb.verdict("F1", sb, dict(lb, test_acc=98.5), 0.22, flipped).startswith("gap reversed: LB better")
    assert sb_vs_lb.verdict("F2", sb, dict(lb, test_acc=97.0), 4.57, noise).endswith("not the accuracies")
    one = claims.gap_vs_paper({0: 98.0}, {0: 97.0}, 0.22)
    assert sb_vs_lb.verdict("F1", dict(sb, n=1), lb, 0.22, one).startswith("n = 1 paired seed: no verdict yet")
    # a quick-profile row (5 epochs, LB far fewer steps) is never called the paper's gap
    big = claims.gap_vs_paper({s: v + 33 for s, v in a.items()}, {s: v - 0.01 * s for s, v in a.items()}, 2.78)
    q = sb_vs_lb.verdict("C1", dict(sb, profile="quick", epochs=5, steps=880), dict(lb, test_acc=65.0, steps=50), 2.78,
                         big)
    assert q.startswith("SB ahead after equal epochs: +33.02 pt") and "SB 880 steps, LB 50" in q
    assert "reproduced" not in q


def test_distance_ratio_missing_rows_and_curves(ctx):
    d = sb_vs_lb.distance_table(ctx).iloc[0]
    assert d["ratio SB/LB"] == "4.00 ± 1.00" and d["range"] == "3.00–5.00" and d["within 3–10"] == "yes"
    missing = sb_vs_lb.missing_rows(ctx)
    assert "F1 SB: seeds 3,4 missing." in missing and any(m.startswith("C3: no records") for m in missing)
    curves = sb_vs_lb.curves(ctx, first_epoch=1)
    assert curves.epoch.min() == 1 and len(curves) == 6 * 10 * 2  # 6 runs x 10 epochs x {train, test}


def test_a_table2_row_averages_records_of_one_evaluation_order(ctx, tmp_path):
    """Seed 3 evaluated in interleaved batches joins three stored-order seeds: the row keeps the three and says
    why seed 3 is out; once most of the network's records are interleaved, its rows keep those instead."""
    for regime in ("SB", "LB"):
        train_record(tmp_path, "F1", regime, 3, 1.0, 0.5, 10.0, eval_order="interleaved")
    nums = sb_vs_lb.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "n"] == 3 and nums.loc["SB", "test_acc"] == pytest.approx(99.0)
    missing = sb_vs_lb.missing_rows(ctx)
    assert ("F1 SB: seed 3 left out: evaluated in interleaved batches, the row's other records in stored-order "
            "ones (`lbgap eval-order` measures both).") in missing and "F1 LB: seed 4 missing." in missing
    assert sorted(sb_vs_lb.curves(ctx).seed.unique()) == [0, 1, 2]   # Figure 2 shows the seeds Table 2 averages
    for s in (0, 1):   # now most of F1's records are interleaved: SB and LB rows both keep those (one protocol
        for regime, acc in (("SB", 0.6), ("LB", 0.4)):   # per network, or the gap would compare two)
            train_record(tmp_path, "F1", regime, s, 1.0, acc, 10.0, eval_order="interleaved")
    nums = sb_vs_lb.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "seeds"] == "0,1,3" and nums.loc["SB", "test_acc"] == pytest.approx(100 * (0.6 + 0.6 + 0.5) / 3)
    assert nums.loc["LB", "seeds"] == "0,1,3" and nums.loc["LB", "test_acc"] == pytest.approx(100 * (0.4 + 0.4 + 0.5) / 3)
    assert "F1 SB: seed 2 left out: evaluated in stored-order batches, the row's other records in interleaved ones " \
           "(`lbgap eval-order` measures both)." in sb_vs_lb.missing_rows(ctx)


def test_quick_and_f2_rows_carry_their_caveats():
    sb = dict(n=1, test_acc=30.0, test_acc_std=float("nan"), capped=1, profile="quick", epochs=5, steps=21605.0)
    from lbgap.book import claims

    v = sb_vs_lb.verdict("F2", sb, dict(sb, test_acc=10.0, steps=55.0), 4.57, claims.gap_vs_paper({0: 30.0}, {0: 10.0}, 4.57))
    assert v.startswith("n = 1 paired seed: no verdict yet") and "stand-in data" in v and "epoch cap" in v
    assert "quick profile: 5 epochs, far from converged (SB 21,605 steps, LB 55)" in v


def test_cap_table_sets_a_capped_pair_beside_its_uncapped_twin(ctx, tmp_path):
    # seed 1 of the fixture (SB 0.99, LB 0.96) was capped at 50 epochs; its uncapped twin ran under the profile's caps
    for regime, bs, acc, epochs, stop in (("SB", 256, 0.985, 80, "plateau"), ("LB", 6000, 0.97, 300, "max_epochs")):
        path = records.record_path(tmp_path, "paper", "train", f"F1-mnist-official-b{bs}-s1")
        orig = records.read_json(path)
        orig["config"]["max_epochs"] = 50
        records.atomic_write_json(path, orig)
        twin = dict(orig, run_id=orig["run_id"] + "-uncapped", epochs=epochs, stop_reason=stop,
                    config=dict(orig["config"], tag="uncapped", max_epochs=100 if regime == "SB" else 300),
                    final=dict(orig["final"], test_acc=acc))
        records.atomic_write_json(path.with_name(twin["run_id"] + ".json"), twin)
        sharpness_pair_record(tmp_path, orig["run_id"], regime, 1, "", 10.0 if regime == "SB" else 50.0, 0.1)
        sharpness_pair_record(tmp_path, twin["run_id"], regime, 1, "uncapped", 5.0 if regime == "SB" else 100.0, 0.2)
    # a twin whose original differs in more than its cap (another learning rate) is left out
    path = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b256-s2")
    odd = records.read_json(path)
    odd["config"]["max_epochs"] = 50
    records.atomic_write_json(path, odd)
    odd.update(run_id=odd["run_id"] + "-uncapped", config=dict(odd["config"], tag="uncapped", lr=0.1, max_epochs=100))
    records.atomic_write_json(path.with_name(odd["run_id"] + ".json"), odd)
    # Figure 3 of the capped pair: the loss climbs 0.3 beyond x_LB and 0.1 beyond x_SB -> 3x; the twin has none
    rows = [dict(alpha=a, train_loss=loss) for a, loss in ((-0.5, 0.2), (0.0, 0.1), (1.0, 0.1), (1.5, 0.4))]
    records.atomic_write_json(records.record_path(tmp_path, "paper", "landscape", "F1-mnist-official-b256-b6000-s1"),
                              dict(kind="landscape", run_id="F1-mnist-official-b256-b6000-s1", net="F1", seed=1,
                                   profile="paper", parts=dict(linear=dict(rows=rows))))
    t = cap_check.cap_table(ctx)
    assert len(t) == 2 and set(t.seed) == {1}
    assert t.iloc[0]["rise_ratio"] == pytest.approx(3.0) and math.isnan(t.iloc[1]["rise_ratio"])
    capped, full = t.iloc[0], t.iloc[1]
    assert capped["budget"] == "cap 50/50 (variant)"
    assert full["budget"] == "paper caps 100/300 (Table 2)"
    assert full["epochs_sb_lb"] == "80 / 300" and full["stopped_sb_lb"] == "plateau / cap"
    assert capped["gap_pt"] == pytest.approx(3.0) and full["gap_pt"] == pytest.approx(1.5)
    assert capped["lb_sb_phi_full"] == pytest.approx(5.0) and full["lb_sb_phi_full"] == pytest.approx(20.0)
    assert full["lb_sb_phi_random"] == pytest.approx(1.0)
    assert cap_check.cap_table(context("results", tmp_path / "none")).empty


def test_cap_summary_averages_gaps_and_takes_ratios_of_means():
    """Ratios over seeds are mean(LB) / mean(SB) (context.lb_over_sb), the definition every page uses."""
    import pandas as pd

    nan = float("nan")
    rows = [dict(net="F1", seed=s, budget=b, test_acc_sb=sb, test_acc_lb=lb, gap_pt=sb - lb, phi_full_sb=fs,
                 phi_full_lb=fl, phi_random_sb=1.0, phi_random_lb=rl, rise_sb=rs, rise_lb=rl2)
            for s, b, sb, lb, fs, fl, rl, rs, rl2 in ((0, "capped", 98.0, 97.0, 1.0, 2.0, 1.0, 0.1, 1.0),
                                                      (0, "uncapped", 98.0, 97.5, 1.0, 4.0, 3.0, nan, nan),
                                                      (1, "capped", 99.0, 97.0, 3.0, 6.0, 5.0, 0.3, 9.0),
                                                      (1, "uncapped", 98.5, 98.5, 1.0, 16.0, 3.0, 0.5, 20.0))]
    s = cap_check.cap_summary(pd.DataFrame(rows)).set_index("budget")
    assert list(s.index) == ["capped", "uncapped"] and s.loc["capped", "seeds"] == "0, 1"
    assert s.loc["capped", "gap_pt"] == pytest.approx(1.5) and s.loc["capped", "gap_sd"] == pytest.approx(0.5 ** 0.5)
    assert s.loc["uncapped", "test_acc_sb"] == pytest.approx(98.25) and s.loc["uncapped", "gap_pt"] == pytest.approx(0.25)
    assert s.loc["capped", "lb_sb_phi_full"] == pytest.approx(4.0 / 2.0)      # mean 4 over mean 2, not mean(2, 2)
    assert s.loc["uncapped", "lb_sb_phi_full"] == pytest.approx(10.0)
    assert s.loc["capped", "lb_sb_phi_random"] == pytest.approx(3.0)
    # a seed without a Figure 3 record is left out of that mean, not counted as zero
    assert s.loc["capped", "rise_ratio"] == pytest.approx(5.0 / 0.2)
    assert s.loc["uncapped", "rise_ratio"] == pytest.approx(40.0)


def test_one_definition_of_a_ratio_over_seeds():
    """lb_over_sb is the ratio of the means (seeds with both values) and agrees with Table 3's LB/SB column."""
    from lbgap.book.context import lb_over_sb

    assert lb_over_sb([2.0, 6.0], [1.0, 3.0]) == pytest.approx(2.0)
    assert lb_over_sb([10.0, 1000.0], [1.0, 1.0]) == pytest.approx(505.0)   # not the geometric mean (100)
    assert lb_over_sb([1.0, float("nan")], [2.0, 5.0]) == pytest.approx(0.5)
    assert math.isnan(lb_over_sb([float("nan")], [1.0]))


def test_uncapped_runs_lead_table2_and_the_capped_ones_follow_as_the_variant(ctx, tmp_path):
    """Where every seed's SB and LB were also trained under the paper profile's caps (tag "uncapped"), Table 2's
    first "ours" row averages those, the untagged runs follow as the variant row; Figure 2 and the distances
    use the same runs."""
    import json

    for path in sorted((tmp_path / "paper" / "train").glob("*.json")):
        rec = json.loads(path.read_text())
        twin = dict(rec, run_id=rec["run_id"] + "-uncapped",
                    config=dict(rec["config"], tag="uncapped", max_epochs=300 if rec["config"]["regime"] == "LB" else 100),
                    final=dict(rec["final"], test_acc=rec["final"]["test_acc"] - 0.01))
        records.atomic_write_json(path.with_name(twin["run_id"] + ".json"), twin)
    t2 = sb_vs_lb.table2(ctx)
    lead, variant = t2.iloc[0], t2.iloc[1]
    assert lead["runs"] == "ours: paper protocol (n=3/3)" and lead["test SB"] == "98.00 ± 1.00"
    assert variant["runs"] == "ours: paper, variant (n=3/3)" and variant["test SB"] == "99.00 ± 1.00"
    assert variant["verdict"].startswith("variant: ")
    assert t2.iloc[2]["runs"] == "paper (n=5)"
    assert set(sb_vs_lb.train_runs(ctx).tag) == {"uncapped"}


def test_figure2_check_tells_a_peak_then_decay_from_noise(ctx, tmp_path):
    """peak_then_decay: SB curves that climb to 60 % at epoch 5 and fall to 50 % at epoch 10 decay (drop 10 points,
    no seed spread, no jitter); LB curves that only climb peak at their last epoch ("rising")."""
    import json

    for path in sorted((tmp_path / "paper" / "train").glob("*b256*.json")):
        rec = json.loads(path.read_text())
        for h in rec["history"]:
            e = h["epoch"]
            h["test_acc"] = 0.6 * e / 5 if e <= 5 else 0.6 - 0.02 * (e - 5)
        records.atomic_write_json(path, rec)
    t = sb_vs_lb.peak_then_decay(ctx).set_index("regime")
    assert t.loc["SB", "peak"] == pytest.approx(60.0) and t.loc["SB", "final"] == pytest.approx(50.0)
    assert t.loc["SB", "drop"] == pytest.approx(10.0) and t.loc["SB", "peak_epochs"] == [5, 5, 5]
    assert t.loc["SB", "decays"] and not t.loc["SB", "rising"]
    assert t.loc["LB", "rising"] and not t.loc["LB", "decays"]
    (line,) = sb_vs_lb.figure2_reading(ctx)
    assert line.startswith("**F1**: SB peaks, then falls (peak 60.00 % at epoch 5, final 50.00 % at epoch 10")
    assert "does not hold here" in line
