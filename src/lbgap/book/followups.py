"""The follow-ups chapter: is it the batch size or the number of updates? LR scaling with warm-up (Goyal et al.
2017), ghost batch normalisation and SB's number of updates (Hoffer et al. 2017), SAM (Foret et al. 2021) on the
Table 2 networks (``studies.followups``): accuracy, gap to SB, updates, examples, time and sharpness per arm."""
from __future__ import annotations

from lbgap.book.context import Context, shown_seeds
from lbgap.book.style import dropdown, fold_constant, pm_over, show, show_figure, sig, verdict_lines

SMOKE_ARMS = ("sb", "lb", "lr-linear", "ghost", "sam-0.05")
NETS = ("F1", "C1")               # the chapter's networks: F1 under the paper profile, C1 at the quick budget
CLOSED_PP = 0.1                   # a gap to SB within this many points (SB's own seed-to-seed sd on F1) is closed


def compute(ctx: Context) -> None:
    from lbgap.studies import followups

    if ctx.profile == "smoke":   # synthetic data: five arms, f and the Hessian on 64 examples
        followups.run("F1", seeds=shown_seeds(ctx), profile="smoke", arms=SMOKE_ARMS, results_dir=ctx.results_dir,
                      train_examples=64, hessian_examples=64, log=lambda s: None)
        return
    for net in [n for n in ctx.nets if n in NETS]:
        followups.run(net, seeds=ctx.seeds, profile=ctx.profile, results_dir=ctx.results_dir, device=ctx.device)


def runs(ctx: Context):
    from lbgap.studies import followups

    return ctx.study_table("followups", followups.runs_table)


def summary(ctx: Context):
    from lbgap.studies import followups

    return ctx.memo("followups-summary", lambda: followups.summary(runs(ctx)))


def _gaps(df):
    """Per run: the gap to the SB run of the same (network, profile, seed), in points (NaN where SB is missing)."""
    sb = df[df.arm == "sb"].set_index(["net", "profile", "seed"]).test_acc
    key = list(zip(df.net, df.profile, df.seed))
    return df.assign(gap=[sb.get(k, float("nan")) - a for k, a in zip(key, df.test_acc)])


def show_table(ctx: Context) -> None:
    """Per network, one row per arm: seeds, test accuracy, gap to SB (paired by seed), median updates, examples
    seen and training seconds, median φ and Hessian top eigenvalue."""
    df = runs(ctx)
    if df.empty:
        verdict_lines(["No follow-up runs in these records (`lbgap sweep followups`; see *What is missing*)."])
        return
    df = _gaps(df)
    for net, g in df.groupby("net", sort=False):
        rows = []
        for arm, a in g.groupby("arm", sort=False):
            from lbgap.studies.followups import ARMS

            rows.append({"arm": ARMS[arm]["label"], "n": len(a), "test acc. %": pm_over(a.test_acc, "{:.2f}"),
                         "gap to SB, pt": pm_over(a.gap, "{:+.2f}") if arm != "sb" else "—",
                         "updates": sig(a.steps.median()), "examples (M)": f"{a.examples.median() / 1e6:.1f}",
                         "train s": f"{a.train_time_s.median():.0f}", "φ": sig(a.phi.median()),
                         "λ_max": sig(a.hessian_top.median())})
        import pandas as pd

        prof = "/".join(sorted(g.profile.unique()))
        show(pd.DataFrame(rows),
             f"{net} ({prof} profile): mean ± sd over seeds; gap = SB − arm of the same seed; updates, examples, "
             f"seconds in training steps (one {g.device.iloc[0]} shared by up to 12 runs), φ (ε = 10⁻³, full space, "
             "summed loss) and λ_max (Hessian's top eigenvalue): medians", f"followups-{net}", wrap=("arm",))


def figure_gap_vs_sharpness(ctx: Context):
    """Gap to SB against φ (top) and against λ_max (bottom), one point per run, per arm; log x."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from lbgap.studies.followups import ARMS

    df = _gaps(runs(ctx))
    df = df[df.arm != "sb"].assign(label=lambda d: d.arm.map(lambda a: ARMS[a]["label"]))
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 8.6))
    order = [ARMS[a]["label"] for a in ARMS if a in set(df.arm)]
    for ax, col, name in ((axes[0], "phi", "φ at ε = 10⁻³ (full space, summed loss)"),
                          (axes[1], "hessian_top", "Hessian top eigenvalue λ_max")):
        sns.scatterplot(data=df, x=col, y="gap", hue="label", style="label", hue_order=order, style_order=order,
                        s=70, ax=ax, legend=ax is axes[0])
        ax.set_xscale("log")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel("gap to SB, points")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=10, frameon=False)
    fig.suptitle("Does the accuracy follow the sharpness? (one point per run)")
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


def show_figure_gap(ctx: Context) -> None:
    if runs(ctx).empty:
        return
    from scipy.stats import spearmanr

    d = _gaps(runs(ctx))
    d = d[(d.arm != "sb") & d.phi.notna() & d.gap.notna()]
    reading = (f"over {len(d)} runs, Spearman's ρ of φ with the gap is {spearmanr(d.phi, d.gap).statistic:.2f}; a "
               "sharper run with a larger gap would give ρ near 1." if len(d) >= 3 else None)
    show_figure(figure_gap_vs_sharpness(ctx), "Gap to SB against the sharpness (top) and the Hessian's top "
                "eigenvalue (bottom), one point per run of each remedy.", reading)


def readings(ctx: Context) -> list[str]:
    """Verdicts from the records: per remedy, whether it closes the gap; whether sharpness moves with accuracy
    (Spearman's rank correlation over the LB-side runs); same examples against same updates."""
    from scipy import stats

    from lbgap.studies.followups import ARMS

    s, df = summary(ctx), _gaps(runs(ctx))
    if s.empty:
        return []
    lines = []
    for net, g in s.groupby("net", sort=False):
        base = g.set_index("arm")
        lb_gap = base.gap_mean.get("lb", float("nan"))
        for _, r in g[~g.arm.isin(["sb", "lb"])].iterrows():
            if r.gap_n == 0:
                continue
            if r.gap_mean <= -CLOSED_PP:
                word = "beats SB"
            elif r.gap_mean <= CLOSED_PP:
                word = "closes the gap"
            elif lb_gap == lb_gap and r.gap_mean < lb_gap - CLOSED_PP:
                word = "narrows the gap"
            else:
                word = "does not narrow the gap"
            phi_lb = base.phi.get("lb", float("nan"))
            flat = ("flatter than plain LB" if r.phi < phi_lb / 2 else "as sharp as plain LB" if r.phi < 2 * phi_lb
                    else "sharper than plain LB")
            claim = ARMS[r.arm].get("claim")
            lines.append(f"**{net}, {r.label}** ({r.source}{': ' + claim if claim else ''}). Ours: {word}: gap "
                         f"{r.gap_mean:+.2f} pt against LB's "
                         f"{lb_gap:+.2f} ({r.gap_n} seed{'s' if r.gap_n > 1 else ''}); median φ {sig(r.phi)}, "
                         f"{flat} ({sig(phi_lb)}), SB {sig(base.phi.get('sb', float('nan')))}.")
        side = df[(df.net == net) & (df.arm != "sb")].dropna(subset=["phi", "test_acc"])
        if len(side) >= 4:
            rho, p = stats.spearmanr(side.phi, side.test_acc)
            words = (f"**{net}, does sharpness move with accuracy?** Over the {len(side)} large-batch runs of every "
                     f"arm, Spearman's rank correlation of φ with test accuracy is {rho:+.2f} (p = {p:.2g})")
            h = side.dropna(subset=["hessian_top"])
            if h.hessian_top.nunique() > 1:
                rho_h, p_h = stats.spearmanr(h.hessian_top, h.test_acc)
                words += f"; of λ_max with test accuracy {rho_h:+.2f} (p = {p_h:.2g})"
            lines.append(words + ". Keskar et al.'s claim predicts a clearly negative correlation (sharper, worse).")
        ex = examples_vs_updates(ctx, net)
        if ex:
            lines.append(ex)
    return lines


def examples_vs_updates(ctx: Context, net: str) -> str:
    """"Same examples" vs "same updates" in one sentence of medians: SB, plain LB, the LR-scaled LB (about SB's
    examples) and LB with SB's updates (regime adaptation, alone or with all of Hoffer's changes)."""
    s = summary(ctx)
    g = s[s.net == net].set_index("arm")
    if not {"sb", "lb"} <= set(g.index):
        return ""

    def part(arm, what):
        r = g.loc[arm]
        return (f"{what} {r.acc_mean:.2f} % after {sig(r.steps)} updates and {r.examples / 1e6:.1f} M examples "
                f"({int(r.n)} seed{'s' if r.n > 1 else ''})")

    bits = [part("sb", "SB"), part("lb", "plain LB")]
    if "lr-linear" in g.index:
        bits.append(part("lr-linear", "LB with LR × k (about SB's examples)"))
    for arm in ("regime", "hoffer"):
        if arm in g.index:
            bits.append(part(arm, "LB with SB's number of updates" + (" and all of Hoffer's changes"
                                                                       if arm == "hoffer" else "")))
    return f"**{net}, same examples or same updates?** " + "; ".join(bits) + "."


def show_readings(ctx: Context) -> None:
    lines = readings(ctx)
    if lines:
        verdict_lines(lines)


def show_runs(ctx: Context):
    """Every run, folded away: seed, arm, LR, accuracy, loss, epochs, updates, seconds, stop reason, φ, λ_max."""
    df = runs(ctx)
    if df.empty:
        return None
    t = df.assign(test_acc=df.test_acc.round(2), train_loss=df.train_loss.map(lambda v: f"{v:.2g}"),
                  lr=df.lr.map(lambda v: f"{v:.3g}"), phi=df.phi.map(sig), hessian_top=df.hessian_top.map(sig),
                  train_time_s=df.train_time_s.round(0).astype(int))
    t = t[["net", "profile", "seed", "arm", "batch_size", "lr", "test_acc", "train_loss", "epochs", "steps",
           "train_time_s", "stop_reason", "phi", "hessian_top", "device"]]
    t, same = fold_constant(t, keep=("arm", "seed"))
    return dropdown(t, f"Every run ({len(t)}; {same})", "followups-runs")


def coverage(ctx: Context) -> list[str]:
    """What the records hold and what is missing, per network of the chapter: the arms with fewer seeds than
    asked for."""
    from lbgap.studies.followups import ARMS

    df = runs(ctx)
    want = shown_seeds(ctx)
    lines = []
    for net in [n for n in NETS if n in ctx.nets]:
        g = df[df.net == net]
        if g.empty:
            lines.append(f"**{net}**: no runs yet.")
            continue
        have = g.groupby("arm").seed.apply(lambda s: sorted(s.unique()))
        short = [f"{a} ({len(have.get(a, []))} of {len(want)})" for a in ARMS if len(have.get(a, [])) < len(want)]
        lines.append(f"**{net}** ({'/'.join(sorted(g.profile.unique()))}): {len(g)} runs on "
                     f"{g.device.iloc[0]}, {g.wall_s.sum() / 60:.0f} min of run time in all (summed over runs that "
                     f"shared the GPU); arms with fewer seeds than the {len(want)} asked for: "
                     + (", ".join(short) if short else "none") + ".")
    return lines


def show_coverage(ctx: Context) -> None:
    verdict_lines(coverage(ctx))


def key_numbers(ctx: Context) -> dict:
    """For the front page: per arm of F1, the summary's gap, seeds, φ, accuracy, updates and examples."""
    s = summary(ctx)
    if s.empty:
        return {}
    g = s[s.net == "F1"].set_index("arm")
    return {arm: dict(gap=r.gap_mean, n=int(r.gap_n), phi=r.phi, acc=r.acc_mean, label=r.label, steps=r.steps,
                      examples=r.examples)
            for arm, r in g.iterrows()}


def answer_line(ctx: Context) -> str:
    """The front page's sentence on the follow-ups ("" without the records it needs)."""
    k = key_numbers(ctx)
    if not {"sb", "lb"} <= set(k):
        return ""
    words = (f"**The large-batch gap is not a fixed price of the batch size.** F1 on a GPU, gap = SB − arm: plain "
             f"LB {k['lb']['gap']:+.2f} points ({k['lb']['n']} seeds)")
    if "hoffer" in k:
        h = k["hoffer"]
        words += (f"; with SB's number of updates, LR × √k and ghost batches (Hoffer et al.) the gap is "
                  f"{h['gap']:+.2f} ({h['n']} seeds, {sig(h['steps'])} updates against SB's {sig(k['sb']['steps'])})")
    if "lr-linear" in k:
        g = k["lr-linear"]
        words += (f"; the linearly scaled LR with warm-up (Goyal et al.), about SB's examples in only "
                  f"{sig(g['steps'])} updates, leaves {g['gap']:+.2f} ({g['n']} seeds)")
    sam = [a for a in k if a.startswith("sam-")]
    if sam:
        best = min(sam, key=lambda a: k[a]["gap"])
        words += f"; SAM's best radius ({k[best]['label'].split('SAM ')[-1]}) leaves {k[best]['gap']:+.2f}"
    return words + " (the follow-ups chapter has their sharpness and the runs still missing)."
