"""Where things live, resolved from the repository root (never from the caller's cwd).

Notebooks run with ``chapters/`` as cwd under jupyter-book and nbval and with the caller's cwd under
papermill; everything here is absolute and independent of that. Environment overrides exist for
machines where the repository is read-only or data lives elsewhere:
``LBGAP_ROOT`` (repository root), ``LBGAP_CACHE`` (dataset cache), ``LBGAP_CHECKPOINTS``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("LBGAP_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "lbgap").is_dir():
            return parent
    return Path.cwd().resolve()  # installed without the repository: fall back to the cwd


REPO_ROOT = _find_root()
DATA_DIR = REPO_ROOT / "data"
RESULTS_DIR = DATA_DIR / "results"
PAPER_DIR = DATA_DIR / "paper"
CACHE_DIR = Path(os.environ.get("LBGAP_CACHE", DATA_DIR / "cache")).resolve()
CHECKPOINT_DIR = Path(os.environ.get("LBGAP_CHECKPOINTS", DATA_DIR / "checkpoints")).resolve()
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()


def resolve(path: str | os.PathLike | None, default: Path) -> Path:
    """A user-given path is taken relative to the cwd (as shells do); ``None`` means the default."""
    return default if path is None else Path(path).expanduser().resolve()


# Run ids, tags and profile names become file and folder names in the record and checkpoint stores: letters,
# digits and ``. _ + -``, not starting with a dot, so none can reach outside its store.
SAFE_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,199}")
