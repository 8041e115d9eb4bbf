"""The front page's status table: one row per table and figure of Keskar et al. (2017) and per study of our own, its
status chosen by rule (``claims.status_word``) with networks, profiles and seeds counted from the records, and the
first screen: the answer scoped to what was tested, and the one-line status."""
from __future__ import annotations

from lbgap.book import claims
from lbgap.book.context import Context, shown_nets
from lbgap.book.front import answer_numbers, chapter_context, cap_ratios, ratio_words, scorecard, sharpness_ratios
from lbgap.book.paper import paper_table
from lbgap.book.sb_vs_lb import table2_runs
from lbgap.book.style import styled


# One row per item of the paper and per study of our own: (item, chapter, record kind, tag test, protocol words,
# why not run); the status is chosen by rule (claims.status_word). Networks, seeds and profiles are counted from the
# records.
STATUS_ROWS = (
    ("Table 1 networks", "sb_vs_lb", None, None, "all six built", ""),
    ("Table 2 SB vs LB accuracy", "sb_vs_lb", "train", ("", "uncapped"), "",
     "F1 at the paper's protocol; F2 and C1 at the quick 5-epoch budget (far from a minimiser); C2 needs a GPU; "
     "C3 and C4 need CIFAR-100 pixels (not in the data pack) and a GPU"),
    ("Table 3 ε-sharpness", "sharpness", "sharpness", "", "", "on the networks of Table 2"),
    ("Table 4 sharpness, subspace", "sharpness", "sharpness", "", "", "on the networks of Table 2"),
    ("Table 5", None, None, None, "", "not covered by this book"),
    ("Table 6 augmentation", "remedies", "train", "augment", "",
     "its networks are convolutional: GPU work; C3 and C4 also need CIFAR-100 pixels"),
    ("Table 7 conservative", "remedies", "train", "conservative", "", "F1 only; F2 and C1–C4 need a GPU"),
    ("Figure 1 sketch", None, None, None, "", "an illustration of flat and sharp minima, no data"),
    ("Figure 2 learning curves", "sb_vs_lb", "train", "", "", "the runs of Table 2"),
    ("Figure 3 SB–LB line", "parametric", "landscape", None, "", "the runs of Table 2"),
    ("Figure 4 batch sweep", "threshold", "train", "fig4", "",
     "on F1, where the paper used C1 and F2 (GPU work)"),
    ("Figure 5 warm start", "warmstart", "train", "fig5", "", "on F1, where the paper used C1 and F2"),
    ("Figure 6 sharpness vs loss", "trajectory", "trajectory", "fig6", "",
     "on F1, where the paper used C1 and F2"),
    ("Figure 7 curved path", "parametric", "landscape", None, "", "the runs of Table 2"),
    ("Gradient noise", "gradient_noise", "noise", None, "", ""),
    ("Steps to target, B_crit", "batch_vs_iterations", "steps", None, "", ""),
    ("Cap check (uncapped reruns)", "sb_vs_lb", "train", "uncapped", "", ""),
    ("Objective scaling (summed loss)", "sharpness", "sharpness", "", "", ""),
    ("Dinh rescaling", "sharpness", "dinh", None, "", ""),
    ("Huge-N regression", "regression", "regression", None, "", "linear and logistic, N up to 1e9"),
    ("Gradient norm and ‖x − x0‖ vs B", "gradient_norm", "gradnorm", "gn-", "",
     "F1 on a CPU (2 epochs); C1 needs a GPU"),
    ("Cost per batch size (time, memory)", "gradient_norm", "cost", None, "",
     "F1 on a CPU; C1 and the GPU memory column need a GPU"),
    ("Remedies after Keskar (Goyal, Hoffer, SAM)", "followups", "train", "fu-", "",
     "F1 on a GPU (bf16 autocast, a variant of the float32 CPU protocol) and, for the arms that cost no more than "
     "plain LB, again in float32 on a CPU; the SB-updates arm alone, the missing seeds and C1 still to run"),
    ("LR tuned per batch size", "tuned_lr", "train", "tlr-x", "",
     "F1 on a CPU, selected on a 5,000-image validation split; grid points and final seeds are counted in the chapter"),
    ("Advice for your own model (lbgap advise)", "measure_your_model", "advise", None, "",
     "checked against the critical batches of F1 and C1; C1's steps-to-target study ran in float32 on a CPU, and "
     "the batch sizes it still lacks (listed in the chapter) are a GPU node's work"),
)


def _record_keys(ctx: Context, kind: str, tag) -> set[tuple[str, str, int, str]]:
    """(profile, network, seed, tag) of every record of ``kind`` under the page's record profiles whose training
    tag is ``tag`` (or starts with it; a tuple: any of them; None: any tag). Regression records have no network
    (``—``); advise records count only under the book's names (``measure_model.advised_net``)."""
    from lbgap.book import measure_model
    from lbgap.core.records import iter_records

    tags = tag if isinstance(tag, tuple) else (tag,)
    out = set()
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, kind):
            cfg = r.get("config") or {}
            t = cfg.get("tag") or r.get("tag") or ""
            if tag is not None and not any(t == x if x == "" else t.startswith(x) for x in tags):
                continue
            if kind == "regression" and r.get("role") != "measure":   # tuning and pass records are not seeds
                continue
            if kind == "advise":   # the book's advise records are named after their network; others are not counted
                net = measure_model.advised_net(r.get("run_id", ""))
                if net is None:
                    continue
            else:
                net = r.get("net") or cfg.get("net")
            out.add((prof, net or "—", r.get("seed", cfg.get("seed")), t))
    return out


STATUS_LABELS = {"networks_by_profile": "networks by profile", "f1_ours_paper": "F1: ours / paper"}
STATUS_CLAIMS = {"Table 2 SB vs LB accuracy": ("gap", 2), "Table 3 ε-sharpness": ("sharpness", 3),
                 "Table 7 conservative": ("conservative", 7)}
OWN_ITEMS = ("Gradient noise", "Steps to target, B_crit", "Cap check (uncapped reruns)",
             "Objective scaling (summed loss)", "Dinh rescaling", "Huge-N regression",
             "Gradient norm and ‖x − x0‖ vs B", "Cost per batch size (time, memory)",
             "Remedies after Keskar (Goyal, Hoffer, SAM)", "LR tuned per batch size",
             "Advice for your own model (lbgap advise)")


def _item_verdicts(item: str, a: dict) -> list[str]:
    """The verdicts behind a status row, each turned into the status rule's vocabulary: Table 2's gap
    (claims.gap_vs_paper), Table 3's sharpness on the summed loss ("LB sharper": the paper's sign), Table 7's
    conservative training ("improves": the paper's sign)."""
    if item not in STATUS_CLAIMS:
        return []
    key = STATUS_CLAIMS[item][0]
    if key == "gap" and a.get("gap") and a["gap"]["claim"] is not None:
        return [a["gap"]["claim"].verdict]
    if key == "sharpness" and a.get("sharpness"):
        return [{"LB sharper": "sign reproduced", "LB flatter": "reversed"}.get(a["sharpness"]["summed"].verdict,
                                                                              "unresolved")]
    if key == "conservative" and a.get("conservative"):
        return [{"improves": "sign reproduced", "worsens": "reversed"}.get(a["conservative"]["conservative"].verdict,
                                                                          "unresolved")]
    return []


def _seeds_per_arm(keys) -> str:
    """"5" where every (network, tag) group of the records has the same number of seeds, "1–3 per arm" else."""
    counts = {}
    for _, net, seed, tag in keys:
        if seed is not None:
            counts.setdefault((net, tag), set()).add(seed)
    sizes = sorted({len(v) for v in counts.values()})
    if not sizes:
        return "—"
    return str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]} per arm"


def status(ctx: Context):
    """Front page: one row per table and figure of the paper and per study of our own: status (by
    :func:`lbgap.book.claims.status_word`: reproduced / partly / not reproduced / not run; "ours" for our own
    studies), networks, record profiles (protocol), seeds per arm, our headline number beside the paper's, the
    chapter (columns item, status, seeds, chapter and those of :data:`STATUS_LABELS`). Networks, seeds and profiles
    are counted from the records, once per page (the first screen's line and the table read the same rows)."""
    return ctx.memo("status", lambda: _status_rows(ctx))


def _status_rows(ctx: Context):
    """:func:`status`, computed."""
    import pandas as pd

    from lbgap.book.run_sets import short

    a, paper2 = answer_numbers(ctx), paper_table(2).set_index("network")
    headline_words = {}   # item -> F1's number, ours / the paper's, with the run set it was read from
    if a.get("gap") and a["gap"]["claim"] is not None:
        headline_words["Table 2 SB vs LB accuracy"] = (f"{a['gap']['claim'].estimate.value:.2f} / "
                                                       f"{a['gap']['claim'].numbers['paper']:.2f} pt"
                                                       + (f" ({short(a['gap']['run_set'])})" if a["gap"]["run_set"]
                                                          else ""))
    for label, k, claim in (("Table 3 ε-sharpness", 3, "phi_table3_sum"), ("Table 4 sharpness, subspace", 4, "phi_table4")):
        r = sharpness_ratios(ctx).get((claim, "F1"))   # Table 3: the objective the sharpness chapter endorses
        t = paper_table(k).set_index("network").loc["F1"]
        if r:
            headline_words[label] = ratio_words(r[0], r[1], round(t["lb_eps1e-3_mean"] / t["sb_eps1e-3_mean"])) \
                + f" ({'summed loss; ' if k == 3 else ''}{short('F1-50epoch')})"
    if a.get("conservative"):
        t7 = paper_table(7).set_index("network").loc["F1", "test_acc_lb_mean"] - paper2.loc["F1"].test_acc_lb_mean
        headline_words["Table 7 conservative"] = (f"{a['conservative']['conservative'].estimate.value:+.2f} / "
                                                  f"{t7:+.2f} pt ({short('F1-table7')})")
    from lbgap.book import cap_check, sb_vs_lb

    if not cap_check.cap_table(ctx).empty:
        caps = cap_ratios(ctx)
        headline_words["Cap check (uncapped reruns)"] = (f"gap {caps['variant']['gap_pt']:.2f} ({short('F1-50epoch')}) "
                                                         f"→ {caps['protocol']['gap_pt']:.2f} pt ({short('F1-table2')})")
    rise = scorecard(ctx).set_index("network").loc["F1", "rise_ratio"] if "F1" in shown_nets(ctx) else None
    if rise and rise != "—":
        headline_words["Figure 3 SB–LB line"] = f"rise LB ÷ SB {rise} ({short('F1-50epoch')})"
    if a.get("steps"):
        headline_words["Steps to target, B_crit"] = f"B_crit {a['steps']['b_crit']:,.0f} ({short('F1-steps')})"
    from lbgap.book import followups

    fu = followups.followup_arms(chapter_context(ctx, "followups"))
    if "hoffer" in fu:
        headline_words["Remedies after Keskar (Goyal, Hoffer, SAM)"] = (f"Hoffer − SB {fu['hoffer'].words()} "
                                                                        f"({short('F1-gpu-bf16')})")
    from lbgap.book import measure_model, tuned_lr

    tl = chapter_context(ctx, "tuned_lr")
    final = tuned_lr.final(tl)
    if set(final.regime) == {"SB", "LB"}:
        c = tuned_lr.gaps(tl)["tuned"]
        headline_words["LR tuned per batch size"] = f"SB − LB {c.words()} ({short('F1-tlr-final')})"
    cal = measure_model.calibration(chapter_context(ctx, "measure_your_model"))
    cal = cal[(cal.net == "F1") & cal.b_simple_from.str.startswith("lbgap advise") & cal.b_crit.str.startswith("adam")]
    if len(cal):
        headline_words["Advice for your own model (lbgap advise)"] = (f"B_crit / B_simple {cal.ratio.iloc[0]:.2f}, "
                                                                      f"Adam ({short('F1-advise')})")
    if a.get("noise"):
        headline_words["Gradient noise"] = f"B_simple {a['noise']['b_simple']:,.0f} ({short('F1-noise')})"
    rows = []
    for item, chapter, kind, tag, protocol, _ in STATUS_ROWS:
        keys = _record_keys(ctx, kind, tag) if kind else set()
        by_prof = {p: sorted({n for q, n, _, _ in keys if q == p}) for p in ctx.record_profiles}
        nets_run = {n for _, n, _, _ in keys}
        nets_paper = set(paper_table(STATUS_CLAIMS[item][1]).network) if item in STATUS_CLAIMS else set()
        word = claims.status_word(bool(keys), _item_verdicts(item, a), nets_run, nets_paper,
                                  own=item in OWN_ITEMS, applies=kind is not None or item.startswith("Table 1")
                                  or item.startswith("Table 5")).verdict
        if item.startswith("Table 1"):   # built networks: every parameter count matches App. B (sb_vs_lb.table1)
            word = "reproduced" if (sb_vs_lb.table1().match == "yes").all() else "partly"
        if item.startswith("Table 5"):
            word = "not run"
        if kind and keys:
            protocol = "; ".join(f"{p}: {', '.join(v)}" if v != ["—"] else p for p, v in by_prof.items() if v)
        link = f'<a href="chapters/{chapter}.html">{chapter}</a>' if chapter else ""
        rows.append({"item": item, "status": word, "networks_by_profile": protocol or "—",
                     "seeds": _seeds_per_arm(keys) if keys else "—",
                     "f1_ours_paper": headline_words.get(item, "—"), "chapter": link})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what the notebook shows
def status_notes() -> str:
    """The notes under the status table: why each partly reproduced or missing item is not complete."""
    return "\n".join(f"* **{item}**: {why}." for item, *_, why in STATUS_ROWS if why)


def show_status(ctx: Context) -> None:
    from IPython.display import Markdown, display

    from lbgap.book import run_sets

    display(styled(status(ctx), run_sets.caption("Status of every table and figure of Keskar et al. (2017) and of our "
                                                 "own studies; each F1 number names its run set", "all-records",
                                                 "F1-table2", "F1-50epoch", "F1-table7", "F1-gpu-bf16", "F1-steps",
                                                 "F1-noise", "F1-tlr-final", "F1-advise"), "status", wrap=("f1_ours_paper",),
                  labels=STATUS_LABELS))
    display(Markdown("Notes:\n\n" + status_notes()))

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
    for prof, net, s, _ in keys:
        seeds.setdefault((prof, net), set()).add(s)
    kept, _ = table2_runs(ctx)
    in_table2 = kept.groupby(["profile", "net"]).seed.nunique().to_dict() if len(kept) else {}

    def seed_words(prof: str, net: str) -> str:
        """The seeds trained; where Table 2 averages fewer (F2: one evaluation order), both counts."""
        trained = len(seeds.get((prof, net), ()))
        used = in_table2.get((prof, net), trained)
        return f"{used} seeds" if used == trained else f"{used} seeds in Table 2 of {trained} trained"

    row = t[t["item"].str.startswith("Table 2")].iloc[0]
    by_prof = dict(part.split(": ", 1) for part in str(row["networks_by_profile"]).split("; ") if ": " in part)
    ran = set()
    words = []
    for prof, label in (("paper", "At the paper's protocol"),
                        ("quick", f"Short runs ({PROFILES['quick']['max_epochs_sb']} epochs)")):
        nets = [n.strip() for n in by_prof.get(prof, "").split(",") if n.strip()]
        ran |= set(nets)
        if nets:
            counts = {seed_words(prof, n) for n in nets}
            words.append(f"{label}: " + (f"{_net_ranges(nets)}, {counts.pop()}" if len(counts) == 1 else
                                         ", ".join(f"{n} ({seed_words(prof, n)})" for n in nets)) + ".")
    missing = [n for n in MISSING_REASON if n not in ran]
    tables = [r["item"].split(" ")[0] + " " + r["item"].split(" ")[1] for _, r in t.iterrows()
              if r["status"] == "not run" and r["item"].split(" ")[0] in ("Table", "Figure")
              and r["networks_by_profile"] == "—" and "not covered" not in str(r["item"])]
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
    c = g["claim"] if g else None
    if c is None:
        gap_words = "the gap is not yet measured"
    elif c.verdict == "unresolved":
        gap_words = (f"the large batch tests {c.estimate.value:.2f} points lower on average, but {c.n} seeds do not "
                     f"resolve the gap (paired by seed, {c.estimate.interval_words(2, 'pt')}; the paper: "
                     f"{c.numbers['paper']:.2f})")
    elif c.verdict == "reversed":
        gap_words = f"the large batch tests higher: SB − LB {c.stat()} (the paper: {c.numbers['paper']:.2f})"
    else:
        gap_words = f"the large batch tests lower: SB − LB {c.stat()} (the paper: {c.numbers['paper']:.2f})"
    first = ("**Answer, for what we tested:** on F1 (MNIST, a fully connected network) at the paper's protocol, "
             + gap_words + "; what a larger batch changes is the number of **iterations**"
             + (f": steps to {s['target']:.0%} validation accuracy fall with the batch up to a critical batch of "
                f"about {s['b_crit']:,.0f} examples (95 % CI {s['ci'][0]:,.0f}–{s['ci'][1]:,.0f}), beyond which extra "
                "examples per step buy little." if s else "."))
    second = ("Whether this holds for the paper's convolutional networks, for TIMIT and for harder targets is not "
              "tested here: the short runs say only where the two regimes stand after equal epochs.")
    return Markdown(f"{first} {second}\n\n**Status:** {status_line(ctx)}")
