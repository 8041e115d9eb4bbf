"""The gradient-noise chapter (McCandlish et al. 2018): a quadratic toy where the minibatch size only scales the
noise, the variance of F1's minibatch gradient against the batch size m (slope -1 where the noise is i.i.d.), and
the gradient-noise scale B_simple along the small-batch run."""
from __future__ import annotations

from lbgap.book.batch_vs_iterations import record_profile, target
from lbgap.book.context import Context
from lbgap.book import run_sets
from lbgap.book.style import show, show_figure, verdict_lines


def compute(ctx: Context) -> None:
    from lbgap.measures import noise
    from lbgap.studies import steps

    if ctx.profile == "smoke":
        noise.smoke(ctx.results_dir)
        steps.smoke_sweep(ctx.results_dir, optimizers=("adam",))
    else:
        rp = record_profile(ctx)
        noise.track_noise_scale(0, rp, results_dir=ctx.results_dir)
        for at in ("init", "track"):
            noise.run_scan(at, 0, rp, draws=12, m_max=2048, results_dir=ctx.results_dir)   # the records' settings


def noise_records(ctx: Context) -> dict:
    """The noise records by name (``noise.load``)."""
    from lbgap.measures import noise

    return ctx.memo("noise", lambda: noise.load(ctx.results_dir, record_profile(ctx)))


def scans(ctx: Context) -> dict:
    """The minibatch-size scans by where they were taken (``init``, ``track``)."""
    return {r["at"]: r for r in noise_records(ctx).values() if r.get("what") == "scan"}


def track(ctx: Context) -> dict:
    """The record of B_simple tracked along the small-batch run."""
    return next(r for r in noise_records(ctx).values() if r.get("what") == "track")


def scan_frame(ctx: Context):
    import pandas as pd

    from lbgap.measures import noise

    return pd.concat([noise.scan_table(sc).assign(at=at) for at, sc in scans(ctx).items()], ignore_index=True)


def slope_fits(ctx: Context):
    """The fitted slope of log variance against log m per scan, from several smallest m on (1000 draws; read once
    per notebook)."""
    return ctx.memo("noise-slopes", lambda: _slope_fits(ctx))


def _slope_fits(ctx: Context):
    import pandas as pd

    from lbgap.measures import noise

    fits = []
    for at, sc in scans(ctx).items():
        for lo in (2, 32, 128, 512):
            if sum(r["m"] >= lo for r in sc["rows"]) < 3:
                continue
            f = noise.fit_slope(sc, m_min=lo, n_boot=1000)
            fits.append(dict(at=at, m=f"{f['m_range'][0]}-{f['m_range'][1]}", slope=f["slope"], se=f["slope_se"],
                             ci95=f"[{f['slope_ci'][0]:.3f}, {f['slope_ci'][1]:.3f}]", tr_sigma=f["tr_sigma"],
                             grad_sqnorm=sc["full_grad_sqnorm"], B_simple=f["b_simple"]))
    return pd.DataFrame(fits)


def run_set_words(ctx: Context) -> str:
    """The run set of the noise records shown, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    import pandas as pd

    recs = noise_records(ctx).values()
    return run_sets.describe("noise", pd.DataFrame([dict(net=r.get("net", ""), profile=record_profile(ctx),
                                                         seed=r.get("seed")) for r in recs]))


def steps_run_set_words(ctx: Context) -> str:
    """The run set of the steps-to-target records (section 4), with their seeds."""
    from lbgap.book import batch_vs_iterations as bvi

    return bvi.run_set_words(ctx)


def carry_over_lines(ctx: Context) -> list[str]:
    """What carries over from the toy, every number from the noise records: the fitted slopes per scan and range of
    m (slope ± regression se), the smallest minibatch against the 1/m line, the variance ratio and alignment between
    the SB batch size and the largest m, and the noise scale along the small-batch run (probe at x0, the scan at x0,
    the EMA's range after its first probe, at the target and at the end)."""
    import numpy as np

    from lbgap.measures import noise

    fits, sf = slope_fits(ctx), scan_frame(ctx)
    if fits.empty:
        return []

    def slope(at, lo):
        r = fits[(fits["at"] == at) & fits.m.str.startswith(f"{lo}-")]
        return f"{r.slope.iloc[0]:.3f} ± {r.se.iloc[0]:.3f}".replace("-", "−") if len(r) else "—"

    def var(at, m):
        r = sf[(sf["at"] == at) & (sf.m == m)]
        return float(r.var_fpc.iloc[0]) if len(r) else float("nan")

    def cos(at, m):
        r = sf[(sf["at"] == at) & (sf.m == m)]
        return float(r.cos.iloc[0]) if len(r) else float("nan")

    scans_at = sorted(set(sf["at"]))
    lines = ["**Slopes of the FPC-corrected variance against m** (slope ± regression se; −1: independent samples): "
             + "; ".join(f"{at}: " + ", ".join(f"m ≥ {lo} {slope(at, lo)}" for lo in (32, 128, 512)) for at in scans_at)
             + "."]
    m0, mx = int(sf.m.min()), int(sf.m.max())
    small = []
    for at in scans_at:
        tr = fits[(fits["at"] == at) & fits.m.str.startswith("32-")].tr_sigma
        if len(tr):
            small.append(f"{at} {var(at, m0) / (float(tr.iloc[0]) / m0):,.0f}×")
    all_m = fits[fits.m.str.startswith(f"{m0}-")].slope
    lines.append(f"**The smallest minibatch (m = {m0})** sits above the 1/m line of m ≥ 32 by " + ", ".join(small)
                 + f"; a fit over all sizes gives slopes {all_m.min():.2f} to {all_m.max():.2f}.".replace("-", "−"))
    sb_b = 256 if (sf.m == 256).any() else int(np.median(sf.m))
    lines.append(f"**Between m = {sb_b} (SB's batch) and m = {mx}** the variance falls by "
                 + ", ".join(f"{var(at, sb_b) / var(at, mx):.3g}× at {at}" for at in scans_at)
                 + f" (a 1/m law gives {mx / sb_b:g}×); cos(ĝ_m, g) goes from "
                 + ", ".join(f"{cos(at, sb_b):.2f} to {cos(at, mx):.2f} at {at}" for at in scans_at) + ".")
    tr = track(ctx)
    summ, series = noise.b_simple_summary(tr, target(ctx)), noise.noise_scale_series(tr)
    ema = series.b_simple.dropna()
    init_scan = fits[(fits["at"] == "init") & fits.m.str.startswith("32-")].B_simple
    end_scan = fits[(fits["at"] == "track") & fits.m.str.startswith("128-")].B_simple
    lines.append(f"**The noise scale along the small-batch run.** B_simple {summ['init']:,.0f} ± {summ['init_se']:,.0f} "
                 "at x0 (one probe)"
                 + (f"; the scan at x0 gives {float(init_scan.iloc[0]):,.0f} (m ≥ 32)" if len(init_scan) else "")
                 + f"; the EMA from its first probe (step {int(series.step[ema.index[0]])}) on stays between "
                 f"{ema.min():,.0f} and {ema.max():,.0f}; {summ['b_simple']:,.0f} where validation accuracy first reaches "
                 f"{target(ctx):.0%}; {summ['end']:,.0f} at the end of the run (step {summ['end_step']})"
                 + (f", where the scan gives {float(end_scan.iloc[0]):,.0f} (m ≥ 128)" if len(end_scan) else "") + ".")
    return lines


def show_carry_over(ctx: Context) -> None:
    lines = carry_over_lines(ctx)
    if lines:
        verdict_lines(lines)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_records(ctx: Context) -> None:
    print("records:", ", ".join(sorted(noise_records(ctx))))
    print("device:", track(ctx)["provenance"]["device"])


def show_toy() -> None:
    """The quadratic toy: loss against steps and against examples for several minibatch sizes, and the
    stationary loss against its exact value η σ² / (4 m (1 − η))."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from lbgap.measures import noise

    reps = 2000
    toy = noise.quadratic_toy((1, 8, 32, 128), steps=200, lr=0.05, sigma=4.0, reps=reps, seed=0)
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.2), sharey=True)
    for (m, g), color in zip(toy.groupby("m"), sns.color_palette("viridis", 4)):
        for ax, x in zip(axes, ("step", "examples")):
            g1 = g[g[x] > 0]
            ax.plot(g1[x], g1["mean"], color=color, label=f"m = {m}")
            ax.fill_between(g1[x], g1.q10, g1.q90, color=color, alpha=0.15)
    axes[0].set(yscale="log", xlabel="steps", ylabel="loss (θ − 3)²", title="same number of steps")
    axes[1].set(xscale="log", xlabel="examples seen (m × steps)", title="same number of examples")
    axes[0].legend()
    fig.tight_layout()
    end = toy[toy.step == toy.step.max()].set_index("m")["mean"]
    show_figure(fig, run_sets.caption(f"Noisy SGD on a quadratic: the loss (mean and 10–90 % band over {reps:,} "
                                      "repeats) against steps (top) and examples (bottom) for minibatch sizes m",
                                      "no-runs"),
                f"after {toy.step.max()} steps the loss is {end.iloc[0]:.3g} at m = {end.index[0]} and "
                f"{end.iloc[-1]:.3g} at m = {end.index[-1]}: {end.index[-1] // end.index[0]}× the examples per step "
                f"give a {end.iloc[0] / end.iloc[-1]:.0f}× lower loss (the exact stationary loss falls as 1/m: "
                f"{end.index[-1] // end.index[0]}×).")
    stat = toy[toy.step >= 150].groupby("m")["mean"].mean().rename("measured (steps 150-200)").reset_index()
    stat["exact η σ² / (4 m (1 − η))"] = [noise.quadratic_stationary_loss(m, 0.05, 4.0) for m in stat.m]
    stat["ratio"] = stat.iloc[:, 1] / stat.iloc[:, 2]
    show(stat.round(4).rename(columns={"m": "minibatch m"}),
         run_sets.caption("The toy's stationary loss against its exact value", "no-runs"), "toy")


def show_slopes(ctx: Context) -> None:
    from lbgap.book.style import show_table

    fits = slope_fits(ctx)
    runs = run_set_words(ctx) + " (records " + ", ".join(sorted(noise_records(ctx))) + ")"
    show_table(fits.rename(columns={"at": "scan", "m": "m range", "se": "slope se", "ci95": "95% CI", "tr_sigma": "tr Σ",
                                    "grad_sqnorm": "‖g‖²", "B_simple": "B_simple"}),
               "Slope of log variance against log m, by scan and range of m (1,000 bootstrap draws)", "slopes",
               runs=runs, units={"B_simple": "examples"}, formats={"slope": "{:.3f}", "slope se": "{:.3f}"})
    if len(fits):
        big = fits.loc[fits.B_simple.idxmax()]
        if big.B_simple > 1e6:
            verdict_lines([f"B_simple = tr Σ / ‖g‖² reaches {big.B_simple:,.0f} examples at the {big['at']} scan because "
                           f"the full gradient there is almost zero (‖g‖² = {big.grad_sqnorm:.2g}, against tr Σ = "
                           f"{big.tr_sigma:.3g}): near a minimiser every batch's gradient is mostly noise, so the noise "
                           "scale grows without bound. It does not mean that a batch of that size would help; it "
                           "means the critical batch size is a property of a point on the training path, not of the "
                           "network."
                           + (f" The fit behind it also has slope {big.slope:.2f}, far from the −1 that "
                              "tr Σ / m assumes, so tr Σ itself is poorly measured there."
                              if abs(big.slope + 1) > 0.3 else "")])
    cos = scan_frame(ctx).pivot(index="m", columns="at", values="cos").round(3).reset_index()
    show(cos.rename(columns={"m": "minibatch m"}), "cos(ĝ_m, g): alignment with the full gradient, by scan — runs: "
         + run_set_words(ctx), "cos")


def show_variance(ctx: Context) -> None:
    """The variance of the minibatch gradient and its alignment with the full gradient, against m."""
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    from lbgap.measures import noise

    scan_df, sc = scan_frame(ctx), scans(ctx)
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.2))
    for (at, g), color in zip(scan_df.groupby("at"), sns.color_palette("deep")):
        axes[0].errorbar(g.m, g.var_fpc, yerr=g.var_se / g.fpc, fmt="o", ms=4, color=color, label=at)
        lo = 32 if (g.m >= 32).sum() >= 3 else 2
        f = noise.fit_slope(sc[at], m_min=lo, n_boot=10)
        mm = np.array([lo, g.m.max()])
        axes[0].plot(mm, np.exp(f["intercept"]) * mm ** f["slope"], color=color, lw=1,
                     label=f"{at}: slope {f['slope']:.2f} (m ≥ {lo})")
        axes[1].plot(g.m, g.cos, "o-", ms=4, color=color, label=at)
    axes[0].set(xscale="log", yscale="log", xlabel="minibatch size m", ylabel="E‖ĝ_m − g‖² / FPC",
                title="variance of the minibatch gradient")
    axes[1].set(xscale="log", xlabel="minibatch size m", ylabel="cos(ĝ_m, g)",
                title="alignment with the full gradient")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=9)
    fig.tight_layout()
    f = slope_fits(ctx)
    f = f[f.m == f.groupby("at").m.transform("last")]
    show_figure(fig, "Variance of the minibatch gradient (top, with fitted slopes) and its alignment with the full "
                "gradient (bottom) against the minibatch size m — runs: " + run_set_words(ctx),
                "fitted slopes over the largest m: " + ", ".join(f"{r['at']} {r.slope:.2f}" for _, r in f.iterrows())
                + " (−1 is the slope of independent samples, variance ∝ 1/m).")


def show_noise_scale(ctx: Context) -> None:
    """B_simple along the small-batch run (single probes and their EMA) with the validation accuracy."""
    import matplotlib.pyplot as plt

    from lbgap.measures import noise

    tr, t = track(ctx), target(ctx)
    series = noise.noise_scale_series(tr)
    summ = noise.b_simple_summary(tr, t)   # the function's default draws: every page quotes the same interval
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    pos = series[series.b_raw > 0]
    ax.errorbar(pos.step, pos.b_raw, yerr=pos.b_raw_se, fmt=".", color="0.6", lw=0.5,
                label="single probe (± jackknife SE)")
    ax.plot(series.step, series.b_simple, color="C0", label="EMA")
    ax.fill_between(series.step, (series.b_simple - series.b_se).clip(lower=1), series.b_simple + series.b_se,
                    color="C0", alpha=0.2)
    ax.axvspan(*summ["steps_window"], color="k", alpha=0.06)
    ax.set(yscale="log", xlabel="step (B = %d)" % tr["batch_size"], ylabel="B_simple (examples)",
           title="gradient-noise scale along the small-batch run")
    ax2 = ax.twinx()
    ax2.plot(series.step, series.val_acc, color="C3", lw=1)
    ax2.set_ylabel("validation accuracy", color="C3")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    show_figure(fig, "The gradient-noise scale B_simple along the small-batch run (single probes and their EMA), "
                "with the validation accuracy (right axis) — runs: " + run_set_words(ctx))
    verdict_lines([
        f"B_simple at initialisation (one probe): {summ['init']:.0f} ± {summ['init_se']:.0f}",
        f"B_simple where validation accuracy first reaches {t:.0%} (step {summ['step']}; probes of steps "
        f"{summ['steps_window'][0]}-{summ['steps_window'][1]}, shaded): {summ['b_simple']:.0f} "
        f"(95% CI {summ['ci'][0]:.0f} to {summ['ci'][1]:.0f})",
        f"B_simple at the end of the run (step {summ['end_step']}, validation accuracy {summ['end_val_acc']:.3f}): "
        f"{summ['end']:.0f}"])


def show_loss_curves(ctx: Context) -> None:
    """Adam's validation loss at each B's tuned lr against steps and against examples."""
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter

    from lbgap.studies import steps

    rp = record_profile(ctx)
    cur = steps.curve_table(ctx.results_dir, rp)
    tab = steps.table(ctx.results_dir, rp)
    if len(cur):
        best = steps.best_lr(tab, target(ctx))
        keep = np.array([best.get((o, b)) == rate for o, b, rate in zip(cur.optimizer, cur.batch_size, cur.lr)])
        sel = cur[keep & (cur.optimizer == "adam")]
        fig, axes = plt.subplots(2, 1, figsize=(6.8, 7.2), sharey=True)
        for ax, x in zip(axes, ("step", "examples")):
            sns.lineplot(data=sel, x=x, y="val_loss", hue="batch_size", palette="viridis", hue_norm=LogNorm(),
                         errorbar=("pi", 100), ax=ax, legend="full" if ax is axes[0] else False)
            ax.set(xscale="log", yscale="log", ylabel="validation loss")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        axes[0].set_title("same number of steps")
        axes[1].set_title("same number of examples")
        fig.tight_layout()
        end = sel.sort_values("step").groupby("batch_size").tail(1).groupby("batch_size").val_loss.median()
        show_figure(fig, "Adam's validation loss at each batch size's tuned lr against steps (top) and examples "
                    "(bottom) — runs: " + steps_run_set_words(ctx), f"where the runs stop, the validation loss is {end.iloc[0]:.3g} at B = {end.index[0]:,} "
                    f"and {end.iloc[-1]:.3g} at B = {end.index[-1]:,} (median over seeds)." if len(end) else None)
    else:
        print("no steps-to-target records yet: run `lbgap sweep steps-to-target`")
