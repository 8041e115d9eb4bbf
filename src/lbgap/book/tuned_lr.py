"""The tuned-learning-rate chapter: is F1's gap still there when the LR is tuned for each batch size on a hold-out
split (``studies.tuned_lr``)? The LR curves (validation accuracy against LR per batch size), the selected LRs, and
SB - LB at the tuned LRs on the official split with its paired 95 % interval beside the untuned Table 2 gap, and
whether the sharpness still separates the two."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.style import machine_words, num, show, show_figure, sig, verdict_lines

SMOKE_SEEDS = (0, 1)
SMOKE_MULTIPLIERS = (1.0, 2.0)   # the smoke grid: two points per batch size, no extension


def compute(ctx: Context) -> None:
    from lbgap.studies import tuned_lr

    if ctx.profile == "smoke":
        tuned_lr.run("grid", profile="smoke", results_dir=ctx.results_dir, multipliers=SMOKE_MULTIPLIERS)
        # two grid points: the best sits at an edge by construction; the smoke run checks the code path
        tuned_lr.run("final", seeds=SMOKE_SEEDS, profile="smoke", results_dir=ctx.results_dir, accept_edge=True)
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


# ------------------------------------------------------------------------------------------- claims
def margin(ctx: Context):
    """δ of the gap rule: SB's seed-to-seed sd of test accuracy (points) in the untuned run set (claims.margin)."""
    from lbgap.book import claims as cl

    u = untuned(ctx)
    return cl.margin(u[u.regime == "SB"].test_acc.tolist())


def gap(df, delta: float, name: str):
    """SB − LB of test accuracy (points) paired by seed in ``df`` (one row per regime and seed), by the rule
    "paired gap vs margin" (claims.gap_closed)."""
    from lbgap.book import claims as cl

    sb, lb = (cl.by_seed(df[df.regime == r], "test_acc") for r in ("SB", "LB"))
    return cl.gap_closed(sb, lb, delta, name)


STOPPED_BY = {"plateau": "the plateau rule", "max_epochs": "the epoch cap"}   # a run's stop reason in words


def gaps(ctx: Context) -> dict:
    """SB − LB at the tuned LRs ("tuned", run set F1 tuned-LR final) and at 10⁻³ for both ("untuned", F1 Table 2),
    each by :func:`gap` with δ = :func:`margin`: the one pair of gap claims the chapter and the front page quote."""
    def make():
        d = margin(ctx).value
        return {"tuned": gap(final(ctx), d, "SB − LB at the tuned LRs"),
                "untuned": gap(untuned(ctx), d, "SB − LB at LR 10⁻³ for both")}

    return ctx.memo("tlr-gaps", make)


def sharpness_ratio(df, name: str = "LB/SB φ at the tuned LRs", column: str = "phi"):
    """``column`` (φ, or λ_max: ``hessian_top``) of LB over that of SB, ratio of means over the seeds with both,
    paired bootstrap (claims.sharper: the one LB/SB ratio every page quotes)."""
    from lbgap.book import claims as cl

    d = df.dropna(subset=[column])
    sb, lb = (cl.by_seed(d[d.regime == r], column) for r in ("SB", "LB"))
    return cl.sharper(lb, sb, name=name)


def selected(ctx: Context) -> dict[str, dict]:
    """Per batch size with grid runs: the selected multiplier (best validation accuracy), its grid row, how many of
    the grid's points ran, and ``complete`` (every point run and the best not at an edge)."""
    from lbgap.studies import tuned_lr

    g, out = grid(ctx), {}
    chosen = tuned_lr.selection(g) if len(g) else {}
    for regime in ("SB", "LB"):
        tried = g[g.regime == regime]
        if not len(tried):
            continue
        want, edge = len(tuned_lr.MULTIPLIERS[regime]), tuned_lr.extension(tried)
        out[regime] = dict(multiplier=chosen[regime], row=tried[tried.multiplier == chosen[regime]].iloc[0],
                           tried=len(tried), want=want, edge=bool(edge), complete=len(tried) >= want and not edge)
    return out


def state_words(s: dict) -> str:
    """A :func:`selected` entry's state in words: "selected", or "provisional: 3 of 5 grid points run[, the best at
    an edge]"."""
    if s["complete"]:
        return "selected"
    return f"provisional: {s['tried']} of {s['want']} grid points run" + (", the best at an edge" if s["edge"] else "")


def selection_lines(ctx: Context) -> list[str]:
    """Per batch size: the LR the grid selected (best validation accuracy) and whether the grid is complete."""
    sel, out = selected(ctx), []
    for regime in ("SB", "LB"):
        if regime not in sel:
            out.append(f"{regime}: no grid run yet (`lbgap sweep tuned-lr --stage grid`).")
            continue
        s = sel[regime]
        best = s["row"]
        out.append(f"{regime} (B = {int(best.batch_size):,}): LR × {s['multiplier']:g} = {best.lr:g}, validation "
                   f"accuracy {best.val_acc:.2f} % ({state_words(s)}; rule: best validation accuracy).")
    return out


def warmup(ctx: Context):
    """The warm-up check's table (``studies.tuned_lr.warmup_table``)."""
    from lbgap.studies import tuned_lr

    return ctx.memo("tlr-warmup", lambda: tuned_lr.warmup_table(ctx.results_dir, _profile(ctx)))


def warmup_lines(ctx: Context) -> list[str]:
    """Does the warm-up matter? Per LB point trained with and without it (seed 0, validation split): both
    validation accuracies and the difference by the rule "paired effect"; while no such pair exists, the command
    for the selected LB point (when the protocol warms it up)."""
    from lbgap.book import claims as cl
    from lbgap.studies import tuned_lr

    w, out = warmup(ctx), []
    for r in w.itertuples():
        c = cl.effect({0: r.val_acc_none}, {0: r.val_acc_warmup}, f"LB x{r.multiplier:g} without − with warm-up",
                      up="higher without the warm-up", down="lower without the warm-up")
        out.append(f"Warm-up, LB × {r.multiplier:g} (validation split, seed 0): {r.val_acc_warmup:.2f} % with "
                   f"the {tuned_lr.WARMUP_EPOCHS:g}-epoch warm-up ({r.epochs_warmup} epochs), {r.val_acc_none:.2f} % "
                   f"without ({r.epochs_none} epochs); without − with: **{c.words()}** (rule: {c.rule}).")
    lb = selected(ctx).get("LB")
    if not out and lb is not None and tuned_lr.warms_up("LB", lb["multiplier"]):
        out.append(f"Warm-up: not checked yet; every LB point at × {tuned_lr.WARMUP_FROM_MULTIPLIER:g} and above "
                   f"warmed up (`lbgap sweep tuned-lr --stage grid --batches LB --multipliers {lb['multiplier']:g} "
                   "--no-warmup` trains the selected one without).")
    return out


def claims(ctx: Context) -> list[str]:
    """The chapter's claims from the records, as sentences picked by their verdicts: the selection, the gap at the
    tuned LRs and at 10⁻³ (rule "paired gap vs margin"), and φ's LB/SB ratio at the tuned LRs."""
    d = margin(ctx)
    lines = selection_lines(ctx) + warmup_lines(ctx)
    for key, what in (("tuned", "at the tuned LRs (run set F1 tuned-LR final)"),
                      ("untuned", "at LR 10⁻³ for both (run set F1 Table 2, uncapped)")):
        c = gaps(ctx)[key]
        lines.append(f"SB − LB {what}: **{c.words()}** (rule: {c.rule}, δ = {d.value:.2f} pt, SB's seed sd)."
                     if c.n else f"SB − LB {what}: no run yet.")
    s = sharpness_ratio(final(ctx))
    if s.n:
        from lbgap.book.claims import ratio_words

        lines.append(f"φ (Metric 2.1, ε = 10⁻³, full space, summed loss), LB / SB at the tuned LRs: "
                     f"{ratio_words(s)} — **{s.verdict}** (rule: {s.rule}).")
        h = sharpness_ratio(final(ctx), "LB/SB λ_max at the tuned LRs", "hessian_top")
        if h.n:
            lines.append(f"λ_max (the Hessian's top eigenvalue, same points), LB / SB: {ratio_words(h)} — "
                         f"**{h.verdict}** (rule: {h.rule})"
                         + ("; φ and λ_max disagree on which minimiser is the sharper." if {h.verdict, s.verdict}
                            == {"LB sharper", "LB flatter"} else "."))
    else:
        lines.append("φ at the tuned LRs: not measured yet (it follows each final run).")
    return lines


def show_verdicts(ctx: Context) -> None:
    verdict_lines(claims(ctx))


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
    from lbgap.book import run_sets

    show(pd.DataFrame(rows), run_sets.caption("The selection grid, one row per batch size and LR. Load: the host's "
                                              "1-minute load average when the run started", "F1-tlr-grid"), "tlr-grid")


def figure_curves(ctx: Context):
    """Validation accuracy against the LR multiplier, one line per batch size, the selected point circled; the warm-up
    check's points (LB without its warm-up) as crosses."""
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
        if regime == "LB" and len(warmup(ctx)):   # the warm-up check: the same LB points without their warm-up
            w = warmup(ctx)
            ax.scatter(w.multiplier, w.val_acc_none, marker="x", s=70, color=ax.lines[-1].get_color(), zorder=6,
                       label="LB without its warm-up")
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
        usual = d.stop_reason.mode().iloc[0]
        odd = d[d.stop_reason != usual]
        if len(odd) and len(d) > 2:
            parts[-1] += ("; " + ", ".join(f"× {r.multiplier:g} stopped on {STOPPED_BY.get(r.stop_reason, r.stop_reason)} "
                                           f"after {r.epochs:.0f} epochs" for r in odd.itertuples())
                          + f", where the other {regime} points stopped on {STOPPED_BY.get(usual, usual)}")
    return "; ".join(parts) + "."


def show_curves(ctx: Context) -> None:
    if not len(grid(ctx)):
        return
    from lbgap.book import run_sets

    crosses = ("; a cross: the same LB point trained without its warm-up (the warm-up check)" if len(warmup(ctx))
               else "")
    show_figure(figure_curves(ctx), run_sets.caption("Validation accuracy against the learning rate, one line per batch "
                                                     "size, the selected point circled" + crosses, "F1-tlr-grid"),
                reading_curves(ctx))


def show_final(ctx: Context) -> None:
    """Per seed, SB and LB at the tuned LRs and at LR 1e-3: test accuracy, epochs, |x - x0|, phi, lambda_max."""
    import pandas as pd

    from lbgap.book import claims as cl
    from lbgap.studies import tuned_lr

    rows = []
    for name, df in (("tuned", final(ctx)), ("LR 10⁻³", untuned(ctx))):
        ids = [tuned_lr.config(r.regime, r.multiplier, r.seed, "final", _profile(ctx)).run_id for r in df.itertuples()]
        method = cl.eigen_labels(ctx, ids)
        for r, rid in zip(df.itertuples(), ids):
            rows.append({"LR": name, "regime": r.regime, "seed": r.seed, "LR × 10⁻³": f"{r.multiplier:g}",
                         "test acc. %": f"{r.test_acc:.2f}", "epochs": r.epochs, "‖x − x₀‖": sig(r.dist_from_init),
                         "φ": sig(r.phi), "λ_max": sig(r.hessian_top),
                         "λ_max method": method.get(rid, "—") if r.hessian_top == r.hessian_top else "—"})
    if not any(row["LR"] == "tuned" for row in rows):
        verdict_lines(["No run at the tuned learning rates on the official split yet (`lbgap sweep tuned-lr --stage "
                       "final`); the untuned runs are listed for reference."])
    if rows:
        from lbgap.book import run_sets

        f, u = final(ctx), untuned(ctx)
        show(pd.DataFrame(rows), "SB and LB per seed at the tuned LRs and at LR 10⁻³. φ: Metric 2.1, ε = 10⁻³, full "
             "space, summed loss; λ_max: the Hessian's top eigenvalue, by the method its column names; “—”: not "
             "measured — runs: " + run_sets.runs(*[(k, sorted(d.seed.unique())) for k, d in
                                                   (("F1-tlr-final", f), ("F1-table2", u)) if len(d)]),
             "tlr-final", wrap=("λ_max method",))
    lines = stop_lines(ctx) + [cost_line(ctx)]
    if any(lines):
        verdict_lines([line for line in lines if line])


def stop_lines(ctx: Context) -> list[str]:
    """Per regime of the final stage: how its runs stopped (plateau rule or epoch cap), with their epochs."""
    out = []
    f = final(ctx)
    for regime in ("SB", "LB"):
        g = f[f.regime == regime]
        if g.empty:
            continue
        parts = [f"{len(h)} of {len(g)} {'at' if why == 'max_epochs' else 'on'} {STOPPED_BY.get(why, why)} (" + ", ".join(
                 f"seed {r.seed}: {r.epochs}" for r in h.itertuples()) + " epochs)"
                 for why, h in g.groupby("stop_reason", sort=True)]
        out.append(f"{regime} at the tuned LR stopped " + "; ".join(parts) + ".")
    return out


def cost_line(ctx: Context) -> str:
    """What the study's records cost in core-hours, per part (``studies.tuned_lr.cpu_time``)."""
    from lbgap.studies import tuned_lr

    c = tuned_lr.cpu_time(ctx.results_dir, _profile(ctx))
    p = c["parts"]
    if not p["grid"]["records"]:
        return ""
    return (f"Cost, from the records: the grid {p['grid']['records']} runs, {p['grid']['core_h']:.1f} core-hours; the "
            f"final stage {p['final']['records']} runs, {p['final']['core_h']:.1f} core-hours of training and "
            f"{p['sharpness']['core_h']:.1f} of φ and λ_max ({p['sharpness']['records']} entries); on "
            f"{machine_words(c)}.")


def answer_line(ctx: Context) -> str:
    """The front page's sentence on the tuned learning rate, picked by the gap's verdict at the tuned LRs; while the
    final runs are missing, what the grid has selected so far. "" without any record of the study."""
    g, f = grid(ctx), final(ctx)
    if not len(g):
        return ""
    picked = ", ".join(f"{r} × {s['multiplier']:g}" + ("" if s["complete"] else f" ({state_words(s)})")
                       for r, s in selected(ctx).items())
    if f.empty or set(f.regime) != {"SB", "LB"}:
        return (f"**Does the gap survive a learning rate tuned per batch size? Not answered yet.** On F1's 5,000-image "
                f"validation split the grid so far selects LR {picked}; the five-seed runs at the selected LRs on the "
                "official split have not run (chapter *Tuned learning rate*).")
    c, u = gaps(ctx)["tuned"], gaps(ctx)["untuned"]
    s = sharpness_ratio(f)
    from lbgap.book import claims

    return (f"**With the learning rate tuned per batch size, {claims.phrase(c)}.** F1, LR selected on a 5,000-image "
            f"validation split ({picked}), official test set: SB − LB paired by seed {c.words()}"
            + (f", against {u.words()} at 10⁻³ for both" if u.n else "")
            + (f"; φ of LB over SB at the tuned LRs {claims.ratio_words(s)}, {s.verdict}" if s.n else "") + ".")
