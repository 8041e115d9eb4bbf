"""The regression chapter's module (``lbgap.book.regression``): which record profile each notebook profile reads,
that the context of the chapter's parameters cell (no networks) reads the committed quick records without
computing, and what the ``show_*`` calls print from those records."""
from __future__ import annotations

import pytest

from lbgap.book import regression
from lbgap.book.context import context


@pytest.fixture(scope="module")
def ctx():
    def never(_ctx):
        raise AssertionError("the results profile must not compute")

    return context("results", None, "auto", "1-2", "", compute=never)   # the chapter's parameters cell


@pytest.mark.parametrize("profile, expected", [("results", "quick"), ("paper", "quick"), ("quick", "quick"),
                                               ("smoke", "smoke")])
def test_record_profile(profile, expected, tmp_path):
    assert regression.record_profile(context(profile, tmp_path, nets="")) == expected


def test_context_without_networks(ctx):
    assert ctx.nets == [] and ctx.seeds == [1, 2] and not ctx.run


def test_key_numbers_and_cpu_spent_from_the_committed_records(ctx, capsys, monkeypatch):
    from lbgap.book import style

    shown = []
    monkeypatch.setattr(style, "verdict_lines", shown.extend)   # the page shows them as Markdown bullets
    regression.show_key_numbers(ctx)
    lines = regression.key_numbers(ctx.results_dir, "quick")
    assert shown == lines
    assert lines[0].startswith("least squares, to 1.0%, N = 1,000,000,000, the solve alone (")
    head = next(line for line in lines if line.startswith("least squares, to 0.1%"))   # the front page's line
    assert "exact solve on the first" in head and "paired by seed, n = 5, 95 % CI" in head
    assert lines[-1].startswith("all 603 records: ")
    regression.show_cpu_spent(ctx)
    assert capsys.readouterr().out.startswith("603 records, ")


def test_headline_and_knee_from_the_committed_records(ctx):
    """The exact solve and SGD timed on the same five seeds, generation apart; S_min from full-batch GD."""
    hc = regression.headline_comparison(ctx.results_dir, "quick")
    ls = hc[(hc.problem == "least_squares") & (hc.target == 0.001)].iloc[0]
    assert ls.n_paired == 5 and ls.diff_lo <= ls.diff_s <= ls.diff_hi
    assert ls.exact_solve_s < ls.sgd_generate_s and ls.sgd_solve_s < ls.sgd_generate_s   # generation dominates
    kn = regression.knee_numbers(ctx.results_dir, "quick").set_index(["problem", "target"])
    assert kn.loc[("least_squares", 0.001), "s_min"] == 11 and kn.loc[("least_squares", 0.01), "s_min"] == 6
    assert kn.loc[("least_squares", 0.001), "s_min_from"] == "full-batch GD"
    assert kn.loc[("least_squares", 0.001), "largest_batch_steps"] > 11


def test_batch_table_formats_the_numbers(ctx):
    tab = regression.batch_table(ctx)
    raw = regression.examples_by_batch(ctx.results_dir, "quick")
    assert len(tab) == len(raw) == 20 and list(tab.columns) == list(raw.columns)
    row = tab[(tab.problem == "least_squares") & (tab.target == 0.001) & (tab.batch == 65536)].iloc[0]
    assert (row.examples, row.steps) == ("1,127,219", "17")
    assert all(isinstance(v, str) for v in tab.cpu_s)
