"""The batch-size-versus-iterations chapter (Shallue et al. 2019; McCandlish et al. 2018): F1's steps to a target
validation accuracy against the batch size, the learning rate tuned per batch size, the critical batch size
fitted to S(B) = S_min (1 + B_crit / B) beside the measured gradient-noise scale B_simple, and the cost."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.style import show_figure


def record_profile(ctx: Context) -> str:
    """This study's records live under data/results/quick (results mode), else under the computing profile."""
    return "quick" if ctx.profile == "results" else ctx.run_profile


def target(ctx: Context) -> float:
    """The validation accuracy the runs train to (smoke: 0.5, reachable on synthetic data in seconds)."""
    from lbgap.studies import steps

    return 0.5 if ctx.profile == "smoke" else steps.HEADLINE


def compute(ctx: Context) -> None:
    from lbgap.measures import noise
    from lbgap.studies import steps

    if ctx.profile == "smoke":
        steps.smoke_sweep(ctx.results_dir)
        noise.smoke(ctx.results_dir)
    else:
        rp = record_profile(ctx)
        steps.sweep([16, 32, 64, 128, 256, 512, 1024, 2048, 5500], ("adam", "sgd"), ctx.seeds, rp, target(ctx),
                    ctx.results_dir)
        noise.track_noise_scale(0, rp, results_dir=ctx.results_dir)


def columns(ctx: Context) -> tuple[str, str, str]:
    """The runs' columns of steps, examples and seconds to the target."""
    return tuple(f"{w}@{target(ctx):.2f}" for w in ("steps", "examples", "time"))


def runs(ctx: Context):
    """Every steps-to-target run (``steps.table``)."""
    from lbgap.studies import steps

    return ctx.memo("steps", lambda: steps.table(ctx.results_dir, record_profile(ctx)))


def tuned(ctx: Context):
    """The runs at each (optimizer, batch size)'s best learning rate (``steps.tuned_runs``)."""
    from lbgap.studies import steps

    return ctx.memo("tuned", lambda: steps.tuned_runs(runs(ctx), target(ctx)))


def fits(ctx: Context) -> tuple[dict, list[str]]:
    """Per optimizer, the fit of S(B) = S_min (1 + B_crit / B) to the tuned runs (``steps.fit_critical_batch``,
    500 bootstrap draws), and a line for each optimizer that could not be fitted."""
    from lbgap.studies import steps

    def make():
        key = columns(ctx)[0]
        out, failed = {}, []
        for opt, g in tuned(ctx).groupby("optimizer"):
            try:
                out[opt] = steps.fit_critical_batch(g.batch_size, g[key], n_boot=500)
            except (ValueError, RuntimeError) as e:
                failed.append(f"{opt}: no fit ({e})")
        return out, failed

    return ctx.memo("fits", make)


def b_simple(ctx: Context) -> dict:
    """The gradient-noise scale measured along the small-batch run (``noise.b_simple_summary`` with its default
    bootstrap, the same call as the gradient-noise chapter's: one interval on every page)."""
    from lbgap.measures import noise

    def make():
        track = next(r for r in noise.load(ctx.results_dir, record_profile(ctx)).values() if r.get("what") == "track")
        return noise.b_simple_summary(track, target(ctx))   # default draws, as the noise chapter

    return ctx.memo("b_simple", make)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_grid(ctx: Context) -> None:
    """The learning rates, seeds and runs per (optimizer, batch size), and what the runs cost in all."""
    from lbgap.studies import steps

    df = runs(ctx)
    grid = df.groupby(["optimizer", "batch_size"]).agg(
        lrs=("lr", lambda s: ", ".join(f"{v:.2g}" for v in sorted(set(s)))),
        seeds=("seed", lambda s: ", ".join(map(str, sorted(set(s))))), runs=("seed", "size"))
    grid["best lr"] = steps.best_lr(df, target(ctx))
    print(grid.to_string())
    print(f"\n{len(df)} runs, {df.wall_time_s.sum() / 60:.1f} min of summed run wall time "
          f"({df.train_time_s.sum() / 60:.1f} min of it in training steps), on {df.device.iloc[0]}")


def show_lr_sweep(ctx: Context) -> None:
    """Steps to the target against the learning rate, per batch size (seed 0; open: target not reached)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df, (key, _, _) = runs(ctx), columns(ctx)
    s0 = df[df.seed == df.seed.min()].copy()
    s0["steps_plot"] = s0[key].fillna(s0.steps)
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.2), sharey=True)
    for ax, (opt, g) in zip(axes, s0.groupby("optimizer")):
        for (b, gb), color in zip(g.groupby("batch_size"), sns.color_palette("viridis", g.batch_size.nunique())):
            gb = gb.sort_values("lr")
            ax.plot(gb.lr, gb.steps_plot, "-", color=color, lw=1)
            ax.scatter(gb.lr, gb.steps_plot, color=color, label=f"B = {b}",
                       facecolors=[color if r else "none" for r in gb[key].notna()])
        ax.set(xscale="log", yscale="log", xlabel="learning rate", title=opt, ylabel=f"steps to {target(ctx):.0%}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    show_figure(fig)


def show_fits(ctx: Context) -> None:
    """B_crit per optimizer (fit) beside B_simple (measured), and their ratio."""
    import numpy as np
    import pandas as pd

    fitted, failed = fits(ctx)
    for line in failed:
        print(line)
    bs, t = b_simple(ctx), target(ctx)
    rows = [dict(quantity=f"B_crit, {opt} (fit)", value=f["b_crit"], pm=f["b_crit_se"],
                 ci95=f"[{f['b_crit_ci'][0]:.0f}, {f['b_crit_ci'][1]:.0f}]", S_min=f["s_min"], E_min=f["e_min"],
                 runs=f["n_runs"]) for opt, f in fitted.items()]
    rows.append(dict(quantity=f"B_simple (SB run, at {t:.0%} val acc)", value=bs["b_simple"], pm=np.nan,
                     ci95=f"[{bs['ci'][0]:.0f}, {bs['ci'][1]:.0f}]", S_min=np.nan, E_min=np.nan, runs=1))
    rows.append(dict(quantity="B_simple (at initialisation)", value=bs["init"], pm=bs["init_se"], ci95="",
                     S_min=np.nan, E_min=np.nan, runs=1))
    print(pd.DataFrame(rows).to_string(index=False, formatters={"value": "{:.0f}".format, "pm": "{:.0f}".format,
                                                                 "S_min": "{:.0f}".format, "E_min": "{:.0f}".format}))
    for opt, f in fitted.items():
        print(f"{opt}: B_crit / B_simple = {f['b_crit'] / bs['b_simple']:.2f}")


def show_critical_batch(ctx: Context) -> None:
    """Steps and examples to the target against B, with the fits and the three regimes around Adam's B_crit."""
    import matplotlib.pyplot as plt
    import numpy as np

    from lbgap.studies import steps

    tuned_runs, (fitted, _), bs = tuned(ctx), fits(ctx), b_simple(ctx)
    key, ekey, _ = columns(ctx)
    t = target(ctx)
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 8))
    bb = np.geomspace(tuned_runs.batch_size.min() / 1.5, tuned_runs.batch_size.max() * 1.5, 100)
    if "adam" in fitted:
        bc = fitted["adam"]["b_crit"]
        for ax in axes:
            ax.axvspan(bb[0], bc / 3, color="C2", alpha=0.08)
            ax.axvspan(bc / 3, 3 * bc, color="C1", alpha=0.08)
            ax.axvspan(3 * bc, bb[-1], color="C3", alpha=0.08)
        axes[0].text(bb[0] * 1.1, 0.97, "perfect scaling", transform=axes[0].get_xaxis_transform(), fontsize=8,
                     va="top")
        axes[0].text(bc / 3 * 1.1, 0.97, "diminishing\nreturns", transform=axes[0].get_xaxis_transform(),
                     fontsize=8, va="top")
        axes[0].text(3 * bc * 1.05, 0.97, "maximal data\nparallelism", transform=axes[0].get_xaxis_transform(),
                     fontsize=8, va="top")
    for (opt, g), color in zip(tuned_runs.groupby("optimizer"), ("C0", "C4")):
        m = g.groupby("batch_size")[[key, ekey]].mean()
        axes[0].plot(g.batch_size, g[key], ".", color=color, alpha=0.6)
        axes[0].plot(m.index, m[key], "o-", color=color, label=opt, lw=1)
        axes[1].plot(g.batch_size, g[ekey], ".", color=color, alpha=0.6)
        axes[1].plot(m.index, m[ekey], "o-", color=color, label=opt, lw=1)
        if opt in fitted:
            f = fitted[opt]
            axes[0].plot(bb, steps.sb_model(bb, f["s_min"], f["b_crit"]), "--", color=color,
                         label=f"fit: B_crit = {f['b_crit']:.0f}")
            axes[1].plot(bb, bb * steps.sb_model(bb, f["s_min"], f["b_crit"]), "--", color=color)
    for ax in axes:
        ax.axvline(bs["b_simple"], color="k", ls=":", lw=1)
    axes[0].set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"steps to {t:.0%} validation accuracy")
    axes[1].set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"examples to {t:.0%}")
    axes[0].legend(fontsize=8)
    axes[0].set_title("steps (dotted: measured B_simple)")
    axes[1].set_title("examples")
    fig.tight_layout()
    show_figure(fig)


def show_fixed_lr(ctx: Context) -> None:
    """Adam at the paper's fixed lr 1e-3 against the lr tuned per B: accuracy after one epoch and steps."""
    import matplotlib.pyplot as plt
    import numpy as np

    from lbgap.studies import steps

    df, tuned_runs, (key, _, _), t = runs(ctx), tuned(ctx), columns(ctx), target(ctx)
    fixed = df[(df.optimizer == "adam") & np.isclose(df.lr, 1e-3) & (df.seed == df.seed.min())].sort_values("batch_size")
    tuned_adam = tuned_runs[tuned_runs.optimizer == "adam"].groupby("batch_size")[[key, "test_acc"]].mean()
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.2))
    axes[0].plot(fixed.batch_size, fixed.budget_val_acc, "o-", label="validation")
    axes[0].plot(fixed.batch_size, fixed.budget_test_acc, "s--", label="test")
    axes[0].set(xscale="log", xlabel="batch size B", ylabel="accuracy after 1 epoch", title="Adam, lr 1e-3, 1 epoch")
    axes[0].legend()
    axes[1].plot(fixed.batch_size, fixed[key].fillna(fixed.steps), "o-", label="lr 1e-3 (seed 0)")
    miss = fixed[fixed[key].isna()]
    if len(miss):
        axes[1].scatter(miss.batch_size, miss.steps, s=80, facecolors="none", edgecolors="k",
                        label="target not reached")
    axes[1].plot(tuned_adam.index, tuned_adam[key], "s-", label="lr tuned per B (mean of 3 seeds)")
    axes[1].set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"steps to {t:.0%}", title="Adam")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    show_figure(fig)
    tab = fixed[["batch_size", "budget_val_acc", "budget_test_acc", key, "reached"]].rename(
        columns={"budget_val_acc": "val acc @1 epoch", "budget_test_acc": "test acc @1 epoch", key: "steps (lr 1e-3)"})
    tab["steps (tuned)"] = tab.batch_size.map(tuned_adam[key])
    tab["tuned lr"] = tab.batch_size.map(steps.best_lr(df, t).loc["adam"])
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def show_cost(ctx: Context) -> None:
    """Per (optimizer, B) at the tuned lr: time per epoch, throughput, memory, steps and seconds to the target."""
    import matplotlib.pyplot as plt

    tuned_runs, (key, _, tkey), t = tuned(ctx), columns(ctx), target(ctx)
    cost = tuned_runs.groupby(["optimizer", "batch_size"]).agg(
        lr=("lr", "first"), seeds=("seed", "size"), s_per_epoch=("time_per_epoch_s", "mean"),
        samples_per_s=("samples_per_s", "mean"), rss_mb=("rss_mb", "max"), steps_to_target=(key, "mean"),
        steps_sd=(key, "std"), time_to_target_s=(tkey, "mean"), test_acc=("test_acc", "mean"),
        test_sd=("test_acc", "std"))
    print(cost.to_string(float_format=lambda v: f"{v:.4g}"))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for (opt, g), color in zip(tuned_runs.groupby("optimizer"), ("C0", "C4")):
        m = g.groupby("batch_size")[tkey].agg(["mean", "min", "max"])
        ax.errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], fmt="o-", color=color,
                    label=opt)
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"training seconds to {t:.0%}",
           title="wall-clock to the target (1 CPU thread)")
    ax.legend()
    fig.tight_layout()
    show_figure(fig)


def show_steps_at_targets(ctx: Context) -> None:
    """Mean steps to every recorded target accuracy, per (optimizer, B) at the tuned lr."""
    tuned_runs = tuned(ctx)
    cols = [c for c in runs(ctx).columns if c.startswith("steps@")]
    print(tuned_runs.groupby(["optimizer", "batch_size"])[cols].mean().to_string(float_format=lambda v: f"{v:.0f}"))


def matched_budget_lines(ctx: Context) -> list[str]:
    """Test accuracy of the paper's LB against the best smaller batch at matched budgets, from the quiet, interleaved
    cost records (same number of updates) and the gradient-norm runs (same number of examples): the comparison the
    stop-at-the-target protocol cannot make (every run there stops at the same validation accuracy)."""
    from lbgap.book import gradient_norm

    c, t = gradient_norm.costs(ctx), gradient_norm.at_budgets(ctx)
    lines = []
    if len(c):
        acc = c.groupby("batch_size").test_acc.mean() * 100
        big, small = acc.index.max(), acc.drop(acc.index.max()).idxmax()
        lines.append(f"**Same number of updates ({int(c.steps.iloc[0])} Adam steps at 10⁻³, {c.seed.nunique()} seeds):** "
                     f"B = {int(big):,} tests {acc[big]:.2f} % against {acc[small]:.2f} % for the best smaller batch "
                     f"(B = {int(small):,}): per update, the larger batch is "
                     f"{'ahead' if acc[big] > acc[small] else 'behind'}.")
    if len(t):
        for budget, g in t[t.rule == "fixed"].groupby("budget", sort=False):
            a = g.set_index("batch_size").test_acc * 100
            big, small = a.index.max(), a.drop(a.index.max()).idxmax()
            lines.append(f"**Same number of examples ({budget}, Adam 10⁻³):** B = {int(big):,} tests {a[big]:.2f} % "
                         f"against {a[small]:.2f} % for B = {int(small):,}: per example, it is "
                         f"{'ahead' if a[big] > a[small] else 'behind'}.")
    if len(c):
        s = c.groupby("batch_size").seconds_per_step.median()
        lines.append("**Wall time, measured in one interleaved run (the records hold no host load):** "
                     + ", ".join(f"{1e3 * v:.1f} ms per step at B = {int(b):,}" for b, v in s.items())
                     + "; seconds per epoch = steps per epoch × these (the gradient-norm chapter's cost table).")
    return lines


def show_matched_budgets(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = matched_budget_lines(ctx)
    verdict_lines(lines or ["No matched-budget records (`lbgap sweep cost`, `lbgap sweep gradient-norm`)."])
