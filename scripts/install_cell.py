"""Put the launch-button install cell first in every notebook of the book (idempotent).

A chapter opened from the book's Colab or Binder button runs where lbgap is not installed: the cell clones the
repository named in ``_config.yml`` (its committed records come with it), installs it, and moves to the clone,
so the notebook runs in ``results`` mode as in the book, or in ``paper`` mode on a Colab GPU. In a checkout with
lbgap installed the cell does nothing. The cell is removed from the rendered page (tag ``remove-cell``).

Usage: ``python scripts/install_cell.py`` (rewrites the notebooks in place; re-execute them afterwards).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "install-lbgap"


def repository_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


def cell_source(notebook: Path) -> str:
    into = "lbgap" if notebook.parent == ROOT else f"lbgap/{notebook.parent.relative_to(ROOT).as_posix()}"
    return (
        "# Opened from a launch button (Colab, Binder) where lbgap is not installed: clone the repository (records\n"
        "# included), install it and work in the clone. In a checkout with lbgap installed this does nothing.\n"
        "import importlib.util, os, subprocess, sys\n"
        "if importlib.util.find_spec(\"lbgap\") is None:\n"
        f"    subprocess.run([\"git\", \"clone\", \"--depth\", \"1\", \"{repository_url()}\", \"lbgap\"], check=True)\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"-e\", \"lbgap\"], check=True)\n"
        "    sys.path.insert(0, os.path.abspath(\"lbgap/src\"))\n"
        f"    os.chdir(\"{into}\")")


def notebooks() -> list[Path]:
    return [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]


def install(notebook: Path) -> bool:
    """Insert or refresh the cell; True if the file changed."""
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    cell = {"cell_type": "code", "execution_count": None, "id": "install-lbgap",
            "metadata": {"tags": ["remove-cell", TAG]}, "outputs": [],
            "source": cell_source(notebook).splitlines(keepends=True)}
    cells = nb["cells"]
    if cells and TAG in cells[0].get("metadata", {}).get("tags", []):
        cell["execution_count"], cell["outputs"] = cells[0].get("execution_count"), cells[0].get("outputs", [])
        cells[0] = cell
    else:
        cells.insert(0, cell)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        notebook.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    changed = [nb.relative_to(ROOT).as_posix() for nb in notebooks() if install(nb)]
    print("install cell updated in: " + (", ".join(changed) if changed else "none"))
    sys.exit(0)
