"""Profiles (named configurations) and the per-run configuration.

A profile says *where the data comes from and how long to train*; a run adds the network, batch size and
seed. Profiles, not scattered flags:

* ``smoke``  synthetic data of each dataset's real shape, a few hundred samples, 2 epochs, CPU: exercises
  every code path in seconds. Its records are never presented as results.
* ``quick``  real data, short CPU-friendly training (a handful of epochs): a real but unconverged result.
* ``paper``  real data, the paper's protocol (Section 2 of Keskar et al.; paper notes section 2):
  Adam(1e-3, 0.9, 0.999, 1e-8), SB = 256, LB = 10 % of the training set, train "until the loss
  ceases to improve" -- made precise as: stop when the full-pass training loss has not reached a new best at
  least ``rel_tol`` (1 %) below the previous best for ``patience`` (10) consecutive epochs, or at the
  hard cap. LB takes ~20x fewer steps per epoch than SB, so LB gets the larger cap (SB 100 epochs as the
  paper's Figures 4-5 budget, LB 300 epochs ~ 3,000 steps vs SB's ~23,000) so that both reach a plateau
  rather than the cap; the record says which ended the run.

"Profile" means only this, everywhere in the library: one of :data:`PROFILES` (smoke | quick | paper), the name
a record store is divided by (``<results>/<profile>/...``) and the ``--profile`` of the command line. Other tables
of settings go by names of their own: the regression study's *sizes* (:data:`REGRESSION_SIZES`, one set per run
profile), the GPU driver's per-net time *estimates* (``scripts/gpu_paper.py``); the book's ``results`` mode (read
the committed paper and quick records, train nothing) is a book mode, not a profile; a timing breakdown is a
*timing*, and no profiler (cProfile, torch.profiler) is used.

:func:`make_config` turns a profile plus a network, batch size, seed and overrides into a checked
:class:`RunConfig`; every rule a configuration must satisfy is checked there (:class:`ConfigError`), before
anything is loaded or trained. This module imports no torch: the data and model tables it checks against
are imported by the functions that need them.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

PROFILES: dict[str, dict] = {
    "smoke": dict(source="synthetic", n_train=128, n_test=64, sb_batch_size=16, lb_fraction=0.25,
                  max_epochs_sb=2, max_epochs_lb=2, patience=2, rel_tol=0.01, eval_batch_size=64,
                  device="cpu", precision="fp32"),
    "quick": dict(source="real", n_train=None, n_test=None, sb_batch_size=256, lb_fraction=0.10,
                  max_epochs_sb=5, max_epochs_lb=5, patience=5, rel_tol=0.01, eval_batch_size=5000,
                  device="auto", precision="auto"),
    "paper": dict(source="real", n_train=None, n_test=None, sb_batch_size=256, lb_fraction=0.10,
                  max_epochs_sb=100, max_epochs_lb=300, patience=10, rel_tol=0.01, eval_batch_size=5000,
                  device="auto", precision="auto"),
}

OPTIMIZER_DEFAULTS = dict(optimizer="adam", lr=1e-3, betas=(0.9, 0.999), adam_eps=1e-8, momentum=0.0)


# torch.compile modes of the training step ("" = eager)
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class ConfigError(ValueError):
    """A bad run request (unknown network, impossible batch size, ...): nothing has been written."""


def get_profile(name: str) -> dict:
    """A copy of profile ``name``'s settings (:data:`PROFILES`); ValueError naming the profiles otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    return dict(PROFILES[name])


@dataclass
class RunConfig:
    """Everything that determines one training run. Stored verbatim in its result record."""

    net: str
    batch_size: int
    seed: int = 0
    profile: str = "paper"
    dataset: str = ""             # default: the network's dataset (F1 mnist, F2 so762, C1/C2 cifar10, ...)
    split: str = "official"       # "official" test set or a seeded 5,000-image "holdout" of the training set
    source: str = "real"          # "real" (cache) or "synthetic"
    n_train: int | None = None    # synthetic sizes (None = the dataset's own)
    n_test: int | None = None
    bn: str = "batch"
    eval_batch_size: int = 5000
    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    momentum: float = 0.0
    max_epochs: int = 100
    patience: int = 10
    rel_tol: float = 0.01
    precision: str = "auto"       # "fp32" | "bf16" (autocast for training only) | "auto" (bf16 on CUDA)
    device: str = "auto"
    compile: str = ""             # torch.compile mode for the training step ("" = eager); not material
    regime: str = ""              # "SB", "LB" or "" (custom batch size)
    batch_spec: str = ""          # as the user gave it, e.g. "10%"
    tag: str = ""                 # free-form variant name that becomes part of the run id
    inner_steps: int = 1          # optimizer steps per batch (conservative training, Appendix E.2: 3)
    prox: float = 0.0             # lambda of the proximal term (lambda/2)||x - x_k||^2 (Eq. 5; E.2: 1e-3)
    augment: str = ""             # "" none, "paper": flips, rotations <= 10 deg, shifts <= 0.2 (Appendix E.1)
    init_from: str = ""           # warm start (Figure 5): a checkpoint, relative to the checkpoint store, as x0
    warmup_epochs: float = 0.0    # linear LR warm-up over this many epochs (Goyal et al. 2017; 0 = none) ...
    warmup_from: float = 0.0      # ... from this LR at step 0 up to ``lr``
    ghost_batch: int = 0          # ghost batch normalisation over chunks of this many examples (Hoffer et al. 2017)
    sam_rho: float = 0.0          # sharpness-aware minimisation radius rho (Foret et al. 2021; 0 = off)
    save_checkpoints: bool = True
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The configuration as JSON-ready values (what a record stores under ``config``)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """The configuration a record stored (:meth:`to_dict`); unknown keys are refused, naming the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}: valid keys are {sorted(names)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    @property
    def run_id(self) -> str:
        """``<net>-<dataset>-<split>-b<batch>-s<seed>[-bn<mode>][-<tag>]``: the run's name in the record store."""
        parts = [self.net, self.dataset, self.split, f"b{self.batch_size}", f"s{self.seed}"]
        if self.bn != "batch":
            parts.append(f"bn{self.bn}")
        if self.tag:
            parts.append(self.tag)
        return "-".join(parts)

    def material(self) -> dict:
        """Fields that change the result (device and bookkeeping excluded): used to detect clashes."""
        d = self.to_dict()
        for k in ("device", "save_checkpoints", "precision", "compile"):
            d.pop(k, None)
        return json.loads(json.dumps(d))


# ------------------------------------------------------------------------------------ checked configurations
def train_size(dataset: str, split: str, source: str, n_train: int | None) -> int:
    """Number of training examples actually used (after the hold-out is taken out)."""
    from lbgap.core import data as datamod

    if source == "synthetic":
        n = n_train or 512
        return n - max(1, n // 5) if split == "holdout" else n
    n = datamod.DATASETS[dataset]["n_train"]
    if n is None:  # bring-your-own TIMIT: its size is known once imported
        from lbgap.core import speech
        n = speech.cached_n_train(dataset)
    return n - datamod.HOLDOUT_SIZE if split == "holdout" else n


def resolve_batch_size(spec: str | int, n_train: int) -> int:
    """``256`` -> 256; ``"10%"`` -> 10 % of the training set used (rounded). Errors say what is allowed."""
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            frac = float(text[:-1]) / 100.0
            if not 0 < frac <= 1:
                raise ConfigError(f"batch size {text} must be a percentage in (0%, 100%]")
            value = int(round(frac * n_train))
        else:
            value = int(text)
    except ValueError:
        raise ConfigError(f"batch size {text!r} is neither an integer nor a percentage like '10%'") from None
    if value < 1:
        raise ConfigError(f"batch size {text} is {value}; it must be at least 1")
    if value > n_train:
        raise ConfigError(f"batch size {value} is larger than the {n_train} training examples; use at most "
                          f"{n_train} or a percentage such as '10%'")
    return value


def default_split(dataset: str, source: str) -> str:
    """``official`` where the cached official test set is complete, else ``holdout`` (CIFAR-10 here)."""
    from lbgap.core import data as datamod

    if source == "synthetic" or dataset not in ("cifar10", "cifar100"):
        return "official"
    try:
        meta = datamod.read_meta(dataset)
        return "official" if meta.get("test_complete", True) else "holdout"
    except datamod.DataError:
        return "holdout"


def make_config(net: str, batch_size: str | int = 256, seed: int = 0, profile: str = "paper",
                **overrides) -> RunConfig:
    """A checked :class:`RunConfig`: profile ``profile``'s settings, then ``overrides``; ``batch_size`` is an
    integer, a percentage of the training set used, or ``SB``/``LB`` (Section 2: 256 and 10 %)."""
    from lbgap.core import data as datamod
    from lbgap.core.models import NETS

    net = str(net).upper()
    if net not in NETS:
        raise ConfigError(f"unknown network {net!r}: choose one of {', '.join(NETS)}")
    try:
        prof = get_profile(profile)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if seed is None or int(seed) < 0:
        raise ConfigError(f"seed {seed} must be a non-negative integer")
    source = overrides.pop("source", None) or ("synthetic" if prof["source"] == "synthetic" else "real")
    dataset = overrides.pop("dataset", None) or NETS[net].dataset
    if dataset not in datamod.DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}: choose one of {', '.join(datamod.DATASETS)}")
    split = overrides.pop("split", None) or default_split(dataset, source)
    if split not in datamod.SPLITS:
        raise ConfigError(f"unknown split {split!r}: choose 'official' or 'holdout'")
    n_train = overrides.pop("n_train", None) or prof["n_train"]
    n_test = overrides.pop("n_test", None) or prof["n_test"]
    n_used = train_size(dataset, split, source, n_train)
    spec = str(batch_size).strip().upper()
    spec = {"SB": str(prof["sb_batch_size"]), "LB": f"{prof['lb_fraction'] * 100:g}%"}.get(spec, str(batch_size))
    bs = resolve_batch_size(spec, n_used)
    sb, lb = prof["sb_batch_size"], int(round(prof["lb_fraction"] * n_used))
    regime = "SB" if bs == sb else "LB" if bs == lb else ""
    max_epochs = overrides.pop("max_epochs", None) or (prof["max_epochs_lb"] if regime == "LB" else prof["max_epochs_sb"])
    fields = dict(net=net, batch_size=bs, seed=int(seed), profile=profile, dataset=dataset, split=split,
                  source=source, n_train=n_train, n_test=n_test, eval_batch_size=prof["eval_batch_size"],
                  max_epochs=int(max_epochs), patience=prof["patience"], rel_tol=prof["rel_tol"],
                  precision=prof["precision"], device=prof["device"], regime=regime, batch_spec=spec)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in {f for f in RunConfig.__dataclass_fields__}:
            raise ConfigError(f"unknown option {k!r}")
        fields[k] = v
    cfg = RunConfig(**fields)
    check_config(cfg)
    return cfg


def check_config(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` (one line: what is wrong, what is allowed) unless every option of ``cfg``
    is one the training loop can run."""
    from lbgap.core import augment, paths
    from lbgap.core.models import NETS

    if cfg.bn not in ("batch", "running"):
        raise ConfigError(f"unknown BatchNorm mode {cfg.bn!r}: 'batch' (Keras mode=2) or 'running'")
    if cfg.compile not in COMPILE_MODES:
        raise ConfigError(f"unknown compile mode {cfg.compile!r}: choose one of "
                          f"{', '.join(m for m in COMPILE_MODES if m)} (or leave it out for eager)")
    if cfg.optimizer not in ("adam", "sgd"):
        raise ConfigError(f"unknown optimizer {cfg.optimizer!r}: 'adam' or 'sgd'")
    if cfg.max_epochs < 1 or cfg.eval_batch_size < 1 or cfg.patience < 1:
        raise ConfigError("max_epochs, patience and eval_batch_size must be at least 1")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise ConfigError(f"learning rate {cfg.lr} must be a positive number")
    if int(cfg.inner_steps) != cfg.inner_steps or cfg.inner_steps < 1:
        raise ConfigError(f"inner_steps={cfg.inner_steps}: give a whole number of optimizer steps per batch, "
                          "at least 1 (1 = plain training; conservative training uses 3)")
    if cfg.augment not in augment.AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {cfg.augment!r}: choose one of "
                          f"{', '.join(repr(k) for k in augment.AUGMENTATIONS)}")
    if cfg.augment and NETS[cfg.net].kind != "conv":
        raise ConfigError(f"augmentation is for the convolutional networks C1-C4 (Appendix E.1), not {cfg.net}")
    if not (cfg.prox >= 0 and math.isfinite(cfg.prox)):
        raise ConfigError(f"prox={cfg.prox}: the proximal weight lambda must be >= 0 (0 = off; Appendix E.2: 1e-3)")
    if not (cfg.warmup_epochs >= 0 and cfg.warmup_from >= 0 and math.isfinite(cfg.warmup_epochs)):
        raise ConfigError(f"warm-up of {cfg.warmup_epochs} epochs from lr {cfg.warmup_from}: both must be >= 0")
    if cfg.ghost_batch and (cfg.ghost_batch < 2 or cfg.bn != "batch"):
        raise ConfigError(f"ghost_batch={cfg.ghost_batch}: give at least 2 examples per ghost batch, with bn='batch' "
                          "(0 = off)")
    if not (cfg.sam_rho >= 0 and math.isfinite(cfg.sam_rho)):
        raise ConfigError(f"sam_rho={cfg.sam_rho}: the SAM radius must be >= 0 (0 = off; Foret et al. use 0.05)")
    if cfg.init_from and (Path(cfg.init_from).is_absolute() or ".." in Path(cfg.init_from).parts):
        raise ConfigError(f"init_from={cfg.init_from!r}: give a checkpoint path relative to the checkpoint store "
                          f"({paths.CHECKPOINT_DIR}), e.g. 'quick/<run id>/step470.pt'")


def sb_lb_configs(net: str, seed: int, profile: str, **overrides) -> list[RunConfig]:
    """The SB and LB configurations of one (network, seed) pair under ``profile``."""
    return [make_config(net, regime, seed, profile, **overrides) for regime in ("SB", "LB")]


def holdout_config(net: str, regime: str, seed: int = 0, profile: str = "paper", **overrides) -> RunConfig:
    """The run of ``regime`` (SB or LB) at its batch size and epoch cap on the *official* split, trained on the
    hold-out split (55,000/5,000 for MNIST; its "test" numbers are validation numbers), then ``overrides``. LB keeps
    the official split's size (10 % of 60,000 = 6,000 for F1), not 10 % of the 55,000 images left (5,500), so what
    is selected there is selected for Table 2's batch size: the learning-rate grid (``studies.tuned_lr``) and SAM's
    radius (``studies.followups``) are chosen on these runs."""
    official = make_config(net, regime, 0, profile, split="official")
    return make_config(net, official.batch_size, seed, profile,
                       **{"split": "holdout", "max_epochs": official.max_epochs, **overrides})


# The regression study's sizes (``studies.regression``), one set per run profile it runs under (its records go to
# ``<results>/<profile>/regression/``): the grid of N, batch sizes, seeds and tuning ranges of "huge N, few features".
REGRESSION_SIZES: dict[str, dict] = {
    # seconds: tests and the chapter's smoke run
    "smoke": dict(ns=(10**4, 10**5), batches=(1, 256, 4096), seeds=(1,), gd_tune_n=10**4, gd_full_max_n=10**5,
                  gd_max_passes=300, gd_lrs=(0.5, 0.9), sgd_lr_start=-3, sgd_lr_span=3, sgd_cap=2**16,
                  noise_rows=2**16, child_min_n=None, all_seeds_max_n=10**5, gd_pass_max_n=10**5,
                  logistic_lr_scale=4.0, headline_repeats=5),
    # the real study on one CPU core: tuning on seed 0, measurements on seeds 1 to 5 (N <= 10^6; seed 1 above)
    "quick": dict(ns=tuple(10**k for k in range(4, 10)), batches=(1, 16, 256, 4096, 65536), seeds=(1, 2, 3, 4, 5),
                  gd_tune_n=10**5, gd_full_max_n=10**7, gd_max_passes=2000,
                  gd_lrs=(0.5, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0), sgd_lr_start=-3, sgd_lr_span=8, sgd_cap=2**20,
                  noise_rows=2**20, child_min_n=10**8, all_seeds_max_n=10**6, gd_pass_max_n=10**9,
                  logistic_lr_scale=4.0, headline_repeats=7),
}
