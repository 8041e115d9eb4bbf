"""The named run sets: one per claim, so that every page shows the same runs for the same claim and a variant is
labelled as one (see ``notes``: evidence conventions). A run set is fixed by its definition (network, record
profile, config tag, protocol, precision, device); its seeds and n are counted from the records, never typed."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSet:
    key: str
    name: str            # the words a caption or a sentence prints
    net: str             # "" for a set of records without a network (regression, bench, a page's own toy)
    profile: str         # record profile ("" where no record is read)
    tags: tuple[str, ...]   # config tags of its training runs ("" untagged; "fu-" a prefix)
    precision: str       # training precision the records' provenance states
    device: str          # "cpu" or "gpu"
    variant: bool = False   # a variant of a protocol, labelled as such wherever it appears
    kind: str = "train"     # the record kind the set is made of ("" for none)
    studies: tuple[str, ...] = ()   # the tables and figures that read it (:func:`find`)
    replicate: str = ""     # a prefix tag matches only with this replicate suffix ("fu-ghost+cpu": "cpu")

    def has_tag(self, tag: str) -> bool:
        return any(tag == t or (t.endswith("-") and tag.startswith(t) and tag.partition("+")[2] == self.replicate)
                   for t in self.tags)


RUN_SETS = {s.key: s for s in (
    # Table 2 and what reads the same pairs
    RunSet("F1-table2", "F1 Table 2: paper protocol (SB ≤ 100, LB ≤ 300 epochs), uncapped, float32 CPU",
           "F1", "paper", ("uncapped",), "float32", "cpu", studies=("table2", "figure2", "distance", "cap")),
    RunSet("F1-50epoch", "F1 50-epoch variant: paper protocol capped at 50 epochs, float32 CPU",
           "F1", "paper", ("",), "float32", "cpu", variant=True,
           studies=("table2", "cap", "sharpness", "landscape", "dinh")),
    RunSet("F1-table7", "F1 Table 7 on the 50-epoch variant: conservative (proximal) LB and its λ = 0 control, "
           "float32 CPU", "F1", "paper", ("conservative", "repeat3", ""), "float32", "cpu", variant=True,
           studies=("table7",)),
    RunSet("F1-cpu-fu", "F1 CPU float32 follow-ups: paper protocol, float32 CPU, SB and LB from F1 Table 2 (uncapped)",
           "F1", "paper", ("fu-", "uncapped"), "float32", "cpu", studies=("followups-cpu",), replicate="cpu"),
    RunSet("F1-sam-val", "F1 SAM radius selection: LB (B = 6,000, LR 10⁻³) with SAM at each radius, trained on 55,000 "
           "MNIST images, validated on the fixed 5,000-image hold-out, seed 0, float32 CPU",
           "F1", "paper", ("fu-sam-",), "float32", "cpu", variant=True, studies=("sam-selection",), replicate="val"),
    RunSet("F1-gpu-bf16", "F1 GPU bf16 replicate (follow-ups): paper protocol, bfloat16 autocast on a GPU",
           "F1", "paper", ("fu-",), "bfloat16 autocast", "gpu", variant=True, studies=("followups",)),
    RunSet("C1-quick", "C1 quick budget: 5 epochs, float32 CPU (far from a minimiser)",
           "C1", "quick", ("",), "float32", "cpu", variant=True,
           studies=("table2", "figure2", "distance", "sharpness", "landscape")),
    RunSet("F2-quick", "F2 quick budget: 5 epochs on speechocean762, float32 CPU",
           "F2", "quick", ("",), "float32", "cpu", variant=True, studies=("sharpness", "landscape", "evalorder")),
    RunSet("F2-quick-stored", "F2 quick budget, the runs evaluated in stored-order batches (a Table 2 row averages "
           "one evaluation order): 5 epochs on speechocean762, float32 CPU",
           "F2", "quick", ("",), "float32", "cpu", variant=True, studies=("table2", "figure2", "distance")),
    # the figure studies (Figures 4-6)
    RunSet("F1-fig4", "F1 Figure 4 sweep: quick profile, 20 epochs at every batch size, float32 CPU",
           "F1", "quick", ("fig4",), "float32", "cpu", variant=True, studies=("fig4",)),
    RunSet("F1-fig5", "F1 Figure 5 warm starts: quick profile, 20 SB epochs, then 20 LB epochs from each kept "
           "iterate, float32 CPU", "F1", "quick", ("fig5", "fig5-"), "float32", "cpu", variant=True,
           studies=("fig5",)),
    RunSet("F1-fig6", "F1 Figure 6 trajectories: quick profile, 20 epochs per regime, float32 CPU",
           "F1", "quick", ("fig6",), "float32", "cpu", variant=True, studies=("fig6",)),
    # our own studies
    RunSet("F1-gradnorm", "F1 gradient-norm sweep: quick profile, 2 epochs, Adam 10⁻³ and √B-scaled, float32 CPU",
           "F1", "quick", ("gn-",), "float32", "cpu", variant=True, kind="gradnorm", studies=("gradnorm",)),
    RunSet("F1-cost", "F1 cost per batch size: quick profile, the same number of Adam steps per batch size, one "
           "process each, float32 CPU", "F1", "quick", ("",), "float32", "cpu", variant=True, kind="cost",
           studies=("cost",)),
    RunSet("F1-steps", "F1 steps-to-target study: quick profile, 55,000/5,000 hold-out split, Adam and SGD with the "
           "LR tuned per batch size, float32 CPU", "F1", "quick", ("adam-", "sgd-"), "float32", "cpu", variant=True,
           kind="steps", studies=("steps",)),
    RunSet("F1-noise", "F1 gradient-noise records: quick profile, B_simple along one SB run (hold-out split) and "
           "minibatch scans at x0, along that run and at the 50-epoch variant's SB and LB points",
           "F1", "quick", ("",), "float32", "cpu", variant=True, kind="noise", studies=("noise",)),
    RunSet("F1-tlr-grid", "F1 tuned-LR grid: paper protocol (Adam, plateau rule, caps SB 100 / LB 300 epochs), "
           "trained on 55,000 MNIST images, validated on the fixed 5,000-image hold-out, seed 0, float32 CPU",
           "F1", "paper", ("tlr-",), "float32", "cpu", variant=True, studies=("tuned-lr-grid",)),
    RunSet("F1-tlr-final", "F1 tuned-LR final: each batch size at its selected LR, official 60,000/10,000 split, "
           "paper protocol, float32 CPU", "F1", "paper", ("tlr-", "uncapped"), "float32", "cpu", variant=True,
           studies=("tuned-lr-final",)),
    RunSet("F1-recheck", "F1 reruns of unchanged configurations (tag recheck), float32 CPU",
           "F1", "paper", ("recheck", "recheck-"), "float32", "cpu", variant=True, studies=("rerun",)),
    RunSet("F1-advise", "F1 lbgap advise: quick profile, a few hundred Adam steps at B = 256 with B_simple probes, "
           "float32 CPU", "F1", "quick", ("",), "float32", "cpu", variant=True, kind="advise", studies=("advise",)),
    RunSet("C1-steps", "C1 steps-to-target study: quick profile, CIFAR-10's 45,000/5,000 hold-out split, Adam with "
           "the LR tuned per batch size, target 70 % validation accuracy, float32 CPU", "C1", "quick",
           ("adam-", "sgd-"), "float32", "cpu", variant=True, kind="steps", studies=("steps",)),
    RunSet("C1-advise", "C1 lbgap advise: quick profile, 300 Adam steps at B = 256 with B_simple probes, float32 CPU",
           "C1", "quick", ("",), "float32", "cpu", variant=True, kind="advise", studies=("advise",)),
    RunSet("regression", "huge-N regression records: linear and logistic, generated rows, N up to 10⁹, one CPU "
           "thread", "", "quick", ("",), "float64", "cpu", kind="regression", studies=("regression",)),
    # sets that are not training runs
    RunSet("all-records", "every committed record (data/results)", "", "", ("",), "", "", kind="",
           studies=("provenance",)),
    RunSet("bench", "lbgap bench records", "", "paper", ("",), "", "", kind="bench", studies=("bench",)),
    RunSet("gpu-calls", "GPU call records of scripts/gpu_paper.sh and the GPU training records",
           "", "paper", ("",), "", "gpu", kind="gpu_call", studies=("gpu",)),
    RunSet("no-runs", "none: computed on the page from definitions (models, profiles, a simulated toy), no "
           "training record", "", "", ("",), "", "", kind="", studies=("none",)),
    RunSet("demo", "the measure-your-model demo record: torchvision's ResNet-18 at initialisation on CIFAR-10 "
           "images", "", "quick", ("",), "float32", "", kind="advise", studies=("demo",)),
)}


def get(key: str) -> RunSet:
    if key not in RUN_SETS:
        raise KeyError(f"unknown run set {key!r}: one of {', '.join(RUN_SETS)}")
    return RUN_SETS[key]


def short(key: str) -> str:
    """The set's name up to its colon ("F1 50-epoch variant"): the words a table cell prints beside a number."""
    return get(key).name.split(":")[0]


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


def find(study: str, net: str, profile: str | None = None, tag: str | None = None) -> str | None:
    """The key of the registry's set that ``study`` (a table or figure, e.g. "table2", "sharpness") reads for
    ``net`` under record ``profile`` (None: any) with config tag ``tag`` (None: any); None where the registry has
    none."""
    for s in RUN_SETS.values():
        if study in s.studies and s.net == net and (profile is None or s.profile == profile) \
                and (tag is None or s.has_tag(tag)):
            return s.key
    return None


def runs(*items) -> str:
    """The run sets of a table or figure in words, "; "-joined: each item a key, or (key, seeds) to name the seeds
    its rows hold (:func:`label`)."""
    out = []
    for it in items:
        key, seeds = (it, None) if isinstance(it, str) else it
        out.append(label(key, seeds))
    return "; ".join(dict.fromkeys(out))


def caption(text: str, *items) -> str:
    """A caption that names its run sets: ``text`` — runs: :func:`runs` of ``items``."""
    return f"{text} — runs: {runs(*items)}"


def describe(study: str, df, net_col: str = "net", profile_col: str = "profile", seed_col: str = "seed",
             tag_col: str = "tag") -> str:
    """The run sets behind a study's table ``df`` (one row per run or point), one per (network, profile, config tag
    where ``df`` has one) with the seeds the rows hold, from the registry (:func:`find`); a group the registry
    lacks is named by its network and profile, marked as such."""
    if df is None or not len(df):
        return "no runs"
    keys = [net_col, profile_col] + ([tag_col] if tag_col in df else [])
    out = []
    for grp, g in df.groupby(keys, sort=False, observed=True):
        net, prof = str(grp[0]), str(grp[1])
        key = find(study, net, prof, str(grp[2]) if len(grp) > 2 else None)
        seeds = sorted(g[seed_col].unique()) if seed_col in g else None
        out.append(label(key, seeds) if key else f"{net}, {prof} profile (not in the run-set registry)"
                   + (f", {seeds_words(seeds)}" if seeds is not None else ""))
    return "; ".join(dict.fromkeys(out))


def names() -> tuple[str, ...]:
    """Every registry name, as a caption prints it (the test that every caption names its run set reads these)."""
    return tuple(s.name for s in RUN_SETS.values())


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
