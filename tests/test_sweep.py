"""Sweeps survive crashes: claims, failure notes, kill -9 of a worker, Ctrl-C -- with real processes.

The crash tests start real sweeps (``python`` subprocesses running lbgap.core.sweep.run_grid or the CLI) on the
smoke profile with tiny F1 runs; one run is slowed down by ``extra={"throttle_s": ...}`` (a pause after each
epoch, recorded in its config) so that it is reliably mid-run when it is killed.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbgap.core import paths
from lbgap.core import sweep
from lbgap.core.train import make_config

# A sweep of three tiny F1 runs; the first is slow (EPOCHS epochs with a pause after each).
DRIVER = r'''
import sys
from lbgap.core import sweep
from lbgap.core.train import make_config

if __name__ == "__main__":  # the local executor spawns workers, which import this file again
    rd, executor, epochs, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    sweep.log_to_stdout()   # the library logs each run's outcome; a script shows it (as `lbgap` does)
    tiny = dict(n_train=32, n_test=16)
    grid = [make_config("F1", "SB", 0, "smoke", tag="slow", max_epochs=epochs, patience=10**6,
                        extra={"throttle_s": pause}, **tiny),
            make_config("F1", "LB", 0, "smoke", **tiny), make_config("F1", "SB", 1, "smoke", **tiny)]
    if executor == "local":
        ex = sweep.LocalExecutor(workers=2)
    elif executor == "submitit":
        from lbgap.core.cluster import SubmititExecutor
        ex = SubmititExecutor(cluster="local")
    else:
        ex = "serial"
    outs = sweep.run_grid(grid, rd, ex, label="crash")
    sys.exit(1 if any(o.status == "failed" for o in outs) else 0)
'''
SLOW = "F1-mnist-official-b16-s0-slow"
ALL = {SLOW, "F1-mnist-official-b8-s0", "F1-mnist-official-b16-s1"}


def env_for(tmp_path: Path) -> dict:
    return dict(os.environ, LBGAP_CHECKPOINTS=str(tmp_path / "ckpt"), CI="1", OMP_NUM_THREADS="1",
                PYTHONPATH=str(paths.REPO_ROOT / "src"))


def start_driver(tmp_path: Path, executor: str, epochs: int = 12, pause: float = 0.25, **kw) -> subprocess.Popen:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "results"), executor, str(epochs), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path), **kw)


def wait_for(fn, proc: subprocess.Popen, timeout: float = 120.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended (exit {proc.returncode}) before {what}:\n{out}\n{err[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def claim_pid(rd: Path, run_id: str):
    try:
        return json.loads(sweep.claim_path(rd, "smoke", run_id).read_text())["pid"]
    except (FileNotFoundError, ValueError, KeyError):
        return None


def records(rd: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in (rd / "smoke" / "train").glob("*.json")}


def leftovers(tmp_path: Path) -> list[Path]:
    """Half-written files: atomic writes' temporaries (``.<name>.*.tmp``), set-aside claims."""
    return [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".stale"))]


# ------------------------------------------------------------------------------------------ registries
def test_executors_and_post_steps_are_found_by_name_with_no_other_import(tmp_path):
    # a fresh interpreter that imports only lbgap.core.sweep: every executor and post step is reachable by its
    # name, and building the submitit executor does not need submitit (imported only when a sweep submits)
    code = ("import sys; from lbgap.core import sweep; "
            "ex = sweep.make_executor('submitit', cluster='local'); "
            "assert type(ex).__name__ == 'SubmititExecutor' and ex.name == 'submitit', ex; "
            "assert 'submitit' not in sys.modules; "
            "assert sweep.get_executor('local') is sweep.LocalExecutor; "
            "assert sweep.get_executor('serial') is sweep.SerialExecutor; "
            "import lbgap.measures.sharpness as s, lbgap.measures.landscape as l; "
            "assert sweep.get_post('sharpness') is s.post_pair and sweep.get_post('landscape') is l.post_pair")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=env_for(tmp_path))
    assert out.returncode == 0, out.stderr


def test_unknown_executor_or_post_step_is_a_clear_error_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown executor 'slurm': choose one of serial, local, submitit"):
        sweep.make_executor("slurm")
    grid = [make_config("F1", "SB", 0, "smoke")]
    with pytest.raises(ValueError, match="unknown post-processing 'hessian': choose from sharpness, landscape"):
        sweep.run_grid(grid, tmp_path, post=["sharpness", "hessian"])
    assert not any(tmp_path.rglob("*"))


# ------------------------------------------------------------------------------------ claims, in-process
def test_claim_is_exclusive_and_released(tmp_path):
    a, b = sweep.Claim(tmp_path, "smoke", "r1"), sweep.Claim(tmp_path, "smoke", "r1")
    assert a.acquire()
    assert not b.acquire() and b.holder["pid"] == os.getpid() and not b.holder["stale"]
    b.release()  # not its claim: must not remove a's
    assert sweep.claim_path(tmp_path, "smoke", "r1").is_file()
    a.release()
    assert not sweep.claim_path(tmp_path, "smoke", "r1").exists()
    assert b.acquire()
    b.release()


def test_stale_claims_are_taken_over_and_live_ones_are_not(tmp_path):
    path = sweep.claim_path(tmp_path, "smoke", "r1")
    path.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    # 1) same host, process gone -> stale at once
    path.write_text(json.dumps(dict(host=sweep.HOST, pid=int(dead.stdout), token="x")))
    assert sweep.read_claim(path)["stale"]
    c = sweep.Claim(tmp_path, "smoke", "r1")
    assert c.acquire() and json.loads(path.read_text())["token"] == c.token
    c.release()
    # 2) another host, fresh heartbeat -> live; heartbeat older than STALE_MINUTES -> stale
    path.write_text(json.dumps(dict(host="node-elsewhere", pid=1, token="y")))
    assert not sweep.Claim(tmp_path, "smoke", "r1").acquire()
    old = time.time() - sweep.STALE_MINUTES * 60 - 5
    os.utime(path, (old, old))
    c = sweep.Claim(tmp_path, "smoke", "r1")
    assert c.acquire()
    c.release()
    assert leftovers(tmp_path) == []


def test_setting_aside_a_claim_that_changed_meanwhile_puts_it_back(tmp_path):
    path = sweep.claim_path(tmp_path, "smoke", "r1")
    path.parent.mkdir(parents=True)
    path.write_text('{"token": "fresh"}')  # someone took over after we judged the old claim stale
    assert sweep._set_aside(path, '{"token": "old"}') is False
    assert path.read_text() == '{"token": "fresh"}' and leftovers(tmp_path) == []


def test_failure_note_is_written_and_cleared_by_success(tmp_path, checkpoints):
    rd = tmp_path / "results"
    bad = make_config("F1", "SB", 0, "smoke", n_train=32, n_test=16, max_epochs=1)
    d = bad.to_dict()
    d["net"] = "F9"  # passes the config, fails inside train
    out = sweep.run_one(d, str(rd))
    note = json.loads(sweep.failed_path(rd, "smoke", out.run_id).read_text())
    assert out.status == "failed" and "F9" in note["error"] and note["host"] == sweep.HOST
    assert sweep.run_state(rd, "smoke", out.run_id)[0] == "failed"
    good = make_config("F1", "SB", 0, "smoke", n_train=32, n_test=16, max_epochs=1)
    sweep.record_failure(rd, "smoke", good.run_id, "RuntimeError: earlier attempt")
    assert sweep.run_one(good.to_dict(), str(rd)).status == "done"
    assert not sweep.failed_path(rd, "smoke", good.run_id).exists()
    assert sweep.run_state(rd, "smoke", good.run_id)[0] == "done"
    assert not any(sweep.claim_path(rd, "smoke", "x").parent.glob("*"))


def test_release_never_raises_out_of_finally(tmp_path, monkeypatch):
    claim = sweep.Claim(tmp_path, "smoke", "F1-x")
    assert claim.acquire()

    def gone(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(sweep, "read_claim", gone)   # the store went read-only or away mid-run
    claim.release()
    assert not claim.held


def test_a_failed_write_is_that_runs_failure_and_the_sweep_goes_on(tmp_path, checkpoints):
    rd = tmp_path / "results"
    tiny = dict(n_train=32, n_test=16, max_epochs=1)
    grid = [make_config("F1", "SB", 0, "smoke", **tiny), make_config("F1", "SB", 1, "smoke", **tiny)]
    blocked = rd / "smoke" / "train" / f"{grid[0].run_id}.json"
    blocked.mkdir(parents=True)   # its record cannot be written (a folder is in the way)
    outcomes = sweep.run_grid(grid, rd)
    assert [o.status for o in outcomes] == ["failed", "done"]
    assert "IsADirectoryError" in outcomes[0].error or "Is a directory" in outcomes[0].error
    assert sweep.run_state(rd, "smoke", grid[0].run_id)[0] == "failed"


def test_a_sweep_whose_bookkeeping_cannot_be_written_still_returns(tmp_path, checkpoints, caplog):
    rd = tmp_path / "results"
    (rd / "smoke").mkdir(parents=True)
    (rd / "smoke" / "_sweep").write_text("in the way")   # no claims, no failure notes, no manifest
    grid = [make_config("F1", "SB", s, "smoke", n_train=32, n_test=16, max_epochs=1) for s in (0, 1)]
    caplog.set_level(logging.INFO, logger="lbgap")
    outcomes = sweep.run_grid(grid, rd)
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all("could not be written either" in o.error for o in outcomes)
    logged = [r for r in caplog.records if r.name == sweep.logger.name]
    first = logged[0]   # a problem that does not stop the sweep: a warning, shown under --quiet too
    assert "manifest could not be written" in first.getMessage() and first.levelno == logging.WARNING
    assert [r.levelno for r in logged if r.getMessage().startswith("failed")] == [logging.WARNING] * 2


def test_a_malformed_record_is_not_a_finished_run(tmp_path, checkpoints):
    rd = tmp_path / "results"
    cfg = make_config("F1", "SB", 0, "smoke", n_train=32, n_test=16, max_epochs=1)
    path = rd / "smoke" / "train" / f"{cfg.run_id}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": 1}')
    state, info = sweep.run_state(rd, "smoke", cfg.run_id)
    assert state == "failed" and str(path) in info["error"]
    out = sweep.run_one(cfg.to_dict(), str(rd))
    assert out.status == "failed" and "no 'kind'" in out.error and str(path) in out.error
    assert path.read_text() == '{"schema": 1}'
    assert sweep.run_one(cfg.to_dict(), str(rd), force=True).status == "done"   # --force replaces it
    assert sweep.run_state(rd, "smoke", cfg.run_id)[0] == "done"


def test_local_executor_pins_one_worker_per_gpu():
    ex = sweep.LocalExecutor(gpus=["0", "1", "3"])
    assert ex.workers == 3 and [ex.gpus[s % len(ex.gpus)] for s in range(3)] == ["0", "1", "3"]
    assert sweep.LocalExecutor(workers=2, gpus=[]).workers == 2
    with pytest.raises(ValueError, match="at least 1"):
        sweep.LocalExecutor(workers=-1, gpus=[])


# ----------------------------------------------------------------------------------- real processes
@pytest.mark.slow
def test_local_executor_survives_kill_9_of_a_worker_and_rerun_redoes_only_that_run(tmp_path):
    rd = tmp_path / "results"
    p = start_driver(tmp_path, "local")
    pid = wait_for(lambda: claim_pid(rd, SLOW), p, what="the slow run to start")
    time.sleep(1.0)
    assert SLOW not in records(rd)  # mid-run
    os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=180)
    assert p.returncode == 1, out + err
    assert f"failed    {SLOW}" in out and "SIGKILL" in out
    first = records(rd)
    assert set(first) == ALL - {SLOW}  # the others finished although a worker died
    note = json.loads(sweep.failed_path(rd, "smoke", SLOW).read_text())
    assert "WorkerDied" in note["error"] and "SIGKILL" in note["error"]
    assert sweep.read_claim(sweep.claim_path(rd, "smoke", SLOW))["stale"]  # its owner is gone
    assert leftovers(tmp_path) == []

    again = start_driver(tmp_path, "local")
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, out + err
    assert f"done      {SLOW}" in out and out.count("skipped") == 2
    second = records(rd)
    assert set(second) == ALL and all(second[k] == v for k, v in first.items())  # untouched, no duplicate
    rec = json.loads(second[SLOW])
    assert rec["status"] == "ok" and rec["epochs"] == 12 and len(rec["history"]) == 13
    assert not sweep.failed_path(rd, "smoke", SLOW).exists()
    assert list(sweep.claim_path(rd, "smoke", SLOW).parent.glob("*")) == []
    assert leftovers(tmp_path) == []
    assert [s["counts"] for s in sweep.sweep_status(rd)] == [dict(done=3, running=0, failed=0, missing=0)]


@pytest.mark.slow
def test_a_run_in_flight_elsewhere_is_not_started_twice(tmp_path):
    rd = tmp_path / "results"
    first = start_driver(tmp_path, "serial", epochs=8, pause=1.5)  # in flight for > 12 s
    owner = wait_for(lambda: claim_pid(rd, SLOW), first, what="the slow run to start")
    second = start_driver(tmp_path, "serial", epochs=8, pause=1.5)  # same grid, started while the first is running
    out2, err2 = second.communicate(timeout=180)
    out1, err1 = first.communicate(timeout=180)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert f"done      {SLOW}" in out1
    assert f"running   {SLOW}" in out2 and f"pid {owner}" in out2  # saw the claim, did not train it
    assert set(records(rd)) == ALL and json.loads(records(rd)[SLOW])["epochs"] == 8
    assert list(sweep.claim_path(rd, "smoke", SLOW).parent.glob("*")) == [] and leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "local"])
def test_ctrl_c_exits_130_cleanly_and_keeps_finished_runs(tmp_path, executor):
    rd = tmp_path / "results"
    args = [sys.executable, "-m", "lbgap.cli", "sweep", "table2", "--profile", "smoke", "--seeds", "0-4",
            "--nets", "F1", "--max-epochs", "400", "--executor", executor, "--results-dir", str(rd)]
    if executor == "local":
        args += ["--workers", "2"]
    # its own process group, like a terminal's foreground job; SIGINT restored to its default in the child,
    # since a runner started in the background (`cmd &`) passes SIGINT on as ignored and Python keeps that
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path),
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    claims = sweep.claim_path(rd, "smoke", "x").parent
    wait_for(lambda: claims.is_dir() and any(claims.glob("*.claim")), p, what="a run to start")
    time.sleep(0.3)
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the whole foreground group
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, out + err
    assert "Traceback" not in err and "interrupted" in err, err
    assert list(claims.glob("*")) == [] and leftovers(tmp_path) == []
    for rec in (rd / "smoke" / "train").glob("*.json"):
        assert json.loads(rec.read_text())["status"] == "ok"  # whatever finished is whole
    assert len(list((rd / "smoke" / "train").glob("*.json"))) < 10


def test_measure_after_runs_once_under_its_own_claim_and_reports_a_failure(tmp_path):
    from lbgap.core.sweep import Claim, Outcome, claim_path, measure_after
    from lbgap.core.train import make_config

    cfg = make_config("F1", "SB", 0, "smoke")
    calls = []
    done = Outcome(cfg.run_id, "done")
    assert measure_after(done, cfg, tmp_path, "sharpness", lambda: calls.append(1)) is done and calls == [1]
    assert not claim_path(tmp_path, cfg.profile, f"sharpness-{cfg.run_id}").exists()      # released
    other = Claim(tmp_path, cfg.profile, f"sharpness-{cfg.run_id}")                         # held by another sweep
    assert other.acquire()
    try:
        assert measure_after(done, cfg, tmp_path, "sharpness", lambda: calls.append(2)) is done and calls == [1]
    finally:
        other.release()
    failed = Outcome(cfg.run_id, "failed", "boom")
    assert measure_after(failed, cfg, tmp_path, "sharpness", lambda: calls.append(3)) is failed and calls == [1]

    def broken():
        raise RuntimeError("no Hessian")

    out = measure_after(Outcome(cfg.run_id, "skipped"), cfg, tmp_path, "sharpness", broken)
    assert (out.status, out.run_id) == ("failed", f"sharpness:{cfg.run_id}") and "no Hessian" in out.error


def test_a_pairs_post_step_runs_under_its_own_claim_and_reports_a_failure(tmp_path, monkeypatch):
    # sweep table2 --post: the step of a finished SB/LB pair is skipped while another sweep holds its claim, runs
    # once the claim is free, and a step that raises becomes one failed outcome (the training records stand)
    calls = []
    steps = {"count": lambda sb, lb, rd, force: calls.append((sb.regime, lb.regime)),
             "broken": lambda sb, lb, rd, force: 1 / 0}
    monkeypatch.setattr(sweep, "get_post", steps.__getitem__)
    grid = [make_config("F1", r, 0, "smoke", max_epochs=1) for r in ("SB", "LB")]
    other = sweep.Claim(tmp_path, "smoke", f"post-count-{grid[0].run_id}")
    assert other.acquire()
    try:
        outs = sweep.run_grid(grid, tmp_path, post=["count"])
    finally:
        other.release()
    assert [o.status for o in outs] == ["done", "done"] and calls == []
    outs = sweep.run_grid(grid, tmp_path, post=["count", "broken"])
    assert calls == [("SB", "LB")]
    assert [(o.run_id, o.status) for o in outs[2:]] == [(f"post-broken:{grid[0].run_id}", "failed")]
    assert "ZeroDivisionError" in outs[2].error and [o.status for o in outs[:2]] == ["skipped", "skipped"]
    assert list(sweep.claim_path(tmp_path, "smoke", "x").parent.glob("*")) == []
