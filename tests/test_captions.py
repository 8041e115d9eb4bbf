"""Every table and figure caption of the book names its run set from the registry (``lbgap.book.run_sets``): a
static check of every call that shows a table or a figure (``lbgap.book`` and the notebooks' code cells), and the
captions the chapters' show functions print on the committed records."""
from __future__ import annotations

import ast
import json
import re

import pytest

from lbgap.book import run_sets
from lbgap.core import paths

ROOT = paths.REPO_ROOT
BOOK = ROOT / "src" / "lbgap" / "book"
NOTEBOOKS = [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]
CAPTIONED = {"show": 1, "styled": 1, "show_table": 1, "table": 1, "show_figure": 1, "dropdown": 1}   # caption's position
CAPTION_KW = {"caption", "summary"}
EXEMPT = {"style.py", "run_sets.py"}     # the display functions themselves and the registry


# ------------------------------------------------------------------------------------------------ the static check
def _style_names(tree) -> set[str]:
    """The names a module imports from ``lbgap.book.style`` (at any level): only those calls show a table."""
    return {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            and n.module == "lbgap.book.style" for a in n.names if a.name in CAPTIONED}


def _assigns(scope) -> dict[str, list]:
    """Name -> every expression assigned to it in ``scope`` (a function or module body, nested blocks included)."""
    out: dict[str, list] = {}
    for n in ast.walk(scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                for name in ast.walk(t):
                    if isinstance(name, ast.Name):
                        out.setdefault(name.id, []).append(n.value)
    return out


def _names_run_set(expr, assigns, seen=()) -> bool:
    """Whether ``expr`` takes its words from the registry: a call into ``run_sets`` or into a function whose name
    says it returns run sets (``*run_set*``, ``*_sets*``), directly or through a variable assigned in scope."""
    for n in ast.walk(expr):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "run_sets") \
                    or "run_set" in name or name.endswith("_sets"):
                return True
        if isinstance(n, ast.Name) and n.id in assigns and n.id not in seen:
            if any(_names_run_set(v, assigns, (*seen, n.id)) for v in assigns[n.id]):
                return True
    return False


def unnamed_captions(source: str, where: str) -> list[str]:
    """The display calls in ``source`` whose caption (or ``runs=``) does not name a run set from the registry."""
    tree = ast.parse(source)
    names = _style_names(tree) or ({"table", "show", "styled", "show_table", "show_figure", "dropdown"}
                                   & {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
                                   if where.endswith(".ipynb") else set())
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    module_assigns = _assigns(tree)
    bad = []
    for scope in [tree, *scopes]:
        assigns = {**module_assigns, **_assigns(scope)} if scope is not tree else module_assigns
        body = scope.body if scope is not tree else [s for s in tree.body
                                                     if not isinstance(s, (ast.FunctionDef, ast.ClassDef))]
        for stmt in body:
            for n in ast.walk(stmt):
                if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names):
                    continue
                pos = CAPTIONED[n.func.id]
                parts = [n.args[pos]] if len(n.args) > pos else []
                parts += [k.value for k in n.keywords if k.arg in CAPTION_KW | {"runs"}]
                if not any(_names_run_set(p, assigns) for p in parts):
                    bad.append(f"{where}:{n.lineno}: {n.func.id}(...) names no run set")
    return sorted(set(bad))


def test_the_check_finds_a_caption_without_a_run_set():
    src = ("from lbgap.book.style import show, show_figure\nfrom lbgap.book import run_sets\n"
           "def f(t, fig):\n    show(t, 'Table 2: accuracy', 'x')\n    show_figure(fig)\n"
           "    cap = run_sets.caption('Table 3', 'F1-table2')\n    show(t, cap, 'y')\n"
           "    show(t, 'Table 4 — runs: ' + table2_run_sets(ctx), 'z')\n")
    assert unnamed_captions(src, "m.py") == ["m.py:4: show(...) names no run set",
                                             "m.py:5: show_figure(...) names no run set"]


@pytest.mark.parametrize("module", sorted(p.name for p in BOOK.glob("*.py") if p.name not in EXEMPT))
def test_every_caption_in_the_book_modules_names_a_run_set(module):
    assert unnamed_captions((BOOK / module).read_text(), module) == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_caption_in_the_notebooks_names_a_run_set(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells[1:] if c["cell_type"] == "code")
    assert unnamed_captions(code, nb.name) == []


# ------------------------------------------------------------------------------------------------ the captions shown
# show functions left to the static check above: they cost seconds on the committed records and their captions are
# fixed words (status.show_status, after_keskar.show_rows) or built like their neighbours'
SLOW = {"status.show_status", "status.show_first_screen", "front.show_answer", "after_keskar.show_rows",
        "gradient_noise.show_slopes", "gradient_noise.show_variance", "regression.show_time_vs_n",
        "regression.show_examples_by_batch"}


def _notebook_calls(nb) -> tuple[dict, list[tuple[str, str]]]:
    """A notebook's parameters and the (module, function) of every ``module.show_*(...)`` call of its code cells."""
    cells = [("".join(c["source"])) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    params = {}
    for cell in cells:
        for k, v in re.findall(r"^(profile|seeds|nets|device) = (\"[^\"]*\")", cell, re.M):
            params.setdefault(k, json.loads(v))
    calls = [(m, f) for cell in cells for m, f in re.findall(r"\b(\w+)\.(show_\w+)\(", cell)
             if (BOOK / f"{m}.py").exists() and f"{m}.{f}" not in SLOW]
    return params, list(dict.fromkeys(calls))


@pytest.fixture
def captions(monkeypatch):
    """Record every caption the book's display functions receive (a dropdown's inner table excepted) instead of
    drawing figures."""
    import importlib
    import pkgutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import lbgap.book
    from lbgap.book import style

    seen, inner = [], [False]
    styled, dropdown = style.styled, style.dropdown

    def rec_styled(df, caption, uuid, wrap=(), labels=None):
        if not inner[0]:
            seen.append(("table " + uuid, caption))
        return styled(df, caption, uuid, wrap, labels)

    def rec_dropdown(df, summary, uuid, labels=None):
        seen.append(("listing " + uuid, summary))
        inner[0] = True
        try:
            return dropdown(df, summary, uuid, labels)
        finally:
            inner[0] = False

    def rec_figure(fig, caption=None, reading=None):
        seen.append(("figure", caption))
        plt.close(fig)

    for m in pkgutil.iter_modules(lbgap.book.__path__):
        mod = importlib.import_module(f"lbgap.book.{m.name}")
        for name, fn in (("styled", rec_styled), ("dropdown", rec_dropdown), ("show_figure", rec_figure)):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, fn)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    return seen


@pytest.mark.parametrize("nb", [nb for nb in NOTEBOOKS if _notebook_calls(nb)[1]], ids=lambda p: p.name)
def test_the_captions_each_chapter_shows_name_their_run_sets(nb, captions, capsys):
    import importlib
    import inspect
    import warnings

    from lbgap.book.context import context

    params, calls = _notebook_calls(nb)
    ctx = context("results", None, params.get("device", "auto"), params.get("seeds", "0-4"), params.get("nets", ""))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module, fn in calls:
            f = getattr(importlib.import_module(f"lbgap.book.{module}"), fn)
            f(ctx) if inspect.signature(f).parameters else f()
    capsys.readouterr()
    names = run_sets.names()
    missing = [f"{what}: {cap!r}" for what, cap in captions if not cap or not any(n in cap for n in names)]
    assert captions and not missing, "\n".join(missing)
