"""A killed ``lbgap train`` resumes from its last complete epoch and ends as an uninterrupted run would.

Real processes: ``python -m lbgap.cli train`` on the smoke profile, slowed down by ``$LBGAP_EPOCH_PAUSE_S`` (a
pause after each epoch) so that it can be killed with SIGKILL between epochs; the rerun of the same command
must say where it resumes and write the record and weights of an uninterrupted run, bit for bit on a CPU.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lbgap.core import checkpoints as ck
from lbgap.core import paths
from lbgap.core import records
from lbgap.core.train import make_config

ARGS = ["--net", "F1", "--batch-size", "16", "--profile", "smoke", "--max-epochs", "4"]
CFG = make_config("F1", 16, 0, "smoke", max_epochs=4)


def lbgap_train(store: Path, pause: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, CI="1", OMP_NUM_THREADS="1", PYTHONPATH=str(paths.REPO_ROOT / "src"),
               LBGAP_EPOCH_PAUSE_S=str(pause))
    return subprocess.Popen([sys.executable, "-m", "lbgap.cli", "train", *ARGS, "--results-dir", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"lbgap train failed (exit {proc.returncode}):\n{out}\n{err[-3000:]}"
    return out


def saved_epoch(state: Path) -> int:
    try:
        return torch.load(state, weights_only=True)["epoch"]
    except (FileNotFoundError, RuntimeError, EOFError):
        return 0


def strip(rec: dict) -> dict:
    """A training record without what differs between two runs of one configuration (timings, provenance)."""
    rec = json.loads(json.dumps(rec))
    for k in ("provenance", "samples_per_s", "train_time_s"):
        rec.pop(k)
    for row in rec["history"]:
        row.pop("time_s"), row.pop("train_time_s")
    return rec


def comparable(store: Path) -> dict:
    """The training record of ``CFG`` in ``store``, :func:`strip`-ped."""
    return strip(records.read_json(records.record_path(store, "smoke", "train", CFG.run_id)))


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole = lbgap_train(tmp_path / "whole")
    killed = lbgap_train(tmp_path / "killed", pause=3.0)
    state = ck.run_dir(CFG, tmp_path / "killed") / ck.RESUME
    end = time.monotonic() + 240
    while saved_epoch(state) < 2:   # epoch 2 done, its state saved: the run now pauses for 3 s
        assert killed.poll() is None, f"the run ended before it was killed:\n{killed.communicate()}"
        assert time.monotonic() < end, "no state of epoch 2 within 240 s"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    at = saved_epoch(state)
    assert at >= 2 and not records.record_path(tmp_path / "killed", "smoke", "train", CFG.run_id).exists()
    finished(whole)

    out = finished(lbgap_train(tmp_path / "killed"))
    assert out.splitlines()[0] == f"resuming {CFG.run_id} from epoch {at}"
    assert not state.exists()   # removed once the run is done
    assert comparable(tmp_path / "killed") == comparable(tmp_path / "whole")
    for which in ("x0", "final"):
        a = torch.load(ck.run_dir(CFG, tmp_path / "whole") / f"{which}.pt", weights_only=True)
        b = torch.load(ck.run_dir(CFG, tmp_path / "killed") / f"{which}.pt", weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Killed(Exception):
    """Stands for a SIGKILL right after a state was saved."""


def test_a_run_stopped_within_an_epoch_resumes_from_that_batch(tmp_path, monkeypatch, caplog):
    from lbgap.core import train as tr

    cfg = make_config("F1", 16, 0, "smoke", max_epochs=2, n_train=64, n_test=32)
    whole = tr.train(cfg, tmp_path / "whole")
    save = tr.ResumeState.save

    def save_then_die(self, state):
        save(self, state)
        if state.epoch == 1 and state.partial and state.partial["batch"] == 3:   # 3 batches into epoch 2
            raise Killed

    monkeypatch.setattr(tr, "SAVE_EVERY_S", 0.0)   # a state after every batch
    monkeypatch.setattr(tr.ResumeState, "save", save_then_die)
    with pytest.raises(Killed):
        tr.train(cfg, tmp_path / "killed")
    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level("INFO", logger="lbgap"):
        again = tr.train(cfg, tmp_path / "killed")   # it says so through the library's logger
    assert caplog.messages[0] == f"resuming {cfg.run_id} from epoch 1 and batch 3 of epoch 2"

    assert strip(again) == strip(whole)
    a = torch.load(ck.run_dir(cfg, tmp_path / "whole") / "final.pt", weights_only=True)
    b = torch.load(ck.run_dir(cfg, tmp_path / "killed") / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (ck.run_dir(cfg, tmp_path / "killed") / ck.RESUME).exists()


@pytest.mark.slow
def test_a_preempted_submitit_task_is_requeued_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    from lbgap.core import sweep
    from lbgap.core import train as tr
    from lbgap.core.cluster import RequeuedRun, SubmititExecutor

    monkeypatch.setenv("PYTHONPATH", str(paths.REPO_ROOT / "src"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = make_config("F1", 16, 0, "smoke", max_epochs=4, extra={"throttle_s": 3.0})   # run_one pauses
    store = tmp_path / "store"
    ex = SubmititExecutor(cluster="local")
    ex._setup([cfg], "resume", tmp_path / "logs")
    job = ex._executor().submit(RequeuedRun(sweep.run_one), cfg.to_dict(), str(store), False)
    state = ck.run_dir(cfg, store) / ck.RESUME
    end = time.monotonic() + 240
    while saved_epoch(state) < 2:
        assert not job.done(), f"the task ended before it was preempted:\n{job.stderr()}"
        assert time.monotonic() < end, "no state of epoch 2 within 240 s"
        time.sleep(0.05)
    at = saved_epoch(state)
    # what SLURM does on preemption or near the time limit: USR2 to the task (the local controller's child)
    controller = job._process.pid
    task = int(Path(f"/proc/{controller}/task/{controller}/children").read_text().split()[0])
    os.kill(task, signal.SIGUSR2)
    outcome = job.result()
    assert outcome.status == "done", outcome
    assert f"resuming {cfg.run_id} from epoch {at}" in job.stdout()
    rec = records.read_json(records.record_path(store, "smoke", "train", cfg.run_id))
    whole = tr.train(cfg, tmp_path / "whole")
    assert rec["final"] == whole["final"] and rec["history"][-1]["train_loss"] == whole["history"][-1]["train_loss"]
    assert not state.exists()
