"""The tuned-learning-rate chapter: is F1's gap still there when the LR is tuned for each batch size on a hold-out
split (``studies.tuned_lr``)? The LR curves (validation accuracy against LR per batch size), the selected LRs, and
SB - LB at the tuned LRs on the official split with its paired 95 % interval beside the untuned Table 2 gap, and
whether the sharpness still separates the two."""
from __future__ import annotations

import math

from lbgap.book.context import Context
from lbgap.book.style import num, show, show_figure, sig, verdict_lines

SMOKE_SEEDS = (0, 1)
SMOKE_MULTIPLIERS = (1.0, 2.0)   # the smoke grid: two points per batch size, no extension
MIN_SEEDS = 3          # fewer paired seeds than this: "unresolved", whatever the interval says


def compute(ctx: Context) -> None:
    from lbgap.studies import tuned_lr

    quiet = dict(log=lambda s: None)
    if ctx.profile == "smoke":
        tuned_lr.run("grid", profile="smoke", results_dir=ctx.results_dir, multipliers=SMOKE_MULTIPLIERS, **quiet)
        tuned_lr.run("final", seeds=SMOKE_SEEDS, profile="smoke", results_dir=ctx.results_dir, **quiet)
        return
    tuned_lr.run("grid", profile=ctx.run_profile, results_dir=ctx.results_dir, device=ctx.device)
    tuned_lr.run("final", seeds=ctx.seeds, profile=ctx.run_profile, results_dir=ctx.results_dir, device=ctx.device)


def _profile(ctx: Context) -> str:
    """The record profile this chapter reads: the paper profile's records (smoke: its own)."""
    return "smoke" if ctx.profile == "smoke" else "paper"


def grid(ctx: Context):
    from lbgap.studies import tuned_lr

    return ctx.memo("tlr-grid", lambda: tuned_lr.grid_table(ctx.results_dir, _profile(ctx)))


def final(ctx: Context):
    from lbgap.studies import tuned_lr

    return ctx.memo("tlr-final", lambda: tuned_lr.final_table(ctx.results_dir, _profile(ctx)))


def untuned(ctx: Context):
    """Table 2's runs at LR 1e-3 under the paper's caps (tag ``uncapped``), per regime and seed: the untuned gap."""
    from lbgap.studies import tuned_lr

    def load():
        return tuned_lr.final_table(ctx.results_dir, _profile(ctx), chosen={"SB": 1.0, "LB": 1.0})

    return ctx.memo("tlr-untuned", load)


# ------------------------------------------------------------------------------------------- statistics, verdicts
def paired(df, column: str, log: bool = False) -> dict:
    """SB minus LB of ``column`` paired by seed (``log``: the log of LB / SB instead): n, mean, and the 95 %
    t interval (scipy.stats.t); NaN interval for n < 2."""
    import numpy as np
    from scipy import stats

    wide = df.pivot_table(index="seed", columns="regime", values=column).dropna()
    if not {"SB", "LB"} <= set(wide.columns):
        return dict(n=0, mean=math.nan, lo=math.nan, hi=math.nan)
    d = np.log(wide.LB / wide.SB) if log else wide.SB - wide.LB
    n = len(d)
    if n < 2:
        return dict(n=n, mean=float(d.mean()) if n else math.nan, lo=math.nan, hi=math.nan)
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
    return dict(n=n, mean=float(d.mean()), lo=float(d.mean() - half), hi=float(d.mean() + half))


def gap_verdict(s: dict, margin: float) -> str:
    """Rule ``paired-CI-vs-margin`` (shared/notes/evidence.md): with at least MIN_SEEDS paired seeds, "a gap
    remains" when the 95 % interval of SB - LB lies above 0, "LB better" when it lies below 0, "closed" when it
    lies within +-margin (an equivalence test); otherwise "unresolved". ``margin``: SB's seed-to-seed sd of the
    same protocol (the untuned SB runs), fixed before the tuned runs were read."""
    if s["n"] < MIN_SEEDS or not math.isfinite(s["lo"]):
        return "unresolved"
    if s["lo"] > 0:
        return "a gap remains"
    if s["hi"] < 0:
        return "LB better"
    if -margin <= s["lo"] and s["hi"] <= margin:
        return "closed"
    return "unresolved"


def sharper_verdict(s: dict) -> str:
    """Rule ``paired-log-ratio-CI``: "LB sharper" when the 95 % interval of log(LB / SB) lies above 0, "LB flatter"
    below 0, otherwise (or with fewer than MIN_SEEDS pairs) "unresolved"."""
    if s["n"] < MIN_SEEDS or not math.isfinite(s["lo"]):
        return "unresolved"
    return "LB sharper" if s["lo"] > 0 else "LB flatter" if s["hi"] < 0 else "unresolved"


def margin(ctx: Context) -> float:
    """SB's seed-to-seed sd of test accuracy (points) in the untuned runs: the margin of :func:`gap_verdict`."""
    u = untuned(ctx)
    sb = u[u.regime == "SB"].test_acc
    return float(sb.std(ddof=1)) if len(sb) > 1 else math.nan


def _ci(s: dict, fmt: str = "{:+.2f}") -> str:
    if s["n"] == 0:
        return "no paired seeds"
    if not math.isfinite(s["lo"]):
        return f"{fmt.format(s['mean'])} (n = {s['n']}, no interval)"
    return f"{fmt.format(s['mean'])} (n = {s['n']}, 95 % CI {fmt.format(s['lo'])} to {fmt.format(s['hi'])})"


def claims(ctx: Context) -> list[dict]:
    """The chapter's claims from the records: the LR selected per batch size, the gap at the tuned LRs, the
    untuned gap, and whether phi (Metric 2.1) still separates SB from LB at the tuned LRs. Each: text, verdict,
    n, interval, rule."""
    from lbgap.studies import tuned_lr

    g, f, u, m = grid(ctx), final(ctx), untuned(ctx), margin(ctx)
    out = []
    chosen = tuned_lr.selection(g) if len(g) else {}
    for regime in ("SB", "LB"):
        tried = g[g.regime == regime]
        if not len(tried):
            out.append(dict(text=f"{regime}: no grid run yet (`lbgap sweep tuned-lr --stage grid`)",
                            verdict="not run", n=0, rule="best-validation-accuracy"))
            continue
        want = len(tuned_lr.MULTIPLIERS[regime])
        edge = tuned_lr.extension(tried)
        state = ("selected" if len(tried) >= want and not edge else
                 f"provisional ({len(tried)} of {want} grid points" + (", best at an edge" if edge else "") + ")")
        best = tried[tried.multiplier == chosen[regime]].iloc[0]
        out.append(dict(text=f"{regime} (B = {int(best.batch_size):,}): LR × {chosen[regime]:g} = {best.lr:g}, validation "
                             f"accuracy {best.val_acc:.2f} % — {state}", verdict=state.split(" ")[0], n=len(tried),
                        rule="best-validation-accuracy"))
    tuned = paired(f, "test_acc")
    plain = paired(u, "test_acc")
    for name, s in (("tuned LRs", tuned), ("LR 10⁻³ for both (Table 2)", plain)):
        v = gap_verdict(s, m)
        out.append(dict(text=f"SB − LB at the {name}: {_ci(s)}" + (" points" if s["n"] else "") + f" — {v} (margin ±{num(m, '{:.2f}')} pt, SB's "
                             "seed-to-seed sd)", verdict=v, n=s["n"], interval=(s["lo"], s["hi"]),
                        rule="paired-CI-vs-margin"))
    sharp = paired(f.dropna(subset=["phi"]), "phi", log=True)
    v = sharper_verdict(sharp)
    ratio = {k: math.exp(sharp[k]) if math.isfinite(sharp[k]) else math.nan for k in ("mean", "lo", "hi")}
    ci = (f"geometric mean LB / SB {sig(ratio['mean'])} (n = {sharp['n']}"
          + (f", 95 % CI {sig(ratio['lo'])} to {sig(ratio['hi'])})" if math.isfinite(ratio["lo"]) else ")"))
    out.append(dict(text="φ (Metric 2.1, ε = 10⁻³, full space, summed loss) at the tuned LRs: "
                         + (ci if sharp["n"] else "not measured yet") + f" — {v}", verdict=v, n=sharp["n"],
                    interval=(ratio["lo"], ratio["hi"]), rule="paired-log-ratio-CI"))
    return out


def show_verdicts(ctx: Context) -> None:
    verdict_lines([c["text"] for c in claims(ctx)])


# ------------------------------------------------------------------------------------------- tables and figures
def show_grid(ctx: Context) -> None:
    """The selection grid, one row per (batch size, LR): validation accuracy and loss, epochs, stop reason, warm-up,
    wall time, threads and host load at the start."""
    import pandas as pd

    g = grid(ctx)
    if not len(g):
        verdict_lines(["No grid run in these records yet."])
        return
    rows = [{"batch": f"{int(r.batch_size):,}", "LR × 10⁻³": f"{r.multiplier:g}",
             "warm-up, epochs": f"{r.warmup_epochs:g}" if r.warmup_epochs else "—",
             "validation acc. %": f"{r.val_acc:.2f}", "validation loss": f"{r.val_loss:.4f}",
             "epochs": int(r.epochs), "stopped by": "plateau" if r.stop_reason == "plateau" else "cap",
             "wall, min": f"{r.wall_s / 60:.0f}", "threads": num(r.threads, "{:.0f}"),
             "load at start": num(r.host_load_start, "{:.1f}")} for r in g.itertuples()]
    show(pd.DataFrame(rows), "Run set <i>F1 tuned-LR grid</i>: paper protocol (Adam, plateau rule, caps SB 100 / LB 300 "
         "epochs), trained on 55,000 MNIST images, validated on the fixed 5,000-image hold-out, seed 0, float32 on a "
         "CPU. Load: the host's 1-minute load average when the run started.", "tlr-grid")


def figure_curves(ctx: Context):
    """Validation accuracy against the LR multiplier, one line per batch size, the selected point circled."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from lbgap.studies import tuned_lr

    g = grid(ctx)
    chosen = tuned_lr.selection(g)
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    for regime, d in g.groupby("regime", sort=False):
        d = d.sort_values("multiplier")
        ax.plot(d.multiplier, d.val_acc, marker="o", label=f"{regime} (B = {int(d.batch_size.iloc[0]):,})")
        best = d[d.multiplier == chosen[regime]]
        ax.scatter(best.multiplier, best.val_acc, s=220, facecolors="none", edgecolors="black", zorder=5)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("learning rate ÷ 10⁻³ (Adam)")
    ax.set_ylabel("validation accuracy, %")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("F1: validation accuracy against the learning rate")
    fig.tight_layout()
    return fig


def reading_curves(ctx: Context) -> str:
    """One line under the LR curves, from the grid: each batch size's best LR and the spread of its curve."""
    from lbgap.studies import tuned_lr

    g, parts = grid(ctx), []
    for regime, d in g.groupby("regime", sort=False):
        best = tuned_lr.selection(d)[regime]
        parts.append(f"{regime} peaks at LR × {best:g} ({d.val_acc.max():.2f} %; its {len(d)} points span "
                     f"{d.val_acc.max() - d.val_acc.min():.2f} points)")
    return "Figure 1. " + "; ".join(parts) + "."


def show_curves(ctx: Context) -> None:
    if not len(grid(ctx)):
        return
    show_figure(figure_curves(ctx))
    verdict_lines([reading_curves(ctx)])


def show_final(ctx: Context) -> None:
    """Per seed, SB and LB at the tuned LRs and at LR 1e-3: test accuracy, epochs, |x - x0|, phi, lambda_max."""
    import pandas as pd

    rows = []
    for name, df in (("tuned", final(ctx)), ("LR 10⁻³", untuned(ctx))):
        for r in df.itertuples():
            rows.append({"LR": name, "regime": r.regime, "seed": r.seed, "LR × 10⁻³": f"{r.multiplier:g}",
                         "test acc. %": f"{r.test_acc:.2f}", "epochs": r.epochs, "‖x − x₀‖": sig(r.dist_from_init),
                         "φ": sig(r.phi), "λ_max": sig(r.hessian_top)})
    if not any(row["LR"] == "tuned" for row in rows):
        verdict_lines(["No run at the tuned learning rates on the official split yet (`lbgap sweep tuned-lr --stage "
                       "final`); the untuned runs are listed for reference."])
    if rows:
        show(pd.DataFrame(rows), "Run sets <i>F1 tuned-LR final</i> (official 60,000/10,000 split, seeds 0–4, float32, "
             "CPU) and <i>F1 Table 2: paper protocol, uncapped</i> (LR 10⁻³). φ: Metric 2.1, ε = 10⁻³, full space, "
             "summed loss; λ_max: the Hessian's top eigenvalue; “—”: not measured.", "tlr-final")
