"""lbgap.book.run_sets: the named run sets select their records, and their labels are true of the committed
records (precision)."""
from __future__ import annotations

import pandas as pd
import pytest

from lbgap.book import run_sets
from lbgap.core.records import iter_records, store_root


def test_select_by_tag_and_prefix():
    t = pd.DataFrame(dict(net=["F1"] * 4 + ["C1"], profile=["paper"] * 4 + ["quick"],
                          tag=["uncapped", "", "fu-sb", "fu-lb", ""], seed=[0, 0, 0, 0, 0]))
    assert list(run_sets.select("F1-table2", t).tag) == ["uncapped"]
    assert list(run_sets.select("F1-gpu-bf16", t).tag) == ["fu-sb", "fu-lb"]
    assert list(run_sets.select("F1-50epoch", t).tag) == [""] and len(run_sets.select("C1-quick", t)) == 1


def test_labels_count_seeds_and_unknown_sets_fail_loudly():
    assert run_sets.label("F1-table2", [0, 1, 2, 3, 4]).endswith("seeds 0–4")
    assert run_sets.seeds_words([0, 2]) == "seeds 0, 2" and run_sets.seeds_words([]) == "no seeds"
    with pytest.raises(KeyError, match="unknown run set"):
        run_sets.get("nope")


@pytest.mark.parametrize("key", ["F1-table2", "F1-gpu-bf16", "F1-50epoch", "F1-cpu-fu"])
def test_the_committed_records_have_the_precision_their_set_names(key):
    s = run_sets.get(key)
    recs = [r for r in iter_records(store_root(None), s.profile, "train")
            if r["config"].get("net") == s.net and s.has_tag(r["config"].get("tag") or "")]
    if not recs:
        pytest.skip("no committed records of this run set")
    assert run_sets.check_precision(key, recs) == []
    assert run_sets.check_precision("F1-table2" if key == "F1-gpu-bf16" else "F1-gpu-bf16", recs) != []


def test_find_names_the_set_a_table_reads_and_describe_counts_its_seeds():
    assert run_sets.find("table2", "F1", "paper", "uncapped") == "F1-table2"
    assert run_sets.find("table2", "F1", "paper", "") == "F1-50epoch"          # the variant, labelled as one
    assert run_sets.find("table2", "F2", "quick", "") == "F2-quick-stored"     # Table 2 keeps one evaluation order
    assert run_sets.find("sharpness", "F2", "quick") == "F2-quick"
    assert run_sets.find("fig4", "C1", "quick") is None
    df = pd.DataFrame(dict(net=["F1", "F1", "C3"], profile=["quick", "quick", "paper"], seed=[0, 2, 1]))
    words = run_sets.describe("fig4", df)
    assert words.startswith(run_sets.label("F1-fig4", [0, 2])) and "C3, paper profile (not in the run-set registry)" in words
    assert run_sets.caption("Figure 4", ("F1-fig4", [0, 1, 2])) == "Figure 4 — runs: " + run_sets.label("F1-fig4", [0, 1, 2])
    assert run_sets.short("F1-50epoch") == "F1 50-epoch variant"


def test_every_name_and_short_name_is_unique():
    names = run_sets.names()
    assert len(set(names)) == len(names)
    shorts = [run_sets.short(k) for k in run_sets.RUN_SETS]
    assert len(set(shorts)) == len(shorts)   # a table cell's short name tells the sets apart


def test_a_replicate_suffix_keeps_the_follow_up_sets_apart():
    gpu, cpu = run_sets.get("F1-gpu-bf16"), run_sets.get("F1-cpu-fu")
    assert gpu.has_tag("fu-ghost") and not gpu.has_tag("fu-ghost+cpu") and not gpu.has_tag("fu-sam-0.05+val")
    assert cpu.has_tag("fu-ghost+cpu") and cpu.has_tag("uncapped") and not cpu.has_tag("fu-ghost")
    assert run_sets.get("F1-tlr-grid").has_tag("tlr-x16") and run_sets.get("F1-tlr-final").has_tag("uncapped")
