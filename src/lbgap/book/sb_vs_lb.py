"""The SB/LB chapter (Section 2, Tables 1-2, Figure 2): every number comes from the training records
(``records.train_table``/``history_table``) or from the paper's tables typed once into ``data/paper/*.csv``
(:mod:`lbgap.book.paper`); nothing here trains except :func:`compute` (smoke/quick/paper notebook profiles)."""
from __future__ import annotations

from lbgap.book.context import Context, all_records, original, shown_nets, shown_seeds, train_records
from lbgap.book.coverage import MISSING_REASON
from lbgap.book.paper import paper_table
from lbgap.book.style import pm, show, styled
from lbgap.book import claims, run_sets
from lbgap.measures.landscape import RISE_RATIO

UNCAPPED_TAG = "uncapped"   # a Table 2 pair retrained under the profile's own caps (paper: SB 100, LB 300 epochs)


def compute(ctx: Context) -> None:
    """Compute the SB/LB grid for a computing profile (smoke: synthetic data, CPU, seconds); no-op for results."""
    if not ctx.run:
        return
    from lbgap.core.sweep import run_grid, table2_grid

    grid = table2_grid(ctx.run_profile, shown_seeds(ctx), shown_nets(ctx), device=ctx.device)
    failed = [o for o in run_grid(grid, ctx.results_dir) if o.status == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed, first: {failed[0].run_id}: {failed[0].error}")


def train_runs(ctx: Context):
    """The training records a chapter shows: per network, the first of ``ctx.record_profiles`` that has any,
    real data (smoke only under the smoke profile), batch-statistics BN, SB/LB, all evaluated one way
    (:func:`one_eval_order`; :func:`missing_rows` names the records left out), at the profile's own protocol:
    where a network's SB and LB runs were also trained under the profile's own caps (config tag "uncapped",
    :func:`cap_table`) for at least as many seeds as the untagged ones, those lead; otherwise the untagged runs."""
    return table2_runs(ctx)[0]


def variant_runs(ctx: Context):
    """The untagged Table 2 runs of the networks whose rows :func:`train_runs` takes from the "uncapped" runs
    (F1 on a CPU: a 50-epoch cap): shown beside them as the variant."""
    return table2_runs(ctx, variant=True)[0]


def one_eval_order(runs):
    """Split one network's records into those its Table 2 rows may average and those they may not: with
    batch-statistic BN a prediction depends on its evaluation batch, so accuracies evaluated in stored-order
    and in interleaved batches (F2, ``data.eval_order``) are different measurements, and SB and LB must share
    one. Keeps the order most of the network's records share (a tie keeps ``interleaved``, the current
    protocol); returns (kept, left_out)."""
    counts = runs.eval_order.value_counts()
    best = max(counts.index, key=lambda o: (counts[o], o == "interleaved"))
    same = runs.eval_order == best
    return runs[same], runs[~same]


def table2_runs(ctx: Context, variant: bool = False):
    """(kept, left out) per :func:`train_runs`; ``variant``: the untagged runs of the networks whose rows come
    from "uncapped" runs, and nothing for the others."""
    import pandas as pd

    from lbgap.core.records import train_table

    kept, left = [], []
    for net in shown_nets(ctx):
        for prof in ctx.record_profiles:
            df = train_table(ctx.results_dir, prof)
            if df.empty:
                continue
            base = (df.net == net) & (df.bn == "batch") & df.regime.isin(["SB", "LB"]) \
                & df.seed.isin(shown_seeds(ctx)) & ((df.source == "real") | (prof == "smoke"))
            plain, protocol = base & (df.tag == ""), base & (df.tag == UNCAPPED_TAG) & (df.status == "ok")
            counts = [(df[m & (df.regime == r)].seed.nunique()) for m in (protocol, plain) for r in ("SB", "LB")]
            has_protocol = min(counts[:2]) > 0 and counts[0] >= counts[2] and counts[1] >= counts[3]
            keep = (plain if has_protocol else plain & False) if variant else (protocol if has_protocol else plain)
            if keep.any():
                k, out = one_eval_order(df[keep])
                kept.append(k)
                left.append(out)
            if (base & (df.tag == "")).any() or has_protocol:
                break

    def tidy(frames):
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        out["net"] = pd.Categorical(out.net, categories=shown_nets(ctx), ordered=True)
        return out.sort_values(["net", "regime", "seed"], ascending=[True, False, True]).reset_index(drop=True)

    return tidy(kept), tidy(left)


def table2_run_sets(ctx: Context, study: str = "table2", nets=None) -> str:
    """The run sets of Table 2's rows (:func:`train_runs`, and for ``study="table2"`` the variants of
    :func:`variant_runs`) in words, with the seeds each holds (:func:`lbgap.book.run_sets.describe`); ``nets``: only
    those networks."""
    import pandas as pd

    frames = [f for f in (train_runs(ctx), variant_runs(ctx) if study == "table2" else None)
              if f is not None and len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if nets is not None and len(df):
        df = df[df.net.astype(str).isin(nets)]
    return run_sets.describe(study, df.assign(net=df.net.astype(str)) if len(df) else df)


def table1():
    """Table 1: the paper's networks and data beside our implementation's parameter counts (``match``: ours equals
    the count implied by the paper's Appendix B)."""
    import pandas as pd

    from lbgap.core.models import model_table

    ours = pd.DataFrame(model_table())
    t = paper_table(1).merge(ours, on="network")
    ours_data = t.data.map({"mnist": "MNIST", "so762": "speechocean762", "cifar10": "CIFAR-10",
                            "cifar100": "CIFAR-100"})
    data = [p if p == o else f"{p} (ours: {o})" for p, o in zip(t.dataset, ours_data)]
    kind = [f"{k.replace('convolutional', 'conv.').lower()}, {a.removeprefix('App. ')}"
            for k, a in zip(t.network_type, t.architecture)]
    return pd.DataFrame({"network": t.network, "type (App. B)": kind, "data": data, "classes": t.classes,
                         "params (ours)": t.parameters.map("{:,}".format),
                         "params (App. B)": t.paper_parameters.map("{:,}".format),
                         "match": t.match.map({True: "yes", False: "no"})})


def table2_numbers(ctx: Context, variant: bool = False):
    """Per network and regime: mean, std (ddof=1) and n over seeds of train/test accuracy in %, epochs, stops,
    the epoch cap and the config tag (of :func:`train_runs`; ``variant``: of :func:`variant_runs`)."""
    import pandas as pd

    runs = variant_runs(ctx) if variant else train_runs(ctx)
    if runs.empty:
        return pd.DataFrame(columns=["net", "regime", "profile", "n", "seeds", "batch_size", "epochs", "steps", "capped",
                                     "max_epochs", "tag", "dataset", "split", "dist", "train_acc", "train_acc_std",
                                     "test_acc", "test_acc_std"])
    rows = []
    for (net, regime), g in runs.groupby(["net", "regime"], observed=True, sort=False):
        row = dict(net=net, regime=regime, profile=g.profile.iloc[0], n=len(g), seeds=",".join(map(str, g.seed)),
                   batch_size=int(g.batch_size.iloc[0]), epochs=float(g.epochs.mean()), steps=float(g.steps.mean()),
                   capped=int((g.stop_reason == "max_epochs").sum()), max_epochs=g.max_epochs.max(),
                   tag=g.tag.iloc[0], dataset=g.dataset.iloc[0], split=g.split.iloc[0],
                   dist=float(g.dist_from_init.mean()))
        for m in ("train_acc", "test_acc", "official_test_acc"):
            if m in g and g[m].notna().any():
                row[m], row[m + "_std"] = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows)


def protocol_words(sb: dict, lb: dict) -> str:
    """How a Table 2 row's runs were trained, in a few words: "paper protocol" (the paper profile's caps with its
    plateau rule), "cap 50 epochs" (a reduced cap), "quick, 5 epochs"."""
    if sb["max_epochs"] != sb["max_epochs"] or sb["max_epochs"] is None:
        return sb["profile"]
    if sb["profile"] == "quick":
        return f"quick, {sb['max_epochs']:.0f} epochs"
    if sb["profile"] != "paper":
        return sb["profile"]
    from lbgap.core.config import PROFILES

    caps = (PROFILES["paper"]["max_epochs_sb"], PROFILES["paper"]["max_epochs_lb"])
    return "paper protocol" if (sb["max_epochs"], lb["max_epochs"]) == caps else f"cap {sb['max_epochs']:.0f} epochs"


def gap_claim(runs, net: str, paper_gap: float):
    """The gap SB − LB of ``net`` in ``runs`` (a frame of :func:`train_runs` or :func:`variant_runs`), paired by
    seed, against the paper's (:func:`lbgap.book.claims.gap_vs_paper`)."""
    from lbgap.book import claims

    g = runs[runs.net == net].assign(acc=lambda d: 100 * d.test_acc)
    sb, lb = (claims.by_seed(g[g.regime == r], "acc") for r in ("SB", "LB"))
    return claims.gap_vs_paper(sb, lb, paper_gap, name=f"{net} Table 2 gap")


def verdict(net: str, sb: dict, lb: dict, paper_gap: float, claim) -> str:
    """Table 2's verdict for one network: the words of ``claim`` (:func:`gap_claim`, paired by seed) with n and
    the 95 % interval beside the paper's gap, and notes on stand-in data, the quick budget and the epoch cap."""
    notes = ""
    if net == "F2":
        notes += "; stand-in data: compare the gap, not the accuracies"
    if sb.get("profile") == "quick":
        notes += (f"; quick profile: {sb['epochs']:.0f} epochs, far from converged (SB {sb['steps']:,.0f} "
                  f"steps, LB {lb['steps']:,.0f})")
    if sb["capped"] or lb["capped"]:
        notes += (f"; stopped at the epoch cap: {sb['capped']} of {sb['n']} SB and {lb['capped']} of {lb['n']} LB "
                  "runs")
    if claim.n < 2:
        return f"n = {claim.n} paired seed{'s' if claim.n != 1 else ''}: no verdict yet" + notes
    stat = claim.stat()
    if claim.verdict in ("reproduced", "sign reproduced") and sb.get("profile") == "quick":   # far fewer LB steps
        v = f"SB ahead after equal epochs: {stat} (paper's converged gap {paper_gap:.2f})"
    elif claim.verdict == "reproduced":
        v = f"gap reproduced: {stat} holds the paper's {paper_gap:.2f}"
    elif claim.verdict == "sign reproduced":
        v = f"gap's sign reproduced, not its size: {stat} (paper {paper_gap:.2f})"
    elif claim.verdict == "reversed":
        v = f"gap reversed: LB better, {stat} (paper: SB better by {paper_gap:.2f})"
    else:
        v = f"gap {claim.words()} (paper {paper_gap:.2f})"
    return v + notes


def _ours_row(net: str, sb: dict, lb: dict, label: str) -> dict:
    return {"network": net, "runs": f"ours: {label} (n={sb['n']}/{lb['n']})",
            "train SB": pm(sb["train_acc"], sb["train_acc_std"]), "train LB": pm(lb["train_acc"], lb["train_acc_std"]),
            "test SB": pm(sb["test_acc"], sb["test_acc_std"]), "test LB": pm(lb["test_acc"], lb["test_acc_std"]),
            "gap SB−LB": f"{sb['test_acc'] - lb['test_acc']:.2f}", "epochs SB/LB": f"{sb['epochs']:.0f}/{lb['epochs']:.0f}"}


def table2_rows(ctx: Context) -> list[dict]:
    """Table 2's rows with their verdicts: per network our row at the protocol :func:`train_runs` chose (the paper
    profile's own caps where they exist), the reduced-cap variant where there is one, and the paper's row; a
    network without an SB/LB pair of records gets an "ours" row of dashes and a verdict saying what it lacks."""
    nums, paper = table2_numbers(ctx), paper_table(2).set_index("network")
    var = table2_numbers(ctx, variant=True)
    rows = []
    for net in shown_nets(ctx):
        p = paper.loc[net]
        paper_gap = p.test_acc_sb_mean - p.test_acc_lb_mean
        have = nums[nums.net == net]
        if not set(have.regime) >= {"SB", "LB"}:
            rows.append({"network": net, "runs": "ours", "train SB": "—", "train LB": "—", "test SB": "—",
                         "test LB": "—", "gap SB−LB": "—", "epochs SB/LB": "—",
                         "verdict": "no records yet (see the missing rows below)" if have.empty else
                         f"only {', '.join(have.regime)} so far"})
        else:
            sb, lb = (have[have.regime == r].iloc[0].to_dict() for r in ("SB", "LB"))
            rows.append(dict(_ours_row(net, sb, lb, protocol_words(sb, lb)),
                             verdict=verdict(net, sb, lb, paper_gap, gap_claim(train_runs(ctx), net, paper_gap))))
            v = var[var.net == net]
            if set(v.regime) >= {"SB", "LB"}:
                vsb, vlb = (v[v.regime == r].iloc[0].to_dict() for r in ("SB", "LB"))
                rows.append(dict(_ours_row(net, vsb, vlb, protocol_words(vsb, vlb) + ", variant"),
                                 verdict="variant: " + verdict(net, vsb, vlb, paper_gap,
                                                               gap_claim(variant_runs(ctx), net, paper_gap))))
        rows.append({"network": net, "runs": "paper (n=5)",
                     "train SB": pm(p.train_acc_sb_mean, p.train_acc_sb_std),
                     "train LB": pm(p.train_acc_lb_mean, p.train_acc_lb_std),
                     "test SB": pm(p.test_acc_sb_mean, p.test_acc_sb_std),
                     "test LB": pm(p.test_acc_lb_mean, p.test_acc_lb_std),
                     "gap SB−LB": f"{paper_gap:.2f}", "epochs SB/LB": "to plateau", "verdict": ""})
    return rows


def table2(ctx: Context):
    """Table 2: train/test accuracy (%) of SB and LB Adam, mean ± std over seeds, ours beside the paper's, the
    test gap SB − LB (percentage points) and a verdict (:func:`table2_rows`)."""
    import pandas as pd

    return pd.DataFrame(table2_rows(ctx))


def official_test_table(ctx: Context):
    """Hold-out runs (CIFAR-10 here) also report the official test images as ``official_test_acc``."""
    import pandas as pd

    nums = table2_numbers(ctx)
    if "official_test_acc" not in nums:
        return pd.DataFrame()
    nums = nums[nums.official_test_acc.notna()]
    return pd.DataFrame({"network": nums.net.astype(str), "regime": nums.regime, "n": nums.n,
                         "hold-out test acc (%)": [pm(m, s) for m, s in zip(nums.test_acc, nums.test_acc_std)],
                         "official test acc (%)": [pm(m, s) for m, s in
                                                   zip(nums.official_test_acc, nums.official_test_acc_std)]})


def distance_table(ctx: Context):
    """Section 8: ‖x* − x0‖₂ for SB and LB (same x0 per seed) and their ratio; the paper saw 3-10."""
    import pandas as pd

    runs = train_runs(ctx)
    if runs.empty:
        return pd.DataFrame()
    wide = runs.pivot_table(index=["net", "seed"], columns="regime", values="dist_from_init", observed=True)
    if not {"SB", "LB"} <= set(wide.columns):
        return pd.DataFrame()
    wide = wide.dropna()
    wide["ratio"] = wide.SB / wide.LB
    rows = []
    for net, g in wide.groupby(level="net", observed=True, sort=False):
        rows.append({"network": str(net), "seeds": len(g), "‖x_SB − x0‖": pm(g.SB.mean(), g.SB.std(ddof=1), 1),
                     "‖x_LB − x0‖": pm(g.LB.mean(), g.LB.std(ddof=1), 1),
                     "ratio SB/LB": pm(g.ratio.mean(), g.ratio.std(ddof=1)),
                     "range": f"{g.ratio.min():.2f}–{g.ratio.max():.2f}", "paper": "3–10",
                     "within 3–10": "yes" if g.ratio.between(3, 10).all() else "no"})
    return pd.DataFrame(rows)


def curves(ctx: Context, first_epoch: int = 0):
    """Figure 2 data: accuracy (%) vs epoch from ``first_epoch`` on, long format (net, regime, seed, epoch,
    set, accuracy), of the runs Table 2 averages (:func:`train_runs`: the same run set and seeds)."""
    import pandas as pd

    from lbgap.core.records import history_table

    runs = train_runs(ctx)
    if runs.empty:
        return pd.DataFrame(columns=["net", "regime", "seed", "epoch", "set", "accuracy"])
    frames = []
    for (net, prof), g in runs.groupby(["net", "profile"], observed=True):
        h = history_table(ctx.results_dir, prof)   # the runs Table 2 averages, no others (one evaluation order)
        keep = set(zip(g.regime, g.seed, g.tag))
        h = h[h.net == net]
        frames.append(h[[k in keep for k in zip(h.regime, h.seed, h.tag)]])
    h = pd.concat(frames, ignore_index=True)
    h = h[h.epoch >= first_epoch]
    long = h.melt(id_vars=["net", "regime", "seed", "epoch"], value_vars=["train_acc", "test_acc"],
                  var_name="set", value_name="accuracy")
    long["set"] = long["set"].map({"train_acc": "train", "test_acc": "test"})
    long["accuracy"] = 100 * long["accuracy"]
    return long


ORDER_WORDS = {"stored": "stored-order", "interleaved": "interleaved"}


def missing_rows(ctx: Context) -> list[str]:
    """Plain sentences: which (network, regime, seed) rows of Table 2 have no record, or one left out because
    it was evaluated differently from the rest (:func:`one_eval_order`), and why."""
    runs, left = table2_runs(ctx)
    out = []
    for net in shown_nets(ctx):
        have = runs[runs.net == net] if not runs.empty else runs
        if have.empty:
            out.append(f"{net}: no records: {MISSING_REASON[net]}.")
            continue
        gone = left[left.net == net] if not left.empty else left
        for regime in ("SB", "LB"):
            odd = gone[gone.regime == regime]
            recorded = set(have[have.regime == regime].seed) | set(odd.seed)
            if len(odd):
                out.append(f"{net} {regime}: {seed_words(odd.seed)} left out: evaluated in "
                           f"{ORDER_WORDS[odd.eval_order.iloc[0]]} batches, the row's other records in "
                           f"{ORDER_WORDS[have.eval_order.iloc[0]]} ones (`lbgap eval-order` measures both).")
            lack = [s for s in shown_seeds(ctx) if s not in recorded]
            if lack:
                out.append(f"{net} {regime}: {seed_words(lack)} missing.")
    return out


def seed_words(seeds) -> str:
    seeds = list(seeds)
    return ("seeds " if len(seeds) > 1 else "seed ") + ",".join(map(str, seeds))



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


# ------------------------------------------------------------------------------------ what the notebook shows
def show_table1():
    return styled(table1(), run_sets.caption("Table 1: network configurations (paper) and our parameter counts",
                                             "no-runs"), "table1", wrap=("type (App. B)",))


def show_table2(ctx: Context) -> None:
    """Table 2 without its verdict column (the table fits the page), then one line per network: the verdict."""
    from IPython.display import Markdown, display

    t = table2(ctx)
    show(t.drop(columns="verdict"), "Table 2: train and test accuracy (%) of SB and LB Adam, ours vs Keskar et al. "
         "(2017); gap in percentage points — runs: " + table2_run_sets(ctx), "table2")
    lines = [f"- **{r.network}**, {r.runs.removeprefix('ours: ')}: {r.verdict}." for r in t.itertuples()
             if r.verdict and r.runs != "ours"]
    display(Markdown("\n".join(lines)))


def show_missing_rows(ctx: Context) -> None:
    missing = missing_rows(ctx)
    print("\n".join("- " + m for m in missing) if missing else "none: every row has its records")


def show_official_test(ctx: Context) -> None:
    t_official = official_test_table(ctx)
    if t_official.empty:
        print("No hold-out runs (CIFAR-10) among the records yet.")
    else:
        show(t_official, "CIFAR-10 accuracy (%) on the hold-out (Table 2) and on the official test images — runs: "
             + table2_run_sets(ctx, "figure2", set(t_official.network)), "official")


def peak_then_decay(ctx: Context):
    """Figure 2's check, "no peak-then-decay of test accuracy": per network and regime, over the seeds, the epoch at
    which each run's test accuracy peaked, the peak, the final value and the drop from peak to final (percentage
    points, mean ± sd), and the epoch-to-epoch jitter of the second half of each curve (sd of successive differences
    / √2: what a run's noise alone moves the accuracy by). The peak of a noisy curve sits above its level by
    chance, so ``decays`` needs the mean drop to exceed ``claims.THRESHOLDS["decay_pt"]`` points, two standard errors
    over the seeds and twice the jitter; ``rising`` says every run peaked at its last epoch (too short to tell)."""
    import numpy as np
    import pandas as pd

    c = curves(ctx, first_epoch=1)
    c = c[c.set == "test"]
    rows = []
    for (net, regime), g in c.groupby(["net", "regime"], observed=True, sort=False):
        per_seed = []
        for _, r in g.sort_values("epoch").groupby("seed"):
            i = r.accuracy.to_numpy().argmax()
            late = r.accuracy.to_numpy()[len(r) // 2:]
            jitter = float(np.diff(late).std(ddof=1) / 2 ** 0.5) if len(late) > 2 else float("nan")
            per_seed.append((int(r.epoch.iloc[i]), float(r.accuracy.iloc[i]), float(r.accuracy.iloc[-1]),
                             int(r.epoch.iloc[-1]), jitter))
        d = pd.DataFrame(per_seed, columns=["peak_epoch", "peak", "final", "last_epoch", "jitter"])
        drop = d.peak - d.final
        se = drop.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float("inf")
        rows.append(dict(net=str(net), regime=regime, n=len(d), peak_epochs=sorted(d.peak_epoch),
                         last_epochs=sorted(d.last_epoch), peak=d.peak.mean(), final=d.final.mean(),
                         drop=drop.mean(), drop_sd=drop.std(ddof=1), jitter=d.jitter.mean(),
                         rising=bool((d.peak_epoch == d.last_epoch).all()),
                         decays=bool(drop.mean() > max(claims.threshold("decay_pt"), 2 * se,
                                                       2 * np.nan_to_num(d.jitter.mean())))))
    return pd.DataFrame(rows)


def _epochs(v: list[int]) -> str:
    return str(v[0]) if min(v) == max(v) else f"{min(v)}–{max(v)}"


def figure2_reading(ctx: Context) -> list[str]:
    """One sentence per network on Figure 2's check (:func:`peak_then_decay`)."""
    t = peak_then_decay(ctx)
    out = []
    for net, g in t.groupby("net", sort=False):
        parts = []
        for r in g.sort_values("regime", ascending=False).itertuples():
            what = ("still rising at its last epoch" if r.rising else "peaks, then falls" if r.decays
                    else "no fall beyond its noise after the peak")
            jit = f", epoch-to-epoch jitter {r.jitter:.2f} pt" if r.jitter == r.jitter else ""
            parts.append(f"{r.regime} {what} (peak {r.peak:.2f} % at epoch {_epochs(r.peak_epochs)}, final "
                         f"{r.final:.2f} % at epoch {_epochs(r.last_epochs)}, drop {pm(r.drop, r.drop_sd)} pt{jit}; "
                         f"n={r.n})")
        if g.rising.all():
            verdict = "the runs end while test accuracy still rises: too short to check"
        elif g.decays.any():
            verdict = "the paper's \"no peak-then-decay\" does not hold here"
        else:
            verdict = "agrees with the paper: no peak-then-decay"
        out.append(f"**{net}**: " + "; ".join(parts) + f". Verdict: {verdict}.")
    return out


def show_figure2(ctx: Context) -> None:
    """Figure 2: train and test accuracy vs epoch, SB and LB, mean ± std over seeds, one row per network; then
    the peak-then-decay check (:func:`figure2_reading`)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from IPython.display import Markdown, display

    from lbgap.book.style import show_figure

    fig2 = curves(ctx, first_epoch=1)
    if fig2.empty:
        print("No learning curves yet: no records for", ", ".join(ctx.nets))
        return
    nets = [n for n in fig2.net.unique()]
    fig, axes = plt.subplots(len(nets), 1, figsize=(7.2, 3.0 * len(nets)), squeeze=False)
    for ax, net in zip(axes[:, 0], nets):
        d = fig2[fig2.net == net]
        sns.lineplot(data=d, x="epoch", y="accuracy", hue="regime", style="set", errorbar="sd", ax=ax,
                     hue_order=["SB", "LB"], style_order=["train", "test"])
        if d.epoch.max() > 60:
            ax.set_xscale("log")
        ax.set_title(f"{net} ({protocol_words(*_regimes(ctx, net))})", fontsize=11)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.legend(fontsize=9, ncols=2, loc="best")
    fig.suptitle("Figure 2: train and test accuracy vs epoch, SB and LB (mean ± sd over seeds)", fontsize=11)
    fig.tight_layout()
    show_figure(fig, "Keskar et al.'s Figure 2 on our runs: train and test accuracy against the epoch, SB and LB, "
                "mean ± sd over seeds, of the runs Table 2 averages — runs: " + table2_run_sets(ctx, "figure2"))
    display(Markdown("\n".join("- " + line for line in figure2_reading(ctx))))


def _regimes(ctx: Context, net: str) -> tuple[dict, dict]:
    nums = table2_numbers(ctx)
    have = nums[nums.net == net]
    return tuple(have[have.regime == r].iloc[0].to_dict() for r in ("SB", "LB"))


def show_distances(ctx: Context) -> None:
    t_dist = distance_table(ctx)
    if t_dist.empty:
        print("No SB/LB pair among the records yet.")
    else:
        show(t_dist, "Distance of the final weights from x0 (L2 norm) and the SB/LB ratio — runs: "
             + table2_run_sets(ctx, "distance"), "distance")


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


def show_eval_order(ctx: Context) -> None:
    """F2: the same final models evaluated in stored-order and in interleaved batches (batch-statistic BN)."""
    from lbgap.core import records
    from lbgap.studies.eval_order import LABELS, eval_order_table

    eo = eval_order_table(records.preferred_records(ctx.results_dir, ctx.record_profiles, "evalorder"))
    if eo.empty:
        print("No evaluation-order checks recorded (`lbgap eval-order RUN`).")
    else:
        seeds = sorted({int(s) for s in eo.seed}) if "seed" in eo else None
        show(eo, run_sets.caption("F2: accuracy and loss in stored-order vs interleaved evaluation batches",
                                  ("F2-quick", seeds)), "evalorder", labels=LABELS)
        from lbgap.book.style import verdict_lines

        verdict_lines(eval_order_reading(eo))


def eval_order_reading(eo) -> list[str]:
    """Per network and seed of an evaluation-order table (``studies.eval_order.eval_order_table``): the SB − LB test
    gap and SB's train − test gap in stored-order and in interleaved batches."""
    out = []
    orders = ("stored", "interleaved")
    for (net, seed), g in eo.groupby(["net", "seed"], sort=True):
        acc = {(r["regime"], r["set"]): {o: float(r[f"acc_pct_{o}"]) for o in orders} for _, r in g.iterrows()}
        if not {("SB", "test"), ("LB", "test"), ("SB", "train")} <= set(acc):
            continue
        gap = [acc["SB", "test"][o] - acc["LB", "test"][o] for o in orders]
        fit = [acc["SB", "train"][o] - acc["SB", "test"][o] for o in orders]
        out.append(f"**{net}, seed {seed}**: SB − LB test gap {gap[0]:.2f} points in stored-order batches, {gap[1]:.2f} "
                   f"interleaved; SB's train − test gap {fit[0]:.2f} and {fit[1]:.2f}.")
    return out


def table2_gap(ctx, net: str = "F1") -> claims.Claim | None:
    """Table 2's gap SB − LB of ``net`` in the run set :func:`sb_vs_lb.train_runs` chose (F1: the uncapped paper
    protocol), paired by seed, against the paper's gap (:func:`gap_vs_paper`); None without SB and LB runs."""
    from lbgap.book.paper import paper_table
    from lbgap.book.sb_vs_lb import train_runs

    runs = train_runs(ctx)
    if runs.empty:
        return None
    g = runs[runs.net == net]
    sb, lb = (claims.by_seed(g[g.regime == r].assign(acc=100 * g.test_acc), "acc") for r in ("SB", "LB"))
    if not sb or not lb:
        return None
    p = paper_table(2).set_index("network").loc[net]
    c = claims.gap_vs_paper(sb, lb, p.test_acc_sb_mean - p.test_acc_lb_mean, name=f"{net} Table 2 gap")
    c.numbers.update(tag=str(g.tag.iloc[0]), sd_sb=claims.mean_ci(sb.values()).sd)
    return c
