"""lbgap.core.records: the record store (where, skip-if-done, write with provenance, schema upgrades) and
the provenance of a record."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest

from lbgap.core import paths
from lbgap.core import records

# committed schema-1 records written before the fields the upgrade adds existed (they stay schema 1 on disk)
OLD_TRAIN = paths.RESULTS_DIR / "paper" / "train" / "F1-mnist-official-b256-s0.json"
OLD_SHARPNESS = paths.RESULTS_DIR / "paper" / "sharpness" / "F1-mnist-official-b256-s0.json"
OLD_LANDSCAPE = paths.RESULTS_DIR / "paper" / "landscape" / "F1-mnist-official-b256-b6000-s0.json"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_is_dirty_for_code_not_for_records(tmp_path, monkeypatch):
    """A sweep that rewrites a committed record must not stamp the next record '+dirty'; a code edit must."""
    monkeypatch.delenv("LBGAP_GIT_COMMIT", raising=False)

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "results" / "paper").mkdir(parents=True)
    record = tmp_path / "data" / "results" / "paper" / "run.json"
    record.write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "start")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert records.git_commit(tmp_path) == head
    record.write_text('{"remeasured": true}\n')          # a record rewritten by the run before this one
    assert records.git_commit(tmp_path) == head
    (tmp_path / "src" / "code.py").write_text("x = 2\n")  # the code itself differs from HEAD
    assert records.git_commit(tmp_path) == head + "+dirty"
    monkeypatch.setenv("LBGAP_GIT_COMMIT", "abc123")      # a tree copied without .git (the GPU machine)
    assert records.git_commit(tmp_path) == "abc123"


def test_results_dir_resolution(tmp_path):
    assert records.store_root(None) == paths.RESULTS_DIR
    assert records.store_root(tmp_path) == tmp_path and records.store_root(str(tmp_path)) == tmp_path
    assert records.record_path(None, "quick", "train", "r") == paths.RESULTS_DIR / "quick" / "train" / "r.json"
    assert records.record_path(str(tmp_path), "quick", "train", "r") == tmp_path / "quick" / "train" / "r.json"


def test_written_record_reads_back_with_schema_kind_and_provenance(tmp_path):
    prov = records.provenance("cpu", 1.5, records.now())
    rec = records.write_record(tmp_path, "smoke", "dinh", "F1-x-s0", net="F1", rows=[dict(phi=float("nan"))],
                               provenance=prov)
    path = records.record_path(tmp_path, "smoke", "dinh", "F1-x-s0")
    on_disk = json.loads(path.read_text())
    assert list(on_disk)[:3] == ["schema", "kind", "run_id"] and list(on_disk)[-1] == "provenance"
    assert on_disk["schema"] == records.SCHEMA == 2 and on_disk["kind"] == "dinh"
    assert on_disk["provenance"]["wall_time_s"] == 1.5 and on_disk["provenance"]["git_commit"] == prov["git_commit"]
    assert on_disk["rows"] == [dict(phi="nan")]   # JSON has no NaN: written as a string
    back = records.read_record(path)
    assert back == dict(rec, rows=[dict(phi="nan")])
    assert [r["run_id"] for r in records.iter_records(tmp_path, "smoke", "dinh")] == ["F1-x-s0"]
    assert records.new_record("sharpness", run_id="a", entries={}) == dict(schema=2, kind="sharpness", run_id="a",
                                                                          entries={})


def test_skip_if_done(tmp_path):
    path = records.record_path(tmp_path, "smoke", "noise", "scan-1")
    assert records.done(path) is None and records.read_record(path) is None
    records.write_record(tmp_path, "smoke", "noise", "scan-1", provenance={}, what="scan")
    assert records.done(path) == dict(records.read_record(path), skipped=True)
    assert records.done(path, force=True) is None


def _v1_train() -> dict:
    return dict(schema=1, kind="train", run_id="F1-s0", status="ok", config=dict(net="F1", batch_size=256),
                data=dict(dataset="mnist"), final=dict(test_acc=0.98), provenance=dict(device="cpu"))


def test_v1_records_are_upgraded_on_read(tmp_path):
    cases = {
        "train": (_v1_train(), lambda r: (r["config"].update(tag=""), r["data"].update(eval_order="stored"))),
        "sharpness": (dict(schema=1, kind="sharpness", run_id="F1-s0", config=dict(net="F1"),
                           entries={"full-eps0.001": dict(value=1.0), "full-eps0.001-sum": dict(
                               value=2.0, objective="sum", subset_rule="spread")}, hessian=dict(trace=3.0)),
                      lambda r: (r["config"].update(tag=""),
                                 r["entries"]["full-eps0.001"].update(objective="mean", subset_rule="first"),
                                 r["hessian"].update(subset_rule="first"))),
        "landscape": (dict(schema=1, kind="landscape", run_id="F1-pair-s0", parts=dict(
                          linear=dict(train_examples=10, test_examples=5), contour=dict(train_examples=10))),
                      lambda r: (r.update(tag=""),
                                 r["parts"]["linear"].update(train_subset="first", test_subset="all"),
                                 r["parts"]["contour"].update(train_subset="first"))),
        "bench": (dict(kind="bench", run_id="C1-b256-cpu", net="C1"), lambda r: r.update(compile="off")),
        "evalorder": (dict(schema=1, kind="evalorder", run_id="F2-s0", rows={}), lambda r: None),
    }
    for kind, (v1, add) in cases.items():
        path = records.record_path(tmp_path, "paper", kind, v1["run_id"])
        records.atomic_write_json(path, v1)
        want = copy.deepcopy(v1)
        add(want)
        want["schema"] = 2
        assert records.read_record(path) == want, kind
        assert json.loads(path.read_text()) == v1, kind   # reading never rewrites the file
        assert records.upgrade(copy.deepcopy(want)) == want   # a current record is left as it is
    # a field the record has is never replaced by the default
    rec = _v1_train()
    rec["data"]["eval_order"] = "interleaved"
    assert records.upgrade(rec)["data"]["eval_order"] == "interleaved"


def test_committed_v1_records_read_as_schema_2_with_the_old_defaults():
    for path in (OLD_TRAIN, OLD_SHARPNESS, OLD_LANDSCAPE):
        assert json.loads(path.read_text())["schema"] == 1   # left as committed
    train = records.read_record(OLD_TRAIN)
    assert train["schema"] == 2 and train["data"]["eval_order"] == "stored" and train["config"]["tag"] == ""
    raw, sharp = json.loads(OLD_SHARPNESS.read_text())["entries"], records.read_record(OLD_SHARPNESS)["entries"]
    old = [k for k, e in raw.items() if "objective" not in e]
    assert old and all(sharp[k]["objective"] == "mean" for k in old)
    assert all(sharp[k] == dict(raw[k], objective=sharp[k]["objective"], subset_rule=sharp[k]["subset_rule"])
               for k in raw)
    assert records.read_record(OLD_LANDSCAPE)["tag"] == ""
    table = records.train_table()   # every committed training record
    assert set(table.eval_order) == {"stored", "interleaved"} and "" in set(table.tag)


def test_a_record_of_a_newer_schema_is_refused_in_one_line(tmp_path):
    path = records.record_path(tmp_path, "paper", "train", "F1-s0")
    records.atomic_write_json(path, dict(_v1_train(), schema=3))
    with pytest.raises(ValueError, match="has schema 3, which this lbgap .schema 2. cannot read; update lbgap"):
        records.read_record(path)


def test_extending_a_v1_record_writes_it_as_schema_2(tmp_path):
    path = records.record_path(tmp_path, "paper", "sharpness", "F1-s0")
    records.atomic_write_json(path, dict(schema=1, kind="sharpness", run_id="F1-s0", entries={"a": dict(value=1.0)}))
    records.save_piece(path, {}, "entries", {"b": dict(value=2.0, objective="sum", subset_rule="all")})
    on_disk = json.loads(path.read_text())
    assert on_disk["schema"] == 2 and on_disk["entries"]["a"]["objective"] == "mean"
    assert on_disk["entries"]["b"]["objective"] == "sum"


def test_every_committed_record_has_the_fields_its_kind_promises():
    """After the upgrade, each committed record of a kind with a fixed layout has every field of that layout
    (``records.KINDS``): readers index them without defaults."""
    for kind, layout in records.KINDS.items():
        recs = list(records.iter_records(None, None, kind))
        assert recs, kind
        for r in recs:
            missing = layout.__required_keys__ - r.keys()
            assert not missing, (r["_path"], sorted(missing))
            assert r["schema"] == records.SCHEMA and r["kind"] == kind


# ----------------------------------------------------------------------------- validation and the store
@pytest.mark.parametrize("content, words", [
    ("{", "unreadable"),
    ("[1, 2]", "JSON list"),
    ('"text"', "JSON str"),
    ('{"schema": 1}', "no 'kind'"),
    ('{"schema": 0, "kind": "train"}', "schema 0"),
    ('{"schema": 2, "kind": "train", "run_id": "r", "status": "ok", "config": {}}', "lacks final"),
    ('{"schema": 2, "kind": "train", "run_id": "r", "status": "ok", "config": {}, "final": []}', "'final' is a list"),
    ('{"schema": 2, "kind": "train", "status": "ok", "config": {}, "final": {}}', "lacks run_id"),
    (b"\xff\xfe{}", "unreadable"),
])
def test_a_malformed_record_is_reported_with_its_path(tmp_path, content, words):
    path = records.record_path(tmp_path, "paper", "train", "r")
    path.parent.mkdir(parents=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(records.RecordError, match=words) as e:
        records.read_record(path)
    assert str(path) in str(e.value) and "delete it and rerun" in str(e.value)
    with pytest.raises(records.RecordError):   # never taken as finished
        records.done(path)


def test_iter_records_collects_malformed_ones_when_asked_and_reads_on(tmp_path):
    records.write_record(tmp_path, "paper", "train", "good", status="ok", config={}, final={}, provenance={})
    bad_path = records.record_path(tmp_path, "paper", "train", "bad")
    bad_path.write_text('{"schema": 1}')
    with pytest.raises(records.RecordError):
        list(records.iter_records(tmp_path))
    bad: list[str] = []
    assert [r["run_id"] for r in records.iter_records(tmp_path, bad=bad)] == ["good"]
    assert len(bad) == 1 and str(bad_path) in bad[0]


def test_lbgap_status_lists_malformed_records_and_goes_on(tmp_path, capsys):
    from lbgap.cli import main

    rec = records.read_record(sorted((paths.RESULTS_DIR / "paper" / "train").glob("*.json"))[0])
    rec.pop("_path", None)
    records.atomic_write_json(records.record_path(tmp_path, "paper", "train", rec["run_id"]), rec)
    for name, content in (("list", "[1]"), ("schema-only", '{"schema": 1}'), ("cut", '{"kind": "tr')):
        records.record_path(tmp_path, "paper", "train", name).write_text(content)
    records.record_path(tmp_path, "paper", "sharpness", "odd").parent.mkdir(parents=True)
    records.record_path(tmp_path, "paper", "sharpness", "odd").write_text("[]")
    assert main(["status", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Malformed records (4;" in out and rec["config"]["net"] in out
    for name in ("list", "schema-only", "cut"):
        assert str(records.record_path(tmp_path, "paper", "train", name)) in out


def test_check_store_makes_or_refuses_the_store_before_any_work(tmp_path):
    assert records.check_store(tmp_path / "new" / "results") == (tmp_path / "new" / "results").resolve()
    assert list((tmp_path / "new" / "results").iterdir()) == []   # the write probe is gone
    (tmp_path / "file").write_text("")
    with pytest.raises(records.StoreError, match="is a file"):
        records.check_store(tmp_path / "file")
    with pytest.raises(records.StoreError, match="cannot be created"):
        records.check_store(tmp_path / "file" / "results")
    with pytest.raises(ValueError, match="not allowed"):
        records.check_store(tmp_path, "paper", "F1-s0-../../escape")


@pytest.mark.parametrize("run_id", ["../x", "a/b", "a b", ".hidden", "", "x" * 201])
def test_record_paths_never_leave_the_store(tmp_path, run_id):
    with pytest.raises(ValueError, match="run id .* is not allowed"):
        records.record_path(tmp_path, "paper", "train", run_id)


def test_provenance_records_the_load_read_when_now_gave_the_start_time(monkeypatch):
    # the start load is the one read with now()'s timestamp, the end load the one at provenance(); an explicit
    # load_at_start wins
    loads = iter([[1.0, 1.0, 1.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]])
    monkeypatch.setattr(records, "host_load", lambda: next(loads))
    monkeypatch.setattr(records, "_LOAD_AT", {})
    started = records.now()
    prov = records.provenance("cpu", 1.0, started)
    assert prov["host_load_start"] == [1.0, 1.0, 1.0] and prov["host_load_end"] == [9.0, 9.0, 9.0]
    assert records.provenance("cpu", 1.0, started, [2.0, 2.0, 2.0])["host_load_start"] == [2.0, 2.0, 2.0]


def test_core_hours_take_wall_time_else_the_span_times_threads(tmp_path):
    from lbgap.core.records import core_hours, cost_of

    timed = {"run_id": "t", "provenance": {"wall_time_s": 1800.0, "threads": 2, "started": "2026-01-01T00:00:00+00:00",
                            "finished": "2026-01-01T05:00:00+00:00", "cpu": "A"}}
    span = {"run_id": "s", "provenance": {"wall_time_s": None, "threads": 1, "started": "2026-01-01T00:00:00+00:00",
                           "finished": "2026-01-01T00:45:00+00:00", "cpu": "B"}}
    assert core_hours(timed) == pytest.approx(1.0)            # its own wall time, not the span
    assert core_hours(span) == pytest.approx(0.75)
    assert core_hours({}) == 0
    for run_id in ("s", "other"):   # the sharpness records in the store: one of a run of the measured part
        records.write_record(tmp_path, "paper", "sharpness", run_id, provenance=span["provenance"])
    c = cost_of({"grid": [timed, span], "final": []}, "grid", tmp_path)
    assert c["parts"] == {"grid": dict(records=2, core_h=pytest.approx(1.75)), "final": dict(records=0, core_h=0),
                          "sharpness": dict(records=1, core_h=pytest.approx(0.75))}
    assert cost_of({"grid": [timed, span], "final": []}, "final", tmp_path)["parts"]["sharpness"]["records"] == 0
    assert (c["cpus"], c["threads"]) == (["A", "B"], [1, 2])
