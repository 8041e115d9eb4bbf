"""The follow-ups chapter: is it the batch size or the number of updates? LR scaling with warm-up (Goyal et al.
2017), ghost batch normalisation and SB's number of updates (Hoffer et al. 2017), SAM (Foret et al. 2021) on the
Table 2 networks (``studies.followups``): accuracy, gap to SB, updates, examples, time and sharpness per arm."""
from __future__ import annotations

from lbgap.book.context import Context, shown_seeds
from lbgap.book.style import dropdown, fold_constant, machine_words, pm_over, show, show_figure, sig, verdict_lines
from lbgap.book import claims

SMOKE_ARMS = ("sb", "lb", "lr-linear", "ghost", "sam-0.05")
NETS = ("F1", "C1")               # the chapter's networks: F1 under the paper profile, C1 at the quick budget
RUN_SET = {"F1": "F1-gpu-bf16"}   # the chapter's run set per network (lbgap.book.run_sets)
CPU_RUN_SET = {"F1": "F1-cpu-fu"}  # the CPU float32 replicate's (its SB and LB: Table 2's own runs)
SAM_SELECTION_SET = {"F1": "F1-sam-val"}   # the runs that choose SAM's radius on the validation split


def run_set_of(net: str, replicate: str = "") -> str | None:
    """The run set of ``net``'s follow-up runs of ``replicate`` ("" the GPU bf16 set, "cpu"), None if unnamed."""
    return (CPU_RUN_SET if replicate == "cpu" else RUN_SET).get(net)


def compute(ctx: Context) -> None:
    from lbgap.studies import followups

    if ctx.profile == "smoke":   # synthetic data: five arms, f and the Hessian on 64 examples
        followups.run("F1", seeds=shown_seeds(ctx), profile="smoke", arms=SMOKE_ARMS, results_dir=ctx.results_dir,
                      train_examples=64, hessian_examples=64)
        return
    for net in [n for n in ctx.nets if n in NETS]:
        followups.run(net, seeds=ctx.seeds, profile=ctx.profile, results_dir=ctx.results_dir, device=ctx.device)


def runs(ctx: Context, replicate: str = ""):
    """The arm runs of ``replicate`` ("" the GPU bf16 set; "cpu" the float32 CPU replicate with Table 2's SB and LB)."""
    from functools import partial

    from lbgap.studies import followups

    return ctx.study_table(f"followups{replicate}", partial(followups.runs_table, replicate=replicate))


def summary(ctx: Context, replicate: str = ""):
    from lbgap.studies import followups

    return ctx.memo(f"followups-summary{replicate}", lambda: followups.summary(runs(ctx, replicate)))


def _gaps(df):
    """Per run: the gap to the SB run of the same (network, profile, seed), in points (NaN where SB is missing)."""
    sb = df[df.arm == "sb"].set_index(["net", "profile", "seed"]).test_acc
    key = list(zip(df.net, df.profile, df.seed))
    return df.assign(gap=[sb.get(k, float("nan")) - a for k, a in zip(key, df.test_acc)])


def eigen_note(ctx: Context, net: str, replicate: str = "") -> str:
    """How the λ_max of ``net``'s follow-up runs of ``replicate`` were computed (:func:`lbgap.book.claims.eigen_label`):
    each method with its count, and which runs stopped at the power iteration's cap unconverged."""
    from collections import Counter

    from lbgap.book import claims

    df = runs(ctx, replicate)
    if not {"run_id", "hessian_top"} <= set(df.columns):
        return "λ_max: no Hessian entries"
    df = df[(df.net == net) & df.hessian_top.notna()]
    methods = claims.eigen_methods(ctx, list(df.run_id))
    if not methods:
        return "λ_max: no Hessian entries"
    counts = Counter(f"{m}, not converged" if cap else m for m, cap in methods.values())
    capped = [f"{r.arm} seed {r.seed}" for r in df.itertuples() if methods.get(r.run_id, ("", False))[1]]
    return ("λ_max by " + "; ".join(f"{w} ({n} of {len(methods)})" for w, n in counts.most_common())
            + (f"; stopped at the {claims.power_iteration_cap()}-iteration cap: {', '.join(capped)}" if capped else ""))


def show_table(ctx: Context, replicate: str = "") -> None:
    """Per network, one row per arm of ``replicate``: seeds, test accuracy, gap to SB (paired by seed), median
    updates, examples seen and training seconds, median φ and Hessian top eigenvalue."""
    df = runs(ctx, replicate)
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

        from lbgap.book import run_sets

        key = run_set_of(net, replicate)
        where = run_sets.label(key, sorted(g.seed.unique())) if key else run_sets.describe("followups", g)
        shared = "" if replicate == "cpu" else " shared by up to 12 runs"
        show(pd.DataFrame(rows),
             f"{where}: mean ± sd over seeds; gap = SB − arm of the same seed; updates, examples, "
             f"seconds in training steps (one {g.device.iloc[0].replace(' 1 threads)', ' 1 thread)')}{shared}), φ (ε = 10⁻³, full space, "
             f"summed loss) and λ_max (Hessian's top eigenvalue): medians; {eigen_note(ctx, net, replicate)}",
             f"followups-{net}{replicate}", wrap=("arm",))


def sam_selection(ctx: Context, net: str):
    """The radius-selection runs of ``net`` (``studies.followups.sam_validation_table``: one per radius, seed 0, on
    the hold-out split) of the first record profile that has them, with ``selected`` marking the radius chosen
    (``select_sam_rho``: best validation accuracy, once every radius has its run) and ``profile``."""
    from lbgap.studies import followups as fu

    for prof in ctx.record_profiles:
        t = fu.sam_validation_table(net, ctx.results_dir, prof)
        if len(t):
            rho = fu.select_sam_rho(net, ctx.results_dir, prof)
            return t.assign(selected=t.rho == rho, profile=prof)
    return None


def show_sam_selection(ctx: Context) -> None:
    """Per network, SAM's radius-selection runs: validation accuracy and loss per radius, the radius chosen."""
    import pandas as pd

    from lbgap.book import run_sets
    from lbgap.studies.followups import SAM_RHOS

    for net in [n for n in SAM_SELECTION_SET if n in ctx.nets]:
        t = sam_selection(ctx, net)
        if t is None:
            verdict_lines([f"**{net}**: no radius-selection run yet (`lbgap sweep followups --net {net} --arms "
                           "sam-selected --replicate cpu --device cpu`)."])
            continue
        rows = [{"ρ": f"{r.rho:g}", "validation acc. %": f"{r.val_acc:.2f}", "validation loss": f"{r.val_loss:.3g}",
                 "epochs": r.epochs, "chosen": "✓" if r.selected else ""} for r in t.itertuples()]
        missing = [f"{x:g}" for x in SAM_RHOS if x not in set(t.rho)]
        chosen = t.rho[t.selected]
        edge = "" if chosen.empty or min(SAM_RHOS) < chosen.iloc[0] < max(SAM_RHOS) else (
            f"; the chosen ρ = {chosen.iloc[0]:g} is at an edge of the grid, so a radius beyond it was not tried and "
            "might validate better")
        show(pd.DataFrame(rows),
             f"SAM's radius for {net}, chosen on validation accuracy (ties: lower loss), never on test accuracy"
             + (f"; still to run: ρ = {', '.join(missing)}, so none is chosen yet" if missing else "") + edge
             + f" — runs: {run_sets.label(SAM_SELECTION_SET[net])}", f"followups-sam-selection-{net}")


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
    from lbgap.book import run_sets

    where = "; ".join(run_sets.label(RUN_SET[net], sorted(g.seed.unique())) if net in RUN_SET
                      else run_sets.describe("followups", g) for net, g in runs(ctx).groupby("net", sort=False))
    show_figure(figure_gap_vs_sharpness(ctx), "Gap to SB against the sharpness (top) and the Hessian's top "
                f"eigenvalue (bottom; {'; '.join(eigen_note(ctx, n) for n in runs(ctx).net.unique())}), one point per "
                f"run of each remedy — runs: {where}",
                reading)


SELECTED_AFTER = ("sam-",)   # arms whose setting (SAM's radius) was picked on test accuracy, not on a validation split


def readings(ctx: Context, replicate: str = "") -> list[str]:
    """Verdicts from the records (:mod:`lbgap.book.claims`): per arm, SB − arm and arm − LB paired by seed with
    their 95 % intervals and the rule's word; whether sharpness moves with accuracy (Spearman over the LB-side
    runs, leaving each arm out and over the arm medians); same examples against same updates."""
    from lbgap.book import claims, run_sets
    from lbgap.studies.followups import ARMS

    s, df = summary(ctx, replicate), runs(ctx, replicate)
    if s.empty:
        return []
    lines = []
    for net, g in s.groupby("net", sort=False):
        base = g.set_index("arm")
        verdicts = followup_arms(ctx, net, replicate)
        key = run_set_of(net, replicate)
        if key:
            d = df[df.net == net]
            sb = claims.by_seed(d[d.arm == "sb"], "test_acc")
            relation = ("its SB and LB are the runs of " + run_sets.get("F1-table2").name if replicate == "cpu" else
                        "a variant of " + run_sets.get("F1-table2").name + ": other device and precision")
            lines.append(f"**{net}: run set {run_sets.label(key, sorted(d.seed.unique()))}** — {relation}. δ, the "
                         "smallest gap worth "
                         f"naming, is SB's seed sd in this run set: {claims.margin(sb.values()).value:.2f} pt "
                         f"(n = {len(sb)}); {len(verdicts)} arms are compared with SB and LB, each by its own paired "
                         "interval (no correction for the number of arms).")
        for _, r in g[~g.arm.isin(["sb", "lb"])].iterrows():
            c = verdicts.get(r.arm)
            if c is None or c.numbers["vs_sb"].n == 0:
                continue
            vs_sb, vs_lb = c.numbers["vs_sb"], c.numbers["vs_lb"]
            claim = ARMS[r.arm].get("claim")
            a = df[(df.net == net) & (df.arm == r.arm)]
            lbr = df[(df.net == net) & (df.arm == "lb")]
            flat = claims.sharper(claims.by_seed(a, "phi"), claims.by_seed(lbr, "phi"))
            flat_words = claims.phrase(flat, "arm over LB")
            words = (f"**{net}, {r.label}** ({r.source}{': ' + claim if claim else ''}). Ours: "
                     f"**{claims.phrase(c)}** — arm − SB {vs_sb.interval_words()}, mean {stats_signed(vs_sb.value)} "
                     f"pt; arm − LB {vs_lb.interval_words()}, mean {stats_signed(vs_lb.value)} pt, above plain LB on "
                     f"{c.numbers['above_lb']} of {c.numbers['shared_lb']} shared seeds. Median φ {sig(r.phi)}, "
                     f"{flat_words} ({sig(base.phi.get('lb', float('nan')))}; ratio of means arm / LB "
                     f"{claims.ratio_words(flat)}); {r.examples / 1e6:.1f} M examples in {sig(r.steps)} updates "
                     f"(SB: {base.examples.get('sb', float('nan')) / 1e6:.1f} M in {sig(base.steps.get('sb', float('nan')))}).")
            if r.arm.startswith(SELECTED_AFTER):
                words += (" The radius was chosen on the validation split (the table above)." if replicate else
                          " The radius was chosen after seeing test accuracy, not on a validation split.")
            lines.append(words)
        for col, what, how in (("phi", "φ", ""), ("hessian_top", "λ_max", f" {eigen_note(ctx, net, replicate)}.")):
            c = followup_correlation(ctx, net, col, replicate)
            if c is None:
                continue
            e, lo, med = c.estimate, c.numbers["leave_out"], c.numbers["medians"]
            rng = [x.value for x in lo.values() if x.value == x.value]
            lines.append(
                f"**{net}, does {what} move with accuracy?** Spearman's ρ over the {e.n} large-batch runs of every "
                f"arm: {stats_signed(e.value)} (p = {e.p:.2g}); leaving out one arm at a time, ρ from "
                f"{stats_signed(min(rng))} to {stats_signed(max(rng))}"
                + (f", p ≥ 0.05 without any one of: {'; '.join(ARMS[a]['label'] for a in c.numbers['carriers'])}"
                   if c.numbers["carriers"] else "")
                + f"; over the {med.n} arm medians {stats_signed(med.value)} (p = {med.p:.2g}). Verdict: "
                + {"resolved": "a correlation that survives leaving any arm out",
                   "not robust": "not robust (leaving out one arm loses it)",
                   "no correlation resolved": "no correlation resolved"}[c.verdict]
                + ". The runs share seeds and x0, so they are not independent points; Keskar et al.'s claim "
                "predicts a clearly negative correlation (sharper, worse)." + how)
        ex = examples_vs_updates(ctx, net) if not replicate else cost_line(ctx, net, replicate)
        if ex:
            lines.append(ex)
    return lines


def cost_line(ctx: Context, net: str, replicate: str) -> str:
    """What ``replicate``'s own runs of ``net`` cost in core-hours, per part (``studies.followups.cpu_time``); its
    SB and LB are Table 2's runs, counted there. "" without runs of its own."""
    from lbgap.studies import followups as fu

    c = fu.cpu_time(net, ctx.results_dir, ctx.record_profiles[0], replicate)
    p = c["parts"]
    if not p["train"]["records"]:
        return ""
    return (f"**{net}, cost, from the records:** {p['train']['records']} arm runs, {p['train']['core_h']:.1f} "
            f"core-hours of training and {p['sharpness']['core_h']:.1f} of φ and λ_max; "
            + (f"SAM's radius selection {p['selection']['records']} runs, {p['selection']['core_h']:.1f} core-hours; "
               if p["selection"]["records"] else "")
            + f"on {machine_words(c)} (SB and LB are Table 2's runs, not counted here).")


def stats_signed(v: float) -> str:
    from lbgap.book.stats import signed

    return signed(v)


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


def show_readings(ctx: Context, replicate: str = "") -> None:
    lines = readings(ctx, replicate)
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
    from lbgap.book import run_sets

    where = "; ".join(run_sets.label(RUN_SET[net], sorted(g.seed.unique())) if net in RUN_SET
                      else run_sets.describe("followups", g) for net, g in df.groupby("net", sort=False))
    notes = "; ".join(eigen_note(ctx, n) for n in df.net.unique())
    return dropdown(t, f"Every run ({len(t)}; {same}; hessian_top: {notes}) — runs: {where}", "followups-runs")


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
    """The front page's sentence on the follow-ups ("" without the records it needs): plain LB and each named
    arm of F1's GPU run set, SB − arm paired by seed with n and the 95 % interval, the verdict word of
    :func:`lbgap.book.claims.arm_vs_baselines`, and the updates and examples behind Hoffer's arm."""
    from lbgap.book import claims, run_sets

    k, v = key_numbers(ctx), followup_arms(ctx, "F1")
    if not {"sb", "lb"} <= set(k):
        return ""
    d = runs(ctx)[runs(ctx).net == "F1"]
    lb = claims.effect(claims.by_seed(d[d.arm == "sb"], "test_acc"), claims.by_seed(d[d.arm == "lb"], "test_acc"),
                       "F1 GPU gap", up="SB ahead", down="LB ahead")
    words = (f"**Follow-ups after Keskar, on the {run_sets.get('F1-gpu-bf16').name} (a variant of Table 2's "
             f"float32 CPU runs).** Gap SB − plain LB: {lb.words()}")

    def arm(name, what):
        c = v[name]
        return (f"; {what}: {claims.phrase(c)}, arm − SB "
                f"{stats_signed(c.numbers['vs_sb'].value)} pt ({c.numbers['vs_sb'].interval_words()})")

    if "hoffer" in v:
        h = k["hoffer"]
        words += arm("hoffer", "with SB's number of updates, LR × √k and ghost batches (all of Hoffer et al.)")
        words += (f", after {sig(h['steps'])} updates and {h['examples'] / 1e6:.1f} M examples against SB's "
                  f"{sig(k['sb']['steps'])} and {k['sb']['examples'] / 1e6:.1f} M")
    if "lr-linear" in v:
        words += arm("lr-linear", "the linearly scaled LR with warm-up (Goyal et al.)")
        words += f", in {sig(k['lr-linear']['steps'])} updates"
    sam = [a for a in v if a.startswith("sam-")]
    if sam:
        best = min(sam, key=lambda a: k[a]["gap"])
        c = v[best]
        words += arm(best, f"SAM at the radius with the best test accuracy ({k[best]['label'].split('SAM ')[-1]}, "
                           "chosen after the fact)")
        words += f", above plain LB on {c.numbers['above_lb']} of {c.numbers['shared_lb']} shared seeds"
    return (words + " (the follow-ups chapter has every arm, its sharpness and the runs still missing)."
            + cpu_answer_words(ctx))


FLAT_WORDS = {"LB flatter": "flatter", "LB sharper": "sharper"}   # claims.sharper's verdict, arm over plain LB


def cpu_answer_words(ctx: Context, net: str = "F1") -> str:
    """The front page's words on the CPU float32 replicate ("" without its runs): each arm's verdict against SB
    and plain LB (:func:`followup_arms`), its n and the interval of arm − SB, and whether its φ is flatter than
    plain LB's (``claims.sharper``)."""
    from lbgap.book import run_sets
    from lbgap.studies.followups import ARMS

    v = followup_arms(ctx, net, "cpu")
    if not v:
        return ""
    d = runs(ctx, "cpu")
    d = d[d.net == net]
    lb_phi = claims.by_seed(d[d.arm == "lb"], "phi")
    bits = []
    for name, c in v.items():
        flat = claims.sharper(claims.by_seed(d[d.arm == name], "phi"), lb_phi)
        bits.append(f"{ARMS[name]['label']}: {claims.phrase(c)} (arm − SB {c.numbers['vs_sb'].interval_words()}; "
                    f"φ against plain LB's: {FLAT_WORDS.get(flat.verdict, 'unresolved')})")
    return f" **Again in float32 on a CPU ({run_sets.short(CPU_RUN_SET[net])}):** " + "; ".join(bits) + "."


def followup_arms(ctx, net: str = "F1", replicate: str = "") -> dict:
    """Per follow-up arm of ``net`` in ``replicate`` (default the GPU bf16 set): :func:`arm_vs_baselines` against
    SB and plain LB of the same run set, δ from that set's SB seeds. {arm: Claim}; {} without SB and LB runs."""
    from lbgap.book import followups

    df = followups.runs(ctx, replicate)
    df = df[df.net == net].assign(acc=lambda d: d.test_acc)
    if not {"sb", "lb"} <= set(df.arm):
        return {}
    sb, lb = claims.by_seed(df[df.arm == "sb"], "acc"), claims.by_seed(df[df.arm == "lb"], "acc")
    delta = claims.margin(sb.values()).value
    return {arm: claims.arm_vs_baselines(claims.by_seed(g, "acc"), sb, lb, delta, name=f"{net} {arm}")
            for arm, g in df.groupby("arm", sort=False) if arm not in ("sb", "lb")}


def followup_correlation(ctx, net: str = "F1", col: str = "phi", replicate: str = "") -> claims.Claim | None:
    """Spearman's ρ of ``col`` (φ or λ_max) with test accuracy over the large-batch runs of every follow-up arm of
    ``replicate``, with each arm left out and over the arm medians (:func:`correlation`)."""
    from lbgap.book import followups

    df = followups.runs(ctx, replicate)
    side = df[(df.net == net) & (df.arm != "sb")].dropna(subset=[col, "test_acc"])
    if len(side) < 4:
        return None
    return claims.correlation(side[col], side.test_acc, side.arm, name=f"{net} {col} vs accuracy")
