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


@pytest.mark.parametrize("key", ["F1-table2", "F1-gpu-bf16", "F1-50epoch"])
def test_the_committed_records_have_the_precision_their_set_names(key):
    s = run_sets.get(key)
    recs = [r for r in iter_records(store_root(None), s.profile, "train")
            if r["config"].get("net") == s.net and s.has_tag(r["config"].get("tag") or "")]
    if not recs:
        pytest.skip("no committed records of this run set")
    assert run_sets.check_precision(key, recs) == []
    assert run_sets.check_precision("F1-table2" if key == "F1-gpu-bf16" else "F1-gpu-bf16", recs) != []
