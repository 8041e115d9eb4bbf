"""What the book's notebooks call: resolve a notebook's parameters into where records are read/written.

Every chapter notebook starts with a ``parameters`` cell::

    profile = "results"      # "results": read the committed records (default, what the book shows)
                             # "smoke":   run the real code on tiny synthetic data in a temp dir (seconds)
                             # "paper":   recompute with the paper protocol (GPU), writing data/results
    device = "auto"
    seeds = "0-4"
    nets = "F1,F2,C1,C2,C3,C4"
    results_dir = None       # None: data/results (results, paper) or a fresh temp dir (smoke)

then ``ctx = report.context(profile, results_dir, device, seeds, nets)`` and uses ``ctx.results_dir``,
``ctx.record_profiles`` (which record profiles to read, best first) and ``ctx.run`` (whether to compute).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from lbgap.core import paths
from lbgap.core.records import store_root, variant
from lbgap.core.sweep import parse_nets, parse_seeds

NOTEBOOK_PROFILES = ("results", "smoke", "quick", "paper")


@dataclass
class Context:
    profile: str                  # the notebook profile
    results_dir: Path
    record_profiles: tuple[str, ...]  # record profiles to read, in order of preference
    run: bool                     # compute (smoke/quick/paper) or only read (results)
    device: str
    seeds: list[int]
    nets: list[str]

    @property
    def run_profile(self) -> str:
        return self.record_profiles[0]


def context(profile: str = "results", results_dir: str | Path | None = None, device: str = "auto",
            seeds: str = "0-4", nets: str = "F1,F2,C1,C2,C3,C4") -> Context:
    if profile not in NOTEBOOK_PROFILES:
        raise ValueError(f"notebook profile {profile!r} must be one of {', '.join(NOTEBOOK_PROFILES)}")
    if results_dir is not None:
        rd = Path(results_dir).expanduser().resolve()
    elif profile == "smoke":
        rd = Path(tempfile.mkdtemp(prefix="lbgap-smoke-"))
    else:
        rd = store_root(None)
    record_profiles = {"results": ("paper", "quick"), "smoke": ("smoke",), "quick": ("quick",),
                       "paper": ("paper",)}[profile]
    device = "cpu" if profile == "smoke" else device
    from lbgap.core.train import apply_float32_policy

    apply_float32_policy()   # a recomputing notebook evaluates in IEEE float32, as the commands do
    return Context(profile, rd, record_profiles, profile != "results", device, parse_seeds(seeds), parse_nets(nets))


# ==================================================================================== Tables 1-2, Figure 2
# What the SB/LB chapter, the front page and the reproducibility page show. Every number comes from the
# result records (``records.train_table``/``history_table``) or from the paper's tables typed once into
# ``data/paper/*.csv``; nothing here trains except :func:`run_table2` (smoke/quick/paper notebook profiles).

# Why a network has no records, known without looking at this machine (the text must not depend on the
# local data cache, or a committed notebook would differ between machines).
MISSING_REASON = {
    "F1": "not run yet (MNIST, CPU-feasible)",
    "F2": "needs a GPU (speechocean762 frames, the TIMIT stand-in: ~1.1 M frames per epoch)",
    "C1": "needs a GPU (CIFAR-10, 5 seeds x SB/LB to a plateau)",
    "C2": "needs a GPU (CIFAR-10, VGG-16-like, 15 M parameters)",
    "C3": "needs CIFAR-100 pixels (not in the shipped data pack) and a GPU",
    "C4": "needs CIFAR-100 pixels (not in the shipped data pack) and a GPU",
}
# A smoke run trains at most two seeds (enough for a mean ± std) of the cheap networks (one MLP, one CNN): the
# VGG-like C2/C4 take minutes per run even on synthetic data on a CPU. Pass ``nets="C2"`` alone to smoke them.
SMOKE_MAX_SEEDS = 2
SMOKE_NETS = ("F1", "C1")


def paper_table(name: str):
    """A table of the paper typed once into ``data/paper/<name>.csv`` (its ``source`` column names the table)."""
    import pandas as pd

    path = paths.PAPER_DIR / f"{name}.csv"
    if not path.is_file():
        raise ValueError(f"{path} is missing: the paper's reference numbers live in data/paper/*.csv")
    return pd.read_csv(path)


def shown_seeds(ctx: Context) -> list[int]:
    return ctx.seeds[:SMOKE_MAX_SEEDS] if ctx.profile == "smoke" else ctx.seeds


def shown_nets(ctx: Context) -> list[str]:
    if ctx.profile != "smoke":
        return ctx.nets
    return [n for n in ctx.nets if n in SMOKE_NETS] or ctx.nets[:1]


def run_table2(ctx: Context, log=print) -> None:
    """Compute the SB/LB grid for a computing profile (smoke: synthetic data, CPU, seconds); no-op for results."""
    if not ctx.run:
        return
    from lbgap.core.sweep import run_grid, table2_grid

    grid = table2_grid(ctx.run_profile, shown_seeds(ctx), shown_nets(ctx), device=ctx.device)
    failed = [o for o in run_grid(grid, ctx.results_dir, log=log) if o.status == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed, first: {failed[0].run_id}: {failed[0].error}")


def train_runs(ctx: Context):
    """The training records a chapter shows: per network, the first of ``ctx.record_profiles`` that has any,
    real data (smoke only under the smoke profile), the Table 2 variant (batch-statistics BN, no tag, SB/LB),
    all evaluated one way (:func:`one_eval_order`; :func:`missing_rows` names the records left out)."""
    return _table2_runs(ctx)[0]


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


def _table2_runs(ctx: Context):
    import pandas as pd

    from lbgap.core.records import train_table

    kept, left = [], []
    for net in shown_nets(ctx):
        for prof in ctx.record_profiles:
            df = train_table(ctx.results_dir, prof)
            if df.empty:
                continue
            keep = (df.net == net) & (df.bn == "batch") & (df.tag == "") & df.regime.isin(["SB", "LB"]) \
                & df.seed.isin(shown_seeds(ctx)) & ((df.source == "real") | (prof == "smoke"))
            if keep.any():
                k, out = one_eval_order(df[keep])
                kept.append(k)
                left.append(out)
                break

    def tidy(frames):
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        out["net"] = pd.Categorical(out.net, categories=shown_nets(ctx), ordered=True)
        return out.sort_values(["net", "regime", "seed"], ascending=[True, False, True]).reset_index(drop=True)

    return tidy(kept), tidy(left)


def _pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std == std else f"{mean:.{digits}f}"


def table1():
    """Table 1: the paper's networks and data beside our implementation's parameter counts."""
    import pandas as pd

    from lbgap.core.models import model_table

    ours = pd.DataFrame(model_table())
    paper = paper_table("table1")
    t = paper.merge(ours, on="network")
    t["our data"] = t.data.map({"mnist": "MNIST", "so762": "speechocean762 (TIMIT stand-in)",
                                "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"})
    t = t.rename(columns={"network": "network", "network_type": "type (paper)", "architecture": "architecture",
                          "dataset": "data (paper)", "parameters": "params (ours)",
                          "paper_parameters": "params (App. B)"})
    t["params (ours)"] = t["params (ours)"].map("{:,}".format)
    t["params (App. B)"] = t["params (App. B)"].map("{:,}".format)
    return t[["network", "type (paper)", "architecture", "data (paper)", "our data", "classes",
              "params (ours)", "params (App. B)", "match"]]


def table2_numbers(ctx: Context):
    """Per network and regime: mean, std (ddof=1) and n over seeds of train/test accuracy in %, epochs, stops."""
    import pandas as pd

    runs = train_runs(ctx)
    if runs.empty:
        return pd.DataFrame(columns=["net", "regime", "profile", "n", "seeds", "batch_size", "epochs", "steps", "capped",
                                     "dataset", "split", "dist", "train_acc", "train_acc_std", "test_acc",
                                     "test_acc_std"])
    rows = []
    for (net, regime), g in runs.groupby(["net", "regime"], observed=True, sort=False):
        row = dict(net=net, regime=regime, profile=g.profile.iloc[0], n=len(g), seeds=",".join(map(str, g.seed)),
                   batch_size=int(g.batch_size.iloc[0]), epochs=float(g.epochs.mean()), steps=float(g.steps.mean()),
                   capped=int((g.stop_reason == "max_epochs").sum()), dataset=g.dataset.iloc[0],
                   split=g.split.iloc[0], dist=float(g.dist_from_init.mean()))
        for m in ("train_acc", "test_acc", "official_test_acc"):
            if m in g and g[m].notna().any():
                row[m], row[m + "_std"] = 100 * g[m].mean(), 100 * g[m].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(net: str, sb: dict, lb: dict, paper_gap: float) -> str:
    notes = ""
    if net == "F2":
        notes += "; stand-in data: compare the gap, not the accuracies"
    if sb.get("profile") == "quick":
        notes += (f"; quick profile: {sb['epochs']:.0f} epochs, far from converged (SB {sb['steps']:,.0f} "
                  f"steps, LB {lb['steps']:,.0f})")
    if sb["capped"] or lb["capped"]:
        notes += "; some runs hit the epoch cap"
    if min(sb["n"], lb["n"]) < 2:
        return "1 seed only: no verdict yet" + notes
    gap = sb["test_acc"] - lb["test_acc"]
    se = (sb["test_acc_std"] ** 2 / sb["n"] + lb["test_acc_std"] ** 2 / lb["n"]) ** 0.5
    if gap > 2 * se and sb.get("profile") == "quick":   # LB made ~20-400x fewer steps: not the paper's gap
        v = f"SB ahead after equal epochs ({gap:.2f} pt, > 2 SE; paper's converged gap {paper_gap:.2f})"
    elif gap > 2 * se:
        v = f"gap reproduced ({gap:.2f} vs paper {paper_gap:.2f} pt)"
    elif gap < -2 * se:
        v = f"gap reversed: LB better by {-gap:.2f} pt (paper: SB better by {paper_gap:.2f})"
    else:
        v = f"no significant gap ({gap:.2f} ± {2 * se:.2f} pt; paper {paper_gap:.2f})"
    return v + notes


def table2(ctx: Context):
    """Table 2: train/test accuracy (%) of SB and LB Adam, mean ± std over seeds, ours beside the paper's,
    the test gap SB − LB (percentage points) and a verdict. A network without an SB/LB pair of records keeps
    the paper's row and an "ours" row that says what it needs (see also :func:`missing_rows`)."""
    import pandas as pd

    nums, paper = table2_numbers(ctx), paper_table("table2").set_index("network")
    rows = []
    for net in shown_nets(ctx):
        p = paper.loc[net]
        have = nums[nums.net == net]
        if not set(have.regime) >= {"SB", "LB"}:
            rows.append({"network": net, "": "ours", "train SB": "—", "train LB": "—", "test SB": "—",
                         "test LB": "—", "gap SB−LB": "—", "epochs": "—",
                         "verdict": "no records yet (see the missing rows below)" if have.empty else
                         f"only {', '.join(have.regime)} so far"})
        else:
            sb = have[have.regime == "SB"].iloc[0].to_dict()
            lb = have[have.regime == "LB"].iloc[0].to_dict()
            rows.append({"network": net, "": f"ours ({sb['profile']}, n={sb['n']}/{lb['n']})",
                         "train SB": _pm(sb["train_acc"], sb["train_acc_std"]),
                         "train LB": _pm(lb["train_acc"], lb["train_acc_std"]),
                         "test SB": _pm(sb["test_acc"], sb["test_acc_std"]),
                         "test LB": _pm(lb["test_acc"], lb["test_acc_std"]),
                         "gap SB−LB": f"{sb['test_acc'] - lb['test_acc']:.2f}",
                         "epochs": f"{sb['epochs']:.0f}/{lb['epochs']:.0f}",
                         "verdict": _verdict(net, sb, lb, p.test_acc_sb_mean - p.test_acc_lb_mean)})
        rows.append({"network": net, "": "paper (n=5)",
                     "train SB": _pm(p.train_acc_sb_mean, p.train_acc_sb_std),
                     "train LB": _pm(p.train_acc_lb_mean, p.train_acc_lb_std),
                     "test SB": _pm(p.test_acc_sb_mean, p.test_acc_sb_std),
                     "test LB": _pm(p.test_acc_lb_mean, p.test_acc_lb_std),
                     "gap SB−LB": f"{p.test_acc_sb_mean - p.test_acc_lb_mean:.2f}",
                     "epochs": "to plateau", "verdict": ""})
    return pd.DataFrame(rows)


def official_test_table(ctx: Context):
    """Hold-out runs (CIFAR-10 here) also report the official test images as ``official_test_acc``."""
    import pandas as pd

    nums = table2_numbers(ctx)
    if "official_test_acc" not in nums:
        return pd.DataFrame()
    nums = nums[nums.official_test_acc.notna()]
    return pd.DataFrame({"network": nums.net.astype(str), "regime": nums.regime, "n": nums.n,
                         "hold-out test acc (%)": [_pm(m, s) for m, s in zip(nums.test_acc, nums.test_acc_std)],
                         "official test acc (%)": [_pm(m, s) for m, s in
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
        rows.append({"network": str(net), "seeds": len(g), "‖x_SB − x0‖": _pm(g.SB.mean(), g.SB.std(ddof=1), 1),
                     "‖x_LB − x0‖": _pm(g.LB.mean(), g.LB.std(ddof=1), 1),
                     "ratio SB/LB": _pm(g.ratio.mean(), g.ratio.std(ddof=1)),
                     "range": f"{g.ratio.min():.2f}–{g.ratio.max():.2f}", "paper": "3–10",
                     "within 3–10": "yes" if g.ratio.between(3, 10).all() else "no"})
    return pd.DataFrame(rows)


def curves(ctx: Context, first_epoch: int = 0):
    """Figure 2 data: accuracy (%) vs epoch from ``first_epoch`` on, long format (net, regime, seed, epoch,
    set, accuracy)."""
    import pandas as pd

    from lbgap.core.records import history_table

    runs = train_runs(ctx)
    if runs.empty:
        return pd.DataFrame(columns=["net", "regime", "seed", "epoch", "set", "accuracy"])
    frames = []
    for (net, prof), _ in runs.groupby(["net", "profile"], observed=True):
        h = history_table(ctx.results_dir, prof)
        h = h[(h.net == net) & (h.tag == "") & h.regime.isin(["SB", "LB"]) & h.seed.isin(shown_seeds(ctx))]
        frames.append(h)
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
    runs, left = _table2_runs(ctx)
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
                out.append(f"{net} {regime}: {_seed_words(odd.seed)} left out: evaluated in "
                           f"{ORDER_WORDS[odd.eval_order.iloc[0]]} batches, the row's other records in "
                           f"{ORDER_WORDS[have.eval_order.iloc[0]]} ones (`lbgap eval-order` measures both).")
            lack = [s for s in shown_seeds(ctx) if s not in recorded]
            if lack:
                out.append(f"{net} {regime}: {_seed_words(lack)} missing.")
    return out


def _seed_words(seeds) -> str:
    seeds = list(seeds)
    return ("seeds " if len(seeds) > 1 else "seed ") + ",".join(map(str, seeds))


def headline(ctx: Context):
    """Front page: the test-accuracy gap SB − LB per network, ours against the paper's, or why it is missing."""
    import pandas as pd

    nums, paper = table2_numbers(ctx), paper_table("table2").set_index("network")
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
                        "verdict": _verdict(net, sb, lb, p.test_acc_sb_mean - p.test_acc_lb_mean)})
        else:
            row.update({"ours: test SB / LB (%)": "—", "ours: gap (pt)": "—", "verdict": MISSING_REASON[net]})
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio_words(ours, n: int, paper=None) -> str:
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

    from lbgap.measures import landscape
    from lbgap.studies import remedies
    from lbgap.measures import sharpness
    from lbgap.core.records import preferred_records

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
    nums, paper2 = table2_numbers(ctx), paper_table("table2").set_index("network")
    cons, paper7 = remedies.table(ctx.results_dir, ctx.record_profiles), remedies.paper_table().set_index("network")
    cons = cons[cons.seed.isin(shown_seeds(ctx)) & cons.test_acc_lb.notna()]
    tables = {k: sharpness.paper_table(k).set_index("network") for k in (3, 4)}
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
            row[f"{label} (ε=1e-3), ours / paper"] = _ratio_words(*ratios.get((label, net), (None, 0)), paper)
        d = land[land.net == net] if len(land) else land
        for label, lb_col, sb_col in ((landscape.RISE_RATIO, "rise beyond LB (α 1→1.5)", "rise beyond SB (α 0→-0.5)"),
                                      (landscape.FILTER_RISE_RATIO, "LB rise to t=±1", "SB rise to t=±1")):
            both = d[[lb_col, sb_col]].dropna() if lb_col in d and sb_col in d else pd.DataFrame()
            row[label] = _ratio_words(both[lb_col].mean() / both[sb_col].mean() if len(both) else None, len(both))
        c = cons[cons.net == net]
        ours = f"{(c.test_acc_remedy - c.test_acc_lb).mean():+.2f} (n={len(c)})" if len(c) else "—"
        theirs = paper7.loc[net, "test_acc_lb_mean"] - p.test_acc_lb_mean if net in paper7.index else float("nan")
        row["Table 7 conservative − plain LB test (pt), ours / paper"] = f"{ours} / {theirs:+.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


# =========================================================================================== reproducibility
def _all_records(ctx: Context):
    """Every record of every kind under the profiles the context reads, with ``_profile`` (from its folder)."""
    from lbgap.core.records import iter_records

    for prof in ctx.record_profiles:
        for rec in iter_records(ctx.results_dir, prof):
            rec["_profile"] = prof
            yield rec


def provenance_table(ctx: Context):
    """Where and with what the records were computed: one row per (profile, kind, device, CPU model and torch's
    kernel family, software); records older than the ``cpu`` field say "not recorded"."""
    import pandas as pd

    rows = []
    for r in _all_records(ctx):
        p = r.get("provenance") or {}
        rows.append(dict(profile=r["_profile"], kind=r.get("kind", Path(r["_path"]).parent.name),
                         device=p.get("device", "?"), cpu=p.get("cpu", "not recorded"), torch=p.get("torch_version", "?"),
                         python=p.get("python", "?"), lbgap=p.get("lbgap_version", "?"),
                         commit=p.get("git_commit", "?")))
    if not rows:
        return pd.DataFrame(columns=["profile", "kind", "device", "cpu", "torch", "python", "lbgap", "commit",
                                     "records"])
    df = pd.DataFrame(rows)
    return df.groupby(list(df.columns), dropna=False).size().reset_index(name="records")


def _train_records(records) -> dict:
    """The training records among ``records`` (of :func:`_all_records`), keyed by (profile, run id): a quick and a
    paper run can share a run id."""
    return {(r["_profile"], r["run_id"]): r for r in records if r.get("kind") == "train"}


def _original(train: dict, rec: dict, tag: str, differ: tuple[str, ...] = ()) -> dict | None:
    """The record in ``train`` (:func:`_train_records`) of the run that the variant run ``rec`` repeats: its
    configuration with config tag ``tag``, equal to ``rec``'s in every field that changes a result
    (``RunConfig.material``) except those in ``differ``; None if there is no such record."""
    from lbgap.core.config import RunConfig

    cfg = RunConfig.from_dict(dict(rec["config"], tag=tag))
    o = train.get((rec["_profile"], cfg.run_id))

    def fields(c: RunConfig) -> dict:
        return {k: v for k, v in c.material().items() if k not in differ}

    return o if o is not None and fields(RunConfig.from_dict(o["config"])) == fields(cfg) else None


RERUN_TAG = "recheck"


def rerun_table(ctx: Context):
    """Runs recomputed with an unchanged configuration, typically on another machine (config tag "recheck", or
    "recheck-<tag>" for a variant: ``lbgap train ... --tag recheck``), each beside its original record: the
    training loss at x0 (before any step), the final training loss and test accuracy of both, and the CPU or GPU
    each ran on. Same configuration and seed, different float rounding: how far such a pair parts is the floor
    below which a difference between two variants of one seed means nothing."""
    import pandas as pd

    cols = ["run", "x0 train loss (original)", "x0 train loss (rerun)", "final train loss (original)",
            "final train loss (rerun)", "test acc % (original)", "test acc % (rerun)", "rerun − original (pt)",
            "original ran on", "rerun ran on"]
    def where(rec):
        p = rec.get("provenance") or {}
        return p.get("cpu") or p.get("device", "?") + " (CPU model not recorded)"

    train = _train_records(_all_records(ctx))
    rows = []
    for r in train.values():
        tag = r["config"].get("tag", "")
        if variant(tag) != RERUN_TAG:
            continue
        o = _original(train, r, tag[len(RERUN_TAG):].lstrip("-"))
        if o is None:
            continue   # no original with the same configuration: nothing to compare with
        rows.append({"run": o["run_id"], "x0 train loss (original)": f"{o['history'][0]['train_loss']:.10g}",
                     "x0 train loss (rerun)": f"{r['history'][0]['train_loss']:.10g}",
                     "final train loss (original)": f"{o['final']['train_loss']:.3g}",
                     "final train loss (rerun)": f"{r['final']['train_loss']:.3g}",
                     "test acc % (original)": f"{100 * o['final']['test_acc']:.2f}",
                     "test acc % (rerun)": f"{100 * r['final']['test_acc']:.2f}",
                     "rerun − original (pt)": f"{100 * (r['final']['test_acc'] - o['final']['test_acc']):+.2f}",
                     "original ran on": where(o), "rerun ran on": where(r)})
    return pd.DataFrame(rows, columns=cols).sort_values("run").reset_index(drop=True)


UNCAPPED_TAG = "uncapped"


def cap_table(ctx: Context):
    """Does a reduced epoch cap change Table 2 and 3? Each (network, seed) whose SB and LB runs were trained
    under a cap below the profile's own (``lbgap train --max-epochs 50``, as F1 on a CPU) beside the same pair
    trained under the profile's caps (paper: SB 100, LB 300 epochs) until the plateau rule stops it (config tag
    "uncapped"): epochs and why each run stopped, final train loss, test accuracy, the SB - LB test gap, and
    phi at eps = 1e-3 in the full space (summed objective) and the random subspace (NaN where not computed).
    The last column is Figure 3's: how much faster the training loss climbs beyond x_LB than beyond x_SB on the
    line through both (:func:`lbgap.measures.landscape.seed_summary`; NaN without a landscape record of the pair).
    One row per (pair, budget); a pair appears once both its uncapped runs exist."""
    import pandas as pd

    from lbgap.measures import landscape
    from lbgap.measures import sharpness
    from lbgap.core.config import RunConfig

    cols = ["net", "seed", "budget", "epochs SB/LB", "stopped SB/LB", "train loss SB", "train loss LB",
            "test acc % SB", "test acc % LB", "gap (pt)", "φ full SB", "φ full LB", "LB/SB φ full",
            "φ random SB", "φ random LB", "LB/SB φ random", landscape.RISE_RATIO]
    recs = [r for r in _all_records(ctx) if r.get("kind") in ("train", "sharpness", "landscape")]
    lands = {(r["_profile"], r["run_id"]): r for r in recs if r["kind"] == "landscape"}
    train = _train_records(recs)
    sharp = {prof: sharpness.sharpness_table(records=[r for r in recs if r["kind"] == "sharpness"
                                                      and r["_profile"] == prof], tag=None)
             for prof in ctx.record_profiles}
    pairs: dict = {}
    for r in train.values():
        c = r["config"]
        if c.get("tag") != UNCAPPED_TAG or r["status"] != "ok":
            continue
        o = _original(train, r, "", differ=("max_epochs",))
        if o is None or o["config"]["max_epochs"] >= c["max_epochs"]:
            continue   # no capped original that differs from this run in its cap alone: nothing to compare with
        pairs.setdefault((c["net"], int(c["seed"]), r["_profile"]), {})[c["regime"]] = (o, r)
    rows = []
    for (net, seed, prof), both in sorted(pairs.items()):
        if set(both) != {"SB", "LB"}:
            continue
        for i, budget in enumerate(("cap {} epochs (Table 2)", "profile caps {}, until the plateau rule")):
            sb, lb = both["SB"][i], both["LB"][i]
            caps = f"{sb['config']['max_epochs']} / {lb['config']['max_epochs']}"
            phi = {reg: sharpness.phi_columns(sharp[prof], rec["run_id"]) for reg, rec in (("SB", sb), ("LB", lb))}
            land = lands.get((prof, landscape.pair_id(*(RunConfig.from_dict(x["config"]) for x in (sb, lb)))))
            h = landscape.seed_summary([land]).iloc[0] if land is not None else {}
            rows.append({"net": net, "seed": seed, "budget": budget.format(caps),
                         "epochs SB/LB": f"{sb['epochs']} / {lb['epochs']}",
                         "stopped SB/LB": f"{sb['stop_reason']} / {lb['stop_reason']}",
                         "train loss SB": sb["final"]["train_loss"], "train loss LB": lb["final"]["train_loss"],
                         "test acc % SB": 100 * sb["final"]["test_acc"], "test acc % LB": 100 * lb["final"]["test_acc"],
                         "gap (pt)": 100 * (sb["final"]["test_acc"] - lb["final"]["test_acc"]),
                         "φ full SB": phi["SB"]["phi_full_sum"], "φ full LB": phi["LB"]["phi_full_sum"],
                         "LB/SB φ full": phi["LB"]["phi_full_sum"] / phi["SB"]["phi_full_sum"],
                         "φ random SB": phi["SB"]["phi_random"], "φ random LB": phi["LB"]["phi_random"],
                         "LB/SB φ random": phi["LB"]["phi_random"] / phi["SB"]["phi_random"],
                         landscape.RISE_RATIO: h.get(landscape.RISE_RATIO, float("nan"))})
    return pd.DataFrame(rows, columns=cols)


def cap_summary(t):
    """:func:`cap_table` over its seeds, one row per (network, budget): the seeds, mean test accuracies, the
    gap's mean and standard deviation, and the LB/SB ratios' geometric means (ratios multiply, so their mean is
    taken on a log scale; a seed without a value is left out of that column's mean)."""
    import pandas as pd
    from scipy.stats import gmean

    from lbgap.measures.landscape import RISE_RATIO

    ratios = ["LB/SB φ full", "LB/SB φ random", RISE_RATIO]
    cols = ["net", "budget", "seeds", "test acc % SB", "test acc % LB", "gap (pt)", "gap sd"] + ratios
    rows = []
    for (net, budget), g in t.groupby(["net", "budget"], sort=False):
        row = {"net": net, "budget": budget, "seeds": ", ".join(str(s) for s in sorted(g.seed)),
               "test acc % SB": g["test acc % SB"].mean(), "test acc % LB": g["test acc % LB"].mean(),
               "gap (pt)": g["gap (pt)"].mean(), "gap sd": g["gap (pt)"].std()}
        for c in ratios:
            v = g[c].dropna().to_numpy(float)
            row[c] = float(gmean(v)) if len(v) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _wall_s(rec: dict) -> float:
    """Wall time of a record: its provenance's, or -- for records that grow piece by piece (sharpness entries and
    Hessian, landscape parts), whose provenance leaves it empty -- the sum of its pieces' own ``wall_s``."""
    w = (rec.get("provenance") or {}).get("wall_time_s")
    if w is not None:
        return float(w)
    pieces = list((rec.get("entries") or {}).values()) + list((rec.get("parts") or {}).values())
    pieces += [rec["hessian"]] if isinstance(rec.get("hessian"), dict) else []
    return float(sum(p.get("wall_s") or 0.0 for p in pieces if isinstance(p, dict)))


def timing_table(ctx: Context):
    """How long each kind of record took to compute (sum of the recorded wall times), per profile and device; a
    variant's training and sharpness records (a config ``tag``, e.g. Figure 4's "fig4") are counted apart, as
    "train (fig4)"."""
    import pandas as pd

    rows = []
    for r in _all_records(ctx):
        p, c = r.get("provenance") or {}, r.get("config") if isinstance(r.get("config"), dict) else {}
        kind = r.get("kind", Path(r["_path"]).parent.name)
        kind += f" ({variant(c['tag'])})" if c.get("tag") and kind in ("train", "sharpness") else ""
        rows.append(dict(profile=r["_profile"], kind=kind,
                         net=str(c.get("net", r.get("net", "")) or ""),
                         regime=str(c.get("regime", r.get("regime", "")) or ""),
                         device=p.get("device", "?"), wall_s=_wall_s(r),
                         epochs=r.get("epochs")))
    if not rows:
        return pd.DataFrame(columns=["profile", "kind", "net", "regime", "device", "records", "epochs (mean)",
                                     "wall time (h)", "per record (min)"])
    df = pd.DataFrame(rows)
    df["epochs"] = pd.to_numeric(df.epochs, errors="coerce")
    df["wall_s"] = pd.to_numeric(df.wall_s, errors="coerce").fillna(0.0)
    g = df.groupby(["profile", "kind", "net", "regime", "device"], dropna=False)
    out = g.agg(records=("wall_s", "size"), epochs=("epochs", "mean"), wall=("wall_s", "sum")).reset_index()
    out["epochs (mean)"] = out.pop("epochs").map(lambda e: "" if e != e else f"{e:.1f}")
    out["wall time (h)"] = (out.wall / 3600).map("{:.2f}".format)
    out["per record (min)"] = (out.wall / 60 / out.records).map("{:.1f}".format)
    return out.drop(columns="wall")


def _gpu_calls(ctx: Context) -> list[dict]:
    """The records of the calls of ``scripts/gpu_paper.sh`` (kind ``gpu_call``) under the profiles the context
    reads, oldest first."""
    from lbgap.core.records import iter_records

    recs = []
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, "gpu_call"):
            recs.append(dict(r, _profile=prof))
    return sorted(recs, key=lambda r: (r["provenance"].get("started") or "", r["run_id"]))


def _pairs_of(call: dict, status: str) -> list[str]:
    return [f"{p['net']} s{p['seed']}" for p in call.get("pairs", []) if str(p.get("status", "")).startswith(status)]


def gpu_calls_table(ctx: Context):
    """One row per GPU call: when, on which GPU, the device time inside the call (``elapsed_s``: from the
    script's start to its last update; a call cut off at the device limit is a lower bound), its budget, the
    bench records it wrote and the (net, seed) pairs it finished or stopped at its deadline."""
    import pandas as pd

    rows = [{"profile": r["_profile"], "started (UTC)": (r["provenance"].get("started") or "")[:16].replace("T", " "),
             "GPU": r.get("device", "?"), "call": r.get("call", ""), "tag": r.get("tag", ""),
             "minutes": f"{r['elapsed_s'] / 60:.1f}" + ("" if r.get("complete") else " (cut off: at least)"),
             "budget (min)": "" if r.get("budget_s") is None else f"{r['budget_s'] / 60:.1f}",
             "bench records": len(r.get("bench", [])),
             "pairs finished": ", ".join(_pairs_of(r, "exported")) or "none",
             "pairs stopped": ", ".join(_pairs_of(r, "stopped")) or "none"} for r in _gpu_calls(ctx)]
    cols = ["profile", "started (UTC)", "GPU", "call", "tag", "minutes", "budget (min)", "bench records",
            "pairs finished", "pairs stopped"]
    return pd.DataFrame(rows, columns=cols)


def gpu_pairs_table(ctx: Context):
    """Per network (Table 2's pairs, no variant tag): the (net, seed) SB/LB pairs finished on a GPU, the measured
    minutes per pair (training both regimes side by side, then sharpness and landscape; a pair stopped at one
    call's deadline and finished in the next counts both parts), the pairs the paper profile still lacks
    (seeds shown without an SB or an LB record) and their minutes at the measured rate ("not measured" before
    a pair of that network has run). Pairs of one network may run several at once (the call's ``jobs``), so a
    window needs less than the pair-minutes."""
    import dataclasses

    import pandas as pd

    seconds: dict[tuple, float] = {}
    finished: set = set()
    for r in _gpu_calls(ctx):
        if r["_profile"] != "paper" or r.get("tag"):
            continue
        for p in r.get("pairs", []):
            key = (p["net"], p["seed"])
            if p.get("seconds") is not None:
                seconds[key] = seconds.get(key, 0.0) + float(p["seconds"])
            if p.get("status") == "exported":
                finished.add(key)
    df = train_runs(dataclasses.replace(ctx, record_profiles=("paper",)))  # the paper profile's Table 2 runs
    rows = []
    for net in shown_nets(ctx):
        have = df[df.net == net] if not df.empty else df
        left = [s for s in shown_seeds(ctx)
                if have.empty or not {"SB", "LB"} <= set(have[have.seed == s].regime)]
        done = sorted(k for k in finished if k[0] == net)
        mean = sum(seconds[k] for k in done) / len(done) / 60 if done else None
        rows.append({"net": net, "pairs finished on a GPU": len(done),
                     "minutes per pair": "not measured" if mean is None else f"{mean:.1f}",
                     "pairs left": len(left), "seeds left": ",".join(map(str, left)) or "none",
                     "pair-minutes left": "" if not left else ("not measured" if mean is None else f"{mean * len(left):.0f}")})
    return pd.DataFrame(rows, columns=["net", "pairs finished on a GPU", "minutes per pair", "pairs left",
                                       "seeds left", "pair-minutes left"])


def gpu_time_lines(ctx: Context) -> list[str]:
    """The total GPU time of the records' profiles, in words: the sum of the calls' device time, per profile
    and GPU, and how many calls were cut off (their time is a lower bound)."""
    calls = _gpu_calls(ctx)
    if not calls:
        return ["No GPU call has run yet: the GPU time of the paper profile is 0 so far, and every committed record "
                "was computed on a CPU (the timing table above)."]
    out = []
    for (prof, gpu) in sorted({(r["_profile"], r.get("device", "?")) for r in calls}):
        mine = [r for r in calls if (r["_profile"], r.get("device", "?")) == (prof, gpu)]
        cut = sum(not r.get("complete") for r in mine)
        total = sum(r["elapsed_s"] for r in mine) / 60
        pairs = sum(len(_pairs_of(r, "exported")) for r in mine)
        bench = sum(len(r.get("bench", [])) for r in mine)
        out.append(f"Total GPU time of the {prof} profile on {gpu}: {total:.1f} min in {len(mine)} call"
                   f"{'s' if len(mine) != 1 else ''} ({pairs} (net, seed) pairs and {bench} bench records written)"
                   + (f"; {cut} call{'s were' if cut != 1 else ' was'} cut off, so this is a lower bound" if cut else "")
                   + ". Machine start-up and transfers are outside the calls and not counted.")
    return out


def _over_profiles(ctx: Context, table):
    """``table(results_dir, profile)`` for every profile the context reads, concatenated (empty if none has rows)."""
    import pandas as pd

    frames = [f for f in (table(ctx.results_dir, prof) for prof in ctx.record_profiles) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def throughput_table(ctx: Context):
    """Training speed of the records (samples/s over the training steps only, as each record measured it),
    per profile, network, regime, variant tag and device; tagged runs (checks, variants) are listed too."""
    import pandas as pd

    from lbgap.core.records import train_table

    cols = ["profile", "net", "data", "regime", "batch", "tag", "device", "records", "epochs (mean)",
            "samples/s (training)"]
    df = _over_profiles(ctx, train_table)
    if df.empty:
        return pd.DataFrame(columns=cols)
    g = df.groupby(["profile", "net", "dataset", "regime", "batch_size", "variant", "device"], dropna=False, sort=True)
    out = g.agg(records=("run_id", "size"), epochs=("epochs", "mean"), sps=("samples_per_s", "mean")).reset_index()
    out["epochs (mean)"] = out.pop("epochs").map("{:.1f}".format)
    out["samples/s (training)"] = out.pop("sps").map("{:,.0f}".format)
    out = out.rename(columns={"dataset": "data", "batch_size": "batch", "variant": "tag"})
    return out[cols]


def _num(v, fmt: str) -> str:
    """A table cell: ``fmt`` of ``v``, or "—" where it was not measured (None or NaN)."""
    return "—" if v is None or v != v else fmt.format(v)


def bench_summary(ctx: Context):
    """``lbgap bench`` records (issue: speed on a GPU): ours against the idiomatic DataLoader baseline measured
    side by side in one invocation, achieved TFLOP/s against the measured matmul peak, the time of one full-space
    sharpness and, where measured, of the same maximisation through plain ``scipy.optimize.minimize``."""
    import pandas as pd

    from lbgap.studies.bench import bench_table

    cols = ["device", "net", "regime", "batch", "threads", "host load", "ours (samples/s)", "baseline (samples/s)",
            "ours ÷ baseline", "TFLOP/s", "peak TFLOP/s", "share of peak", "sharpness (s)",
            "sharpness via minimize (s)", "sharpness speed-up"]
    b = _over_profiles(ctx, bench_table)
    if b.empty:
        return pd.DataFrame(columns=cols)
    b = b.sort_values(["device", "net", "batch_size"])

    return pd.DataFrame({
        "device": b.device, "net": b.net, "regime": b.regime, "batch": b.batch_size,
        "threads": b.threads.map(lambda v: _num(v, "{:.0f}")), "host load": b.host_load_1min.map(lambda v: _num(v, "{:.1f}")),
        "ours (samples/s)": b.ours_samples_per_s.map(lambda v: _num(v, "{:,.0f}")),
        "baseline (samples/s)": b.baseline_samples_per_s.map(lambda v: _num(v, "{:,.0f}")),
        "ours ÷ baseline": b.speedup.map(lambda v: _num(v, "{:.2f}×")),
        "TFLOP/s": b.ours_tflops.map(lambda v: _num(v, "{:.3g}")), "peak TFLOP/s": b.peak_tflops.map(lambda v: _num(v, "{:.3g}")),
        "share of peak": b.mfu.map(lambda v: _num(v, "{:.0%}")), "sharpness (s)": b.sharpness_s.map(lambda v: _num(v, "{:.1f}")),
        "sharpness via minimize (s)": b.sharpness_scipy_s.map(lambda v: _num(v, "{:.1f}")),
        "sharpness speed-up": b.sharpness_speedup.map(lambda v: _num(v, "{:.2f}×")),
    })[cols].reset_index(drop=True)


def seeds_at_once_summary(ctx: Context):
    """``lbgap bench --concurrent N`` / ``--stacked N`` / ``--streams N`` records (issue: several seeds at once
    when one run leaves the GPU idle -- processes, CUDA streams or torch.func stacking, measured side by side):
    one model's samples/s and the aggregate samples/s of N processes, N stacked seeds and N threads of one
    process (a CUDA stream each), each as a multiple of one model."""
    import pandas as pd

    from lbgap.studies.bench import bench_table

    cols = ["device", "net", "regime", "batch", "one model (samples/s)", "processes", "processes (samples/s)",
            "processes ÷ one", "stacked seeds", "stacked (samples/s)", "stacked ÷ one", "threads",
            "threads (samples/s)", "threads ÷ one"]
    b = _over_profiles(ctx, bench_table)
    if b.empty or not (b.concurrent.notna().any() or b.stacked.notna().any() or b.streams.notna().any()):
        return pd.DataFrame(columns=cols)
    b = b[b.concurrent.notna() | b.stacked.notna() | b.streams.notna()].sort_values(["device", "net", "batch_size"])

    def threads(n, cuda):
        return "—" if n is None or n != n else f"{n:.0f} " + ("(a CUDA stream each)" if cuda else "(no streams)")


    one = b.ours_samples_per_s
    return pd.DataFrame({
        "device": b.device, "net": b.net, "regime": b.regime, "batch": b.batch_size,
        "one model (samples/s)": one.map(lambda v: _num(v, "{:,.0f}")),
        "processes": b.concurrent.map(lambda v: _num(v, "{:.0f}")),
        "processes (samples/s)": b.concurrent_samples_per_s.map(lambda v: _num(v, "{:,.0f}")),
        "processes ÷ one": (b.concurrent_samples_per_s / one).map(lambda v: _num(v, "{:.2f}×")),
        "stacked seeds": b.stacked.map(lambda v: _num(v, "{:.0f}")),
        "stacked (samples/s)": b.stacked_samples_per_s.map(lambda v: _num(v, "{:,.0f}")),
        "stacked ÷ one": (b.stacked_samples_per_s / one).map(lambda v: _num(v, "{:.2f}×")),
        "threads": [threads(n, c) for n, c in zip(b.streams, b.streams_cuda)],
        "threads (samples/s)": b.streams_samples_per_s.map(lambda v: _num(v, "{:,.0f}")),
        "threads ÷ one": (b.streams_samples_per_s / one).map(lambda v: _num(v, "{:.2f}×")),
    })[cols].reset_index(drop=True)


def profiles_table():
    """What each profile does (config.PROFILES), one row per profile."""
    import pandas as pd

    from lbgap.core.config import PROFILES

    return pd.DataFrame([{"profile": k, **{kk: ("" if vv is None else str(vv)) for kk, vv in v.items()}}
                         for k, v in PROFILES.items()])


def styled(df, caption: str, uuid: str):
    """A captioned, index-free HTML table with a fixed element id, displayed as plain HTML (its text/plain
    form is constant, so nbval's strict comparison checks the table itself). Numbers do not wrap; a
    ``verdict`` or ``our runs`` column (words) does."""
    import pandas as pd
    from IPython.display import HTML

    css = [{"selector": "", "props": "font-size: 0.85em;"},
           {"selector": "td, th", "props": "white-space: nowrap; padding: 0.15em 0.45em;"},
           {"selector": "td.verdict", "props": "white-space: normal; min-width: 9em;"}]
    styler = df.style.hide(axis="index").set_caption(caption).set_uuid(uuid).set_table_styles(css)
    wrapped = [c for c in ("verdict", "our runs") if c in df.columns]
    if wrapped:
        classes = pd.DataFrame("", index=df.index, columns=df.columns)
        classes[wrapped] = "verdict"
        styler = styler.set_td_classes(classes)
    return HTML(styler.to_html())
