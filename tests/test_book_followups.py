"""book/followups.py: the chapter's verdicts and the front page's sentence, from a runs table built by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from lbgap.book import followups as book
from lbgap.book.context import context


def _runs(rows):
    base = dict(net="F1", profile="paper", batch_size=6000, lr=1e-3, train_loss=0.0, epochs=40, steps=400,
                examples=2_400_000, train_time_s=10.0, wall_s=30.0, device="gpu", stop_reason="plateau",
                hessian_top=1.0)
    return pd.DataFrame([dict(base, **r) for r in rows])


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    c = context("results", tmp_path, "cpu", "0-1", "F1")
    table = _runs([
        dict(seed=s, arm=a, test_acc=acc, phi=phi, steps=steps)
        for s in (0, 1)
        for a, acc, phi, steps in (("sb", 98.2, 3.0, 9000), ("lb", 97.9, 300.0, 3000), ("lr-linear", 98.15, 4.0, 380),
                                   ("hoffer", 98.45, 0.2, 8000), ("sam-0.05", 97.92, 290.0, 450),
                                   ("ghost", 98.05, 100.0, 420))])
    monkeypatch.setattr(book, "runs", lambda ctx: table)
    return c


def test_verdicts_follow_the_gap_to_sb_seed_by_seed(ctx):
    lines = book.readings(ctx)
    by_arm = {line.split("**")[1]: line for line in lines}
    assert "closes the gap: gap +0.05 pt against LB's +0.30 (2 seeds)" in by_arm["F1, LB, LR × k, warm-up"]
    assert "beats SB: gap -0.25" in by_arm["F1, LB, all of Hoffer"]
    assert "does not narrow the gap: gap +0.28" in by_arm["F1, LB + SAM ρ=0.05"]
    assert "narrows the gap: gap +0.15" in by_arm["F1, LB, ghost BN 128"]
    assert "flatter than plain LB" in by_arm["F1, LB, all of Hoffer"] and "as sharp as plain LB" in by_arm["F1, LB + SAM ρ=0.05"]
    corr = by_arm["F1, does sharpness move with accuracy?"]
    assert "Over the 10 large-batch runs" in corr and "is -1.00" in corr     # accuracy falls as φ rises, rank for rank
    assert "LB with SB's number of updates and all of Hoffer's changes 98.45 %" in by_arm["F1, same examples or same updates?"]


def test_front_page_sentence_quotes_the_chapters_numbers(ctx):
    line = book.answer_line(ctx)
    assert "plain LB +0.30 points (2 seeds)" in line and "the gap is -0.25 (2 seeds, 8,000 updates against SB's 9,000)" in line
    assert "leaves +0.05 (2 seeds)" in line and "SAM's best radius (ρ=0.05) leaves +0.28" in line


def test_no_runs_say_so(tmp_path, monkeypatch):
    c = context("results", tmp_path, "cpu", "0-1", "F1")
    from lbgap.studies import followups

    monkeypatch.setattr(book, "runs", lambda ctx: followups.runs_table(tmp_path))   # an empty store
    assert book.readings(c) == [] and book.answer_line(c) == "" and book.coverage(c) == ["**F1**: no runs yet."]
