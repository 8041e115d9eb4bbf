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
                sharpness.compute(cfg, ctx.results_dir, device=ctx.device, log=lambda s: None, **opts)
                sharpness.compute(cfg, ctx.results_dir, device=ctx.device, log=lambda s: None, spaces=("full",),
                                  objective="sum", hessian=False, eps=opts.get("eps", sharpness.DEFAULT_EPS))
            if NETS[net].kind == "mlp" and seed == ctx.seeds[0]:   # the rescaled pair is BN -> ReLU -> Linear
                sharpness.dinh_demo(pair[0], ctx.results_dir, eps=1e-3, device=ctx.device, log=lambda s: None)


def entries(ctx: Context):
    """Every sharpness entry the chapter shows (``sharpness.sharpness_table``): per network, its paper records,
    else its quick ones."""
    from lbgap.core import records
    from lbgap.measures import sharpness

    return ctx.memo("sharpness", lambda: sharpness.sharpness_table(
        records=records.preferred_records(ctx.results_dir, ctx.record_profiles, "sharpness")))


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
                if len(hit) and f"mean_{reg}" in hit and pd.notna(hit[f"mean_{reg}"].iloc[0]):
                    m, sd, n = hit[f"mean_{reg}"].iloc[0], hit[f"std_{reg}"].iloc[0], int(hit[f"count_{reg}"].iloc[0])
                    row[f"ours {reg}"] = f"{m:.3g} ± {sd:.2g} (n={n})" if n > 1 else f"{m:.3g} (n=1)"
                else:
                    row[f"ours {reg}"] = "missing"
            row["paper LB/SB"] = round(paper.loc[net, f"lb_eps{tag}_mean"] / paper.loc[net, f"sb_eps{tag}_mean"], 1)
            row["ours LB/SB"] = (float(f"{float(hit['LB/SB'].iloc[0]):.2g}") if len(hit) and "LB/SB" in hit
                                 and pd.notna(hit["LB/SB"].iloc[0]) else None)
            row["ours from"] = basis(used[(used.net == net) & (used.eps == e)] if len(used) else used)
            rows.append(row)
    return pd.DataFrame(rows)


def table3(ctx: Context, objective: str = "mean"):
    """Table 3 (full space) with the chapter's entries; ``objective="sum"``: the summed-loss objective."""
    return compare_with_paper(entries(ctx), 3, objective=objective)


def table4(ctx: Context):
    """Table 4 (random 100-dim subspace) with the chapter's entries."""
    return compare_with_paper(entries(ctx), 4)


def print_verdicts(t, name: str) -> None:
    """Per network and eps of a :func:`compare_with_paper` table: is LB at least 10x sharper, as in the paper?"""
    for _, r in t.dropna(subset=["ours LB/SB"]).iterrows():
        ok = r["ours LB/SB"] >= 10
        print(f"{name} {r.network} eps={r.eps}: LB/SB = {r['ours LB/SB']:.2g} (paper {r['paper LB/SB']:.1f}) -> "
              + ("at least 10x, as the paper" if ok else "below 10x, unlike the paper"))


# ------------------------------------------------------------------------------------ what the notebook shows
def show_entries(ctx: Context) -> None:
    df = entries(ctx)
    print(f"{len(df)} sharpness entries from {df.run_id.nunique() if len(df) else 0} trained runs "
          f"({', '.join(sorted(df.net.unique())) if len(df) else 'none'})")


def show_verdicts(ctx: Context) -> None:
    """Tables 3 and 4's verdicts, then seed by seed (SB and LB of one seed share x0 and the data order), then how
    phi grows when the box doubles (a quadratic bowl: 4x; a loss that is flat, then rises steeply: more)."""
    from lbgap.measures import sharpness

    df = entries(ctx)
    print_verdicts(table3(ctx), "Table 3")
    print_verdicts(table4(ctx), "Table 4")
    pairs = sharpness.seed_pairs(df)
    for (net, space, obj), g in (pairs.groupby(["net", "space", "objective"]) if len(pairs) else []):
        print(f"{net} {space:6s} {obj:4s} objective: LB sharper than the SB run of its seed in {(g.LB > g.SB).sum()} of "
              f"{len(g)} (seed, eps) pairs; LB/SB per pair {g.ratio.min():.2g} .. {g.ratio.max():.2g}")
    if len(df):
        m = df[df.objective == "mean"].groupby(["net", "space", "regime", "eps"]).phi.mean().unstack("eps")
        if {5e-4, 1e-3} <= set(m.columns):
            for (net, space, regime), r in m.iterrows():
                print(f"{net} {space:6s} {regime}: mean phi {r[5e-4]:.3g} at eps=5e-4 -> {r[1e-3]:.3g} at eps=1e-3 "
                      f"({r[1e-3] / r[5e-4]:.1f}x)")


def show_summed_objective(ctx: Context) -> None:
    df = entries(ctx)
    print_verdicts(table3(ctx, objective="sum"), "Table 3 (summed objective)")
    if len(df) and (df.objective == "sum").any():
        s = df[df.objective == "sum"].groupby(["net", "regime", "eps"])[["phi", "at_bound"]].mean().reset_index()
        s["at_bound"] = s.at_bound.map(lambda v: f"{100 * v:.1f} %")
        print("\nmean over seeds, summed objective:\n" + s.round({"phi": 2}).to_string(index=False))


def show_per_seed(ctx: Context) -> None:
    """Every entry, the solver's messages and the cost of one maximisation."""
    df = entries(ctx)
    if len(df):
        cols = ["net", "profile", "examples", "regime", "seed", "space", "objective", "eps", "phi", "f0", "fmax",
                "nfev", "nit", "y_norm", "at_bound"]
        per_seed = df[cols].sort_values(["net", "space", "objective", "eps", "regime", "seed"]).copy()
        per_seed["examples"] = per_seed.examples.map(lambda v: f"{int(v):,}")
        per_seed["f0"] = per_seed.f0.map(lambda v: f"{v:.2e}")
        per_seed["fmax"] = per_seed.fmax.map(lambda v: f"{v:.2e}")
        per_seed["at_bound"] = per_seed.at_bound.map(lambda v: f"{100 * v:.3f} %")
        per_seed = per_seed.round({"phi": 4, "y_norm": 4})
        print(per_seed.to_string(index=False))
        print("\nsolver messages:", "; ".join(sorted(df.message.unique())))
        print("devices:", "; ".join(sorted(df.device.dropna().unique())))
        for net, d in df.groupby("net"):
            print(f"{net}: one f+gradient evaluation over {d.examples.median():,.0f} training examples took "
                  f"{d.seconds_per_eval.median():.1f} s wall, {d.cpu_seconds_per_eval.median():.1f} s CPU (median "
                  f"over {len(d)} maximisations); one maximisation {d.nfev.median():.0f} evaluations, "
                  f"{d.wall_s.median() / 60:.1f} min wall")


def show_strip_plot(ctx: Context) -> None:
    """Sharpness of SB and LB minimisers, one dot per seed, per (space, objective, eps)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = entries(ctx)
    if len(df):
        g = df.copy()
        g["setting"] = g.space + " " + g.objective + "\neps=" + g.eps.map(lambda e: f"{e:g}")
        ax = sns.stripplot(data=g, x="setting", y="phi", hue="regime", hue_order=["SB", "LB"], dodge=True, size=7)
        ax.set_yscale("log")
        ax.set_ylabel(r"sharpness $\phi$ (log scale)")
        ax.set_xlabel("")
        ax.set_title(", ".join(sorted(g.net.unique())) + ": sharpness of SB and LB minimisers, one dot per seed")
        plt.show()


def show_hessian(ctx: Context) -> None:
    df = entries(ctx)
    if len(df) and df.hessian_top.notna().any():
        h = df[(df.space == "full") & (df.eps == 1e-3) & (df.objective == "mean")][
            ["net", "regime", "seed", "phi", "hessian_top", "hessian_trace", "hessian_examples"]]
        print(h.sort_values(["net", "regime", "seed"]).round({"phi": 3, "hessian_top": 2, "hessian_trace": 1})
              .to_string(index=False))
        m = h.groupby(["net", "regime"])[["phi", "hessian_top", "hessian_trace"]].mean()
        print("\nmeans:\n" + m.round(2).to_string())
    else:
        print("no Hessian estimates recorded")


def show_dinh(ctx: Context) -> None:
    """Dinh et al. (2017): phi of function-preserving rescalings of one minimiser."""
    import pandas as pd

    from lbgap.measures import sharpness

    dn = pd.concat([sharpness.dinh_table(ctx.results_dir, p) for p in ctx.record_profiles], ignore_index=True)
    if len(dn):
        print(dn[["run", "alpha", "phi", "train_loss", "test_loss", "test_acc", "max_logit_change"]].round(
            {"phi": 3, "train_loss": 5, "test_loss": 5, "test_acc": 4}).to_string(index=False))
        for run, d in dn.groupby("run"):
            d = d.sort_values("alpha")
            print(f"{run}: phi ranges {d.phi.min():.3g} .. {d.phi.max():.3g} ({d.phi.max() / d.phi.min():.1f}x) "
                  f"while test accuracy ranges {d.test_acc.min():.4f} .. {d.test_acc.max():.4f}")
    else:
        print("no Dinh rescaling records")


def show_networks(ctx: Context) -> None:
    df = entries(ctx)
    have = {}
    for net, d in (df.groupby("net") if len(df) else []):
        have[net] = (f"seeds {sorted(int(x) for x in d.seed.unique())}; settings " +
                     ", ".join(sorted(set(d.space + ' eps=' + d.eps.map(lambda e: f'{e:g}')))))
    print_networks(have, "sharpness")
