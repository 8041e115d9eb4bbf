"""The tuned-LR study (studies.tuned_lr) and its chapter's claims (book.tuned_lr): configurations against the
committed Table 2 records, selection and extension on known tables, a smoke grid end to end, verdicts that flip."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from lbgap.book import tuned_lr as book
from lbgap.core import records
from lbgap.core.config import RunConfig
from lbgap.studies import tuned_lr


def test_grid_configs_use_the_holdout_and_warm_up_only_large_lb_rates():
    cfgs = tuned_lr.grid()
    assert len(cfgs) == 10 and {c.split for c in cfgs} == {"holdout"} and {c.seed for c in cfgs} == {0}
    assert sorted({c.batch_size for c in cfgs}) == [256, 6000]          # LB = 10 % of the official 60,000
    lb = {c.lr / 1e-3: c for c in cfgs if c.batch_size == 6000}
    assert [m for m, c in sorted(lb.items()) if c.warmup_epochs] == [4.0, 8.0, 16.0]
    assert all(c.warmup_from == 1e-3 and c.warmup_epochs == 5 for m, c in lb.items() if m >= 4)
    assert {c.max_epochs for c in cfgs if c.batch_size == 6000} == {300}
    assert {c.max_epochs for c in cfgs if c.batch_size == 256} == {100}
    assert len({c.run_id for c in cfgs}) == 10


def test_grid_rebuilds_the_committed_hold_out_runs_exactly():
    """Records and checkpoints are keyed by run id and config hash: the grid's configurations (built by
    ``config.holdout_config``, shared with SAM's radius selection) are, hash for hash, those the committed hold-out
    runs were trained with; an LB point with warm-up (none committed) is pinned."""
    from lbgap.core.checkpoints import config_hash

    regime_of = {tuned_lr.batch_size(r): r for r in tuned_lr.MULTIPLIERS}
    recs = [r for r in records.iter_records(None, "paper", "train")
            if tuned_lr.multiplier_of(r["config"]["tag"]) is not None and r["config"]["split"] == "holdout"]
    assert len(recs) >= 7
    for r in recs:
        cfg = tuned_lr.config(regime_of[r["config"]["batch_size"]], tuned_lr.multiplier_of(r["config"]["tag"]))
        assert (cfg.run_id, config_hash(cfg)) == (r["run_id"], r["config_hash"])
    warm = tuned_lr.config("LB", 4.0)
    assert (warm.run_id, config_hash(warm)) == ("F1-mnist-holdout-b6000-s0-tlr-x4", "e34c5abe3032")


@pytest.mark.parametrize("regime,batch", [("SB", 256), ("LB", 6000)])
def test_final_x1_is_the_committed_table2_run(regime, batch):
    cfg = tuned_lr.config(regime, 1.0, 0, "final")
    rec = records.read_record(records.record_path(None, "paper", "train", cfg.run_id))
    assert rec is not None, cfg.run_id
    assert RunConfig.from_dict(rec["config"]).material() == cfg.material()
    other = tuned_lr.config(regime, 2.0, 0, "final")
    assert other.split == "official" and other.tag == "tlr-x2" and other.lr == pytest.approx(2e-3)


def _grid(points):
    return pd.DataFrame([dict(regime=r, batch_size=256 if r == "SB" else 6000, multiplier=m, val_acc=a, val_loss=loss)
                         for r, m, a, loss in points])


def test_selection_takes_the_best_validation_accuracy_and_breaks_ties_by_loss():
    df = _grid([("SB", 0.5, 98.0, 0.07), ("SB", 1, 98.2, 0.08), ("SB", 2, 98.2, 0.06), ("SB", 4, 97.0, 0.1),
                ("LB", 1, 97.5, 0.1), ("LB", 2, 97.9, 0.09), ("LB", 4, 97.6, 0.1)])
    assert tuned_lr.selection(df) == {"SB": 2.0, "LB": 2.0}
    assert tuned_lr.extension(df) == {}


def test_extension_goes_one_point_beyond_an_edge():
    df = _grid([("SB", 0.25, 98.3, 0.07), ("SB", 0.5, 98.1, 0.07), ("LB", 4, 97.5, 0.1), ("LB", 8, 97.9, 0.09),
                ("LB", 16, 98.0, 0.1)])
    assert tuned_lr.extension(df) == {"SB": 0.125, "LB": 32.0}


def test_multiplier_parsing():
    assert tuned_lr.multiplier_of("tlr-x0.25") == 0.25
    assert tuned_lr.multiplier_of("uncapped") is None and tuned_lr.multiplier_of("tlr-xabc") is None


def test_smoke_grid_and_final_end_to_end(tmp_path, checkpoints):
    out = tuned_lr.run("grid", profile="smoke", results_dir=tmp_path, multipliers=(1.0, 4.0))
    assert [o.status for o in out] == ["done"] * 4
    g = tuned_lr.grid_table(tmp_path, "smoke")
    assert len(g) == 4 and set(g.regime) == {"SB", "LB"} and g.threads.notna().all()
    assert list(g[g.regime == "LB"].warmup_epochs) == [0.0, 5.0]
    edge = tuned_lr.extension(g)
    if edge:                                    # a best LR at the grid's edge: refused until the grid is extended
        with pytest.raises(ValueError, match="edge"):
            tuned_lr.run("final", seeds=(0,), profile="smoke", results_dir=tmp_path)
    out = tuned_lr.run("final", seeds=(0, 1), profile="smoke", results_dir=tmp_path, accept_edge=True)
    assert [o.status for o in out] == ["done"] * 4
    f = tuned_lr.final_table(tmp_path, "smoke")
    assert len(f) == 4 and f.phi.notna().all() and f.hessian_top.notna().all()
    chosen = tuned_lr.selection(g)
    assert set(f.multiplier) <= set(chosen.values())
    rec = next(records.iter_records(tmp_path, "smoke", "train"))
    assert len(rec["provenance"]["host_load_end"]) == 3


def test_final_without_a_grid_says_what_to_run(tmp_path):
    with pytest.raises(ValueError, match="--stage grid"):
        tuned_lr.run("final", seeds=(0,), profile="smoke", results_dir=tmp_path)


def _pairs(sb, lb):
    return pd.DataFrame([dict(seed=i, regime="SB", test_acc=a) for i, a in enumerate(sb)]
                        + [dict(seed=i, regime="LB", test_acc=a) for i, a in enumerate(lb)])


def test_gap_is_the_paired_t_interval_of_the_differences():
    c = book.gap(_pairs([98.2, 98.0, 98.4], [98.0, 97.9, 98.0]), 0.2, "gap")
    d = [0.2, 0.1, 0.4]
    mean, sd = sum(d) / 3, math.sqrt(sum((x - sum(d) / 3) ** 2 for x in d) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)     # t(0.975, 2)
    assert c.n == 3 and c.estimate.value == pytest.approx(mean)
    assert c.interval[1] - c.interval[0] == pytest.approx(2 * half)


def test_gap_verdict_flips_with_the_data_and_needs_seeds():
    assert book.gap(_pairs([98.5, 98.6, 98.4, 98.5, 98.6], [98.0, 98.0, 97.9, 98.1, 98.0]), 0.2, "g").verdict \
        == "a gap remains"
    assert book.gap(_pairs([98.0, 98.1, 98.0, 98.05, 98.0], [98.0, 98.05, 98.02, 98.0, 98.03]), 0.2, "g").verdict \
        == "closed"
    assert book.gap(_pairs([98.0, 98.0, 97.9, 98.1, 98.0], [98.5, 98.6, 98.4, 98.5, 98.6]), 0.2, "g").verdict \
        == "LB better"
    wide = book.gap(_pairs([98.5, 97.6, 98.4, 97.5, 98.6], [98.0, 98.0, 97.9, 98.1, 98.0]), 0.05, "g")
    assert wide.verdict == "unresolved"
    assert book.gap(_pairs([98.5], [98.0]), 0.2, "g").verdict == "unresolved"


def test_sharpness_ratio_is_the_books_ratio_of_means():
    df = pd.DataFrame([dict(seed=i, regime=r, phi=v) for i, (s, lb) in enumerate([(10, 100), (12, 90), (9, 110)])
                       for r, v in (("SB", s), ("LB", lb))])
    c = book.sharpness_ratio(df)
    assert c.estimate.value == pytest.approx(300 / 31) and c.verdict == "LB sharper"
    flipped = df.assign(regime=df.regime.map({"SB": "LB", "LB": "SB"}))
    assert book.sharpness_ratio(flipped).verdict == "LB flatter"


def test_reading_curves_names_a_grid_point_that_stopped_unlike_the_rest(monkeypatch):
    import pandas as pd

    from lbgap.book import tuned_lr as book
    from lbgap.book.context import context

    rows = [dict(regime="LB", multiplier=m, val_acc=a, val_loss=0.1, stop_reason=s, epochs=e)
            for m, a, s, e in ((1, 98.0, "max_epochs", 300), (2, 98.1, "max_epochs", 300), (4, 97.6, "plateau", 37))]
    monkeypatch.setattr(book, "grid", lambda ctx: pd.DataFrame(rows))
    line = book.reading_curves(context("results", None, "auto", "0", "F1"))
    assert "LB peaks at LR × 2 (98.10 %" in line
    assert "× 4 stopped on the plateau rule after 37 epochs, where the other LB points stopped on the epoch cap" in line
    rows[2].update(stop_reason="max_epochs", epochs=300)
    assert "stopped on" not in book.reading_curves(context("results", None, "auto", "0", "F1"))


def test_final_is_refused_while_the_best_lr_sits_at_the_grid_edge(tmp_path, checkpoints):
    tuned_lr.run("grid", ("LB",), profile="smoke", results_dir=tmp_path, multipliers=(1.0,))
    tuned_lr.run("grid", ("LB",), profile="smoke", results_dir=tmp_path, multipliers=(2.0,))
    g = tuned_lr.grid_table(tmp_path, "smoke")
    assert set(tuned_lr.extension(g)) == {"LB"}           # two points: the best is always at one edge
    with pytest.raises(ValueError, match=r"edge for LB \(next point x"):
        tuned_lr.run("final", ("LB",), seeds=(0,), profile="smoke", results_dir=tmp_path)


def test_the_warm_up_check_trains_a_warming_point_without_its_warm_up(tmp_path, checkpoints):
    on, off = tuned_lr.config("LB", 16.0), tuned_lr.config("LB", 16.0, warmup=False)
    assert on.warmup_epochs == tuned_lr.WARMUP_EPOCHS and not off.warmup_epochs and off.lr == on.lr
    assert off.tag == "tlr-x16-nowarmup" and tuned_lr.multiplier_of(off.tag) is None   # not a grid point
    assert tuned_lr.config("LB", 2.0, warmup=False).tag == "tlr-x2"        # x2 never warms up: the same run
    with pytest.raises(ValueError, match="--no-warmup"):
        tuned_lr.run("grid", ("LB",), profile="smoke", results_dir=tmp_path, multipliers=(2.0,), warmup=False)
    tuned_lr.run("grid", ("LB",), profile="smoke", results_dir=tmp_path, multipliers=(4.0,))
    assert tuned_lr.warmup_table(tmp_path, "smoke").empty
    out = tuned_lr.run("grid", ("LB",), profile="smoke", results_dir=tmp_path, multipliers=(4.0,), warmup=False)
    assert [o.status for o in out] == ["done"]
    g, w = tuned_lr.grid_table(tmp_path, "smoke"), tuned_lr.warmup_table(tmp_path, "smoke")
    assert len(g) == 1 and list(w.multiplier) == [4.0]                     # the grid is unchanged by the check
    assert w.val_acc_warmup.iloc[0] == g.val_acc.iloc[0] and 0 <= w.val_acc_none.iloc[0] <= 100


def test_warmup_lines_report_both_accuracies_and_one_seed_is_unresolved(monkeypatch):
    from lbgap.book.context import context

    ctx = context("results")
    w = pd.DataFrame([dict(multiplier=16.0, val_acc_warmup=98.5, val_acc_none=98.2, val_loss_warmup=0.1,
                           val_loss_none=0.1, epochs_warmup=300, epochs_none=41, stop_warmup="max_epochs",
                           stop_none="plateau")])
    monkeypatch.setattr(book, "warmup", lambda ctx: w)
    (line,) = book.warmup_lines(ctx)
    assert "98.50 % with the 5-epoch warm-up (300 epochs), 98.20 % without (41 epochs)" in line
    assert "**unresolved (n = 1, no interval; mean −0.30 pt)**" in line and "paired effect" in line
    monkeypatch.setattr(book, "warmup", lambda ctx: w.iloc[:0])
    monkeypatch.setattr(book, "selected", lambda ctx: {"LB": dict(multiplier=16.0)})
    assert "--multipliers 16 --no-warmup" in book.warmup_lines(ctx)[0]
    monkeypatch.setattr(book, "selected", lambda ctx: {"LB": dict(multiplier=2.0)})   # x2 never warms up
    assert book.warmup_lines(ctx) == []


def test_cpu_time_adds_wall_time_times_threads_per_part(tmp_path, checkpoints):
    tuned_lr.run("grid", ("SB",), profile="smoke", results_dir=tmp_path, multipliers=(2.0,))   # x1 is Table 2's
    tuned_lr.run("final", ("SB",), seeds=(0,), profile="smoke", results_dir=tmp_path, accept_edge=True)
    c = tuned_lr.cpu_time(tmp_path, "smoke")
    walls = {r["config"]["split"]: r["provenance"]["wall_time_s"] * r["provenance"]["threads"] / 3600
             for r in records.iter_records(tmp_path, "smoke", "train")}
    assert c["parts"]["grid"] == dict(records=1, core_h=pytest.approx(walls["holdout"]))
    assert c["parts"]["final"] == dict(records=1, core_h=pytest.approx(walls["official"]))
    assert c["parts"]["sharpness"]["records"] == 1 and c["parts"]["sharpness"]["core_h"] > 0
    assert len(c["threads"]) == 1 and c["cpus"]


def test_sharpness_ratio_reads_the_column_it_is_given():
    rows = [dict(regime=r, seed=s, phi=p, hessian_top=h) for s in range(4)
            for r, p, h in (("SB", 1.0 + 0.1 * s, 0.04 + 0.01 * s), ("LB", 10.0 + s, 0.001 * (1 + s)))]
    df = pd.DataFrame(rows)
    phi, lam = book.sharpness_ratio(df), book.sharpness_ratio(df, "λ", "hessian_top")
    assert phi.verdict == "LB sharper" and lam.verdict == "LB flatter" and phi.n == lam.n == 4
    sb, lb = df[df.regime == "SB"].hessian_top.mean(), df[df.regime == "LB"].hessian_top.mean()
    assert lam.estimate.value == pytest.approx(lb / sb)


def test_stop_lines_count_how_each_regime_stopped(monkeypatch):
    from lbgap.book.context import context

    f = pd.DataFrame([dict(regime="LB", seed=0, epochs=300, stop_reason="max_epochs"),
                      dict(regime="LB", seed=1, epochs=53, stop_reason="plateau"),
                      dict(regime="SB", seed=0, epochs=51, stop_reason="plateau")])
    monkeypatch.setattr(book, "final", lambda ctx: f)
    assert book.stop_lines(context("results")) == [
        "SB at the tuned LR stopped 1 of 1 on the plateau rule (seed 0: 51 epochs).",
        "LB at the tuned LR stopped 1 of 2 at the epoch cap (seed 0: 300 epochs); 1 of 2 on the plateau rule "
        "(seed 1: 53 epochs)."]


def test_answer_line_quotes_the_tuned_and_untuned_gaps_and_the_sharpness(monkeypatch):
    from lbgap.book.context import context

    tuned = pd.DataFrame([dict(seed=s, regime=r, test_acc=a + 0.05 * s, phi=p * (1 + 0.1 * s))
                          for s in range(4) for r, a, p in (("SB", 98.3, 0.5), ("LB", 98.1, 5.0))])
    plain = pd.DataFrame([dict(seed=s, regime=r, test_acc=a + 0.07 * s, phi=1.0)
                          for s in range(4) for r, a in (("SB", 98.2), ("LB", 97.9))])
    sel = {r: dict(multiplier=m, complete=True) for r, m in (("SB", 2.0), ("LB", 16.0))}
    monkeypatch.setattr(book, "grid", lambda ctx: pd.DataFrame([dict(regime="SB")]))
    monkeypatch.setattr(book, "final", lambda ctx: tuned)
    monkeypatch.setattr(book, "untuned", lambda ctx: plain)
    monkeypatch.setattr(book, "selected", lambda ctx: sel)
    line = book.answer_line(context("results"))
    ctx = context("results")
    d = book.margin(ctx).value
    c, u, s = book.gap(tuned, d, "t"), book.gap(plain, d, "u"), book.sharpness_ratio(tuned)
    assert "(SB × 2, LB × 16)" in line and f"paired by seed {c.words()}, against {u.words()} at 10⁻³" in line
    assert s.verdict == "LB sharper" and line.endswith("LB sharper.")
