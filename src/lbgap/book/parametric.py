"""The parametric-plots chapter (Figure 3, Figure 7; Li et al. 2018): the training and test loss along the
line and the curve from x_SB to x_LB, along each solution's filter-normalised directions (1-D lines and 2-D
contours), and the loss at fixed points of the landscape for every recorded seed."""
from __future__ import annotations

from lbgap.book.context import Context, shown_nets
from lbgap.book.coverage import print_networks
from lbgap.book.style import show


def compute(ctx: Context) -> None:
    """smoke: a tiny synthetic F1 pair (one seed of the cheap networks) and a coarse grid; paper: every pair."""
    from lbgap.measures import landscape

    smoke = ctx.profile == "smoke"
    opts = dict(points=7, line_points=5, grid_points=5) if smoke else {}
    for seed in (ctx.seeds[:1] if smoke else ctx.seeds):
        for net in (shown_nets(ctx) if smoke else ctx.nets):
            sb, lb = landscape.ensure_pair(net, seed, ctx.run_profile, ctx.results_dir, ctx.device)
            landscape.compute(sb, lb, ctx.results_dir, device=ctx.device, log=lambda s: None, **opts)


def landscape_records(ctx: Context) -> list[dict]:
    """The Table 2 pairs' landscape records of the requested networks and seeds: paper, else quick."""
    from lbgap.core import records
    from lbgap.measures import landscape

    def load():
        recs = landscape.table2_records(records.preferred_records(ctx.results_dir, ctx.record_profiles, "landscape"))
        return [r for r in recs if r["net"] in ctx.nets and r["seed"] in ctx.seeds]

    return ctx.memo("landscape", load)


def label(r: dict) -> str:
    return f"{r['net']} (seed {r['seed']}" + ("" if r["profile"] == "paper" else f", {r['profile']} profile") + ")"


def first_per_net(recs: list[dict], part: str) -> list[dict]:
    """Per network, the record of its lowest seed that holds ``part`` (one panel per network)."""
    seen = {}
    for r in sorted(recs, key=lambda r: (r["net"], r["seed"])):
        if part in r["parts"] and r["net"] not in seen:
            seen[r["net"]] = r
    return list(seen.values())


def curves(r: dict, part: str):
    """A path part of a landscape record (``linear``/``curvilinear``) in long format: alpha, split, loss, acc."""
    import pandas as pd

    rows = []
    for row in r["parts"][part]["rows"]:
        for split in ("train", "test"):
            rows.append(dict(alpha=row["alpha"], split=split, loss=row[f"{split}_loss"], acc=row[f"{split}_acc"]))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_records(ctx: Context) -> None:
    from lbgap.measures import landscape

    recs = landscape_records(ctx)
    for r in recs:
        parts = "; ".join(f"{k} on {landscape.examples_words(v)}" for k, v in r["parts"].items())
        print(f"{r['net']} seed {r['seed']} ({r['profile']} profile): {parts}. BN: {r['bn_handling']}")
    if not recs:
        print("no landscape records")


def show_path(ctx: Context, part: str, title: str) -> None:
    """Figure 3 (``part="linear"``) or 7 (``"curvilinear"``): the loss along the path from x_SB to x_LB, one
    panel per network, and the path's landmarks in words."""
    import matplotlib.pyplot as plt
    import numpy as np

    from lbgap.measures import landscape

    chosen = first_per_net(landscape_records(ctx), part)
    if not chosen:
        print(f"no {part} curves recorded")
        return
    fig, axes = plt.subplots(1, len(chosen), figsize=(5.2 * len(chosen), 3.6), squeeze=False)
    for ax, r in zip(axes[0], chosen):
        landscape.plot_parametric(curves(r, part), ax, label(r))
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    for r in chosen:
        d = curves(r, part)
        tr, te = d[d.split == "train"].set_index("alpha"), d[d.split == "test"].set_index("alpha")
        a = tr.index.values
        i0, i1 = np.argmin(abs(a)), np.argmin(abs(a - 1))
        print(f"{label(r)} {part}: train loss SB {tr.loss.iloc[i0]:.4f}, LB {tr.loss.iloc[i1]:.4f}; "
              f"test acc SB {te.acc.iloc[i0]:.4f}, LB {te.acc.iloc[i1]:.4f}; max train loss on the path "
              f"{tr.loss.max():.3f} at alpha={tr.loss.idxmax():+.2f}; train loss at alpha=-1: {tr.loss.iloc[0]:.3f}, "
              f"at alpha=2: {tr.loss.iloc[-1]:.3f}")


def show_figure3(ctx: Context) -> None:
    show_path(ctx, "linear", "Figure 3: f(alpha x_LB + (1 - alpha) x_SB)")


def show_figure7(ctx: Context) -> None:
    show_path(ctx, "curvilinear", "Figure 7: f(sin(alpha pi/2) x_LB + cos(alpha pi/2) x_SB)")


def show_filter_lines(ctx: Context) -> None:
    """Li et al. (2018): the loss along each solution's own filter-normalised direction."""
    import matplotlib.pyplot as plt
    import pandas as pd

    chosen = first_per_net(landscape_records(ctx), "filter1d")
    if chosen:
        fig, axes = plt.subplots(1, len(chosen), figsize=(5.2 * len(chosen), 3.6), squeeze=False)
        for ax, r in zip(axes[0], chosen):
            part = r["parts"]["filter1d"]
            for regime, color in (("SB", "tab:blue"), ("LB", "tab:orange")):
                d = pd.DataFrame(part[regime])
                ax.plot(d.t, d.train_loss, "-", color=color, label=f"{regime} train")
                ax.plot(d.t, d.test_loss, "--", color=color, label=f"{regime} test")
            ax.set_xlabel("t (filter-normalised direction)")
            ax.set_ylabel("cross-entropy")
            ax.legend(fontsize=8)
            ax.set_title(label(r))
        fig.tight_layout()
        plt.show()
        for r in chosen:
            part = r["parts"]["filter1d"]
            for regime in ("SB", "LB"):
                d = pd.DataFrame(part[regime])
                c = d.iloc[(d.t).abs().argmin()]
                print(f"{label(r)} {regime}: train loss at t=0 {c.train_loss:.4f}, at t=-1 "
                      f"{d.train_loss.iloc[0]:.3f}, at t=+1 {d.train_loss.iloc[-1]:.3f}; ||x|| = "
                      f"{part[regime + '_weight_norm']:.1f}")
    else:
        print("no filter-normalised curves recorded")


def show_contours(ctx: Context) -> None:
    """Li et al. (2018): the training loss on a 2-D filter-normalised plane around each solution."""
    import matplotlib.pyplot as plt
    import numpy as np

    from lbgap.measures import landscape

    chosen = first_per_net(landscape_records(ctx), "contour")
    if chosen:
        fig, axes = plt.subplots(len(chosen), 2, figsize=(9, 4 * len(chosen)), squeeze=False)
        for row, r in zip(axes, chosen):
            part = r["parts"]["contour"]
            z = np.concatenate([np.ravel(part[k]["train_loss"]) for k in ("SB", "LB")])
            levels = np.unique(np.quantile(z, np.linspace(0.02, 0.98, 12)))
            for ax, regime in zip(row, ("SB", "LB")):
                landscape.plot_contour(part[regime], ax, f"{label(r)}: {regime}", levels)
        fig.tight_layout()
        plt.show()
        for r in chosen:
            for regime in ("SB", "LB"):
                z = np.asarray(r["parts"]["contour"][regime]["train_loss"])
                print(f"{label(r)} {regime}: train loss at the centre {z[len(z) // 2, len(z) // 2]:.4f}, "
                      f"mean over the grid {z.mean():.3f}, max {z.max():.3f}")
    else:
        print("no contours recorded")


def show_seed_summary(ctx: Context) -> None:
    from lbgap.measures import landscape

    t_seeds = landscape.seed_summary(landscape_records(ctx))
    if t_seeds.empty:
        print("no landscape records")
    else:
        show(t_seeds.round(4), "Training loss at fixed points of the landscape, every recorded seed", "landscape-seeds")
        for net, g in t_seeds.groupby("net"):
            for col, view in ((landscape.RISE_RATIO, "beyond LB than beyond SB (alpha 1->1.5 vs 0->-0.5)"),
                              (landscape.FILTER_RISE_RATIO, "from LB than from SB along the filter-normalised "
                                                            "direction (t=±1)")):
                r = g[col].dropna() if col in g else g.iloc[0:0]
                if len(r):
                    print(f"{net}: the loss rises more {view} in {int((r > 1).sum())} of {len(r)} seeds; "
                          f"rise LB/SB {r.min():.3g} .. {r.max():.3g}")


def show_networks(ctx: Context) -> None:
    recs = landscape_records(ctx)
    have = {}
    for r in recs:
        have.setdefault(r["net"], []).append(r["seed"])
    print_networks({net: f"seeds {sorted(s)}" for net, s in have.items()}, "landscape")
