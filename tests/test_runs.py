"""lbgap.core.runs: a run id -> its config, training record, checkpoint and model."""
from __future__ import annotations

import pytest
import torch

from lbgap.core import records
from lbgap.core import runs
from lbgap.core.train import flat_params, make_config, train


def test_a_trained_smoke_run_resolves_to_its_config_record_and_weights(results_dir, checkpoints):
    cfg = make_config("F1", "SB", 0, "smoke", max_epochs=1)
    rec = train(cfg, results_dir)
    run = runs.resolve(cfg.run_id, "smoke", results_dir)
    assert run.config == cfg and run.config.material() == cfg.material()
    assert run.record == records.read_record(records.record_path(results_dir, "smoke", "train", cfg.run_id))
    assert run.record["final"] == rec["final"] and run.path.is_file()
    assert run.checkpoint() == checkpoints / "smoke" / cfg.run_id / "final.pt" and run.checkpoint().is_file()
    assert run.checkpoint("x0").is_file()
    model, data, dev = run.load("cpu")
    saved = torch.load(run.checkpoint(), map_location="cpu", weights_only=True)
    assert model.state_dict().keys() == saved.keys()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    x0, _, _ = runs.load(cfg, "cpu", "x0")
    assert not torch.equal(flat_params(model), flat_params(x0))
    assert len(data.train) == cfg.n_train and dev == torch.device("cpu")
    # the path of the train record names the same run
    assert runs.resolve(run.path).config == cfg


def test_bad_runs_are_one_clear_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training record .*give a run id that `lbgap status` lists"):
        runs.resolve("F1-nothing-s0", "smoke", tmp_path)
    path = records.record_path(tmp_path, "smoke", "sharpness", "F1-x-s0")
    records.atomic_write_json(path, records.new_record("sharpness", run_id="F1-x-s0"))
    with pytest.raises(ValueError, match="is a 'sharpness' record, not a training record"):
        runs.resolve(path)
