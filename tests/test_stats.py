"""lbgap.book.stats: the book's statistics against values computed by hand."""
from __future__ import annotations

import math

import pytest

from lbgap.book import stats


def test_paired_t_interval_matches_the_hand_computed_one():
    # differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.3027
    e = stats.paired({0: 11.0, 1: 12.0, 2: 13.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    half = 4.302652729911275 / math.sqrt(3)
    assert (e.value, e.n, e.sd) == (2.0, 3, 1.0)
    assert e.ci == pytest.approx((2 - half, 2 + half)) and not e.resolved   # the interval holds 0


def test_paired_uses_only_shared_seeds_and_gives_no_interval_for_one():
    e = stats.paired({0: 1.0, 5: 3.0}, {0: 0.5, 1: 9.0})
    assert e.n == 1 and e.value == 0.5 and math.isnan(e.ci[0]) and not e.resolved
    assert e.interval_words() == "n = 1, no interval"


def test_welch_against_scipy_and_signed_words():
    e = stats.welch([1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0])
    assert e.value == pytest.approx(-3.0) and e.ci[0] < -3 < e.ci[1] and e.extra == dict(n_a=3, n_b=4)
    assert "−" in e.interval_words() and "-" not in e.interval_words()


def test_slope_recovers_a_line_and_spearman_a_monotone_trend():
    s = stats.slope([0, 1, 2, 3, 4], [1.0, 3.1, 4.9, 7.0, 9.0])
    assert s.value == pytest.approx(1.99, abs=0.02) and s.ci[0] < 1.99 < s.ci[1]
    r = stats.spearman([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1])
    assert r.value == pytest.approx(-1.0) and r.p < 0.01


def test_spearman_by_group_leaves_each_group_out():
    x = [1, 2, 3, 4, 10, 11]
    y = [5, 4, 3, 2, 0, -1]
    r = stats.spearman_by_group(x, y, ["a", "a", "b", "b", "c", "c"])
    assert set(r["leave_out"]) == {"a", "b", "c"} and r["leave_out"]["c"].n == 4 and r["medians"].n == 3


def test_bootstrap_is_reproducible_and_brackets_the_value():
    a, b = [2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 2.9, 4.1]
    e1 = stats.bootstrap((a, b), lambda x, y: x.mean() / y.mean(), paired_samples=True)
    e2 = stats.bootstrap((a, b), lambda x, y: x.mean() / y.mean(), paired_samples=True)
    assert e1.ci == e2.ci and e1.ci[0] <= e1.value <= e1.ci[1]


def test_holm_adjusts_step_down():
    assert stats.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})
