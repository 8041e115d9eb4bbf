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


def machine_words(cost: dict) -> str:
    """Where a study's runs trained, from ``records.cost_of``: "AMD EPYC (AVX512), 1 thread per run"."""
    threads = cost["threads"]
    return (f"{', '.join(cost['cpus'])}, {' or '.join(map(str, threads))} thread{'s' if threads != [1] else ''} "
            "per run")


def labelled(df, labels=None):
    """``df`` with its columns renamed to the display labels of ``labels`` ({column: label}; others kept): tables
    are built and read by fixed snake_case columns and get their labels only here, when shown."""
    return df.rename(columns=labels) if labels else df


def styled(df, caption: str, uuid: str, wrap=(), labels=None):
    """A captioned, index-free HTML table with a fixed element id, displayed as plain HTML (its text/plain
    form is constant, so nbval's strict comparison checks the table itself). Columns are headed by ``labels``
    (:func:`labelled`). Numbers do not wrap; headers and columns of words (:data:`WRAPPED`, and those named in
    ``wrap``, by column or label) do."""
    import pandas as pd
    from IPython.display import HTML

    wrap = tuple((labels or {}).get(c, c) for c in wrap)
    df = readable(labelled(df, labels))                   # every cell a string for reading: "—" for missing, no "0.001000"
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


def show(df, caption: str, uuid: str, wrap=(), labels=None) -> None:
    """Display :func:`styled` ``df`` (a cell that shows more than one table)."""
    from IPython.display import display

    display(styled(df, caption, uuid, wrap, labels))



def dropdown(df, summary: str, uuid: str, labels=None):
    """A long listing folded away: a collapsed ``<details>`` whose ``summary`` line opens :func:`styled` ``df``
    (the page shows one line; the table stays searchable and copyable)."""
    from IPython.display import HTML

    return HTML(f"<details><summary>{summary}</summary>{styled(df, '', uuid, labels=labels).data}</details>")


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


def fold_constant(df, keep=(), labels=None):
    """``df`` without the columns that hold one value in every row (``keep`` excepted), and those columns as
    words ("device: cpu; torch: 2.13.0", each column named by its label in ``labels``) for a caption: a long
    listing keeps only the columns that vary."""
    same = [c for c in df.columns if c not in keep and len(df) > 1 and df[c].astype(str).nunique() == 1]
    return df.drop(columns=same), "; ".join(f"{(labels or {}).get(c, c)}: {df[c].iloc[0]}" for c in same)


# ------------------------------------------------------------------------------------------ tables for readers
def cell(v, digits: int = 3) -> str:
    """One number as a reader reads it: "—" for missing (None, NaN, "nan"), integers and values ≥ 1,000 with
    thousands separators (5,744,907), others to ``digits`` significant digits without exponent down to 0.001
    (0.00451, 8.58, 0.24), smaller ones as 1.2×10⁻⁵. Text passes through (a "nan" string becomes "—")."""
    import math
    import numbers

    if v is None:
        return "—"
    if isinstance(v, str):
        return "—" if v.strip().lower() in ("nan", "none", "<na>", "") else v
    if isinstance(v, bool):
        return str(v)
    if not isinstance(v, numbers.Number):
        try:
            import pandas as pd

            if pd.isna(v):
                return "—"
        except (TypeError, ValueError):
            pass
        return str(v)
    v = float(v)
    if v != v:
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    if v == round(v) and abs(v) < 1e15 or abs(v) >= 10 ** digits:
        return f"{v:,.0f}".replace("-", "−")
    if abs(v) >= 1e-3:
        return f"{v:,.{digits}g}".replace("-", "−")
    mant, exp = f"{v:.{max(digits - 1, 0)}e}".split("e")
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"{mant.replace('-', '−')}×10{str(int(exp)).translate(sup)}"


def readable(df, units=None, digits: int = 3, formats=None):
    """``df`` as strings for reading: a named index folded into columns (an unnamed one dropped), every number through
    :func:`cell` (or ``formats[column]``, a format string or a callable), "—" for missing, and each column named
    in ``units`` headed "name (unit)"."""
    import pandas as pd

    formats = formats or {}
    plain = all(n is None for n in df.index.names) and pd.api.types.is_integer_dtype(df.index)
    if not plain:                       # a named or labelled index becomes columns; a row number is dropped
        df = df.reset_index()
    if isinstance(df.columns, pd.MultiIndex):
        df.columns = [" ".join(str(p) for p in c if str(p)) for c in df.columns]
    out = pd.DataFrame(index=range(len(df)))
    for c in df.columns:
        f = formats.get(c)
        col = df[c].reset_index(drop=True)
        if f is None:
            out[c] = [cell(v, digits) for v in col]
        else:
            fn = f if callable(f) else f.format
            out[c] = [cell(None) if (v is None or (isinstance(v, float) and v != v)) else fn(v) for v in col]
    units = units or {}
    return out.rename(columns={c: f"{c} ({u})" for c, u in units.items() if c in out.columns and u})


def table(df, caption: str, uuid: str, runs: str | None = None, units=None, digits: int = 3, formats=None,
          wrap=(), labels=None):
    """The book's one table: :func:`readable` ``df`` as a captioned, index-free HTML table (:func:`styled`); the
    caption ends with the run set it was read from (``runs``, e.g. "F1, paper profile, seeds 0–4"). Columns are
    headed by ``labels`` (:func:`labelled`); ``units``, ``formats`` and ``wrap`` name columns by either."""
    cap = caption + (f" — runs: {runs}" if runs else "")
    lab = labels or {}
    units, formats = ({lab.get(c, c): v for c, v in (d or {}).items()} for d in (units, formats))
    wrap = tuple(lab.get(c, c) for c in wrap)
    return styled(readable(labelled(df, labels), units, digits, formats), cap, uuid, wrap)


def show_table(df, caption: str, uuid: str, runs: str | None = None, units=None, digits: int = 3, formats=None,
               wrap=(), labels=None) -> None:
    """Display :func:`table` (a cell that shows more than one table)."""
    from IPython.display import display

    display(table(df, caption, uuid, runs, units, digits, formats, wrap, labels))


def inline_html(text: str) -> str:
    """One line of the book's Markdown (``**bold**``, ``*italic*``, ```code```) as escaped HTML."""
    import html
    import re

    t = html.escape(str(text), quote=False)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def verdict_box(title: str, lines, kind: str = "note"):
    """A chapter's verdicts in a box at its opening: the theme's admonition (``kind``: note, tip, warning) titled
    ``title``, one bullet per verdict sentence, as HTML (the book renders notebook Markdown outputs as CommonMark,
    which has no admonitions). Its text/plain form is constant, so nbval compares the HTML."""
    from IPython.display import HTML

    items = [str(x).strip() for x in lines if str(x).strip()] or ["unresolved: no records yet"]
    body = "".join(f"<li><p>{inline_html(x)}</p></li>" for x in items)
    return HTML(f'<div class="admonition {kind} lbgap-verdicts"><p class="admonition-title">{inline_html(title)}</p>'
                f"<ul>{body}</ul></div>")


# ------------------------------------------------------------------------------------------ figures for readers
_FIGURE_NUMBER = [0]


def _data_points(fig):
    """Display coordinates (n×2) of every plotted point and line vertex of ``fig`` that lies inside its axes:
    Line2D data, scatter offsets, collection paths (error bars, bands) and patch corners (bars)."""
    import numpy as np
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pts = []
    for ax in fig.axes:
        box = ax.bbox
        found = []
        for art in ax.get_children():
            if not art.get_visible() or art is ax.patch:
                continue
            try:
                if isinstance(art, Line2D):
                    xy = art.get_xydata()
                    if len(xy):
                        found.append(art.get_transform().transform(np.asarray(xy, float)))
                elif isinstance(art, Collection):
                    offs = art.get_offsets()
                    if len(offs) and art.get_offset_transform() is not None and not (
                            len(offs) == 1 and np.allclose(offs, 0)):
                        found.append(art.get_offset_transform().transform(np.asarray(offs, float)))
                    for p in art.get_paths():
                        if len(p.vertices):
                            found.append(art.get_transform().transform(np.asarray(p.vertices, float)))
                elif isinstance(art, Patch) and art.axes is ax:
                    v = art.get_path().vertices
                    if len(v):
                        found.append(art.get_transform().transform(np.asarray(v, float)))
            except (ValueError, TypeError):
                continue
        for xy in found:
            xy = xy[np.isfinite(xy).all(axis=1)]
            inside = ((xy[:, 0] >= box.x0 - 0.5) & (xy[:, 0] <= box.x1 + 0.5)
                      & (xy[:, 1] >= box.y0 - 0.5) & (xy[:, 1] <= box.y1 + 0.5))
            pts.append(xy[inside])
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def _legends(fig):
    return [leg for leg in [*(ax.get_legend() for ax in fig.axes), *fig.legends] if leg is not None
            and leg.get_visible()]


def legend_overlaps(fig) -> list[str]:
    """The legends of ``fig`` whose box (matplotlib window extent, after a draw) covers a plotted point or line
    vertex, each as "legend 'first label': n points covered"; empty when every legend leaves the data alone."""
    fig.canvas.draw()
    pts = _data_points(fig)
    out = []
    for leg in _legends(fig):
        bb = leg.get_window_extent()
        n = int(((pts[:, 0] >= bb.x0) & (pts[:, 0] <= bb.x1) & (pts[:, 1] >= bb.y0) & (pts[:, 1] <= bb.y1)).sum())
        if n:
            labels = [t.get_text() for t in leg.get_texts()]
            out.append(f"legend {labels[0] if labels else ''!r}: {n} points covered")
    return out


def _covers(leg, pts) -> bool:
    bb = leg.get_window_extent()
    return bool(((pts[:, 0] >= bb.x0) & (pts[:, 0] <= bb.x1) & (pts[:, 1] >= bb.y0) & (pts[:, 1] <= bb.y1)).any())


def _legend_args(leg):
    handles = getattr(leg, "legend_handles", None) or getattr(leg, "legendHandles", [])
    labels = [t.get_text() for t in leg.get_texts()]
    title = leg.get_title().get_text()
    size = leg.get_texts()[0].get_fontsize() if leg.get_texts() else 10
    return list(handles), labels, title, max(size, 9)


def place_legends(fig) -> None:
    """Move every legend of ``fig`` that covers data out of the plotting area: to the right of its axes (past a
    twin axis' tick labels) when no panel sits to the right, else into one figure legend under all panels."""
    fig.canvas.draw()
    pts = _data_points(fig)
    renderer = fig.canvas.get_renderer()
    below = {}
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or not leg.get_visible() or not _covers(leg, pts):
            continue
        handles, labels, title, size = _legend_args(leg)
        box = ax.get_position()
        neighbour = any(o is not ax and o.get_position().x0 >= box.x1 - 1e-6 and o.get_position().y0 < box.y1
                        and o.get_position().y1 > box.y0 and o.get_visible() for o in fig.axes)
        if neighbour:
            leg.remove()
            for h, lab in zip(handles, labels):
                below.setdefault(lab, h)
            continue
        twins = [o for o in fig.axes if o.get_position().bounds == box.bounds]
        x1 = max(o.get_tightbbox(renderer).x1 for o in twins)
        x = (x1 - ax.bbox.x0) / ax.bbox.width + 0.02
        leg.remove()
        new = ax.legend(handles, labels, title=title or None, fontsize=size, title_fontsize=size, frameon=False,
                        loc="upper left", bbox_to_anchor=(x, 1.0), borderaxespad=0, ncols=1)
        try:
            check_readable(fig)
        except ValueError:              # a legend on the right makes the figure too wide: put it under the panels
            new.remove()
            for h, lab in zip(handles, labels):
                below.setdefault(lab, h)
    for leg in list(fig.legends):
        if _covers(leg, pts):
            handles, labels, _, _ = _legend_args(leg)
            leg.remove()
            for h, lab in zip(handles, labels):
                below.setdefault(lab, h)
    if below:
        fig.canvas.draw()
        y0 = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes) / fig.bbox.height
        fig.legend(list(below.values()), list(below), loc="upper center", bbox_to_anchor=(0.5, y0 - 0.01),
                   ncols=min(len(below), 4), frameon=False, fontsize=10)


def batch_axis(ax, values=None, axis: str = "x", fontsize: float = 10) -> None:
    """Tick labels a reader reads as numbers on a batch-size axis: 1,024 (thousands separators, no exponent, no
    minor labels); ``values`` puts a tick at each batch size."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    if values is not None:
        a.set_major_locator(FixedLocator(sorted({float(v) for v in values})))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    a.set_minor_formatter(NullFormatter())
    ax.tick_params(axis=axis, labelsize=fontsize)


def show_figure(fig, caption: str | None = None, reading: str | None = None) -> None:
    """Move legends off the data (:func:`place_legends`), check that its text reads at the rendered width
    (:func:`check_readable`) and that no legend covers a point (:func:`legend_overlaps`), display and close it,
    then its numbered caption and ``reading`` (one line generated from the figure's data)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    place_legends(fig)
    check_readable(fig)
    bad = legend_overlaps(fig)
    if bad:
        raise ValueError(f"a legend covers data ({'; '.join(bad)}): place it outside the axes")
    plt.show()
    plt.close(fig)
    if caption or reading:
        _FIGURE_NUMBER[0] += 1
        parts = [f"**Figure {_FIGURE_NUMBER[0]}.** {caption}" if caption else ""]
        if reading:
            parts.append(f"*Reading:* {reading}")
        display(Markdown("  \n".join(p for p in parts if p)))
