"""The warm-start chapter (Figure 5): LB training piggybacked on k epochs of SB training, its test accuracy and
sharpness against k."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.coverage import FIGURE_NETS, print_figure_runs
from lbgap.book.style import fold_constant, pm_over, show, show_figure


def compute(ctx: Context) -> None:
    from lbgap.studies import warmstart

    if ctx.profile == "smoke":     # synthetic F1: 3 SB epochs, LB from epochs 0, 1 and 3 for 2 epochs: about a minute
        warmstart.run("F1", seeds=ctx.seeds[:1], profile="smoke", sb_epochs=3, lb_epochs=2, warm_epochs=[0, 1, 3],
                      train_examples=64, results_dir=ctx.results_dir)
    elif ctx.profile == "quick":   # what this CPU ran: F1, 20 + 20 epochs, f on 10,000 training images
        warmstart.run("F1", seeds=ctx.seeds, profile="quick", sb_epochs=20, lb_epochs=20, train_examples=10000,
                      results_dir=ctx.results_dir, device=ctx.device)
    elif ctx.profile == "paper":   # the paper's networks and budget: 100 + 100 epochs, f on the whole training set (GPU)
        for net in [n for n in ctx.nets if n in FIGURE_NETS]:
            warmstart.run(net, seeds=ctx.seeds, profile="paper", results_dir=ctx.results_dir, device=ctx.device)


def runs(ctx: Context):
    """The Figure 5 runs of the requested networks and seeds (``warmstart.table``)."""
    from lbgap.studies import warmstart

    return ctx.study_table("warmstart", warmstart.table)


def run_set_words(ctx: Context) -> str:
    """The run sets of the Figure 5 runs shown, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    return run_sets.describe("fig5", runs(ctx))


def numbers(ctx: Context):
    """Figure 5 as numbers: per network and SB epochs k, mean ± std over seeds."""
    import pandas as pd

    rows = []
    for (net, k), d in runs(ctx).groupby(["net", "warm_epoch"]):
        rows.append({"network": net, "SB epochs k": k, "seeds": len(d), "SB train loss": pm_over(d.sb_train_loss),
                     "SB test acc (%)": pm_over(d.sb_test_acc, "{:.2f}"), "LB train loss": pm_over(d.lb_train_loss),
                     "LB test acc (%)": pm_over(d.lb_test_acc, "{:.2f}"),
                     "LB − SB iterate (pt)": pm_over(d.lb_test_acc - d.sb_test_acc, "{:+.2f}"),
                     "φ LB full space (summed loss)": pm_over(d.phi_full_sum),
                     "φ LB random subspace": pm_over(d.phi_random)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_runs(ctx: Context) -> None:
    df = runs(ctx)
    for (net, prof), d in df.groupby(["net", "profile"]):
        print(f"{net} ({prof} profile): seeds {sorted(int(s) for s in d.seed.unique())}; warm starts after SB epochs "
              f"{', '.join(str(k) for k in sorted(d.warm_epoch.unique()))}; LB B = {d.batch_size.iloc[0]:,} for "
              f"{d.lb_epochs.max()} epochs ({d.lb_steps.max():,} steps) each; sharpness f on "
              f"{', '.join(sorted(set(d.sharpness_examples) - {''}))}")
    if df.empty:
        print("no Figure 5 records")


def show_figure5(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from lbgap.studies import warmstart

    df = runs(ctx)
    nets_here = list(dict.fromkeys(df.net))
    if nets_here:
        fig, axes = plt.subplots(2 * len(nets_here), 1, figsize=(6.8, 7 * len(nets_here)), squeeze=False)
        for i, net in enumerate(nets_here):    # one network per pair of rows: readable at the column width
            d = df[df.net == net]
            axes[2 * i, 0].sharex(axes[2 * i + 1, 0])
            warmstart.plot(d, axes[2 * i:2 * i + 2, 0], f"{net} ({d.profile.iloc[0]} profile, {d.lb_epochs.max()} LB epochs)")
        fig.tight_layout()
        w = df.groupby("warm_epoch")[["lb_test_acc", "phi_full_sum"]].mean()
        show_figure(fig, "Keskar et al.'s Figure 5 on our runs: large batches warm-started from small-batch "
                    f"iterates after a number of SB epochs — runs: {run_set_words(ctx)}",
                    f"LB's test accuracy is {w.lb_test_acc.iloc[0]:.2f} % from a cold start and {w.lb_test_acc.iloc[-1]:.2f} % "
                    f"after {w.index[-1]} SB epochs; φ (full space, summed loss) {w.phi_full_sum.iloc[0]:.3g} and "
                    f"{w.phi_full_sum.iloc[-1]:.3g} (means over seeds).")
    else:
        print("nothing to plot")


def show_numbers(ctx: Context) -> None:
    if len(runs(ctx)):
        df = numbers(ctx)          # two tables, so that each fits the column
        acc, same = fold_constant(df[["network", "SB epochs k", "seeds", "SB train loss", "SB test acc (%)",
                                      "LB train loss", "LB test acc (%)", "LB − SB iterate (pt)"]], keep=("SB epochs k",))
        show(acc, "Figure 5 as numbers, accuracy: mean ± std over seeds" + (f" ({same})" if same else "")
             + f" — runs: {run_set_words(ctx)}", "fig5")
        show(df[["network", "SB epochs k", "φ LB full space (summed loss)", "φ LB random subspace"]],
             "Figure 5 as numbers, sharpness φ of the LB solution at ε = 1e-3: mean ± std over seeds — runs: "
             + run_set_words(ctx), "fig5-phi")


def show_networks(ctx: Context) -> None:
    print_figure_runs(ctx, runs(ctx), "Figure 5", "piggybacked runs")


def readings(ctx: Context) -> list[str]:
    """Figure 5's two halves as claims (:func:`lbgap.book.claims.trend`, Spearman over seed-level points): the
    LB solution's φ against the SB epochs k it started from (the paper: falls after an exploration phase) and its
    test accuracy against k (the paper: rises)."""
    from lbgap.book import claims

    return claims.trend_readings(runs(ctx), "warm_epoch", "k", (
        ("phi_full_sum", "LB's φ full space (summed loss)", "falls"), ("phi_random", "LB's φ random subspace", "falls"),
        ("lb_test_acc", "LB's test accuracy", "rises")))


def _pm(s, fmt: str = "{:.3g}") -> str:
    s = s.dropna()
    return (fmt.format(s.mean()) + (" ± " + fmt.format(s.std()) if len(s) > 1 else "")) if len(s) else "—"


def shape_lines(ctx: Context) -> list[str]:
    """Figure 5's shape in numbers, per network, from the records: the LB solution's φ and test accuracy at each
    warm start (mean ± sd over seeds), the cold start against the latest warm start paired by seed (rule "ratio of
    means, paired bootstrap"), the SB iterate, and the 50-epoch Table 2 runs of the same network for reference."""
    from lbgap.book import claims, run_sets
    from lbgap.book.sb_vs_lb import variant_runs

    df, lines = runs(ctx), []
    for net, d in df.groupby("net"):
        g = d.groupby("warm_epoch")
        ks = sorted(d.warm_epoch.unique())
        k0, k1 = ks[0], ks[-1]
        c = claims.sharper(claims.by_seed(d[d.warm_epoch == k0], "phi_full_sum"),
                           claims.by_seed(d[d.warm_epoch == k1], "phi_full_sum"), name=f"{net} φ cold / warm")
        words = {"LB sharper": "the cold start is the sharper", "LB flatter": "the cold start is the flatter"}
        lines.append(f"**{net}, the sharpness half** (φ of the LB solution, full space, summed loss, by SB epochs k "
                     "before the switch): " + "; ".join(f"k = {k}: {pm_over(g.get_group(k).phi_full_sum)}" for k in ks)
                     + f". Cold start (k = {k0}) over k = {k1}, paired by seed: {claims.ratio_words(c)} "
                     f"({words.get(c.verdict, c.verdict)}). Random subspace: "
                     + "; ".join(f"k = {k}: {pm_over(g.get_group(k).phi_random)}" for k in ks) + ".")
        acc = "; ".join(f"k = {k}: {_pm(g.get_group(k).lb_test_acc, '{:.2f}')}" for k in ks)
        sb_last = d[d.warm_epoch == k1].sb_test_acc
        line = (f"**{net}, the accuracy half** (LB's test accuracy, %): {acc}; the SB iterate it started from after "
                f"{k1} epochs: {_pm(sb_last, '{:.2f}')} %.")
        v = variant_runs(ctx)
        v = v[(v.net == net)] if len(v) else v
        if len(v):
            key = run_sets.find("table2", net, str(v.profile.iloc[0]), "")
            line += (f" For reference, the {run_sets.short(key) if key else net + ' Table 2 variant'} (more LB epochs "
                     f"from x0): SB {_pm(100 * v[v.regime == 'SB'].test_acc, '{:.2f}')} %, LB "
                     f"{_pm(100 * v[v.regime == 'LB'].test_acc, '{:.2f}')} % after "
                     f"{v[v.regime == 'LB'].epochs.mean():.0f} epochs.")
        lines.append(line)
    return lines


def show_readings(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = readings(ctx) + shape_lines(ctx)
    if lines:
        verdict_lines(lines)
