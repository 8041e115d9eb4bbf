"""The parametric-plots chapter (Figure 3, Figure 7; Li et al. 2018): the training and test loss along the
line and the curve from x_SB to x_LB, along each solution's filter-normalised directions (1-D lines and 2-D
contours), and the loss at fixed points of the landscape for every recorded seed."""
from __future__ import annotations

from lbgap.book.context import Context, shown_nets
from lbgap.book.coverage import print_networks
from lbgap.book.style import show, sig


def compute(ctx: Context) -> None:
    """smoke: a tiny synthetic F1 pair (one seed of the cheap networks) and a coarse grid; paper: every pair."""
    from lbgap.measures import landscape

    smoke = ctx.profile == "smoke"
    opts = dict(points=7, line_points=5, grid_points=5) if smoke else {}
    for seed in (ctx.seeds[:1] if smoke else ctx.seeds):
        for net in (shown_nets(ctx) if smoke else ctx.nets):
            sb, lb = landscape.ensure_pair(net, seed, ctx.run_profile, ctx.results_dir, ctx.device)
            landscape.compute(sb, lb, ctx.results_dir, device=ctx.device, **opts)


def landscape_records(ctx: Context) -> list[dict]:
    """The Table 2 pairs' landscape records of the requested networks and seeds: paper, else quick."""
    from lbgap.core import records
    from lbgap.measures import landscape

    def load():
        recs = landscape.table2_records(records.preferred_records(ctx.results_dir, ctx.record_profiles, "landscape"))
        return [r for r in recs if r["net"] in ctx.nets and r["seed"] in ctx.seeds]

    return ctx.memo("landscape", load)


def run_set_words(recs: list[dict]) -> str:
    """The run sets behind landscape records ``recs``, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    import pandas as pd

    from lbgap.book import run_sets

    return run_sets.describe("landscape", pd.DataFrame([dict(net=r["net"], profile=r["profile"], seed=r["seed"])
                                                        for r in recs]))


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


def path_numbers(r: dict, part: str) -> dict:
    """Landmarks of one path (Figure 3 ``linear`` or 7 ``curvilinear``): training loss and test accuracy at x_SB
    (α = 0) and x_LB (α = 1), the rise of the training loss half a unit beyond each (α 0 → −0.5 and 1 → 1.5),
    their ratio (LB side over SB side: > 1, the paper's picture of a sharper LB), and the barrier between them
    (highest training loss for 0 < α < 1 above the higher of the two ends; ≤ 0: none)."""
    import numpy as np

    d = curves(r, part)
    tr, te = d[d.split == "train"].set_index("alpha").sort_index(), d[d.split == "test"].set_index("alpha").sort_index()
    a = tr.index.values

    def at(x):
        return tr.loss.iloc[int(np.argmin(abs(a - x)))]

    inside = tr.loss[(a > 0) & (a < 1)]
    rise_sb, rise_lb = at(-0.5) - at(0.0), at(1.5) - at(1.0)
    return dict(loss_sb=at(0.0), loss_lb=at(1.0), acc_sb=100 * te.acc.iloc[int(np.argmin(abs(a)))],
                acc_lb=100 * te.acc.iloc[int(np.argmin(abs(a - 1)))], rise_sb=rise_sb, rise_lb=rise_lb,
                ratio=rise_lb / rise_sb if rise_sb > 0 else float("nan"),
                barrier=(inside.max() - max(at(0.0), at(1.0))) if len(inside) else float("nan"))


def path_reading(ctx: Context, part: str) -> list[str]:
    """Under Figure 3 or 7: per network, what ours shows against the paper's picture, with the verdict."""
    out = []
    for r in first_per_net(landscape_records(ctx), part):
        n = path_numbers(r, part)
        verdict = ("one seed, no interval: LB's side rises more here; the verdict over seeds is in \"Across "
                   "seeds\"." if n["ratio"] > 1 else "one seed, no interval: SB's side rises more here; the verdict "
                   "over seeds is in \"Across seeds\".")
        barrier = (f"a barrier of {n['barrier']:.3g} between them" if n["barrier"] > 1e-3 * max(n["loss_sb"], 1e-9)
                   else "no barrier between them")
        out.append(f"**{label(r)}**: training loss {n['loss_sb']:.3g} at x_SB and {n['loss_lb']:.3g} at x_LB (test "
                   f"accuracy {n['acc_sb']:.2f} % and {n['acc_lb']:.2f} %), {barrier}; half a unit beyond each, the "
                   f"loss rises by {n['rise_lb']:.3g} on LB's side and {n['rise_sb']:.3g} on SB's "
                   f"(ratio {sig(n['ratio'])}). Verdict: {verdict}")
    return out


def show_path(ctx: Context, part: str, title: str) -> None:
    """Figure 3 (``part="linear"``) or 7 (``"curvilinear"``): the loss along the path from x_SB to x_LB, one
    row per network, then the reading (:func:`path_reading`)."""
    import matplotlib.pyplot as plt

    from lbgap.book.style import show_figure, verdict_lines
    from lbgap.measures import landscape

    chosen = first_per_net(landscape_records(ctx), part)
    if not chosen:
        print(f"no {part} curves recorded")
        return
    fig, axes = plt.subplots(len(chosen), 1, figsize=(7.2, 3.1 * len(chosen)), squeeze=False)
    for ax, r in zip(axes[:, 0], chosen):
        landscape.plot_parametric(curves(r, part), ax, label(r))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    show_figure(fig, f"{title}: loss and accuracy along the path between the SB and LB solutions, one row per "
                f"network (its lowest recorded seed) — runs: {run_set_words(chosen)}")
    verdict_lines(path_reading(ctx, part))


def show_figure3(ctx: Context) -> None:
    show_path(ctx, "linear", r"Figure 3: $f(\alpha\, x_{LB} + (1 - \alpha)\, x_{SB})$")


def show_figure7(ctx: Context) -> None:
    show_path(ctx, "curvilinear", r"Figure 7: $f(\sin(\alpha\pi/2)\, x_{LB} + \cos(\alpha\pi/2)\, x_{SB})$")


def show_filter_lines(ctx: Context) -> None:
    """Li et al. (2018): the loss along each solution's own filter-normalised direction, one row per network."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from lbgap.book.style import show_figure, verdict_lines

    chosen = first_per_net(landscape_records(ctx), "filter1d")
    if not chosen:
        print("no filter-normalised curves recorded")
        return
    fig, axes = plt.subplots(len(chosen), 1, figsize=(7.2, 3.0 * len(chosen)), squeeze=False)
    for ax, r in zip(axes[:, 0], chosen):
        part = r["parts"]["filter1d"]
        for regime, color in (("SB", "tab:blue"), ("LB", "tab:orange")):
            d = pd.DataFrame(part[regime])
            ax.plot(d.t, d.train_loss, "-", color=color, label=f"{regime} train")
            ax.plot(d.t, d.test_loss, "--", color=color, label=f"{regime} test")
        ax.set_xlabel("t (filter-normalised direction)")
        ax.set_ylabel("cross-entropy")
        ax.legend(fontsize=8, ncols=2)
        ax.set_title(label(r), fontsize=11)
    fig.tight_layout()
    show_figure(fig, "Filter-normalised random directions (Li et al.): the loss along a line through each "
                f"solution, SB and LB, one panel per network — runs: {run_set_words(chosen)}")
    lines = []
    for r in chosen:
        part = r["parts"]["filter1d"]
        words = []
        for regime in ("SB", "LB"):
            d = pd.DataFrame(part[regime])
            c = d.iloc[(d.t).abs().argmin()]
            words.append(f"{regime} {c.train_loss:.3g} at t = 0, {d.train_loss.iloc[0]:.3g} / "
                         f"{d.train_loss.iloc[-1]:.3g} at t = −1 / +1 (‖x‖ = {part[regime + '_weight_norm']:.1f})")
        lines.append(f"**{label(r)}**, training loss: " + "; ".join(words) + ".")
    verdict_lines(lines)


def show_contours(ctx: Context) -> None:
    """Li et al. (2018): the training loss on a 2-D filter-normalised plane around each solution."""
    import matplotlib.pyplot as plt
    import numpy as np

    from lbgap.book.style import show_figure, verdict_lines

    from lbgap.measures import landscape

    chosen = first_per_net(landscape_records(ctx), "contour")
    if chosen:
        fig, axes = plt.subplots(len(chosen), 2, figsize=(7.2, 3.4 * len(chosen)), squeeze=False)
        for row, r in zip(axes, chosen):
            part = r["parts"]["contour"]
            z = np.concatenate([np.ravel(part[k]["train_loss"]) for k in ("SB", "LB")])
            levels = np.unique(np.quantile(z, np.linspace(0.02, 0.98, 12)))
            for ax, regime in zip(row, ("SB", "LB")):
                landscape.plot_contour(part[regime], ax, f"{label(r)}: {regime}", levels)
        fig.tight_layout()
        show_figure(fig, "Filter-normalised 2-D contours of the training loss around each solution — runs: "
                    + run_set_words(chosen))
        lines = []
        for r in chosen:
            for regime in ("SB", "LB"):
                z = np.asarray(r["parts"]["contour"][regime]["train_loss"])
                lines.append(f"**{label(r)} {regime}**: training loss {z[len(z) // 2, len(z) // 2]:.4f} at the centre, "
                             f"{z.mean():.3f} on average over the plane, {z.max():.3f} at most.")
        verdict_lines(lines)
    else:
        print("no contours recorded")


# the rise columns of ``landscape.seed_summary`` the seed table shows, with their short display labels
SEED_LABELS = {"rise_sb": "rise beyond SB", "rise_lb": "rise beyond LB", "rise_ratio": "Fig. 3 LB ÷ SB",
               "sb_rise_t1": "SB rise, filter", "lb_rise_t1": "LB rise, filter", "filter_rise_ratio": "filter LB ÷ SB"}


def show_seed_summary(ctx: Context) -> None:
    """Figure 3 and the filter-normalised view as numbers, every recorded seed: the rises and their LB ÷ SB ratios
    in one table, the training losses at the landmarks in a collapsed listing, and per network how many seeds
    agree with the paper's picture and the ratio over seeds (:func:`lbgap.book.context.lb_over_sb`)."""
    from IPython.display import display

    from lbgap.book import claims
    from lbgap.book.style import dropdown, sig, verdict_lines
    from lbgap.measures import landscape

    t = landscape.seed_summary(landscape_records(ctx))
    if t.empty:
        print("no landscape records")
        return
    short = t[["net", "seed"] + [c for c in SEED_LABELS if c in t]]
    for c in short.columns[2:]:
        short = short.assign(**{c: short[c].map(sig)})
    where = run_set_words(landscape_records(ctx))
    show(short, "How fast the training loss rises away from each solution, every recorded seed: along the SB–LB line "
         "half a unit beyond each (α 0→−0.5, 1→1.5) and along each solution's filter-normalised direction (to "
         f"t = ±1) — runs: {where}", "landscape-seeds", labels={"net": "network", **SEED_LABELS})
    display(dropdown(t.round(4), f"Training loss at the landmarks, every seed — runs: {where}", "landscape-landmarks",
                     labels=landscape.LABELS))
    lines = []
    for net, g in t.groupby("net"):
        for col, lb, sb, view in (("rise_ratio", "rise_lb", "rise_sb", "beyond LB than beyond SB on the SB–LB line"),
                                  ("filter_rise_ratio", "lb_rise_t1", "sb_rise_t1",
                                   "from LB than from SB along the filter-normalised direction")):
            r = g[col].dropna() if col in g else g.iloc[0:0]
            if len(r):
                c = claims.sharper(claims.by_seed(g.dropna(subset=[lb]), lb), claims.by_seed(g.dropna(subset=[sb]), sb),
                                   name=f"{net} {landscape.LABELS[col]}")
                word = {"LB sharper": "LB's side steeper, as in the paper's picture",
                        "LB flatter": "SB's side steeper, unlike the paper's picture"}.get(c.verdict, "unresolved")
                lines.append(f"**{net}**: the loss rises more {view} in {int((r > 1).sum())} of {len(r)} seeds; "
                             f"mean of LB's rise ÷ mean of SB's {claims.ratio_words(c)}, bootstrap over seeds (per "
                             f"seed {sig(r.min())} to {sig(r.max())}): {word}.")
    verdict_lines(lines)


def show_networks(ctx: Context) -> None:
    recs = landscape_records(ctx)
    have = {}
    for r in recs:
        have.setdefault(r["net"], []).append(r["seed"])
    print_networks({net: f"seeds {sorted(s)}" for net, s in have.items()}, "landscape")
