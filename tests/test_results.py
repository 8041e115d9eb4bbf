"""lbgap.core.records: provenance of a record."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from lbgap.core import records


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
