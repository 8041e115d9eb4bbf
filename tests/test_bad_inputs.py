"""The bad-input matrix: every case runs ``lbgap`` in-process and must exit with status 2, print ONE line on
stderr that names the problem and what to do, and write nothing (the record store stays as it was).

Syntax is checked by the argparse types of ``lbgap.cli.options``; meaning (does the network exist, does the
batch size fit the data, is the store writable, is a record or the cache intact) by the library, whose
``ConfigError`` / ``DataError`` / ``StoreError`` / ``RecordError`` ``cli.main`` turns into that line.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lbgap.cli import main
from lbgap.core import data, paths

TRAIN = ["train", "--net", "F1", "--batch-size", "SB", "--profile", "smoke"]
TABLE2 = ["sweep", "table2", "--profile", "smoke", "--nets", "F1", "--seeds", "0"]
SHARP = ["sharpness", "F1-mnist-official-b16-s0", "--profile", "smoke"]
TINY = str(Path(__file__).parent / "fixtures" / "tiny_model.py")
ADVISE = ["advise", "--model", f"{TINY}:model", "--data", f"{TINY}:data", "--steps", "20", "--device", "cpu"]


def _replace(argv: list[str], option: str, value: str) -> list[str]:
    i = argv.index(option)
    return argv[:i + 1] + [value] + argv[i + 2:]


# (id, argv, words the one line must contain)
CASES = [
    # unknown names
    ("net", _replace(TRAIN, "--net", "F9"), ["unknown network", "choose one of"]),
    ("profile", _replace(TRAIN, "--profile", "nonsense"), ["unknown profile", "smoke"]),
    ("device", TRAIN + ["--device", "foo"], ["unknown device", "cuda:N"]),
    ("device-index", TRAIN + ["--device", "cuda:x"], ["unknown device"]),
    ("dataset", TRAIN + ["--dataset", "imagenet"], ["unknown dataset", "mnist"]),
    ("split", TRAIN + ["--split", "dev"], ["invalid choice", "holdout"]),
    ("precision", TRAIN + ["--precision", "fp8"], ["invalid choice", "bf16"]),
    ("bn", TRAIN + ["--bn", "group"], ["invalid choice", "running"]),
    ("optimizer", TRAIN + ["--optimizer", "rmsprop"], ["invalid choice", "adam"]),
    ("augment", TRAIN + ["--augment", "mixup"], ["invalid choice", "paper"]),
    ("compile", TRAIN + ["--compile", "fastest"], ["unknown compile mode", "reduce-overhead"]),
    ("executor", TABLE2 + ["--executor", "ray"], ["unknown executor", "submitit"]),
    ("remedy", ["sweep", "remedy", "--net", "F1", "--profile", "smoke", "--remedy", "dropout"],
     ["invalid choice", "conservative"]),
    ("post", TABLE2 + ["--post", "hessian"], ["unknown post-processing", "sharpness"]),
    ("nets", _replace(TABLE2, "--nets", "F1,Q5"), ["unknown network", "Q5"]),
    ("space", SHARP + ["--space", "diag"], ["invalid choice", "random"]),
    ("data-name", ["data", "import", "svhn"], ["unknown dataset", "cifar10"]),
    ("data-no-name", ["data", "import"], ["needs a dataset name"]),
    ("status-profile", ["status", "--profile", "nonsense"], ["unknown profile", "paper"]),
    ("regression-profile", ["regression", "--profile", "paper"], ["invalid choice", "quick"]),
    ("noise-action", ["noise", "measure"], ["invalid choice", "scan"]),
    # batch sizes and percentages: each message says what is accepted
    *[(f"batch-{v}", _replace(TRAIN, "--batch-size", v), [repr(v) if v == "abc" else v, "percentage in (0%, 100%]"])
      for v in ("0", "-3", "150%", "0%", "abc", "nan%", "1.5")],
    ("batch-too-large", _replace(TRAIN, "--batch-size", "999999"), ["larger than", "training examples"]),
    ("bench-batch", ["bench", "--net", "F1", "--batch-size", "0", "--profile", "smoke"], ["below 1"]),
    # seeds
    ("seed--1", TRAIN + ["--seed", "-1"], ["seed", "non-negative"]),
    ("seed-a", TRAIN + ["--seed", "a"], ["seed", "whole number"]),
    *[(f"seeds-{v or 'empty'}", _replace(TABLE2, "--seeds", v), ["seeds", "'0-4'"]) for v in ("-1", "a-b", "3-1", "")],
    ("remedy-seeds", ["sweep", "remedy", "--net", "F1", "--profile", "smoke", "--seeds", "3-1"], ["seeds"]),
    ("steps-seeds", ["sweep", "steps-to-target", "--profile", "smoke", "--seeds", "x"], ["seeds"]),
    ("landscape-seed", ["landscape", "-1", "F1", "--profile", "smoke"], ["seed", "non-negative"]),
    # sharpness radius and other positive numbers
    *[(f"eps-{v}", SHARP + [f"--eps={v}"], ["positive finite number"]) for v in ("0", "-1e-3", "nan", "inf", "abc")],
    ("lr-0", TRAIN + ["--lr", "0"], ["positive finite number"]),
    ("lr-nan", TRAIN + ["--lr", "nan"], ["positive finite number"]),
    ("prox", TRAIN + ["--prox", "-1"], ["proximal weight", ">= 0"]),
    # tags: a safe character set only (they become file names)
    *[(f"tag-{i}", TRAIN + ["--tag", v], ["tag", "letters, digits"]) for i, v in
      enumerate(("../../x", "a/b", "a b", ".hidden", "../../../escape", "x\ty", ""))],
    ("landscape-tag", ["landscape", "0", "F1", "--profile", "smoke", "--tag", "a/b"], ["tag"]),
    # threads, epochs, counts
    *[(f"threads-{v}", TRAIN + ["--threads", v], ["at least 1"]) for v in ("0", "-2")],
    ("threads-x", TRAIN + ["--threads", "x"], ["whole number"]),
    *[(f"max-epochs-{v}", TRAIN + ["--max-epochs", v], ["at least 1"]) for v in ("0", "-1")],
    ("table2-max-epochs", TABLE2 + ["--max-epochs", "0"], ["at least 1"]),
    ("remedy-max-epochs", ["sweep", "remedy", "--net", "F1", "--profile", "smoke", "--max-epochs", "0"],
     ["at least 1"]),
    ("inner-steps", TRAIN + ["--inner-steps", "0"], ["at least 1"]),
    ("threshold-epochs", ["sweep", "threshold", "--net", "F1", "--profile", "smoke", "--epochs", "0"], ["at least 1"]),
    ("train-examples", ["sweep", "threshold", "--net", "F1", "--profile", "smoke", "--train-examples", "-5"],
     ["0 (all)"]),
    ("trajectory-points", ["sweep", "trajectory", "--net", "F1", "--profile", "smoke", "--points", "0"],
     ["at least 1"]),
    ("warmstart-epochs", ["sweep", "warmstart", "--net", "F1", "--profile", "smoke", "--sb-epochs", "0"],
     ["at least 1"]),
    ("workers", TABLE2 + ["--executor", "local", "--workers", "0"], ["at least 1"]),
    ("noise-draws", ["noise", "scan", "--profile", "smoke", "--draws", "0"], ["at least 1"]),
    ("maxiter", SHARP + ["--maxiter", "0"], ["at least 1"]),
    ("slurm-without-submitit", TABLE2 + ["--slurm-partition", "gpu"], ["--executor submitit"]),
    # runs that do not exist or cannot be a file name
    ("sharpness-no-run", SHARP, ["no training record", "lbgap status"]),
    ("sharpness-run-escape", ["sharpness", "../../x", "--profile", "smoke"], ["run id", "not allowed"]),
    # lbgap advise: the model, the data and the run
    ("advise-model-form", _replace(ADVISE, "--model", "tiny_model"), ["MODULE:FUNCTION"]),
    ("advise-model-module", _replace(ADVISE, "--model", "no_such_module_xyz:model"), ["cannot import", "PYTHONPATH"]),
    ("advise-model-function", _replace(ADVISE, "--model", f"{TINY}:nope"), ["no function 'nope'"]),
    ("advise-model-type", _replace(ADVISE, "--model", f"{TINY}:not_a_model"), ["not a torch.nn.Module"]),
    ("advise-model-file", _replace(ADVISE, "--model", "missing_file.py:model"), ["no file"]),
    ("advise-data-name", _replace(ADVISE, "--data", "svhn"), ["MODULE:FUNCTION or one of", "cifar10"]),
    ("advise-data-type", _replace(ADVISE, "--data", f"{TINY}:not_a_model"), ["--data", "Dataset"]),
    ("advise-batch", ADVISE + ["--batch-size", "5000"], ["between 2 and the 600 examples"]),
    ("advise-chunks", ADVISE + ["--chunks", "1"], ["chunks >= 2"]),
    ("advise-steps", _replace(ADVISE, "--steps", "5"), ["two probe intervals"]),
    ("advise-optimizer", ADVISE + ["--optimizer", "rmsprop"], ["invalid choice", "adam"]),
    ("advise-lr", ADVISE + ["--lr", "-1"], ["positive finite number"]),
    ("advise-record", ADVISE + ["--record", "../x"], ["record name", "not allowed"]),
]


def _files(root) -> set:
    return {p.relative_to(root) for p in root.rglob("*")} if root.exists() else set()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbgap: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def isolated(tmp_path, monkeypatch):
    """An empty record store, data cache and checkpoint store of this test only."""
    for name in ("CACHE_DIR", "CHECKPOINT_DIR"):
        monkeypatch.setattr(paths, name, tmp_path / name.lower())
    store = tmp_path / "results"
    store.mkdir()
    return store


@pytest.mark.parametrize("argv, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(isolated, capsys, argv, words):
    code = main(argv + ["--results-dir", str(isolated)] if argv[0] not in ("data", "models") else argv)
    line = _one_line(capsys)
    assert code == 2, line
    for w in words:
        assert w in line, (w, line)
    assert not any(isolated.rglob("*")) and not paths.CACHE_DIR.exists() and not paths.CHECKPOINT_DIR.exists()


# ------------------------------------------------------------------------------------------- the store
def test_a_results_dir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "results"
    f.write_text("not a folder")
    for argv in (TRAIN, TABLE2, ["status"]):
        assert main(argv + ["--results-dir", str(f)]) == 2
        line = _one_line(capsys)
        assert "is a file" in line and "--results-dir" in line
    assert f.read_text() == "not a folder"


def test_a_results_dir_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(TRAIN + ["--results-dir", str(tmp_path / "file" / "results")]) == 2
    line = _one_line(capsys)
    assert "cannot be created" in line and "writable folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders (the case above covers it)")
def test_a_read_only_results_dir(tmp_path, capsys):
    store = tmp_path / "results"
    store.mkdir()
    store.chmod(0o555)
    try:
        assert main(TRAIN + ["--results-dir", str(store)]) == 2
        assert "not writable" in _one_line(capsys)
        assert not any(store.rglob("*"))
    finally:
        store.chmod(0o755)


# ------------------------------------------------------------------------------------- malformed records
RUN_ID = "F1-mnist-official-b16-s0"


@pytest.mark.parametrize("content, words", [
    ('{"schema": 2, "kind": "train", ', ["unreadable", "delete it"]),
    ("[1, 2, 3]", ["JSON list", "delete it"]),
    ('{"schema": 1}', ["no 'kind'", "delete it"]),
    ('{"schema": 2, "kind": "train", "run_id": "x", "status": "ok"}', ["lacks config, final"]),
    ('{"schema": 2, "kind": "train", "run_id": "x", "status": "ok", "config": [], "final": {}}', ["'config' is a list"]),
    ('{"schema": "two", "kind": "train"}', ["schema 'two'", "delete it"]),
], ids=["truncated", "list", "schema-only", "incomplete", "wrong-type", "bad-schema"])
def test_a_malformed_record_is_named_and_never_taken_as_finished(isolated, capsys, content, words):
    path = isolated / "smoke" / "train" / f"{RUN_ID}.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    before = _files(isolated)
    assert main(TRAIN + ["--results-dir", str(isolated)]) == 2
    line = _one_line(capsys)
    assert str(path) in line and all(w in line for w in words), line
    assert _files(isolated) == before and path.read_text() == content


# ---------------------------------------------------------------------------------------- the data cache
def _cache_mnist(sidecar: bool = True):
    arrays = data.synthetic_arrays("mnist", 64, 32)
    path = data._write_cache("mnist", {k: v.astype(np.uint8) for k, v in arrays.items()},
                             dict(source="test", train_complete=True, test_complete=True), None)
    if not sidecar:
        data.check_path("mnist").unlink()
    return path


QUICK_TRAIN = ["train", "--net", "F1", "--batch-size", "16", "--profile", "quick", "--device", "cpu"]


@pytest.mark.parametrize("damage, sidecar, words", [
    ("truncate", True, ["bytes", "truncated"]),
    ("flip", True, ["does not match the sha256"]),
    ("truncate", False, ["unreadable"]),
    ("flip", False, ["unreadable"]),
], ids=["truncated", "corrupted", "truncated-old-cache", "corrupted-old-cache"])
def test_a_damaged_cache_says_how_to_reimport(isolated, capsys, damage, sidecar, words):
    path = _cache_mnist(sidecar)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:   # inside x_train's data: a bad CRC-32 when it is read, a different sha256 of the file
        mid = len(raw) // 2
        raw[mid:mid + 16] = bytes(b ^ 0xFF for b in raw[mid:mid + 16])
    path.write_bytes(bytes(raw))
    assert main(QUICK_TRAIN + ["--results-dir", str(isolated)]) == 2
    line = _one_line(capsys)
    assert all(w in line for w in words) and "lbgap data import mnist --from" in line, line
    assert not any(isolated.rglob("*"))
    assert main(["data", "verify", "mnist"]) == 2
    assert "lbgap data import mnist" in _one_line(capsys)


def test_data_verify_passes_an_intact_cache(isolated, capsys):
    _cache_mnist()
    assert main(["data", "verify"]) == 0
    assert "mnist: ok (file sha256 and 4 array sha256s match)" in capsys.readouterr().out


def test_a_pack_that_does_not_match_the_pinned_hashes_is_refused(isolated, tmp_path, capsys):
    pack = tmp_path / "pack"
    (pack / "mnist").mkdir(parents=True)
    for rel in ("mnist/x_train.u8.xz", "mnist/y_train.u8.xz", "mnist/x_test.u8.xz", "mnist/y_test.u8.xz"):
        (pack / rel).write_bytes(b"\xfd7zXZ\x00 edited")
    (pack / "MANIFEST.json").write_text(json.dumps({"datasets": {"mnist": {}}}))
    (pack / "unpack.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('x')\n")
    assert main(["data", "import", "mnist", "--from", str(pack)]) == 2
    line = _one_line(capsys)
    assert "does not match the sha256 lbgap pins" in line and "copy the pack again" in line
    assert not (tmp_path / "ran").exists() and not paths.CACHE_DIR.exists()
    assert main(["data", "import", "mnist", "--from", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in _one_line(capsys)


# ------------------------------------------------------------------------------------------ checkpoints
def test_a_truncated_checkpoint_names_the_file_and_how_to_recompute(isolated, capsys):
    assert main(TRAIN + ["--results-dir", str(isolated), "--max-epochs", "1"]) == 0
    capsys.readouterr()
    (final,) = isolated.rglob("final.pt")   # the checkpoint folder of the run's record store
    final.write_bytes(final.read_bytes()[:100])
    before = _files(isolated)
    assert main(SHARP + ["--results-dir", str(isolated), "--no-hessian", "--space", "random"]) == 2
    line = _one_line(capsys)
    assert str(final) in line and "lbgap train --net F1 --batch-size 16 --seed 0 --profile smoke" in line, line
    assert _files(isolated) == before
