"""lbgap.book.reproducibility: provenance, wall time, throughput, reruns beside their originals and GPU time, on
hand-made records."""
from __future__ import annotations

import math

import pytest
from book_records import gpu_call_record, three_f1_pairs, train_record

from lbgap.book import reproducibility
from lbgap.core import records


@pytest.fixture
def ctx(tmp_path):
    return three_f1_pairs(tmp_path)


def test_timing_and_provenance(ctx, tmp_path):
    t = reproducibility.timing_table(ctx)
    assert t["records"].sum() == 6 and set(t["wall time (h)"]) == {"3.00"}
    # a variant's runs (Figure 4's "fig4") are timed apart from Table 2's
    rec = records.read_json(records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b256-s0"))
    rec["config"]["tag"], rec["run_id"] = "fig4", rec["run_id"] + "-fig4"
    records.atomic_write_json(records.record_path(tmp_path, "paper", "train", rec["run_id"]), rec)
    t = reproducibility.timing_table(ctx).set_index(["kind", "regime"])
    assert t.loc[("train (fig4)", "SB"), "records"] == 1 and t.loc[("train", "SB"), "records"] == 3
    p = reproducibility.provenance_table(ctx)
    assert p["records"].sum() == 7 and set(p["device"]) == {"cpu (test)"}
    assert set(p["cpu"]) == {"not recorded"}   # the hand-made records predate the field
    import torch

    assert records.provenance("cpu")["cpu"].endswith(f"({torch.backends.cpu.get_cpu_capability()})")
    assert math.isclose(float(reproducibility.profiles_table().set_index("profile").loc["paper", "lb_fraction"]), 0.1)


def test_throughput_table(ctx):
    t = reproducibility.throughput_table(ctx).set_index("regime")
    assert t.loc["SB", "samples/s (training)"] == "2,000" and t.loc["SB", "records"] == 3  # mean of 1k, 2k, 3k
    assert t.loc["LB", "samples/s (training)"] == "1" and t.loc["LB", "batch"] == 6000


def test_wall_time_of_records_that_grow_piece_by_piece():
    assert reproducibility._wall_s({"provenance": {"wall_time_s": 5.0}, "entries": {"a": {"wall_s": 1.0}}}) == 5.0
    sharp = {"provenance": {"wall_time_s": None}, "entries": {"a": {"wall_s": 1.5}, "b": {"wall_s": 2.0}},
             "hessian": {"wall_s": 0.5}}
    assert reproducibility._wall_s(sharp) == 4.0
    assert reproducibility._wall_s({"provenance": {}, "parts": {"linear": {"wall_s": 3.0}, "contour": {"wall_s": 4.0}}}) == 7.0


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
    t = reproducibility.rerun_table(ctx)
    assert len(t) == 1
    row = t.iloc[0]
    assert row.run == "F1-mnist-official-b6000-s1" and row.diff_pt == "+0.35"
    assert (row.test_acc_original, row.test_acc_rerun) == ("96.00", "96.35")
    assert row.rerun_on == "Some CPU (AVX512)" and row.original_on.endswith("(CPU model not recorded)")


def test_gpu_time_adds_up_the_calls_and_prices_the_pairs_left(ctx, tmp_path):
    assert reproducibility.gpu_time_lines(ctx)[0].startswith("No record was computed on a GPU")
    assert reproducibility.gpu_calls_table(ctx).empty
    # F1 seeds 0-2 are committed (the fixture); the GPU finished F1 seed 3 (300 s) and seed 4 in two parts
    # (stopped at 120 s, then 180 s: 300 s) -> 5.0 min per pair; C3 has no pair measured.
    gpu_call_record(tmp_path, "2026-12-03T10:00:00", 540.0, [dict(net="F1", seed=3, status="exported", seconds=300),
                                                   dict(net="F1", seed=4, status="stopped at deadline", seconds=120)],
          bench=["C2-sb.json", "C1-sb.json"])
    gpu_call_record(tmp_path, "2026-12-03T10:10:00", 200.0, [dict(net="F1", seed=4, status="exported", seconds=180)],
          complete=False)
    (line,) = reproducibility.gpu_time_lines(ctx)
    assert line.startswith("Total GPU time of the paper profile on NVIDIA H200: 12.3 min in 2 calls "
                           "(2 (net, seed) pairs and 2 bench records written); 1 call was cut off")
    calls = reproducibility.gpu_calls_table(ctx)
    assert list(calls["minutes"]) == ["9.0", "3.3 (cut off: at least)"]
    assert list(calls["pairs finished"]) == ["F1 s3", "F1 s4"] and calls["pairs stopped"][0] == "F1 s4"
    pairs = reproducibility.gpu_pairs_table(ctx).set_index("net")
    assert pairs.loc["F1", "pairs finished on a GPU"] == 2 and pairs.loc["F1", "minutes per pair"] == "5.0"
    # the records of seeds 3 and 4 are not here yet (not collected): two pairs left, 10 pair-minutes
    assert pairs.loc["F1", "seeds left"] == "3,4" and pairs.loc["F1", "pair-minutes left"] == "10"
    assert pairs.loc["C3", "minutes per pair"] == "not measured" and pairs.loc["C3", "pairs left"] == 5
    assert pairs.loc["C3", "pair-minutes left"] == "not measured"
    train_record(tmp_path, "F1", "SB", 3, 1.0, 0.99, 30.0)
    train_record(tmp_path, "F1", "LB", 3, 1.0, 0.96, 10.0)
    assert reproducibility.gpu_pairs_table(ctx).set_index("net").loc["F1", "seeds left"] == "4"


def test_seeds_at_once_long_has_one_row_per_way_of_running():
    import pandas as pd

    wide = pd.DataFrame([{"device": "cpu", "net": "F1", "regime": "SB", "batch": 256, "one_model_sps": "100",
                          "processes": 2, "processes_sps": "190", "processes_x": "1.90×",
                          "stacked_seeds": 4, "stacked_sps": "300", "stacked_x": "3.00×",
                          "threads": "2 (no streams)", "threads_sps": "90", "threads_x": "0.90×"}])
    long = reproducibility.seeds_at_once_long(wide)
    assert list(long.way) == ["one model", "processes", "stacked", "threads"]
    assert list(long.seeds) == ["1", "2", "4", "2 (no streams)"]
    assert list(long.samples_per_s) == ["100", "190", "300", "90"]
    assert list(long.x_one) == ["1×", "1.90×", "3.00×", "0.90×"]


def test_gpu_records_without_a_gpu_call_record_are_counted_from_provenance(ctx, tmp_path):
    path = records.record_path(tmp_path, "paper", "train", "F1-mnist-official-b256-s0")
    rec = records.read_json(path)
    rec["provenance"]["device"] = "NVIDIA H200"
    records.atomic_write_json(path, rec)
    line = reproducibility.gpu_time_lines(ctx)[0]
    assert line.startswith("No GPU-call record") and "1 of the 6 records name a GPU" in line and "1 on NVIDIA H200" in line
