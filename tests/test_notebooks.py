"""The book's notebooks: every one re-executed in ``results`` mode and compared with its stored outputs (nbval,
strict, with ``nbval_sanitize.cfg``), and every one run by papermill with ``profile="smoke"`` (real code on
tiny synthetic data, into a temp dir, cwd = the notebook's folder, as under jupyter-book and nbval).

A committed notebook whose outputs no longer follow from the committed records fails here: re-execute it
with ``make notebooks``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lbgap.core import paths

ROOT = paths.REPO_ROOT
NOTEBOOKS = [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]
SANITIZE = ROOT / "nbval_sanitize.cfg"


def _id(path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module", autouse=True)
def _warm_matplotlib():
    """Matplotlib announces on stderr that it builds its font cache at the first import on a fresh machine;
    build it here so that no notebook cell prints it (nbval compares stderr too)."""
    import matplotlib.pyplot  # noqa: F401


def test_every_notebook_is_collected():
    assert (ROOT / "chapters" / "sb_vs_lb.ipynb") in NOTEBOOKS
    assert (ROOT / "chapters" / "reproducibility.ipynb") in NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=_id)
def test_nbval_results_mode(nb, tmp_path):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(SANITIZE), "--nbval-cell-timeout=1800", "--color=no", str(nb)]
    env = dict(os.environ, CI="1", LBGAP_CHECKPOINTS=str(tmp_path / "checkpoints"))
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, (f"{_id(nb)}: its stored outputs no longer follow from the records (or a cell "
                               f"failed); re-execute it with `make notebooks`.\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=_id)
def test_papermill_smoke(nb, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("LBGAP_CHECKPOINTS", str(tmp_path / "checkpoints"))  # the kernel inherits it
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters=dict(profile="smoke", results_dir=str(tmp_path / "results")),
                        cwd=str(nb.parent), kernel_name="python3", progress_bar=False, execution_timeout=900)
    executed = json.loads(out.read_text())
    assert executed["metadata"]["papermill"]["parameters"]["profile"] == "smoke"
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    if nb.name == "sb_vs_lb.ipynb":  # the smoke grid really ran and fed Table 2 (2 seeds each, SB and LB)
        html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in executed["cells"]
                       for o in c.get("outputs", []))
        assert "ours: smoke (n=2/2)" in html
        assert any((tmp_path / "results" / "smoke" / "train").glob("F1-*-s1.json"))
