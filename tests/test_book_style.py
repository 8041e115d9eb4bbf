"""lbgap.book.style: table cells, and the figure check that keeps text readable once a figure is shrunk to the
article column at a 1280 px window."""
from __future__ import annotations

import ast
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lbgap.book import style  # noqa: E402

BOOK = Path(style.__file__).parent


def test_cells():
    assert style.pm(98.1734, 0.2151) == "98.17 ± 0.22"
    assert style.pm(98.1734, float("nan")) == "98.17"
    assert style.num(None, "{:.1f}") == "—" and style.num(float("nan"), "{:.1f}") == "—"
    assert style.num(3.14159, "{:.2f}") == "3.14"


def test_text_size_follows_the_shrink_to_the_column():
    """A 10-pt label is 10 * 100/72 = 13.9 px in a PNG at 100 dpi; a figure whose PNG is wider than the column is
    shrunk by column / width, and so are its labels."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_xlabel("x label", fontsize=10)
    sizes = dict(style.text_sizes(fig))
    assert sizes["x label"] == pytest.approx(10 * style.FIGURE_DPI / 72)
    sizes_narrow = dict(style.text_sizes(fig, column_px=300))
    import io

    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=style.FIGURE_DPI, bbox_inches="tight")
    width = Image.open(buf).size[0]
    assert width > 300
    assert sizes_narrow["x label"] == pytest.approx(10 * style.FIGURE_DPI / 72 * 300 / width)
    plt.close(fig)


def test_check_readable_fails_on_a_wide_figure_with_small_legend():
    fig, axes = plt.subplots(1, 3, figsize=(16, 3.5))
    axes[0].plot([0, 1], label="SB")
    axes[0].legend(fontsize=8)
    with pytest.raises(ValueError, match="below 9 px"):
        style.check_readable(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([0, 1], label="SB")
    ax.legend()
    style.check_readable(fig)           # 7 in at 100 dpi fits the column: 10-pt text stays 13.9 px
    plt.close(fig)


def test_every_book_figure_goes_through_the_check():
    """No chapter module shows a figure with plt.show() directly: they call style.show_figure (or return the
    figure to a caller that does)."""
    offenders = []
    for path in BOOK.glob("*.py"):
        if path.name == "style.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "show"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "plt"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"plt.show() outside style.show_figure: {offenders}"


def test_fold_constant_moves_the_columns_with_one_value_into_words():
    df = pd.DataFrame({"net": ["F1", "C1"], "device": ["cpu", "cpu"], "torch": ["2.13.0", "2.13.0"], "n": [1, 2]})
    rest, words = style.fold_constant(df)
    assert list(rest.columns) == ["net", "n"]
    assert words == "device: cpu; torch: 2.13.0"
    rest, words = style.fold_constant(df, keep=("device",))
    assert list(rest.columns) == ["net", "device", "n"] and words == "torch: 2.13.0"
    one_row, words = style.fold_constant(df.iloc[:1])     # one row: nothing is "constant", nothing moves
    assert list(one_row.columns) == list(df.columns) and words == ""
    _, words = style.fold_constant(df, labels={"torch": "torch version"})   # the caption names a column's label
    assert words == "device: cpu; torch version: 2.13.0"


def test_tables_get_their_labels_only_when_shown():
    df = pd.DataFrame({"net": ["F1"], "gap_pt": [1.5], "our_runs": ["paper"]})
    html = style.styled(df, "cap", "labels", labels={"gap_pt": "gap (pt)", "our_runs": "our runs"}).data
    assert ">gap (pt)</th>" in html and ">our runs</th>" in html and "gap_pt" not in html
    assert 'class="data row0 col2 verdict"' in html                        # "our runs" wraps (style.WRAPPED)
    assert list(df.columns) == ["net", "gap_pt", "our_runs"]                # the table itself keeps its columns
    assert list(style.labelled(df, None).columns) == list(df.columns)


def test_cell_reads_as_a_reader_reads():
    assert style.cell(5744907315571.0) == "5,744,907,315,571"
    assert style.cell(540.0) == "540" and style.cell(0.001) == "0.001" and style.cell(5.9) == "5.9"
    assert style.cell(float("nan")) == "—" and style.cell(None) == "—" and style.cell("nan") == "—"
    assert style.cell(1.23e-5) == "1.23×10⁻⁵" and style.cell(-0.25) == "−0.25"


def test_table_has_units_no_index_and_no_nan():
    df = pd.DataFrame({"batch": [256, 6000], "time": [0.001, 540.0], "phi": [5.9, float("nan")]},
                      index=pd.Index([3, 7]))
    html = style.table(df, "Cost", "t", runs="F1, paper profile, seeds 0–4", units={"time": "s"}).data
    assert "time (s)" in html and "6,000" in html and "540<" in html and "5.9<" in html
    assert "—" in html and "NaN" not in html and "nan" not in html and "0.001000" not in html
    assert "Cost — runs: F1, paper profile, seeds 0–4" in html
    assert ">3<" not in html and ">7<" not in html          # the index is not a column


def _covered_by_legend(fig):
    return style.legend_overlaps(fig)


def test_legend_over_the_data_is_found_and_moved_out():
    """A legend placed on top of a line's vertices covers them (window extents); place_legends moves it out of
    the axes, after which no legend box contains a plotted point or line vertex."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.8, 3.5))
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.ones_like(x) * 0.9, "o-", label="SB")
    ax.scatter(x, x, label="LB")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")                  # sits on the line y = 0.9
    assert _covered_by_legend(fig)
    style.place_legends(fig)
    assert _covered_by_legend(fig) == []
    leg = ax.get_legend()
    assert leg.get_window_extent().x0 >= ax.bbox.x1 - 1  # right of the axes
    plt.close(fig)


def test_legend_of_a_left_panel_goes_under_the_panels():
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(7, 3))
    for ax in axes:
        ax.plot(np.linspace(0, 1, 30), np.linspace(0, 1, 30), label="line")
    axes[0].legend(loc="center")
    assert _covered_by_legend(fig)
    style.place_legends(fig)
    assert _covered_by_legend(fig) == [] and fig.legends and axes[0].get_legend() is None
    plt.close(fig)


def test_show_figure_refuses_a_legend_it_cannot_move(monkeypatch):
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.8, 3.5))
    ax.plot(np.linspace(0, 1, 50), np.linspace(0, 1, 50), label="x")
    ax.legend(loc="center")
    monkeypatch.setattr(style, "place_legends", lambda f: None)
    with pytest.raises(ValueError, match="legend covers data"):
        style.show_figure(fig)
    plt.close(fig)


def test_batch_axis_reads_thousands():
    fig, ax = plt.subplots()
    ax.plot([256, 1024, 30000], [1, 2, 3])
    ax.set_xscale("log")
    style.batch_axis(ax, [256, 1024, 30000])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["256", "1,024", "30,000"]
    plt.close(fig)


def test_verdict_box_is_an_admonition():
    html = style.verdict_box("Verdicts", ["**F1**: gap < 1 pt, unresolved (n = 2)"]).data
    assert html.startswith('<div class="admonition note lbgap-verdicts"><p class="admonition-title">Verdicts</p>')
    assert "<li><p><strong>F1</strong>: gap &lt; 1 pt, unresolved (n = 2)</p></li>" in html
    assert "unresolved: no records yet" in style.verdict_box("V", []).data


def test_book_figures_leave_the_data_alone(monkeypatch):
    """Real chapter figures from the committed records: after show_figure's placement no legend box covers a
    point (Figure 4 and the gradient-norm figures had legends over their data)."""
    from lbgap.book import gradient_norm, threshold
    from lbgap.book.context import context

    shown = []

    def keep(fig, caption=None, reading=None):
        style.place_legends(fig)
        shown.append((style.legend_overlaps(fig), caption, reading))
        plt.close(fig)

    monkeypatch.setattr(threshold, "show_figure", keep)
    monkeypatch.setattr(gradient_norm, "show_figure", keep)
    ctx = context("results")
    threshold.show_figure4(ctx)
    gradient_norm.show_figure_budgets(ctx)
    if not shown:
        pytest.skip("no committed Figure 4 or gradient-norm records")
    for overlaps, caption, reading in shown:
        assert overlaps == [] and caption and reading
