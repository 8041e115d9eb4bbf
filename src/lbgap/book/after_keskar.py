"""What came after Keskar et al. (2017): each later result's claim on the gap or on sharpness, its headline as the
paper states it, and our measurement of the same thing read from the records by the chapters' own functions."""
from __future__ import annotations

from lbgap.book.context import Context


def spearman_ci(x, y, n_boot: int = 2000, seed: int = 0):
    """Spearman's ρ of ``x`` and ``y`` with a 95 % percentile bootstrap interval (resampling pairs)."""
    import numpy as np
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    rho = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if len(set(x[i])) > 1 and len(set(y[i])) > 1:
            boots.append(spearmanr(x[i], y[i]).statistic)
    lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if boots else (float("nan"), float("nan"))
    return rho, (float(lo), float(hi)), len(x)


def interval_word(lo: float, hi: float, n: int, pos: str, neg: str) -> str:
    """The rule for a 95 % interval: ``pos`` when it lies above 0, ``neg`` below, else "unresolved (n = …)"."""
    if lo > 0:
        return pos
    if hi < 0:
        return neg
    return f"unresolved (n = {n})"


def numbers(ctx: Context) -> dict:
    """Our measurements that the later papers speak to, each from the chapter that defends it."""
    import numpy as np

    from lbgap.book import batch_vs_iterations, followups, front
    from lbgap.measures import sharpness

    out = {"answer": front.answer_numbers(ctx)}
    fu = followups.key_numbers(front.chapter_context(ctx, "followups"))
    out["followups"] = fu
    arms = [a for a, v in fu.items() if a != "sb" and v["phi"] == v["phi"]]
    if len(arms) >= 3:
        out["phi_gap"] = spearman_ci([fu[a]["phi"] for a in arms], [fu[a]["gap"] for a in arms])
    import pandas as pd

    dn = pd.concat([pd.DataFrame()] + [sharpness.dinh_table(ctx.results_dir, p) for p in ctx.record_profiles],
                   ignore_index=True)
    if len(dn):
        out["dinh"] = dict(phi_min=dn.phi.min(), phi_max=dn.phi.max(), alpha_max=dn.alpha.max(),
                           acc_spread=dn.test_acc.max() - dn.test_acc.min(), run=dn.run.iloc[0])
    bctx = front.chapter_context(ctx, "batch_vs_iterations")
    tuned = batch_vs_iterations.tuned(bctx) if len(batch_vs_iterations.runs(bctx)) else pd.DataFrame()
    adam = tuned[tuned.optimizer == "adam"] if len(tuned) and "optimizer" in tuned else tuned.iloc[0:0]
    if len(adam) and adam.batch_size.nunique() >= 2:
        lo, hi = adam.batch_size.min(), adam.batch_size.max()
        a, b = 100 * adam[adam.batch_size == lo].test_acc, 100 * adam[adam.batch_size == hi].test_acc
        from lbgap.book.stats import welch

        e = welch(b, a)
        out["tuned"] = dict(b_lo=int(lo), b_hi=int(hi), diff=e.value, ci=e.ci, n=e.n)
        lrs = adam.groupby("batch_size").lr.first()
        slope = np.polyfit(np.log(lrs.index.astype(float)), np.log(lrs.values), 1)[0]
        out["lr_slope"] = dict(slope=float(slope), n=len(lrs), lr_lo=float(lrs.iloc[0]), lr_hi=float(lrs.iloc[-1]),
                               b_lo=int(lrs.index[0]), b_hi=int(lrs.index[-1]))
    return out


def rows(ctx: Context):
    """One row per later paper: its claim, its headline as stated, ours (from :func:`numbers`), and the word."""
    import pandas as pd

    from lbgap.book import claims

    n = numbers(ctx)
    a, fu = n["answer"], n["followups"]
    out = []
    g = a.get("gap")
    if g and g.get("claim") is not None:
        c = g["claim"]
        out.append(dict(paper="Keskar et al. 2017", claim="LB tests worse than SB at equal epochs (F1 row of Table 2)",
                        headline=f"F1 gap {c.numbers['paper']:.2f} pt",
                        ours=f"F1 gap SB − LB paired by seed {c.stat()}, paper protocol", word=c.verdict))
    d = n.get("dinh")
    if d:
        out.append(dict(paper="Dinh et al. 2017", claim="ε-sharpness is not invariant to reparametrisation: rescaled "
                        "ReLU layers give the same function with another sharpness",
                        headline="a construction, no number: φ changes while the function does not",
                        ours=f"φ from {d['phi_min']:.3g} to {d['phi_max']:.3g} over rescalings up to α = "
                             f"{d['alpha_max']:g} of {d['run']}; test accuracy spread {d['acc_spread']:.2g}",
                        word="agrees" if d["phi_max"] > claims.threshold("reparam_factor") * d["phi_min"]
                        and d["acc_spread"] == 0 else "unresolved"))
    pg = n.get("phi_gap")
    if pg:
        rho, (lo, hi), k = pg
        ours = f"Spearman ρ(φ, gap) over {k} remedy arms on F1 = {rho:.2f} (95 % CI {lo:.2f} to {hi:.2f})"
        out.append(dict(paper="Jiang et al. 2020", claim="sharpness-based measures are among the best predictors "
                        "of generalization", headline="over 10,000 convolutional networks trained",
                        ours=ours, word=interval_word(lo, hi, k, "agrees", "disagrees")))
        out.append(dict(paper="Andriushchenko et al. 2023", claim="even adaptive sharpness correlates poorly with "
                        "generalization and follows hyper-parameters such as the learning rate",
                        headline="no consistent sign of the correlation across settings (no single number)",
                        ours=ours + (f"; LR × k with warm-up: φ {fu['lr-linear']['phi']:.3g} against plain LB "
                                     f"{fu['lb']['phi']:.3g}" if {'lr-linear', 'lb'} <= set(fu) else ""),
                        word=interval_word(lo, hi, k, "disagrees", "disagrees") if lo > 0 or hi < 0
                        else f"agrees: no resolved correlation (n = {k})"))
    t = n.get("tuned")
    if t:
        lo, hi = t["ci"]
        out.append(dict(paper="Shallue et al. 2019", claim="once the learning rate is tuned per batch size, larger "
                        "batches do not degrade out-of-sample performance", headline="batch sizes up to 65,536; "
                        "no evidence of degradation",
                        ours=f"F1, Adam at the tuned lr, stopped at the target: test accuracy B = {t['b_hi']:,} minus "
                             f"B = {t['b_lo']:,} = {t['diff']:+.2f} pt (Welch, 95 % CI {lo:+.2f} to {hi:+.2f}, n = {t['n']}); every run "
                             "stops at the same validation accuracy, so this only says the test accuracy follows it; "
                             "the test at the paper's protocol is the chapter Tuned learning rate",
                        word=interval_word(lo, hi, t["n"], "larger batch tests higher", "larger batch tests lower")))
    s = n.get("lr_slope")
    if s:
        out.append(dict(paper="Smith & Le 2018", claim="the SGD noise scale is g ≈ εN/B, so the best learning rate "
                        "grows in proportion to the batch at fixed noise", headline="B_opt ∝ εN",
                        ours=f"F1, Adam: tuned lr {s['lr_lo']:.2g} at B = {s['b_lo']:,} and {s['lr_hi']:.2g} at "
                             f"B = {s['b_hi']:,}; log-log slope {s['slope']:.2f} over {s['n']} batch sizes",
                        word=(f"grows with B, but as B^{s['slope']:.2f} (proportional would be B^1)" if s["slope"] > 0
                              else "does not grow with B")))
    if {"lr-sqrt", "lr-linear"} <= set(fu):
        b = a.get("gap") or {}
        kappa = b.get("b_lb", 6000) / b.get("b_sb", 256)
        out.append(dict(paper="Malladi et al. 2022", claim="square-root scaling rule for Adam: lr × √κ, 1 − β → "
                        "κ(1 − β), ε / √κ", headline="the rule keeps Adam's SDE unchanged when the batch grows κ-fold",
                        ours=f"κ = {kappa:.1f}: β₁ = 1 − κ·0.1 = {1 - kappa * 0.1:.2f} < 0, so the rule cannot be "
                             f"applied as stated; lr × √κ alone: gap {fu['lr-sqrt']['gap']:+.2f} pt "
                             f"(n = {fu['lr-sqrt']['n']}) against lr × κ {fu['lr-linear']['gap']:+.2f} pt",
                        word="not testable as stated"))
    return pd.DataFrame(out)


def run_sets_words(ctx: Context) -> str:
    """The run sets the rows read (:mod:`lbgap.book.run_sets`): F1's Table 2 gap, the Dinh rescaling of the 50-epoch
    variant, the GPU follow-up arms and the steps-to-target study."""
    from lbgap.book import run_sets

    return run_sets.runs("F1-table2", "F1-50epoch", "F1-gpu-bf16", "F1-steps")


def show_rows(ctx: Context) -> None:
    from lbgap.book.style import show_table

    show_table(rows(ctx).rename(columns={"headline": "their headline", "word": "our reading"}),
               "Later results on the generalization gap and on sharpness, beside our measurements", "after-keskar",
               runs=run_sets_words(ctx),
               wrap=("paper", "claim", "their headline", "ours", "our reading"))
