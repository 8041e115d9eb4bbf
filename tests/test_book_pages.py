"""The pages a reader scans: the front page's first screen (answer scoped to what was tested, one-line status
from the status table), the verdict box at each chapter's opening, and the chapter on the literature after
Keskar et al. (each row read from the committed records)."""
from __future__ import annotations

import pandas as pd
import pytest

from lbgap.book import after_keskar, boxes, front, status
from lbgap.book.context import context


@pytest.fixture(scope="module")
def ctx():
    return context("results")


def test_net_ranges():
    assert status._net_ranges(["C4", "C2", "C3", "F2"]) == "C2–C4, F2"
    assert status._net_ranges(["C1", "C2"]) == "C1, C2"
    assert status._net_ranges(["F1"]) == "F1"


def test_status_line_follows_the_status_table(ctx):
    """A status table whose Table 2 row lists F1 under the paper profile and C1 under the quick one, with Table 6
    not run, gives exactly those words; networks with no Table 2 records are "not run"."""
    t = pd.DataFrame([
        {"item": "Table 2 SB vs LB accuracy", "status": "partly", "networks_by_profile": "paper: F1; quick: C1",
         "seeds": 5},
        {"item": "Table 6 augmentation", "status": "not run", "networks_by_profile": "—", "seeds": "—"},
        {"item": "Table 5", "status": "not run", "networks_by_profile": "—", "seeds": "—"}])
    line = status.status_line(ctx, table=t)
    assert line.startswith("At the paper's protocol: F1, ")
    assert "Short runs (5 epochs): C1, " in line
    assert line.endswith("Not run: C2–C4, F2, Table 6.")
    assert "Table 5" not in line


def test_first_screen_is_scoped_and_read_from_records(ctx):
    a = front.answer_numbers(ctx)
    md = status.show_first_screen(ctx).data
    if a.get("gap") and a["gap"]["claim"] is not None:
        c = a["gap"]["claim"]
        assert c.estimate.interval_words(2, "pt") in md and f"{c.numbers['paper']:.2f}" in md
    assert "F1 (MNIST" in md and "not tested here" in md and "**Status:** At the paper's protocol" in md


def test_verdict_box_reads_the_chapters_functions(ctx):
    from lbgap.book import sharpness

    md = boxes.show(ctx, "sharpness").data
    v = sharpness.verdicts(ctx, 4)
    for _, r in v[v.eps.isin(["1e-3", "0.001", 1e-3])].iterrows():
        assert f"Table 4, <strong>{r.network}</strong> ε = {r.eps}: LB/SB {r.ours_lb_sb_ci}" in md
    assert "Verdicts of this chapter" in md and "admonition" in md


def test_interval_rule():
    assert after_keskar.interval_word(0.1, 0.5, 8, "agrees", "disagrees") == "agrees"
    assert after_keskar.interval_word(-0.5, -0.1, 8, "agrees", "disagrees") == "disagrees"
    assert after_keskar.interval_word(-0.2, 0.9, 8, "agrees", "disagrees") == "unresolved (n = 8)"


def test_spearman_ci_on_a_known_ranking():
    rho, (lo, hi), n = after_keskar.spearman_ci([1, 2, 3, 4, 5, 6], [2, 4, 6, 8, 10, 12], n_boot=200)
    assert rho == pytest.approx(1.0) and n == 6 and lo == pytest.approx(1.0)
    rho, _, _ = after_keskar.spearman_ci([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], n_boot=50)
    assert rho == pytest.approx(-1.0)


def test_after_keskar_rows_carry_the_records_numbers(ctx):
    t = after_keskar.rows(ctx)
    a = front.answer_numbers(ctx)
    if not len(t) or not a.get("gap"):
        pytest.skip("no committed records")
    keskar = t.set_index("paper").loc["Keskar et al. 2017"]
    c = a["gap"]["claim"]
    assert f"F1 gap SB − LB paired by seed {c.stat()}" in keskar.ours and keskar.word == c.verdict
    assert {"Dinh et al. 2017", "Jiang et al. 2020", "Andriushchenko et al. 2023", "Shallue et al. 2019",
            "Smith & Le 2018", "Malladi et al. 2022"} <= set(t.paper)
