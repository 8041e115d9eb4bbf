"""The front page: the headline (the test-accuracy gap per network, ours beside the paper's) and the scorecard
(every measurable claim of the paper, read from the same records with the same functions as the chapters)."""
from __future__ import annotations

from lbgap.book.context import Context, lb_over_sb, shown_nets, shown_seeds
from lbgap.book.coverage import MISSING_REASON
from lbgap.book.paper import paper_table
from lbgap.book.sb_vs_lb import gap_claim, table2_numbers, table2_run_sets, train_runs, verdict
from lbgap.book.stats import signed
from lbgap.book.style import styled
from lbgap.book import claims


# the front page's tables' columns and their display labels (applied only when shown)
HEADLINE_LABELS = {"paper_test_sb_lb": "paper: SB / LB (%)", "paper_gap_pt": "paper: gap (pt)",
                   "ours_test_sb_lb": "ours: SB / LB (%)", "ours_gap_pt": "ours: gap (pt)"}


def headline(ctx: Context):
    """Front page: the test-accuracy gap SB − LB per network, ours against the paper's, or why it is missing
    (columns of :data:`HEADLINE_LABELS`, network, data and verdict)."""
    import pandas as pd

    nums, paper = table2_numbers(ctx), paper_table(2).set_index("network")
    rows = []
    for net in shown_nets(ctx):
        p = paper.loc[net]
        row = {"network": net, "data": {"F1": "MNIST", "F2": "TIMIT → speechocean762", "C1": "CIFAR-10",
                                        "C2": "CIFAR-10", "C3": "CIFAR-100", "C4": "CIFAR-100"}[net],
               "paper_test_sb_lb": f"{p.test_acc_sb_mean:.2f} / {p.test_acc_lb_mean:.2f}",
               "paper_gap_pt": f"{p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}"}
        have = nums[nums.net == net]
        if set(have.regime) >= {"SB", "LB"}:
            sb = have[have.regime == "SB"].iloc[0].to_dict()
            lb = have[have.regime == "LB"].iloc[0].to_dict()
            row.update({"ours_test_sb_lb": f"{sb['test_acc']:.2f} / {lb['test_acc']:.2f}",
                        "ours_gap_pt": f"{sb['test_acc'] - lb['test_acc']:.2f}",
                        "verdict": verdict(net, sb, lb, p.test_acc_sb_mean - p.test_acc_lb_mean,
                                           gap_claim(train_runs(ctx), net, p.test_acc_sb_mean - p.test_acc_lb_mean))})
        else:
            row.update({"ours_test_sb_lb": "—", "ours_gap_pt": "—", "verdict": MISSING_REASON[net]})
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


def _records(ctx: Context, kind: str) -> list[dict]:
    """The records of ``kind`` the chapters read (best profile first), for the requested networks and seeds."""
    from lbgap.core.records import preferred_records

    return [r for r in preferred_records(ctx.results_dir, ctx.record_profiles, kind)
            if r["net"] in ctx.nets and r["seed"] in shown_seeds(ctx)]


# (column, label, paper table, space, objective) of each sharpness claim of the scorecard
SHARPNESS_CLAIMS = (("phi_table3", "Table 3 φ LB/SB", 3, "full", "mean"),
                    ("phi_table3_sum", "Table 3, summed loss", 3, "full", "sum"),
                    ("phi_table4", "Table 4 φ LB/SB", 4, "random", "mean"))


def sharpness_ratios(ctx: Context) -> dict:
    """(claim column, net) -> (LB/SB ratio of the mean ε-sharpness at ε = 1e-3, seeds): the sharpness chapter's
    summary (``sharpness.summary``) for each claim of :data:`SHARPNESS_CLAIMS`."""
    from lbgap.measures import sharpness

    sharp = sharpness.sharpness_table(records=_records(ctx, "sharpness"))
    ratios = {}
    for key, _, _, space, objective in SHARPNESS_CLAIMS:
        s = sharpness.summary(sharp[sharp.space == space], objective=objective) if len(sharp) else sharp
        for _, h in (s[(s.eps == 1e-3) & s.lb_sb.notna()] if "lb_sb" in s else s.iloc[0:0]).iterrows():
            ratios[key, h.net] = (h.lb_sb, int(min(h.count_sb, h.count_lb)))
    return ratios


def conservative_runs(ctx: Context):
    """Table 7 per seed (``remedies.table``) for the requested seeds, where the plain LB run of the seed exists."""
    from lbgap.studies import remedies

    cons = remedies.table(ctx.results_dir, ctx.record_profiles)
    return cons[cons.seed.isin(shown_seeds(ctx)) & cons.test_acc_lb.notna()]


def scorecard(ctx: Context):
    """Front page: every measurable claim of the paper per network, ours beside the paper's, read from the same
    records and with the same functions as the chapters. Table 2: test gap SB − LB (pt). Tables 3/4: LB/SB ratio
    of the mean ε-sharpness at ε = 1e-3, full space (the mean-loss objective as specified, and the summed one)
    and random 100-dim subspace. Figure 3 and Li et al. (2018): how much more the training loss rises beyond
    LB than beyond SB, along the SB–LB line (α 1→1.5 against 0→−0.5) and along each solution's own
    filter-normalised direction (to t = ±1); the paper has no number for these, only the picture (LB's side
    steeper, ratio > 1). Table 7: how many points conservative (proximal) training adds to LB's test accuracy,
    per seed against the plain LB run of that seed (the paper's: its Table 7 LB minus its Table 2 LB). n: seeds
    behind our number (the fewer of SB's and LB's). Columns: network and those of :func:`scorecard_labels`."""
    import pandas as pd

    from lbgap.measures import landscape

    ratios = sharpness_ratios(ctx)
    land = landscape.seed_summary(landscape.table2_records(_records(ctx, "landscape")))
    nums, paper2 = table2_numbers(ctx), paper_table(2).set_index("network")
    cons, paper7 = conservative_runs(ctx), paper_table(7).set_index("network")
    tables = {k: paper_table(k).set_index("network") for k in (3, 4)}
    rows = []
    for net in shown_nets(ctx):
        p = paper2.loc[net]
        have = nums[nums.net == net]
        row = {"network": net}
        if set(have.regime) >= {"SB", "LB"}:
            sb, lb = (have[have.regime == r].iloc[0] for r in ("SB", "LB"))
            row["our_runs"] = f"{sb.profile}, {sb.epochs:.0f}/{lb.epochs:.0f} epochs"
            c = gap_claim(train_runs(ctx), net, p.test_acc_sb_mean - p.test_acc_lb_mean)   # paired by seed
            lo, hi = c.estimate.ci
            ours = (f"{sb.test_acc - lb.test_acc:.2f} (n={c.n}" + (f", 95 % CI {signed(lo)} … {signed(hi)})"
                                                                  if lo == lo else ")"))
        else:
            row["our_runs"], ours = MISSING_REASON[net], "—"
        row["gap_pt"] = f"{ours} / {p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}"
        for key, _, k, space, objective in SHARPNESS_CLAIMS:
            paper = round(float(tables[k].loc[net, "lb_eps1e-3_mean"] / tables[k].loc[net, "sb_eps1e-3_mean"]))
            row[key] = ratio_words(*ratios.get((key, net), (None, 0)), paper)
            if (key, net) in ratios:
                c = sharpness_f1(ctx, space=space, objective=objective, net=net)
                if c is not None and c.verdict == "solver stall":   # L-BFGS-B barely left y = 0 (claims.sharper)
                    row[key] += " (solver stall)"
        d = land[land.net == net] if len(land) else land
        for key, lb_col, sb_col in (("rise_ratio", "rise_lb", "rise_sb"),
                                    ("filter_rise_ratio", "lb_rise_t1", "sb_rise_t1")):
            both = d[[lb_col, sb_col]].dropna() if lb_col in d and sb_col in d else pd.DataFrame()
            row[key] = ratio_words(lb_over_sb(both[lb_col], both[sb_col]) if len(both) else None, len(both))
        c = cons[cons.net == net]
        ours = f"{(c.test_acc_remedy - c.test_acc_lb).mean():+.2f} (n={len(c)})" if len(c) else "—"
        theirs = paper7.loc[net, "test_acc_lb_mean"] - p.test_acc_lb_mean if net in paper7.index else float("nan")
        row["conservative_pt"] = f"{ours} / {theirs:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def scorecard_labels() -> dict:
    """{column: display label} of :func:`scorecard`."""
    from lbgap.measures.landscape import FILTER_RISE_RATIO, RISE_RATIO

    return {"our_runs": "our runs", "gap_pt": "Table 2 gap (pt), ours / paper",
            **{key: f"{label} (ε=1e-3), ours / paper" for key, label, *_ in SHARPNESS_CLAIMS},
            "rise_ratio": RISE_RATIO, "filter_rise_ratio": FILTER_RISE_RATIO,
            "conservative_pt": "Table 7 conservative − plain LB test (pt), ours / paper"}


# ------------------------------------------------------------------------------------ the answer and the status
def answer_numbers(ctx: Context) -> dict:
    """The claims and numbers of the front page's answer, each from the function the chapter that defends it uses:
    F1's Table 2 gap paired by seed (sb_vs_lb.table2_gap), its LB/SB sharpness paired by seed (:func:`sharpness_f1`),
    what conservative training adds (remedies.conservative), C1's gap at the quick budget, F1's steps to the target
    and the fitted critical batch (batch_vs_iterations.tuned, .fits), the measured noise scale
    (batch_vs_iterations.b_simple) and the huge-N regression's fastest SGD against the exact solve
    (:func:`regression_claim`). An entry whose records are missing is None; any other failure raises."""
    import dataclasses

    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.book import run_sets, sb_vs_lb

    out = {}
    nums = table2_numbers(ctx)
    f1 = {r: nums[(nums.net == "F1") & (nums.regime == r)] for r in ("SB", "LB")}
    if all(len(v) for v in f1.values()):
        sb, lb = (f1[r].iloc[0] for r in ("SB", "LB"))
        out["gap"] = dict(sb=sb.test_acc, lb=lb.test_acc, n=int(min(sb.n, lb.n)), epochs_sb=sb.epochs,
                          epochs_lb=lb.epochs, b_sb=int(sb.batch_size), b_lb=int(lb.batch_size), profile=sb.profile,
                          seeds=sorted(set(map(int, sb.seeds.split(","))) & set(map(int, lb.seeds.split(",")))),
                          claim=sb_vs_lb.table2_gap(ctx), run_set=run_sets.find("table2", "F1", sb.profile, sb.tag))
    summed, mean = sharpness_f1(ctx, objective="sum"), sharpness_f1(ctx, objective="mean")
    p3 = paper_table(3).set_index("network").loc["F1"]
    out["sharpness"] = summed and mean and dict(summed=summed, mean=mean,
                                                paper=round(float(p3["lb_eps1e-3_mean"] / p3["sb_eps1e-3_mean"])))
    quick = train_runs_of(ctx, "C1", "quick")
    if quick is not None:
        out["quick_gap"] = quick
    from lbgap.book import remedies

    out["conservative"] = remedies.conservative(ctx) or None
    steps_ctx = dataclasses.replace(ctx)   # the chapter's own memo, apart from this page's
    out["steps"] = None
    if not bvi.runs(steps_ctx).empty:
        t = bvi.tuned(steps_ctx)
        adam = t[t.optimizer == "adam"].groupby("batch_size")[bvi.columns(steps_ctx)[0]].mean()
        fit = bvi.fits(steps_ctx)[0].get("adam")
        if fit is not None:
            out["steps"] = dict(target=bvi.target(steps_ctx), by_batch=adam.dropna().to_dict(), b_crit=fit["b_crit"],
                                ci=fit["b_crit_ci"], runs=fit["n_runs"])
    from lbgap.measures import noise

    tracks = [r for r in noise.load(ctx.results_dir, bvi.record_profile(steps_ctx)).values() if r.get("what") == "track"]
    out["noise"] = bvi.b_simple(steps_ctx) if tracks else None
    out["regression"] = regression_claim(ctx)
    return out


def train_runs_of(ctx: Context, net: str, profile: str) -> dict | None:
    """``net``'s gap SB − LB at equal epochs under record ``profile`` (the quick budget), paired by seed
    (claims.effect: "LB tests lower" / "LB tests higher" / "unresolved"), with the steps each made."""
    from lbgap.book import claims

    nums = table2_numbers(ctx)
    q = nums[(nums.net == net) & (nums.profile == profile)]
    if not set(q.regime) >= {"SB", "LB"}:
        return None
    runs = train_runs(ctx)
    g = runs[(runs.net == net) & (runs.profile == profile)].assign(acc=lambda d: 100 * d.test_acc)
    sb, lb = (claims.by_seed(g[g.regime == r], "acc") for r in ("SB", "LB"))
    s, b = (q[q.regime == r].iloc[0] for r in ("SB", "LB"))
    return dict(net=net, epochs=b.epochs, steps_sb=s.steps, steps_lb=b.steps,
                claim=claims.effect(sb, lb, f"{net} quick gap", up="LB tests lower", down="LB tests higher"))


def regression_claim(ctx: Context):
    """The huge-N least-squares runs at the largest N, to the tightest target: CPU seconds of the fastest SGD
    batch against the exact solve, Welch over their seeds (claims: "SGD faster" / "exact solve faster" /
    "unresolved"); None without records."""
    from lbgap.book import claims, regression
    from lbgap.book.stats import welch

    from lbgap.core.records import iter_records

    if next(iter(iter_records(ctx.results_dir, regression.record_profile(ctx), "regression")), None) is None:
        return None
    df = regression.runs(ctx.results_dir, regression.record_profile(ctx))
    if df.empty:
        return None
    g = df[(df.problem == "least_squares") & (df.n == df.n.max()) & (df.target == df.target.min())]
    sgd, exact = g[g.method == "sgd"].dropna(subset=["cpu_s"]), g[g.method == "exact"].dropna(subset=["cpu_s"])
    if sgd.empty or exact.empty:
        return None
    best = sgd.groupby("label").cpu_s.mean().idxmin()
    e = welch(sgd[sgd.label == best].cpu_s, exact.cpu_s)
    if e.n < claims.threshold("min_seeds") or not e.resolved:
        verdict = "unresolved"
    else:
        verdict = "exact solve faster" if e.ci[0] > 0 else "SGD faster"
    return claims.Claim("regression: fastest SGD − exact solve", verdict, "Welch on CPU seconds", e,
                        dict(best=best, n=int(g.n.max()), target=float(g.target.min()),
                             sgd_s=float(sgd[sgd.label == best].cpu_s.median()), exact_s=float(exact.cpu_s.median()),
                             n_sgd=int(sgd[sgd.label == best].seed.nunique()), n_exact=int(exact.seed.nunique())))


def answer_lines(ctx: Context) -> list[str]:
    """The front page's answer to "batch size or number of iterations?", as Markdown bullets: each sentence a
    template chosen by the verdict of its claim (:mod:`lbgap.book.claims`), with n and the 95 % interval."""
    from lbgap.book import claims, run_sets

    a, lines = answer_numbers(ctx), []
    if a.get("steps"):
        s = a["steps"]
        bs = sorted(s["by_batch"])
        pick = [b for b in (16, 256, bs[-1]) if b in s["by_batch"]]
        lines.append(f"**Steps, not epochs, are what a larger batch saves, up to a point.** F1 (MNIST), Adam with the "
                     f"learning rate tuned per batch, steps to {s['target']:.0%} validation accuracy: "
                     + ", ".join(f"{s['by_batch'][b]:,.0f} at B = {b:,}" for b in pick)
                     + f". The fitted critical batch is B_crit ≈ {s['b_crit']:,.0f} (95 % CI {s['ci'][0]:,.0f}–"
                     f"{s['ci'][1]:,.0f}, {s['runs']} runs): below it doubling the batch nearly halves the steps, "
                     "above it the extra examples are mostly wasted.")
    if a.get("noise"):
        n = a["noise"]
        lines.append(f"**The measured gradient noise gives the same order of magnitude.** The noise scale B_simple is "
                     f"{n['init']:,.0f} at initialisation and {n['b_simple']:,.0f} where the small-batch run first "
                     f"reaches the target (95 % CI {n['ci'][0]:,.0f}–{n['ci'][1]:,.0f}).")
    if a.get("gap") and a["gap"]["claim"] is not None:
        g, c = a["gap"], a["gap"]["claim"]
        where = (run_sets.label(g["run_set"], g["seeds"]) if g["run_set"] else
                 f"F1, {g['profile']} profile, {run_sets.seeds_words(g['seeds'])}")
        words = (f"**{claims.phrase(c, 'head', net='F1')}** {where} (Adam, SB = {g['b_sb']:,} "
                 f"against LB = {g['b_lb']:,}, ~{g['epochs_sb']:.0f}/{g['epochs_lb']:.0f} epochs): test accuracy "
                 f"{g['sb']:.2f} % against {g['lb']:.2f} %, gap SB − LB paired by seed {c.words()} "
                 f"(the paper: {c.numbers['paper']:.2f})")
        lines.append(words + ".")
    if a.get("conservative"):
        k = a["conservative"]
        moved = {"improves": "improves on plain LB of the same seed", "worsens": "falls below plain LB of the same seed",
                 "unresolved": "against plain LB of the same seed:"}
        c = k["conservative"]
        words = (f"**Conservative (proximal) training, on the {run_sets.get('F1-50epoch').name}:** "
                 f"{moved[c.verdict]} {c.stat() if c.resolved else c.words()}")
        if "control" in k:
            words += (f"; its control (the same three Adam steps per batch, no proximal term) "
                      f"{k['control'].words()}; the proximal term itself (conservative − control) "
                      f"{k['proximal'].words()}")
        lines.append(words + ".")
    if a.get("sharpness"):
        h = a["sharpness"]
        s, m = h["summed"], h["mean"]
        lines.append(f"**Sharpness, on the {run_sets.get('F1-50epoch').name}:** by the paper's ε-sharpness (ε = 1e-3, "
                     f"full space) maximised on the summed loss, {claims.phrase(s)}: LB/SB "
                     f"{claims.ratio_words(s)}, ratio of means, bootstrap over seeds (the paper: {h['paper']:g}); on the "
                     "mean loss, as "
                     f"the paper specifies it, the ratio {m.estimate.value:.2g} is {claims.phrase(m)} "
                     f"(median fraction of coordinates that reach the box {m.numbers.get('at_bound', float('nan')):.2g}).")
    if a.get("quick_gap"):
        q, c = a["quick_gap"], a["quick_gap"]["claim"]
        head = {"LB tests lower": "At equal epochs a large batch lags, after far fewer steps.",
                "LB tests higher": "At equal epochs a large batch leads, after far fewer steps.",
                "unresolved": "At equal epochs the large batch's lag is not resolved."}[c.verdict]
        key = run_sets.find("table2", q["net"], "quick", "")
        lines.append(f"**{head}** {run_sets.get(key).name if key else q['net'] + ' (quick profile)'} after "
                     f"{q['epochs']:.0f} epochs "
                     f"({q['steps_sb']:,.0f} SB steps against {q['steps_lb']:,.0f} LB steps): gap SB − LB paired by "
                     f"seed {c.stat() if c.resolved else c.words()}, a point far from a minimiser.")
    from lbgap.book import followups, gradient_norm

    gnorm = gradient_norm.answer_line(chapter_context(ctx, "gradient_norm"))
    if gnorm:
        lines.append(gnorm)
    followup = followups.answer_line(chapter_context(ctx, "followups"))
    if followup:
        lines.append(followup)
    from lbgap.book import tuned_lr

    tuned = tuned_lr.answer_line(chapter_context(ctx, "tuned_lr"))
    if tuned:
        lines.append(tuned)
    if a.get("regression"):
        r = a["regression"]
        head = {"SGD faster": "With huge N and few features, small-batch SGD is faster than the exact solve.",
                "exact solve faster": "With huge N and few features, one exact solve is faster than SGD.",
                "unresolved": "With huge N and few features, SGD and one exact solve are not told apart."}[r.verdict]
        lines.append(f"**{head}** Least squares to {r.numbers['target']:.1%} at N = {r.numbers['n']:,}: the fastest "
                     f"SGD ({r.numbers['best']}) median {1e3 * r.numbers['sgd_s']:.3g} CPU ms ({r.numbers['n_sgd']} "
                     f"seeds), the exact solve on the rows it needs {1e3 * r.numbers['exact_s']:.3g} ms "
                     f"({r.numbers['n_exact']} seed{'s' if r.numbers['n_exact'] > 1 else ''}); difference SGD − "
                     f"exact {r.words(digits=4, unit='s')} (Welch).")
    return lines or ["No records for the answer in this run (the committed book reads them from `data/results`)."]


def chapter_context(ctx: Context, chapter: str) -> Context:
    """A copy of the page's context with a memo of its own for ``chapter`` (the chapter's functions memoise under
    their own keys), the same copy every time, so that the page reads each chapter's records once."""
    import dataclasses

    return ctx.memo(f"chapter-{chapter}", lambda: dataclasses.replace(ctx))


def cap_ratios(ctx: Context) -> dict:
    """F1's cap check over its seeds (``cap_check.cap_summary``): {"variant": the 50-epoch row, "protocol": the
    paper-caps row}, each a dict of the summary's columns (``gap_pt``, ``lb_sb_phi_full``, ...)."""
    from lbgap.book import cap_check

    s = cap_check.cap_summary(cap_check.cap_table(ctx))
    s = s[s.net == "F1"]
    return {"variant": s[s.budget.str.contains("variant")].iloc[0].to_dict(),
            "protocol": s[s.budget.str.contains("Table 2")].iloc[0].to_dict()}


# ------------------------------------------------------------------------------------ what the notebook shows
def show_answer(ctx: Context):
    from IPython.display import Markdown

    return Markdown("\n".join(f"* {line}" for line in answer_lines(ctx)))


def show_headline(ctx: Context) -> None:
    """The headline table, its verdicts as one line per network under it (the table fits the page)."""
    from IPython.display import display

    from lbgap.book.style import verdict_lines

    t = headline(ctx)
    display(styled(
        t.drop(columns="verdict"), "Test accuracy (%) of small-batch (SB) and large-batch (LB) Adam and the gap SB − LB: ours vs Keskar et al. "
        "(2017), Table 2 — runs: " + table2_run_sets(ctx, "figure2"), "headline", labels=HEADLINE_LABELS))
    verdict_lines(f"**{r.network}**: {r.verdict}." for r in t.itertuples() if isinstance(r.verdict, str))


def scorecard_by_claim(ctx: Context):
    """:func:`scorecard` turned on its side so it fits the page: one row per claim (column ``claim``: its label),
    one column per network that has records (the others are named under the table)."""
    import pandas as pd

    t = scorecard(ctx).set_index("network")
    labels = scorecard_labels()
    have = [n for n in t.index if not t.loc[n, "gap_pt"].startswith("—")]
    out = t.loc[have].drop(columns="our_runs").T.reset_index().rename(columns={"index": "claim"})
    out["claim"] = out["claim"].map(labels).str.replace(", ours / paper", "", regex=False)
    runs = pd.DataFrame([[labels["our_runs"]] + [t.loc[n, "our_runs"] for n in have]], columns=out.columns)
    return pd.concat([runs, out], ignore_index=True), [n for n in t.index if n not in have]


def scorecard_sharpness_sets(ctx: Context) -> str:
    """The run sets behind the scorecard's sharpness and landscape cells (the sharpness chapter's records), with
    their seeds."""
    import pandas as pd

    from lbgap.book import run_sets
    from lbgap.measures import sharpness

    t = sharpness.sharpness_table(records=_records(ctx, "sharpness"))
    return run_sets.describe("sharpness", t if len(t) else pd.DataFrame())


def scorecard_table7_set(ctx: Context) -> str:
    """The run set behind the scorecard's Table 7 cells, with its seeds."""
    from lbgap.book import run_sets

    return run_sets.describe("table7", conservative_runs(ctx))


def show_scorecard(ctx: Context) -> None:
    from IPython.display import Markdown, display

    t, missing = scorecard_by_claim(ctx)
    display(styled(t, "Scorecard: each claim, ours / Keskar et al. (2017); ratios are LB over SB (mean of LB ÷ mean "
                   "of SB over seeds), n = seeds behind ours — runs: Table 2, " + table2_run_sets(ctx, "figure2")
                   + "; Tables 3–4 and Figure 3, " + scorecard_sharpness_sets(ctx) + "; Table 7, "
                   + scorecard_table7_set(ctx), "scorecard", labels={"claim": "claim (ours / paper)"}))
    notes = []
    from lbgap.book import cap_check, run_sets

    if not cap_check.cap_table(ctx).empty:
        caps = cap_ratios(ctx)

        v, p = caps["variant"], caps["protocol"]
        notes.append(f"F1's sharpness and landscape ratios are measured on the {run_sets.get('F1-50epoch').name}; "
                     f"on the same seeds in the {run_sets.get('F1-table2').name} they are: φ full space, summed loss "
                     f"{p['lb_sb_phi_full']:,.0f} ({run_sets.short('F1-50epoch')}: {v['lb_sb_phi_full']:,.0f}), random "
                     f"subspace {p['lb_sb_phi_random']:.2g} ({v['lb_sb_phi_random']:.2g}), Figure 3's rise "
                     f"{p['rise_ratio']:,.0f} ({v['rise_ratio']:,.0f}) — see [the SB/LB chapter](chapters/sb_vs_lb.html#does-the-50-epoch-cap-matter-f1).")
    if missing:
        notes.append("No records yet for " + ", ".join(f"**{n}** ({MISSING_REASON[n]})" for n in missing) + ".")
    if notes:
        display(Markdown("\n\n".join(notes)))


# ------------------------------------------------------------------------------------ F1's sharpness, as a claim
def sharpness_f1(ctx, space: str = "full", objective: str = "sum", eps: float = 1e-3, net: str = "F1") -> claims.Claim | None:
    """F1's LB/SB ε-sharpness of one space and objective, paired by seed on the log scale (:func:`sharper`), with
    the solver-stall test on the fraction of coordinates at the box."""
    from lbgap.measures import sharpness as sh

    t = sh.sharpness_table(records=_records(ctx, "sharpness"))
    if t.empty:
        return None
    t = t[(t.net == net) & (t.space == space) & (t.objective == objective) & (t.eps == eps)
          & t.run_id.str.match(r".*-s\d+$")]   # the untagged runs (the 50-epoch variant); not the uncapped reruns
    lb, sb = (t[t.regime == r].groupby("seed").phi.mean().to_dict() for r in ("LB", "SB"))
    if not lb or not sb:
        return None
    bound = t.groupby("seed").at_bound.median().dropna().to_dict() if "at_bound" in t else None
    return claims.sharper(lb, sb, bound, name=f"{net} φ LB/SB, {space}, {objective} loss")
