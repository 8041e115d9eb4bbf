"""The readings that replaced typed prose: each prints the records' numbers, takes its words from a rule in
``lbgap.book.claims`` and names how each λ_max was computed (committed records, and hand-made frames)."""
from __future__ import annotations

import pandas as pd
import pytest

from lbgap.book import claims
from lbgap.book.context import context


@pytest.fixture(scope="module")
def book():
    return context("results", None, seeds="0-4", nets="F1,F2,C1,C2,C3,C4")


def _has_records(ctx, fn) -> bool:
    try:
        return bool(fn(ctx))
    except (StopIteration, KeyError):
        return False


def test_cap_reading_takes_its_words_from_the_rules_and_labels_each_lambda_max(book):
    from lbgap.book import cap_check

    lines = cap_check.cap_reading(book)
    if not lines:
        pytest.skip("no cap check among the committed records")
    text = " ".join(lines)
    assert "F1 Table 2" in text and "F1 50-epoch variant" in text          # both run sets, from the registry
    gaps = cap_check.cap_table(book)
    cap = claims.effect(claims.by_seed(gaps[gaps.budget.str.contains("Table 2")], "gap_pt"),
                        claims.by_seed(gaps[gaps.budget.str.contains("variant")], "gap_pt"), "cap",
                        up="the gap grows without the cap", down="the gap shrinks without the cap")
    assert cap.words() in text                                             # the verdict is the rule's
    hess = next(x for x in lines if "Hessian" in x)
    assert "λ_max by power iteration" in hess and "not converged" in hess  # every entry's method, the cap named


def test_eval_order_reading_prints_both_gaps():
    from lbgap.book.sb_vs_lb import eval_order_reading

    rows = [dict(net="F2", regime=r, seed=0, set=s, **{"acc_pct_stored": f"{a:.2f}",
                                                       "acc_pct_interleaved": f"{a + d:.2f}"})
            for r, s, a, d in (("SB", "test", 22.0, 0.5), ("LB", "test", 19.0, 0.2), ("SB", "train", 40.0, 8.0))]
    line = eval_order_reading(pd.DataFrame(rows))[0]
    assert "SB − LB test gap 3.00 points in stored-order batches, 3.30 interleaved" in line
    assert "SB's train − test gap 18.00 and 25.50" in line


def test_recommendations_quote_the_fit_and_the_lr_trend_rule():
    from lbgap.book import batch_vs_iterations as bvi

    ctx = context("results", None, seeds="0-2", nets="F1")
    if bvi.runs(ctx).empty:
        pytest.skip("no steps-to-target records")
    text = " ".join(bvi.recommendation_lines(ctx))
    f = bvi.fits(ctx)[0]["adam"]
    assert f"B_crit = {f['b_crit']:,.0f} ± {f['b_crit_se']:,.0f}" in text
    assert ("grows with B (Spearman" in text) or ("no trend resolved" in text) or ("falls with B" in text)
    assert "idle" not in text and "shared with other jobs" not in text   # no record stores the host load


def test_remedies_details_print_the_rules_words(book):
    from lbgap.book import remedies

    lines = remedies.detail_lines(book)
    if not lines:
        pytest.skip("no conservative-training records")
    k = remedies.conservative(book)
    assert k["conservative"].words() in lines[0] and "F1 50-epoch variant" in lines[0]
    if "proximal" in k:
        assert k["proximal"].words() in " ".join(lines)


def test_the_hessian_tables_name_each_lambda_max_method(book, monkeypatch):
    from lbgap.book import sharpness, style, tuned_lr

    shown = {}

    def grab(df, caption, uuid, wrap=(), labels=None):
        shown[uuid] = style.labelled(df, labels)           # as the reader sees it: display labels
        from IPython.display import HTML

        return HTML("")

    monkeypatch.setattr(style, "styled", grab)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    sharpness.show_hessian(book)
    if "hessian" not in shown:
        pytest.skip("no Hessian entries")
    t = shown["hessian"]
    counts = t["λ_max method"].str.findall(r"\((\d+)\)").map(lambda v: sum(map(int, v)))
    assert (counts == t["n"]).all()                        # every seed's entry is labelled
    assert t["λ_max method"].str.contains("power iteration").all()
    tuned_lr.show_final(context("results", None, seeds="0-4", nets="F1"))
    if "tlr-final" in shown:
        f = shown["tlr-final"]
        measured = f["λ_max"] != "—"
        assert f.loc[measured, "λ_max method"].str.startswith(("power iteration", "Lanczos")).all()


@pytest.mark.parametrize("chapter", ["threshold", "warmstart", "trajectory"])
def test_figure_shape_lines_read_the_runs(chapter):
    import importlib

    m = importlib.import_module(f"lbgap.book.{chapter}")
    ctx = context("results", None, seeds="0-4", nets="F1")
    df = m.iterates(ctx) if chapter == "trajectory" else m.runs(ctx)
    if df.empty:
        pytest.skip("no records of this figure")
    text = " ".join(m.shape_lines(ctx))
    if chapter == "threshold":
        acc = df.groupby("batch_size").test_acc.mean()
        assert f"{acc.iloc[0]:.2f} % at B = {acc.index[0]:,}" in text
    elif chapter == "warmstart":
        acc = df.groupby("warm_epoch").lb_test_acc.mean()
        assert f"k = {acc.index[-1]}: {acc.iloc[-1]:.2f}" in text and "paired by seed" in text
    else:
        assert "nearest LB iterate" in text and "at x0" in text


def test_record_tables_have_snake_case_columns_and_labels_for_display(book):
    """Tables are read by fixed snake_case columns; their display labels live in one dict per module and are
    applied only when shown (style.show(labels=))."""
    import re

    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.book import cap_check, front, measure_model, reproducibility, sharpness, status
    from lbgap.core import records
    from lbgap.measure import advice
    from lbgap.measures import landscape
    from lbgap.measures import sharpness as sharp
    from lbgap.studies import eval_order

    snake = re.compile(r"^[a-z0-9_]+$")
    cap = cap_check.cap_table(book)
    tables = {"cap_table": cap, "cap_summary": cap_check.cap_summary(cap), "headline": front.headline(book),
              "scorecard": front.scorecard(book), "status": status.status(book),
              "sharpness.verdicts": sharpness.verdicts(book, 3), "bench_summary": reproducibility.bench_summary(book),
              "calibration": measure_model.calibration(context("results", None, seeds="0", nets="F1")),
              "seed_summary": landscape.seed_summary(landscape.table2_records(front._records(book, "landscape"))),
              "rerun_table": reproducibility.rerun_table(book),
              "sharpness.summary": sharp.summary(sharpness.entries(book)),
              "eval_order_table": eval_order.eval_order_table(
                  records.preferred_records(book.results_dir, book.record_profiles, "evalorder")),
              "tradeoff_table": advice.tradeoff_table(1000.0, (500.0, 2000.0))}
    assert sum(len(t) > 0 for t in tables.values()) >= 8, "too few of these tables have committed records"
    bad = {name: [c for c in t.columns if not snake.match(str(c))] for name, t in tables.items()}
    assert not any(bad.values()), bad
    for labels in (cap_check.CAP_LABELS, front.HEADLINE_LABELS, status.STATUS_LABELS, front.scorecard_labels(),
                   sharpness.VERDICT_LABELS, reproducibility.LABELS, reproducibility.RERUN_LABELS,
                   measure_model.CALIBRATION_LABELS, landscape.LABELS, eval_order.LABELS, advice.TRADEOFF_LABELS,
                   bvi.LABELS):
        assert all(snake.match(k) for k in labels)
    assert set(tables["scorecard"].columns) - {"network"} == set(front.scorecard_labels())
    assert set(tables["cap_table"].columns) - {"net", "seed", "budget"} == set(cap_check.CAP_LABELS)
    assert set(tables["tradeoff_table"].columns) == set(advice.TRADEOFF_LABELS)
    eo = tables["eval_order_table"]
    assert eo.empty or set(eo.columns) - {"net", "regime", "seed", "profile", "set"} == set(eval_order.LABELS)
    assert "lb_sb" in tables["sharpness.summary"]


def test_machine_states_read_f1s_runs_only(tmp_path):
    # C1's steps records share F1's keys (optimizer, B, lr, seed): a loaded C1 run must not mark F1's run as shared
    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.core import records

    cfg = dict(optimizer="adam", batch_size=512, lr=1e-3, seed=0)
    for net, load in (("F1", [0.1, 0.1, 0.1]), ("C1", [2.0, 2.0, 2.0])):
        records.write_record(tmp_path, "quick", "steps", f"{net}-run", config=dict(cfg, net=net),
                             provenance=dict(host_load_start=load, host_load_end=load, host_cores=2))
    assert bvi.machine_states(context("results", tmp_path, seeds="0", nets="F1")) == {("adam", 512, 1e-3, 0): "idle"}
