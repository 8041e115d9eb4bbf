"""The box at each chapter's opening: its verdicts, one sentence each, read from the chapter's own functions (the
status table's row where a chapter has no verdict function yet), rendered by :func:`lbgap.book.style.verdict_box`."""
from __future__ import annotations

from lbgap.book.context import Context

STATUS_ITEMS = {"threshold": ("Figure 4 batch sweep",), "warmstart": ("Figure 5 warm start",),
                "trajectory": ("Figure 6 sharpness vs loss",), "remedies": ("Table 7 conservative", "Table 6 augmentation"),
                "parametric": ("Figure 3 SB–LB line", "Figure 7 curved path"),
                "gradient_noise": ("Gradient noise",), "batch_vs_iterations": ("Steps to target, B_crit",),
                "regression": ("Huge-N regression",), "sb_vs_lb": ("Table 2 SB vs LB accuracy",),
                "sharpness": ("Table 3 ε-sharpness", "Table 4 sharpness, subspace"),
                "gradient_norm": ("Gradient norm and ‖x − x0‖ vs B",),
                "followups": ("Remedies after Keskar (Goyal, Hoffer, SAM)",)}


def status_lines(ctx: Context, chapter: str) -> list[str]:
    """The status table's rows for ``chapter``: "item: status (networks by profile; n seeds)"."""
    from lbgap.book import status

    t = status.status(ctx).set_index("item")
    out = []
    for item in STATUS_ITEMS.get(chapter, ()):
        if item in t.index:
            r = t.loc[item]
            out.append(f"**{item}**: {r['status']} ({r['networks_by_profile']}; seeds: {r['seeds']})")
    return out


def verdicts(ctx: Context, chapter: str) -> list[str]:
    """The chapter's verdict sentences from its own functions, after its status lines."""
    lines = status_lines(ctx, chapter)
    if chapter == "sb_vs_lb":
        from lbgap.book import front

        lines += [f"**{r.network}**: {r.verdict}" for r in front.headline(ctx).itertuples()
                  if isinstance(r.verdict, str) and r.ours_test_sb_lb != "—"]
    elif chapter == "sharpness":
        import pandas as pd

        from lbgap.book import sharpness

        v = pd.concat([sharpness.verdicts(ctx, 3, objective="sum", name="3, summed loss"),
                       sharpness.verdicts(ctx, 4)], ignore_index=True)
        lines += [f"Table {r.table}, **{r.network}** ε = {r.eps}: LB/SB {r.ours_lb_sb_ci} (n = {r.n}; "
                  f"paper {r.paper_lb_sb}): {r.verdict}" for r in v.itertuples() if r.eps in ("1e-3", "0.001", 1e-3)]
    elif chapter == "parametric":
        from lbgap.book import parametric

        lines += parametric.path_reading(ctx, "linear")
    elif chapter == "gradient_norm":
        from lbgap.book import gradient_norm

        lines += gradient_norm.readings(ctx)
    elif chapter == "followups":
        from lbgap.book import followups

        lines += followups.readings(ctx)
    elif chapter == "regression":
        from lbgap.book import regression

        lines += regression.key_numbers(ctx.results_dir, regression.record_profile(ctx))
    elif chapter in ("batch_vs_iterations", "gradient_noise", "remedies"):
        from lbgap.book import front

        a = front.answer_numbers(ctx)
        key = {"batch_vs_iterations": "steps", "gradient_noise": "noise", "remedies": "conservative"}[chapter]
        v = a.get(key)
        if v and chapter == "batch_vs_iterations":
            lines.append(f"F1, Adam at the tuned lr: critical batch B_crit ≈ {v['b_crit']:,.0f} (95 % CI "
                         f"{v['ci'][0]:,.0f}–{v['ci'][1]:,.0f}, {v['runs']} runs)")
        elif v and chapter == "gradient_noise":
            lines.append(f"F1: B_simple {v['init']:,.0f} at initialisation, {v['b_simple']:,.0f} where the small "
                         f"batch reaches the target (95 % CI {v['ci'][0]:,.0f}–{v['ci'][1]:,.0f})")
        elif v:
            lines.append(f"F1 (50-epoch variant): conservative training against plain LB of the same seed "
                         f"{v['conservative'].words()}" + (f"; its control without the proximal term "
                                                          f"{v['control'].words()}" if "control" in v else ""))
    return lines


def show(ctx: Context, chapter: str):
    """The verdict box of ``chapter`` (:func:`lbgap.book.style.verdict_box`)."""
    from lbgap.book.style import verdict_box

    return verdict_box("Verdicts of this chapter", verdicts(ctx, chapter))
