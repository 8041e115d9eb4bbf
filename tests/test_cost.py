"""studies/cost.py: one measurement's record, its derived numbers, and a measurement in a process of its own."""
from __future__ import annotations

import logging
import math

import pytest

from lbgap.studies import cost


def test_measure_records_time_memory_and_accuracy_after_fixed_steps(tmp_path):
    rec = cost.measure("F1", 16, 0, "smoke", steps=12, warmup=4, results_dir=tmp_path)
    assert rec["run_id"] == "F1-b16-s0-steps12" and rec["examples"] == 12 * 16
    assert rec["steps_per_epoch"] == math.ceil(128 / 16)
    assert rec["seconds_per_epoch"] == pytest.approx(rec["steps_per_epoch"] * rec["seconds_per_step"])
    assert rec["samples_per_s"] == pytest.approx(16 / rec["seconds_per_step"])
    assert rec["peak_rss_mib"] >= rec["rss_before_mib"] > 0 and rec["cuda_max_allocated_mib"] is None
    # the training peak is read before the evaluation, whose peak is kept beside it
    assert rec["peak_rss_after_eval_mib"] >= rec["peak_rss_mib"] and rec["memory_phase"] == "training"
    assert 0 <= rec["test_acc"] <= 1
    assert cost.measure("F1", 16, 0, "smoke", steps=12, warmup=4, results_dir=tmp_path)["skipped"] is True
    with pytest.raises(ValueError, match="steps=3 must be larger than warmup=5"):
        cost.measure("F1", 16, 1, "smoke", steps=3, results_dir=tmp_path)


def test_run_measures_each_batch_size_in_its_own_process(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lbgap.studies.cost")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == cost.logger.name]

    out = cost.run("F1", seeds=[0], profile="smoke", batches=("LB",), steps=8, results_dir=tmp_path)
    assert [r["batch_size"] for r in out] == [32] and "F1 B=32 seed 0" in lines()[0]
    # the peak is the child's own: far below this test process's, which holds torch and the test suite
    assert out[0]["memory_method"] == "VmHWM" and out[0]["threads"] == 1
    assert out[0]["provenance"]["threads"] == 1
    df = cost.table(tmp_path, ("smoke",))
    assert len(df) == 1 and df.iloc[0].steps == 8
    # recorded: read back without starting a process; a bad request fails in one line in the parent
    again = cost.run("F1", seeds=[0], profile="smoke", batches=("LB",), steps=8, results_dir=tmp_path)
    assert again[0]["skipped"] is True and len(lines()) == 1
