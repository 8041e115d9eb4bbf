"""The book's sources, checked without building it: every code cell's input is out of the reader's way (hidden or
removed), every citation resolves to an entry of references.bib with a readable label, and the publishing workflow
builds the book with ``make book`` and deploys ``_build/html`` to GitHub Pages."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from lbgap.core import paths

ROOT = paths.REPO_ROOT
NOTEBOOKS = [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]
MARKDOWN = [ROOT / "references.md", *sorted((ROOT / "chapters").glob("*.md"))]
# remove-input: parameters, imports, the context; hide-input: a reader may open it; remove-cell: neither shown
INPUT_TAGS = {"remove-input", "hide-input", "remove-cell"}
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _id(path) -> str:
    return str(path.relative_to(ROOT))


def _code_cells(nb_path):
    return [c for c in json.loads(nb_path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=_id)
def test_every_code_cell_hides_its_input(nb):
    cells = _code_cells(nb)
    assert cells
    untagged = ["".join(c["source"]).splitlines()[0] for c in cells
                if len(INPUT_TAGS & set(c["metadata"].get("tags", []))) != 1]
    assert not untagged, (f"{_id(nb)}: code cells without exactly one of remove-input / hide-input (remove-cell): "
                          f"{untagged}; tag them (cell metadata only)")
    params = cells[1]["metadata"]["tags"]
    assert "parameters" in params and ({"remove-input", "remove-cell"} & set(params)), \
        f"{_id(nb)}: the parameters cell (after the install cell) keeps its tag and its input is removed"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=_id)
def test_notebook_opened_from_a_launch_button_installs_lbgap(nb):
    """The first code cell, removed from the page, installs lbgap from the repository _config.yml names when it is
    not importable (scripts/install_cell.py writes it), and does nothing where lbgap is installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("install_cell", ROOT / "scripts" / "install_cell.py")
    install_cell = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install_cell)
    first = _code_cells(nb)[0]
    assert "remove-cell" in first["metadata"]["tags"], f"{_id(nb)}: the install cell is not hidden"
    source = "".join(first["source"])
    assert source == install_cell.cell_source(nb), f"{_id(nb)}: run scripts/install_cell.py"
    assert install_cell.repository_url() in source and "find_spec(\"lbgap\") is None" in source
    for output in first.get("outputs", []):   # in a checkout it prints nothing
        assert output.get("output_type") not in ("stream", "error"), f"{_id(nb)}: the install cell printed"


def _cited_keys() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in NOTEBOOKS + MARKDOWN:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "markdown")
        for keys in CITE.findall(text):
            for key in keys.split(","):
                used.setdefault(key.strip(), []).append(_id(path))
    return used


def _bibliography():
    from pybtex.database import parse_file

    return parse_file(str(ROOT / "references.bib"), "bibtex")


def test_every_cited_key_is_in_references_bib():
    used, entries = _cited_keys(), _bibliography().entries
    assert {"keskar2017", "mccandlish2018", "li2014", "goyal2017"} <= set(used)
    missing = {k: v for k, v in used.items() if k not in entries}
    assert not missing, f"cited but not in references.bib: {missing}; add their entries"


def test_bibliography_labels_are_readable():
    """The labels the references page shows (alpha style): initials and a year, no TeX spilled into them (an accent
    written as {\\'a} once gave Goyal et al. the label GDollarG+17)."""
    from pybtex.plugin import find_plugin

    db = _bibliography()
    style = find_plugin("pybtex.style.formatting", "alpha")()
    labels = {e.key: e.label for e in style.format_entries(db.entries.values())}
    bad = {k: v for k, v in labels.items() if not re.fullmatch(r"[A-Z][A-Za-z]{0,3}\+?\d{2}", v)}
    assert not bad, f"unreadable bibliography labels {bad}: fix the author fields in references.bib"
    assert labels["goyal2017"] == "GDG+17"


def test_book_workflow_builds_with_make_book_and_deploys_pages():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    on = wf.get("on", wf.get(True))   # YAML 1.1 reads the key `on` as true
    assert on["push"]["branches"] == ["main"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = [s.get("run", "") for s in build["steps"]]
    assert any(line.strip() == "make book" for r in runs for line in r.splitlines()), runs
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_config_links_the_repository_and_launch_buttons():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["repository"] == {"url": "https://github.com/lbgap/lbgap", "branch": "main"}
    assert cfg["html"]["use_repository_button"] is True and cfg["html"]["use_issues_button"] is True
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
