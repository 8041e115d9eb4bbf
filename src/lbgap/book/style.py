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


def styled(df, caption: str, uuid: str):
    """A captioned, index-free HTML table with a fixed element id, displayed as plain HTML (its text/plain
    form is constant, so nbval's strict comparison checks the table itself). Numbers do not wrap; a
    ``verdict`` or ``our runs`` column (words) does."""
    import pandas as pd
    from IPython.display import HTML

    css = [{"selector": "", "props": "font-size: 0.85em;"},
           {"selector": "td, th", "props": "white-space: nowrap; padding: 0.15em 0.45em;"},
           {"selector": "td.verdict", "props": "white-space: normal; min-width: 9em;"}]
    styler = df.style.hide(axis="index").set_caption(caption).set_uuid(uuid).set_table_styles(css)
    wrapped = [c for c in ("verdict", "our runs") if c in df.columns]
    if wrapped:
        classes = pd.DataFrame("", index=df.index, columns=df.columns)
        classes[wrapped] = "verdict"
        styler = styler.set_td_classes(classes)
    return HTML(styler.to_html())


def show(df, caption: str, uuid: str) -> None:
    """Display :func:`styled` ``df`` (a cell that shows more than one table)."""
    from IPython.display import display

    display(styled(df, caption, uuid))
