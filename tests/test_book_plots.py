from __future__ import annotations

import matplotlib as mpl


def test_context_applies_the_books_one_figure_style(monkeypatch):
    # every notebook opens with context(): after it, matplotlib draws with the book's settings
    from lbgap.book import plots
    from lbgap.book.context import context

    monkeypatch.setitem(mpl.rcParams, "axes.spines.top", True)
    monkeypatch.setitem(mpl.rcParams, "legend.frameon", True)
    context("results", None, "auto", "0", "F1")
    for key, value in plots.RC.items():
        assert mpl.rcParams[key] == value, key


def test_no_book_module_sets_a_style_of_its_own():
    # one style: rc settings and themes live in book/plots.py only
    import pathlib
    import re

    import lbgap.book

    pattern = re.compile(r"rcParams|set_theme|sns\.set\(|style\.use|set_palette|plt\.rc\(")
    root = pathlib.Path(lbgap.book.__file__).parent
    offenders = [p.name for p in root.glob("*.py") if p.name != "plots.py" and pattern.search(p.read_text())]
    assert not offenders, offenders
