"""The gradient-norm chapter: do larger batches have larger gradients, end closer to x0, and is there a sweet
spot? Full-batch and mini-batch gradient norms, distance from x0 and losses against the batch size at equal numbers
of examples seen (``studies.gradient_norm``)."""
from __future__ import annotations

from lbgap.book.context import Context, shown_seeds
from lbgap.book.style import pm_over, show, show_figure, sig, verdict_lines
from lbgap.book import claims

SMOKE_BATCHES = (16, 32, "LB")
MEASURES = (("grad_full", "‖∇f(x)‖, full batch"), ("grad_minibatch", "mean ‖∇f_B‖ of the steps"),
            ("dist", "‖x − x0‖"), ("test_loss", "test loss"))


def compute(ctx: Context) -> None:
    from lbgap.studies import gradient_norm

    if ctx.profile == "smoke":   # synthetic data: three batch sizes, both LR rules, the gradient on 64 examples
        gradient_norm.run("F1", shown_seeds(ctx), "smoke", SMOKE_BATCHES, epochs=2, grad_examples=64,
                          results_dir=ctx.results_dir)
        return
    for net in [n for n in ctx.nets if n in ("F1", "C1")]:
        gradient_norm.run(net, ctx.seeds, ctx.run_profile, results_dir=ctx.results_dir, device=ctx.device)


def points(ctx: Context):
    from lbgap.studies import gradient_norm

    return ctx.study_table("gradnorm", gradient_norm.table)


def run_set_words(ctx: Context) -> str:
    """The run set of the gradient-norm points shown, with their seeds (:func:`lbgap.book.run_sets.describe`)."""
    from lbgap.book import run_sets

    return run_sets.describe("gradnorm", points(ctx))


def cost_run_set_words(g) -> str:
    """The run set of cost records ``g`` (one network's), with their seeds."""
    from lbgap.book import run_sets

    return run_sets.describe("cost", g)


def budgets(df):
    """The two budgets every batch size reached: the end of the first epoch (early) and the last point (late),
    as examples seen."""
    n = int(df[df.epoch == 1].examples.min()) if (df.epoch == 1).any() else None
    last = int(df.groupby(["net", "seed", "batch_size", "rule"]).examples.max().min())
    return {"early (1 epoch)": n, f"late ({last / n:g} epochs)" if n else "late": last}


def at_budgets(ctx: Context):
    """Per (network, rule, batch size, budget): mean ± sd over seeds of each measure at that number of examples
    (read once per notebook: the figure, the tables, the verdicts and the front page share it)."""
    return ctx.memo("gradnorm-budgets", lambda: _at_budgets(points(ctx)))


def _at_budgets(df):
    import pandas as pd

    if df.empty:
        return pd.DataFrame()
    rows = []
    for (net, rule), g in df.groupby(["net", "rule"], sort=False):
        for label, ex in budgets(g).items():
            at = g[g.examples == ex]
            for b, h in at.groupby("batch_size"):
                rows.append(dict(net=net, rule=rule, budget=label, batch_size=int(b), n=h.seed.nunique(),
                                 **{m: h[m].mean() for m, _ in MEASURES}, test_acc=h.test_acc.mean(),
                                 **{f"{m}_sd": h[m].std() for m, _ in MEASURES}, steps=int(h.step.median())))
    return pd.DataFrame(rows)


def figure_paths(ctx: Context, rule: str = "fixed"):
    """Each measure (one panel per row) against examples seen, one line per batch size (mean over seeds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = points(ctx)
    df = df[(df.rule == rule) & (df.examples > 0)]
    df = df.assign(B=df.batch_size.map(lambda b: f"{int(b):,}"))        # categories: one colour per batch size
    fig, axes = plt.subplots(len(MEASURES), 1, figsize=(6.8, 2.6 * len(MEASURES) + 0.8), sharex=True)
    order = [f"{int(b):,}" for b in sorted(df.batch_size.unique())]
    for ax, (m, name) in zip(axes, MEASURES):
        sns.lineplot(data=df, x="examples", y=m, hue="B", hue_order=order, palette="viridis",
                     errorbar=None, marker="o", markersize=4, ax=ax, legend=ax is axes[0])
        ax.set(xscale="log", ylabel=name)
        if m != "dist":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("training examples seen")
    axes[0].legend(title="batch size", fontsize=9, title_fontsize=9, ncol=4, loc="upper right", frameon=False)
    lr = "Adam 1e-3" if rule == "fixed" else "Adam 1e-3 × √(B/256)"
    fig.suptitle(f"{df.net.iloc[0] if len(df) else ''}: along training, {lr} (mean over seeds)")
    fig.tight_layout()
    return fig


def figure_budgets(ctx: Context):
    """At each budget, each measure against the batch size; one line per LR rule (mean ± sd over seeds)."""
    import matplotlib.pyplot as plt

    t = at_budgets(ctx)
    fig, axes = plt.subplots(len(MEASURES), 1, figsize=(6.8, 2.6 * len(MEASURES) + 0.8), sharex=True)
    styles = {"fixed": "-", "sqrt": "--"}
    for ax, (m, name) in zip(axes, MEASURES):
        for (budget, rule), g in t.groupby(["budget", "rule"], sort=False):
            g = g.sort_values("batch_size")
            ax.errorbar(g.batch_size, g[m], yerr=g[f"{m}_sd"].fillna(0), ls=styles.get(rule, "-"), marker="o",
                        ms=4, capsize=2, label=f"{budget}, LR {rule}")
        ax.set(xscale="log", ylabel=name)
        if m != "dist":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("batch size B")
    from lbgap.book.style import batch_axis

    batch_axis(axes[-1], t.batch_size.unique())
    axes[0].legend(fontsize=9, frameon=False, ncol=2)
    fig.suptitle("At equal examples seen, against the batch size")
    fig.tight_layout()
    return fig


def show_figure_paths(ctx: Context) -> None:
    df = points(ctx)
    if not df.empty:
        last = df[(df.rule == "fixed")].sort_values("examples").groupby("batch_size").tail(1)
        d = last.groupby("batch_size").dist.mean()
        c = next((v["dist"] for (_, rule, _), v in reversed(list(budget_claims(ctx).items())) if rule == "fixed"), None)
        show_figure(figure_paths(ctx), "Full-batch gradient norm, mean mini-batch gradient norm, distance from the "
                    "start and test loss against the training examples seen, one line per batch size (Adam 1e-3, "
                    f"mean over seeds) — runs: {run_set_words(ctx)}",
                    f"at the end of the runs, ‖x − x0‖ is {d.iloc[0]:.1f} at B = {d.index[0]:,} and {d.iloc[-1]:.1f} "
                    f"at B = {d.index[-1]:,}" + (f"; at the last budget of equal examples, {_trend_words(c, 'dist')}"
                                                  if c is not None else "") + ".")


def show_figure_budgets(ctx: Context) -> None:
    if not points(ctx).empty:
        t = at_budgets(ctx)
        f = t[t.rule == "fixed"]
        last = f[f.budget == f.budget.iloc[-1]].set_index("batch_size")
        g = last.grad_full
        show_figure(figure_budgets(ctx), "At equal examples seen (early and late budgets), each measure against "
                    f"the batch size; solid: Adam 1e-3, dashed: lr × √(B/256); mean ± sd over seeds — runs: "
                    f"{run_set_words(ctx)}",
                    f"at the {f.budget.iloc[-1]} budget with a fixed lr, the full-batch gradient norm is "
                    f"{g.iloc[0]:.3g} at B = {g.index[0]:,} and {g.iloc[-1]:.3g} at B = {g.index[-1]:,}, the test "
                    f"loss {last.test_loss.iloc[0]:.3g} and {last.test_loss.iloc[-1]:.3g}.")


def coverage(ctx: Context) -> list[str]:
    """Per network: the runs recorded (batch sizes, rules, seeds), their device and their summed wall time."""
    from lbgap.core.records import iter_records

    lines = []
    for net in ctx.nets:
        recs = [r for prof in ctx.record_profiles for r in iter_records(ctx.results_dir, prof, "gradnorm")
                if r["net"] == net and r["seed"] in ctx.seeds]
        if not recs:
            lines.append(f"**{net}**: no runs yet" + (" (GPU work: see *What is missing*)." if net != "F1" else "."))
            continue
        wall = sum(r["provenance"].get("wall_time_s") or 0 for r in recs)
        devices = sorted({r["provenance"].get("device", "?") for r in recs})
        lines.append(f"**{net}**: {len(recs)} runs: batch sizes {', '.join(f'{b:,}' for b in sorted({r['batch_size'] for r in recs}))}; "
                     f"LR rules {', '.join(sorted({r['rule'] for r in recs}))}; seeds "
                     f"{', '.join(map(str, sorted({r['seed'] for r in recs})))}; {', '.join(devices)}; "
                     f"{wall / 60:.0f} min of wall time in all.")
    return lines


def show_coverage(ctx: Context) -> None:
    verdict_lines(coverage(ctx))


def show_table(ctx: Context) -> None:
    import pandas as pd

    t = at_budgets(ctx)
    if t.empty:
        return
    for (net, budget), g in t.groupby(["net", "budget"], sort=False):
        rows = [{"B": f"{int(r.batch_size):,}", "LR": r.rule, "n": int(r.n), "steps": f"{r.steps:,}",
                 "‖∇f‖": sig(r.grad_full), "mean ‖∇f_B‖": sig(r.grad_minibatch), "‖x − x0‖": sig(r.dist),
                 "test loss": f"{r.test_loss:.3f}", "test acc. %": f"{100 * r.test_acc:.2f}"}
                for r in g.sort_values(["rule", "batch_size"]).itertuples()]
        show(pd.DataFrame(rows), f"{net}, {budget}: means over seeds at equal examples seen; ‖∇f‖ on "
             "10,000 training examples, mean ‖∇f_B‖ over the steps since the previous point — runs: "
             + run_set_words(ctx),
             f"gradnorm-{net}-{budget.split()[0]}")


TREND_WORDS = {"grad_minibatch": {"rises": "rises", "falls": "falls"}, "grad_full": {"rises": "rises", "falls": "falls"},
               "dist": {"rises": "larger batches go farther", "falls": "larger batches stay closer"}}


def budget_claims(ctx: Context) -> dict:
    """Per (network, rule, budget): the claims at that number of examples seen (:mod:`lbgap.book.claims`):
    Spearman trend with B over seed-level points of the mean mini-batch and the full-batch gradient norm and of
    ‖x − x0‖, and the test loss's optimum over B tested against the seed spread."""
    from lbgap.book import claims

    def make():
        p, out = points(ctx), {}
        for (net, rule), g in p.groupby(["net", "rule"], sort=False):
            for label, ex in budgets(g).items():
                at = g[g.examples == ex]
                if at.batch_size.nunique() < 3:
                    continue
                c = {m: claims.trend(at.batch_size, at[m], name=f"{net} {m} vs B") for m in TREND_WORDS}
                c["test_loss"] = claims.optimum(at, "batch_size", "test_loss", name=f"{net} test loss over B")
                out[net, rule, label] = c
        return out

    return ctx.memo("gradnorm-claims", make)


def _trend_words(c, m: str) -> str:
    e = c.estimate
    from lbgap.book.stats import signed

    return (f"{TREND_WORDS[m].get(c.verdict, c.verdict)} (Spearman ρ = {signed(e.value)}, p = {e.p:.2g}, n = {e.n} "
            "seed-level points)")


def optimum_words(c) -> str:
    """The test-loss optimum claim in words: an optimum at B, or a plateau from B = … to … (within one seed sd
    of the best)."""
    n, t = c.numbers, c.numbers["table"]
    best = f"lowest mean at B = {int(n['best']):,} ({t.loc[n['best'], 'mean']:.4f} ± {t.loc[n['best'], 'std']:.4f})"
    if c.verdict == "optimum":
        return best + (": an interior optimum, beyond the seed spread" if n["interior"] else
                       ": at the end of the range, beyond the seed spread")
    if c.verdict == "plateau":
        return (best + f"; a plateau, not an optimum: B = {', '.join(f'{int(b):,}' for b in n['plateau'])} lie within "
                "one seed sd of it")
    return best + f"; unresolved (fewer than {2} seeds at some B)"


def readings(ctx: Context) -> list[str]:
    """Verdicts on the three claims, per network and LR rule, at each budget of examples (:func:`budget_claims`),
    and the SB/LB distance ratio beside the paper's 3–10 and beside our Table 2 run set's per-seed range."""
    t = at_budgets(ctx)
    if t.empty:
        return []
    lines = []
    for (net, rule, budget), c in budget_claims(ctx).items():
        lines.append(
            f"**{net}, LR {rule}, {budget}.** (i) Mean mini-batch gradient norm against B: "
            f"{_trend_words(c['grad_minibatch'], 'grad_minibatch')}; the full-batch norm "
            f"{_trend_words(c['grad_full'], 'grad_full')}. (ii) ‖x − x0‖ against B: {_trend_words(c['dist'], 'dist')}. "
            f"(iii) Test loss: {optimum_words(c['test_loss'])}.")
    for (net, rule), g in t.groupby(["net", "rule"], sort=False):
        last = g[g.budget == g.budget.iloc[-1]].set_index("batch_size")
        if 256 in last.index and len(last) > 1:
            big = last.index.max()
            lines.append(f"**{net}, LR {rule}:** at the last budget B = 256 is {last.loc[256, 'dist'] / last.loc[big, 'dist']:.1f}× "
                         f"farther from x0 than B = {big:,}; Keskar et al. report 3–10× for their SB and LB end "
                         "points" + _table2_dist_words(ctx, net) + ".")
    return lines


def _table2_dist_words(ctx: Context, net: str) -> str:
    """", and the run set … SB/LB per seed lo–hi×" from Table 2's runs (sb_vs_lb.train_runs), or ""."""
    from lbgap.book import run_sets
    from lbgap.book.sb_vs_lb import train_runs

    r = train_runs(ctx)
    r = r[r.net == net] if not r.empty else r
    if r.empty:
        return ""
    sb, lb = (r[r.regime == k].set_index("seed").dist_from_init for k in ("SB", "LB"))
    ratio = (sb / lb).dropna()
    if ratio.empty:
        return ""
    key = run_sets.find("table2", net, str(r.profile.iloc[0]), str(r.tag.iloc[0])) if r.tag.nunique() == 1 else None
    where = run_sets.get(key).name if key else f"our Table 2 runs of {net}"
    return f", and the {where} SB/LB {ratio.min():.1f}–{ratio.max():.1f}× over {len(ratio)} seeds"


def show_readings(ctx: Context) -> None:
    lines = readings(ctx)
    if lines:
        verdict_lines(lines)


def answer_line(ctx: Context) -> str:
    """The front page's sentence: at the last equal budget of examples with the fixed LR, which gradient norm
    rises or falls with B (seed-level Spearman trends, :func:`budget_claims`) and why (fewer updates), the
    distance from x0 and the test loss's optimum or plateau ("" without records)."""
    t = at_budgets(ctx)
    if t.empty:
        return ""
    g = t[(t.rule == "fixed") & (t.budget == t.budget.iloc[-1])].sort_values("batch_size")
    key = next((k for k in budget_claims(ctx) if k[1] == "fixed" and k[2] == g.budget.iloc[0]), None) if len(g) else None
    if key is None:
        return ""
    c = budget_claims(ctx)[key]
    lo, hi = g.iloc[0], g.iloc[-1]
    full, mini = c["grad_full"].verdict, c["grad_minibatch"].verdict
    head = ("At equal examples seen and a fixed learning rate, a larger batch makes fewer updates: "
            + {"rises": "its full-batch gradient norm is larger", "falls": "its full-batch gradient norm is smaller",
               }.get(full, "no trend of the full-batch gradient norm is resolved") + ".")
    words = (f"**{head}** {key[0]}, {g.budget.iloc[0]}, Adam 10⁻³, {int(g.n.min())} seeds: the full-batch norm ‖∇f‖ "
             f"is {sig(lo.grad_full)} at B = {int(lo.batch_size):,} and {sig(hi.grad_full)} at B = "
             f"{int(hi.batch_size):,}, {_trend_words(c['grad_full'], 'grad_full')}, after {lo.steps:,} against "
             f"{hi.steps:,} updates; the mean mini-batch norm of the steps {_trend_words(c['grad_minibatch'], 'grad_minibatch')} "
             f"({sig(lo.grad_minibatch)} to {sig(hi.grad_minibatch)}{', as averaging more examples per step lowers it' if mini == 'falls' else ''}); "
             f"‖x − x0‖ {lo.dist:.1f} to {hi.dist:.1f}, {_trend_words(c['dist'], 'dist')}; test loss: "
             f"{optimum_words(c['test_loss'])}")
    q = t[(t.rule == "sqrt") & (t.budget == g.budget.iloc[0])].sort_values("batch_size")
    qc = budget_claims(ctx).get((key[0], "sqrt", g.budget.iloc[0]))
    if len(q) >= 2 and qc:
        words += (f". With the LR scaled by √(B/256) the distance is {q.iloc[0].dist:.1f} at B = "
                  f"{int(q.iloc[0].batch_size):,} and {q.iloc[-1].dist:.1f} at B = {int(q.iloc[-1].batch_size):,}, "
                  f"{_trend_words(qc['dist'], 'dist')}")
    return words + "."


def costs(ctx: Context):
    """The cost records (``studies.cost``) of the requested networks and seeds."""
    from lbgap.studies import cost

    def load():
        df = cost.table(ctx.results_dir, ctx.record_profiles)
        return df[df.net.isin(ctx.nets) & df.seed.isin(ctx.seeds)] if len(df) else df

    return ctx.memo("cost", load)


def show_cost_tables(ctx: Context) -> None:
    """Per network: time and memory per batch size (medians over seeds), then the test accuracy after a fixed
    number of steps (cost records) and after one and two epochs (the gradient-norm runs, fixed LR)."""
    import pandas as pd

    c = costs(ctx)
    if c.empty:
        verdict_lines(["No cost records (`lbgap sweep cost`)."])
        return
    t = at_budgets(ctx)
    for net, g in c.groupby("net", sort=False):
        machine = "; ".join(sorted(g.device.unique()))
        steps = int(g.steps.iloc[0])
        time_rows, acc_rows = [], []
        for b, h in g.groupby("batch_size"):
            gpu = h.cuda_max_allocated_mib.dropna()
            time_rows.append({"B": f"{int(b):,}", "n": len(h), "ms / step": f"{1e3 * h.seconds_per_step.median():.1f}",
                              "CPU ms / step": f"{1e3 * h.cpu_seconds_per_step.median():.1f}",
                              "samples / s": f"{h.samples_per_s.median():,.0f}",
                              "steps / epoch": f"{int(h.steps_per_epoch.iloc[0]):,}",
                              "s / epoch": f"{h.seconds_per_epoch.median():.1f}",
                              "peak RSS (MiB)": f"{h.peak_rss_mib.median():.0f}",
                              "GPU memory (MiB)": f"{gpu.median():.0f}" if len(gpu) else "not measured"})
            row = {"B": f"{int(b):,}", f"after {steps} steps": pm_over(100 * h.test_acc, "{:.2f}")}
            if not t.empty:
                for budget, k in t[(t.net == net) & (t.rule == "fixed") & (t.batch_size == b)].groupby("budget",
                                                                                                       sort=False):
                    row[f"after {budget.split('(')[-1].rstrip(')')}"] = f"{100 * k.test_acc.iloc[0]:.2f}"
            acc_rows.append(row)
        base = g.rss_before_mib.median()
        show(pd.DataFrame(time_rows), f"{net}: time and memory per batch size on {machine} (medians over seeds; s / "
             f"epoch = steps / epoch × s / step, training steps only; peak RSS of a process that does nothing else, "
             f"{base:.0f} MiB of it taken before the data are loaded) — runs: {cost_run_set_words(g)}", f"cost-{net}")
        show(pd.DataFrame(acc_rows).fillna("—"), f"{net}: test accuracy % after the same number of updates ({steps} "
             "steps, mean ± sd over seeds) and after the same number of examples (one and two epochs, Adam 10⁻³, "
             f"mean over seeds) — runs: {cost_run_set_words(g)}; {run_set_words(ctx)}", f"cost-acc-{net}")
        show_cost_figure(g, machine)


def show_cost_figure(g, machine: str) -> None:
    """Time per epoch, peak memory and test accuracy after the same number of steps against the batch size, for
    one network's cost records (medians over seeds), with the reading under it."""
    import matplotlib.pyplot as plt

    from lbgap.book.style import batch_axis

    m = g.groupby("batch_size").agg(sec=("seconds_per_epoch", "median"), rss=("peak_rss_mib", "median"),
                                    acc=("test_acc", "median"), n=("seed", "nunique"))
    fig, axes = plt.subplots(3, 1, figsize=(6.8, 7.0), sharex=True)
    axes[0].plot(m.index, m.sec, "o-")
    axes[0].set(yscale="log", ylabel="seconds per epoch")
    axes[1].plot(m.index, m.rss, "o-", color="C2")
    axes[1].set(ylabel="peak RSS (MiB)")
    axes[2].plot(m.index, 100 * m.acc, "o-", color="C3")
    axes[2].set(xscale="log", xlabel="batch size B", ylabel=f"test acc. after {int(g.steps.iloc[0])} steps (%)")
    batch_axis(axes[2], m.index)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fast = m.sec.idxmin()
    lo, hi = m.index.min(), m.index.max()
    seeds = m.n.min() if m.n.min() == m.n.max() else f"{m.n.min()}–{m.n.max()}"
    show_figure(fig, f"{g.net.iloc[0]}: time per epoch, peak memory and test accuracy after the same number of "
                f"updates against the batch size ({machine}; medians over {seeds} seeds, the batch sizes interleaved "
                f"seed by seed) — runs: {cost_run_set_words(g)}",
                f"an epoch is fastest at B = {fast:,} ({m.sec[fast]:.2g} s, against {m.sec[lo]:.2g} s at B = {lo:,}); "
                f"memory grows from {m.rss[lo]:.0f} to {m.rss[hi]:.0f} MiB and, after the same number of updates, "
                f"the test accuracy from {100 * m.acc[lo]:.2f} to {100 * m.acc[hi]:.2f} % at B = {hi:,}.")


def gradnorm_trends(ctx, net: str = "F1", rule: str = "fixed") -> dict:
    """At the last equal budget of examples of the gradient-norm sweep: :func:`trend` of the full-batch and the
    mean mini-batch gradient norm and of ‖x − x0‖ with B over seed-level points, and :func:`optimum` of the test
    loss over B. {} without records."""
    from lbgap.book import gradient_norm

    p = gradient_norm.points(ctx)
    p = p[(p.net == net) & (p.rule == rule)]
    if p.empty:
        return {}
    last = int(p.groupby(["seed", "batch_size"]).examples.max().min())
    at = p[p.examples == last]
    if at.batch_size.nunique() < 3:
        return {}
    out = {m: claims.trend(at.batch_size, at[m], name=f"{net} {m} vs B") for m in ("grad_full", "grad_minibatch", "dist")}
    out["test_loss"] = claims.optimum(at, "batch_size", "test_loss", name=f"{net} test loss over B")
    for c in out.values():
        c.numbers.update(examples=last, seeds=sorted(at.seed.unique()))
    return out
