"""The book's statistics, all on ``scipy.stats``: paired differences by seed with t intervals (runs of one seed
share x0 and data order), Welch where the runs are unpaired, ``scipy.stats.bootstrap`` for other statistics,
``linregress`` for slopes, and Spearman's ρ with the leave-one-group-out and group-median results beside it.
Every function returns an :class:`Estimate` (or a dict of them): the value, n, the 95 % interval, p and the
method, so that a sentence can print n and the interval beside every comparison."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

LEVEL = 0.95   # every interval in the book


@dataclass(frozen=True)
class Estimate:
    """One statistic: ``value`` with its 95 % interval ``ci`` (NaN, NaN where n is too small), n, p (two-sided,
    against 0; NaN where there is no test), the sd of what was averaged and the method's name."""
    value: float
    n: int
    ci: tuple[float, float]
    p: float
    method: str
    sd: float = float("nan")
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def resolved(self) -> bool:
        """The interval exists (n large enough) and excludes 0."""
        lo, hi = self.ci
        return lo == lo and hi == hi and (lo > 0 or hi < 0)

    def interval_words(self, digits: int = 2, unit: str = "", sign: bool = True) -> str:
        """"n = 3, 95 % CI −0.45 … +0.31 pt" (or "n = 1, no interval")."""
        lo, hi = self.ci
        if lo != lo or hi != hi:
            return f"n = {self.n}, no interval"
        f = (lambda v: signed(v, digits)) if sign else (lambda v: f"{v:.{digits}g}")
        return f"n = {self.n}, 95 % CI {f(lo)} … {f(hi)}{' ' + unit if unit else ''}"


NAN2 = (float("nan"), float("nan"))


def signed(v: float, digits: int = 2) -> str:
    """``v`` with its sign and a typographic minus: "+0.24", "−0.06"."""
    return f"{v:+.{digits}f}".replace("-", "−")


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and v == v and not math.isinf(float(v))]


def paired(a: dict, b: dict) -> Estimate:
    """Mean of a[s] − b[s] over the seeds s both have (dicts seed -> value), its sd, n, the 95 % t interval and
    p of ``scipy.stats.ttest_rel``. n < 2: no interval. All differences equal: a zero-width interval."""
    import numpy as np
    from scipy import stats

    seeds = sorted(s for s in set(a) & set(b) if _finite([a[s], b[s]]) == [float(a[s]), float(b[s])])
    x, y = np.array([a[s] for s in seeds], float), np.array([b[s] for s in seeds], float)
    d = x - y
    n = len(d)
    if n == 0:
        return Estimate(float("nan"), 0, NAN2, float("nan"), "paired t by seed")
    if n < 2:
        return Estimate(float(d[0]), 1, NAN2, float("nan"), "paired t by seed", extra=dict(seeds=seeds, diffs=list(d)))
    sd = float(d.std(ddof=1))
    if sd == 0:
        return Estimate(float(d.mean()), n, (float(d.mean()),) * 2, 0.0 if d.mean() else 1.0, "paired t by seed", 0.0,
                        dict(seeds=seeds, diffs=list(d)))
    t = stats.ttest_rel(x, y)
    ci = t.confidence_interval(LEVEL)
    return Estimate(float(d.mean()), n, (float(ci.low), float(ci.high)), float(t.pvalue), "paired t by seed", sd,
                    dict(seeds=seeds, diffs=[float(v) for v in d]))


def welch(a, b) -> Estimate:
    """Difference of means mean(a) − mean(b) of two unpaired samples: Welch's t (``ttest_ind(equal_var=False)``)
    with its 95 % interval; fewer than 2 values on a side: no interval."""
    import numpy as np
    from scipy import stats

    x, y = np.array(_finite(a)), np.array(_finite(b))
    n = min(len(x), len(y))
    if n == 0:
        return Estimate(float("nan"), 0, NAN2, float("nan"), "Welch t")
    diff = float(x.mean() - y.mean())
    if n < 2:
        return Estimate(diff, n, NAN2, float("nan"), "Welch t", extra=dict(n_a=len(x), n_b=len(y)))
    t = stats.ttest_ind(x, y, equal_var=False)
    ci = t.confidence_interval(LEVEL)
    return Estimate(diff, n, (float(ci.low), float(ci.high)), float(t.pvalue), "Welch t",
                    extra=dict(n_a=len(x), n_b=len(y)))


def mean_ci(values) -> Estimate:
    """Mean of one sample with its 95 % t interval (``scipy.stats.ttest_1samp``) and sd (ddof = 1)."""
    import numpy as np
    from scipy import stats

    x = np.array(_finite(values))
    if len(x) < 2:
        return Estimate(float(x.mean()) if len(x) else float("nan"), len(x), NAN2, float("nan"), "t interval")
    sd = float(x.std(ddof=1))
    if sd == 0:
        return Estimate(float(x.mean()), len(x), (float(x.mean()),) * 2, float("nan"), "t interval", 0.0)
    t = stats.ttest_1samp(x, 0.0)
    ci = t.confidence_interval(LEVEL)
    return Estimate(float(x.mean()), len(x), (float(ci.low), float(ci.high)), float(t.pvalue), "t interval", sd)


def bootstrap(samples, statistic, n_resamples: int = 2000, seed: int = 0, paired_samples: bool = False) -> Estimate:
    """``statistic(*samples)`` with its 95 % percentile interval from ``scipy.stats.bootstrap`` (fixed seed:
    the book prints the same interval every time); ``paired_samples``: resample the samples' rows together."""
    import numpy as np
    from scipy import stats

    samples = tuple(np.asarray(s, float) for s in samples)
    value = float(statistic(*samples))
    n = min(len(s) for s in samples)
    if n < 2:
        return Estimate(value, n, NAN2, float("nan"), "bootstrap")
    res = stats.bootstrap(samples, statistic, n_resamples=n_resamples, confidence_level=LEVEL, method="percentile",
                          paired=paired_samples, vectorized=False, rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Estimate(value, n, (float(ci.low), float(ci.high)), float("nan"), "bootstrap (percentile)",
                    float(res.standard_error))


def slope(x, y) -> Estimate:
    """Least-squares slope of y on x (``scipy.stats.linregress``) with its 95 % t interval (n − 2 degrees of
    freedom) and p against a zero slope."""
    import numpy as np
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 3:
        return Estimate(float("nan"), n, NAN2, float("nan"), "linregress")
    r = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 2) * r.stderr)
    return Estimate(float(r.slope), n, (float(r.slope) - half, float(r.slope) + half), float(r.pvalue), "linregress",
                    extra=dict(intercept=float(r.intercept), rvalue=float(r.rvalue)))


def spearman(x, y) -> Estimate:
    """Spearman's ρ of x and y (``scipy.stats.spearmanr``) with n and p; the interval is the Fisher-z one with
    Bonett and Wright's variance (1 + ρ²/2)/(n − 3) (n > 3), NaN below. Constant input: ρ = 0, p = 1."""
    import numpy as np
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 3:
        return Estimate(float("nan"), n, NAN2, float("nan"), "Spearman")
    if len(set(x)) < 2 or len(set(y)) < 2:
        return Estimate(0.0, n, NAN2, 1.0, "Spearman")
    r = stats.spearmanr(x, y)
    rho, p = float(r.statistic), float(r.pvalue)
    ci = NAN2
    if n > 3 and abs(rho) < 1:
        z, se = math.atanh(rho), math.sqrt((1 + rho * rho / 2) / (n - 3))
        q = float(stats.norm.ppf(0.5 + LEVEL / 2))
        ci = (math.tanh(z - q * se), math.tanh(z + q * se))
    return Estimate(rho, n, ci, p, "Spearman")


def spearman_by_group(x, y, groups) -> dict:
    """Spearman's ρ of x and y pooled over groups (arms), beside it leaving each group out in turn and over the
    groups' medians: {"all": Estimate, "leave_out": {group: Estimate}, "medians": Estimate}."""
    import pandas as pd

    df = pd.DataFrame({"x": list(x), "y": list(y), "g": list(groups)}).dropna()
    out = {"all": spearman(df.x, df.y),
           "leave_out": {g: spearman(df[df.g != g].x, df[df.g != g].y) for g in dict.fromkeys(df.g)}}
    med = df.groupby("g", sort=False)[["x", "y"]].median()
    out["medians"] = spearman(med.x, med.y)
    return out


def holm(pvalues: dict) -> dict:
    """Holm's step-down adjustment of a family of p values (dict name -> p; NaN left as NaN)."""
    items = sorted(((p, k) for k, p in pvalues.items() if p == p))
    m, out, running = len(items), {k: float("nan") for k in pvalues}, 0.0
    for i, (p, k) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out
