"""lbgap.book.claims: each rule on known data, on contrary records (the verdict flips) and on too few seeds
("unresolved"); and the book's claims read from hand-made records."""
from __future__ import annotations

import pandas as pd
import pytest
from book_records import three_f1_pairs, train_record

from lbgap.book import claims
from lbgap.book.remedies import conservative
from lbgap.book.sb_vs_lb import table2_gap

SB = {0: 98.3, 1: 98.2, 2: 98.1}


def test_every_threshold_has_a_reason():
    assert all(t.reason and t.value == t.value for t in claims.THRESHOLDS.values())


def test_gap_vs_paper_reproduced_flips_to_reversed_and_to_unresolved():
    lb = {0: 97.3, 1: 97.3, 2: 97.0}                       # gaps 1.0, 0.9, 1.1: CI ~ [0.75, 1.25]
    assert claims.gap_vs_paper(SB, lb, 1.0).verdict == "reproduced"
    assert claims.gap_vs_paper(SB, lb, 3.0).verdict == "sign reproduced"
    assert claims.gap_vs_paper(lb, SB, 1.0).verdict == "reversed"                 # contrary records
    assert claims.gap_vs_paper({0: 98.3}, {0: 97.3}, 1.0).verdict == "unresolved"   # one seed
    c = claims.gap_vs_paper(SB, {0: 98.0, 1: 98.4, 2: 97.9}, 0.2)                 # gaps 0.3, -0.2, 0.2
    assert c.verdict == "unresolved" and c.words().startswith("unresolved (n = 3, 95 % CI −")


def test_arm_vs_baselines_each_word():
    lb = {0: 97.8, 1: 97.9, 2: 97.7}
    delta = claims.margin(SB.values()).value
    assert delta == pytest.approx(0.1)
    up = {s: v + 0.5 for s, v in SB.items()}
    assert claims.arm_vs_baselines({s: v + 0.5 + 0.01 * s for s, v in SB.items()}, SB, lb, delta).verdict == "beats SB"
    same = {0: 98.3, 1: 98.21, 2: 98.09}
    assert claims.arm_vs_baselines(same, SB, lb, delta).verdict == "closes the gap"
    mid = {0: 98.05, 1: 98.1, 2: 97.95}
    assert claims.arm_vs_baselines(mid, SB, lb, delta).verdict == "narrows the gap"
    low = {s: v - 0.5 - 0.01 * s for s, v in lb.items()}
    assert claims.arm_vs_baselines(low, SB, lb, delta).verdict == "widens the gap"
    assert claims.arm_vs_baselines({0: up[0], 1: up[1]}, {0: 98.3}, {0: 97.8}, delta).verdict == "unresolved"
    below = {0: 97.9, 1: 97.81, 2: 97.72}                   # 0.4 under SB on every seed, LB's level: vs LB noisy
    assert claims.arm_vs_baselines(below, SB, {0: 97.7, 1: 98.0, 2: 97.5}, delta).verdict == "stays below SB"


def test_sharper_stall_and_flip():
    sb, lb = {s: 1.0 + 0.1 * s for s in range(5)}, {s: 80.0 + 5 * s for s in range(5)}
    assert claims.sharper(lb, sb).verdict == "LB sharper"
    assert claims.sharper(sb, lb).verdict == "LB flatter"
    assert claims.sharper(lb, sb, {s: 0.001 for s in range(5)}).verdict == "solver stall"
    assert claims.sharper({0: 80.0, 1: 90.0}, {0: 1.0, 1: 1.1}).verdict == "unresolved"   # two seeds


def test_trend_and_optimum_and_correlation():
    b = [16, 16, 64, 64, 256, 256, 1024, 1024]
    assert claims.trend(b, [1, 1.1, 2, 2.1, 3, 3.1, 4, 4.1]).verdict == "rises"
    assert claims.trend(b, [4, 4.1, 3, 3.1, 2, 2.1, 1, 1.1]).verdict == "falls"
    assert claims.trend(b, [1, 4, 2, 3, 3, 2, 4, 1]).verdict == "no trend resolved"
    df = pd.DataFrame(dict(B=b, seed=[0, 1] * 4, loss=[1.0, 1.02, 0.5, 0.52, 0.9, 0.92, 1.2, 1.22]))
    o = claims.optimum(df, "B", "loss")
    assert (o.verdict, o.numbers["best"], o.numbers["interior"]) == ("optimum", 64, True)
    noisy = df.assign(loss=[1.0, 1.2, 0.5, 1.1, 0.9, 0.6, 1.2, 1.22])
    assert claims.optimum(noisy, "B", "loss").verdict == "plateau"
    x = list(range(12))
    strong = claims.correlation(x, [-v for v in x], ["a", "b", "c"] * 4)
    assert strong.verdict == "resolved"
    carried = claims.correlation([0, 1, 2, 3, 20, 21], [1, 2, 1, 2, -5, -6], ["a", "a", "b", "b", "c", "c"])
    assert carried.verdict in ("not robust", "no correlation resolved")


def test_status_word_rules():
    assert claims.status_word(False).verdict == "not run"
    assert claims.status_word(True, ["reproduced"], {"F1"}, {"F1"}).verdict == "reproduced"
    assert claims.status_word(True, ["reproduced"], {"F1"}, {"F1", "C1"}).verdict == "partly"
    assert claims.status_word(True, ["reversed"], {"F1"}, {"F1"}).verdict == "not reproduced"
    assert claims.status_word(True, ["unresolved"], {"F1"}, {"F1"}).verdict == "partly"


def test_table2_gap_from_records_and_its_contrary(tmp_path):
    ctx = three_f1_pairs(tmp_path)          # SB 98, 99, 100 %; LB 95, 96, 97 %: gap 3.00 on every seed
    c = table2_gap(ctx)
    assert (c.verdict, c.n, c.estimate.value) == ("sign reproduced", 3, pytest.approx(3.0))   # paper: 0.22
    for s, acc in enumerate((0.99, 1.0, 1.0)):   # contrary: LB now above SB on every seed
        train_record(tmp_path, "F1", "LB", s, 1.0, acc + 0.005 * s, 10.0)
    assert table2_gap(type(ctx)(**{k: getattr(ctx, k) for k in
                                          ("profile", "results_dir", "record_profiles", "run", "device", "seeds",
                                           "nets")})).verdict == "reversed"


def _tagged(tmp_path, seed, test_acc, tag):
    """A copy of the plain LB record of ``seed`` with config tag ``tag`` and test accuracy ``test_acc``."""
    from lbgap.core import records

    path = records.record_path(tmp_path, "paper", "train", f"F1-mnist-official-b6000-s{seed}")
    rec = records.read_json(path)
    rec["run_id"] += f"-{tag}"
    rec["config"]["tag"] = tag
    rec["final"]["test_acc"] = test_acc
    records.atomic_write_json(path.with_name(rec["run_id"] + ".json"), rec)


def test_conservative_from_records_flips_and_is_unresolved_with_one_seed(tmp_path):
    from lbgap.book.context import context

    three_f1_pairs(tmp_path)                                  # plain LB 0.95, 0.96, 0.97
    for s, (cons, ctl) in enumerate([(0.952, 0.9501), (0.9621, 0.9602), (0.9719, 0.9701)]):
        _tagged(tmp_path, s, cons, "conservative")
        _tagged(tmp_path, s, ctl, "repeat3")
    k = conservative(context("results", tmp_path, seeds="0-4", nets="F1"))
    assert k["conservative"].verdict == "improves" and k["conservative"].n == 3
    assert k["conservative"].estimate.value == pytest.approx((0.2 + 0.21 + 0.19) / 3)
    assert k["proximal"].verdict == "improves"                # conservative above its control on every seed
    for s, acc in enumerate((0.948, 0.9579, 0.9681)):         # contrary: below plain LB on every seed
        _tagged(tmp_path, s, acc, "conservative")
    assert conservative(context("results", tmp_path, seeds="0-4", nets="F1"))["conservative"].verdict == "worsens"
    one = conservative(context("results", tmp_path, seeds="0", nets="F1"))
    assert one["conservative"].verdict == "unresolved" and one["conservative"].n == 1


def test_inside_range_agrees_disagrees_and_waits_for_a_complete_range():
    from lbgap.book.stats import Estimate

    e = Estimate(0.5, 9, (0.4, 0.6), float("nan"), "slope")
    assert claims.inside_range(e, 0.55, 1.0).verdict == "agrees"
    assert claims.inside_range(e, -0.2, 0.2).verdict == "disagrees"
    assert claims.inside_range(e, -0.2, 0.2, complete=False).verdict == "unresolved"
    assert claims.inside_range(Estimate(0.5, 1, (float("nan"),) * 2, float("nan"), "slope"), 0, 1).verdict == "unresolved"


def test_eigen_label_names_each_method_in_table_words():
    from lbgap.book.claims import eigen_label, power_iteration_cap
    from lbgap.measures import hessian

    cap = power_iteration_cap()
    assert eigen_label(None) == "—"
    assert eigen_label({"method": hessian.METHOD, "converged": True}) == "Lanczos, converged"
    assert eigen_label({"method": hessian.METHOD, "converged": False}) == "Lanczos, not converged"
    assert eigen_label({"method": "power iteration", "iterations": cap}) == (
        f"power iteration, not converged (stopped at the {cap}-iteration cap)")
    assert eigen_label({"iterations": cap - 1}) == "power iteration"
    assert eigen_label({"method": "dense eigh"}) == "dense eigh"


def test_eigen_method_flags_only_a_power_iteration_at_its_cap():
    from lbgap.book.claims import eigen_method, power_iteration_cap
    from lbgap.measures import hessian

    cap = power_iteration_cap()
    assert eigen_method({"method": "power iteration", "iterations": cap}) == ("power iteration", True)
    assert eigen_method({"method": "power iteration", "iterations": cap - 1}) == ("power iteration", False)
    assert eigen_method({"method": hessian.METHOD, "converged": False, "iterations": 10 * cap}) == (
        "Lanczos, not converged", False)
    assert eigen_method(None) == ("—", False)
