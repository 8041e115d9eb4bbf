"""The threshold chapter (Figure 4): test accuracy and sharpness against the batch size, where the gap opens."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.coverage import FIGURE_NETS, print_figure_runs
from lbgap.book.style import batch_axis, pm_over, show, show_figure


def compute(ctx: Context) -> None:
    from lbgap.studies import threshold

    if ctx.profile == "smoke":     # two batch sizes of the synthetic F1, one seed, 2 epochs: seconds
        threshold.run("F1", ["16", "50%"], seeds=ctx.seeds[:1], profile="smoke", epochs=2, train_examples=64,
                      results_dir=ctx.results_dir)
    elif ctx.profile == "quick":   # what this CPU ran: F1, 20 epochs, f on 10,000 training images
        threshold.run("F1", seeds=ctx.seeds, profile="quick", epochs=20, train_examples=10000,
                      results_dir=ctx.results_dir, device=ctx.device)
    elif ctx.profile == "paper":   # the paper's networks and budget: 100 epochs, f on the whole training set (GPU)
        for net in [n for n in ctx.nets if n in FIGURE_NETS]:
            threshold.run(net, seeds=ctx.seeds, profile="paper", epochs=100, results_dir=ctx.results_dir,
                          device=ctx.device)


def runs(ctx: Context):
    """The Figure 4 runs of the requested networks and seeds (``threshold.table``)."""
    from lbgap.studies import threshold

    return ctx.study_table("threshold", threshold.table)


def run_set_words(ctx: Context) -> str:
    """The run sets of the Figure 4 runs shown, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    return run_sets.describe("fig4", runs(ctx))


def numbers(ctx: Context):
    """Figure 4 as numbers: per network and batch size, mean ± std over seeds."""
    import pandas as pd

    rows = []
    for (net, b), d in runs(ctx).groupby(["net", "batch_size"]):
        rows.append({"network": net, "batch size": f"{b:,}", "seeds": len(d), "steps": f"{d.steps.mean():,.0f}",
                     "train loss": pm_over(d.train_loss), "train acc (%)": pm_over(d.train_acc),
                     "test acc (%)": pm_over(d.test_acc), "φ full space (summed loss)": pm_over(d.phi_full_sum),
                     "φ random subspace": pm_over(d.phi_random)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_runs(ctx: Context) -> None:
    df = runs(ctx)
    for (net, prof), d in df.groupby(["net", "profile"]):
        print(f"{net} ({prof} profile): batch sizes {', '.join(f'{b:,}' for b in sorted(d.batch_size.unique()))}; "
              f"seeds {sorted(int(s) for s in d.seed.unique())}; {d.epochs.max()} epochs each; sharpness f on "
              f"{', '.join(sorted(set(d.sharpness_examples) - {''}))}")
    if df.empty:
        print("no Figure 4 records")


def show_figure4(ctx: Context) -> None:
    import matplotlib.pyplot as plt

    from lbgap.studies import threshold

    df = runs(ctx)
    nets_here = list(dict.fromkeys(df.net))
    if nets_here:
        fig, axes = plt.subplots(len(nets_here), 1, figsize=(6.8, 4.2 * len(nets_here)), squeeze=False)
        for ax, net in zip(axes[:, 0], nets_here):    # one network per row: readable at the column width
            d = df[df.net == net]
            threshold.plot(d, ax, f"{net} ({d.profile.iloc[0]} profile, {d.epochs.max()} epochs)")
            batch_axis(ax, d.batch_size.unique())
            ax.tick_params(axis="x", labelrotation=35)
        fig.tight_layout()
        acc = df.groupby("batch_size").test_acc.mean()
        show_figure(fig, "Keskar et al.'s Figure 4 on our runs: test accuracy and sharpness against the batch "
                    f"size at a fixed number of epochs (mean over seeds) — runs: {run_set_words(ctx)}",
                    f"test accuracy {acc.iloc[0]:.2f} % at B = {acc.index[0]:,} and {acc.iloc[-1]:.2f} % at "
                    f"B = {acc.index[-1]:,}: {acc.iloc[0] - acc.iloc[-1]:.2f} points lower at the largest batch "
                    "than at the smallest.")
    else:
        print("nothing to plot")


def show_numbers(ctx: Context) -> None:
    if len(runs(ctx)):
        df = numbers(ctx)          # two tables, so that each fits the column
        show(df[["network", "batch size", "seeds", "steps", "train loss", "train acc (%)", "test acc (%)"]],
             f"Figure 4 as numbers, accuracy: mean ± std over seeds — runs: {run_set_words(ctx)}", "fig4")
        show(df[["network", "batch size", "φ full space (summed loss)", "φ random subspace"]],
             f"Figure 4 as numbers, sharpness φ at ε = 1e-3: mean ± std over seeds — runs: {run_set_words(ctx)}",
             "fig4-phi")


def show_networks(ctx: Context) -> None:
    print_figure_runs(ctx, runs(ctx), "Figure 4", "runs")


def readings(ctx: Context) -> list[str]:
    """Figure 4's two halves as claims (:func:`lbgap.book.claims.trend`, Spearman over seed-level points): φ
    against B (the paper: rises) and test accuracy against B (the paper: falls beyond a threshold)."""
    from lbgap.book import claims

    return claims.trend_readings(runs(ctx), "batch_size", "B", (
        ("phi_full_sum", "φ full space (summed loss)", "rises"), ("phi_random", "φ random subspace", "rises"),
        ("test_acc", "test accuracy", "falls")))


def shape_lines(ctx: Context) -> list[str]:
    """Figure 4's shape in numbers, per network, from the records: φ in both spaces and the test accuracy at every
    batch size (means over seeds), how many steps of the grid raise the mean φ, the largest batch's training fit,
    and the paper's gaps of the networks its Figure 4 shows."""
    from lbgap.book.paper import paper_table
    from lbgap.book.style import sig

    df, lines = runs(ctx), []
    for net, d in df.groupby("net"):
        m = d.groupby("batch_size")[["phi_full_sum", "phi_random", "test_acc", "train_acc", "train_loss", "steps"]].mean()
        sd = d.groupby("batch_size").test_acc.std()
        parts = []
        for col, what in (("phi_random", "random subspace"), ("phi_full_sum", "full space (summed loss)")):
            s = m[col].dropna()
            if len(s) < 2:
                continue
            up = int((s.diff().dropna() > 0).sum())
            parts.append(f"{what}: " + ", ".join(f"{sig(v)} at B = {b:,}" for b, v in s.items())
                         + f" (the mean rises at {up} of {len(s) - 1} steps of the grid; largest at B = {s.idxmax():,})")
        lines.append(f"**{net}, φ at ε = 10⁻³ (means over seeds).** " + "; ".join(parts) + ".")
        big = m.index.max()
        fit = m.drop(big)
        lines.append(f"**{net}, accuracy.** Test accuracy " + ", ".join(f"{v:.2f} % at B = {b:,}" for b, v in
                                                                        m.test_acc.items())
                     + f" (seed sd at most {sd.max():.2f}). Training fit: B ≤ {fit.index.max():,} reach "
                     f"{fit.train_acc.min():.2f}–{fit.train_acc.max():.2f} % train accuracy (loss ≤ "
                     f"{fit.train_loss.max():.2g}); B = {big:,} made {m.steps[big]:,.0f} steps and reaches "
                     f"{m.train_acc[big]:.2f} % (loss {m.train_loss[big]:.2g})"
                     + (": below every smaller batch's fit, so at the largest batch the fixed epoch budget leaves too "
                        "few steps to fit the training set, and φ compares points at different training losses."
                        if m.train_acc[big] < fit.train_acc.min() else "."))
    p = paper_table(2).set_index("network")
    from lbgap.book.coverage import FIGURE_NETS

    if len(df):
        lines.append("The paper's Figure 4 networks have Table 2 gaps of "
                     + " and ".join(f"{(p.loc[n, 'test_acc_sb_mean'] - p.loc[n, 'test_acc_lb_mean']):.2f} points "
                                    f"({n})" for n in FIGURE_NETS)
                     + f", against {(p.loc['F1', 'test_acc_sb_mean'] - p.loc['F1', 'test_acc_lb_mean']):.2f} for F1.")
    return lines


def show_readings(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = readings(ctx) + shape_lines(ctx)
    if lines:
        verdict_lines(lines)
