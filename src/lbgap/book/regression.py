"""Tables and figures of the chapter "Huge N, few features" (``chapters/regression.ipynb``), from the records that
:func:`lbgap.studies.regression.run_study` writes under ``<results_dir>/<profile>/regression/``: the study's table
module (measurement: ``studies.regression_data/_methods/_timing``; driver: ``studies.regression``).

The notebook calls :func:`compute` (through :func:`lbgap.book.context.context`) and one ``show_*(ctx)`` per table
or figure. The functions below them take ``results_dir`` (``None``: the repository's ``data/results``) and the
record ``profile``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lbgap.book.context import Context
from lbgap.core import records
from lbgap.studies import regression as study

PROBLEM_LABELS = {"least_squares": "least squares", "logistic": "logistic regression"}


def _recs(results_dir, profile: str) -> list[dict]:
    recs = list(records.iter_records(results_dir, profile, study.KIND))
    if not recs:
        raise ValueError(f"no regression records for profile {profile!r} under {results_dir or 'data/results'}; "
                         f"run `lbgap regression --profile {profile}` first")
    return recs


def method_label(method: str, batch: int | None = None) -> str:
    if method == "sgd":
        return f"SGD B={batch:,}"
    return {"exact": "exact one pass", "gd": "full-batch GD"}[method]


def runs(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """One row per measured (problem, method, N, seed, target) with the step tuned for that target:
    examples, CPU and wall seconds to the target (NaN: not reached), and whether the time is estimated."""
    rows = []
    for r in _recs(results_dir, profile):
        if r.get("role") != "measure":
            continue
        for t in study.TARGETS:
            key = f"{t:g}"
            if r["method"] == "sgd" and key not in r.get("tuned_for", []):
                continue
            hit = r["targets"].get(key) or {}
            rows.append(dict(problem=r["problem"], method=r["method"], batch=r["batch"],
                             label=method_label(r["method"], r["batch"]), n=r["n"], seed=r["seed"], target=t,
                             lr=r.get("lr"), examples=hit.get("examples", np.nan), cpu_s=hit.get("cpu_s", np.nan),
                             wall_s=hit.get("wall_s", np.nan), iterate=hit.get("variant"),
                             estimated=bool(hit.get("estimated", False)), status=r["status"],
                             run_cpu_s=r["cpu_s"], run_wall_s=r["wall_s"], final_gap=r["final_gap"]))
    return pd.DataFrame(rows)


def _order(df: pd.DataFrame) -> list[str]:
    """Exact pass, GD, then SGD by batch size."""
    first = {"exact one pass": (0, 0), "full-batch GD": (1, 0)}

    def key(label):
        return first[label] if label in first else (2, int(label.split("=")[1].replace(",", "")))
    return sorted(df.label.unique(), key=key)


def time_table(results_dir=None, profile: str = "quick", target: float = 0.001, problem: str = "least_squares",
               what: str = "cpu_s") -> pd.DataFrame:
    """Rows: methods; columns: N; cells: the mean over seeds of CPU seconds (``what="examples"``: examples) to
    the target, '-' where a seed did not reach it or the batch exceeds N, '~' marking GD estimated from one pass."""
    df = runs(results_dir, profile)
    df = df[(df.problem == problem) & (df.target == target)]
    out = {}
    for (label, n), g in df.groupby(["label", "n"]):
        v = g[what]
        if v.isna().any():
            cell = "-"
        elif what == "examples":
            cell = f"{v.mean():,.0f}"
        else:
            cell = f"{v.mean():.3g}"
        out.setdefault(label, {})[f"{n:.0e}".replace("e+0", "e")] = ("~" if g.estimated.any() else "") + cell
    tab = pd.DataFrame(out).T.reindex(_order(df)).fillna("")
    tab.index.name = f"{PROBLEM_LABELS[problem]}, to {target:.1%}"
    return tab


def fig_time_vs_n(results_dir=None, profile: str = "quick", target: float = 0.001):
    """CPU seconds to the target against N, both problems: full batch grows with N, mini-batch SGD does not."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = runs(results_dir, profile)
    df = df[df.target == target]
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 8.4), sharey=True)
    batches = sorted(df[df.method == "sgd"].batch.unique())
    colors = dict(zip(batches, sns.color_palette("viridis", len(batches))))
    for ax, (prob, g) in zip(axes, df.groupby("problem")):
        for label in _order(g):
            m = g[g.label == label].groupby("n").agg(cpu_s=("cpu_s", "mean"), est=("estimated", "any")).reset_index()
            m = m.dropna()
            if not len(m):
                continue
            meth, batch = g[g.label == label].method.iloc[0], g[g.label == label].batch.iloc[0]
            style = (dict(color=colors[batch], marker=".") if meth == "sgd" else
                     dict(exact=dict(color="black", marker="s"), gd=dict(color="C3", marker="o"))[meth])
            meas = m[~m.est]
            ax.plot(meas.n, meas.cpu_s, "-", label=label + (" (on the rows needed)" if meth == "exact" else ""),
                    **style)
            if meth == "exact":   # the same solve over all N rows
                full = g[g.label == label].groupby("n").run_cpu_s.mean()
                ax.plot(full.index, full.values, "--", color="black", marker="s", mfc="none",
                        label="exact one pass over all N rows")
            if m.est.any():
                ax.plot(m.n, m.cpu_s, ":", color=style["color"])
                ax.scatter(m[m.est].n, m[m.est].cpu_s, facecolors="none", edgecolors=style["color"],
                           marker=style["marker"], s=40)
        ax.set(xscale="log", yscale="log", xlabel="N (rows)", title=PROBLEM_LABELS[prob])
        ax.grid(alpha=0.3, which="major")
    axes[0].set_ylabel(f"CPU seconds to {target:.1%} of the optimal loss")
    handles = dict(zip(*reversed(axes[1].get_legend_handles_labels())))
    handles.update(dict(zip(*reversed(axes[0].get_legend_handles_labels()))))   # the exact pass: least squares only
    labels = sorted(handles, key=lambda s: (not s.startswith("exact"), not s.startswith("full"),
                                            int(s.split("=")[1].replace(",", "")) if "=" in s else 0))
    axes[1].legend([handles[k] for k in labels], labels, fontsize=9, loc="upper left", frameon=False,
                   bbox_to_anchor=(1.0, 1.0))
    fig.text(0.01, 0.005, "open markers on a dotted line: GD time estimated as passes needed x one measured pass",
             fontsize=9, color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def noise_points(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    rows = []
    for r in _recs(results_dir, profile):
        if r.get("role") == "noise":
            for p in r["points"]:
                rows.append(dict(problem=r["problem"], source=p.get("source", "gd"), batch=p.get("batch"),
                                 gap=p["gap"], b_noise=float(p["b_noise"]),   # a record stores inf as "inf"
                                 b_noise_exact=np.nan if p["b_noise_exact"] is None else float(p["b_noise_exact"]),
                                 rows=r["rows"], path_from=r["path_from"]))
    return pd.DataFrame(rows)


def noise_at(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """B_noise where the full-batch path first reaches each target (log-interpolated in the gap between the
    two points around it); for least squares also the exact value there."""
    pts = noise_points(results_dir, profile)
    pts = pts[pts.source == "gd"]
    rows = []
    for prob, g in pts.groupby("problem"):
        g = g.sort_values("gap", ascending=False)
        for t in study.TARGETS:
            above, below = g[g.gap > t], g[g.gap <= t]
            if not len(above) or not len(below):
                continue
            a, b = above.iloc[-1], below.iloc[0]
            f = (math.log(t) - math.log(a.gap)) / (math.log(b.gap) - math.log(a.gap))
            interp = lambda col: math.exp(math.log(a[col]) + f * (math.log(b[col]) - math.log(a[col])))  # noqa
            rows.append(dict(problem=PROBLEM_LABELS[prob], target=f"{t:.1%}", b_noise=round(interp("b_noise")),
                             b_noise_exact=None if pd.isna(a.b_noise_exact) else round(interp("b_noise_exact"))))
    return pd.DataFrame(rows)


def fig_noise_scale(results_dir=None, profile: str = "quick"):
    """B_noise = tr(Sigma)/|g|^2 along the full-batch path, against the relative gap: it grows as the loss
    approaches its optimum, so the batch that still pays grows with the accuracy asked for."""
    import matplotlib.pyplot as plt

    pts = noise_points(results_dir, profile)
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    for (prob, g), c in zip(pts.groupby("problem"), ("C0", "C1")):
        g = g[(g.gap > 0) & (g.b_noise > 0) & np.isfinite(g.b_noise)].sort_values("gap")
        gd, sgd = g[g.source == "gd"], g[g.source == "sgd"]
        ax.plot(gd.gap, gd.b_noise, "o", color=c, ms=4, label=f"{PROBLEM_LABELS[prob]}, full-batch path")
        if gd.b_noise_exact.notna().any():
            ax.plot(gd.gap, gd.b_noise_exact, "-", color=c, lw=1,
                    label=f"{PROBLEM_LABELS[prob]}, full-batch path (exact)")
        if len(sgd):
            ax.plot(sgd.gap, sgd.b_noise, "x", color=c, ms=6, label=f"{PROBLEM_LABELS[prob]}, where SGD stopped")
    for t in study.TARGETS:
        ax.axvline(t, color="0.5", ls=":", lw=1)
        ax.text(t, 0.98, f" {t:.1%}", transform=ax.get_xaxis_transform(), fontsize=9, va="top", color="0.3")
    ax.set(xscale="log", yscale="log", xlabel="relative gap to the optimal loss, (L - L*)/L*",
           ylabel="B_noise = tr(Σ)/|g|²")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def examples_by_batch(results_dir=None, profile: str = "quick", n: int | None = None) -> pd.DataFrame:
    """Examples SGD needs to each target at each batch size (mean over seeds), at the largest N (the stream)."""
    df = runs(results_dir, profile)
    df = df[df.method == "sgd"]
    n = n or int(df.n.max())
    df = df[df.n == n]
    return (df.groupby(["problem", "target", "batch"])
              .agg(examples=("examples", "mean"), steps=("examples", lambda s: np.nan), cpu_s=("cpu_s", "mean"),
                   lr=("lr", "first"), seeds=("seed", "nunique"))
              .reset_index().assign(steps=lambda d: d.examples / d.batch))


def full_batch_steps(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """S_min, the steps of the full-batch limit, per problem and target: the passes tuned full-batch GD needed
    (one step = one exact gradient over N rows), read per seed at the largest N it ran to the target (10^6 ...
    10^7 rows: its gradient is the population's to ~0.1 %), mean over seeds."""
    rows = []
    for r in _recs(results_dir, profile):
        if r.get("role") == "measure" and r.get("method") == "gd" and not r.get("bounded"):
            for t in study.TARGETS:
                hit = r["targets"].get(f"{t:g}")
                rows.append(dict(problem=r["problem"], target=t, seed=r["seed"], n=r["n"],
                                 steps=hit["steps"] if hit else np.nan))
    df = pd.DataFrame(rows, columns=["problem", "target", "seed", "n", "steps"])
    if df.empty:
        return df.assign(seeds=[])
    df = df[df.n == df.groupby(["problem", "seed"]).n.transform("max")]
    return (df.groupby(["problem", "target"]).agg(steps=("steps", "mean"), seeds=("seed", "nunique"),
                                                  n_min=("n", "min"), n_max=("n", "max")).reset_index())


def knee_numbers(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """Per problem and target: E_min, the fewest examples SGD needed over the batch sizes (at the largest N, mean
    over seeds); S_min, the steps of the full-batch limit: the steps of tuned full-batch GD
    (:func:`full_batch_steps`), or those of a batch size where one took fewer (GD's step is tuned for the last
    target only, SGD's per target), ``s_min_from`` saying which; B_crit = E_min/S_min (Shallue et al. 2019;
    McCandlish et al. 2018); and the steps of the largest batch beside them (the old reading of S_min, which a
    power-of-2 step grid leaves above the limit)."""
    eb, fb = examples_by_batch(results_dir, profile), full_batch_steps(results_dir, profile)
    rows = []
    for (prob, t), g in eb.groupby(["problem", "target"]):
        gd = fb[(fb.problem == prob) & (fb.target == t)]
        gd_steps = float(gd.steps.iloc[0]) if len(gd) else np.inf
        fewest = g.loc[g.steps.idxmin()]
        s_min, src = ((gd_steps, "full-batch GD") if gd_steps <= fewest.steps
                      else (float(fewest.steps), f"SGD B={int(fewest.batch):,}"))
        big = g[g.batch == g.batch.max()]
        rows.append(dict(problem=prob, target=t, e_min=g.examples.min(), s_min=s_min, s_min_from=src,
                         b_crit=g.examples.min() / s_min, gd_steps=gd_steps if len(gd) else np.nan,
                         gd_seeds=int(gd.seeds.iloc[0]) if len(gd) else 0, largest_batch=int(big.batch.iloc[0]),
                         largest_batch_steps=float(big.steps.iloc[0])))
    return pd.DataFrame(rows)


def knee(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """:func:`knee_numbers` for display, with B_noise at the target along the full-batch path and where SGD stopped
    (median over the SGD stops within a factor 3 of the target)."""
    kn = knee_numbers(results_dir, profile)
    nz, pts = noise_at(results_dir, profile), noise_points(results_dir, profile)
    rows = []
    for k in kn.itertuples():
        prob, t = k.problem, k.target
        near = pts[(pts.problem == prob) & (pts.source == "sgd") & (pts.gap > t / 3) & (pts.gap < 3 * t)]
        gd = nz[(nz.problem == PROBLEM_LABELS[prob]) & (nz.target == f"{t:.1%}")]
        rows.append({"problem": PROBLEM_LABELS[prob], "target": f"{t:.1%}", "E_min (examples)": f"{k.e_min:,.0f}",
                     "S_min (steps)": f"{k.s_min:,.1f} ({k.s_min_from})",
                     "full-batch GD (steps)": f"{k.gd_steps:,.1f}",
                     f"steps at B = {k.largest_batch:,}": f"{k.largest_batch_steps:,.1f}",
                     "B_crit = E_min/S_min": f"{k.b_crit:,.0f}",
                     "B_noise, full-batch path": f"{gd.b_noise.iloc[0]:,.0f}" if len(gd) else "-",
                     "B_noise, where SGD stopped": f"{near.b_noise.median():,.0f} ({len(near)} points)"
                     if len(near) else "-"})
    return pd.DataFrame(rows)


def fig_examples_by_batch(results_dir=None, profile: str = "quick"):
    """Examples to each target against the batch size, at the largest N, with B_crit = E_min/S_min marked
    (S_min: full-batch GD's steps, :func:`knee_numbers`) and the curve E_min + S_min B (dotted): flat while B is
    well below B_crit, then growing in proportion to B."""
    import matplotlib.pyplot as plt

    eb, kn = examples_by_batch(results_dir, profile), knee_numbers(results_dir, profile)
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 8.4), sharey=True)
    for ax, (prob, g) in zip(axes, eb.groupby("problem")):
        for (t, gt), c in zip(g.groupby("target"), ("C0", "C3")):
            ax.plot(gt.batch, gt.examples, "o-", color=c, label=f"to {t:.1%}")
            k = kn[(kn.problem == prob) & (kn.target == t)].iloc[0]
            e_min, s_min = k.e_min, k.s_min
            bb = np.geomspace(gt.batch.min(), gt.batch.max(), 50)
            ax.plot(bb, e_min + s_min * bb, ":", color=c, lw=1)          # E_min (1 + B/B_crit)
            ax.axvline(e_min / s_min, color=c, ls="--", lw=1)
            ax.text(e_min / s_min, 0.02, f" B_crit\n ({t:.1%})", color=c, fontsize=9,
                    transform=ax.get_xaxis_transform())
        ax.set(xscale="log", yscale="log", xlabel="batch size B", title=PROBLEM_LABELS[prob])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("examples to the target (SGD, tuned step)")
    axes[0].legend(fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def big_runs(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """The passes over N >= 10^8 rows, each in a process of its own: CPU and wall time of the pass, rows per CPU
    second, and the process's peak RSS (and its RSS before the pass, after imports)."""
    rows = []
    for r in _recs(results_dir, profile):
        if r.get("isolated_process"):
            rows.append({"problem": PROBLEM_LABELS[r["problem"]], "method": method_label(r["method"]),
                         "N": f"{r['n']:,}", "seed": r["seed"], "passes": r["passes"], "CPU s": round(r["cpu_s"], 1),
                         "wall s": round(r["wall_s"], 1),
                         "rows per CPU s": f"{r['n'] * r['passes'] / r['cpu_s']:,.0f}",
                         "RSS before (MiB)": round(r["rss_before_bytes"] / 2**20),
                         "peak RSS (MiB)": round(r["peak_rss_bytes"] / 2**20)})
    return pd.DataFrame(rows)


def cpu_spent(results_dir=None, profile: str = "quick") -> dict:
    """CPU seconds of all records (tuning, measurements, noise; the headline's every timed repeat) and the wall
    time they took, from provenance."""
    recs = _recs(results_dir, profile)

    def cpu(r: dict) -> float:
        if r.get("role") == "headline":
            return sum(sum(e[k]["cpu_s_all"]) for e in r["entries"] for k in ("generate", "solve"))
        return r.get("cpu_s", 0.0)

    return dict(records=len(recs), cpu_s=sum(cpu(r) for r in recs),
                wall_s=sum(r["provenance"]["wall_time_s"] or 0.0 for r in recs),
                commits=sorted({r["provenance"]["git_commit"] for r in recs}))


def headline(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """The headline timings (``studies.regression_timing``), one row per (problem, seed, target, method, batch):
    the rows the method used, the median CPU and wall seconds of the solve alone and of generating those rows
    (each over ``repeats`` timings), and the gap the timed solve reached. Empty where no record has them."""
    rows = []
    for r in _recs(results_dir, profile):
        if r.get("role") != "headline":
            continue
        for e in r["entries"]:
            rows.append(dict(problem=r["problem"], seed=r["seed"], target=e["target"], method=e["method"],
                             batch=e["batch"], label=method_label(e["method"], e["batch"]), examples=e["examples"],
                             solve_cpu_s=e["solve"]["cpu_s"], solve_wall_s=e["solve"]["wall_s"],
                             generate_cpu_s=e["generate"]["cpu_s"], gap=e["gap"], repeats=e["repeats"]))
    cols = ["problem", "seed", "target", "method", "batch", "label", "examples", "solve_cpu_s", "solve_wall_s",
            "generate_cpu_s", "gap", "repeats"]
    return pd.DataFrame(rows, columns=cols)


def headline_comparison(results_dir=None, profile: str = "quick") -> pd.DataFrame:
    """Per problem and target: each method's solve time (median over seeds of the per-seed medians), the fastest
    SGD batch size, and for least squares the exact solve minus that SGD, paired by seed: mean difference, its 95 %
    t-interval (``scipy.stats.ttest_rel``; NaN with fewer than 2 seeds) and n. Times in CPU seconds."""
    from scipy import stats

    hd = headline(results_dir, profile)
    rows = []
    for (prob, t), g in hd.groupby(["problem", "target"]):
        med = g.groupby("label").agg(solve=("solve_cpu_s", "median"), gen=("generate_cpu_s", "median"),
                                     examples=("examples", "median"), seeds=("seed", "nunique"))
        sgd = med[med.index.str.startswith("SGD")]
        best = sgd.solve.idxmin() if len(sgd) else None
        row = dict(problem=prob, target=t, sgd_label=best, seeds=int(g.seed.nunique()),
                   sgd_solve_s=sgd.solve.get(best, np.nan), sgd_generate_s=sgd.gen.get(best, np.nan),
                   sgd_examples=sgd.examples.get(best, np.nan), exact_solve_s=np.nan, exact_generate_s=np.nan,
                   exact_examples=np.nan, diff_s=np.nan, diff_lo=np.nan, diff_hi=np.nan, n_paired=0)
        if "exact one pass" in med.index and best:
            e = med.loc["exact one pass"]
            row.update(exact_solve_s=e.solve, exact_generate_s=e.gen, exact_examples=e.examples)
            a = g[g.method == "exact"].set_index("seed").solve_cpu_s
            b = g[g.label == best].set_index("seed").solve_cpu_s
            both = a.index.intersection(b.index)
            d = (a[both] - b[both]).to_numpy()
            row.update(n_paired=len(d), diff_s=float(d.mean()) if len(d) else np.nan)
            if len(d) >= 2:
                ci = stats.ttest_rel(a[both].to_numpy(), b[both].to_numpy()).confidence_interval()
                row.update(diff_lo=float(ci.low), diff_hi=float(ci.high))
        rows.append(row)
    return pd.DataFrame(rows)


def headline_table(results_dir=None, profile: str = "quick", target: float = 0.001) -> pd.DataFrame:
    """:func:`headline` at ``target`` for display: per problem and method, the rows used and the solve and the
    generation of those rows in milliseconds (median over seeds of the per-seed medians), with the seeds."""
    hd = headline(results_dir, profile)
    hd = hd[hd.target == target]
    rows = []
    for (prob, label), g in hd.groupby(["problem", "label"], sort=False):
        rows.append({"problem": PROBLEM_LABELS[prob], "method": label, "rows used": f"{g.examples.median():,.0f}",
                     "solve (ms)": f"{1e3 * g.solve_cpu_s.median():.3g}",
                     "generating the rows (ms)": f"{1e3 * g.generate_cpu_s.median():.3g}",
                     "seeds": g.seed.nunique(), "timings per seed": int(g.repeats.iloc[0])})
    tab = pd.DataFrame(rows)
    if tab.empty:
        return tab
    order = {lab: k for k, lab in enumerate(_order(hd))}
    return tab.sort_values(["problem", "method"], key=lambda c: c.map(order) if c.name == "method" else c
                           ).reset_index(drop=True)


def _ms(s: float) -> str:
    return f"{1e3 * s:.3g} ms"


def _headline_line(h, nmax: int) -> str:
    """One problem and target of :func:`headline_comparison` in words (numbers only; no verdict)."""
    line = (f"{PROBLEM_LABELS[h.problem]}, to {h.target:.1%}, N = {nmax:,}, the solve alone (median of the "
            f"per-seed medians of repeated timings, the rows generated apart; {h.seeds} seed"
            f"{'s' if h.seeds != 1 else ''}): ")
    parts = []
    if not pd.isna(h.exact_solve_s):
        parts.append(f"exact solve on the first {h.exact_examples:,.0f} rows {_ms(h.exact_solve_s)}")
    if h.sgd_label:
        parts.append(f"fastest {h.sgd_label} {_ms(h.sgd_solve_s)} ({h.sgd_examples:,.0f} examples)")
    if h.n_paired:
        ci = ("" if pd.isna(h.diff_lo) else f", 95 % CI {_ms(h.diff_lo)} … {_ms(h.diff_hi)}")
        parts.append(f"exact − SGD {_ms(h.diff_s)} (paired by seed, n = {h.n_paired}{ci})")
    gen = [f"{_ms(v)} for the {w}" for v, w in ((h.exact_generate_s, "exact solve's rows"),
                                                (h.sgd_generate_s, "SGD's")) if not pd.isna(v)]
    if gen:
        parts.append("generating the rows " + " and ".join(gen))
    return line + "; ".join(parts)


def key_numbers(results_dir=None, profile: str = "quick") -> list[str]:
    """The numbers the chapter's prose refers to, as printed lines: per problem and target, the headline
    (:func:`headline_comparison`, where its records exist; else the study's timings, generation included), then
    the exact pass and full-batch GD over all N rows."""
    df = runs(results_dir, profile)
    nmax = int(df.n.max())
    heads = headline_comparison(results_dir, profile)
    lines = []
    for prob, g in df.groupby("problem"):
        for t in study.TARGETS:
            h = heads[(heads.problem == prob) & (heads.target == t)]
            if len(h):   # the headline: solve times apart from generation, same seeds on both sides
                gt = g[(g.target == t) & (g.n == nmax) & (g.method == "gd")]
                lines.append(_headline_line(h.iloc[0], nmax) + (
                    f"; full-batch GD {gt.cpu_s.mean():,.3g} CPU s" + (" (estimated)" if gt.estimated.any() else "")
                    if len(gt) else ""))
                continue
            gt = g[(g.target == t) & (g.n == nmax)]
            sgd = gt[gt.method == "sgd"].groupby("label").agg(cpu_s=("cpu_s", "mean"), ex=("examples", "mean"))
            best = sgd.cpu_s.idxmin() if sgd.cpu_s.notna().any() else None
            gd = gt[gt.method == "gd"]
            line = f"{PROBLEM_LABELS[prob]}, to {t:.1%}, N = {nmax:,}: "
            if best:
                line += f"fastest {best} {sgd.cpu_s[best]:.3g} CPU s ({sgd.ex[best]:,.0f} examples); "
            line += (f"full-batch GD {gd.cpu_s.mean():,.3g} CPU s" + (" (estimated)" if gd.estimated.any() else "")
                     if len(gd) else "full-batch GD not run")
            ex = gt[gt.method == "exact"]
            if len(ex):
                line += f"; exact solve on the first {ex.examples.mean():,.0f} rows {ex.cpu_s.mean():.3g} CPU s"
            lines.append(line)
        ex = g[(g.method == "exact") & (g.target == min(study.TARGETS))]
        if len(ex):
            full = ex.groupby("n").run_cpu_s.mean()
            lines.append(f"{PROBLEM_LABELS[prob]}: one exact pass over all N rows: " +
                         ", ".join(f"N = {n:.0e}: {s:.3g} CPU s" for n, s in full.items()).replace("e+0", "e"))
        passes = [r for r in _recs(results_dir, profile) if r.get("problem") == prob and r.get("method") == "gd"
                  and r.get("role") == "measure" and r.get("bounded") and r["n"] == nmax]
        for r in passes:
            src = r.get("passes_from") or r.get("extrapolated_from")
            lines.append(f"{PROBLEM_LABELS[prob]}: one full-batch GD pass over N = {nmax:,} rows "
                         f"{r['cpu_per_pass_s']:.3g} CPU s" + (" (measured)" if r["passes"] else " (extrapolated)")
                         + f"; passes to {min(study.TARGETS):.1%}: "
                         + f"{(r['targets'].get(f'{min(study.TARGETS):g}') or {}).get('steps')} (from {src})")
        gd = g[(g.method == "gd") & (g.target == min(study.TARGETS))].groupby("n").cpu_s.mean()
        if len(gd) > 1:
            lines.append(f"{PROBLEM_LABELS[prob]}: full-batch GD to {min(study.TARGETS):.1%}, CPU s per N: " +
                         ", ".join(f"{n:.0e}: {s:.3g}" for n, s in gd.items()).replace("e+0", "e"))
    spent = cpu_spent(results_dir, profile)
    lines.append(f"all {spent['records']} records: {spent['cpu_s'] / 60:.1f} CPU minutes "
                 f"({spent['wall_s'] / 60:.1f} wall minutes on a shared machine)")
    return lines


# ------------------------------------------------------------------------------------ what the notebook shows
def record_profile(ctx: Context) -> str:
    """The record profile the chapter reads and writes: the study has ``smoke`` and ``quick`` profiles only, so
    the book's records (``results``) and a ``paper`` recompute are quick's."""
    return "smoke" if ctx.profile == "smoke" else "quick"


def compute(ctx: Context) -> None:
    """Run the study for the notebook's profile (existing records are read back, not recomputed)."""
    study.run_study(record_profile(ctx), ctx.results_dir)


def _display(df: pd.DataFrame, uuid: str, caption: str = "") -> None:
    """``df`` as one of the book's tables (a meaningful index becomes its first columns)."""
    from lbgap.book.style import show_table

    from lbgap.book import run_sets

    show_table(df, caption, uuid, runs=run_sets.runs("regression"))


def _show(fig, caption: str | None = None, reading: str | None = None) -> None:
    """Show ``fig`` (the figure just drawn) inline once it reads at the column width, with its caption and the
    one-line reading of its data."""
    from lbgap.book import run_sets
    from lbgap.book.style import show_figure

    show_figure(fig, run_sets.caption(caption.rstrip("."), "regression") if caption else caption, reading)


def show_key_numbers(ctx: Context) -> None:
    """The numbers behind the chapter's answer, one bullet each."""
    from lbgap.book.style import verdict_lines

    verdict_lines(key_numbers(ctx.results_dir, record_profile(ctx)))


def show_time_vs_n(ctx: Context, target: float = 0.001) -> None:
    _show(fig_time_vs_n(ctx.results_dir, record_profile(ctx), target=target),
          f"Time to a relative excess loss of {target:g} against the number of rows N, per method.",
          (key_numbers(ctx.results_dir, record_profile(ctx)) or [None])[0])


def show_time_tables(ctx: Context, target: float = 0.001, what: str = "cpu_s") -> None:
    """One :func:`time_table` per problem."""
    for prob in study.PROBLEMS:
        _display(time_table(ctx.results_dir, record_profile(ctx), target, prob, what=what), f"time-{prob}-{what}",
                 f"{PROBLEM_LABELS[prob]}: {'CPU seconds' if what == 'cpu_s' else what} to {target:.1%}")


def show_headline(ctx: Context, target: float = 0.001) -> None:
    """The headline timing (:func:`headline_table`): the solve alone, generation apart."""
    _display(headline_table(ctx.results_dir, record_profile(ctx), target), f"headline-{target:g}",
             f"CPU milliseconds to {target:.1%} on the rows each method used: the solve alone, and generating those "
             "rows (timed apart); medians over seeds of the median of repeated timings, one thread")


def show_noise_scale(ctx: Context) -> None:
    rp = record_profile(ctx)
    na = noise_at(ctx.results_dir, rp)
    reading = "; ".join(f"{r.problem} at {r.target}: B_noise {r.b_noise:,.0f}"
                        + (f" (exact {r.b_noise_exact:,.0f})" if r.b_noise_exact == r.b_noise_exact else "")
                        for r in na.itertuples()) + "." if len(na) else None
    _show(fig_noise_scale(ctx.results_dir, rp), "The gradient-noise scale of the regressions against N.", reading)
    _display(na, "noise-at", "The gradient-noise scale B_noise where the runs reach each target")


def show_examples_by_batch(ctx: Context) -> None:
    rp = record_profile(ctx)
    k = knee(ctx.results_dir, rp)
    reading = "; ".join(f"{r['problem']} at {r['target']}: B_crit = E_min/S_min = {r['B_crit = E_min/S_min']} "
                        f"against B_noise {r['B_noise, full-batch path']}" for _, r in k.iterrows()) + "." if len(k) else None
    _show(fig_examples_by_batch(ctx.results_dir, rp), "Examples to the target against the batch size.", reading)
    _display(k, "knee", "The knee B_crit = E_min/S_min beside B_noise, per problem and target")


def batch_table(ctx: Context) -> pd.DataFrame:
    """:func:`examples_by_batch` at the largest N with examples and steps as integers, CPU seconds to 3 digits."""
    eb = examples_by_batch(ctx.results_dir, record_profile(ctx))
    return eb.assign(examples=eb.examples.map("{:,.0f}".format), steps=eb.steps.map("{:,.0f}".format),
                     cpu_s=eb.cpu_s.map("{:.3g}".format))


def show_batch_table(ctx: Context) -> None:
    _display(batch_table(ctx), "batch-table", "Tuned steps, examples, steps and CPU seconds per batch size (mean "
             "over seeds)")


def show_big_runs(ctx: Context) -> None:
    from lbgap.book.style import fold_constant

    df, same = fold_constant(big_runs(ctx.results_dir, record_profile(ctx)), keep=("problem", "method", "N"))
    _display(df, "big-runs", "Passes over N ≥ 10⁸ rows, each in a process of its own" + (f" ({same})" if same else ""))


def cpu_spent_line(ctx: Context) -> str:
    spent = cpu_spent(ctx.results_dir, record_profile(ctx))
    return (f"{spent['records']} records, {spent['cpu_s'] / 60:.1f} CPU minutes, {spent['wall_s'] / 60:.1f} wall "
            f"minutes, code {', '.join(spent['commits'])}")


def show_cpu_spent(ctx: Context) -> None:
    print(cpu_spent_line(ctx))
