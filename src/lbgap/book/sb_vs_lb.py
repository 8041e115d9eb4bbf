"""The SB/LB chapter (Section 2, Tables 1-2, Figure 2): every number comes from the training records
(``records.train_table``/``history_table``) or from the paper's tables typed once into ``data/paper/*.csv``
(:mod:`lbgap.book.paper`); nothing here trains except :func:`compute` (smoke/quick/paper notebook profiles)."""
from __future__ import annotations

from lbgap.book.context import Context, shown_nets, shown_seeds
from lbgap.book.coverage import MISSING_REASON
from lbgap.book.paper import paper_table
from lbgap.book.style import pm, show, styled
from lbgap.book import claims, run_sets

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
