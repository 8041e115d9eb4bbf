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
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

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


def get_profile(name: str) -> dict:
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
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
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


# The regression study's own profiles (``studies.regression``; a study profile, not a training profile above):
# the grid of N, batch sizes, seeds and tuning ranges of "huge N, few features".
REGRESSION_PROFILES: dict[str, dict] = {
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
