"""Which networks a chapter has records of, and why the others have none (the same words in every chapter)."""
from __future__ import annotations

# Why a network has no records, known without looking at this machine (the text must not depend on the
# local data cache, or a committed notebook would differ between machines).
MISSING_REASON = {
    "F1": "not run yet (MNIST, CPU-feasible)",
    "F2": "needs a GPU (speechocean762 frames, the TIMIT stand-in: ~1.1 M frames per epoch)",
    "C1": "needs a GPU (CIFAR-10, 5 seeds x SB/LB to a plateau)",
    "C2": "needs a GPU (CIFAR-10, VGG-16-like, 15 M parameters)",
    "C3": "needs CIFAR-100 pixels (not in the shipped data pack) and a GPU",
    "C4": "needs CIFAR-100 pixels (not in the shipped data pack) and a GPU",
}
ALL_NETS = tuple(MISSING_REASON)   # the paper's six networks, in its order

# The networks the paper's figure studies (Figures 4-6) ran on; the others are not part of those figures.
FIGURE_NETS = ("F2", "C1")


def print_networks(have: dict[str, str], what: str) -> None:
    """One line per network of the paper: ``have[net]`` (what its records hold) or, without records of
    ``what``, why there are none."""
    for net in ALL_NETS:
        print(f"{net}: " + (have[net] if net in have else f"no {what} records: {MISSING_REASON[net]}"))


def print_figure_runs(ctx, df, figure: str, unit: str) -> None:
    """One line per requested network: the profile and the number of ``unit`` behind a figure study's table
    ``df`` (columns ``net``, ``profile``), or that it has no records (GPU work for the paper's networks)."""
    for net in ctx.nets:
        d = df[df.net == net]
        print(f"{net}: " + (f"{d.profile.iloc[0]} profile, {len(d)} {unit}" if len(d)
                            else f"no {figure} records" + (" (the paper's network: GPU work)" if net in FIGURE_NETS
                                                           else "")))
