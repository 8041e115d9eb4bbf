"""How the book shows numbers and tables: mean ± std cells, "—" for what was not measured, captioned HTML."""
from __future__ import annotations


def pm(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std`` to ``digits`` decimals; the mean alone where the std is NaN (one seed)."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std == std else f"{mean:.{digits}f}"


def pm_over(s, fmt: str = "{:.3g}") -> str:
    """mean ± std (ddof=1, 2 significant digits) of a series over seeds, NaN left out; the mean alone for one
    value, "—" for none."""
    s = s.dropna()
    return (fmt.format(s.mean()) + " ± " + "{:.2g}".format(s.std())) if len(s) > 1 else (fmt.format(s.mean()) if len(s) else "—")


def num(v, fmt: str) -> str:
    """A table cell: ``fmt`` of ``v``, or "—" where it was not measured (None or NaN)."""
    return "—" if v is None or v != v else fmt.format(v)


def sig(v: float) -> str:
    """3 significant digits without exponent for readers: 0.00451, 8.58, 1,629, 40,000 ("—" for NaN)."""
    if v != v:
        return "—"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


WRAPPED = ("verdict", "our runs", "runs", "item", "networks by profile", "claim (ours / paper)", "data")


def styled(df, caption: str, uuid: str, wrap=()):
    """A captioned, index-free HTML table with a fixed element id, displayed as plain HTML (its text/plain
    form is constant, so nbval's strict comparison checks the table itself). Numbers do not wrap; headers and
    columns of words (:data:`WRAPPED`, and those named in ``wrap``) do."""
    import pandas as pd
    from IPython.display import HTML

    css = [{"selector": "", "props": "font-size: 0.85em;"},
           {"selector": "td, th", "props": "white-space: nowrap; padding: 0.15em 0.45em;"},
           {"selector": "th", "props": "white-space: normal;"},
           {"selector": "td.verdict", "props": "white-space: normal; min-width: 7em;"}]
    styler = df.style.hide(axis="index").set_caption(caption).set_uuid(uuid).set_table_styles(css)
    wrapped = [c for c in (*WRAPPED, *wrap) if c in df.columns]
    if wrapped:
        classes = pd.DataFrame("", index=df.index, columns=df.columns)
        classes[wrapped] = "verdict"
        styler = styler.set_td_classes(classes)
    return HTML(styler.to_html())


def show(df, caption: str, uuid: str, wrap=()) -> None:
    """Display :func:`styled` ``df`` (a cell that shows more than one table)."""
    from IPython.display import display

    display(styled(df, caption, uuid, wrap))



def dropdown(df, summary: str, uuid: str):
    """A long listing folded away: a collapsed ``<details>`` whose ``summary`` line opens :func:`styled` ``df``
    (the page shows one line; the table stays searchable and copyable)."""
    from IPython.display import HTML

    return HTML(f"<details><summary>{summary}</summary>{styled(df, '', uuid).data}</details>")


def verdict_lines(lines) -> None:
    """Display a list of sentences as a Markdown bullet list (verdicts and readings under a table or figure)."""
    from IPython.display import Markdown, display

    display(Markdown("\n".join(f"- {line}" for line in lines)))

# Figures. The article column is COLUMN_PX wide in a 1280 px window (tests/page_fit.py measures it from the built
# book); an inline figure is a PNG at FIGURE_DPI that the browser shrinks to the column when it is wider.
COLUMN_PX = 736
FIGURE_DPI = 100
MIN_TEXT_PX = 9


def text_sizes(fig, column_px: int = COLUMN_PX) -> list[tuple[str, float]]:
    """Every visible non-empty text of ``fig`` (tick labels, legends, titles, annotations) with the height in
    screen pixels its font gets once the saved figure (tight bounding box, FIGURE_DPI) is shrunk to the column."""
    import io

    from matplotlib.text import Text
    from PIL import Image

    buf = io.BytesIO()                      # the PNG the notebook stores: its width is what the browser shrinks
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    natural = Image.open(buf).size[0]
    scale = min(1.0, column_px / natural)
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_figure() is fig:
            out.append((t.get_text().strip(), t.get_fontsize() * FIGURE_DPI / 72 * scale))
    return out


def check_readable(fig, column_px: int = COLUMN_PX, min_px: float = MIN_TEXT_PX) -> None:
    """Raise ValueError naming the texts of ``fig`` smaller than ``min_px`` screen pixels at the column width:
    make the figure narrower (fewer panels per row) or its fonts larger."""
    small = [(s, px) for s, px in text_sizes(fig, column_px) if px < min_px - 1e-9]
    if small:
        worst = min(px for _, px in small)
        names = ", ".join(sorted({repr(s[:20]) for s, _ in small})[:6])
        raise ValueError(f"figure text below {min_px} px at a {column_px} px column ({len(small)} texts, smallest "
                         f"{worst:.1f} px: {names}); make the figure narrower or its fonts larger")


def show_figure(fig) -> None:
    """Check that ``fig`` reads at the rendered width (:func:`check_readable`), then display and close it."""
    import matplotlib.pyplot as plt

    check_readable(fig)
    plt.show()
    plt.close(fig)


def fold_constant(df, keep=()):
    """``df`` without the columns that hold one value in every row (``keep`` excepted), and those columns as
    words ("device: cpu; torch: 2.13.0") for a caption: a long listing keeps only the columns that vary."""
    same = [c for c in df.columns if c not in keep and len(df) > 1 and df[c].astype(str).nunique() == 1]
    return df.drop(columns=same), "; ".join(f"{c}: {df[c].iloc[0]}" for c in same)
