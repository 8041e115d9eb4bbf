"""Shared fixtures: tests run real code on tiny data, on the CPU, with one torch thread."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("CI", "1")  # no progress bars


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    """Checkpoints of test runs go to a temp dir, never into data/checkpoints."""
    from lbgap.core import paths
    from lbgap.core import train

    d = tmp_path / "checkpoints"
    monkeypatch.setattr(paths, "CHECKPOINT_DIR", d)
    monkeypatch.setattr(train.paths, "CHECKPOINT_DIR", d)
    return d
