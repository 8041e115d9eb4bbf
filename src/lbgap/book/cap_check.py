"""Does a reduced epoch cap change Table 2 and 3? Each (network, seed) whose SB and LB runs were trained under a cap
below the profile's own (F1 on a CPU: ``lbgap train --max-epochs 50``) beside the same pair trained under the paper's
caps (SB 100, LB 300 epochs; config tag ``uncapped``): how the runs stopped, the gap, φ, Figure 3's rise and the
Hessian's top eigenvalue under either budget, as tables and sentences read from the records."""
from __future__ import annotations

from lbgap.book import claims, run_sets
from lbgap.book.context import Context, all_records, original, train_records
from lbgap.book.sb_vs_lb import UNCAPPED_TAG, train_runs, variant_runs
from lbgap.book.style import pm, show
from lbgap.measures.landscape import RISE_RATIO


def cap_table(ctx: Context):
    """Does a reduced epoch cap change Table 2 and 3? Each (network, seed) whose SB and LB runs were trained
    under a cap below the profile's own (``lbgap train --max-epochs 50``, as F1 on a CPU) beside the same pair
    trained under the profile's caps (paper: SB 100, LB 300 epochs) until the plateau rule stops it (config tag
    "uncapped"): epochs and why each run stopped, final train loss, test accuracy, the SB - LB test gap, and
    phi at eps = 1e-3 in the full space (summed objective) and the random subspace (NaN where not computed).
    The last column is Figure 3's: how much faster the training loss climbs beyond x_LB than beyond x_SB on the
    line through both (:func:`lbgap.measures.landscape.seed_summary`; NaN without a landscape record of the pair).
    One row per (pair, budget); a pair appears once both its uncapped runs exist. Columns: net, seed, budget and
    those of :data:`CAP_LABELS` (snake_case; the labels are applied when shown)."""
    import pandas as pd

    from lbgap.core.config import RunConfig
    from lbgap.measures import landscape, sharpness

    cols = ["net", "seed", "budget", *CAP_LABELS]
    recs = [r for r in all_records(ctx) if r.get("kind") in ("train", "sharpness", "landscape")]
    lands = {(r["_profile"], r["run_id"]): r for r in recs if r["kind"] == "landscape"}
    train = train_records(recs)
    sharp = {prof: sharpness.sharpness_table(records=[r for r in recs if r["kind"] == "sharpness"
                                                      and r["_profile"] == prof], tag=None)
             for prof in ctx.record_profiles}
    pairs: dict = {}
    for r in train.values():
        c = r["config"]
        if c.get("tag") != UNCAPPED_TAG or r["status"] != "ok":
            continue
        o = original(train, r, "", differ=("max_epochs",))
        if o is None or o["config"]["max_epochs"] >= c["max_epochs"]:
            continue   # no capped original that differs from this run in its cap alone: nothing to compare with
        pairs.setdefault((c["net"], int(c["seed"]), r["_profile"]), {})[c["regime"]] = (o, r)
    rows = []
    for (net, seed, prof), both in sorted(pairs.items()):
        if set(both) != {"SB", "LB"}:
            continue
        for i, budget in enumerate(("cap {} (variant)", "paper caps {} (Table 2)")):
            sb, lb = both["SB"][i], both["LB"][i]
            caps = f"{sb['config']['max_epochs']}/{lb['config']['max_epochs']}"
            phi = {reg: sharpness.phi_columns(sharp[prof], rec["run_id"]) for reg, rec in (("SB", sb), ("LB", lb))}
            land = lands.get((prof, landscape.pair_id(*(RunConfig.from_dict(x["config"]) for x in (sb, lb)))))
            h = landscape.seed_summary([land]).iloc[0] if land is not None else {}
            rows.append({"net": net, "seed": seed, "budget": budget.format(caps),
                         "epochs_sb_lb": f"{sb['epochs']} / {lb['epochs']}",
                         "stopped_sb_lb": f"{STOP_WORDS.get(sb['stop_reason'], sb['stop_reason'])} / "
                                          f"{STOP_WORDS.get(lb['stop_reason'], lb['stop_reason'])}",
                         "train_loss_sb": sb["final"]["train_loss"], "train_loss_lb": lb["final"]["train_loss"],
                         "test_acc_sb": 100 * sb["final"]["test_acc"], "test_acc_lb": 100 * lb["final"]["test_acc"],
                         "gap_pt": 100 * (sb["final"]["test_acc"] - lb["final"]["test_acc"]),
                         "phi_full_sb": phi["SB"]["phi_full_sum"], "phi_full_lb": phi["LB"]["phi_full_sum"],
                         "lb_sb_phi_full": phi["LB"]["phi_full_sum"] / phi["SB"]["phi_full_sum"],
                         "phi_random_sb": phi["SB"]["phi_random"], "phi_random_lb": phi["LB"]["phi_random"],
                         "lb_sb_phi_random": phi["LB"]["phi_random"] / phi["SB"]["phi_random"],
                         "rise_ratio": h.get("rise_ratio", float("nan")),
                         "rise_sb": h.get("rise_sb", float("nan")), "rise_lb": h.get("rise_lb", float("nan"))})
    return pd.DataFrame(rows, columns=cols)


STOP_WORDS = {"plateau": "plateau", "max_epochs": "cap"}
# :func:`cap_table`'s and :func:`cap_summary`'s columns and their display labels (applied only when shown)
CAP_LABELS = {"epochs_sb_lb": "epochs SB/LB", "stopped_sb_lb": "stopped SB/LB", "train_loss_sb": "train loss SB",
              "train_loss_lb": "train loss LB", "test_acc_sb": "test acc % SB", "test_acc_lb": "test acc % LB",
              "gap_pt": "gap (pt)", "phi_full_sb": "φ full SB", "phi_full_lb": "φ full LB",
              "lb_sb_phi_full": "LB/SB φ full", "phi_random_sb": "φ random SB", "phi_random_lb": "φ random LB",
              "lb_sb_phi_random": "LB/SB φ random", "rise_ratio": RISE_RATIO, "rise_sb": "rise SB",
              "rise_lb": "rise LB"}


def cap_summary(t):
    """:func:`cap_table` over its seeds, one row per (network, budget): the seeds, mean test accuracies, the
    gap's mean and standard deviation (``gap_pt``, ``gap_sd``), and the LB/SB ratios as every page quotes them
    (:func:`lbgap.book.context.lb_over_sb`: mean of LB over mean of SB, seeds with both values)."""
    import pandas as pd

    from lbgap.book.context import lb_over_sb

    pairs = {"lb_sb_phi_full": ("phi_full_lb", "phi_full_sb"), "lb_sb_phi_random": ("phi_random_lb", "phi_random_sb"),
             "rise_ratio": ("rise_lb", "rise_sb")}
    cols = ["net", "budget", "seeds", "test_acc_sb", "test_acc_lb", "gap_pt", "gap_sd"] + list(pairs)
    rows = []
    for (net, budget), g in t.groupby(["net", "budget"], sort=False):
        row = {"net": net, "budget": budget, "seeds": ", ".join(str(s) for s in sorted(g.seed)),
               "test_acc_sb": g.test_acc_sb.mean(), "test_acc_lb": g.test_acc_lb.mean(),
               "gap_pt": g.gap_pt.mean(), "gap_sd": g.gap_pt.std()}
        for c, (lb, sb) in pairs.items():
            row[c] = lb_over_sb(g[lb], g[sb])
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def formatted(df):
    """Train losses as 1.23e-04, accuracies and gaps to 0.01 points, other numbers to 3 significant digits (columns
    of :func:`cap_table`)."""
    df = df.copy()
    for c in df.columns:
        if c.startswith("train_loss"):
            df[c] = df[c].map("{:.2e}".format)
        elif c.startswith(("test_acc", "gap")):
            df[c] = df[c].map("{:.2f}".format)
        elif df[c].dtype.kind == "f":
            df[c] = df[c].map("{:.3g}".format)
    return df


def show_caps(ctx: Context) -> None:
    """:func:`cap_table` as two tables that fit the page (accuracy and stopping; losses and sharpness ratios), and
    :func:`cap_summary` over the seeds."""
    t_cap = cap_table(ctx)
    if t_cap.empty:
        print("No uncapped twin of a capped SB/LB pair among the records yet.")
        return
    f = formatted(t_cap)
    nets = ", ".join(sorted(set(t_cap.net)))
    sets = run_sets.runs(*((run_sets.find("cap", net, None, tag), sorted(t_cap[t_cap.net == net].seed))
                           for net in sorted(set(t_cap.net)) for tag in ("", UNCAPPED_TAG)
                           if run_sets.find("cap", net, None, tag)))
    where = f" — runs: {sets}" if sets else ""
    show(f[["seed", "budget", "epochs_sb_lb", "stopped_sb_lb", "test_acc_sb", "test_acc_lb", "gap_pt"]],
         f"{nets}: each seed's capped pair beside the same pair under the paper profile's caps: epochs, why each "
         "run stopped, test accuracy and gap" + where, "cap", labels=CAP_LABELS)
    show(f[["seed", "budget", "train_loss_sb", "train_loss_lb", "lb_sb_phi_full", "lb_sb_phi_random", "rise_ratio"]],
         f"{nets}: the same pairs' final training loss and LB/SB ratios of sharpness (φ at ε = 1e-3; full space, "
         "summed loss; random subspace) and of the loss's rise along the SB–LB line (Figure 3)" + where, "capsharp",
         labels=CAP_LABELS)
    if t_cap.seed.nunique() > 1:
        s = cap_summary(t_cap)
        gap = [pm(m, sd) for m, sd in zip(s.gap_pt, s.gap_sd)]
        s = formatted(s.drop(columns=["gap_sd"]))
        s["gap_pt"] = gap
        show(s[["budget", "seeds", "test_acc_sb", "test_acc_lb", "gap_pt", "lb_sb_phi_full", "lb_sb_phi_random",
                "rise_ratio"]], f"{nets} over the seeds that have both budgets: mean test accuracy, gap (mean ± sd) "
             "and LB/SB ratios (mean of LB ÷ mean of SB)" + where, "capsummary", labels=CAP_LABELS)
        from lbgap.book.style import sig, verdict_lines

        raw = cap_summary(t_cap)
        verdict_lines(f"**{r.net}**, {r.budget}: gap {r.gap_pt:.2f} pt; LB/SB φ {sig(r.lb_sb_phi_full)}× "
                      f"in the full space, {sig(r.lb_sb_phi_random)}× in the random subspace; Figure 3's rise "
                      f"{sig(r.rise_ratio)}× (mean of LB ÷ mean of SB)." for r in raw.itertuples())


def _range(values, fmt: str = "{:.3g}") -> str:
    v = [x for x in values if x == x]
    if not v:
        return "—"
    lo, hi = fmt.format(min(v)), fmt.format(max(v))
    return lo if lo == hi else f"{lo}–{hi}"


def _loss_fall_per_epoch(ctx: Context, runs, last: int = 10) -> float:
    """The mean fall of the training loss per epoch (fraction) over the last ``last`` epochs of ``runs``' records,
    geometric over those epochs and averaged over the runs."""
    import numpy as np

    from lbgap.core.records import history_table

    falls = []
    for prof, g in runs.groupby("profile"):
        h = history_table(ctx.results_dir, prof)
        for r in g.itertuples():
            c = h[(h.net == r.net) & (h.regime == r.regime) & (h.seed == r.seed) & (h.tag == r.tag)].sort_values("epoch")
            if len(c) > last:
                a, b = c.train_loss.iloc[-1 - last], c.train_loss.iloc[-1]
                if a > 0 and b > 0:
                    falls.append(1 - (b / a) ** (1 / last))
    return float(np.mean(falls)) if falls else float("nan")


def hessian_tops(ctx: Context, run_ids) -> dict:
    """{run id: (λ_max, how it was computed)} from the sharpness records of ``run_ids`` (any config tag)."""
    from lbgap.book import claims as cl
    from lbgap.core.records import iter_records

    want, out = set(run_ids), {}
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, "sharpness"):
            h = r.get("hessian") or {}
            if r.get("run_id") in want and h.get("top_eigenvalue") is not None and r["run_id"] not in out:
                out[r["run_id"]] = (float(h["top_eigenvalue"]), cl.eigen_label(h))
    return out


def cap_reading(ctx: Context, net: str = "F1") -> list[str]:
    """The cap check in sentences, every number read from the records: how the LB and SB runs of ``net`` stopped
    under either budget, the gap under each and the cap's effect on it (paired by seed), the LB/SB sharpness and
    Figure 3's rise under each, and the Hessian's top eigenvalue with how it was computed."""
    from lbgap.book.stats import signed
    from lbgap.book.style import sig

    t = cap_table(ctx)
    t = t[t.net == net] if len(t) else t
    if t.empty:
        return []
    seeds = sorted(t.seed.unique())
    runs = {"capped": variant_runs(ctx), "uncapped": train_runs(ctx)}
    runs = {k: r[(r.net == net) & r.seed.isin(seeds)] for k, r in runs.items()}
    if any(r.empty for r in runs.values()):
        return []
    name = {"capped": run_sets.short(run_sets.find("cap", net, None, "")),
            "uncapped": run_sets.short(run_sets.find("cap", net, None, UNCAPPED_TAG))}
    by = {k: {reg: r[r.regime == reg].set_index("seed") for reg in ("SB", "LB")} for k, r in runs.items()}

    def stops(d):
        return ", ".join(f"{n} at the {STOP_WORDS.get(s, s)}" for s, n in d.stop_reason.value_counts().items())

    lines = []
    lb_u, lb_c = by["uncapped"]["LB"], by["capped"]["LB"]
    fall = _loss_fall_per_epoch(ctx, runs["uncapped"][runs["uncapped"].regime == "LB"])
    acc = claims.effect(claims.by_seed(lb_u.reset_index().assign(acc=100 * lb_u.test_acc.values), "acc"),
                        claims.by_seed(lb_c.reset_index().assign(acc=100 * lb_c.test_acc.values), "acc"),
                        f"{net} LB uncapped − capped", up="higher without the cap", down="lower without the cap")
    lines.append(f"*LB under the two budgets.* {name['uncapped']}: {stops(lb_u)} (epochs {_range(lb_u.epochs, '{:.0f}')}); "
                 f"final training loss {_range(lb_u.train_loss, '{:.2g}')}, falling by {100 * fall:.2g} % per epoch over "
                 f"the last ten epochs; {name['capped']}: {stops(lb_c)}, final training loss "
                 f"{_range(lb_c.train_loss, '{:.2g}')}. LB's test accuracy {100 * lb_c.test_acc.mean():.2f} % with the "
                 f"cap, {100 * lb_u.test_acc.mean():.2f} % without; paired by seed {acc.words()}.")
    sb_u, sb_c = by["uncapped"]["SB"], by["capped"]["SB"]
    moved = (100 * (sb_u.test_acc - sb_c.test_acc)).dropna()
    lines.append(f"*SB under the two budgets.* {name['uncapped']}: {stops(sb_u)} after "
                 f"{', '.join(f'{e:.0f}' for e in sb_u.epochs)} epochs (seeds {', '.join(map(str, sb_u.index))}); "
                 f"{name['capped']}: {stops(sb_c)} after {', '.join(f'{e:.0f}' for e in sb_c.epochs)}. Test accuracy "
                 f"moved by {', '.join(signed(v) for v in moved)} points (mean {100 * sb_c.test_acc.mean():.2f} % → "
                 f"{100 * sb_u.test_acc.mean():.2f} %).")
    gaps = {k: claims.by_seed(t[t.budget.str.contains("variant" if k == "capped" else "Table 2")], "gap_pt")
            for k in ("capped", "uncapped")}
    cap_effect = claims.effect(gaps["uncapped"], gaps["capped"], f"{net} gap uncapped − capped",
                               up="the gap grows without the cap", down="the gap shrinks without the cap")
    per_seed = ", ".join(f"{gaps['capped'][s]:.2f} → {gaps['uncapped'][s]:.2f}".replace("-", "−") for s in seeds
                         if s in gaps["capped"] and s in gaps["uncapped"])
    lines.append(f"*The gap SB − LB.* {name['capped']}: {claims.mean_ci(gaps['capped'].values()).value:.2f} ± "
                 f"{claims.mean_ci(gaps['capped'].values()).sd:.2f} points; {name['uncapped']}: "
                 f"{claims.mean_ci(gaps['uncapped'].values()).value:.2f} ± {claims.mean_ci(gaps['uncapped'].values()).sd:.2f} "
                 f"(seed by seed {per_seed}). The cap's effect on the gap, paired by seed: "
                 + cap_effect.words() + ".")
    parts, phi_verdict = [], {}
    for k, budget in (("capped", "variant"), ("uncapped", "Table 2")):
        g = t[t.budget.str.contains(budget)]
        c = claims.sharper(claims.by_seed(g, "phi_full_lb"), claims.by_seed(g, "phi_full_sb"), name=f"{net} φ {k}")
        phi_verdict[k] = c.verdict
        parts.append(f"{name[k]}: φ_LB {_range(g.phi_full_lb)}, LB/SB {claims.ratio_words(c)} "
                     f"({claims.phrase(c)}; per seed {_range(g.lb_sb_phi_full)}×), Figure 3's rise LB ÷ SB "
                     f"{_range(g.rise_ratio, '{:,.0f}')}×")
    low = t.loc[t.lb_sb_phi_full.idxmin()]
    lines.append("*Sharpness (φ at ε = 10⁻³, full space, summed loss).* " + "; ".join(parts) + f". The smallest "
                 f"ratio belongs to seed {int(low.seed)}, {low.budget}: SB stopped after {low.epochs_sb_lb.split(' / ')[0]} "
                 f"epochs at a training loss of {low.train_loss_sb:.2g}, φ_SB {sig(low.phi_full_sb)}.")
    ids = {k: {reg: dict(zip(r[r.regime == reg].seed, r[r.regime == reg].run_id)) for reg in ("SB", "LB")}
           for k, r in runs.items()}
    tops = hessian_tops(ctx, [rid for k in ids.values() for d in k.values() for rid in d.values()])
    if tops:
        import pandas as pd

        hp, disagree = [], []
        for k in ("capped", "uncapped"):
            lam = {reg: {s: tops[rid][0] for s, rid in ids[k][reg].items() if rid in tops} for reg in ("SB", "LB")}
            how = pd.Series([tops[rid][1] for reg in ("SB", "LB") for rid in ids[k][reg].values() if rid in tops])
            c = claims.sharper(lam["LB"], lam["SB"], name=f"{net} λ_max {k}")
            hp.append(f"{name[k]}: λ_max {_range(lam['LB'].values())} at x_LB, {_range(lam['SB'].values())} at x_SB, "
                      f"LB/SB {claims.ratio_words(c)} ({claims.phrase(c)}; λ_max by "
                      + "; ".join(f"{m} ({n} of {len(how)} entries)" for m, n in how.value_counts().items()) + ")")
            if {c.verdict, phi_verdict[k]} == {"LB sharper", "LB flatter"}:
                disagree.append(name[k])
        lines.append("*The Hessian's top eigenvalue at the same points.* " + "; ".join(hp) + "."
                     + (f" On the {' and the '.join(disagree)} φ and λ_max disagree on which minimiser is the sharper: "
                        "φ measures the largest rise in a box of relative size ε, λ_max the curvature at the point "
                        "itself." if disagree else ""))
    return lines


def show_cap_reading(ctx: Context) -> None:
    """:func:`cap_reading` as bullets (nothing without a cap check)."""
    from lbgap.book.style import verdict_lines

    lines = cap_reading(ctx)
    if lines:
        verdict_lines(lines)
