"""core/memory.py: a fresh child reports its own peak, not its parent's; errors come back; thread variables."""
from __future__ import annotations

import os
import resource
import sys

import numpy as np
import pytest

from lbgap.core import memory

MIB = 2**20


def _small_child() -> dict:
    """What a tiny child sees: its own peak (VmHWM) and ru_maxrss, which Linux carries over from the parent."""
    return dict(own=memory.peak_rss_bytes(), maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                threads=os.environ.get("OMP_NUM_THREADS"))


def _allocating_child(mib: int) -> int:
    a = np.ones(mib * MIB // 8)      # touched: resident
    return int(a.sum())


def _failing_child():
    raise ValueError("steps=3 must be larger than warmup=5")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_a_tiny_child_of_a_big_parent_reports_a_small_peak():
    big = np.ones(400 * MIB // 8)            # the parent's peak rises by 400 MiB
    big[::512] += 1.0
    parent = memory.peak_rss_bytes()
    assert parent >= 400 * MIB
    seen, mem = memory.in_fresh_process(_small_child, threads=1)
    # the child's own peak: an interpreter with numpy and this test module, far below the parent's 400+ MiB
    assert seen["own"] < 200 * MIB and mem["peak_rss_bytes"] < 200 * MIB
    assert mem["start_peak_rss_bytes"] <= mem["peak_rss_bytes"] and mem["memory_method"] == "VmHWM"
    # ru_maxrss, read in the same child, reports the parent's peak: why the helper does not use it
    assert seen["maxrss"] >= 400 * MIB
    assert seen["threads"] == "1"
    del big


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_the_childs_peak_grows_with_what_it_allocates():
    _, small = memory.in_fresh_process(_allocating_child, 1)
    _, large = memory.in_fresh_process(_allocating_child, 200)
    assert 180 * MIB <= large["peak_rss_bytes"] - small["peak_rss_bytes"] <= 240 * MIB


def test_an_error_in_the_child_is_raised_in_the_parent_and_variables_are_restored():
    before = {k: os.environ.get(k) for k in memory.THREAD_VARIABLES}
    with pytest.raises(ValueError, match="steps=3 must be larger than warmup=5"):
        memory.in_fresh_process(_failing_child)
    assert {k: os.environ.get(k) for k in memory.THREAD_VARIABLES} == before
    with pytest.raises(ValueError, match="threads=0 must be at least 1"):
        memory.in_fresh_process(_small_child, threads=0)
    assert memory.rss_bytes() is None or memory.rss_bytes() <= memory.peak_rss_bytes()
