import subprocess
import sys

import pytest

from lbgap.core import paths
from lbgap.cli import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lbgap.cli", *args], capture_output=True, text=True,
                          cwd=paths.REPO_ROOT, env=env)


@pytest.mark.slow
def test_smoke_sweep_end_to_end_writes_twelve_records_per_seed(tmp_path):
    import os

    env = dict(os.environ, LBGAP_CHECKPOINTS=str(tmp_path / "ckpt"), CI="1")
    out = run_cli("sweep", "table2", "--profile", "smoke", "--seeds", "0", "--results-dir", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    records = sorted((tmp_path / "smoke" / "train").glob("*.json"))
    assert len(records) == 12
    assert {r.name.split("-")[0] for r in records} == {"F1", "F2", "C1", "C2", "C3", "C4"}
    again = run_cli("sweep", "table2", "--profile", "smoke", "--seeds", "0", "--nets", "F1,C1",
                    "--results-dir", str(tmp_path), env=env)
    assert again.returncode == 0 and "4 skipped" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--net", "F9", "--batch-size", "256", "--profile", "smoke"], "unknown network"),
    (["train", "--net", "F1", "--batch-size", "0", "--profile", "smoke"], "below 1"),
    (["train", "--net", "F1", "--batch-size", "999999", "--profile", "smoke"], "larger than"),
    (["train", "--net", "F1", "--batch-size", "256", "--profile", "enormous"], "unknown profile"),
    (["sweep", "table2", "--profile", "smoke", "--seeds", "x-y"], "seeds"),
    (["sweep", "table2", "--profile", "smoke", "--nets", "F1,Q5"], "unknown network"),
])
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(tmp_path, capsys, args, message):
    code = main(args + ["--results-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("lbgap: error:")
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.rglob("*"))


def test_models_prints_table1(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "14991946" in out and "1462794" in out


def test_status_lists_data_and_missing_cifar100(tmp_path, capsys):
    assert main(["status", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Data cache" in out and "cifar100" in out


def test_train_one_smoke_run(tmp_path, capsys, checkpoints):
    assert main(["train", "--net", "F1", "--batch-size", "LB", "--profile", "smoke",
                 "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "F1-mnist-official-b32-s0: ok" in out.out
    # stderr is not a terminal here (a log file, say): one progress line per epoch instead of tqdm's bar
    assert [ln.split(":")[0] for ln in out.err.splitlines() if " epoch " in ln] == [
        "F1-mnist-official-b32-s0 epoch 1/2", "F1-mnist-official-b32-s0 epoch 2/2"]
    assert main(["train", "--net", "F1", "--batch-size", "LB", "--profile", "smoke",
                 "--results-dir", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_threads_option_is_applied_once_for_every_subcommand(tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        # the run does not exist (exit 2), but --threads is applied before the subcommand starts
        assert main(["sharpness", "F1-mnist-official-b256-s9", "--threads", "1", "--results-dir", str(tmp_path)]) == 2
        assert torch.get_num_threads() == 1
        assert "lbgap: error:" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


# every command's help, in one fresh interpreter: none may import torch, numpy or pandas
HELP_CODE = r"""
import contextlib, io, sys
from lbgap.cli import build_parser, main

argvs = [["--help"]]
for a in build_parser()._subparsers._group_actions[0].choices.items():
    argvs.append([a[0], "--help"])
    for b in (a[1]._subparsers._group_actions[0].choices if a[1]._subparsers else ()):
        argvs.append([a[0], b, "--help"])
for argv in argvs:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    assert "usage: lbgap" in out.getvalue(), argv
print(len(argvs), sorted(m for m in ("torch", "numpy", "pandas", "scipy", "matplotlib") if m in sys.modules))
"""


def test_help_imports_no_torch_numpy_or_pandas():
    import os

    env = dict(os.environ, PYTHONPATH=str(paths.REPO_ROOT / "src"))
    out = subprocess.run([sys.executable, "-c", HELP_CODE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    n, heavy = out.stdout.split(" ", 1)
    assert int(n) == 1 + 12 + 10 and heavy.strip() == "[]", out.stdout   # lbgap, 12 commands, 10 sweep grids


def test_python_m_lbgap_cli_help_lists_every_command():
    out = run_cli("--help")
    assert out.returncode == 0 and "{train,sweep,status,models,data,sharpness,landscape,eval-order,noise,bench,regression,advise}" \
        in out.stdout


def test_parser_defaults_agree_with_the_library():
    # the command modules repeat a few library constants so that `--help` needs no torch
    from lbgap.cli.commands import bench as c_bench
    from lbgap.cli.commands import landscape as c_landscape
    from lbgap.cli.commands import regression as c_regression
    from lbgap.cli.commands import remedy as c_remedy
    from lbgap.cli.commands import sharpness as c_sharpness
    from lbgap.cli.commands import steps as c_steps
    from lbgap.cli.commands import threshold as c_threshold
    from lbgap.cli.commands import trajectory as c_trajectory
    from lbgap.measures import landscape, noise, sharpness
    from lbgap.core.config import REGRESSION_SIZES
    from lbgap.studies import bench, remedies, steps, threshold, trajectory

    for name in ("DEFAULT_EPS", "DEFAULT_SPACES", "SUBSPACE_DIM", "A_SEED", "PARAM_SETS", "OBJECTIVES"):
        assert getattr(c_sharpness, name) == getattr(sharpness, name), name
    assert c_landscape.PARTS == landscape.PARTS
    assert c_bench.BASELINE_WORKERS == bench.BASELINE_WORKERS
    assert c_steps.NETS == steps.NETS
    assert c_threshold.DEFAULT_BATCH_SIZES == threshold.DEFAULT_BATCH_SIZES
    assert c_trajectory.DEFAULT_POINTS == trajectory.DEFAULT_POINTS
    assert list(c_remedy.REMEDY_NAMES) == sorted(remedies.REMEDIES)
    assert c_regression.PROFILES == tuple(REGRESSION_SIZES)   # the profiles the study has sizes for, in core.config
    assert (noise.KIND, steps.KIND) == ("noise", "steps")   # the kinds `lbgap status` counts


def test_data_import_without_a_name_is_a_usage_error(capsys):
    assert main(["data", "import"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lbgap: error:") and "needs a dataset name" in err and len(err.strip().splitlines()) == 1


def test_regression_smoke_writes_its_records(tmp_path, capsys):
    assert main(["regression", "--profile", "smoke", "--results-dir", str(tmp_path)]) == 0
    n = len(list((tmp_path / "smoke" / "regression").glob("*.json")))
    assert n > 0 and f"regression study (smoke): {n} records" in capsys.readouterr().out


def _options_without_help(parser, name="lbgap"):
    """(command, option) for every argument of every (sub)command whose help text is empty, -h excepted."""
    import argparse

    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{name} {sub_name}")
        elif not isinstance(action, argparse._HelpAction) and not (action.help or "").strip():
            missing.append((name, "/".join(action.option_strings) or action.dest))
    return missing


def test_every_option_of_every_command_has_help():
    from lbgap.cli import build_parser

    assert _options_without_help(build_parser()) == []


def test_the_help_walk_reaches_nested_subcommands():
    import argparse

    parser = argparse.ArgumentParser()
    grids = parser.add_subparsers().add_parser("sweep").add_subparsers()
    grids.add_parser("table2").add_argument("--seeds")
    assert _options_without_help(parser) == [("lbgap sweep table2", "--seeds")]


def test_log_lines_within_an_epoch_at_most_once_per_interval(capsys):
    import torch

    from lbgap.cli.commands.train import LogLines
    from lbgap.core.train import Progress

    class Cfg:
        run_id, max_epochs = "F1-x-b8-s0", 5

    now = [0.0]
    lines = LogLines(Cfg, every_s=60, clock=lambda: now[0])
    progress = Progress(running=torch.zeros(()))
    for t in (10, 30, 61, 90, 125, 130):   # seconds after the start, one step each
        now[0] = float(t)
        progress.batch += 1
        progress.running += 0.5
        lines.step(progress, 2, 100)
    now[0] = 200.0
    lines.epoch(dict(epoch=2, train_loss=0.25, train_acc=0.9, test_acc=0.8, time_s=200.0))
    err = capsys.readouterr().err.splitlines()
    assert err == ["F1-x-b8-s0 epoch 2/5: batch 3/100, train loss so far 0.5000",
                   "F1-x-b8-s0 epoch 2/5: batch 5/100, train loss so far 0.5000",
                   "F1-x-b8-s0 epoch 2/5: train loss 0.2500, train acc 0.9000, test acc 0.8000, 200 s"]
    progress.batch = 100   # the epoch's last batch: its epoch line follows, no step line
    now[0] = 400.0
    lines.step(progress, 3, 100)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_train_to_a_log_prints_step_lines_within_epochs_and_the_same_record(tmp_path, capsys, monkeypatch):
    import json

    from lbgap.cli.commands import train as train_command

    args = ["train", "--net", "F1", "--batch-size", "SB", "--profile", "smoke", "--threads", "1"]
    assert main(args + ["--results-dir", str(tmp_path / "quiet")]) == 0
    monkeypatch.setattr(train_command.LogLines, "EVERY_S", 0.0)
    capsys.readouterr()
    assert main(args + ["--results-dir", str(tmp_path / "log")]) == 0
    err = capsys.readouterr().err.splitlines()
    steps = [line for line in err if ": batch " in line and "train loss so far" in line]
    epochs = [line for line in err if "train acc" in line]
    assert steps and steps[0].startswith("F1-") and " epoch 1/2: batch 1/" in steps[0]
    assert len(epochs) == 2
    recs = [json.loads(next((tmp_path / d / "smoke" / "train").glob("*.json")).read_text()) for d in ("quiet", "log")]
    assert recs[0]["history"][-1]["train_loss"] == recs[1]["history"][-1]["train_loss"]
    assert recs[0]["final"] == recs[1]["final"]


def test_the_cli_shows_the_librarys_log_lines_and_quiet_or_verbose_set_their_level(capsys):
    """The library logs through ``logging``; ``lbgap`` shows its lines on stdout (progress: INFO), ``--quiet``
    (before or after the command, sub-subcommands included) only warnings, ``--verbose`` debug lines too; a
    command's own result is printed either way."""
    import logging

    log = logging.getLogger("lbgap.core.test")
    for args, shown in ((["models"], {"info", "warning"}), (["models", "--quiet"], {"warning"}),
                        (["-q", "models"], {"warning"}), (["models", "-v"], {"debug", "info", "warning"})):
        assert main(args) == 0
        capsys.readouterr()
        log.debug("debug")
        log.info("info")
        log.warning("warning")
        out = capsys.readouterr().out.split()
        assert set(out) == shown, args
    assert main(["sweep", "table2", "--profile", "smoke", "--seeds", "0", "--nets", "F1", "--dry-run",
                 "--quiet"]) == 0
    assert "would run" in capsys.readouterr().out   # the result


def test_a_studys_progress_shows_by_default_and_not_under_quiet(tmp_path, capsys, checkpoints):
    """The studies log their progress (no print): ``lbgap`` shows it, ``--quiet`` leaves the result line alone."""
    args = ["sweep", "tuned-lr", "--stage", "grid", "--batches", "SB", "--multipliers", "1", "--profile", "smoke",
            "--results-dir", str(tmp_path)]
    assert main(args) == 0
    assert "done      F1-mnist-holdout-b16-s0-tlr-x1" in capsys.readouterr().out.splitlines()
    assert main(args) == 0
    assert "skipped   F1-mnist-holdout-b16-s0-tlr-x1" in capsys.readouterr().out.splitlines()
    assert main(args + ["--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == ["tuned-LR grid (smoke): 1 runs, 0 failed"]
