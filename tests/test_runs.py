"""lbgap.core.runs: a run id -> its config, training record, checkpoint and model."""
from __future__ import annotations

import pytest
import torch

from lbgap.core import checkpoints as ck
from lbgap.core import paths
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
    folder = results_dir / "_checkpoints" / "smoke" / f"{cfg.run_id}-{ck.config_hash(cfg)}"
    assert run.checkpoint() == folder / "final.pt" and run.checkpoint().is_file()
    assert run.record["config_hash"] == ck.config_hash(cfg) and not checkpoints.exists()   # beside the records
    assert run.checkpoint("x0").is_file()
    model, data, dev = run.load("cpu")
    saved = torch.load(run.checkpoint(), map_location="cpu", weights_only=True)
    assert model.state_dict().keys() == saved.keys()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    x0, _, _ = runs.load(cfg, "cpu", "x0", results_dir)
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


def test_same_run_id_other_config_in_another_store_never_lends_its_weights(tmp_path, checkpoints):
    """The reliability issue's reproduction: two stores, one run id, two configurations."""
    a = make_config("F1", 16, 0, "smoke", max_epochs=1)
    b = make_config("F1", 16, 0, "smoke", max_epochs=2, lr=0.01)
    assert a.run_id == b.run_id and ck.config_hash(a) != ck.config_hash(b)
    train(a, tmp_path / "XA")
    train(b, tmp_path / "XB")
    model, _, _ = runs.resolve(a.run_id, "smoke", tmp_path / "XA").load("cpu")
    saved = torch.load(ck.run_dir(a, tmp_path / "XA") / "final.pt", weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    other = torch.load(ck.run_dir(b, tmp_path / "XB") / "final.pt", weights_only=True)
    assert not all(torch.equal(v, other[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="of another configuration .*differs in lr, max_epochs"):
        runs.load(b, "cpu", results_dir=tmp_path / "XA")
    # weights whose stamp names another configuration are refused, naming the file and how to recompute
    stamp = ck.run_dir(a, tmp_path / "XA") / ck.STAMP
    stamp.write_text(ck.run_dir(b, tmp_path / "XB").joinpath(ck.STAMP).read_text())
    with pytest.raises(ck.CheckpointMismatch, match=r"run\.json is of config .*names config .*--force"):
        runs.resolve(a.run_id, "smoke", tmp_path / "XA").load("cpu")
    (ck.run_dir(a, tmp_path / "XA") / "final.pt").unlink()
    stamp.write_text(ck.run_dir(b, tmp_path / "XB").joinpath(ck.STAMP).read_text().replace(
        ck.config_hash(b), ck.config_hash(a)))
    with pytest.raises(FileNotFoundError, match="no checkpoint .*final.pt for training record .*--force"):
        runs.load(a, "cpu", results_dir=tmp_path / "XA")


def test_default_store_keeps_data_checkpoints_and_old_records_read_the_old_place(tmp_path, checkpoints,
                                                                                 monkeypatch):
    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path / "results")
    cfg = make_config("F1", "SB", 0, "smoke", max_epochs=1)
    rec = train(cfg)
    assert rec["checkpoint"] == f"$LBGAP_CHECKPOINTS/smoke/{cfg.run_id}-{ck.config_hash(cfg)}"
    assert runs.resolve(cfg.run_id, "smoke").checkpoint() == ck.run_dir(cfg) / "final.pt"
    assert (checkpoints / "smoke" / f"{cfg.run_id}-{ck.config_hash(cfg)}" / "final.pt").is_file()
    # a record written before config hashes (as committed ones are) names <store>/<profile>/<run id>
    path = records.record_path(None, "smoke", "train", cfg.run_id)
    old = records.read_json(path)
    old.pop("config_hash")
    records.atomic_write_json(path, old)
    legacy = checkpoints / "smoke" / cfg.run_id
    legacy.mkdir(parents=True)
    (ck.run_dir(cfg) / "final.pt").rename(legacy / "final.pt")
    run = runs.resolve(cfg.run_id, "smoke")
    assert run.checkpoint() == legacy / "final.pt"
    model, _, _ = run.load("cpu")
    assert torch.equal(flat_params(model), flat_params(run.model("final")))
