"""The batch-size-versus-iterations chapter (Shallue et al. 2019; McCandlish et al. 2018): F1's steps to a target
validation accuracy against the batch size, the learning rate tuned per batch size, the critical batch size
fitted to S(B) = S_min (1 + B_crit / B) beside the measured gradient-noise scale B_simple, and the cost."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.style import batch_axis, show_figure, show_table


def record_profile(ctx: Context) -> str:
    """This study's records live under data/results/quick (results mode), else under the computing profile."""
    return "quick" if ctx.profile == "results" else ctx.run_profile


def target(ctx: Context, net: str = "F1") -> float:
    """The validation accuracy ``net``'s runs train to (``steps.HEADLINES``; smoke: 0.5, reachable on synthetic data
    in seconds)."""
    from lbgap.studies import steps

    return 0.5 if ctx.profile == "smoke" else steps.HEADLINES[net]


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
    """Per optimizer, the fit of S(B) = S_min (1 + B_crit / B) to the tuned runs (``steps.critical_batches``,
    500 bootstrap draws), and a line for each optimizer that could not be fitted."""
    from lbgap.studies import steps

    return ctx.memo("fits", lambda: steps.critical_batches(runs(ctx), target(ctx), n_boot=500))


def b_simple(ctx: Context) -> dict:
    """The gradient-noise scale measured along the small-batch run (``noise.b_simple_summary`` with its default
    bootstrap, the same call as the gradient-noise chapter's: one interval on every page)."""
    from lbgap.measures import noise

    def make():
        track = next(r for r in noise.load(ctx.results_dir, record_profile(ctx)).values() if r.get("what") == "track")
        return noise.b_simple_summary(track, target(ctx))   # default draws, as the noise chapter

    return ctx.memo("b_simple", make)


# ------------------------------------------------------------------------------------ what the notebook shows
# the grid's and the fixed-lr table's snake_case columns and their display labels (applied only when shown)
LABELS = {"batch_size": "batch size B", "lrs": "learning rates tried", "best_lr": "best lr",
          "budget_val_acc": "val acc @1 epoch", "budget_test_acc": "test acc @1 epoch",
          "steps_fixed_lr": "steps (lr 1e-3)", "steps_tuned": "steps (tuned)", "tuned_lr": "tuned lr"}


def show_grid(ctx: Context) -> None:
    """The learning rates, seeds and runs per (optimizer, batch size), and what the runs cost in all."""
    from lbgap.studies import steps

    df = runs(ctx)
    grid = df.groupby(["optimizer", "batch_size"]).agg(
        lrs=("lr", lambda s: ", ".join(f"{v:.2g}" for v in sorted(set(s)))),
        seeds=("seed", lambda s: ", ".join(map(str, sorted(set(s))))), runs=("seed", "size"))
    grid["best_lr"] = steps.best_lr(df, target(ctx))
    show_table(grid.reset_index(),
               f"The grid: learning rates, seeds and runs per optimizer and batch size; {len(df)} runs, "
               f"{df.wall_time_s.sum() / 60:.1f} min of summed run wall time ({df.train_time_s.sum() / 60:.1f} min "
               f"of it in training steps), on {df.device.iloc[0]}", "steps-grid", runs=run_set(ctx),
               formats={"best_lr": "{:.2g}"}, labels=LABELS)


def run_set(ctx: Context) -> str:
    """The run set a table of this chapter reads, in words (the registry's, :func:`run_set_words`) and the number
    of records."""
    return f"{run_set_words(ctx)} ({len(runs(ctx))} records)"


def run_set_words(ctx: Context) -> str:
    """The steps-to-target run set with its seeds (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    df = runs(ctx)
    return run_sets.describe("steps", df.assign(net=df.net if "net" in df else "F1", profile=record_profile(ctx)))


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
    axes[0].legend(fontsize=9)
    for ax in axes:
        batch_axis(ax, axis="y")
    fig.tight_layout()
    from lbgap.studies import steps

    best = steps.best_lr(df, target(ctx))
    words = []
    for opt in sorted({o for o, _ in best.index}):
        b = best.loc[opt].sort_index()
        words.append(f"{opt}'s best lr goes from {b.iloc[0]:.2g} at B = {b.index[0]:,} to {b.iloc[-1]:.2g} at "
                     f"B = {b.index[-1]:,}")
    show_figure(fig, f"Steps to {target(ctx):.0%} validation accuracy against the learning rate, one colour per "
                f"batch size (seed {int(df.seed.min())}; open markers: the target was not reached) — runs: "
                f"{run_set(ctx)}", "; ".join(words) + ".")


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
    from lbgap.book.style import verdict_lines

    show_table(pd.DataFrame(rows).rename(columns={"value": "value (examples)", "pm": "± se", "ci95": "95 % CI",
                                                  "S_min": "S_min (steps)", "E_min": "E_min (examples)"}),
               "Critical batch size B_crit (fit of S(B) = S_min (1 + B_crit / B)) beside the measured noise scale "
               "B_simple", "fits", runs=run_set(ctx), formats={"value (examples)": "{:,.0f}", "± se": "{:,.0f}"})
    verdict_lines([f"{opt}: B_crit / B_simple = {f['b_crit'] / bs['b_simple']:.2f}" for opt, f in fitted.items()])


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
    for ax in axes:
        batch_axis(ax, tuned_runs.batch_size.unique())
    fig.tight_layout()
    reading = None
    if "adam" in fitted:
        m = tuned_runs[tuned_runs.optimizer == "adam"].groupby("batch_size")[key].mean()
        reading = (f"Adam's steps to {t:.0%} fall from {m.iloc[0]:,.0f} at B = {m.index[0]:,} to {m.iloc[-1]:,.0f} "
                   f"at B = {m.index[-1]:,} ({m.iloc[0] / m.iloc[-1]:.1f}× fewer for {m.index[-1] / m.index[0]:,.0f}× "
                   f"the batch); the fit puts B_crit at {fitted['adam']['b_crit']:,.0f} examples.")
    show_figure(fig, "Steps (top) and examples (bottom) to the target against the batch size at the tuned lr, "
                "with the fit S(B) = S_min (1 + B_crit / B) and the three regimes around Adam's B_crit — runs: "
                + run_set(ctx), reading)


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
    n_tuned = tuned_runs[tuned_runs.optimizer == "adam"].groupby("batch_size").seed.nunique()
    seeds = f"{n_tuned.min()}" if n_tuned.min() == n_tuned.max() else f"{n_tuned.min()}–{n_tuned.max()}"
    axes[1].plot(tuned_adam.index, tuned_adam[key], "s-", label=f"lr tuned per B (mean of {seeds} seeds)")
    axes[1].set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"steps to {t:.0%}", title="Adam")
    axes[1].legend(fontsize=9)
    for ax in axes:
        batch_axis(ax, fixed.batch_size)
    fig.tight_layout()
    f0, f1 = fixed.iloc[0], fixed.iloc[-1]
    show_figure(fig, "Adam at the paper's fixed lr 1e-3: accuracy after one epoch (top) and steps to the target "
                f"(bottom) against the batch size, beside the lr tuned per batch size — runs: {run_set(ctx)}",
                f"at lr 1e-3, one epoch leaves validation accuracy {f0.budget_val_acc:.3f} at B = {int(f0.batch_size):,} "
                f"and {f1.budget_val_acc:.3f} at B = {int(f1.batch_size):,}.")
    tab = fixed[["batch_size", "budget_val_acc", "budget_test_acc", key, "reached"]].rename(
        columns={key: "steps_fixed_lr"})
    tab["steps_tuned"] = tab.batch_size.map(tuned_adam[key])
    tab["tuned_lr"] = tab.batch_size.map(steps.best_lr(df, t).loc["adam"])
    show_table(tab, "Adam at the paper's fixed lr 1e-3 (seed 0) "
               "against the lr tuned per batch size (mean of the tuned seeds)", "fixed-lr", runs=run_set(ctx),
               formats={"tuned_lr": "{:.2g}", "budget_val_acc": "{:.4f}", "budget_test_acc": "{:.4f}"},
               labels=LABELS)


def show_cost(ctx: Context) -> None:
    """Per (optimizer, B) at the tuned lr: time per epoch, throughput, memory, steps and seconds to the target."""
    import matplotlib.pyplot as plt

    tuned_runs, (key, _, tkey), t = tuned(ctx), columns(ctx), target(ctx)
    cost = tuned_runs.groupby(["optimizer", "batch_size"]).agg(
        lr=("lr", "first"), seeds=("seed", "size"), s_per_epoch=("time_per_epoch_s", "mean"),
        samples_per_s=("samples_per_s", "mean"), rss_mb=("rss_mb", "max"), steps_to_target=(key, "mean"),
        steps_sd=(key, "std"), time_to_target_s=(tkey, "mean"), test_acc=("test_acc", "mean"),
        test_sd=("test_acc", "std"))
    from lbgap.book.style import pm

    shown = cost.reset_index().assign(
        steps_to_target=[pm(m, s, 0) for m, s in zip(cost.steps_to_target, cost.steps_sd)],
        test_acc=[pm(m, s, 4) for m, s in zip(cost.test_acc, cost.test_sd)]).drop(columns=["steps_sd", "test_sd"])
    show_table(shown.rename(columns={
        "batch_size": "batch size B", "s_per_epoch": "time per epoch (s)", "samples_per_s": "throughput (examples/s)",
        "rss_mb": "peak RSS (MB)", "steps_to_target": "steps to target, mean ± sd",
        "time_to_target_s": "time to target (s)", "test_acc": "test acc, mean ± sd"}),
        f"Cost per optimizer and batch size at the tuned lr (means over seeds; target {t:.0%} validation accuracy)",
        "cost", runs=run_set(ctx), formats={"lr": "{:.2g}"})
    fig, axes = plt.subplots(3, 1, figsize=(6.8, 7.6), sharex=True)
    for (opt, g), color in zip(tuned_runs.groupby("optimizer"), ("C0", "C4")):
        m = g.groupby("batch_size").agg(sec=("time_per_epoch_s", "mean"), rss=("rss_mb", "max"),
                                        acc=("test_acc", "mean"))
        axes[0].plot(m.index, m.sec, "o-", color=color, label=opt)
        axes[1].plot(m.index, m.rss, "o-", color=color, label=opt)
        axes[2].plot(m.index, 100 * m.acc, "o-", color=color, label=opt)
    axes[0].set(yscale="log", ylabel="seconds per epoch")
    axes[1].set(ylabel="peak RSS (MB)")
    axes[2].set(xscale="log", xlabel="batch size B", ylabel="test accuracy (%)")
    batch_axis(axes[2], tuned_runs.batch_size.unique())
    axes[0].legend(frameon=False)
    fig.tight_layout()
    by = tuned_runs.groupby("batch_size").agg(sec=("time_per_epoch_s", "mean"), acc=("test_acc", "mean"))
    lo, hi = by.index.min(), by.index.max()
    show_figure(fig, "Time per epoch, peak memory and test accuracy against the batch size, at the learning rate "
                f"tuned per batch size (means over seeds) — runs: {run_set(ctx)}",
                f"an epoch took {by.sec[lo]:.3g} s at B = {lo:,} and {by.sec[hi]:.3g} s at B = {hi:,}, with peaks "
                f"and dips between that the batch size does not explain (see the next figure); the test accuracy, read where "
                f"each run stopped at the target, is {100 * by.acc[lo]:.2f} and {100 * by.acc[hi]:.2f} %.")
    states = machine_states(ctx)
    keys = zip(tuned_runs.optimizer, tuned_runs.batch_size, tuned_runs.lr, tuned_runs.seed)
    tuned_runs = tuned_runs.assign(machine=[states.get(k, "load not recorded") for k in keys])
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    markers = {"idle": "o", "shared": "s", "load not recorded": "x"}
    for (opt, g), color in zip(tuned_runs.groupby("optimizer"), ("C0", "C4")):
        m = g.groupby("batch_size")[tkey].mean()
        ax.plot(m.index, m.values, "-", color=color, lw=1, label=f"{opt} (mean)")
        for state, gs in g.groupby("machine"):
            ax.scatter(gs.batch_size, gs[tkey], marker=markers.get(state, "x"), color=color,
                       facecolors="none" if state == "shared" else color, label=f"{opt}, {state}")
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel=f"training seconds to {t:.0%}",
           title="wall-clock to the target (1 CPU thread)")
    batch_axis(ax, tuned_runs.batch_size.unique())
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    counts = tuned_runs.machine.value_counts()
    show_figure(fig, "Wall-clock seconds of training to the target per run, marked by the machine's state during "
                "the run as its record gives it (load averages at start and end against the host's cores) — runs: "
                + run_set(ctx),
                (f"none of the {len(tuned_runs)} records carries the host's load (they predate that field), so "
                 "the figure cannot tell idle from shared runs: compare these times with care; the gradient-norm "
                 "chapter's cost records interleave the batch sizes seed by seed, so that a change of load slows them "
                 "all alike."
                 if set(counts.index) == {"load not recorded"} else
                 "; ".join(f"{n} runs {state}" for state, n in counts.items()) + "; a run on a shared machine is "
                 "slower than the batch size alone explains, so only runs marked idle compare in time."))


def machine_states(ctx: Context) -> dict:
    """(optimizer, B, lr, seed) → "idle" or "shared" from an F1 steps record's provenance (1-minute load at start and
    end against ``host_cores``: shared when either exceeds half the cores); runs whose record has no load are left
    out, and so are other networks' runs (C1's share these keys)."""
    from lbgap.core.records import iter_records

    out = {}
    for r in iter_records(ctx.results_dir, record_profile(ctx), "steps"):
        p = r.get("provenance") or {}
        if r["config"]["net"] != "F1":
            continue
        loads = [x[0] for x in (p.get("host_load_start"), p.get("host_load_end")) if x]
        if loads and p.get("host_cores"):
            c = r["config"]
            out[(c["optimizer"], c["batch_size"], c["lr"], c["seed"])] = "shared" if max(loads) > 0.5 * p["host_cores"] else "idle"
    return out


def show_steps_at_targets(ctx: Context) -> None:
    """Mean steps to every recorded target accuracy, per (optimizer, B) at the tuned lr."""
    tuned_runs = tuned(ctx)
    cols = [c for c in runs(ctx).columns if c.startswith("steps@")]
    show_table(tuned_runs.groupby(["optimizer", "batch_size"])[cols].mean().reset_index().rename(
        columns={"batch_size": "batch size B", **{c: c.replace("steps@", "steps to ") for c in cols}}),
        "Mean steps to each recorded validation accuracy, per optimizer and batch size at the tuned lr", "targets",
        runs=run_set(ctx), formats={c.replace("steps@", "steps to "): "{:,.0f}" for c in cols})


def recommendation_lines(ctx: Context) -> list[str]:
    """The chapter's recommendations, each sentence's numbers read from the records and each trend chosen by a rule:
    the three regimes around the fitted B_crit (section 2), the best learning rate against B (Spearman, rule
    "Spearman trend"), the paper's fixed-lr protocol against the tuned lr (section 3), time and memory (section 4)
    and B_simple against B_crit (section 2)."""
    import numpy as np

    from lbgap.book import claims
    from lbgap.studies import steps

    tuned_runs, (key, ekey, tkey), t = tuned(ctx), columns(ctx), target(ctx)
    fitted, _ = fits(ctx)
    if tuned_runs.empty or "adam" not in fitted:
        return []
    m = tuned_runs.groupby(["optimizer", "batch_size"])[[key, ekey, tkey, "rss_mb", "test_acc"]].mean()
    opts = sorted(fitted)
    lines = []
    # 1. perfect scaling: B < B_crit / 3
    parts = []
    for opt in opts:
        g = m.loc[opt]
        low = [b for b in g.index if b < fitted[opt]["b_crit"] / 3]
        if len(low) >= 2:
            parts.append(f"{opt}: from B = {low[0]:,} to {low[-1]:,} the steps to {t:.0%} fall from "
                         f"{g.loc[low[0], key]:,.0f} to {g.loc[low[-1], key]:,.0f} while the examples stay within "
                         f"{g.loc[low, ekey].min():,.0f}–{g.loc[low, ekey].max():,.0f}")
    if parts:
        lines.append("**Below a third of B_crit** (section 2; the fit's *perfect scaling* regime). " + "; ".join(parts)
                     + ".")
    # 2. past B_crit: examples grow
    parts = []
    for opt in opts:
        g, f = m.loc[opt], fitted[opt]
        low = [b for b in g.index if b < f["b_crit"] / 3]
        b0, b1 = (low[-1] if low else g.index[0]), g.index[-1]
        far = [b for b in g.index if b > 3 * f["b_crit"]]
        parts.append(f"{opt}: B_crit = {f['b_crit']:,.0f} ± {f['b_crit_se']:,.0f}; from B = {b0:,} to {b1:,} "
                     f"({b1 / b0:.1f}× the batch) the steps fall {g.loc[b0, key] / g.loc[b1, key]:.1f}× "
                     f"({g.loc[b0, key]:,.0f} to {g.loc[b1, key]:.3g}) and the examples grow "
                     f"{g.loc[b1, ekey] / g.loc[b0, ekey]:.1f}×"
                     + (f"; B = {', '.join(f'{b:,}' for b in far)} lie beyond 3 B_crit (*maximal data parallelism*)"
                        if far else ""))
    lines.append("**Past the critical batch size** (section 2). " + "; ".join(parts) + ".")
    # 3. the best learning rate against B
    best = steps.best_lr(runs(ctx), t)
    parts, grows = [], False
    for opt in sorted({o for o, _ in best.index}):
        b = best.loc[opt].sort_index()
        c = claims.trend(np.log(b.index.astype(float)), np.log(b.values.astype(float)), f"{opt} best lr vs B",
                         up="grows with B", down="falls with B")
        grows |= c.verdict == "grows with B"
        parts.append(f"{opt}: {b.iloc[0]:.2g} at B = {b.index[0]:,} to {b.iloc[-1]:.2g} at B = {b.index[-1]:,}, "
                     f"{c.verdict} (Spearman ρ = {claims.signed(c.estimate.value)}, p = {c.estimate.p:.2g}, "
                     f"n = {c.n} batch sizes)")
    lines.append(("**Retune the learning rate whenever the batch size changes** (section 1)." if grows else
                  "**The best learning rate against the batch size** (section 1).") + " The best learning rate: "
                 + "; ".join(parts) + ".")
    # 4. the paper's protocol against the tuned lr
    df = runs(ctx)
    fixed = df[(df.optimizer == "adam") & np.isclose(df.lr, 1e-3) & (df.seed == df.seed.min())].set_index("batch_size")
    if len(fixed) >= 2 and fixed.budget_test_acc.notna().any():
        acc = 100 * fixed.budget_test_acc.dropna()
        big, small = acc.index.max(), acc.drop(acc.index.max()).idxmax()
        tb = tuned_runs[(tuned_runs.optimizer == "adam") & (tuned_runs.batch_size == big)][key]
        n_train = big * fixed.loc[big, "steps"] / max(fixed.loc[big, "epochs"], 1e-9) if "epochs" in fixed else None
        ratio = (fixed[key] / m.loc["adam"][key].reindex(fixed.index)).dropna()
        lines.append(f"**Judge large batches at a matched number of steps or a tuned budget, not at a fixed number of "
                     f"epochs** (section 3). After one epoch at the paper's lr 10⁻³ (seed {int(df.seed.min())}), "
                     f"B = {big:,} tests {acc[big]:.2f} % against {acc[small]:.2f} % at B = {small:,} "
                     f"({acc[small] - acc[big]:.2f} points apart); the same batch reaches {t:.0%} after "
                     f"{tb.mean():.3g} ± {tb.std():.2g} steps at its tuned lr (n = {len(tb)})"
                     + (f", {tb.mean() * big / n_train:.2f} epochs" if n_train else "")
                     + (f", and after {fixed.loc[big, key]:.3g} steps at lr 10⁻³" if fixed.loc[big, key] == fixed.loc[big, key]
                        else "") + (f"; lr 10⁻³ needs {ratio.min():.2g}–{ratio.max():.2g}× the tuned steps over the batch "
                                    "sizes where both reach the target" if len(ratio) else "") + ".")
    # 5. time and memory
    parts = []
    for opt in opts:
        g = m.loc[opt][tkey].dropna()
        if len(g):
            parts.append(f"{opt} fastest to {t:.0%} at B = {g.idxmin():,} ({g.min():.3g} s; {g.iloc[0]:.3g} s at "
                         f"B = {g.index[0]:,}, {g.iloc[-1]:.3g} s at B = {g.index[-1]:,})")
    rss = m.rss_mb
    lines.append("**On this CPU, wall-clock time to the target** (section 4): " + "; ".join(parts) + f"; process RSS "
                 f"from {rss.min():,.0f} to {rss.max():,.0f} MB. No record of this study stores the host load, so "
                 "runs made at different times compare only roughly; on a GPU the fastest batch moves up, towards "
                 "B_crit (not measured here).")
    # 6. B_simple against B_crit
    bs = b_simple(ctx)
    lines.append(f"**Use the gradient-noise scale as an order-of-magnitude guide, measured where it matters** (section 2, "
                 f"dotted line). B_simple where the small-batch run reaches {t:.0%}: {bs['b_simple']:,.0f} (95 % CI "
                 f"{bs['ci'][0]:,.0f}–{bs['ci'][1]:,.0f}), "
                 + ", ".join(f"{bs['b_simple'] / fitted[o]['b_crit']:.2g}× the fitted B_crit of {o}" for o in opts)
                 + f"; at initialisation it is {bs['init']:,.0f}, "
                 + ", ".join(f"{fitted[o]['b_crit'] / bs['init']:.2g}× below B_crit ({o})" for o in opts) + ".")
    acc = 100 * tuned_runs.test_acc
    lines.append(f"**Against the papers.** Every run stops at the same {t:.0%} validation accuracy, so the test accuracy "
                 f"at the target ({acc.min():.2f}–{acc.max():.2f} % over all tuned runs and batch sizes) follows it by "
                 "construction and says nothing about a gap; the matched budgets below can show one.")
    return lines


def show_recommendations(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = recommendation_lines(ctx)
    if lines:
        verdict_lines(lines)


def matched_budget_lines(ctx: Context) -> list[str]:
    """Test accuracy of the paper's LB against the best smaller batch at matched budgets, from the quiet, interleaved
    cost records (same number of updates) and the gradient-norm runs (same number of examples): the comparison the
    stop-at-the-target protocol cannot make (every run there stops at the same validation accuracy)."""
    from lbgap.book import gradient_norm

    from lbgap.book import claims

    def versus(per_seed, what: str) -> str:
        """The largest batch against the smaller one with the best mean, paired by seed (rule "paired effect")."""
        acc = per_seed.groupby("batch_size").acc.mean()
        big, small = acc.index.max(), acc.drop(acc.index.max()).idxmax()
        c = claims.effect(claims.by_seed(per_seed[per_seed.batch_size == big], "acc"),
                          claims.by_seed(per_seed[per_seed.batch_size == small], "acc"), f"B = {big} − B = {small}",
                          up="ahead", down="behind")
        return (f"B = {int(big):,} tests {acc[big]:.2f} % against {acc[small]:.2f} % for B = {int(small):,}, the "
                f"smaller batch with the best mean: per {what}, "
                + (f"the larger batch is {c.words()}" if c.resolved else f"larger − smaller {c.words()}"))

    c, t = gradient_norm.costs(ctx), gradient_norm.at_budgets(ctx)
    lines = []
    if len(c):
        lines.append(f"**Same number of updates ({int(c.steps.iloc[0])} Adam steps at 10⁻³, {c.seed.nunique()} seeds):** "
                     + versus(c.assign(acc=100 * c.test_acc), "update") + ".")
    if len(t):
        p = gradient_norm.points(ctx)
        for (net, budget), _ in t[t.rule == "fixed"].groupby(["net", "budget"], sort=False):
            q = p[(p.rule == "fixed") & (p.net == net)]
            at = q[q.examples == gradient_norm.budgets(q)[budget]]
            lines.append(f"**Same number of examples ({budget}, Adam 10⁻³, {at.seed.nunique()} seeds):** "
                         + versus(at.assign(acc=100 * at.test_acc), "example") + ".")
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
