"""The remedies chapter (Appendix E, Tables 6-7): conservative (proximal) training of LB and its control (the
same 3 Adam steps per batch without the proximal term), and data augmentation, beside the paper's tables."""
from __future__ import annotations

from lbgap.book.context import Context
from lbgap.book.paper import paper_table
from lbgap.book.style import fold_constant, show
from lbgap.book import claims, run_sets


def compute(ctx: Context) -> None:
    from lbgap.studies import remedies

    if ctx.profile == "smoke":     # synthetic data, one seed: conservative F1 and augmented C1, f on 64 examples
        for net, remedy in (("F1", "conservative"), ("F1", "repeat3"), ("C1", "augment")):
            remedies.run(net, seeds=ctx.seeds[:1], profile="smoke", remedy=remedy, train_examples=64,
                         results_dir=ctx.results_dir)
    elif ctx.profile in ("quick", "paper"):   # F1 on this CPU (50-epoch cap); the rest on a GPU (C3/C4: no pixels here)
        for net in [n for n in ctx.nets if n in ("F1", "F2", "C1", "C2")]:
            for remedy in ("conservative", "repeat3"):   # Table 7 and its control (3 Adam steps per batch, lambda = 0)
                remedies.run(net, seeds=ctx.seeds, profile=ctx.profile, remedy=remedy, results_dir=ctx.results_dir,
                             device=ctx.device, **(dict(max_epochs=50) if net == "F1" else {}))
            if net != "F1" and net.startswith("C"):
                remedies.run(net, seeds=ctx.seeds, profile=ctx.profile, remedy="augment", results_dir=ctx.results_dir,
                             device=ctx.device)


def runs(ctx: Context, remedy: str = "conservative"):
    """Per (network, seed) of the requested ones: Table 2's SB and LB beside the remedy's runs (``remedies.table``)."""
    from lbgap.studies import remedies

    def load():
        df = remedies.table(ctx.results_dir, ctx.record_profiles, remedy)
        return df[df.net.isin(ctx.nets) & df.seed.isin(ctx.seeds)]

    return ctx.memo(f"remedies-{remedy}", load)


def run_set_words(df, study: str = "table7") -> str:
    """The run set of a remedy's per-seed table ``df`` (:func:`runs`, :func:`control_runs`), with its seeds."""
    return run_sets.describe(study, df)


def compare_with_paper(df, remedy: str = "conservative"):
    """Per network: mean ± std over seeds of the test accuracies (Table 2 SB and LB, the remedy's runs) and of phi
    (full space, summed objective) at both eps of Table 2 SB and LB and of the remedy's LB, beside the paper's
    Table 7 (conservative) or 6 (augment)."""
    import pandas as pd

    from lbgap.studies.remedies import LABELS, REMEDIES

    if df.empty:
        return pd.DataFrame()
    paper = paper_table(REMEDIES[remedy]["table"]).set_index("network")
    label = LABELS[remedy]
    trains_sb = "SB" in REMEDIES[remedy]["regimes"]

    def ms(s, digits=2):
        s = s.dropna()
        if not len(s):
            return "–"
        return f"{s.mean():.{digits}f} ± {s.std():.{digits}f}" if len(s) > 1 else f"{s.mean():.{digits}f}"

    rows = []
    for net, g in df.groupby("net"):
        p = paper.loc[net] if net in paper.index else None

        def paper_cell(col, d=2, p=p):
            return f"{p[col + '_mean']:.{d}f} ± {p[col + '_std']:.{d}f}" if p is not None else "–"

        row = {"network": net, "n": len(g), "SB test %": ms(g.test_acc_sb), "LB test %": ms(g.test_acc_lb)}
        if trains_sb:
            row[f"{label} SB test %"] = ms(g.test_acc_remedy_sb)
        row[f"{label} LB test %"] = ms(g.test_acc_remedy)
        row[f"paper {label + ' ' if trains_sb else ''}SB test %"] = paper_cell("test_acc_sb")
        row[f"paper {label} LB test %"] = paper_cell("test_acc_lb")
        for eps, tag in ((1e-3, "1e-3"), (5e-4, "5e-4")):
            row[f"SB φ {tag}"] = ms(g[f"phi_sb_full_{eps:g}"], 1)
            row[f"LB φ {tag}"] = ms(g[f"phi_lb_full_{eps:g}"], 1)
            row[f"{label} LB φ {tag}"] = ms(g[f"phi_remedy_full_{eps:g}"], 1)
            row[f"paper φ {tag}"] = paper_cell(f"phi_eps{tag}", 2)
        rows.append(row)
    return pd.DataFrame(rows)


def per_seed(df):
    """Per seed: Table 2 SB and LB against conservative LB, formatted."""
    import pandas as pd

    return pd.DataFrame({
        "network": df.net, "seed": df.seed,
        "SB test %": df.test_acc_sb.map("{:.2f}".format), "LB test %": df.test_acc_lb.map("{:.2f}".format),
        "conservative LB test %": df.test_acc_remedy.map("{:.2f}".format),
        "Δ test (cons. − LB)": (df.test_acc_remedy - df.test_acc_lb).map("{:+.2f}".format),
        "train loss LB": df.train_loss_lb.map("{:.2g}".format),
        "train loss cons.": df.train_loss_remedy.map("{:.2g}".format),
        "φ SB 1e-3": df["phi_sb_full_0.001"].map("{:.1f}".format),
        "φ LB 1e-3": df["phi_lb_full_0.001"].map("{:.1f}".format),
        "φ cons. 1e-3": df["phi_remedy_full_0.001"].map("{:.1f}".format),
        "φ LB 5e-4": df["phi_lb_full_0.0005"].map("{:.1f}".format),
        "φ cons. 5e-4": df["phi_remedy_full_0.0005"].map("{:.1f}".format),
        "φ rand. LB 1e-3": df["phi_lb_random_0.001"].map("{:.2f}".format),
        "φ rand. cons. 1e-3": df["phi_remedy_random_0.001"].map("{:.2f}".format)})


# the paired comparisons over seeds: (label, column a, column b) -> a − b
EFFECTS = [("test %: conservative − plain LB", "test_acc_remedy", "test_acc_lb"),
           ("test %: SB − conservative", "test_acc_sb", "test_acc_remedy"),
           ("φ 1e-3: conservative − plain LB", "phi_remedy_full_0.001", "phi_lb_full_0.001"),
           ("φ 5e-4: conservative − plain LB", "phi_remedy_full_0.0005", "phi_lb_full_0.0005")]
CONTROL_EFFECTS = [("test %: 3 steps, λ = 0 − plain LB", "test_acc_control", "test_acc_lb"),
                   ("test %: conservative − 3 steps, λ = 0", "test_acc_remedy", "test_acc_control"),
                   ("φ 1e-3: 3 steps, λ = 0 − plain LB", "phi_control_full_0.001", "phi_lb_full_0.001"),
                   ("φ 5e-4: 3 steps, λ = 0 − plain LB", "phi_control_full_0.0005", "phi_lb_full_0.0005")]


def control_runs(ctx: Context):
    """Per (network, seed): conservative LB beside its control (``remedies.control_table``)."""
    from lbgap.studies import remedies

    ctl = remedies.control_table(ctx.results_dir, ctx.record_profiles)
    return ctl[ctl.net.isin(ctx.nets) & ctl.seed.isin(ctx.seeds)] if len(ctl) else ctl


def effects(ctx: Context):
    """Paired differences over seeds (:data:`EFFECTS`, and :data:`CONTROL_EFFECTS` where there are control runs)."""
    import pandas as pd

    from lbgap.studies import remedies

    ctl = control_runs(ctx)
    eff = pd.concat([remedies.paired_effects(runs(ctx), EFFECTS)]
                    + ([remedies.paired_effects(ctl, CONTROL_EFFECTS)] if len(ctl) else []), ignore_index=True)
    if len(eff):
        eff = eff.assign(**{"a − b (mean ± std)": [f"{m:+.3g} ± {s:.2g}" for m, s in zip(eff["mean"], eff["std"])],
                            "seeds with a > b": [f"{a} of {n}" for a, n in zip(eff.a_larger, eff.n)],
                            "paired t-test p": eff.p.map(lambda p: "—" if p != p else f"{p:.2g}")})
    return eff


def control_per_seed(ctl):
    import pandas as pd

    return pd.DataFrame({"network": ctl.net, "seed": ctl.seed, "LB test %": ctl.test_acc_lb.map("{:.2f}".format),
                         "conservative test %": ctl.test_acc_remedy.map("{:.2f}".format),
                         "3 steps, λ = 0 test %": ctl.test_acc_control.map("{:.2f}".format),
                         "train loss cons.": ctl.train_loss_remedy.map("{:.2g}".format),
                         "train loss 3 steps, λ = 0": ctl.train_loss_control.map("{:.2g}".format),
                         "φ cons. 1e-3": ctl["phi_remedy_full_0.001"].map("{:.1f}".format),
                         "φ 3 steps, λ = 0, 1e-3": ctl["phi_control_full_0.001"].map("{:.1f}".format),
                         "φ cons. 5e-4": ctl["phi_remedy_full_0.0005"].map("{:.1f}".format),
                         "φ 3 steps, λ = 0, 5e-4": ctl["phi_control_full_0.0005"].map("{:.1f}".format)})


# ------------------------------------------------------------------------------------ what the notebook shows
def show_runs(ctx: Context) -> None:
    df = runs(ctx)
    for (net, prof), d in df.groupby(["net", "profile"]):
        print(f"{net} ({prof} profile): LB B = {d.batch_size.iloc[0]:,}, seeds {sorted(int(s) for s in d.seed)}; "
              f"conservative LB trained {'–'.join(dict.fromkeys(str(e) for e in (d.epochs.min(), d.epochs.max())))} "
              f"epochs ({', '.join(sorted(set(d.stop_reason)))})")
    if df.empty:
        print("no conservative-training records")


def by_measure(cmp):
    """:func:`compare_with_paper` with one row per network and measure (test accuracy, φ at each ε) and the
    regimes as columns, ours then the paper's, "—" where a regime has no such number (the paper gives φ of the
    remedy's LB only): the table fits the column however many regimes the remedy has."""
    import pandas as pd

    measures = {" test %": "test accuracy (%)", " φ 1e-3": "φ at ε = 1e-3", " φ 5e-4": "φ at ε = 5e-4"}
    remedy_lb = next(c[:-len(" test %")] for c in cmp.columns if c.endswith(" LB test %") and c.startswith("paper "))
    rows = []
    for _, r in cmp.iterrows():
        for suffix, measure in measures.items():
            row = {"network": r["network"], "seeds": r["n"], "measure": measure}
            for col in cmp.columns:
                if col.endswith(suffix):
                    regime = col[:-len(suffix)]
                    regime = remedy_lb if regime == "paper" else regime      # the paper's φ is its remedy LB's
                    row[regime.replace("paper ", "paper: ")] = r[col]
            rows.append(row)
    out = pd.DataFrame(rows)
    ours = [c for c in out.columns[3:] if not c.startswith("paper")]
    return out[["network", "seeds", "measure", *ours, *[c for c in out.columns[3:] if c not in ours]]].fillna("—")


def show_table7(ctx: Context) -> None:
    cmp = compare_with_paper(runs(ctx), "conservative")
    if len(cmp):
        t, same = fold_constant(by_measure(cmp), keep=("measure",))
        show(t, "Table 7: test accuracy and LB sharpness with conservative training (mean ± std over seeds"
             + (f"; {same})" if same else ")") + " — runs: " + run_set_words(runs(ctx)), "table7")
    else:
        print("nothing to compare")


def show_per_seed(ctx: Context) -> None:
    df = runs(ctx)
    if len(df):
        t = per_seed(df)          # two tables, so that each fits the column
        show(t[["network", "seed", "SB test %", "LB test %", "conservative LB test %", "Δ test (cons. − LB)",
                "train loss LB", "train loss cons."]],
             "Per seed: test accuracy of SB and LB (the 50-epoch variant of Table 2's runs) against conservative LB, "
             "and the final training loss — runs: " + run_set_words(df), "table7-seeds")
        show(t[["network", "seed", *[c for c in t.columns if c.startswith("φ")]]],
             "Per seed: sharpness φ (full space, summed loss, unless marked rand.: the random subspace) — runs: "
             + run_set_words(df), "table7-seeds-phi")


def show_control(ctx: Context) -> None:
    """The paired tests, the control runs seed by seed, and the same runs recomputed on another machine (the
    noise floor of a seed-by-seed comparison across machines; see the reproducibility chapter)."""
    from lbgap.book.reproducibility import rerun_table, show_rerun_tables

    eff = effects(ctx)
    if len(eff):
        show(eff[["network", "comparison", "a − b (mean ± std)", "seeds with a > b", "paired t-test p"]],
             "Paired differences over seeds (φ: full space, summed loss) — runs: " + run_set_words(runs(ctx)),
             "table7-tests")
    else:
        print("nothing to test")
    ctl = control_runs(ctx)
    if len(ctl):
        show(control_per_seed(ctl), "The control: conservative training against the same 3 Adam steps per batch "
             "without the proximal term — runs: " + run_set_words(ctl), "table7-control")
    else:
        print("no control runs (lbgap sweep remedy --remedy repeat3)")
    t_rerun = rerun_table(ctx)
    t_rerun = t_rerun[t_rerun.run.str.startswith(tuple(ctx.nets))] if len(t_rerun) else t_rerun
    if len(t_rerun):
        show_rerun_tables(t_rerun, "The same runs recomputed with an unchanged configuration (after the control; the "
                          "dates are the records')", "table7-rerun", ctx)


def show_table6(ctx: Context) -> None:
    aug = runs(ctx, "augment")
    if len(aug):
        show(by_measure(compare_with_paper(aug, "augment")), "Table 6: test accuracy and LB sharpness with "
             "data augmentation (mean ± std over seeds) — runs: " + run_set_words(aug, "table6"), "table6")
    else:
        print("no data-augmentation records (Table 6's networks are convolutional: GPU work)")


def show_networks(ctx: Context) -> None:
    df, aug = runs(ctx), runs(ctx, "augment")
    for net in ctx.nets:
        d, a = df[df.net == net], aug[aug.net == net]
        words = [f"Table 7 {d.profile.iloc[0]} profile, {len(d)} seed{'s' * (len(d) > 1)}" if len(d)
                 else "no Table 7 records"]
        if net.startswith("C"):
            words.append(f"Table 6 {a.profile.iloc[0]} profile, {len(a)} seed{'s' * (len(a) > 1)}" if len(a)
                         else "no Table 6 records")
        print(f"{net}: " + "; ".join(words))


def readings(ctx: Context) -> list[str]:
    """Table 7 as claims (:func:`conservative`, each paired by seed with its 95 % t interval):
    conservative − plain LB, the λ = 0 control − plain LB, conservative − control (the proximal term itself)."""
    from lbgap.book import run_sets

    words = {"improves": "improves on plain LB", "worsens": "falls below plain LB", "unresolved": "unresolved"}
    lines = []
    for net in ctx.nets:
        k = conservative(ctx, net)
        if not k:
            continue
        where = run_sets.get("F1-table7").name if net == "F1" else net
        line = (f"**{net}, {where}.** Conservative − plain LB: {words[k['conservative'].verdict]}, "
                f"{k['conservative'].stat()}")
        if "control" in k:
            line += (f"; control (three Adam steps, λ = 0) − plain LB: {words[k['control'].verdict]}, "
                     f"{k['control'].stat()}; conservative − control, the proximal term itself: "
                     + ("resolved, " if k["proximal"].resolved else "unresolved, ") + k["proximal"].stat())
        lines.append(line + ".")
    return lines


def show_readings(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    lines = readings(ctx)
    if lines:
        verdict_lines(lines)


def _ms(s, digits: int = 2) -> str:
    s = s.dropna()
    return f"{s.mean():.{digits}f} ± {s.std():.{digits}f}" if len(s) > 1 else (f"{s.mean():.{digits}f}" if len(s) else "—")


def detail_lines(ctx: Context, net: str = "F1") -> list[str]:
    """Table 7 read in sentences, every number from the records and every comparison by a rule (paired by seed:
    :func:`lbgap.book.claims.effect`; ratios: :func:`lbgap.book.claims.sharper`): the accuracy half against plain LB,
    SB and the paper, the sensitivity half (φ at both ε, the random subspace), the λ = 0 control, and how far one
    seed's run moves when it is recomputed (the reruns)."""
    from lbgap.book.paper import paper_table
    from lbgap.book.reproducibility import rerun_table
    from lbgap.book.stats import signed

    c = control_runs(ctx)
    c = c[(c.net == net) & c.test_acc_lb.notna()]
    k = conservative(ctx, net)
    if c.empty or not k:
        return []
    by = claims.by_seed
    base = run_sets.short(run_sets.find("table2", net, "paper", "") or "F1-50epoch") if net == "F1" else net
    d = c.test_acc_remedy - c.test_acc_lb
    sb_cons = claims.effect(by(c, "test_acc_sb"), by(c, "test_acc_remedy"), f"{net} SB − conservative",
                            up="SB ahead", down="conservative ahead")
    p7, p2 = paper_table(7).set_index("network"), paper_table(2).set_index("network")
    lines = [f"**The accuracy half.** Plain LB ({base}) {_ms(c.test_acc_lb)} %, conservative LB {_ms(c.test_acc_remedy)} %: "
             f"higher in {int((d > 0).sum())} of {len(d)} seeds (per seed {signed(d.min())} to {signed(d.max())} pt); "
             f"conservative − plain LB {k['conservative'].words()}. SB of the same seeds {_ms(c.test_acc_sb)} %; SB − "
             f"conservative {sb_cons.words()}, SB ahead in {int((c.test_acc_sb > c.test_acc_remedy).sum())} of {len(c)} "
             "seeds."
             + (f" The paper's Table 7: conservative LB {p7.loc[net, 'test_acc_lb_mean']:.2f} ± "
                f"{p7.loc[net, 'test_acc_lb_std']:.2f} % against its Table 2 LB {p2.loc[net, 'test_acc_lb_mean']:.2f} % "
                f"({signed(p7.loc[net, 'test_acc_lb_mean'] - p2.loc[net, 'test_acc_lb_mean'])} pt) and its SB "
                f"{p7.loc[net, 'test_acc_sb_mean']:.2f} %." if net in p7.index else "")]
    parts = []
    for eps, tag, digits, ptag in ((1e-3, "10⁻³", 0, "1e-3"), (5e-4, "5·10⁻⁴", 1, "5e-4")):
        col = f"_full_{eps:g}"
        e_ = claims.effect(by(c, "phi_remedy" + col), by(c, "phi_lb" + col), f"{net} φ cons − LB", up="higher",
                           down="lower")
        r = claims.sharper(by(c, "phi_remedy" + col), by(c, "phi_sb" + col), name=f"{net} φ cons / SB")
        paper = (f"; the paper's conservative LB {p7.loc[net, f'phi_eps{ptag}_mean']:.1f} ± "
                 f"{p7.loc[net, f'phi_eps{ptag}_std']:.1f}" if net in p7.index else "")
        parts.append(f"at ε = {tag}, φ of conservative LB {_ms(c['phi_remedy' + col], digits)} against plain LB "
                     f"{_ms(c['phi_lb' + col], digits)}, conservative − plain LB {e_.words(digits=1, unit='')}; over SB's "
                     f"{c['phi_sb' + col].mean():.2g}: {claims.ratio_words(r)} ({claims.phrase(r)}){paper}")
    rnd, lnd = c["phi_remedy_random_0.001"], c["phi_lb_random_0.001"]
    parts.append(f"in the random subspace (ε = 10⁻³) conservative {rnd.min():.2f}–{rnd.max():.2f} against plain LB "
                 f"{lnd.min():.2f}–{lnd.max():.2f}, conservative higher in {int((rnd > lnd).sum())} of {len(c)} seeds")
    s = "; ".join(parts)
    lines.append("**The sensitivity half** (φ: full space, summed loss). " + s[0].upper() + s[1:] + ".")
    if "control" in k:
        cp = []
        for eps, tag, digits in ((1e-3, "10⁻³", 0), (5e-4, "5·10⁻⁴", 1)):
            col = f"_full_{eps:g}"
            e_ = claims.effect(by(c, "phi_control" + col), by(c, "phi_lb" + col), f"{net} φ control − LB",
                               up="higher", down="lower")
            cp.append(f"φ at ε = {tag} {_ms(c['phi_control' + col], digits)}, control − plain LB "
                      f"{e_.words(digits=1, unit='')}")
        lines.append(f"**The λ = 0 control** (the same three Adam steps per batch without the proximal term): test "
                     f"accuracy {_ms(c.test_acc_control)} %, control − plain LB {k['control'].words()}; final training "
                     f"loss {c.train_loss_control.min():.2g}–{c.train_loss_control.max():.2g} (conservative "
                     f"{c.train_loss_remedy.min():.2g}–{c.train_loss_remedy.max():.2g}, plain LB "
                     f"{c.train_loss_lb.min():.2g}–{c.train_loss_lb.max():.2g}); " + "; ".join(cp)
                     + f". Conservative − control, the proximal term itself: {k['proximal'].words()}.")
    rr = rerun_table(ctx)
    rr = rr[rr.run.str.startswith(net)] if len(rr) else rr
    if len(rr):
        moved = [float(str(v).replace("−", "-")) for v in rr.diff_pt]
        lines.append(f"**How far one seed's run moves when recomputed** (the reruns below, same configuration, another "
                     f"CPU): {', '.join(signed(v) for v in moved)} points of test accuracy.")
    return lines


def show_details(ctx: Context) -> None:
    from lbgap.book.style import verdict_lines

    ctl = control_runs(ctx)
    for net in ctx.nets:
        lines = detail_lines(ctx, net)
        if lines:
            verdict_lines([f"**{net}**, run set: {run_set_words(ctl[ctl.net == net])}."] + lines)


def conservative(ctx, net: str = "F1") -> dict:
    """Table 7 on ``net``: conservative − plain LB, its λ = 0 control − plain LB, and conservative − control,
    each paired by seed (:func:`effect`). {} without conservative runs."""
    from lbgap.book import remedies

    c = remedies.control_runs(ctx)
    c = c[(c.net == net) & c.test_acc_lb.notna()]
    if c.empty:
        return {}
    out = {"conservative": claims.effect(claims.by_seed(c, "test_acc_remedy"), claims.by_seed(c, "test_acc_lb"),
                                  f"{net} conservative − LB")}
    if "test_acc_control" in c and c.test_acc_control.notna().any():
        out["control"] = claims.effect(claims.by_seed(c, "test_acc_control"), claims.by_seed(c, "test_acc_lb"), f"{net} control − LB")
        out["proximal"] = claims.effect(claims.by_seed(c, "test_acc_remedy"), claims.by_seed(c, "test_acc_control"),
                                 f"{net} conservative − control")
    return out
