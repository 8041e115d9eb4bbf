"""The front page: the headline (the test-accuracy gap per network, ours beside the paper's) and the scorecard
(every measurable claim of the paper, read from the same records with the same functions as the chapters)."""
from __future__ import annotations

from lbgap.book.context import Context, shown_nets, shown_seeds
from lbgap.book.coverage import MISSING_REASON
from lbgap.book.paper import paper_table
from lbgap.book.sb_vs_lb import table2_numbers, verdict
from lbgap.book.style import styled


def headline(ctx: Context):
    """Front page: the test-accuracy gap SB − LB per network, ours against the paper's, or why it is missing."""
    import pandas as pd

    nums, paper = table2_numbers(ctx), paper_table(2).set_index("network")
    rows = []
    for net in shown_nets(ctx):
        p = paper.loc[net]
        row = {"network": net, "data": {"F1": "MNIST", "F2": "TIMIT → speechocean762", "C1": "CIFAR-10",
                                        "C2": "CIFAR-10", "C3": "CIFAR-100", "C4": "CIFAR-100"}[net],
               "paper: test SB / LB (%)": f"{p.test_acc_sb_mean:.2f} / {p.test_acc_lb_mean:.2f}",
               "paper: gap (pt)": f"{p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}"}
        have = nums[nums.net == net]
        if set(have.regime) >= {"SB", "LB"}:
            sb = have[have.regime == "SB"].iloc[0].to_dict()
            lb = have[have.regime == "LB"].iloc[0].to_dict()
            row.update({"ours: test SB / LB (%)": f"{sb['test_acc']:.2f} / {lb['test_acc']:.2f}",
                        "ours: gap (pt)": f"{sb['test_acc'] - lb['test_acc']:.2f}",
                        "verdict": verdict(net, sb, lb, p.test_acc_sb_mean - p.test_acc_lb_mean)})
        else:
            row.update({"ours: test SB / LB (%)": "—", "ours: gap (pt)": "—", "verdict": MISSING_REASON[net]})
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_words(ours, n: int, paper=None) -> str:
    """"ours (n=…) / paper" for the scorecard; a dash where we have no number."""
    import math

    if ours is None or ours != ours or math.isinf(ours):
        text = "—"
    else:
        text = f"{ours:,.0f} (n={n})" if abs(ours) >= 10 else f"{ours:.2g} (n={n})"
    return text if paper is None else f"{text} / {paper:g}"


def scorecard(ctx: Context):
    """Front page: every measurable claim of the paper per network, ours beside the paper's, read from the same
    records and with the same functions as the chapters. Table 2: test gap SB − LB (pt). Tables 3/4: LB/SB ratio
    of the mean ε-sharpness at ε = 1e-3, full space (the mean-loss objective as specified, and the summed one)
    and random 100-dim subspace. Figure 3 and Li et al. (2018): how much more the training loss rises beyond
    LB than beyond SB, along the SB–LB line (α 1→1.5 against 0→−0.5) and along each solution's own
    filter-normalised direction (to t = ±1); the paper has no number for these, only the picture (LB's side
    steeper, ratio > 1). Table 7: how many points conservative (proximal) training adds to LB's test accuracy,
    per seed against the plain LB run of that seed (the paper's: its Table 7 LB minus its Table 2 LB). n: seeds
    behind our number (the fewer of SB's and LB's)."""
    import pandas as pd

    from lbgap.core.records import preferred_records
    from lbgap.measures import landscape, sharpness
    from lbgap.studies import remedies

    def records(kind):
        return [r for r in preferred_records(ctx.results_dir, ctx.record_profiles, kind)
                if r["net"] in ctx.nets and r["seed"] in shown_seeds(ctx)]

    sharp = sharpness.sharpness_table(records=records("sharpness"))
    claims = (("Table 3 φ LB/SB", 3, "full", "mean"), ("Table 3, summed loss", 3, "full", "sum"),
              ("Table 4 φ LB/SB", 4, "random", "mean"))
    ratios = {}   # (label, net) -> (LB/SB ratio of the means at eps = 1e-3, n): the sharpness chapter's summary
    for label, _, space, objective in claims:
        s = sharpness.summary(sharp[sharp.space == space], objective=objective) if len(sharp) else sharp
        for _, h in (s[(s.eps == 1e-3) & s["LB/SB"].notna()] if "LB/SB" in s else s.iloc[0:0]).iterrows():
            ratios[label, h.net] = (h["LB/SB"], int(min(h.count_SB, h.count_LB)))
    land = landscape.seed_summary(landscape.table2_records(records("landscape")))
    nums, paper2 = table2_numbers(ctx), paper_table(2).set_index("network")
    cons, paper7 = remedies.table(ctx.results_dir, ctx.record_profiles), paper_table(7).set_index("network")
    cons = cons[cons.seed.isin(shown_seeds(ctx)) & cons.test_acc_lb.notna()]
    tables = {k: paper_table(k).set_index("network") for k in (3, 4)}
    rows = []
    for net in shown_nets(ctx):
        p = paper2.loc[net]
        have = nums[nums.net == net]
        row = {"network": net}
        if set(have.regime) >= {"SB", "LB"}:
            sb, lb = (have[have.regime == r].iloc[0] for r in ("SB", "LB"))
            row["our runs"] = f"{sb.profile}, {sb.epochs:.0f}/{lb.epochs:.0f} epochs"
            ours = f"{sb.test_acc - lb.test_acc:.2f} (n={min(sb.n, lb.n)})"
        else:
            row["our runs"], ours = MISSING_REASON[net], "—"
        row["Table 2 gap (pt), ours / paper"] = f"{ours} / {p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}"
        for label, k, _, _ in claims:
            paper = round(float(tables[k].loc[net, "lb_eps1e-3_mean"] / tables[k].loc[net, "sb_eps1e-3_mean"]))
            row[f"{label} (ε=1e-3), ours / paper"] = ratio_words(*ratios.get((label, net), (None, 0)), paper)
        d = land[land.net == net] if len(land) else land
        for label, lb_col, sb_col in ((landscape.RISE_RATIO, "rise beyond LB (α 1→1.5)", "rise beyond SB (α 0→-0.5)"),
                                      (landscape.FILTER_RISE_RATIO, "LB rise to t=±1", "SB rise to t=±1")):
            both = d[[lb_col, sb_col]].dropna() if lb_col in d and sb_col in d else pd.DataFrame()
            row[label] = ratio_words(both[lb_col].mean() / both[sb_col].mean() if len(both) else None, len(both))
        c = cons[cons.net == net]
        ours = f"{(c.test_acc_remedy - c.test_acc_lb).mean():+.2f} (n={len(c)})" if len(c) else "—"
        theirs = paper7.loc[net, "test_acc_lb_mean"] - p.test_acc_lb_mean if net in paper7.index else float("nan")
        row["Table 7 conservative − plain LB test (pt), ours / paper"] = f"{ours} / {theirs:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_headline(ctx: Context):
    return styled(headline(ctx), "Test accuracy of small-batch (SB) and large-batch (LB) Adam: ours vs Keskar et al. "
                  "(2017), Table 2", "headline")


def show_scorecard(ctx: Context):
    return styled(scorecard(ctx), "Scorecard: ours / Keskar et al. (2017); ratios are LB over SB", "scorecard")
