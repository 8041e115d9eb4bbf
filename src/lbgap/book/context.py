"""A notebook's context: resolve its parameters into where records are read (and, when it computes, written).

Every notebook starts with a ``parameters`` cell::

    profile = "results"      # "results": read the committed records (default, what the book shows)
                             # "smoke":   run the real code on tiny synthetic data in a temp dir (seconds)
                             # "paper":   recompute with the paper protocol (GPU), writing data/results
    device = "auto"
    seeds = "0-4"
    nets = "F1,F2,C1,C2,C3,C4"
    results_dir = None       # None: data/results (results, paper) or a fresh temp dir (smoke)

then ``ctx = context(profile, results_dir, device, seeds, nets, compute=<chapter>.compute)``: in ``results``
mode it only reads the committed records; in ``smoke``/``quick``/``paper`` it first runs the chapter's
``compute(ctx)`` (the library's training and measuring functions). The chapter's tables and figures then read
``ctx.results_dir`` under ``ctx.record_profiles`` (which record profiles to read, best first).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lbgap.core import records
from lbgap.core.sweep import parse_nets, parse_seeds

NOTEBOOK_PROFILES = ("results", "smoke", "quick", "paper")

# A smoke run trains at most two seeds (enough for a mean ± std) of the cheap networks (one MLP, one CNN): the
# VGG-like C2/C4 take minutes per run even on synthetic data on a CPU. Pass ``nets="C2"`` alone to smoke them.
SMOKE_MAX_SEEDS = 2
SMOKE_NETS = ("F1", "C1")


@dataclass
class Context:
    profile: str                  # the notebook profile
    results_dir: Path
    record_profiles: tuple[str, ...]  # record profiles to read, in order of preference
    run: bool                     # compute (smoke/quick/paper) or only read (results)
    device: str
    seeds: list[int]
    nets: list[str]
    # tables several cells of one notebook read (records, once per notebook; see :meth:`memo`)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def run_profile(self) -> str:
        return self.record_profiles[0]

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` the first time ``key`` is asked for, the same object afterwards: a chapter reads its
        records once, however many tables and figures show them."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def study_table(self, key: str, table: Callable[..., Any]) -> Any:
        """``table(results_dir, record_profiles)`` (a study's table of its records) restricted to the requested
        networks and seeds, read once (:meth:`memo` under ``key``)."""
        def load():
            df = table(self.results_dir, self.record_profiles)
            return df[df.net.isin(self.nets) & df.seed.isin(self.seeds)]

        return self.memo(key, load)


def context(profile: str = "results", results_dir: str | Path | None = None, device: str = "auto",
            seeds: str | int = "0-4", nets: str = "F1,F2,C1,C2,C3,C4",
            compute: Callable[[Context], None] | None = None) -> Context:
    """The context of a notebook's parameters; ``compute(ctx)`` runs when the profile computes (not ``results``)."""
    if profile not in NOTEBOOK_PROFILES:
        raise ValueError(f"notebook profile {profile!r} must be one of {', '.join(NOTEBOOK_PROFILES)}")
    if results_dir is not None:
        rd = Path(results_dir).expanduser().resolve()
    elif profile == "smoke":
        rd = Path(tempfile.mkdtemp(prefix="lbgap-smoke-"))
    else:
        rd = records.store_root(None)
    record_profiles = {"results": ("paper", "quick"), "smoke": ("smoke",), "quick": ("quick",),
                       "paper": ("paper",)}[profile]
    device = "cpu" if profile == "smoke" else device
    from lbgap.book import plots
    from lbgap.core.train import apply_float32_policy

    apply_float32_policy()   # a recomputing notebook evaluates in IEEE float32, as the commands do
    plots.use()              # the book's one figure style
    ctx = Context(profile, rd, record_profiles, profile != "results", device, parse_seeds(seeds),
                  parse_nets(nets) if nets else [])   # nets="": a chapter without networks (regression)
    if ctx.run and compute is not None:
        if profile != "smoke":   # a recompute shows its progress in the cell, as the command line does
            from lbgap.core.logs import log_to_stdout

            log_to_stdout()
        compute(ctx)
    return ctx


def shown_seeds(ctx: Context) -> list[int]:
    """The seeds a chapter shows: at most :data:`SMOKE_MAX_SEEDS` under the smoke profile."""
    return ctx.seeds[:SMOKE_MAX_SEEDS] if ctx.profile == "smoke" else ctx.seeds


def shown_nets(ctx: Context) -> list[str]:
    """The networks a chapter shows: under the smoke profile only the cheap ones (:data:`SMOKE_NETS`)."""
    if ctx.profile != "smoke":
        return ctx.nets
    return [n for n in ctx.nets if n in SMOKE_NETS] or ctx.nets[:1]


# ------------------------------------------------------------------ records as several chapters read them
def all_records(ctx: Context):
    """Every record of every kind under the profiles the context reads, with ``_profile`` (from its folder)."""
    from lbgap.core.records import iter_records

    for prof in ctx.record_profiles:
        for rec in iter_records(ctx.results_dir, prof):
            rec["_profile"] = prof
            yield rec


def train_records(records) -> dict:
    """The training records among ``records`` (of :func:`all_records`), keyed by (profile, run id): a quick and a
    paper run can share a run id."""
    return {(r["_profile"], r["run_id"]): r for r in records if r.get("kind") == "train"}


def original(train: dict, rec: dict, tag: str, differ: tuple[str, ...] = ()) -> dict | None:
    """The record in ``train`` (:func:`train_records`) of the run that the variant run ``rec`` repeats: its
    configuration with config tag ``tag``, equal to ``rec``'s in every field that changes a result
    (``RunConfig.material``) except those in ``differ``; None if there is no such record."""
    from lbgap.core.config import RunConfig

    cfg = RunConfig.from_dict(dict(rec["config"], tag=tag))
    o = train.get((rec["_profile"], cfg.run_id))

    def fields(c: RunConfig) -> dict:
        return {k: v for k, v in c.material().items() if k not in differ}

    return o if o is not None and fields(RunConfig.from_dict(o["config"])) == fields(cfg) else None


def lb_over_sb(lb, sb) -> float:
    """THE LB/SB ratio every page quotes (sharpness φ, Figure 3's rise, …): the ratio of the means over the seeds
    that have both values, mean(LB) / mean(SB), as the paper's Tables 3–4 set their mean columns side by side
    (``measures.sharpness.summary`` computes Tables 3–4's the same way). NaN without a pair."""
    import numpy as np

    lb, sb = np.asarray(lb, float), np.asarray(sb, float)
    both = ~(np.isnan(lb) | np.isnan(sb))
    return float(lb[both].mean() / sb[both].mean()) if both.any() else float("nan")
