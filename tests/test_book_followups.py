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
        dict(seed=s, arm=a, test_acc=acc + 0.1 * s, phi=phi, steps=steps)   # SB's seed sd (δ): 0.07 pt
        for s in (0, 1)
        for a, acc, phi, steps in (("sb", 98.2, 3.0, 9000), ("lb", 97.9, 300.0, 3000), ("lr-linear", 98.15, 4.0, 380),
                                   ("hoffer", 98.45, 0.2, 8000), ("sam-0.05", 97.92, 290.0, 450),
                                   ("ghost", 98.05, 100.0, 420))])
    monkeypatch.setattr(book, "runs", lambda ctx, replicate="": table)
    return c


def test_verdicts_follow_the_paired_intervals(ctx):
    lines = book.readings(ctx)
    by_arm = {line.split("**")[1]: line for line in lines}
    # two seeds with identical differences: zero-width intervals, so each rule resolves against δ = 0.07 pt
    assert "Ours: **closes the gap (within δ of SB)**" in by_arm["F1, LB, LR × k, warm-up"]
    assert "Ours: **beats SB**" in by_arm["F1, LB, all of Hoffer"]
    assert "arm − SB n = 2, 95 % CI +0.25 … +0.25" in by_arm["F1, LB, all of Hoffer"]
    assert "Ours: **narrows the gap (above plain LB)**" in by_arm["F1, LB + SAM ρ=0.05"]
    assert "Ours: **narrows the gap (above plain LB)**" in by_arm["F1, LB, ghost BN 128"]
    assert "above plain LB on 2 of 2 shared seeds" in by_arm["F1, LB, ghost BN 128"]
    corr = by_arm["F1, does φ move with accuracy?"]
    assert "over the 10 large-batch runs of every arm: −0.96" in corr and "over the 5 arm medians −1.00" in corr
    assert "LB with SB's number of updates and all of Hoffer's changes 98.50 %" in by_arm["F1, same examples or same updates?"]


def test_contrary_records_flip_the_verdict(ctx, monkeypatch):
    t = book.runs(ctx)
    flipped = t.assign(test_acc=[a - 0.6 if arm == "hoffer" else a for arm, a in zip(t.arm, t.test_acc)])
    monkeypatch.setattr(book, "runs", lambda ctx, replicate="": flipped)
    ctx._memo.clear()
    by_arm = {line.split("**")[1]: line for line in book.readings(ctx)}
    assert "Ours: **widens the gap (below plain LB)**" in by_arm["F1, LB, all of Hoffer"]


def test_front_page_sentence_quotes_the_chapters_numbers(ctx):
    line = book.answer_line(ctx)
    assert "Gap SB − plain LB: SB ahead: +0.30 pt (n = 2" in line
    assert "beats SB, arm − SB +0.25 pt (n = 2, 95 % CI +0.25 … +0.25)" in line
    assert "8,000 updates and" in line and "against SB's 9,000" in line and "chosen after the fact" in line


def test_no_runs_say_so(tmp_path, monkeypatch):
    c = context("results", tmp_path, "cpu", "0-1", "F1")
    from lbgap.studies import followups

    monkeypatch.setattr(book, "runs", lambda ctx, replicate="": followups.runs_table(tmp_path))   # an empty store
    assert book.readings(c) == [] and book.answer_line(c) == "" and book.coverage(c) == ["**F1**: no runs yet."]


def test_sam_selection_marks_the_best_validation_radius_once_all_have_run(tmp_path, monkeypatch):
    from lbgap.studies import followups as fu

    c = context("results", tmp_path, "cpu", "0", "F1")
    rows = {0.01: (97.9, 0.07), 0.05: (98.1, 0.06), 0.2: (98.1, 0.05)}   # a tie on accuracy: the lower loss wins
    table = pd.DataFrame([dict(rho=r, val_acc=a, val_loss=loss, epochs=40) for r, (a, loss) in rows.items()])
    monkeypatch.setattr(fu, "sam_validation_table", lambda net, d, prof: table if prof == "paper" else table[:0])
    t = book.sam_selection(c, "F1")
    assert list(t.rho[t.selected]) == [0.2] and set(t.profile) == {"paper"}
    shown = []
    monkeypatch.setattr(book, "show", lambda df, caption, uuid, **kw: shown.append((df, caption)))
    book.show_sam_selection(c)
    assert list(shown[0][0]["chosen"]) == ["", "", "✓"]
    assert "the chosen ρ = 0.2 is at an edge of the grid" in shown[0][1]
    monkeypatch.setattr(fu, "sam_validation_table", lambda net, d, prof: table[:2] if prof == "paper" else table[:0])
    assert not book.sam_selection(c, "F1").selected.any()          # one radius still to run: none chosen
    monkeypatch.setattr(fu, "sam_validation_table", lambda net, d, prof: table[:0])
    assert book.sam_selection(c, "F1") is None


def test_cost_line_prints_the_replicates_own_core_hours(tmp_path, monkeypatch):
    from lbgap.studies import followups as fu

    c = context("results", tmp_path, "cpu", "0", "F1")
    assert book.cost_line(c, "F1", "cpu") == ""                       # no runs of its own: nothing to say
    parts = {"selection": dict(records=3, core_h=0.5), "train": dict(records=15, core_h=2.26),
             "sharpness": dict(records=15, core_h=0.71)}
    monkeypatch.setattr(fu, "cpu_time", lambda net, d, prof, rep: dict(parts=parts, cpus=["X"], threads=[1]))
    line = book.cost_line(c, "F1", "cpu")
    assert "15 arm runs, 2.3 core-hours of training and 0.7 of φ and λ_max" in line
    assert "selection 3 runs, 0.5 core-hours; on X, 1 thread per run" in line
    parts["selection"] = dict(records=0, core_h=0.0)                 # before SAM's radius is chosen: not named
    assert "radius selection" not in book.cost_line(c, "F1", "cpu")


def test_cpu_replicate_words_carry_each_arms_verdict_and_flatness(ctx):
    words = book.cpu_answer_words(ctx)
    assert "LB, all of Hoffer: beats SB (arm − SB n = 2, 95 % CI +0.25 … +0.25" in words
    assert "LB, ghost BN 128: narrows the gap (above plain LB)" in words
    assert words.count("φ against plain LB's: ") == 4                 # one per arm, SB and LB aside
    assert "(arm − SB n = 2, 95 % CI +0.25 … +0.25; φ against plain LB's: " in words


def test_cpu_replicate_words_are_empty_without_its_runs(tmp_path):
    assert book.cpu_answer_words(context("results", tmp_path, "cpu", "0-1", "F1")) == ""
