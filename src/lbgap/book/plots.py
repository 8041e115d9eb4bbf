"""The book's one figure style: every chapter's figures are drawn under the same matplotlib settings, set once per
notebook by :func:`lbgap.book.context.context` (no figure sets its own style; a figure chooses only its size)."""
from __future__ import annotations

RC = {
    "axes.spines.top": False,     # open axes: the data, not a box
    "axes.spines.right": False,
    "axes.grid": True,            # light grid lines to read values off log axes
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
}
PALETTE = "colorblind"            # seaborn's colour-blind safe cycle for every line and bar


def use() -> None:
    """Apply :data:`RC` and :data:`PALETTE` to matplotlib's global settings (idempotent)."""
    import matplotlib as mpl
    import seaborn as sns

    mpl.rcParams.update(RC)
    sns.set_palette(PALETTE)
