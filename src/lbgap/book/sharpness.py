"""The sharpness chapter (Section 2.2.2, Tables 3-4, Metric 2.1): ε-sharpness of the SB and LB minimisers in
the full space and a random subspace beside the paper's, seed by seed, with Hessian estimates and the Dinh et
al. (2017) rescaling."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.coverage import print_networks
from lbgap.book.paper import paper_table


def compute(ctx: Context) -> None:
    """smoke: a tiny synthetic F1 pair, one seed (full-space runs cost); paper: every requested pair (a GPU job)."""
    from lbgap.core.models import NETS
    from lbgap.measures import landscape, sharpness

    smoke = ctx.profile == "smoke"
    opts = dict(eps=(1e-3,), p=10, hessian_examples=None, hessian_iters=5, hutchinson_probes=3) if smoke else {}
    run_nets = ["F1"] if smoke else ctx.nets
    for seed in (ctx.seeds[:1] if smoke else ctx.seeds):
        for net in run_nets:
            pair = landscape.ensure_pair(net, seed, ctx.run_profile, ctx.results_dir, ctx.device)
            for cfg in pair:
                sharpness.compute(cfg, ctx.results_dir, device=ctx.device, **opts)
                sharpness.compute(cfg, ctx.results_dir, device=ctx.device, spaces=("full",),
                                  objective="sum", hessian=False, eps=opts.get("eps", sharpness.DEFAULT_EPS))
            if NETS[net].kind == "mlp" and seed == ctx.seeds[0]:   # the rescaled pair is BN -> ReLU -> Linear
                sharpness.dinh_demo(pair[0], ctx.results_dir, eps=1e-3, device=ctx.device)


def entries(ctx: Context):
    """Every sharpness entry the chapter shows (``sharpness.sharpness_table``): per network, its paper records,
    else its quick ones."""
    from lbgap.core import records
    from lbgap.measures import sharpness

    return ctx.memo("sharpness", lambda: sharpness.sharpness_table(
        records=records.preferred_records(ctx.results_dir, ctx.record_profiles, "sharpness")))


def run_set_words(ctx: Context, df=None) -> str:
    """The run sets of the sharpness entries shown (``df``, default :func:`entries`), with their seeds
    (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    return run_sets.describe("sharpness", entries(ctx) if df is None else df)


def compare_with_paper(df, which: int, objective: str = "mean"):
    """Table 3 (``which=3``, full space) or 4 (random subspace): ours (mean ± std over seeds, n) beside the
    paper's, per network and eps, with both LB/SB ratios of the means."""
    import pandas as pd

    from lbgap.measures.sharpness import _prefer_full_set, basis, summary

    if which not in (3, 4):
        raise ValueError("the paper's sharpness tables are 3 (full space) and 4 (random subspace)")
    space = "full" if which == 3 else "random"
    paper = paper_table(which).set_index("network")
    ours = summary(df[df.space == space], objective=objective) if len(df) else pd.DataFrame()
    used = _prefer_full_set(df[(df.space == space) & (df.objective == objective)]) if len(df) else df
    rows = []
    for net in paper.index:
        for e, tag in ((1e-3, "1e-3"), (5e-4, "5e-4")):
            row = {"network": net, "eps": tag}
            hit = ours[(ours.net == net) & (ours.eps == e)] if len(ours) else ours
            for reg in ("SB", "LB"):
                row[f"paper {reg}"] = f"{paper.loc[net, f'{reg.lower()}_eps{tag}_mean']:.2f} ± " \
                                      f"{paper.loc[net, f'{reg.lower()}_eps{tag}_std']:.2f}"
                r = reg.lower()
                if len(hit) and f"mean_{r}" in hit and pd.notna(hit[f"mean_{r}"].iloc[0]):
                    m, sd, n = hit[f"mean_{r}"].iloc[0], hit[f"std_{r}"].iloc[0], int(hit[f"count_{r}"].iloc[0])
                    row[f"ours {reg}"] = f"{m:.3g} ± {sd:.2g} (n={n})" if n > 1 else f"{m:.3g} (n=1)"
                else:
                    row[f"ours {reg}"] = "missing"
            row["paper LB/SB"] = round(paper.loc[net, f"lb_eps{tag}_mean"] / paper.loc[net, f"sb_eps{tag}_mean"], 1)
            row["ours LB/SB"] = (float(f"{float(hit.lb_sb.iloc[0]):.2g}") if len(hit) and "lb_sb" in hit
                                 and pd.notna(hit.lb_sb.iloc[0]) else None)
            row["ours from"] = basis(used[(used.net == net) & (used.eps == e)] if len(used) else used)
            rows.append(row)
    return pd.DataFrame(rows)


def table3(ctx: Context, objective: str = "mean"):
    """Table 3 (full space) with the chapter's entries; ``objective="sum"``: the summed-loss objective."""
    return compare_with_paper(entries(ctx), 3, objective=objective)


def table4(ctx: Context):
    """Table 4 (random 100-dim subspace) with the chapter's entries."""
    return compare_with_paper(entries(ctx), 4)


# :func:`verdicts`' snake_case columns and their display labels (applied only when shown)
VERDICT_LABELS = {"eps": "ε", "ours_lb_sb_ci": "ours LB/SB (95 % CI)", "paper_lb_sb": "paper LB/SB"}


def verdicts(ctx: Context, which: int, objective: str = "mean", name: str | None = None):
    """Per network and ε of Table 3 (``which=3``, full space) or 4 (random subspace): LB/SB as the ratio of the
    means over the seeds both have, its 95 % bootstrap interval over seeds and the verdict of
    :func:`lbgap.book.claims.sharper` ("LB sharper" / "LB flatter" / "unresolved" / "solver stall" where L-BFGS-B
    barely left y = 0), beside the paper's ratio: inside our interval, above it or below it. Columns: table,
    network, n, verdict and those of :data:`VERDICT_LABELS`."""
    import pandas as pd

    from lbgap.book import claims

    cols = ["table", "network", "eps", "n", "ours_lb_sb_ci", "paper_lb_sb", "verdict"]
    df = entries(ctx)
    if not len(df):
        return pd.DataFrame(columns=cols)
    space = "full" if which == 3 else "random"
    df = df[(df.space == space) & (df.objective == objective) & df.run_id.str.match(r".*-s\d+$")]
    paper = paper_table(which).set_index("network")
    rows = []
    for (net, eps), g in df.groupby(["net", "eps"], sort=False):
        lb, sb = (g[g.regime == r].groupby("seed").phi.mean().to_dict() for r in ("LB", "SB"))
        if not lb or not sb or net not in paper.index:
            continue
        bound = g.groupby("seed").at_bound.median().dropna().to_dict() if "at_bound" in g else None
        c = claims.sharper(lb, sb, bound, name=f"{net} φ LB/SB")
        tag = "1e-3" if eps == 1e-3 else "5e-4"
        theirs = paper.loc[net, f"lb_eps{tag}_mean"] / paper.loc[net, f"sb_eps{tag}_mean"]
        lo, hi = c.estimate.ci
        where = ("" if lo != lo or c.verdict == "solver stall" else
                 "; the paper's ratio inside our interval" if lo <= theirs <= hi else
                 "; the paper's ratio above our interval" if theirs > hi else "; the paper's ratio below our interval")
        rows.append({"table": name or str(which), "network": net, "eps": f"{eps:g}", "n": c.n,
                     "ours_lb_sb_ci": claims.ratio_words(c, 2).split(" (n = ")[0] + (
                         f" ({lo:.2g} … {hi:.2g})" if lo == lo else ""),
                     "paper_lb_sb": f"{theirs:.1f}", "verdict": c.verdict + where})
    return pd.DataFrame(rows, columns=cols)


def pair_table(ctx: Context):
    """Seed by seed (SB and LB of one seed share x0 and the data order): in how many (seed, ε) pairs LB is the
    sharper, and the range of LB/SB over the pairs, per network, space and objective."""
    import pandas as pd

    from lbgap.measures import sharpness

    pairs = sharpness.seed_pairs(entries(ctx))
    rows = [{"network": net, "space": space, "objective": obj, "LB sharper in": f"{(g.LB > g.SB).sum()} of {len(g)}",
             "LB/SB per pair": f"{g.ratio.min():.2g} – {g.ratio.max():.2g}"}
            for (net, space, obj), g in (pairs.groupby(["net", "space", "objective"]) if len(pairs) else [])]
    return pd.DataFrame(rows)


def growth_table(ctx: Context):
    """How φ (mean objective) grows when the box doubles, ε 5e-4 → 1e-3 (a quadratic bowl: 4×; a loss that is
    flat, then rises steeply: more)."""
    import pandas as pd

    df = entries(ctx)
    if not len(df):
        return pd.DataFrame()
    m = df[df.objective == "mean"].groupby(["net", "space", "regime", "eps"]).phi.mean().unstack("eps")
    if not {5e-4, 1e-3} <= set(m.columns):
        return pd.DataFrame()
    return pd.DataFrame([{"network": net, "space": space, "regime": regime, "φ at ε=5e-4": f"{r[5e-4]:.3g}",
                          "φ at ε=1e-3": f"{r[1e-3]:.3g}", "growth": f"{r[1e-3] / r[5e-4]:.1f}×"}
                         for (net, space, regime), r in m.iterrows()])


# ------------------------------------------------------------------------------------ what the notebook shows
def show_entries(ctx: Context) -> None:
    df = entries(ctx)
    print(f"{len(df)} sharpness entries from {df.run_id.nunique() if len(df) else 0} trained runs "
          f"({', '.join(sorted(df.net.unique())) if len(df) else 'none'})")


def show_verdicts(ctx: Context) -> None:
    """Tables 3 and 4's verdicts, then seed by seed, then how φ grows when the box doubles."""
    import pandas as pd

    from lbgap.book.style import show

    v = pd.concat([verdicts(ctx, 3), verdicts(ctx, 4)], ignore_index=True)
    if len(v):
        show(v, "Is LB sharper than SB, as in Tables 3 (full space, mean objective) and 4 (random subspace)? LB/SB: "
             "ratio of the means over seeds, 95 % bootstrap interval over seeds; \"solver stall\": L-BFGS-B left "
             f"too few coordinates at the box to measure anything — runs: {run_set_words(ctx)}", "verdicts",
             labels=VERDICT_LABELS)
    pt = pair_table(ctx)
    if len(pt):
        show(pt, "Seed by seed: SB and LB of one seed share x0 and the data order — runs: " + run_set_words(ctx),
             "pairs")
    g = growth_table(ctx)
    if len(g):
        show(g, "φ when the box doubles (mean objective; a quadratic bowl grows 4×) — runs: " + run_set_words(ctx),
             "growth")


def show_summed_objective(ctx: Context) -> None:
    from lbgap.book.style import show

    df = entries(ctx)
    v = verdicts(ctx, 3, objective="sum", name="3, summed")
    if len(v):
        show(v, "Table 3 with the summed objective: is LB sharper? (ratio of the means, 95 % bootstrap interval "
             f"over seeds) — runs: {run_set_words(ctx)}", "verdicts-sum", labels=VERDICT_LABELS)
    if len(df) and (df.objective == "sum").any():
        s = df[df.objective == "sum"].groupby(["net", "regime", "eps"])[["phi", "at_bound"]].mean().reset_index()
        s = s.rename(columns={"net": "network", "eps": "ε", "phi": "mean φ", "at_bound": "coordinates at the bound"})
        s["ε"] = s["ε"].map("{:g}".format)
        s["mean φ"] = s["mean φ"].map("{:.3g}".format)
        s["coordinates at the bound"] = s["coordinates at the bound"].map(lambda v: f"{100 * v:.1f} %")
        show(s, "Summed objective, mean over seeds: φ and the share of the maximiser's coordinates on the box's "
             f"boundary — runs: {run_set_words(ctx)}", "summed-mean")


def show_per_seed(ctx: Context) -> None:
    """A summary per (network, space, objective, ε, regime), every entry in a collapsed listing, the solver's
    messages and the cost of one maximisation."""
    from IPython.display import display

    from lbgap.book.style import dropdown, pm_over, show, verdict_lines

    df = entries(ctx)
    if not len(df):
        return
    keys = ["net", "space", "objective", "eps", "regime"]
    rows = []
    for (net, space, obj, eps, regime), g in df.groupby(keys):
        rows.append({"network": net, "space": space, "objective": obj, "ε": f"{eps:g}", "regime": regime,
                     "n": len(g), "φ": pm_over(g.phi), "evaluations": f"{g.nfev.median():.0f}",
                     "at bound": f"{100 * g.at_bound.mean():.1f} %"})
    import pandas as pd

    show(pd.DataFrame(rows), "Per setting: φ over seeds (mean ± sd), L-BFGS-B's evaluations (median) and the share "
         f"of the maximiser's coordinates on the box's boundary — runs: {run_set_words(ctx)}", "per-setting")
    cols = ["net", "profile", "examples", "regime", "seed", "space", "objective", "eps", "phi", "f0", "fmax",
            "nfev", "nit", "y_norm", "at_bound"]
    per_seed = df[cols].sort_values(["net", "space", "objective", "eps", "regime", "seed"]).copy()
    per_seed["examples"] = per_seed.examples.map(lambda v: f"{int(v):,}")
    for c in ("f0", "fmax"):
        per_seed[c] = per_seed[c].map(lambda v: f"{v:.2e}")
    per_seed["at_bound"] = per_seed.at_bound.map(lambda v: f"{100 * v:.3f} %")
    per_seed["eps"] = per_seed.eps.map("{:g}".format)
    per_seed = per_seed.round({"phi": 4, "y_norm": 4})
    display(dropdown(per_seed, f"Every entry ({len(per_seed)} rows): open the listing — runs: {run_set_words(ctx)}",
                     "per-seed"))
    lines = [f"Solver messages: {'; '.join(sorted(df.message.unique()))}.",
             f"Devices: {'; '.join(sorted(df.device.dropna().unique()))}."]
    for net, d in df.groupby("net"):
        lines.append(f"{net}: one f+gradient evaluation over {d.examples.median():,.0f} training examples took "
                     f"{d.seconds_per_eval.median():.1f} s wall, {d.cpu_seconds_per_eval.median():.1f} s CPU (median "
                     f"over {len(d)} maximisations); one maximisation {d.nfev.median():.0f} evaluations, "
                     f"{d.wall_s.median() / 60:.1f} min wall.")
    verdict_lines(lines)


def show_strip_plot(ctx: Context) -> None:
    """Sharpness of SB and LB minimisers, one dot per seed, per (space, objective, eps); one panel per network."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from lbgap.book.style import show_figure

    df = entries(ctx)
    if not len(df):
        return
    g = df.copy()
    g["setting"] = g.space + " " + g.objective + "\nε=" + g.eps.map(lambda e: f"{e:g}")
    nets = sorted(g.net.unique())
    fig, axes = plt.subplots(len(nets), 1, figsize=(7.2, 3.2 * len(nets)), squeeze=False)
    for ax, net in zip(axes[:, 0], nets):
        d = g[g.net == net].sort_values("setting")
        sns.stripplot(data=d, x="setting", y="phi", hue="regime", hue_order=["SB", "LB"], dodge=True, size=6, ax=ax)
        ax.set_yscale("log")
        ax.set_ylabel(r"sharpness $\phi$ (log)")
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=9)
        ax.set_title(f"{net}: one dot per seed", fontsize=11)
        ax.legend(fontsize=9)
    fig.tight_layout()
    m = g.groupby(["net", "setting", "regime"]).phi.median().unstack("regime")
    m = m[(m.get("SB", 0) > 0) & m.get("LB").notna()] if {"SB", "LB"} <= set(m.columns) else m.iloc[:0]
    ratio = (m.LB / m.SB) if len(m) else None
    reading = (f"LB is sharper than SB (median over seeds) in {int((ratio > 1).sum())} of {len(ratio)} "
               f"(network, setting) cells; the LB/SB ratio of the medians runs from {ratio.min():.2g} to "
               f"{ratio.max():,.0f}." if ratio is not None and len(ratio) else None)
    show_figure(fig, "Sharpness φ of the SB and LB minimisers, one dot per seed, per space, objective and ε "
                f"(Metric 2.1 of Keskar et al.); log scale — runs: {run_set_words(ctx)}", reading)


def show_hessian(ctx: Context) -> None:
    from IPython.display import display

    from lbgap.book.style import dropdown, pm_over, show, verdict_lines

    df = entries(ctx)
    if not (len(df) and df.hessian_top.notna().any()):
        print("no Hessian estimates recorded")
        return
    import pandas as pd

    h = df[(df.space == "full") & (df.eps == 1e-3) & (df.objective == "mean")][
        ["net", "profile", "regime", "seed", "phi", "hessian_top", "hessian_method", "hessian_trace",
         "hessian_examples"]]
    rows = [{"network": net, "regime": regime, "n": len(g), "φ (ε=1e-3)": pm_over(g.phi),
             "top eigenvalue λ_max": pm_over(g.hessian_top), "λ_max method": method_counts(g.hessian_method),
             "trace": pm_over(g.hessian_trace), "examples": f"{g.hessian_examples.median():,.0f}"}
            for (net, regime), g in h.groupby(["net", "regime"], sort=True)]
    show(pd.DataFrame(rows), "Hessian of the training loss at the SB and LB points (mean ± sd over seeds) beside φ "
         f"(full space, mean objective); λ_max method: how each seed's top eigenvalue was computed — runs: "
         f"{run_set_words(ctx)}", "hessian", wrap=("λ_max method",))
    verdict_lines(method_notes(h.hessian_method))
    listing = h.drop(columns="profile").sort_values(["net", "regime", "seed"]).round(
        {"phi": 3, "hessian_top": 2, "hessian_trace": 1}).rename(columns={"hessian_method": "λ_max method"})
    display(dropdown(listing, f"Per seed ({len(listing)} rows) — runs: {run_set_words(ctx)}", "hessian-seeds"))


def method_counts(methods) -> str:
    """"power iteration (4 seeds); power iteration, not converged (1)": how many entries each method computed."""
    counts = methods.fillna("").replace("", "not recorded").value_counts()
    return "; ".join(f"{m} ({n})" for m, n in counts.items())


def method_notes(methods) -> list[str]:
    """What each λ_max method label shown means (:func:`lbgap.measures.hessian.method_label`), one line each."""
    from lbgap.book import claims

    notes = {"power iteration": "power iteration: stopped on an absolute tolerance before the iteration cap; no "
                                "residual was recorded, so its accuracy is unknown (it under-converges when λ_max is "
                                "small)",
             "power iteration, not converged": f"power iteration, not converged: stopped at the "
                                               f"{claims.power_iteration_cap()}-iteration cap",
             "Lanczos, converged": "Lanczos, converged: scipy's eigsh on Hessian-vector products, the largest "
                                   "eigenvalue with its residual within tolerance",
             "Lanczos, not converged": "Lanczos, not converged: eigsh stopped at its restart cap; the residual "
                                       "bounds the error"}
    return [f"λ_max method {notes[m]}." for m in sorted(set(methods.dropna())) if m in notes]


def show_dinh(ctx: Context) -> None:
    """Dinh et al. (2017): phi of function-preserving rescalings of one minimiser."""
    import pandas as pd

    from lbgap.book.style import show, verdict_lines
    from lbgap.measures import sharpness

    dn = pd.concat([sharpness.dinh_table(ctx.results_dir, p).assign(profile=p) for p in ctx.record_profiles],
                   ignore_index=True)
    if not len(dn):
        print("no Dinh rescaling records")
        return
    t = dn[["run", "alpha", "phi", "train_loss", "test_acc", "max_logit_change"]].copy()
    t["phi"] = t.phi.map("{:.3g}".format)
    t["train_loss"] = t.train_loss.map("{:.5f}".format)
    t["test_acc"] = t.test_acc.map("{:.4f}".format)
    t["max_logit_change"] = t.max_logit_change.map("{:.1e}".format)
    from lbgap.book import run_sets

    where = run_sets.describe("dinh", dn)
    show(t.rename(columns={"alpha": "α", "phi": "φ", "train_loss": "train loss", "test_acc": "test acc",
                           "max_logit_change": "max logit change"}),
         f"The same function, rescaled by α: φ (full space, ε = 1e-3), losses and the largest change of a logit — "
         f"runs: {where}", "dinh")
    verdict_lines(f"{run}: φ ranges {d.phi.min():.3g} to {d.phi.max():.3g} ({d.phi.max() / d.phi.min():.1f}×) "
                  f"while test accuracy ranges {d.test_acc.min():.4f} to {d.test_acc.max():.4f}."
                  for run, d in dn.groupby("run"))


def show_networks(ctx: Context) -> None:
    df = entries(ctx)
    have = {}
    for net, d in (df.groupby("net") if len(df) else []):
        have[net] = (f"seeds {sorted(int(x) for x in d.seed.unique())}; settings " +
                     ", ".join(sorted(set(d.space + ' eps=' + d.eps.map(lambda e: f'{e:g}')))))
    print_networks(have, "sharpness")
