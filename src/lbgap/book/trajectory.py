"""The trajectory chapter (Figure 6): the loss and sharpness of the iterates along SB and LB training."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.coverage import FIGURE_NETS, print_figure_runs
from lbgap.book.style import dropdown, show_figure


def compute(ctx: Context) -> None:
    from lbgap.studies import trajectory

    if ctx.profile == "smoke":     # synthetic F1, 2 epochs, 2 kept iterates besides x0: about a minute
        trajectory.run("F1", seeds=ctx.seeds[:1], profile="smoke", epochs=2, points=2, train_examples=64,
                       results_dir=ctx.results_dir)
    elif ctx.profile == "quick":   # what this CPU ran: F1, seeds 0-1, 20 epochs, f on 10,000 training images
        trajectory.run("F1", seeds=ctx.seeds, profile="quick", epochs=20, train_examples=10000,
                       results_dir=ctx.results_dir, device=ctx.device)
    elif ctx.profile == "paper":   # the paper's networks (one trial: -p seeds 0), 100 epochs, f on all (GPU)
        for net in [n for n in ctx.nets if n in FIGURE_NETS]:
            trajectory.run(net, seeds=ctx.seeds, profile="paper", epochs=100, results_dir=ctx.results_dir,
                           device=ctx.device)


def iterates(ctx: Context):
    """The kept iterates of the requested networks and seeds (``trajectory.table``)."""
    from lbgap.studies import trajectory

    return ctx.study_table("trajectory", trajectory.table)


def run_set_words(ctx: Context) -> str:
    """The run sets of the Figure 6 iterates shown, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    return run_sets.describe("fig6", iterates(ctx))


def numbers(ctx: Context):
    """Figure 6 as numbers: one row per kept iterate."""
    df = iterates(ctx)
    t = df.assign(**{"step": df.step.map("{:,}".format), "epoch": df.epoch.map("{:.3g}".format),
                     "loss f": df.loss.map("{:.3g}".format), "φ full space": df.phi_full_sum.map("{:.3g}".format),
                     "φ random subspace": df.phi_random.map("{:.3g}".format)})
    return t[["net", "regime", "seed", "step", "epoch", "loss f", "φ full space", "φ random subspace"]]


# ------------------------------------------------------------------------------------ what the notebook shows
def show_iterates(ctx: Context) -> None:
    from lbgap.core import data as datamod

    df = iterates(ctx)
    for (net, prof), d in df.groupby(["net", "profile"]):
        print(f"{net} ({prof} profile): seeds {sorted(int(s) for s in d.seed.unique())}; "
              + "; ".join(f"{r} B = {g.batch_size.iloc[0]:,}, {g.step.nunique()} iterates per seed up to step "
                          f"{g.step.max():,} (epoch {g.epoch.max():g})" for r, g in sorted(d.groupby("regime"),
                                                                                         reverse=True))
              + f"; f on {datamod.subset_words(int(d.examples.iloc[0]), d.subset_rule.iloc[0])}")
    if df.empty:
        print("no Figure 6 records")


def show_figure6(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from lbgap.studies import trajectory

    df = iterates(ctx)
    nets_here = list(dict.fromkeys(df.net))
    if nets_here:
        fig, axes = plt.subplots(2 * len(nets_here), 1, figsize=(6.8, 7.6 * len(nets_here)), squeeze=False)
        for i, net in enumerate(nets_here):    # full space above the random subspace: readable at the column width
            d, row = df[df.net == net], axes[2 * i:2 * i + 2, 0]
            trajectory.plot(d, row[0], "phi_full_sum", f"{net} ({d.profile.iloc[0]}): full space")
            trajectory.plot(d, row[1], "phi_random", f"{net} ({d.profile.iloc[0]}): random subspace")
        fig.tight_layout()
        last = df.sort_values("step").groupby("regime").tail(1).set_index("regime")
        reading = (f"at the last kept iterate φ (full space, summed loss) is {last.phi_full_sum.get('SB', float('nan')):.3g} "
                   f"for SB and {last.phi_full_sum.get('LB', float('nan')):.3g} for LB, at training losses "
                   f"{last.loss.get('SB', float('nan')):.2g} and {last.loss.get('LB', float('nan')):.2g} (seed "
                   f"{int(last.seed.iloc[0])}).") if {"SB", "LB"} <= set(last.index) else None
        show_figure(fig, "Keskar et al.'s Figure 6 on our runs: sharpness against the training loss along the SB "
                    "and LB trajectories, full space (top) and random subspace (bottom) — runs: "
                    + run_set_words(ctx), reading)
    else:
        print("nothing to plot")


def show_numbers(ctx: Context) -> None:
    if len(iterates(ctx)):
        from IPython.display import display

        t = numbers(ctx).reset_index(drop=True)
        display(dropdown(t, f"Figure 6 as numbers: the {len(t)} kept iterates (φ at ε = 1e-3), one row each — runs: "
                         + run_set_words(ctx), "fig6"))


def show_networks(ctx: Context) -> None:
    print_figure_runs(ctx, iterates(ctx), "Figure 6", "kept iterates")


def readings(ctx: Context) -> list[str]:
    """Figure 6's claim at the end of training: LB's last kept iterate sharper than SB's, the ratio of the means
    over seeds with its bootstrap interval (:func:`lbgap.book.claims.sharper`; fewer than three seeds:
    unresolved)."""
    from lbgap.book import claims

    lines = []
    df = iterates(ctx)
    for net, d in df.groupby("net"):
        last = d.loc[d.groupby(["regime", "seed"]).step.idxmax()]
        parts = []
        for col, what in (("phi_full_sum", "full space (summed loss)"), ("phi_random", "random subspace")):
            lb, sb = (claims.by_seed(last[last.regime == r].dropna(subset=[col]), col) for r in ("LB", "SB"))
            if not lb or not sb:
                continue
            c = claims.sharper(lb, sb, name=f"{net} final φ LB/SB")
            parts.append(f"{what}: LB/SB {claims.ratio_words(c)}, {c.verdict}")
        if parts:
            lines.append(f"**{net}, the last kept iterates ({d.seed.nunique()} seeds).** " + "; ".join(parts)
                         + ". The figure's shape along the path is described below; its verdict rests on these "
                         "end points.")
    return lines


def shape_lines(ctx: Context) -> list[str]:
    """Figure 6's shape in numbers, per network and seed, from the kept iterates: φ of both regimes at x0, the range
    each regime's φ spans along its path and where it ends (φ and training loss), and both regimes compared at the
    same training loss (the LB iterate nearest, in log loss, to SB's last one)."""
    import numpy as np

    from lbgap.book.style import sig

    df, lines = iterates(ctx), []
    for (net, seed), d in df.groupby(["net", "seed"]):
        if set(d.regime) < {"SB", "LB"}:
            continue
        reg = {r: g.sort_values("step") for r, g in d.groupby("regime")}
        x0 = {r: g.iloc[0] for r, g in reg.items()}
        end = {r: g.iloc[-1] for r, g in reg.items()}
        parts = [f"at x0 φ full {sig(x0['SB'].phi_full_sum)} (SB) and {sig(x0['LB'].phi_full_sum)} (LB), random "
                 f"{sig(x0['SB'].phi_random)} and {sig(x0['LB'].phi_random)}, at a loss of {x0['SB'].loss:.2g} and "
                 f"{x0['LB'].loss:.2g}"]
        for r in ("LB", "SB"):
            g = reg[r]
            parts.append(f"{r} spans φ full {sig(g.phi_full_sum.min())}–{sig(g.phi_full_sum.max())} along its "
                         f"{len(g)} iterates and ends at {sig(end[r].phi_full_sum)} (loss {end[r].loss:.2g}, step "
                         f"{int(end[r].step):,})")
        lb = reg["LB"]
        near = lb.iloc[int(np.argmin(np.abs(np.log(lb.loss.clip(lower=1e-12)) - np.log(end["SB"].loss))))]
        parts.append(f"at SB's final loss ({end['SB'].loss:.2g}) the nearest LB iterate (loss {near.loss:.2g}) has φ full "
                     f"{sig(near.phi_full_sum)} against SB's {sig(end['SB'].phi_full_sum)} "
                     f"({near.phi_full_sum / end['SB'].phi_full_sum:.2g}×) and φ random {sig(near.phi_random)} against "
                     f"{sig(end['SB'].phi_random)} ({near.phi_random / end['SB'].phi_random:.2g}×)")
        lines.append(f"**{net}, seed {seed}:** " + "; ".join(parts) + ".")
    return lines


def show_readings(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = readings(ctx) + shape_lines(ctx)
    if lines:
        verdict_lines(lines)
