"""The named run sets: one per claim, so that every page shows the same runs for the same claim and a variant is
labelled as one (see ``notes``: evidence conventions). A run set is fixed by its definition (network, record
profile, config tag, protocol, precision, device); its seeds and n are counted from the records, never typed."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSet:
    key: str
    name: str            # the words a caption or a sentence prints
    net: str
    profile: str         # record profile
    tags: tuple[str, ...]   # config tags of its training runs ("" untagged; "fu-" a prefix)
    precision: str       # training precision the records' provenance states
    device: str          # "cpu" or "gpu"
    variant: bool = False   # a variant of a protocol, labelled as such wherever it appears

    def has_tag(self, tag: str) -> bool:
        return any(tag == t or (t.endswith("-") and tag.startswith(t)) for t in self.tags)


RUN_SETS = {s.key: s for s in (
    RunSet("F1-table2", "F1 Table 2: paper protocol (SB ≤ 100, LB ≤ 300 epochs), uncapped, float32 CPU",
           "F1", "paper", ("uncapped",), "float32", "cpu"),
    RunSet("F1-50epoch", "F1 50-epoch variant: paper protocol capped at 50 epochs, float32 CPU",
           "F1", "paper", ("",), "float32", "cpu", variant=True),
    RunSet("F1-table7", "F1 Table 7 on the 50-epoch variant: conservative (proximal) LB and its λ = 0 control, "
           "float32 CPU", "F1", "paper", ("conservative", "repeat3", ""), "float32", "cpu", variant=True),
    RunSet("F1-gpu-bf16", "F1 GPU bf16 replicate (follow-ups): paper protocol, bfloat16 autocast on a GPU",
           "F1", "paper", ("fu-",), "bfloat16 autocast", "gpu", variant=True),
    RunSet("C1-quick", "C1 quick budget: 5 epochs, float32 CPU (far from a minimiser)",
           "C1", "quick", ("",), "float32", "cpu", variant=True),
    RunSet("F2-quick", "F2 quick budget: 5 epochs on speechocean762, float32 CPU",
           "F2", "quick", ("",), "float32", "cpu", variant=True),
    RunSet("F1-gradnorm", "F1 gradient-norm sweep: quick profile, 2 epochs, Adam 10⁻³ and √B-scaled, float32 CPU",
           "F1", "quick", ("gn-",), "float32", "cpu", variant=True),
)}


def get(key: str) -> RunSet:
    if key not in RUN_SETS:
        raise KeyError(f"unknown run set {key!r}: one of {', '.join(RUN_SETS)}")
    return RUN_SETS[key]


def seeds_words(seeds) -> str:
    """"seeds 0–4" for a contiguous range, "seeds 0, 2" otherwise, "no seeds" for none."""
    s = sorted({int(x) for x in seeds})
    if not s:
        return "no seeds"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"seeds {s[0]}–{s[-1]}"
    return ("seed " if len(s) == 1 else "seeds ") + ", ".join(map(str, s))


def label(key: str, seeds=None) -> str:
    """The run set's name, "(variant)" where it is one, and the seeds the records hold (``seeds``: counted by the
    caller from the rows it shows)."""
    s = get(key)
    return s.name + (f", {seeds_words(seeds)}" if seeds is not None else "")


def select(key: str, table):
    """The rows of a training table (``core.records.train_table``) that belong to the run set."""
    s = get(key)
    if table.empty:
        return table
    tags = table.tag.fillna("")
    return table[(table.net == s.net) & (table.profile == s.profile) & tags.map(s.has_tag)]


def check_precision(key: str, records) -> list[str]:
    """The run ids among ``records`` (training records of the set) whose provenance states a training precision
    other than the set's: an empty list when the label is true."""
    s = get(key)
    bad = []
    for r in records:
        prec = ((r.get("provenance") or {}).get("precision") or {}).get("train", "float32")
        if prec != s.precision:
            bad.append(r["run_id"])
    return bad
