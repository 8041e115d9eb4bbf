"""The book's claims as code: each claim is a function of the records that returns a :class:`Claim` (its numbers,
n, the 95 % interval, the verdict and the name of the rule that chose it); the sentences of the chapters and of the
front page are templates picked by the verdict. The thresholds live here, once, with the reason for each
(:data:`THRESHOLDS`); the statistics are :mod:`lbgap.book.stats`; the runs behind each claim are named in
:mod:`lbgap.book.run_sets`."""
from __future__ import annotations

from dataclasses import dataclass, field

from lbgap.book.stats import Estimate, mean_ci, paired, signed, spearman, spearman_by_group


@dataclass(frozen=True)
class Threshold:
    value: float
    reason: str


THRESHOLDS = {
    "alpha": Threshold(0.05, "a trend, a correlation or a resolved comparison: two-sided p < 0.05, i.e. a 95 % "
                       "interval that excludes 0 (the evidence conventions)"),
    "min_seeds": Threshold(2, "a t interval needs at least two paired seeds; with one there is no verdict"),
    "margin_sd": Threshold(1.0, "δ, the smallest accuracy difference worth naming, is this many seed-to-seed sd "
                           "(ddof = 1) of SB's test accuracy in the same run set: a gap narrower than one seed's "
                           "noise of the same protocol is not a gap (derived from the runs, never tuned)"),
    "stall_at_bound": Threshold(0.05, "an ε-sharpness (Metric 2.1) whose L-BFGS-B ends with fewer than this "
                                "fraction of the coordinates of y at the box has barely left y = 0: a solver "
                                "stall, not a measure of the minimiser (the mean-loss objective; the summed "
                                "loss drives most coordinates to the box)"),
    "min_bootstrap": Threshold(3, "a bootstrap interval needs at least three seeds: two pairs resample to only "
                               "three distinct values"),
    "plateau_sd": Threshold(1.0, "an optimum over batch sizes must beat every other batch size by more than this "
                            "many seed sd (the larger of the two); otherwise the batch sizes within it form a "
                            "plateau"),
    "decay_pt": Threshold(0.2, "Figure 2's peak-then-decay: the mean drop of test accuracy from its peak to the last "
                          "epoch must exceed this many points, and also two standard errors over the seeds and twice "
                          "the curve's epoch-to-epoch jitter (the peak of a noisy curve sits above its level by "
                          "chance)"),
    "reparam_factor": Threshold(1.5, "Dinh et al.'s construction: rescalings change φ when its largest value over "
                                "them exceeds its smallest by more than this factor while the test accuracy does "
                                "not move"),
}


def threshold(name: str) -> float:
    return THRESHOLDS[name].value


@dataclass(frozen=True)
class Claim:
    """A claim's outcome: ``verdict`` (a short word from the rule's vocabulary), ``rule`` (the rule's name),
    ``estimate`` (the statistic: value, n, 95 % interval, p) and ``numbers`` (what a sentence may print)."""
    name: str
    verdict: str
    rule: str
    estimate: Estimate
    numbers: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.estimate.n

    @property
    def interval(self) -> tuple[float, float]:
        return self.estimate.ci

    @property
    def resolved(self) -> bool:
        return not self.verdict.startswith("unresolved") and not self.verdict.startswith("no ")

    def stat(self, digits: int = 2, unit: str = "pt") -> str:
        """"+0.23 pt (n = 2, 95 % CI +0.03 … +0.42 pt)" — the value with n and the interval."""
        e = self.estimate
        return f"{signed(e.value, digits)} {unit} ({e.interval_words(digits, unit)})".replace("  ", " ")

    def words(self, digits: int = 2, unit: str = "pt") -> str:
        """The verdict with its statistic: "beats SB: +0.23 pt (n = 2, 95 % CI …)" or "unresolved (n = 2, 95 % CI
        … )"."""
        if self.verdict == "unresolved":
            return (f"unresolved ({self.estimate.interval_words(digits, unit)}; mean "
                    f"{signed(self.estimate.value, digits)}{' ' + unit if unit else ''})")
        return f"{self.verdict}: {self.stat(digits, unit)}"


# The phrase a sentence prints for each verdict of a rule (its vocabulary, kept beside the rule that chooses it). A
# rule quoted in more than one kind of sentence has a phrase table per form, keyed "rule: form"; ``{net}`` and
# other fields are filled by :func:`phrase`.
PHRASES = {
    "arm vs SB and LB": {"beats SB": "beats SB", "closes the gap": "closes the gap (within δ of SB)",
                         "narrows the gap": "narrows the gap (above plain LB)",
                         "widens the gap": "widens the gap (below plain LB)",
                         "stays below SB": "stays below SB (against plain LB unresolved)", "unresolved": "unresolved"},
    "paired gap vs margin": {"a gap remains": "a gap remains", "closed": "the gap is closed (within δ of SB)",
                             "LB better": "LB tests higher", "unresolved": "the gap is not resolved"},
    # the bold head of the front page's Table 2 sentence
    "paired gap vs paper: head": {
        "reproduced": "On {net} our seeds reproduce the paper's Table 2 gap.",
        "sign reproduced": "On {net} LB tests below SB, as in the paper, by a margin other than the paper's.",
        "reversed": "On {net} LB tests above SB, against the paper.",
        "unresolved": "On {net} our seeds do not resolve the Table 2 gap."},
    "ratio of means, paired bootstrap": {"LB sharper": "LB's minimiser is sharper",
                                         "LB flatter": "LB's minimiser is flatter",
                                         "unresolved": "sharpness not resolved",
                                         "solver stall": "a solver stall, not a measure"},
    # an arm's φ against plain LB's (the follow-ups chapter)
    "ratio of means, paired bootstrap: arm over LB": {"LB sharper": "sharper than plain LB",
                                                      "LB flatter": "flatter than plain LB",
                                                      "unresolved": "sharpness against plain LB unresolved",
                                                      "solver stall": "sharpness against plain LB unresolved"},
}


def phrase(c: Claim, form: str = "", **fields) -> str:
    """The words a sentence prints for ``c``'s verdict: :data:`PHRASES` of its rule (of "rule: form" where
    ``form`` is given), with ``fields`` filled in; the verdict itself if the rule has none."""
    table = PHRASES.get(f"{c.rule}: {form}" if form else c.rule, {})
    return table.get(c.verdict, c.verdict).format(**fields)


def ratio_words(c: Claim, digits: int = 3) -> str:
    """A ratio claim's value with n and its interval, no signs: "87.3 (n = 5, 95 % CI 26.3 … 290)"."""
    e = c.estimate
    if e.n < threshold("min_bootstrap") or e.ci[0] != e.ci[0]:
        return f"{e.value:,.{digits}g} (n = {e.n}, no interval)"
    return f"{e.value:,.{digits}g} ({e.interval_words(digits, sign=False)})"


def _unresolved(name: str, est: Estimate, rule: str, **numbers) -> Claim:
    return Claim(name, "unresolved", rule, est, numbers)


def margin(sb_values) -> Estimate:
    """δ of :data:`THRESHOLDS` ``margin_sd``: the seed sd of SB's test accuracy in the same run set (with its n)."""
    e = mean_ci(sb_values)
    return Estimate(threshold("margin_sd") * e.sd, e.n, e.ci, e.p, "SB seed sd")


# ------------------------------------------------------------------------------------------------ the rules
def gap_vs_paper(sb: dict, lb: dict, paper_gap: float, name: str = "Table 2 gap") -> Claim:
    """Rule "paired gap vs paper": the gap SB − LB paired by seed. "reproduced" where its 95 % CI lies above 0
    and holds the paper's gap; "sign reproduced" where it lies above 0 but misses the paper's number; "reversed"
    where it lies below 0; otherwise "unresolved"."""
    e = paired(sb, lb)
    lo, hi = e.ci
    nums = dict(paper=paper_gap, sb=_mean(sb), lb=_mean(lb))
    if e.n < threshold("min_seeds") or not e.resolved:
        return _unresolved(name, e, "paired gap vs paper", **nums)
    if lo > 0:
        v = "reproduced" if lo <= paper_gap <= hi else "sign reproduced"
    else:
        v = "reversed"
    return Claim(name, v, "paired gap vs paper", e, nums)


def arm_vs_baselines(arm: dict, sb: dict, lb: dict, delta: float, name: str = "arm") -> Claim:
    """Rule "arm vs SB and LB" on paired 95 % intervals (δ: :func:`margin`): "beats SB" (CI of arm − SB above 0);
    "closes the gap" (CI of SB − arm within ±δ); "narrows the gap" (CI of arm − LB above 0); "widens the gap"
    (CI of arm − LB below 0); "stays below SB" (CI of arm − SB below 0, beyond δ, and against LB unresolved);
    otherwise "unresolved". ``numbers``: both paired estimates and the seeds where the
    arm is above LB."""
    vs_sb, vs_lb = paired(arm, sb), paired(arm, lb)
    above_lb = sum(d > 0 for d in vs_lb.extra.get("diffs", []))
    nums = dict(vs_sb=vs_sb, vs_lb=vs_lb, delta=delta, above_lb=above_lb, shared_lb=vs_lb.n, gap=-vs_sb.value)
    rule = "arm vs SB and LB"
    if vs_sb.n >= threshold("min_seeds") and vs_sb.ci[0] > 0:
        return Claim(name, "beats SB", rule, vs_sb, nums)
    if vs_sb.n >= threshold("min_seeds") and -delta <= vs_sb.ci[0] and vs_sb.ci[1] <= delta:
        return Claim(name, "closes the gap", rule, vs_sb, nums)
    if vs_lb.n >= threshold("min_seeds") and vs_lb.ci[0] > 0:
        return Claim(name, "narrows the gap", rule, vs_lb, nums)
    if vs_lb.n >= threshold("min_seeds") and vs_lb.ci[1] < 0:
        return Claim(name, "widens the gap", rule, vs_lb, nums)
    if vs_sb.n >= threshold("min_seeds") and vs_sb.ci[1] < 0:
        return Claim(name, "stays below SB", rule, vs_sb, nums)
    return _unresolved(name, vs_sb, rule, **nums)


def effect(treated: dict, base: dict, name: str = "effect", up: str = "improves", down: str = "worsens") -> Claim:
    """Rule "paired effect": treated − base paired by seed; ``up`` where its 95 % CI lies above 0, ``down`` where
    below, otherwise "unresolved"."""
    e = paired(treated, base)
    if e.n < threshold("min_seeds") or not e.resolved:
        return _unresolved(name, e, "paired effect")
    return Claim(name, up if e.ci[0] > 0 else down, "paired effect", e)


def gap_closed(sb: dict, lb: dict, delta: float, name: str = "gap") -> Claim:
    """Rule "paired gap vs margin" (SB − LB paired by seed; δ: :func:`margin`): "a gap remains" where its 95 % CI
    lies above 0, "LB better" where below 0, "closed" where it lies within ±δ (an equivalence test); otherwise
    "unresolved"."""
    e = paired(sb, lb)
    rule = "paired gap vs margin"
    if e.n < threshold("min_seeds") or e.ci[0] != e.ci[0]:
        return _unresolved(name, e, rule, delta=delta)
    lo, hi = e.ci
    if lo > 0:
        return Claim(name, "a gap remains", rule, e, dict(delta=delta))
    if hi < 0:
        return Claim(name, "LB better", rule, e, dict(delta=delta))
    if delta == delta and -delta <= lo and hi <= delta:
        return Claim(name, "closed", rule, e, dict(delta=delta))
    return _unresolved(name, e, rule, delta=delta)


def sharper(lb: dict, sb: dict, at_bound: dict | None = None, name: str = "LB/SB sharpness") -> Claim:
    """Rule "ratio of means, paired bootstrap": mean(φ_LB) / mean(φ_SB) over the seeds both have (the LB/SB
    ratio every page quotes, ``context.lb_over_sb``), its 95 % interval from ``scipy.stats.bootstrap`` resampling
    the seeds as pairs. "LB sharper" / "LB flatter" where the interval excludes 1, otherwise "unresolved"; first,
    "solver stall" where the median fraction of coordinates at the box (``at_bound``: seed -> fraction) is below
    :data:`THRESHOLDS` ``stall_at_bound``."""
    from lbgap.book.stats import bootstrap

    seeds = sorted(s for s in set(lb) & set(sb) if lb[s] == lb[s] and sb[s] == sb[s])
    e = bootstrap(([lb[s] for s in seeds], [sb[s] for s in seeds]), lambda a, b: a.mean() / b.mean(),
                  paired_samples=True) if seeds else Estimate(float("nan"), 0, (float("nan"),) * 2, float("nan"),
                                                              "bootstrap")
    nums = dict(ratio=e.value, seeds=seeds)
    rule = "ratio of means, paired bootstrap"
    if at_bound:
        import statistics

        frac = statistics.median(at_bound.values())
        nums["at_bound"] = frac
        if frac < threshold("stall_at_bound"):
            return Claim(name, "solver stall", rule, e, nums)
    lo, hi = e.ci
    if e.n < threshold("min_bootstrap") or lo != lo or lo <= 1 <= hi:
        return _unresolved(name, e, rule, **nums)
    return Claim(name, "LB sharper" if lo > 1 else "LB flatter", rule, e, nums)


def trend(x, y, name: str = "trend", up: str = "rises", down: str = "falls") -> Claim:
    """Rule "Spearman trend": Spearman's ρ of y with x over seed-level points; ``up``/``down`` only where
    p < alpha, otherwise "no trend resolved"."""
    e = spearman(x, y)
    if e.p == e.p and e.p < threshold("alpha") and e.value != 0:
        return Claim(name, up if e.value > 0 else down, "Spearman trend", e)
    return Claim(name, "no trend resolved", "Spearman trend", e)


def trend_readings(runs, x: str, x_symbol: str, specs) -> list[str]:
    """One sentence per network of ``runs`` (a figure's runs, one row per seed and ``x`` value): for each
    ``(column, what, paper's sign)`` of ``specs`` with at least three ``x`` values, its :func:`trend` against ``x``
    (Spearman over seed-level points) and whether it has the paper's sign."""
    from lbgap.book.stats import signed

    lines = []
    for net, d in runs.groupby("net"):
        parts = []
        for col, what, paper in specs:
            g = d.dropna(subset=[col])
            if g[x].nunique() < 3:
                continue
            c = trend(g[x], g[col], name=f"{net} {col} vs {x_symbol}")
            word = ("the paper's sign reproduced" if c.verdict == paper else
                    "against the paper's sign" if c.verdict in ("rises", "falls") else "unresolved")
            parts.append(f"{what} {c.verdict} with {x_symbol} (Spearman ρ = {signed(c.estimate.value)}, p = "
                         f"{c.estimate.p:.2g}, n = {c.n} seed-level points): {word}")
        if parts:
            lines.append(f"**{net} ({'/'.join(sorted(d.profile.unique()))}, {d.seed.nunique()} seeds).** "
                         + "; ".join(parts) + ".")
    return lines


def optimum(df, x: str, y: str, name: str = "optimum") -> Claim:
    """Rule "optimum beyond seed spread": per value of ``x`` the mean and sd of ``y`` over seeds (lower is
    better); the best x is an optimum only if every other x's mean lies more than ``plateau_sd`` seed sd (the
    larger of the two) above it; otherwise the x within that reach form a plateau. ``numbers``: best, the plateau
    (sorted), the x range, whether the best is inside the range."""
    g = df.groupby(x)[y].agg(["mean", "std", "count"]).sort_index()
    best = g["mean"].idxmin()
    k = threshold("plateau_sd")
    tie = [b for b in g.index
           if g.loc[b, "mean"] - g.loc[best, "mean"] <= k * max(g.loc[best, "std"], g.loc[b, "std"])]
    e = mean_ci(df[df[x] == best][y])
    nums = dict(best=best, plateau=sorted(tie), lo=g.index.min(), hi=g.index.max(), table=g,
                interior=g.index.min() < best < g.index.max())
    if int(g["count"].min()) < threshold("min_seeds"):
        return _unresolved(name, e, "optimum beyond seed spread", **nums)
    return Claim(name, "optimum" if len(tie) == 1 else "plateau", "optimum beyond seed spread", e, nums)


def correlation(x, y, groups, name: str = "correlation") -> Claim:
    """Rule "pooled correlation, leave one group out": Spearman's ρ pooled over the runs of every group (arm);
    "no correlation resolved" where p ≥ alpha; "not robust" where leaving some group out loses p < alpha (those
    groups: ``numbers["carriers"]``); "resolved" where it holds leaving any group out. ``numbers``: the pooled, leave-one-out and
    group-median estimates; "not robust" where leaving out any one of ``numbers["carriers"]`` loses it."""
    r = spearman_by_group(x, y, groups)
    a = threshold("alpha")
    nums = dict(r, carriers=[g for g, e in r["leave_out"].items() if not (e.p == e.p and e.p < a)])
    e = r["all"]
    if not (e.p == e.p and e.p < a):
        return Claim(name, "no correlation resolved", "pooled correlation, leave one group out", e, nums)
    if nums["carriers"]:
        return Claim(name, "not robust", "pooled correlation, leave one group out", e, nums)
    return Claim(name, "resolved", "pooled correlation, leave one group out", e, nums)


def inside_range(est: Estimate, lo: float, hi: float, complete: bool = True, name: str = "range") -> Claim:
    """Rule "interval against a range": "agrees" where the 95 % interval of ``est`` overlaps [``lo``, ``hi``] (a
    range another measurement allows, e.g. a grid's resolution), "disagrees" where it does not; "unresolved" where
    the range is provisional (``complete`` false) or the interval does not exist."""
    rule = "interval against a range"
    a, b = est.ci
    if not complete or a != a or b != b or lo != lo or hi != hi:
        return _unresolved(name, est, rule, lo=lo, hi=hi)
    return Claim(name, "agrees" if a <= hi and lo <= b else "disagrees", rule, est, dict(lo=lo, hi=hi))


STATUS_WORDS = ("reproduced", "partly", "not reproduced", "not run", "n/a", "ours")


def status_word(has_records: bool, verdicts=None, nets_run=(), nets_paper=(), own: bool = False,
                applies: bool = True) -> Claim:
    """Rule "status": "not run" without records; "ours" for a study of our own; "reproduced" where every
    verdict is "reproduced" on every network of the paper's; "not reproduced" where a verdict is "reversed" and
    none reproduced; otherwise "partly" (fewer networks, verdicts unresolved or only the sign, or no verdict
    rule). ``applies``: False for an item without data (an illustration): "n/a"."""
    none = Estimate(float("nan"), 0, (float("nan"),) * 2, float("nan"), "status")
    if not applies:
        return Claim("status", "n/a", "status", none)
    if not has_records:
        return Claim("status", "not run", "status", none)
    if own:
        return Claim("status", "ours", "status", none)
    verdicts = list(verdicts or [])
    if verdicts and all(v == "reproduced" for v in verdicts) and set(nets_paper) <= set(nets_run):
        word = "reproduced"
    elif any(v == "reversed" for v in verdicts) and not any(v.endswith("reproduced") for v in verdicts):
        word = "not reproduced"
    else:
        word = "partly"
    return Claim("status", word, "status", none, dict(verdicts=verdicts))


def _mean(d: dict) -> float:
    v = [x for x in d.values() if x == x]
    return sum(v) / len(v) if v else float("nan")


# ------------------------------------------------------------------------- claims of the book, from its records
def by_seed(df, col: str) -> dict:
    """{seed: value} of a table with one row per seed."""
    return {int(s): float(v) for s, v in zip(df.seed, df[col]) if v == v}


def power_iteration_cap() -> int:
    """The iteration cap of the power iteration that computed the committed λ_max entries (the default of
    ``measures.sharpness.hessian_top_eigenvalue``)."""
    import inspect

    from lbgap.measures.sharpness import hessian_top_eigenvalue

    return int(inspect.signature(hessian_top_eigenvalue).parameters["iters"].default)


def eigen_method(hessian: dict | None) -> tuple[str, bool]:
    """How a record's λ_max was computed: (the method in words, whether it stopped at the power iteration's
    iteration cap unconverged). Lanczos entries as ``measures.hessian.method_label`` names them ("Lanczos,
    converged"), power iteration as "power iteration", any other method by its ``method``; no entry: ("—", False)."""
    if not hessian:
        return "—", False
    method = str(hessian.get("method", ""))
    if method.startswith("Lanczos"):
        from lbgap.measures.hessian import method_label

        return method_label(hessian), False
    if method and not method.startswith("power iteration"):
        return method, False
    return "power iteration", int(hessian.get("iterations") or 0) >= power_iteration_cap()


def eigen_label(hessian: dict | None) -> str:
    """:func:`eigen_method` in one phrase: "power iteration, not converged (stopped at the N-iteration cap)" where
    it reached the cap, else the method's words."""
    method, capped = eigen_method(hessian)
    return f"{method}, not converged (stopped at the {power_iteration_cap()}-iteration cap)" if capped else method


def _hessian_entries(ctx, run_ids) -> dict:
    """{run id: the ``hessian`` entry of its sharpness record} for ``run_ids`` under the context's profiles."""
    from lbgap.core.records import iter_records

    want, out = set(run_ids), {}
    for prof in ctx.record_profiles:
        for r in iter_records(ctx.results_dir, prof, "sharpness"):
            if r.get("run_id") in want and r["run_id"] not in out:
                out[r["run_id"]] = r.get("hessian")
    return out


def eigen_methods(ctx, run_ids) -> dict:
    """{run id: :func:`eigen_method`} of the sharpness records of ``run_ids`` under the context's profiles."""
    return {k: eigen_method(h) for k, h in _hessian_entries(ctx, run_ids).items()}


def eigen_labels(ctx, run_ids) -> dict:
    """{run id: :func:`eigen_label`} of the sharpness records of ``run_ids`` under the context's profiles."""
    return {k: eigen_label(h) for k, h in _hessian_entries(ctx, run_ids).items()}
