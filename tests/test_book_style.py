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
