"""scripts/gpu_paper.py, the GPU driver, on the CPU: its pinned data parts, its records, its deadline-aware
scheduling through lbgap.core.sweep (a pair stopped at the deadline resumes in the next call) and its export."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lbgap.core import packs, records, sweep

ROOT = Path(__file__).resolve().parents[1]


def _driver():
    spec = importlib.util.spec_from_file_location("gpu_paper", ROOT / "scripts" / "gpu_paper.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _toy_pack(monkeypatch, folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``folder`` and pin them (size, sha256) as pack ``toy`` of lbgap.core.packs."""
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    pins = {rel: (len(data), hashlib.sha256(data).hexdigest()) for rel, data in files.items()}
    monkeypatch.setitem(packs.PACK_FILES, "toy", pins)


def test_per_net_option_parsing():
    d = _driver()
    assert d._per_net("F1=4,C2=1", "C2") == "1" and d._per_net("F1=4,C2=1", "C1") == ""
    assert d._per_net("3", "C1") == "3" and d._per_net("2,C2=default", "C2") == "default"
    assert d._per_net("", "F1") == ""


def test_carry_parts_are_the_pinned_files_in_parts_under_the_limit():
    """The parts hold every file lbgap.core.packs pins for MNIST, CIFAR-10 and speechocean762, each once, in
    order, none over the limit: the three parts the driver always sent (43, 53 and 49 MB)."""
    d = _driver()
    parts = d.carry_parts()
    files = [rel for part in parts.values() for rel in part]
    assert files == [rel for name in ("mnist", "cifar10", "so762") for rel in packs.PACK_FILES[name]]
    sizes = {k: sum(packs.PACK_FILES[d._dataset_of(r)][r][0] for r in v) for k, v in parts.items()}
    assert list(sizes) == [1, 2, 3] and all(s <= d.PART_LIMIT for s in sizes.values())
    assert parts[1][-2:] == ["cifar10/x_train.00.webp", "cifar10/x_train.01.webp"]
    assert parts[3] == ["so762/so762_f2.npz.xz"]
    assert [len(p) for p in d.carry_parts(limit=1).values()] == [1] * len(files)   # one file each


def test_pack_complete_checks_size_and_sha256_never_the_manifest(tmp_path, monkeypatch):
    d = _driver()
    _toy_pack(monkeypatch, tmp_path, {"toy/a.bin": b"abc", "toy/b.bin": b"de"})
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"datasets": {"toy": {"arrays": {}}}}))  # says nothing
    assert d.pack_complete("toy", tmp_path) and not d.pack_complete("other", tmp_path)
    (tmp_path / "toy" / "b.bin").write_bytes(b"dx")     # right size, wrong bytes
    assert not d.pack_complete("toy", tmp_path)
    (tmp_path / "toy" / "b.bin").write_bytes(b"def")    # wrong size
    assert not d.pack_complete("toy", tmp_path)
    (tmp_path / "toy" / "b.bin").unlink()
    assert not d.pack_complete("toy", tmp_path)


def test_carry_copies_one_part_checked_and_names_the_tree_commit(tmp_path, monkeypatch, capsys):
    """``carry N`` puts part N of the packed data into the outgoing folder, each file checked against its pin,
    with the tree's commit as records name it, even when an older LBGAP_GIT_COMMIT is in the environment (the
    shell driver exports the previous part's); an unknown part, a missing or a corrupt file is one clear line."""
    import os

    d = _driver()
    packed = tmp_path / "packed"
    _toy_pack(monkeypatch, packed, {"toy/a.bin": b"abc", "toy/b.bin": b"de"})
    monkeypatch.setattr(d, "OUTGOING", tmp_path / "outgoing")
    monkeypatch.setattr(d, "carry_parts", lambda: {1: ["toy/a.bin"], 2: ["toy/b.bin"]})
    monkeypatch.setenv("LBGAP_GIT_COMMIT", "stale0000000")
    assert d.main(["carry", "2", "--shared", str(packed)]) == 0
    out = tmp_path / "outgoing"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["GIT_COMMIT", "toy/b.bin"]
    assert (out / "toy" / "b.bin").read_bytes() == b"de"
    assert os.environ["LBGAP_GIT_COMMIT"] == "stale0000000"
    monkeypatch.delenv("LBGAP_GIT_COMMIT")
    assert (out / "GIT_COMMIT").read_text() == records.git_commit(ROOT) + "\n"
    assert "holds part 2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="part 3 of the packed data does not exist: choose one of 1, 2"):
        d.main(["carry", "3", "--shared", str(packed)])
    (packed / "toy" / "a.bin").write_bytes(b"abd")
    with pytest.raises(SystemExit, match="a.bin does not match the size and sha256"):
        d.main(["carry", "1", "--shared", str(packed)])
    (packed / "toy" / "a.bin").unlink()
    with pytest.raises(SystemExit, match="a.bin is missing: point --shared at the folder of the packed data"):
        d.main(["carry", "1", "--shared", str(packed)])


def test_collect_adds_records_and_never_overwrites(tmp_path, monkeypatch, capsys):
    d = _driver()
    monkeypatch.setattr(d, "ROOT", tmp_path)
    src = tmp_path / "src"
    (src / "data/results/paper/train").mkdir(parents=True)
    (src / "data/results/paper/train/new.json").write_text('{"a": 1}')
    (src / "data/results/paper/train/old.json").write_text('{"a": 2}')
    calls = tmp_path / "call"
    calls.mkdir()
    with tarfile.open(calls / "records.tar.gz", "w:gz") as tf:
        for name in ("new.json", "old.json"):
            tf.add(src / "data/results/paper/train" / name, arcname=f"data/results/paper/train/{name}")
    kept = tmp_path / "data/results/paper/train/old.json"
    kept.parent.mkdir(parents=True)
    kept.write_text('{"a": 0}')
    assert d.main(["collect", str(calls)]) == 0
    assert (tmp_path / "data/results/paper/train/new.json").read_text() == '{"a": 1}'
    assert kept.read_text() == '{"a": 0}' and "kept the existing" in capsys.readouterr().out


def test_exports_a_finished_pair_byte_for_byte_and_its_tarball_round_trips(tmp_path, monkeypatch):
    d = _driver()
    pair = SimpleNamespace(dir=tmp_path / "work" / "paper" / "C1-s0")
    res = pair.dir / "results"
    (res / "paper" / "train").mkdir(parents=True)
    (res / "paper" / "_sweep").mkdir(parents=True)
    (res / "paper" / "train" / "C1-b256-s0.json").write_text('{"kind":  "train"}')   # odd spacing kept
    (res / "paper" / "_sweep" / "table2.json").write_text("{}")
    stores = [tmp_path / "results", tmp_path / "work" / "_exported"]
    (stores[0] / "paper" / "train").mkdir(parents=True)
    rel = d.export(pair, stores)
    assert [str(r) for r in rel] == ["paper/train/C1-b256-s0.json"]
    assert all((s / rel[0]).read_text() == '{"kind":  "train"}' for s in stores)
    assert not (stores[0] / "paper" / "_sweep").exists()
    out = tmp_path / "out"
    d.write_out(out, rel, {"pairs": []}, stores[1])
    assert json.loads((out / "summary.json").read_text()) == {"pairs": []}
    monkeypatch.setattr(d, "ROOT", tmp_path / "repo")
    assert d.main(["collect", str(out)]) == 0
    assert (tmp_path / "repo/data/results/paper/train/C1-b256-s0.json").read_text() == '{"kind":  "train"}'


def test_tag_selects_the_variant_records_and_is_passed_to_the_sweep(tmp_path):
    d = _driver()
    a = SimpleNamespace(device="cuda", tag="uncapped", work=str(tmp_path), profile="paper", post="sharpness",
                        pair_workers=1, compile="", extra=[])
    tagged = d.train_records_present(tmp_path, "paper", "F1", 1, a)
    assert [p.name for p in tagged] == ["F1-mnist-official-b256-s1-uncapped.json",
                                        "F1-mnist-official-b6000-s1-uncapped.json"]
    cmd = d.Pair("F1", 1, a).command()
    assert cmd[cmd.index("--tag") + 1] == "uncapped" and d.Pair("F1", 1, a).dir.name == "F1-s1-uncapped"
    item_id, cmd2, cwd, env, log = d.Pair("F1", 1, a).item()
    assert item_id == "F1 seed 1" and cmd2 == cmd and env["LBGAP_CHECKPOINTS"].endswith("F1-s1-uncapped/checkpoints")
    a.tag = ""
    assert [p.name for p in d.train_records_present(tmp_path, "paper", "F1", 1, a)] == [
        "F1-mnist-official-b256-s1.json", "F1-mnist-official-b6000-s1.json"]
    assert "--tag" not in d.Pair("F1", 1, a).command() and d.Pair("F1", 1, a).dir.name == "F1-s1"


def test_bench_missing_reads_the_records_fields(tmp_path):
    """A bench step counts as done only from a CUDA record of the same net, regime, compile mode and kind
    (baseline timing vs bf16-vs-fp32 check); CPU records, other nets and unreadable files never do."""
    d = _driver()
    bench_dir = tmp_path / "results" / "paper" / "bench"
    bench_dir.mkdir(parents=True)
    store = tmp_path / "store"
    (store / "paper" / "bench").mkdir(parents=True)

    def rec(path, **kw):
        r = records.new_record("bench", net="C2", regime="SB", device_type="cuda", compile="off", baseline={})
        r.update(kw)
        path.write_text(json.dumps({k: v for k, v in r.items() if v is not None}))

    dirs = [tmp_path / "results", store]
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["SB", "LB"]
    rec(bench_dir / "C2-cpu.json", device_type="cpu")                    # a CPU record is no GPU number
    rec(bench_dir / "C1.json", net="C1")
    (bench_dir / "broken.json").write_text('{"kind": "ben')              # half-written: ignored
    assert d.bench_missing(dirs, "paper", "c2", ["sb", "LB"]) == ["SB", "LB"]
    rec(bench_dir / "C2-sb.json")
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["LB"]
    assert d.bench_missing(dirs, "paper", "C1", ["SB"]) == []
    # the compiled step and the precision check are steps of their own
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], compile_mode="default") == ["SB"]
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], precision=True) == ["SB"]
    rec(store / "paper" / "bench" / "C2-sb-ours.json", baseline=None, precision_check={"diff": 0.0})
    rec(bench_dir / "C2-sb-default.json", baseline=None, compile="default")
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], precision=True) == []
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], compile_mode="default") == []
    # an ours-only record without the check does not stand in for the timing against the baseline
    rec(bench_dir / "C2-lb-ours.json", regime="LB", baseline=None)
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["LB"]


def test_call_record_is_a_current_record_written_at_the_start_updated_and_finalised(tmp_path):
    """gpu_paper.sh's record of a call: written at its start (not complete) as a record of the current schema
    that lbgap reads back, updated with the bench records newer than the call's stamp and the sweep's pairs,
    final at the end; one file per call, elapsed from the start."""
    import os

    d = _driver()
    rd, prof = tmp_path / "results", "paper"
    bench_dir = rd / prof / "bench"
    bench_dir.mkdir(parents=True)
    old = bench_dir / "C2-old.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # committed before the call: not this call's
    stamp = tmp_path / "stamp"
    stamp.write_text("")
    t0 = time.time() - 125.0
    args = ["call-record", "2", "--started", str(t0), "--budget", "540", "--device", "cpu", "--since", str(stamp),
            "--summary", str(tmp_path / "summary.json"), "--results-dir", str(rd)]
    assert d.main(args) == 0
    (path,) = (rd / prof / "gpu_call").glob("*.json")
    rec = records.read_record(path)
    assert rec["schema"] == records.SCHEMA and rec["run_id"] == path.stem
    assert path.name.endswith("-call2.json") and rec["kind"] == "gpu_call" and rec["complete"] is False
    assert rec["bench"] == [] and rec["pairs"] == [] and 125 <= rec["elapsed_s"] < 200
    assert rec["provenance"]["wall_time_s"] == rec["elapsed_s"] and rec["provenance"]["torch_version"]
    assert [r["run_id"] for r in records.iter_records(rd, prof, "gpu_call")] == [path.stem]
    (bench_dir / "C2-sb.json").write_text("{}")
    pairs = [dict(net="C1", seed=0, status="exported", seconds=200), dict(net="C1", seed=1, status="stopped at "
             "deadline", seconds=90)]
    (tmp_path / "summary.json").write_text(json.dumps(dict(tag="", jobs="C1=3", pairs=pairs)))
    assert d.main(args + ["--final"]) == 0
    assert list((rd / prof / "gpu_call").glob("*.json")) == [path]
    rec = json.loads(path.read_text())
    assert rec["complete"] is True and rec["bench"] == ["C2-sb.json"] and rec["pairs"] == pairs
    assert rec["jobs"] == "C1=3" and rec["budget_s"] == 540


def test_deadline_executor_finishes_stops_and_defers(tmp_path):
    """sweep.LocalExecutor with a deadline: an item that ends in time is done, one still running at the deadline
    is stopped (its command's process group with it), one whose estimate does not fit is deferred without
    starting, and a later one that fits still starts; outcomes come back in the items' order."""
    py = sys.executable
    marker = tmp_path / "late.txt"
    items = [("quick", [py, "-c", "pass"], str(tmp_path), {}, str(tmp_path / "quick.log")),
             ("slow", [py, "-c", f"import time; time.sleep(60); open({str(marker)!r}, 'w')"], str(tmp_path), {},
              str(tmp_path / "slow.log")),
             ("big", [py, "-c", "pass"], str(tmp_path), {}, str(tmp_path / "big.log")),
             ("small", [py, "-c", "import sys; sys.exit(3)"], str(tmp_path), {}, str(tmp_path / "small.log"))]
    need = {"quick": 0.0, "slow": 0.0, "big": 1e6, "small": 0.0}
    ex = sweep.LocalExecutor(workers=2, gpus=[], deadline=time.time() + 20, estimate=lambda item: need[item[0]])
    t0 = time.time()
    outs = list(ex.map(sweep.run_command, items))
    assert [(o.run_id, o.status) for o in outs] == [("quick", "done"), ("slow", "stopped"), ("big", "deferred"),
                                                    ("small", "failed")]
    assert "exit code 3" in outs[3].error and "does not fit" in outs[2].error
    assert time.time() - t0 < 55 and not marker.exists()   # stopped at the deadline, not after the sleep
    assert not (tmp_path / "big.log").exists()


@pytest.mark.slow
def test_sweep_stops_a_pair_at_the_deadline_and_the_next_call_resumes_and_exports_it(tmp_path, monkeypatch):
    """The node's sweep on the CPU (smoke profile): a first call whose budget ends within the pair leaves it in its
    work folder, stopped, with nothing exported; the next call goes on from it and exports both training
    records, which equal those of a plain ``lbgap sweep table2`` of the pair; a pair whose estimate does not fit
    the budget is not started."""
    d = _driver()
    monkeypatch.setenv("LBGAP_EPOCH_PAUSE_S", "4")   # a slow pair: the deadline falls within it
    results, work, out = tmp_path / "results", tmp_path / "work", tmp_path / "out"
    base = ["sweep", "--profile", "smoke", "--device", "cpu", "--nets", "F1", "--seeds", "0", "--post", "",
            "--jobs", "1", "--pair-workers", "1", "--results-dir", str(results), "--work", str(work),
            "--out", str(out)]
    assert d.main(base + ["--budget", "12", "--estimate", "F1=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [p["status"] for p in summary["pairs"]] == ["stopped at deadline"]
    assert not list(results.rglob("*.json")) and (work / "smoke" / "F1-s0").is_dir()
    monkeypatch.delenv("LBGAP_EPOCH_PAUSE_S")
    assert d.main(base + ["--budget", "300", "--estimate", "F1=1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [p["status"] for p in summary["pairs"]] == ["exported"]
    got = sorted(p.name for p in (results / "smoke" / "train").glob("*.json"))
    assert got == ["F1-mnist-official-b16-s0.json", "F1-mnist-official-b32-s0.json"]
    assert not (work / "smoke" / "F1-s0").exists()
    with tarfile.open(out / "records.tar.gz") as tf:
        assert sorted(Path(n).name for n in tf.getnames()) == got
    import os
    import subprocess

    ref = tmp_path / "ref"   # the same pair by a plain sweep with the pair's torch threads (float32 sums depend on them)
    env = dict(os.environ, OMP_NUM_THREADS="2", CI="1", PYTHONPATH=str(ROOT / "src"),
               LBGAP_CHECKPOINTS=str(tmp_path / "ref-ckpt"))
    done = subprocess.run([sys.executable, "-m", "lbgap.cli", "sweep", "table2", "--profile", "smoke", "--seeds", "0",
                           "--nets", "F1", "--device", "cpu", "--results-dir", str(ref)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in got:   # stopped, resumed, exported: the record of an uninterrupted run
        a, b = (json.loads((r / "smoke" / "train" / name).read_text()) for r in (results, ref))
        assert (a["epochs"], a["steps"], a["stop_reason"]) == (b["epochs"], b["steps"], b["stop_reason"])
        assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
        assert a["final"] == b["final"]
    assert d.main(base[:-2] + ["--out", str(tmp_path / "out2"), "--seeds", "1", "--budget", "5",
                               "--estimate", "F1=1000"]) == 0
    summary = json.loads((tmp_path / "out2" / "summary.json").read_text())
    assert [p["status"] for p in summary["pairs"]] == ["not started (no time left)"]


def test_pack_reads_paths_from_stdin_and_collect_unpacks_the_named_tarball(tmp_path, monkeypatch, capsys):
    # what gpu_steps.sh and gpu_followups.sh do at each export: record paths on stdin -> records-*.tar.gz
    import io

    d = _driver()
    store = tmp_path / "store"
    files = {"quick/steps/C1-b64-s0-adam-lr0.001.json": '{"kind": "steps"}',
             "quick/steps/C1-b128-s0-adam-lr0.001.json": '{"kind":  "steps"}'}
    for rel, text in files.items():
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        (store / rel).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{store / rel}\n" for rel in files) + "\n"))
    assert d.main(["pack", str(out / "records-steps.tar.gz"), "--store", str(store)]) == 0
    assert "[export] 2 records" in capsys.readouterr().out
    with tarfile.open(out / "records-steps.tar.gz") as tf:
        assert sorted(tf.getnames()) == sorted(f"data/results/{rel}" for rel in files)
    monkeypatch.setattr(d, "ROOT", tmp_path / "repo")
    assert d.main(["collect", str(out)]) == 0
    for rel, text in files.items():
        assert (tmp_path / "repo/data/results" / rel).read_text() == text
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))          # nothing finished yet: no tarball, no error
    assert d.main(["pack", str(out / "records-none.tar.gz"), "--store", str(store)]) == 0
    assert not (out / "records-none.tar.gz").exists()
