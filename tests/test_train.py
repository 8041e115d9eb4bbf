import json

import pytest
import torch

from lbgap.core import paths
from lbgap.core import records
from lbgap.core.checkpoints import config_hash
from lbgap.core.train import (ConfigError, StoppingRule, checkpoint_dir, flat_params, initial_model, make_config,
                              resolve_batch_size, train)


def smoke(net="F1", batch="SB", seed=0, **kw):
    return make_config(net, batch, seed, "smoke", **kw)


def strip_volatile(rec: dict) -> dict:
    rec = json.loads(json.dumps(rec))
    rec.pop("provenance")
    for k in ("samples_per_s", "train_time_s", "checkpoint"):
        rec.pop(k, None)
    for h in rec["history"]:
        h.pop("time_s"), h.pop("train_time_s")
    return rec


def test_batch_size_resolution():
    assert resolve_batch_size("10%", 60000) == 6000
    assert resolve_batch_size("10%", 45000) == 4500
    assert resolve_batch_size(256, 60000) == 256
    for bad, msg in (("0", "at least 1"), ("70000", "larger than"), ("abc", "neither"), ("150%", "percentage")):
        with pytest.raises(ConfigError, match=msg):
            resolve_batch_size(bad, 60000)


def test_sb_lb_sizes_follow_the_training_set_actually_used():
    assert make_config("F1", "LB", 0, "paper", split="official").batch_size == 6000
    assert make_config("C1", "LB", 0, "paper", split="holdout").batch_size == 4500
    assert make_config("C1", "LB", 0, "paper", split="official").batch_size == 5000
    assert make_config("C1", "SB", 0, "paper").regime == "SB"


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown network"):
        make_config("X7", "SB", 0, "smoke")
    with pytest.raises(ConfigError, match="unknown profile"):
        make_config("F1", "SB", 0, "huge")
    with pytest.raises(ConfigError, match="larger than"):
        make_config("F1", 10**6, 0, "smoke")


def test_sb_and_lb_start_from_the_same_x0():
    sb, lb = smoke(batch="SB"), smoke(batch="LB")
    assert sb.batch_size != lb.batch_size
    assert torch.equal(flat_params(initial_model(sb)), flat_params(initial_model(lb)))
    assert not torch.equal(flat_params(initial_model(sb)), flat_params(initial_model(smoke(seed=1))))


def test_same_seed_gives_identical_records(results_dir, checkpoints):
    a = train(smoke(), results_dir / "a")
    b = train(smoke(), results_dir / "b")
    assert strip_volatile(a) == strip_volatile(b)
    c = train(smoke(seed=1), results_dir / "a")
    assert c["final"] != a["final"]


@pytest.mark.slow
def test_record_contents_and_checkpoints(results_dir, checkpoints, monkeypatch):
    monkeypatch.setattr(paths, "RESULTS_DIR", results_dir)   # the default store: checkpoints in $LBGAP_CHECKPOINTS
    cfg = smoke(net="C1", batch="LB")
    rec = train(cfg)
    path = records.record_path(results_dir, "smoke", "train", rec["run_id"])
    on_disk = json.loads(path.read_text())
    assert on_disk["config"]["net"] == "C1" and on_disk["config"]["regime"] == "LB"
    assert on_disk["epochs"] == len(on_disk["history"]) - 1 == 2
    assert on_disk["stop_reason"] == "max_epochs" and on_disk["status"] == "ok"
    assert on_disk["dist_from_init"] > 0
    for key in ("git_commit", "torch_version", "device", "wall_time_s"):
        assert on_disk["provenance"][key]
    folder = f"smoke/{rec['run_id']}-{config_hash(cfg)}"
    assert (checkpoints / folder / "x0.pt").is_file() and (checkpoints / folder / "final.pt").is_file()
    assert not (checkpoints / folder / "resume.pt").exists()   # the resume state goes when the run is done
    # a checkpoint store outside the repo is named by its variable, never by this machine's absolute path
    assert on_disk["checkpoint"] == f"$LBGAP_CHECKPOINTS/{folder}" and on_disk["config_hash"] == config_hash(cfg)


def test_rerun_is_skipped_unless_forced(results_dir, checkpoints):
    first = train(smoke(), results_dir)
    again = train(smoke(), results_dir)
    assert again.get("skipped") and again["provenance"] == first["provenance"]
    forced = train(smoke(), results_dir, force=True)
    assert not forced.get("skipped")


def test_a_different_config_under_the_same_id_is_refused(results_dir, checkpoints):
    train(smoke(), results_dir)
    with pytest.raises(ConfigError, match="different configuration"):
        train(smoke(lr=0.01), results_dir)


def test_interrupted_run_leaves_no_record(results_dir, checkpoints):
    def interrupt(row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(smoke(), results_dir, on_epoch=interrupt)
    assert not records.record_path(results_dir, "smoke", "train", smoke().run_id).exists()
    assert not list(results_dir.rglob("*.tmp"))
    # what it leaves is its resume state (after epoch 1), beside its checkpoints
    assert torch.load(checkpoint_dir(smoke(), results_dir) / "resume.pt", weights_only=True)["epoch"] == 1


def test_plateau_stops_the_run(results_dir, checkpoints):
    rec = train(smoke(max_epochs=6, patience=2, rel_tol=1.0), results_dir)  # no loss can drop by 100 %
    assert rec["stop_reason"] == "plateau" and rec["epochs"] == 2


def test_divergence_is_recorded_not_raised(results_dir, checkpoints):
    rec = train(smoke(optimizer="sgd", lr=1e12), results_dir)
    assert rec["status"] == "diverged" and rec["stop_reason"] == "diverged"
    assert records.record_path(results_dir, "smoke", "train", rec["run_id"]).is_file()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "r.json"
    records.atomic_write_json(p, {"a": 1})
    with pytest.raises(TypeError):
        records.atomic_write_json(p, {"a": object()})
    assert json.loads(p.read_text()) == {"a": 1}
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


def test_records_and_checkpoints_are_readable_under_the_umask(tmp_path):
    # mkstemp creates 0600 files; a record store shared by a cluster's users needs the umask's permissions
    import os

    old = os.umask(0o022)
    try:
        records.atomic_write_json(tmp_path / "r.json", {"a": 1})
        records.atomic_torch_save({"x": 1}, tmp_path / "c.pt")
    finally:
        os.umask(old)
    assert {f.name: f.stat().st_mode & 0o777 for f in tmp_path.iterdir()} == {"r.json": 0o644, "c.pt": 0o644}


def test_conservative_step_matches_the_proximal_update_by_hand():
    """Appendix E.2, Eq. 5 with SGD(lr) and 2 inner steps on one batch, checked against the closed form:
    x1 = x0 - lr g(x0); x2 = x1 - lr (g(x1) + lam (x1 - x0))."""
    from torch import nn

    from lbgap.core.data import TensorDataset
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import StepOptions, train_epoch

    torch.manual_seed(0)
    data = TensorDataset(torch.randint(0, 256, (8, 3), dtype=torch.uint8), torch.randint(0, 2, (8,)))
    model = nn.Linear(3, 2)
    ref = nn.Linear(3, 2)
    ref.load_state_dict(model.state_dict())
    lr, lam = 0.5, 3.0
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    steps, _ = train_epoch(model, opt, data, torch.Generator().manual_seed(0),
                           StepOptions(8, torch.autocast("cpu", enabled=False), inner_steps=2, prox=lam))
    assert steps == 1   # one batch = one outer iteration x_k -> x_{k+1}
    x, y = data.batch(slice(None))
    x0 = [p.detach().clone() for p in ref.parameters()]
    for _ in range(2):
        g = torch.autograd.grad(keras_cross_entropy(ref(x), y), list(ref.parameters()))
        with torch.no_grad():
            for p, gi, a in zip(ref.parameters(), g, x0):
                p -= lr * (gi + lam * (p - a))
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)
    assert not torch.allclose(model.weight, x0[0])   # it moved


def test_conservative_run_is_its_own_record_and_bad_values_are_refused(results_dir, checkpoints):
    plain = train(smoke(batch="LB"), results_dir)
    cons = train(smoke(batch="LB", inner_steps=3, prox=1e-3, tag="conservative"), results_dir)
    assert cons["run_id"].endswith("-conservative") and cons["optimizer_steps"] == 3 * cons["steps"]
    assert cons["steps"] == plain["steps"] and plain["optimizer_steps"] == plain["steps"]
    assert cons["final"]["train_loss"] != plain["final"]["train_loss"]
    for bad, msg in ((dict(inner_steps=0), "inner_steps"), (dict(prox=-1.0), "prox")):
        with pytest.raises(ConfigError, match=msg):
            smoke(batch="LB", **bad)


def test_on_step_hook_stops_training_at_an_exact_step():
    """The hook sees every step (count, examples, the batch's loss before its update); StopTraining raised at
    step 5 ends training right there, mid-way through the second epoch (batches of 48, 48, 32), and the weights
    are those of exactly 5 Adam steps by hand on the run's batches, dropout stream included (C1)."""
    from lbgap.core import data as datamod
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import StopTraining, make_trainer

    cfg = smoke(net="C1", batch=48)
    data = datamod.load(cfg.dataset, cfg.split, cfg.source, "cpu", cfg.n_train, cfg.n_test)
    trainer = make_trainer(cfg, data.num_classes, torch.device("cpu"))
    seen = []

    def hook(progress):
        seen.append((progress.step, progress.examples, float(progress.loss)))
        if progress.step == 5:
            raise StopTraining

    assert trainer.until_stopped(data.train, hook).step == 5
    assert [(s, e) for s, e, _ in seen] == [(1, 48), (2, 96), (3, 128), (4, 176), (5, 224)]

    model = initial_model(cfg, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed + 1_000_003)   # the dropout stream every recorded run was trained with
    order = [b for _ in range(2) for b in torch.randperm(len(data.train), generator=gen).split(48)]
    losses = []
    for idx in order[:5]:
        x, y = data.train.batch(idx)
        loss = keras_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert [loss for *_, loss in seen] == losses
    for p, q in zip(trainer.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_stopping_rule():
    rule = StoppingRule(1.0, rel_tol=0.1, patience=2)
    assert rule.after_epoch(0.95, 1.0) is None                  # not 10 % better: wait 1
    assert rule.after_epoch(0.85, 1.0) is None                  # new best, wait 0
    assert rule.after_epoch(0.80, 1.0) is None                  # wait 1
    assert rule.after_epoch(0.84, 1.0) == "plateau"             # wait 2
    assert StoppingRule(1.0, 0.1, 5).after_epoch(0.5, float("nan")) == "diverged"
    assert StoppingRule(1.0, 0.1, 5).after_epoch(float("inf"), 1.0) == "diverged"


def test_a_run_that_keeps_no_checkpoints_leaves_no_files(results_dir, checkpoints):
    rec = train(smoke(save_checkpoints=False, max_epochs=2), results_dir)
    assert rec["checkpoint"] is None and rec["config_hash"]
    assert not [p for p in (results_dir / "_checkpoints").rglob("*") if p.is_file()] and not checkpoints.exists()
