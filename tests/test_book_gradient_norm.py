"""book/gradient_norm.py: budgets, verdicts and the front page's sentence from a points table built by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from lbgap.book import gradient_norm as book
from lbgap.book.context import context


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    c = context("results", tmp_path, "cpu", "0-1", "F1")
    rows = []
    for seed in (0, 1):
        for b, dist, gmb, loss in ((16, 12.0, 1.0, 0.30), (256, 6.0, 0.5, 0.20), (6000, 2.0, 0.2, 0.40)):
            for ex, scale in ((0, 0.0), (1000, 1.0), (2000, 1.5)):
                rows.append(dict(net="F1", profile="quick", seed=seed, batch_size=b, rule="fixed", lr=1e-3,
                                 examples=ex, step=ex // b, epoch=ex / 1000, grad_full=2.0 - scale,
                                 grad_minibatch=gmb * (1 + seed / 10), steps_averaged=1, dist=dist * scale,
                                 train_loss=loss, test_loss=loss * (1 + seed / 10), test_acc=0.9))
    monkeypatch.setattr(book, "points", lambda ctx: pd.DataFrame(rows))
    return c


def test_budgets_are_the_first_epoch_and_the_last_common_point(ctx):
    assert book.budgets(book.points(ctx)) == {"early (1 epoch)": 1000, "late (2 epochs)": 2000}
    t = book.at_budgets(ctx)
    late = t[t.budget == "late (2 epochs)"].set_index("batch_size")
    assert late.loc[16, "dist"] == 18.0 and late.loc[6000, "n"] == 2
    assert late.loc[256, "test_loss"] == pytest.approx(0.21)


def test_readings_answer_the_three_claims(ctx):
    lines = book.readings(ctx)
    late = next(line for line in lines if "late" in line)
    assert "Mean mini-batch gradient norm against B: falls (Spearman ρ = −" in late   # (i) seed-level points
    assert "‖x − x0‖ against B: larger batches stay closer" in late   # (ii)
    assert "lowest mean at B = 256 (0.2100 ± 0.0141): an interior optimum, beyond the seed spread" in late
    assert "B = 256 is 3.0× farther from x0 than B = 6,000" in lines[-1]


def test_front_page_sentence(ctx):
    line = book.answer_line(ctx)
    assert "‖x − x0‖ 18.0 to 3.0, larger batches stay closer" in line and "lowest mean at B = 256" in line
    assert "the mean mini-batch norm of the steps falls" in line and "√(B/256)" not in line    # no sqrt-rule runs here


def test_batch_vs_iterations_matched_budgets_read_both_studies(ctx, monkeypatch):
    from lbgap.book import batch_vs_iterations as bvi

    costs = pd.DataFrame([dict(net="F1", seed=s, batch_size=b, steps=100, test_acc=acc, seconds_per_step=sec)
                          for s in (0, 1) for b, acc, sec in ((16, 0.88, 0.005), (256, 0.96, 0.012), (6000, 0.97, 0.19))])
    monkeypatch.setattr(book, "costs", lambda ctx: costs)
    lines = bvi.matched_budget_lines(ctx)
    assert ("B = 6,000 tests 97.00 % against 96.00 % for B = 256, the smaller batch with the best mean: per update, "
            "the larger batch is ahead") in lines[0]
    assert "Same number of examples (early (1 epoch)" in lines[1] and "12.0 ms per step at B = 256" in lines[-1]
    split = costs.assign(test_acc=[a + (0.02 if s == 1 and b == 6000 else 0) - (0.02 if s == 0 and b == 6000 else 0)
                                   for s, b, a in zip(costs.seed, costs.batch_size, costs.test_acc)])
    monkeypatch.setattr(book, "costs", lambda ctx: split)   # the seeds disagree: the rule says so
    assert "per update, larger − smaller unresolved (n = 2" in bvi.matched_budget_lines(ctx)[0]
