"""lbgap.book.front: the front page's headline and scorecard, ours beside the paper's, on hand-made records."""
from __future__ import annotations

import dataclasses

import pytest
from book_records import sharpness_record, three_f1_pairs, train_record

from lbgap.book import claims, front, status
from lbgap.book.coverage import MISSING_REASON
from lbgap.core import records
from lbgap.measures import landscape


def _head(verdict: str) -> str:
    """The front page's Table 2 head for ``verdict`` (claims.PHRASES, rule "paired gap vs paper")."""
    return claims.PHRASES["paired gap vs paper: head"][verdict].format(net="F1")


@pytest.fixture
def ctx(tmp_path):
    return three_f1_pairs(tmp_path)


def test_headline_sets_our_gap_beside_the_papers(ctx):
    h = front.headline(ctx).set_index("network")
    assert h.loc["F1", "ours_gap_pt"] == "3.00" and h.loc["C3", "ours_gap_pt"] == "—"


def test_scorecard_puts_each_claim_beside_the_papers(ctx, tmp_path):
    # phi: full space SB 2 / LB 10 (ratio 5), random SB 1 / LB 3 (3); no summed-objective entries
    for s in (0, 1):
        sharpness_record(tmp_path, "F1", "SB", s, {("full", "mean"): 2.0, ("random", "mean"): 1.0})
        sharpness_record(tmp_path, "F1", "LB", s, {("full", "mean"): 10.0, ("random", "mean"): 3.0})
    # Figure 3 line: train loss alpha^2 -> rise 0.25 beyond SB, 1.25 beyond LB (ratio 5); filter-normalised
    # lines |t| (SB) and 4|t| + 2 (LB) -> rises 1 and 4
    alphas = landscape.alpha_grid(-1, 2, 25)
    rows = [dict(alpha=a, train_loss=a * a, test_loss=0.0, train_acc=1.0, test_acc=1.0) for a in alphas]
    line = [dict(t=t / 10, train_loss=abs(t / 10), test_loss=0.0, train_acc=1.0, test_acc=1.0) for t in range(-10, 11)]
    lb_line = [dict(x, train_loss=4 * x["train_loss"] + 2) for x in line]
    records.atomic_write_json(records.record_path(tmp_path, "paper", "landscape", "F1-pair-s0"),
                              dict(kind="landscape", net="F1", seed=0, profile="paper",
                                   parts=dict(linear=dict(rows=rows), filter1d=dict(SB=line, LB=lb_line))))
    # Table 7: conservative LB of seed 0 tests at 97 % against that seed's plain LB at 95 % -> +2.00
    train_record(tmp_path, "F1", "LB", 0, 1.0, 0.97, 10.0)
    cons = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b6000-s0")
    rec = records.read_json(cons)
    rec["run_id"] += "-conservative"
    rec["config"]["tag"] = "conservative"
    records.atomic_write_json(cons.with_name(rec["run_id"] + ".json"), rec)
    train_record(tmp_path, "F1", "LB", 0, 1.0, 0.95, 10.0)   # the plain LB record as the fixture wrote it
    card = front.scorecard(ctx).set_index("network")
    f1 = card.loc["F1"]
    assert f1["conservative_pt"] == "+2.00 (n=1) / +0.31"   # 98.12 - 97.81
    assert card.loc["C3", "conservative_pt"] == "— / -0.47"
    assert f1["gap_pt"] == "3.00 (n=3, 95 % CI +3.00 … +3.00) / 0.22"   # 3.00 on every seed
    assert f1["phi_table3"] == "5 (n=2) / 167"   # paper: 205.14 / 1.23
    assert f1["phi_table3_sum"] == "— / 167"
    assert f1["phi_table4"] == "3 (n=2) / 84"
    assert f1["rise_ratio"] == "5 (n=1)" and f1["filter_rise_ratio"] == "4 (n=1)"
    assert card.loc["C3", "gap_pt"] == "— / 3.13"
    assert card.loc["C3", "our_runs"] == MISSING_REASON["C3"] and card.loc["C3", "rise_ratio"] == "—"


def test_status_has_a_row_per_paper_table_and_figure_and_counts_from_the_records(ctx, tmp_path):
    assert status.status(ctx) is status.status(ctx)   # the first screen's line and the table: one computation
    st = status.status(ctx).set_index("item")
    for k in range(1, 8):
        assert sum(i.split(" ")[:2] == ["Table", str(k)] for i in st.index) == 1, f"Table {k}"
        assert sum(i.split(" ")[:2] == ["Figure", str(k)] for i in st.index) == 1, f"Figure {k}"
    t2 = st.loc["Table 2 SB vs LB accuracy"]
    assert (t2.seeds, t2.networks_by_profile, t2.status) == ("3", "paper: F1", "partly")
    assert t2.f1_ours_paper == "3.00 / 0.22 pt (F1 50-epoch variant)"   # the cell names its run set
    t7 = st.loc["Table 7 conservative"]
    assert (t7.status, t7.seeds, t7.networks_by_profile) == ("not run", "—", "—")
    # one conservative LB run of seed 4 (no plain LB of that seed): Table 7 has records, counted, but no number
    path = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b6000-s0")
    rec = records.read_json(path)
    rec["run_id"], rec["config"]["tag"], rec["config"]["seed"] = "F1-s4-conservative", "conservative", 4
    records.atomic_write_json(path.with_name(rec["run_id"] + ".json"), rec)
    st = status.status(dataclasses.replace(ctx)).set_index("item")   # a page reads its records once: a new page
    t7 = st.loc["Table 7 conservative"]
    assert (t7.status, t7.seeds, t7.networks_by_profile, t7.f1_ours_paper) == ("partly", "1", "paper: F1", "—")
    assert st.loc["Table 2 SB vs LB accuracy"].seeds == "3"   # the conservative run is not a Table 2 run
    assert st.loc["Figure 4 batch sweep"].status == "not run" and st.loc["Table 5"].chapter == ""
    assert "Table 6 augmentation" in status.status_notes()


def test_answer_quotes_the_records_and_skips_what_is_missing(ctx):
    lines = front.answer_lines(ctx)
    assert len(lines) == 1 and "gap SB − LB paired by seed sign reproduced: +3.00 pt (n = 3" in lines[0]
    assert "(the paper: 0.22)" in lines[0] and lines[0].startswith("**On F1 LB tests below SB, as in the paper")
    assert front.answer_numbers(ctx)["steps"] is None   # no steps-to-target records here


def test_answer_flips_with_contrary_records_and_is_unresolved_with_one_seed(tmp_path):
    from lbgap.book.context import context

    for s, (a, b) in enumerate([(0.95, 0.98), (0.96, 0.99), (0.97, 1.00)]):   # LB above SB on every seed
        train_record(tmp_path, "F1", "SB", s, 1.0, a, 30.0)
        train_record(tmp_path, "F1", "LB", s, 1.0, b + 0.001 * s, 10.0)
    line = front.answer_lines(context("results", tmp_path, seeds="0-4", nets="F1"))[0]
    assert line.startswith("**" + _head("reversed")) and "n = 3" in line
    one = context("results", tmp_path, seeds="0", nets="F1")
    line = front.answer_lines(one)[0]
    assert line.startswith("**" + _head("unresolved")) and "unresolved (n = 1, no interval" in line


def test_mean_loss_sharpness_is_labelled_a_solver_stall(ctx, tmp_path):
    for s in (0, 1, 2):
        sharpness_record(tmp_path, "F1", "SB", s, {("full", "mean"): 2.0 + s, ("full", "sum"): 2.0 + s})
        sharpness_record(tmp_path, "F1", "LB", s, {("full", "mean"): 0.01, ("full", "sum"): 200.0 + s})
    for p in (tmp_path / "paper" / "sharpness").glob("*.json"):   # the mean-loss maximisation barely left y = 0
        rec = records.read_json(p)
        for e in rec["entries"].values():
            e["at_bound"] = 0.001 if e["objective"] == "mean" else 0.9
        records.atomic_write_json(p, rec)
    card = front.scorecard(ctx).set_index("network").loc["F1"]
    assert card["phi_table3"].endswith("(solver stall)")
    assert "stall" not in card["phi_table3_sum"]
    text = " ".join(front.answer_lines(ctx))
    assert "LB's minimiser is sharper" in text and "is a solver stall, not a measure" in text


def test_status_line_counts_table_2s_seeds_beside_the_seeds_trained():
    # F2's committed quick runs: 4 seeds trained, Table 2 averages the 3 evaluated in stored-order batches
    from lbgap.book import status
    from lbgap.book.context import context
    from lbgap.book.sb_vs_lb import table2_runs

    ctx = context("results", None, "auto", "0-4", "F1,F2,C1,C2,C3,C4")
    kept, _ = table2_runs(ctx)
    used = kept[kept.net == "F2"].seed.nunique()
    if not used:
        pytest.skip("F2's quick records are not in this checkout")
    line = status.status_line(ctx)
    trained = {k[2] for k in status._record_keys(ctx, "train", "") if k[:2] == ("quick", "F2")}
    want = f"{used} seeds" if used == len(trained) else f"{used} seeds in Table 2 of {len(trained)} trained"
    assert f"F2 ({want})" in line or f"F2, {want}" in line


def test_advise_records_count_under_their_networks_name_only(tmp_path):
    # the status row's advise networks come from the book's record names, not from the first word of any name
    from lbgap.book import measure_model, status
    from lbgap.book.context import context
    from lbgap.core import records

    for name in (measure_model.advise_record_name("C1"), "resnet18-cifar10-adam"):
        records.write_record(tmp_path, "quick", "advise", name, provenance={}, b_simple=100.0)
    ctx = context("results", tmp_path, "auto", "0", "F1,C1")
    keys = status._record_keys(ctx, "advise", None)
    assert {k[1] for k in keys} == {"C1"}
    assert measure_model.advised_net(measure_model.advise_record_name("F1")) == "F1"
    assert measure_model.advised_net("F1-mnist-sgd-b256-s0") is None
