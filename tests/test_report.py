"""report.py: Table 2 statistics, verdicts, the distance ratio and missing rows, on hand-made records whose
answers are known (mean/std by hand), so the book's numbers are checked independently of any training."""
from __future__ import annotations

import math

import pytest

from lbgap.measures import landscape
from lbgap.book import report
from lbgap.core import records


def _record(results_dir, net, regime, seed, train_acc, test_acc, dist, epochs=10, stop="plateau", sps=1.0,
            eval_order=None):
    bs = 256 if regime == "SB" else 6000
    run_id = f"{net}-mnist-official-b{bs}-s{seed}"
    history = [dict(epoch=e, step=e * 10, train_acc=train_acc * e / epochs, test_acc=test_acc * e / epochs,
                    train_loss=1.0 / (e + 1), test_loss=1.0 / (e + 1)) for e in range(epochs + 1)]
    rec = dict(kind="train", run_id=run_id, status="ok", stop_reason=stop, epochs=epochs, steps=epochs * 10,
               config=dict(profile="paper", net=net, dataset="mnist", split="official", source="real", bn="batch",
                           regime=regime, batch_size=bs, seed=seed, tag=""),
               final=dict(train_acc=train_acc, test_acc=test_acc, train_loss=0.01, test_loss=0.1),
               dist_from_init=dist, samples_per_s=sps, history=history,
               provenance=dict(wall_time_s=3600.0, device="cpu (test)", git_commit="abc", torch_version="2",
                               python="3.11", lbgap_version="0.1.0"))
    if eval_order:   # records without it predate interleaved evaluation batches: stored order
        rec["data"] = dict(eval_order=eval_order)
    records.atomic_write_json(records.record_path(results_dir, "paper", "train", run_id), rec)


@pytest.fixture
def ctx(tmp_path):
    # SB test acc 0.98, 0.99, 1.00 -> mean 99.00, std 1.00; LB 0.95, 0.96, 0.97 -> 96.00 ± 1.00; gap 3.00,
    # 2 standard errors = 2*sqrt(1/3 + 1/3) = 1.63 -> significant. Distances 30/10, 40/10, 50/10 -> ratio 4 ± 1.
    for s, (a, b, d) in enumerate([(0.98, 0.95, 30.0), (0.99, 0.96, 40.0), (1.00, 0.97, 50.0)]):
        _record(tmp_path, "F1", "SB", s, 1.0, a, d, sps=1000.0 * (s + 1))
        _record(tmp_path, "F1", "LB", s, 1.0, b, 10.0, stop="max_epochs" if s == 2 else "plateau")
    return report.context("results", tmp_path, seeds="0-4", nets="F1,C3")


def test_table2_mean_std_gap_and_verdict(ctx):
    nums = report.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "test_acc"] == pytest.approx(99.0) and nums.loc["SB", "test_acc_std"] == pytest.approx(1.0)
    assert nums.loc["LB", "test_acc"] == pytest.approx(96.0) and nums.loc["LB", "capped"] == 1
    t2 = report.table2(ctx)
    ours = t2.iloc[0]
    assert ours[""] == "ours (paper, n=3/3)"
    assert ours["test SB"] == "99.00 ± 1.00" and ours["test LB"] == "96.00 ± 1.00" and ours["gap SB−LB"] == "3.00"
    assert ours["verdict"].startswith("gap reproduced (3.00 vs paper 0.22 pt)") and "epoch cap" in ours["verdict"]
    assert t2.iloc[1]["test SB"] == "98.03 ± 0.07"  # the paper's row, from data/paper/table2.csv
    assert t2.iloc[2]["verdict"].startswith("no records yet")


def test_verdict_thresholds():
    sb = dict(n=5, test_acc=98.0, test_acc_std=0.1, capped=0)
    lb = dict(n=5, test_acc=98.0, test_acc_std=0.1, capped=0)
    assert report._verdict("F1", sb, lb, 0.22).startswith("no significant gap")
    assert report._verdict("F1", sb, dict(lb, test_acc=98.5), 0.22).startswith("gap reversed")
    assert report._verdict("F2", sb, dict(lb, test_acc=97.0), 4.57).endswith("not the accuracies")
    assert report._verdict("F1", dict(sb, n=1), lb, 0.22).startswith("1 seed only")
    # a quick-profile row (5 epochs, LB far fewer steps) is never called the paper's gap
    q = report._verdict("C1", dict(sb, profile="quick", epochs=5, steps=880), dict(lb, test_acc=65.0, steps=50), 2.78)
    assert q.startswith("SB ahead after equal epochs (33.00 pt") and "SB 880 steps, LB 50" in q
    assert "reproduced" not in q


def test_distance_ratio_missing_rows_and_headline(ctx):
    d = report.distance_table(ctx).iloc[0]
    assert d["ratio SB/LB"] == "4.00 ± 1.00" and d["range"] == "3.00–5.00" and d["within 3–10"] == "yes"
    missing = report.missing_rows(ctx)
    assert "F1 SB: seeds 3,4 missing." in missing and any(m.startswith("C3: no records") for m in missing)
    h = report.headline(ctx).set_index("network")
    assert h.loc["F1", "ours: gap (pt)"] == "3.00" and h.loc["C3", "ours: gap (pt)"] == "—"
    curves = report.curves(ctx, first_epoch=1)
    assert curves.epoch.min() == 1 and len(curves) == 6 * 10 * 2  # 6 runs x 10 epochs x {train, test}


def test_a_table2_row_averages_records_of_one_evaluation_order(ctx, tmp_path):
    """Seed 3 evaluated in interleaved batches joins three stored-order seeds: the row keeps the three and says
    why seed 3 is out; once most of the network's records are interleaved, its rows keep those instead."""
    for regime in ("SB", "LB"):
        _record(tmp_path, "F1", regime, 3, 1.0, 0.5, 10.0, eval_order="interleaved")
    nums = report.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "n"] == 3 and nums.loc["SB", "test_acc"] == pytest.approx(99.0)
    missing = report.missing_rows(ctx)
    assert ("F1 SB: seed 3 left out: evaluated in interleaved batches, the row's other records in stored-order "
            "ones (`lbgap eval-order` measures both).") in missing and "F1 LB: seed 4 missing." in missing
    for s in (0, 1):   # now most of F1's records are interleaved: SB and LB rows both keep those (one protocol
        for regime, acc in (("SB", 0.6), ("LB", 0.4)):   # per network, or the gap would compare two)
            _record(tmp_path, "F1", regime, s, 1.0, acc, 10.0, eval_order="interleaved")
    nums = report.table2_numbers(ctx).set_index("regime")
    assert nums.loc["SB", "seeds"] == "0,1,3" and nums.loc["SB", "test_acc"] == pytest.approx(100 * (0.6 + 0.6 + 0.5) / 3)
    assert nums.loc["LB", "seeds"] == "0,1,3" and nums.loc["LB", "test_acc"] == pytest.approx(100 * (0.4 + 0.4 + 0.5) / 3)
    assert "F1 SB: seed 2 left out: evaluated in stored-order batches, the row's other records in interleaved ones " \
           "(`lbgap eval-order` measures both)." in report.missing_rows(ctx)


def test_timing_and_provenance(ctx, tmp_path):
    t = report.timing_table(ctx)
    assert t["records"].sum() == 6 and set(t["wall time (h)"]) == {"3.00"}
    # a variant's runs (Figure 4's "fig4") are timed apart from Table 2's
    rec = records.read_json(records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b256-s0"))
    rec["config"]["tag"], rec["run_id"] = "fig4", rec["run_id"] + "-fig4"
    records.atomic_write_json(records.record_path(tmp_path, "paper", "train", rec["run_id"]), rec)
    t = report.timing_table(ctx).set_index(["kind", "regime"])
    assert t.loc[("train (fig4)", "SB"), "records"] == 1 and t.loc[("train", "SB"), "records"] == 3
    p = report.provenance_table(ctx)
    assert p["records"].sum() == 7 and set(p["device"]) == {"cpu (test)"}
    assert set(p["cpu"]) == {"not recorded"}   # the hand-made records predate the field
    import torch

    assert records.provenance("cpu")["cpu"].endswith(f"({torch.backends.cpu.get_cpu_capability()})")
    assert math.isclose(float(report.profiles_table().set_index("profile").loc["paper", "lb_fraction"]), 0.1)


def test_throughput_table(ctx):
    t = report.throughput_table(ctx).set_index("regime")
    assert t.loc["SB", "samples/s (training)"] == "2,000" and t.loc["SB", "records"] == 3  # mean of 1k, 2k, 3k
    assert t.loc["LB", "samples/s (training)"] == "1" and t.loc["LB", "batch"] == 6000


def test_quick_and_f2_rows_carry_their_caveats():
    sb = dict(n=1, test_acc=30.0, test_acc_std=float("nan"), capped=1, profile="quick", epochs=5, steps=21605.0)
    v = report._verdict("F2", sb, dict(sb, test_acc=10.0, steps=55.0), 4.57)
    assert v.startswith("1 seed only") and "stand-in data" in v and "epoch cap" in v
    assert "quick profile: 5 epochs, far from converged (SB 21,605 steps, LB 55)" in v


def test_wall_time_of_records_that_grow_piece_by_piece():
    assert report._wall_s({"provenance": {"wall_time_s": 5.0}, "entries": {"a": {"wall_s": 1.0}}}) == 5.0
    sharp = {"provenance": {"wall_time_s": None}, "entries": {"a": {"wall_s": 1.5}, "b": {"wall_s": 2.0}},
             "hessian": {"wall_s": 0.5}}
    assert report._wall_s(sharp) == 4.0
    assert report._wall_s({"provenance": {}, "parts": {"linear": {"wall_s": 3.0}, "contour": {"wall_s": 4.0}}}) == 7.0


def _sharpness_record(results_dir, net, regime, seed, phis):
    entries = {f"{space}-{objective}": dict(space=space, eps=1e-3, params="all", objective=objective, value=v, f0=0.1,
                                            fmax=0.2, nfev=11, nit=10, message="", wall_s=1.0, n_train=60000,
                                            train_set=60000)
               for (space, objective), v in phis.items()}
    rid = f"{net}-mnist-official-b{256 if regime == 'SB' else 6000}-s{seed}"
    records.atomic_write_json(records.record_path(results_dir, "paper", "sharpness", rid),
                              dict(kind="sharpness", run_id=rid, net=net, regime=regime, seed=seed, profile="paper",
                                   entries=entries, hessian=None))


def test_scorecard_puts_each_claim_beside_the_papers(ctx, tmp_path):
    # phi: full space SB 2 / LB 10 (ratio 5), random SB 1 / LB 3 (3); no summed-objective entries
    for s in (0, 1):
        _sharpness_record(tmp_path, "F1", "SB", s, {("full", "mean"): 2.0, ("random", "mean"): 1.0})
        _sharpness_record(tmp_path, "F1", "LB", s, {("full", "mean"): 10.0, ("random", "mean"): 3.0})
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
    _record(tmp_path, "F1", "LB", 0, 1.0, 0.97, 10.0)
    cons = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b6000-s0")
    rec = records.read_json(cons)
    rec["run_id"] += "-conservative"
    rec["config"]["tag"] = "conservative"
    records.atomic_write_json(cons.with_name(rec["run_id"] + ".json"), rec)
    _record(tmp_path, "F1", "LB", 0, 1.0, 0.95, 10.0)   # the plain LB record as the fixture wrote it
    card = report.scorecard(ctx).set_index("network")
    f1 = card.loc["F1"]
    assert f1["Table 7 conservative − plain LB test (pt), ours / paper"] == "+2.00 (n=1) / +0.31"   # 98.12 - 97.81
    assert card.loc["C3", "Table 7 conservative − plain LB test (pt), ours / paper"] == "— / -0.47"
    assert f1["Table 2 gap (pt), ours / paper"] == "3.00 (n=3) / 0.22"
    assert f1["Table 3 φ LB/SB (ε=1e-3), ours / paper"] == "5 (n=2) / 167"   # paper: 205.14 / 1.23
    assert f1["Table 3, summed loss (ε=1e-3), ours / paper"] == "— / 167"
    assert f1["Table 4 φ LB/SB (ε=1e-3), ours / paper"] == "3 (n=2) / 84"
    assert f1["Fig. 3 rise beyond LB ÷ SB"] == "5 (n=1)" and f1["filter-normalised rise LB ÷ SB"] == "4 (n=1)"
    assert card.loc["C3", "Table 2 gap (pt), ours / paper"] == "— / 3.13"
    assert card.loc["C3", "our runs"] == report.MISSING_REASON["C3"] and card.loc["C3", "Fig. 3 rise beyond LB ÷ SB"] == "—"


def test_rerun_table_pairs_a_recheck_with_its_original(ctx, tmp_path):
    orig = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b6000-s1")
    rec = records.read_json(orig)
    rec["run_id"] += "-recheck"
    rec["config"]["tag"] = "recheck"
    rec["final"]["test_acc"] = 0.9635   # original 0.96
    rec["provenance"]["cpu"] = "Some CPU (AVX512)"
    records.atomic_write_json(orig.with_name(rec["run_id"] + ".json"), rec)
    stray = dict(rec, run_id="F1-mnist-official-b6000-s1-recheck-fig9")   # no original with tag fig9: left out
    stray["config"] = dict(rec["config"], tag="recheck-fig9")
    records.atomic_write_json(orig.with_name(stray["run_id"] + ".json"), stray)
    t = report.rerun_table(ctx)
    assert len(t) == 1
    row = t.iloc[0]
    assert row["run"] == "F1-mnist-official-b6000-s1" and row["rerun − original (pt)"] == "+0.35"
    assert (row["test acc % (original)"], row["test acc % (rerun)"]) == ("96.00", "96.35")
    assert row["rerun ran on"] == "Some CPU (AVX512)" and row["original ran on"].endswith("(CPU model not recorded)")


def _sharpness(results_dir, run_id, regime, seed, tag, phi_full, phi_random):
    entry = dict(f0=0.01, fmax=0.02, nfev=12, nit=10, message="STOP", wall_s=1.0, params="all", eps=1e-3,
                 n_train=60000, train_set=60000)
    rec = dict(kind="sharpness", run_id=run_id, net="F1", regime=regime, seed=seed, profile="paper",
               config=dict(tag=tag),
               entries={"full-eps0.001-sum": dict(entry, space="full", objective="sum", value=phi_full),
                        "random-eps0.001-p100-A0": dict(entry, space="random", value=phi_random, a_seed=0)})
    records.atomic_write_json(records.record_path(results_dir, "paper", "sharpness", run_id), rec)


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
        _sharpness(tmp_path, orig["run_id"], regime, 1, "", 10.0 if regime == "SB" else 50.0, 0.1)
        _sharpness(tmp_path, twin["run_id"], regime, 1, "uncapped", 5.0 if regime == "SB" else 100.0, 0.2)
    # a twin whose original differs in more than its cap (another learning rate) is left out
    path = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b256-s2")
    odd = records.read_json(path)
    odd["config"]["max_epochs"] = 50
    records.atomic_write_json(path, odd)
    odd.update(run_id=odd["run_id"] + "-uncapped", config=dict(odd["config"], tag="uncapped", lr=0.1, max_epochs=100))
    records.atomic_write_json(path.with_name(odd["run_id"] + ".json"), odd)
    # Figure 3 of the capped pair: the loss climbs 0.3 beyond x_LB and 0.1 beyond x_SB -> 3x; the twin has none
    rows = [dict(alpha=a, train_loss=l) for a, l in ((-0.5, 0.2), (0.0, 0.1), (1.0, 0.1), (1.5, 0.4))]
    records.atomic_write_json(records.record_path(tmp_path, "paper", "landscape", "F1-mnist-official-b256-b6000-s1"),
                              dict(kind="landscape", run_id="F1-mnist-official-b256-b6000-s1", net="F1", seed=1,
                                   profile="paper", parts=dict(linear=dict(rows=rows))))
    t = report.cap_table(ctx)
    assert len(t) == 2 and set(t.seed) == {1}
    assert t.iloc[0]["Fig. 3 rise beyond LB ÷ SB"] == pytest.approx(3.0) and math.isnan(t.iloc[1]["Fig. 3 rise beyond LB ÷ SB"])
    capped, full = t.iloc[0], t.iloc[1]
    assert capped["budget"] == "cap 50 / 50 epochs (Table 2)"
    assert full["budget"] == "profile caps 100 / 300, until the plateau rule"
    assert full["epochs SB/LB"] == "80 / 300" and full["stopped SB/LB"] == "plateau / max_epochs"
    assert capped["gap (pt)"] == pytest.approx(3.0) and full["gap (pt)"] == pytest.approx(1.5)
    assert capped["LB/SB φ full"] == pytest.approx(5.0) and full["LB/SB φ full"] == pytest.approx(20.0)
    assert full["LB/SB φ random"] == pytest.approx(1.0)
    assert report.cap_table(report.context("results", tmp_path / "none")).empty


def test_cap_summary_averages_gaps_and_takes_geometric_means_of_ratios():
    import pandas as pd

    rows = [dict(net="F1", seed=s, budget=b, **{"test acc % SB": sb, "test acc % LB": lb, "gap (pt)": sb - lb,
                                                "LB/SB φ full": full, "LB/SB φ random": rnd,
                                                "Fig. 3 rise beyond LB ÷ SB": rise})
            for s, b, sb, lb, full, rnd, rise in ((0, "capped", 98.0, 97.0, 2.0, 1.0, 10.0),
                                                  (0, "uncapped", 98.0, 97.5, 4.0, 3.0, float("nan")),
                                                  (1, "capped", 99.0, 97.0, 8.0, 4.0, 1000.0),
                                                  (1, "uncapped", 98.5, 98.5, 16.0, 3.0, 40.0))]
    s = report.cap_summary(pd.DataFrame(rows)).set_index("budget")
    assert list(s.index) == ["capped", "uncapped"] and s.loc["capped", "seeds"] == "0, 1"
    assert s.loc["capped", "gap (pt)"] == pytest.approx(1.5) and s.loc["capped", "gap sd"] == pytest.approx(0.5 ** 0.5)
    assert s.loc["uncapped", "test acc % SB"] == pytest.approx(98.25) and s.loc["uncapped", "gap (pt)"] == pytest.approx(0.25)
    assert s.loc["capped", "LB/SB φ full"] == pytest.approx(4.0) and s.loc["uncapped", "LB/SB φ full"] == pytest.approx(8.0)
    assert s.loc["capped", "LB/SB φ random"] == pytest.approx(2.0) and s.loc["uncapped", "LB/SB φ random"] == pytest.approx(3.0)
    # a seed without a Figure 3 record is left out of that mean, not counted as zero
    assert s.loc["capped", "Fig. 3 rise beyond LB ÷ SB"] == pytest.approx(100.0)
    assert s.loc["uncapped", "Fig. 3 rise beyond LB ÷ SB"] == pytest.approx(40.0)


def _call(results_dir, started, elapsed, pairs, complete=True, gpu="NVIDIA H200", bench=(), profile="paper"):
    run_id = started.replace("-", "").replace(":", "") + "Z-call1"
    rec = dict(kind="gpu_call", run_id=run_id, call="1", device=gpu, budget_s=540, elapsed_s=elapsed,
               complete=complete, bench=list(bench), tag="", jobs="", pairs=pairs,
               provenance=dict(device=gpu, started=started + "+00:00", wall_time_s=elapsed, git_commit="abc",
                               torch_version="2", python="3.11", lbgap_version="0.1.0"))
    records.atomic_write_json(records.record_path(results_dir, profile, "gpu_call", run_id), rec)


def test_gpu_time_adds_up_the_calls_and_prices_the_pairs_left(ctx, tmp_path):
    assert report.gpu_time_lines(ctx)[0].startswith("No GPU call has run yet")
    assert report.gpu_calls_table(ctx).empty
    # F1 seeds 0-2 are committed (the fixture); the GPU finished F1 seed 3 (300 s) and seed 4 in two parts
    # (stopped at 120 s, then 180 s: 300 s) -> 5.0 min per pair; C3 has no pair measured.
    _call(tmp_path, "2026-12-03T10:00:00", 540.0, [dict(net="F1", seed=3, status="exported", seconds=300),
                                                   dict(net="F1", seed=4, status="stopped at deadline", seconds=120)],
          bench=["C2-sb.json", "C1-sb.json"])
    _call(tmp_path, "2026-12-03T10:10:00", 200.0, [dict(net="F1", seed=4, status="exported", seconds=180)],
          complete=False)
    (line,) = report.gpu_time_lines(ctx)
    assert line.startswith("Total GPU time of the paper profile on NVIDIA H200: 12.3 min in 2 calls "
                           "(2 (net, seed) pairs and 2 bench records written); 1 call was cut off")
    calls = report.gpu_calls_table(ctx)
    assert list(calls["minutes"]) == ["9.0", "3.3 (cut off: at least)"]
    assert list(calls["pairs finished"]) == ["F1 s3", "F1 s4"] and calls["pairs stopped"][0] == "F1 s4"
    pairs = report.gpu_pairs_table(ctx).set_index("net")
    assert pairs.loc["F1", "pairs finished on a GPU"] == 2 and pairs.loc["F1", "minutes per pair"] == "5.0"
    # the records of seeds 3 and 4 are not here yet (not collected): two pairs left, 10 pair-minutes
    assert pairs.loc["F1", "seeds left"] == "3,4" and pairs.loc["F1", "pair-minutes left"] == "10"
    assert pairs.loc["C3", "minutes per pair"] == "not measured" and pairs.loc["C3", "pairs left"] == 5
    assert pairs.loc["C3", "pair-minutes left"] == "not measured"
    _record(tmp_path, "F1", "SB", 3, 1.0, 0.99, 30.0)
    _record(tmp_path, "F1", "LB", 3, 1.0, 0.96, 10.0)
    assert report.gpu_pairs_table(ctx).set_index("net").loc["F1", "seeds left"] == "4"
