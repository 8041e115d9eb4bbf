"""The submitit executor: resources from the profile, the dry run of the paper's Table 2 array (no SLURM
needed), ``lbgap status`` per sweep, and crash safety with submitit's LocalExecutor (real subprocesses)."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from lbgap.core import cluster
from lbgap.core import sweep
from lbgap.cli import main
from lbgap.cli.commands.status import sweep_lines
from lbgap.core.sweep import table2_grid

from test_sweep import ALL, SLOW, claim_pid, leftovers, records, start_driver, wait_for

submitit = pytest.importorskip("submitit")


@pytest.fixture(autouse=True)
def fast_default_split(monkeypatch):
    """make_config reads each dataset's cache to pick its split; read it once per test, not once per run."""
    import functools

    from lbgap.core import config

    monkeypatch.setattr(config, "default_split", functools.lru_cache(maxsize=None)(config.default_split))


@pytest.mark.parametrize("text, minutes", [("90", 90), ("30:00", 30), ("4:00:00", 240), ("1-00:00:00", 1440),
                                           ("1-12", 2160), ("0:30:30", 31), (45, 45)])
def test_slurm_time_formats(text, minutes):
    assert cluster.parse_time(text) == minutes


@pytest.mark.parametrize("text, gb", [("32G", 32), ("32GB", 32), ("512M", 0.5), ("1T", 1024), ("16", 16)])
def test_memory_formats(text, gb):
    assert cluster.parse_mem(text) == gb


@pytest.mark.parametrize("bad", ["four hours", "0", "1:2:3:4"])
def test_bad_time_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="time limit"):
        cluster.parse_time(bad)


def test_resources_come_from_the_profile_with_overrides():
    paper = table2_grid("paper", [0, 1, 2, 3, 4])
    r = cluster.resources_for(paper)
    assert (r.gpus, r.cpus, r.mem_gb, r.minutes) == (1, 8, 32, max(cluster.RESOURCES["paper"]["minutes"].values()))
    f1 = cluster.resources_for(table2_grid("paper", [0], ["F1"]))
    assert f1.minutes == cluster.RESOURCES["paper"]["minutes"]["F1"] < r.minutes  # per-net limit
    o = cluster.resources_for(paper, partition="gpu", time="4:00:00", gpus=2, cpus=16, mem="64G", parallelism=10)
    assert (o.partition, o.minutes, o.gpus, o.cpus, o.mem_gb, o.parallelism) == ("gpu", 240, 2, 16, 64, 10)
    smoke = cluster.resources_for(table2_grid("smoke", [0], ["F1"]))
    assert smoke.gpus == 0


def test_dry_run_prints_the_60_task_paper_array_and_submits_nothing(tmp_path, capsys):
    rd = tmp_path / "results"
    done = rd / "paper" / "train" / "F1-mnist-official-b256-s0.json"  # one run already has a record
    done.parent.mkdir(parents=True)
    done.write_text('{"schema": 2, "kind": "train", "run_id": "F1-mnist-official-b256-s0", "status": "ok", '
                    '"config": {}, "final": {}}')   # a malformed one ("{}") would be redone
    code = main(["sweep", "table2", "--profile", "paper", "--seeds", "0-4", "--executor", "submitit", "--dry-run",
                 "--results-dir", str(rd)])
    out = capsys.readouterr().out
    assert code == 0
    assert "60 runs = 6 nets x 2 regimes x 5 seeds; 1 done, 0 running, 0 failed, 59 missing" in out
    assert "job array: 59 tasks (0-58%59)" in out and "1 GPU, 8 CPUs, 32 GB, time limit 3:00:00" in out
    tasks = [ln for ln in out.splitlines() if ln[:4].strip().isdigit()]
    assert len(tasks) == 59 and "F1-mnist-official-b256-s0 " not in out
    for flag in ("--array=0-58%59", "--gpus-per-node=1", "--cpus-per-task=8", "--mem=32GB", "--time=180"):
        assert f"#SBATCH {flag}" in out
    assert sorted(p.name for p in rd.rglob("*") if p.is_file()) == [done.name]  # nothing written

    code = main(["sweep", "table2", "--profile", "paper", "--seeds", "0-4", "--executor", "submitit", "--dry-run",
                 "--force", "--slurm-time", "1-00:00:00", "--slurm-partition", "gpu", "--results-dir", str(tmp_path / "r2")])
    out = capsys.readouterr().out
    assert code == 0 and "job array: 60 tasks (0-59%60)" in out and "#SBATCH --time=1440" in out
    assert "#SBATCH --partition=gpu" in out


@pytest.mark.parametrize("args, message", [
    (["--executor", "submitit", "--slurm-time", "soon"], "time limit"),
    (["--executor", "submitit", "--slurm-mem", "lots"], "memory"),
    (["--executor", "local", "--slurm-partition", "gpu"], "need --executor submitit"),
    (["--executor", "submitit", "--slurm-extra", "account"], "KEY=VALUE"),
    (["--executor", "submitit"], "no SLURM here"),  # this machine has no sbatch
    (["--executor", "warp"], "unknown executor"),
])
def test_bad_cluster_options_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setenv("PATH", str(tmp_path))  # certainly no sbatch
    code = main(["sweep", "table2", "--profile", "smoke", "--seeds", "0", "--nets", "F1",
                 "--results-dir", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("lbgap: error:"), err
    assert not list((tmp_path / "r").rglob("*.json"))


def test_status_shows_done_running_failed_missing_per_sweep(tmp_path, capsys, checkpoints):
    rd = tmp_path / "results"
    grid = table2_grid("smoke", [0, 1], ["F1"], n_train=32, n_test=16, max_epochs=1)
    ids = [c.run_id for c in grid]
    sweep.write_manifest(rd, "table2", grid, "submitit")
    assert sweep.run_one(grid[0].to_dict(), str(rd)).status == "done"
    live = sweep.Claim(rd, "smoke", ids[1])
    assert live.acquire()
    sweep.record_failure(rd, "smoke", ids[2], 'CUDA error: out of memory\n  File "train.py", line 9, in train')
    lines = "\n".join(sweep_lines(rd))
    live.release()
    assert "4 runs, submitit" in lines and "1 done, 1 running, 1 failed, 1 missing" in lines
    assert f"running  {ids[1]} on {sweep.HOST} (pid {os.getpid()}" in lines
    assert f"failed   {ids[2]}" in lines and "CUDA error: out of memory" in lines and 'line 9, in train' in lines
    assert main(["status", "--results-dir", str(rd)]) == 0
    assert "0 running, 1 failed, 2 missing" in capsys.readouterr().out  # the claim was released


@pytest.mark.slow
def test_submitit_local_survives_kill_9_of_a_task_and_rerun_redoes_only_that_run(tmp_path):
    rd = tmp_path / "results"
    p = start_driver(tmp_path, "submitit", epochs=12)
    pid = wait_for(lambda: claim_pid(rd, SLOW), p, what="the slow task to start")
    time.sleep(1.0)
    assert SLOW not in records(rd)
    os.kill(pid, signal.SIGKILL)  # the task process (python -m submitit.core._submit) running the slow run
    out, err = p.communicate(timeout=180)
    assert p.returncode == 1, out + err
    assert "submitit (local): job array" in out and f"failed    {SLOW}  (JobDied" in out
    first = records(rd)
    assert set(first) == ALL - {SLOW}
    assert "JobDied" in json.loads(sweep.failed_path(rd, "smoke", SLOW).read_text())["error"]
    assert leftovers(tmp_path) == []

    again = start_driver(tmp_path, "submitit", epochs=12)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, out + err
    assert "job array" in out and "1 tasks" in out  # only the killed run was submitted again
    assert f"done      {SLOW}" in out and out.count("skipped") == 2
    second = records(rd)
    assert set(second) == ALL and all(second[k] == v for k, v in first.items())
    assert json.loads(second[SLOW])["epochs"] == 12
    assert not sweep.failed_path(rd, "smoke", SLOW).exists()
    assert list(sweep.claim_path(rd, "smoke", SLOW).parent.glob("*")) == [] and leftovers(tmp_path) == []
    logs = list((rd / "smoke" / "_sweep" / "logs").glob("crash-*/*/*_log.out"))
    assert len(logs) == 3 + 1  # one log folder per task, in the sweep's folder
