"""The front page: the headline (the test-accuracy gap per network, ours beside the paper's) and the scorecard
(every measurable claim of the paper, read from the same records with the same functions as the chapters)."""
from __future__ import annotations

from lbgap.book.context import Context, lb_over_sb, shown_nets, shown_seeds
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


def _records(ctx: Context, kind: str) -> list[dict]:
    """The records of ``kind`` the chapters read (best profile first), for the requested networks and seeds."""
    from lbgap.core.records import preferred_records

    return [r for r in preferred_records(ctx.results_dir, ctx.record_profiles, kind)
            if r["net"] in ctx.nets and r["seed"] in shown_seeds(ctx)]


SHARPNESS_CLAIMS = (("Table 3 φ LB/SB", 3, "full", "mean"), ("Table 3, summed loss", 3, "full", "sum"),
                    ("Table 4 φ LB/SB", 4, "random", "mean"))


def sharpness_ratios(ctx: Context) -> dict:
    """(claim label, net) -> (LB/SB ratio of the mean ε-sharpness at ε = 1e-3, seeds): the sharpness chapter's
    summary (``sharpness.summary``) for each claim of :data:`SHARPNESS_CLAIMS`."""
    from lbgap.measures import sharpness

    sharp = sharpness.sharpness_table(records=_records(ctx, "sharpness"))
    ratios = {}
    for label, _, space, objective in SHARPNESS_CLAIMS:
        s = sharpness.summary(sharp[sharp.space == space], objective=objective) if len(sharp) else sharp
        for _, h in (s[(s.eps == 1e-3) & s["LB/SB"].notna()] if "LB/SB" in s else s.iloc[0:0]).iterrows():
            ratios[label, h.net] = (h["LB/SB"], int(min(h.count_SB, h.count_LB)))
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
    behind our number (the fewer of SB's and LB's)."""
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
            row["our runs"] = f"{sb.profile}, {sb.epochs:.0f}/{lb.epochs:.0f} epochs"
            ours = f"{sb.test_acc - lb.test_acc:.2f} (n={min(sb.n, lb.n)})"
        else:
            row["our runs"], ours = MISSING_REASON[net], "—"
        row["Table 2 gap (pt), ours / paper"] = f"{ours} / {p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}"
        for label, k, _, _ in SHARPNESS_CLAIMS:
            paper = round(float(tables[k].loc[net, "lb_eps1e-3_mean"] / tables[k].loc[net, "sb_eps1e-3_mean"]))
            row[f"{label} (ε=1e-3), ours / paper"] = ratio_words(*ratios.get((label, net), (None, 0)), paper)
        d = land[land.net == net] if len(land) else land
        for label, lb_col, sb_col in ((landscape.RISE_RATIO, "rise beyond LB (α 1→1.5)", "rise beyond SB (α 0→-0.5)"),
                                      (landscape.FILTER_RISE_RATIO, "LB rise to t=±1", "SB rise to t=±1")):
            both = d[[lb_col, sb_col]].dropna() if lb_col in d and sb_col in d else pd.DataFrame()
            row[label] = ratio_words(lb_over_sb(both[lb_col], both[sb_col]) if len(both) else None, len(both))
        c = cons[cons.net == net]
        ours = f"{(c.test_acc_remedy - c.test_acc_lb).mean():+.2f} (n={len(c)})" if len(c) else "—"
        theirs = paper7.loc[net, "test_acc_lb_mean"] - p.test_acc_lb_mean if net in paper7.index else float("nan")
        row["Table 7 conservative − plain LB test (pt), ours / paper"] = f"{ours} / {theirs:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ the answer and the status
def _quiet(make):
    """``make()``, or None where the records it needs are missing (a smoke run, a partial store)."""
    try:
        return make()
    except (KeyError, IndexError, ValueError, StopIteration, RuntimeError, AttributeError, TypeError):
        return None


def answer_numbers(ctx: Context) -> dict:
    """The numbers of the front page's answer, each from the function the chapter that defends it uses:
    F1's Table 2 gap (sb_vs_lb.table2_numbers), its LB/SB sharpness ratio (sharpness_ratios), what conservative
    training adds (conservative_runs), F1's steps to the target at batch 16 / 256 / the largest tuned batch and
    the fitted critical batch (batch_vs_iterations.tuned, .fits), the measured noise scale
    (batch_vs_iterations.b_simple) and the huge-N regression's fastest SGD against full-batch GD
    (regression.key_numbers). A missing entry is None."""
    import dataclasses

    from lbgap.book import batch_vs_iterations as bvi
    from lbgap.book import regression

    out = {}
    nums = table2_numbers(ctx)
    f1 = {r: nums[(nums.net == "F1") & (nums.regime == r)] for r in ("SB", "LB")}
    if all(len(v) for v in f1.values()):
        sb, lb = (f1[r].iloc[0] for r in ("SB", "LB"))
        out["gap"] = dict(sb=sb.test_acc, lb=lb.test_acc, gap=sb.test_acc - lb.test_acc, n=int(min(sb.n, lb.n)),
                          epochs_sb=sb.epochs, epochs_lb=lb.epochs, b_sb=int(sb.batch_size), b_lb=int(lb.batch_size), profile=sb.profile)
    p2, p3 = paper_table(2).set_index("network").loc["F1"], paper_table(3).set_index("network").loc["F1"]
    if "gap" in out:
        out["gap"]["paper"] = p2.test_acc_sb_mean - p2.test_acc_lb_mean
    ratios = sharpness_ratios(ctx)
    summed, mean = ratios.get(("Table 3, summed loss", "F1")), ratios.get(("Table 3 φ LB/SB", "F1"))
    out["sharpness"] = summed and mean and dict(summed=summed, mean=mean,
                                                paper=round(float(p3["lb_eps1e-3_mean"] / p3["sb_eps1e-3_mean"])))
    quick = nums[(nums.net == "C1") & (nums.profile == "quick")]
    if set(quick.regime) >= {"SB", "LB"}:
        sb, lb = (quick[quick.regime == r].iloc[0] for r in ("SB", "LB"))
        out["quick_gap"] = dict(net="C1", gap=sb.test_acc - lb.test_acc, n=int(min(sb.n, lb.n)), epochs=lb.epochs,
                                steps_sb=sb.steps, steps_lb=lb.steps)
    c = conservative_runs(ctx)
    c = c[c.net == "F1"]
    out["conservative"] = dict(gain=(c.test_acc_remedy - c.test_acc_lb).mean(), n=len(c)) if len(c) else None
    steps_ctx = dataclasses.replace(ctx)   # the chapter's own memo, apart from this page's

    def steps():
        t = bvi.tuned(steps_ctx)
        adam = t[t.optimizer == "adam"].groupby("batch_size")[bvi.columns(steps_ctx)[0]].mean()
        fit = bvi.fits(steps_ctx)[0]["adam"]
        return dict(target=bvi.target(steps_ctx), by_batch=adam.dropna().to_dict(), b_crit=fit["b_crit"],
                    ci=fit["b_crit_ci"], runs=fit["n_runs"])

    out["steps"] = _quiet(steps)
    out["noise"] = _quiet(lambda: bvi.b_simple(steps_ctx))
    out["regression"] = _quiet(lambda: next(line for line in regression.key_numbers(
        ctx.results_dir, regression.record_profile(ctx)) if line.startswith("least squares, to 0.1%")))
    return out


def answer_lines(ctx: Context) -> list[str]:
    """The front page's answer to "batch size or number of iterations?", as Markdown bullets of our numbers."""
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
    if a.get("gap"):
        g = a["gap"]
        words = (f"**On F1 the accuracy cost of a large batch is small.** At the paper's protocol "
                 f"(Adam, SB = {g['b_sb']:,} against LB = {g['b_lb']:,}, "
                 f"~{g['epochs_sb']:.0f}/{g['epochs_lb']:.0f} epochs, {g['n']} seeds): test accuracy {g['sb']:.2f} % against {g['lb']:.2f} %, a gap of {g['gap']:.2f} "
                 f"points (the paper: {g['paper']:.2f})")
        if a.get("conservative"):
            words += (f"; conservative (proximal) training changes LB's test accuracy by "
                      f"{a['conservative']['gain']:+.2f} points ({a['conservative']['n']} seeds)")
        if a.get("sharpness"):
            h = a["sharpness"]
            words += (f". LB's minimiser is sharper by the paper's ε-sharpness (ε = 1e-3, full space, mean of LB over "
                      f"mean of SB, on the 50-epoch runs the sharpness chapter measures) maximised on the summed "
                      f"loss: {ratio_words(*h['summed'], h['paper'])} (ours / the paper's); "
                      f"on the mean loss, as the paper specifies it, the ratio is {ratio_words(*h['mean'])}")
        lines.append(words + ".")
    if a.get("quick_gap"):
        q = a["quick_gap"]
        lines.append(f"**At equal epochs a large batch lags because it made fewer steps.** {q['net']} (CIFAR-10) "
                     f"after {q['epochs']:.0f} epochs ({q['steps_sb']:,.0f} SB steps against {q['steps_lb']:,.0f} "
                     f"LB steps, {q['n']} seeds): LB tests {q['gap']:.2f} points lower, a point far from a "
                     "minimiser.")
    from lbgap.book import followups, gradient_norm

    gnorm = _quiet(lambda: gradient_norm.answer_line(chapter_context(ctx, "gradient_norm")))
    if gnorm:
        lines.append(gnorm)
    followup = _quiet(lambda: followups.answer_line(chapter_context(ctx, "followups")))
    if followup:
        lines.append(followup)
    if a.get("regression"):
        lines.append("**With huge N and few features, small-batch SGD wins outright:** " + a["regression"] + ".")
    return lines or ["No records for the answer in this run (the committed book reads them from `data/results`)."]


def chapter_context(ctx: Context, chapter: str) -> Context:
    """A copy of the page's context with a memo of its own for ``chapter`` (the chapter's functions memoise under
    their own keys), the same copy every time, so that the page reads each chapter's records once."""
    import dataclasses

    return ctx.memo(f"chapter-{chapter}", lambda: dataclasses.replace(ctx))


# One row per item of the paper and per study of our own: (item, chapter, record kind, tag test, status when the
# records exist, protocol words, why not run). Networks, seeds and profiles are counted from the records.
STATUS_ROWS = (
    ("Table 1 networks", "sb_vs_lb", None, None, "reproduced", "all six built", ""),
    ("Table 2 SB vs LB accuracy", "sb_vs_lb", "train", "", "partly", "",
     "F1 at the paper's protocol; F2 and C1 at the quick 5-epoch budget (far from a minimiser); C2 needs a GPU; "
     "C3 and C4 need CIFAR-100 pixels (not in the data pack) and a GPU"),
    ("Table 3 ε-sharpness", "sharpness", "sharpness", "", "partly", "", "on the networks of Table 2"),
    ("Table 4 sharpness, subspace", "sharpness", "sharpness", "", "partly", "", "on the networks of Table 2"),
    ("Table 5", None, None, None, "not run", "", "not covered by this book"),
    ("Table 6 augmentation", "remedies", "train", "augment", "partly", "",
     "its networks are convolutional: GPU work; C3 and C4 also need CIFAR-100 pixels"),
    ("Table 7 conservative", "remedies", "train", "conservative", "partly", "", "F1 only; F2 and C1–C4 need a GPU"),
    ("Figure 1 sketch", None, None, None, "n/a", "", "an illustration of flat and sharp minima, no data"),
    ("Figure 2 learning curves", "sb_vs_lb", "train", "", "partly", "", "the runs of Table 2"),
    ("Figure 3 SB–LB line", "parametric", "landscape", None, "partly", "", "the runs of Table 2"),
    ("Figure 4 batch sweep", "threshold", "train", "fig4", "partly", "",
     "on F1, where the paper used C1 and F2 (GPU work)"),
    ("Figure 5 warm start", "warmstart", "train", "fig5", "partly", "", "on F1, where the paper used C1 and F2"),
    ("Figure 6 sharpness vs loss", "trajectory", "trajectory", "fig6", "partly", "",
     "on F1, where the paper used C1 and F2"),
    ("Figure 7 curved path", "parametric", "landscape", None, "partly", "", "the runs of Table 2"),
    ("Gradient noise", "gradient_noise", "noise", None, "ours", "", ""),
    ("Steps to target, B_crit", "batch_vs_iterations", "steps", None, "ours", "", ""),
    ("Cap check (uncapped reruns)", "sb_vs_lb", "train", "uncapped", "ours", "", ""),
    ("Objective scaling (summed loss)", "sharpness", "sharpness", "", "ours", "", ""),
    ("Dinh rescaling", "sharpness", "dinh", None, "ours", "", ""),
    ("Huge-N regression", "regression", "regression", None, "ours", "", "linear and logistic, N up to 1e9"),
    ("Gradient norm and ‖x − x0‖ vs B", "gradient_norm", "gradnorm", "gn-", "partly", "",
     "F1 on a CPU (2 epochs, 3 seeds); C1 needs a GPU"),
    ("Cost per batch size (time, memory)", "gradient_norm", "cost", None, "partly", "",
     "F1 on a CPU; C1 and the GPU memory column need a GPU"),
    ("Remedies after Keskar (Goyal, Hoffer, SAM)", "followups", "train", "fu-", "partly", "",
     "F1 seeds 0–2 on a GPU; the SB-updates arm alone, seeds 3–4 and C1 still to run"),
)


def _record_keys(ctx: Context, kind: str, tag) -> set[tuple[str, str, int]]:
    """(profile, network, seed) of every record of ``kind`` under the page's record profiles whose training tag
    is ``tag`` (or starts with it; None: any tag). Regression records have no network (``—``)."""
    from lbgap.core.records import iter_records

    out = set()
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, kind):
            cfg = r.get("config") or {}
            t = cfg.get("tag") or r.get("tag") or ""
            if tag is not None and not (t == tag if tag == "" else t.startswith(tag)):
                continue
            out.add((prof, r.get("net") or cfg.get("net") or "—", r.get("seed", cfg.get("seed"))))
    return out


def landscape_rise_label() -> str:
    from lbgap.measures.landscape import RISE_RATIO

    return RISE_RATIO


def cap_ratios(ctx: Context) -> dict:
    """F1's cap check over its seeds (``sb_vs_lb.cap_summary``): {"variant": the 50-epoch row, "protocol": the
    paper-caps row}, each a dict of the summary's columns."""
    from lbgap.book import sb_vs_lb

    s = sb_vs_lb.cap_summary(sb_vs_lb.cap_table(ctx))
    s = s[s.net == "F1"]
    return {"variant": s[s.budget.str.contains("variant")].iloc[0].to_dict(),
            "protocol": s[s.budget.str.contains("Table 2")].iloc[0].to_dict()}


def status(ctx: Context):
    """Front page: one row per table and figure of the paper and per study of our own: status, networks,
    record profiles (protocol), seeds, our headline number beside the paper's, the chapter. Networks, seeds and
    profiles are counted from the records; a row whose records are missing reads "not run"."""
    import pandas as pd

    a, paper2 = answer_numbers(ctx), paper_table(2).set_index("network")
    headline_words = {}
    if a.get("gap"):
        headline_words["Table 2 SB vs LB accuracy"] = (f"{a['gap']['gap']:.2f} / "
                                                       f"{paper2.loc['F1'].test_acc_sb_mean - paper2.loc['F1'].test_acc_lb_mean:.2f} pt")
    for label, k, claim in (("Table 3 ε-sharpness", 3, "Table 3, summed loss"),
                            ("Table 4 sharpness, subspace", 4, "Table 4 φ LB/SB")):
        r = sharpness_ratios(ctx).get((claim, "F1"))   # Table 3: the objective the sharpness chapter endorses
        t = paper_table(k).set_index("network").loc["F1"]
        if r:
            headline_words[label] = ratio_words(r[0], r[1], round(t["lb_eps1e-3_mean"] / t["sb_eps1e-3_mean"])) \
                + (" (summed loss)" if k == 3 else "")
    if a.get("conservative"):
        t7 = paper_table(7).set_index("network").loc["F1", "test_acc_lb_mean"] - paper2.loc["F1"].test_acc_lb_mean
        headline_words["Table 7 conservative"] = f"{a['conservative']['gain']:+.2f} / {t7:+.2f} pt"
    caps = _quiet(lambda: cap_ratios(ctx))
    if caps:
        headline_words["Cap check (uncapped reruns)"] = (f"gap {caps['variant']['gap (pt)']:.2f} (cap 50) → "
                                                         f"{caps['protocol']['gap (pt)']:.2f} pt")
    rise = _quiet(lambda: scorecard(ctx).set_index("network").loc["F1", landscape_rise_label()])
    if rise and rise != "—":
        headline_words["Figure 3 SB–LB line"] = f"rise LB ÷ SB {rise}"
    if a.get("steps"):
        headline_words["Steps to target, B_crit"] = f"B_crit {a['steps']['b_crit']:,.0f}"
    from lbgap.book import followups

    fu = _quiet(lambda: followups.key_numbers(chapter_context(ctx, "followups")))
    if fu and "hoffer" in fu:
        headline_words["Remedies after Keskar (Goyal, Hoffer, SAM)"] = (f"Hoffer gap {fu['hoffer']['gap']:+.2f} pt "
                                                                         f"(LB {fu['lb']['gap']:+.2f})")
    if a.get("noise"):
        headline_words["Gradient noise"] = f"B_simple {a['noise']['b_simple']:,.0f}"
    rows = []
    for item, chapter, kind, tag, word, protocol, _ in STATUS_ROWS:
        keys = _record_keys(ctx, kind, tag) if kind else set()
        by_prof = {p: sorted({n for q, n, _ in keys if q == p}) for p in ctx.record_profiles}
        if kind and not keys:
            word = "not run"
        elif kind:
            protocol = "; ".join(f"{p}: {', '.join(v)}" if v != ["—"] else p for p, v in by_prof.items() if v)
        link = f'<a href="chapters/{chapter}.html">{chapter}</a>' if chapter else ""
        rows.append({"item": item, "status": word, "networks by profile": protocol or "—",
                     "seeds": len({s for _, _, s in keys if s is not None}) if keys else "—",
                     "F1: ours / paper": headline_words.get(item, "—"), "chapter": link})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def show_answer(ctx: Context):
    from IPython.display import Markdown

    return Markdown("\n".join(f"* {line}" for line in answer_lines(ctx)))


def status_notes() -> str:
    """The notes under the status table: why each partly reproduced or missing item is not complete."""
    return "\n".join(f"* **{item}**: {why}." for item, *_, why in STATUS_ROWS if why)


def show_status(ctx: Context) -> None:
    from IPython.display import Markdown, display

    display(styled(status(ctx), "Status of every table and figure of Keskar et al. (2017) and of our own studies",
                   "status", wrap=("F1: ours / paper",)))
    display(Markdown("Notes:\n\n" + status_notes()))

def show_headline(ctx: Context) -> None:
    """The headline table, its verdicts as one line per network under it (the table fits the page)."""
    from IPython.display import display

    from lbgap.book.style import verdict_lines

    t = headline(ctx)
    display(styled(t.drop(columns="verdict").rename(columns={
        "paper: test SB / LB (%)": "paper: SB / LB (%)", "ours: test SB / LB (%)": "ours: SB / LB (%)"}),
        "Test accuracy (%) of small-batch (SB) and large-batch (LB) Adam and the gap SB − LB: ours vs Keskar et al. "
        "(2017), Table 2", "headline"))
    verdict_lines(f"**{r.network}**: {r.verdict}." for r in t.itertuples() if isinstance(r.verdict, str))


def scorecard_by_claim(ctx: Context):
    """:func:`scorecard` turned on its side so it fits the page: one row per claim, one column per network that
    has records (the others are named under the table)."""
    import pandas as pd

    t = scorecard(ctx).set_index("network")
    have = [n for n in t.index if not t.loc[n, "Table 2 gap (pt), ours / paper"].startswith("—")]
    out = t.loc[have].drop(columns="our runs").T.reset_index().rename(columns={"index": "claim (ours / paper)"})
    out["claim (ours / paper)"] = out["claim (ours / paper)"].str.replace(", ours / paper", "", regex=False)
    runs = pd.DataFrame([["our runs"] + [t.loc[n, "our runs"] for n in have]], columns=out.columns)
    return pd.concat([runs, out], ignore_index=True), [n for n in t.index if n not in have]


def show_scorecard(ctx: Context) -> None:
    from IPython.display import Markdown, display

    t, missing = scorecard_by_claim(ctx)
    display(styled(t, "Scorecard: each claim, ours / Keskar et al. (2017); ratios are LB over SB (mean of LB ÷ mean "
                   "of SB over seeds), n = seeds behind ours", "scorecard"))
    notes = []
    caps = _quiet(lambda: cap_ratios(ctx))
    if caps:
        from lbgap.measures.landscape import RISE_RATIO

        v, p = caps["variant"], caps["protocol"]
        notes.append(f"F1's sharpness and landscape ratios are measured on the 50-epoch runs; on the same seeds "
                     f"trained under the paper profile's caps (Table 2's F1 row) they are: φ full space, summed loss "
                     f"{p['LB/SB φ full']:,.0f} (50-epoch runs: {v['LB/SB φ full']:,.0f}), random subspace "
                     f"{p['LB/SB φ random']:.2g} ({v['LB/SB φ random']:.2g}), Figure 3's rise {p[RISE_RATIO]:,.0f} "
                     f"({v[RISE_RATIO]:,.0f}) — see [the SB/LB chapter](chapters/sb_vs_lb.html#does-the-50-epoch-cap-matter-f1).")
    if missing:
        notes.append("No records yet for " + ", ".join(f"**{n}** ({MISSING_REASON[n]})" for n in missing) + ".")
    if notes:
        display(Markdown("\n\n".join(notes)))


# ------------------------------------------------------------------------------------ the first screen
def _net_ranges(nets) -> str:
    """["C2", "C3", "C4", "F2"] → "C2–C4, F2": consecutive networks of one family joined by a dash."""
    by = {}
    for n in sorted(nets):
        by.setdefault(n[0], []).append(int(n[1:]))
    parts = []
    for fam, nums in by.items():
        run = [nums[0]]
        for k in nums[1:] + [None]:
            if k is not None and k == run[-1] + 1:
                run.append(k)
                continue
            parts.append(f"{fam}{run[0]}" + (f"–{fam}{run[-1]}" if len(run) > 2 else
                                             (f", {fam}{run[-1]}" if len(run) == 2 else "")))
            if k is not None:
                run = [k]
    return ", ".join(parts)


def status_line(ctx: Context, table=None) -> str:
    """One line from the status table (:func:`status`): which networks ran Table 2 at the paper's protocol (with
    their seeds), which only as short runs, and which networks and tables have no records."""
    from lbgap.book.coverage import MISSING_REASON
    from lbgap.core.config import PROFILES

    t = status(ctx) if table is None else table
    keys = _record_keys(ctx, "train", "")
    seeds = {}
    for prof, net, s in keys:
        seeds.setdefault((prof, net), set()).add(s)
    row = t[t["item"].str.startswith("Table 2")].iloc[0]
    by_prof = dict(part.split(": ", 1) for part in str(row["networks by profile"]).split("; ") if ": " in part)
    ran = set()
    words = []
    for prof, label in (("paper", "At the paper's protocol"),
                        ("quick", f"Short runs ({PROFILES['quick']['max_epochs_sb']} epochs)")):
        nets = [n.strip() for n in by_prof.get(prof, "").split(",") if n.strip()]
        ran |= set(nets)
        if nets:
            counts = {len(seeds.get((prof, n), ())) for n in nets}
            words.append(f"{label}: " + (f"{_net_ranges(nets)}, {counts.pop()} seeds" if len(counts) == 1 else
                                         ", ".join(f"{n} ({len(seeds.get((prof, n), ()))} seeds)" for n in nets))
                         + ".")
    missing = [n for n in MISSING_REASON if n not in ran]
    tables = [r["item"].split(" ")[0] + " " + r["item"].split(" ")[1] for _, r in t.iterrows()
              if r["status"] == "not run" and r["item"].split(" ")[0] in ("Table", "Figure")
              and r["networks by profile"] == "—" and "not covered" not in str(r["item"])]
    tables = [x for x in tables if x != "Table 5"]     # not covered by this book: named in the status notes
    gone = ([_net_ranges(missing)] if missing else []) + tables
    if gone:
        words.append(f"Not run: {', '.join(gone)}.")
    return " ".join(words)


def show_first_screen(ctx: Context):
    """The answer scoped to what was tested (numbers from :func:`answer_numbers`) and the one-line status
    (:func:`status_line`), for the top of the front page."""
    from IPython.display import Markdown

    a = answer_numbers(ctx)
    g, s = a.get("gap"), a.get("steps")
    first = ("**Answer, for what we tested:** on F1 (MNIST, a fully connected network) at the paper's protocol, the "
             + (f"large batch tests {g['gap']:.2f} points below the small one ({g['n']} seeds; the paper: "
                f"{g['paper']:.2f})" if g else "gap is not yet measured")
             + ", and what a larger batch costs is mostly **iterations, not accuracy**"
             + (f": steps to {s['target']:.0%} validation accuracy fall with the batch up to a critical batch of "
                f"about {s['b_crit']:,.0f} examples, beyond which extra examples per step buy little." if s else "."))
    second = ("Whether this holds for the paper's convolutional networks, for TIMIT and for harder targets is not "
              "tested here: the short runs say only where the two regimes stand after equal epochs.")
    return Markdown(f"{first} {second}\n\n**Status:** {status_line(ctx)}")
