"""threshold.py (Figure 4): the fixed-epoch grid over batch sizes, its records and its table, on smoke data."""
from __future__ import annotations

import pytest

from lbgap import cli
from lbgap.core import records
from lbgap.studies import threshold as th


def test_grid_is_fixed_epoch_tagged_and_deduplicated():
    cfgs = th.grid("F1", ["16", "32", "25%"], seeds=[0, 1], profile="smoke", epochs=3)
    # smoke F1 trains on 128 examples: 25 % is 32, the same run as "32"
    assert [(c.seed, c.batch_size) for c in cfgs] == [(0, 16), (0, 32), (1, 16), (1, 32)]
    assert all(c.max_epochs == 3 and c.patience > 3 and c.tag == "fig4" for c in cfgs)
    assert cfgs[0].run_id.endswith("-b16-s0-fig4")   # never the Table 2 run of the same batch size
    with pytest.raises(ValueError, match="at least 1"):
        th.grid("F1", ["16"], profile="smoke", epochs=0)
    with pytest.raises(ValueError, match="larger than the 128 training examples"):
        th.grid("F1", ["16", "4096"], profile="smoke", epochs=2)


@pytest.mark.slow
def test_sweep_records_train_and_sharpness_and_the_table_reads_them(tmp_path, monkeypatch):
    monkeypatch.setattr(th, "SHARPNESS", (("random", "mean"),))   # full space on a 1.5 M-parameter MLP: slow
    assert cli.main(["sweep", "threshold", "--net", "F1", "--profile", "smoke", "--epochs", "2", "--seeds", "0",
                     "--batch-sizes", "16,25%", "--train-examples", "64", "--results-dir", str(tmp_path)]) == 0
    df = th.table(tmp_path, ("smoke",))
    assert list(df.batch_size) == [16, 32] and list(df.epochs) == [2, 2]
    assert list(df.steps) == [2 * 128 // 16, 2 * 128 // 32]   # a fixed number of epochs, no early stop
    assert (df.phi_random > 0).all() and df.phi_full_sum.isna().all()
    assert set(df.sharpness_examples) == {"the first 64 training examples"}
    rec = records.read_json(records.record_path(tmp_path, "smoke", "sharpness", "F1-mnist-official-b16-s0-fig4"))
    assert set(rec["entries"]) == {"random-eps0.001-p100-A0-n64"}
    # the Table 3/4 tables never see these runs
    from lbgap.measures import sharpness

    assert sharpness.sharpness_table(tmp_path, "smoke").empty
    assert len(sharpness.sharpness_table(tmp_path, "smoke", tag=None)) == 2
    # a rerun skips what exists; bad input is a clear error (exit 2), nothing written
    assert cli.main(["sweep", "threshold", "--net", "F1", "--profile", "smoke", "--epochs", "2", "--seeds", "0",
                     "--batch-sizes", "16,25%", "--train-examples", "64", "--results-dir", str(tmp_path)]) == 0
    assert cli.main(["sweep", "threshold", "--net", "F1", "--profile", "smoke", "--epochs", "2",
                     "--batch-sizes", "16,lots", "--results-dir", str(tmp_path)]) == 2
    assert len(th.table(tmp_path, ("smoke",))) == 2


def test_empty_table_has_the_columns_the_chapter_uses(tmp_path):
    df = th.table(tmp_path)
    assert df.empty and {"batch_size", "test_acc", "phi_full_sum", "phi_random"} <= set(df.columns)
