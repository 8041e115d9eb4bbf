"""Small-batch (SB) vs large-batch (LB) training, Section 2 / Table 2 of Keskar et al. (2017).

Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), no weight decay, no schedule, identical for both regimes;
SB = 256, LB = 10 % of the training set actually used. For a given seed SB and LB start from the same
initial weights x0 (the model is built right after ``torch.manual_seed(seed)``) and use the same
data-order seed. Each epoch reshuffles (Keras ``fit(shuffle=True)``) and keeps the last partial batch.

After every epoch the full training set and the test set are evaluated in ``eval()`` mode (dropout off;
with ``bn="batch"`` BN still normalises with the statistics of each evaluation batch, as Keras mode=2)
at a fixed, recorded evaluation batch size, in the dataset's fixed evaluation batches (consecutive for
MNIST/CIFAR, interleaved across speakers for speech frames: ``eval_batches``). The run stops on a plateau
of the training loss or at the cap (see ``config``), or with status ``diverged`` on a non-finite loss.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from lbgap import __version__
from lbgap.core import augment
from lbgap.core import checkpoints
from lbgap.core import config as cfgmod
from lbgap.core import data as datamod
from lbgap.core import paths
from lbgap.core import records
from lbgap.core.config import RunConfig
from lbgap.core import sam
from lbgap.core.models import NETS, build_model, keras_cross_entropy, use_ghost_batches


class ConfigError(ValueError):
    """A bad run request (unknown network, impossible batch size, ...): nothing has been written."""


# ----------------------------------------------------------------------------------------- configuration
def train_size(dataset: str, split: str, source: str, n_train: int | None) -> int:
    """Number of training examples actually used (after the hold-out is taken out)."""
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
    if source == "synthetic" or dataset not in ("cifar10", "cifar100"):
        return "official"
    try:
        meta = datamod.read_meta(dataset)
        return "official" if meta.get("test_complete", True) else "holdout"
    except datamod.DataError:
        return "holdout"


def make_config(net: str, batch_size: str | int = 256, seed: int = 0, profile: str = "paper",
                **overrides) -> RunConfig:
    """Build a validated :class:`RunConfig` from a profile plus explicit overrides."""
    net = str(net).upper()
    if net not in NETS:
        raise ConfigError(f"unknown network {net!r}: choose one of {', '.join(NETS)}")
    try:
        prof = cfgmod.get_profile(profile)
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
    return cfg


# ------------------------------------------------------------------------------------------- building blocks
def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    """Adam (or SGD) as in Section 2; on CUDA Adam runs as one fused kernel per step (same update rule)."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.adam_eps, weight_decay=0.0,
                            fused=fused or None)


def initial_model(cfg: RunConfig, num_classes: int | None = None,
                  results_dir: str | Path | None = None) -> nn.Module:
    """x0 for ``cfg.seed``: depends only on (net, bn, seed), so SB and LB of one seed share it. A warm start
    (``cfg.init_from``, Figure 5) replaces it by the weights of that checkpoint, found through the training
    record of its run in ``results_dir`` (``checkpoints.warm_start_path``)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.net, bn=cfg.bn, num_classes=num_classes)
    if cfg.init_from:
        path = checkpoints.warm_start_path(cfg.init_from, results_dir)
        if not path.is_file():
            raise ConfigError(f"warm start {path} does not exist: train the run that keeps it first (checkpoints "
                              "are not committed; `lbgap sweep warmstart` trains the SB run before its LB runs)")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def epoch_batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device):
    """Index tensors of one shuffled epoch, the last partial batch included (Keras semantics)."""
    perm = torch.randperm(n, generator=generator, device=device)
    return [perm[i: i + batch_size] for i in range(0, n, batch_size)]


@torch.no_grad()
def evaluate(model: nn.Module, dataset, batch_size: int) -> tuple[float, float]:
    """Mean loss and accuracy over all of ``dataset`` in eval mode, float32, in the dataset's fixed evaluation
    batches (``eval_batches``)."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=dataset.device)
    correct = torch.zeros((), dtype=torch.int64, device=dataset.device)
    n = len(dataset)
    for idx in dataset.eval_batches(batch_size):
        x, y = dataset.batch(idx)
        logits = model(x)
        total_loss += keras_cross_entropy(logits, y, reduction="sum").double()
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    return float(total_loss) / n, float(correct) / n


def warmup_lr(cfg: RunConfig, steps_per_epoch: int) -> Callable[[int], float] | None:
    """Goyal et al. (2017), Section 2.2, gradual warm-up: the LR before step t (0-based) goes linearly from
    ``warmup_from`` to ``lr`` over ``warmup_epochs`` epochs, then stays at ``lr``. None without a warm-up."""
    if not cfg.warmup_epochs:
        return None
    span = max(1, round(cfg.warmup_epochs * steps_per_epoch))

    def lr_at(step: int) -> float:
        return cfg.lr if step >= span else cfg.warmup_from + (cfg.lr - cfg.warmup_from) * step / span
    return lr_at


def flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def _autocast(cfg: RunConfig, device: torch.device):
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)


# TF32 policy: "float32" means IEEE float32. TF32 is switched off for matmuls *and* cuDNN convolutions
# (PyTorch's own default leaves it on for cuDNN), so evaluation, sharpness and parametric curves are true
# float32 on every GPU. Training speed does not depend on it: training runs under bf16 autocast.
TF32 = False
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def apply_float32_policy() -> None:
    """Switch TF32 off for matmuls and cuDNN convolutions (the policy above). Called by ``lbgap`` commands (``cli.main``),
    notebooks (``lbgap.book.context``) and :func:`compute_device`, through which every computation picks its device,
    since PyTorch's default leaves cuDNN's TF32 on."""
    torch.backends.cuda.matmul.allow_tf32 = TF32
    torch.backends.cudnn.allow_tf32 = TF32


def compute_device(spec: str | torch.device = "auto") -> torch.device:
    """The device a computation runs on (``data.resolve_device``), with the float32 policy in effect: the one
    way training, sharpness, landscape, trajectory, noise and the steps-to-target study pick their device."""
    apply_float32_policy()
    return datamod.resolve_device(spec)


def uses_cudagraphs(mode: str) -> bool:
    """Compile modes that replay CUDA graphs (each step must then be marked: ``cudagraph_mark_step_begin``)."""
    return mode in ("reduce-overhead", "max-autotune")


def check_last_batch(n: int, batch_size: int, what: str = "training examples") -> None:
    """A BatchNorm net in training mode cannot normalise a batch of one example; an epoch of ``n`` examples in
    batches of ``batch_size`` (last partial batch kept, as Keras does) must not end with one."""
    if n > 1 and n % batch_size == 1:
        raise ConfigError(f"{n} {what} in batches of {batch_size} leave a last batch of 1 example, which "
                          f"BatchNorm cannot normalise in training mode; use {n - 1} or {n + 1} examples, or "
                          "another batch size")


def precision_policy(cfg: RunConfig | None, device: torch.device) -> dict:
    """Apply the TF32 policy and return what a record stores about precision (``provenance.precision``)."""
    apply_float32_policy()
    train_dtype = "float32"
    if cfg is not None and (cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")):
        train_dtype = "bfloat16 autocast"
    return dict(train=train_dtype, eval="float32", tf32_matmul=TF32, tf32_cudnn=TF32,
                channels_last=device.type == "cuda" and cfg is not None and NETS[cfg.net].kind == "conv",
                fused_adam=device.type == "cuda" and cfg is not None and cfg.optimizer == "adam",
                compile=(cfg.compile or "off") if cfg is not None else "off")


def compiled(model: nn.Module, mode: str) -> nn.Module:
    """``torch.compile(model)`` for the training step (parameters shared; evaluation stays eager)."""
    if mode not in COMPILE_MODES:
        raise ConfigError(f"unknown compile mode {mode!r}: choose one of {', '.join(m or 'off' for m in COMPILE_MODES)}")
    if not mode:
        return model
    # dynamic=False: one static graph for the full batch and one for the epoch's last partial batch
    return torch.compile(model, mode=None if mode == "default" else mode, dynamic=False)


class StopTraining(Exception):
    """Raised by an ``on_step`` hook (:func:`train_epoch`) to end training right after the step it was called for."""


@dataclass
class Progress:
    """Where a run stands: :func:`train_epoch` advances it after every batch and hands it to ``on_step``.
    ``loss`` is that batch's loss before its update, a 0-dim tensor on the run's device (reading it, as in
    ``float(progress.loss)``, waits for the GPU)."""

    step: int = 0                       # batches trained (one optimizer update each; ``inner_steps`` in E.2)
    examples: int = 0                   # training examples seen
    loss: torch.Tensor | None = None
    batch: int = 0                      # batches done in the current epoch
    running: torch.Tensor | None = None  # the current epoch's summed loss so far (0-dim, on the device)


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, dataset, batch_size: int,
                generator: torch.Generator, autocast, cudagraphs: bool = False, inner_steps: int = 1,
                prox: float = 0.0, on_step: Callable[[Progress], None] | None = None,
                transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                progress: Progress | None = None, skip: int = 0,
                running: torch.Tensor | None = None, lr_at: Callable[[int], float] | None = None,
                sam_rho: float = 0.0) -> tuple[int, torch.Tensor]:
    """One shuffled epoch of SGD/Adam steps with no host synchronisation; returns (batches, summed loss at the
    start of each batch).

    ``inner_steps``/``prox``: conservative training (Appendix E.2, after Li et al. 2014): each batch B_k solves
    x_{k+1} = argmin_x f_{B_k}(x) + (prox/2)||x - x_k||^2 (Eq. 5) approximately with ``inner_steps`` steps of the
    same optimizer (one persistent Adam, lr unchanged: the paper's "3 iterations of ADAM", lambda = 1e-3). The
    proximal gradient prox (x - x_k) is added to each parameter's gradient. 1 and 0 are plain training.
    ``transform``: applied to each training batch (data augmentation, Appendix E.1: ``augment.make``).

    ``on_step(progress)``: called after each batch's update with the run's :class:`Progress` (``progress``,
    advanced here across epochs; without it, a fresh one counting from this epoch's start). The hook may
    evaluate, take snapshots (Figure 6) or probe the model, and raise :class:`StopTraining` to end training
    after that step: the exception reaches the caller (:meth:`Trainer.until_stopped` catches it).

    ``lr_at(step)``: the learning rate of each step (a warm-up, :func:`warmup_lr`), set before it; ``sam_rho``:
    sharpness-aware minimisation (``sam``): the update uses the gradient at x + rho g/||g||.

    ``skip``/``running``: go on with an epoch interrupted after ``skip`` batches whose summed loss was
    ``running`` (a resumed run; ``generator`` in the state it had at the start of that epoch)."""
    device = dataset.device
    progress = Progress() if progress is None else progress
    running = torch.zeros((), device=device) if running is None else running.to(device).clone()
    progress.running, progress.batch = running, skip
    steps = skip
    params = [p for g in opt.param_groups for p in g["params"]] if (prox or sam_rho) else []
    for idx in epoch_batches(len(dataset), batch_size, generator, device)[skip:]:
        x, y = dataset.batch(idx)
        if transform is not None:
            x = transform(x)
        if device.type == "cuda" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        anchor = [p.detach().clone() for p in params] if prox else None   # x_k
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(progress.step)
        for inner in range(inner_steps):
            if cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()
            with autocast:
                loss = keras_cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if sam_rho:
                e = sam.ascend(params, sam_rho)
                with autocast:
                    perturbed = keras_cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                perturbed.backward()
                sam.descend(params, e)
            if prox:
                with torch.no_grad():
                    torch._foreach_add_([p.grad for p in params], torch._foreach_sub(params, anchor), alpha=prox)
            opt.step()
            if inner == 0:
                progress.loss = loss.detach()
                running += progress.loss
        steps += 1
        progress.step += 1
        progress.batch += 1
        progress.examples += len(y)
        if on_step is not None:
            on_step(progress)
    return steps, running


# Seeds of a run's random streams. x0 is drawn right after ``torch.manual_seed(seed)`` and the data order comes
# from a generator seeded with ``seed``; dropout draws from the global stream, reseeded with ``seed`` + this
# before the first step, so SB and LB of one seed share all three.
DROPOUT_SEED_OFFSET = 1_000_003


@dataclass
class Trainer:
    """A run's model, optimizer and random streams, set up by :func:`make_trainer` for every training loop
    (``train``, the steps-to-target study, the gradient-noise track); :meth:`epoch` and :meth:`until_stopped`
    run its optimizer steps with the run's precision, compile mode and conservative-training settings."""

    cfg: RunConfig
    device: torch.device
    model: nn.Module                    # evaluation, checkpoints, probes: eager
    step_model: nn.Module               # the training steps': ``model`` compiled when ``cfg.compile`` (same weights)
    opt: torch.optim.Optimizer
    generator: torch.Generator          # the data order
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None   # augmentation (Appendix E.1)
    progress: Progress = field(default_factory=Progress)              # over all epochs so far

    def epoch(self, dataset, on_step: Callable[[Progress], None] | None = None, skip: int = 0,
              running: torch.Tensor | None = None) -> tuple[int, torch.Tensor]:
        """One shuffled epoch of :func:`train_epoch` (the rest of one, after ``skip`` batches whose summed loss
        was ``running``); returns (batches, summed loss at the start of each)."""
        cfg = self.cfg
        return train_epoch(self.step_model, self.opt, dataset, cfg.batch_size, self.generator,
                           _autocast(cfg, self.device), cudagraphs=uses_cudagraphs(cfg.compile),
                           inner_steps=int(cfg.inner_steps), prox=float(cfg.prox), on_step=on_step,
                           transform=self.transform, progress=self.progress, skip=skip, running=running,
                           lr_at=warmup_lr(cfg, math.ceil(len(dataset) / cfg.batch_size)),
                           sam_rho=float(cfg.sam_rho))

    def until_stopped(self, dataset, on_step: Callable[[Progress], None]) -> Progress:
        """Epoch after epoch until ``on_step`` raises :class:`StopTraining`; returns where training stopped."""
        self.model.train()
        try:
            while True:
                self.epoch(dataset, on_step)
        except StopTraining:
            return self.progress


def make_trainer(cfg: RunConfig, num_classes: int | None, device: torch.device,
                 results_dir: str | Path | None = None) -> Trainer:
    """x0 (:func:`initial_model`) on ``device`` (channels_last for conv nets on CUDA), the training step's model,
    the optimizer, the data-order generator and the dropout stream, in this order: the order fixes the random
    streams, so that every loop trains the run ``lbgap train`` would. ``results_dir``: the record store a warm
    start's run is found in."""
    model = initial_model(cfg, num_classes, results_dir).to(device)
    if cfg.ghost_batch:
        use_ghost_batches(model, int(cfg.ghost_batch))   # same parameters and x0; training normalises ghost batches
    if device.type == "cuda" and NETS[cfg.net].kind == "conv":
        model = model.to(memory_format=torch.channels_last)
    step_model = compiled(model, cfg.compile)
    opt = make_optimizer(cfg, model.parameters())
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed + DROPOUT_SEED_OFFSET)
    transform = augment.make(cfg.augment, cfg.seed, device)   # None: no augmentation
    return Trainer(cfg, device, model, step_model, opt, generator, transform)


def _show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def checkpoint_dir(cfg: RunConfig, results_dir: str | Path | None = None) -> Path:
    """Where run ``cfg`` trained into the store ``results_dir`` keeps its checkpoints (``checkpoints.run_dir``)."""
    return checkpoints.run_dir(cfg, results_dir)


# ------------------------------------------------------------------------------------------------- a run
def existing_record(cfg: RunConfig, results_dir: Path) -> dict | None:
    path = records.record_path(results_dir, cfg.profile, "train", cfg.run_id)
    rec = records.read_record(path)
    if rec is None:
        return None
    if rec.get("config") and RunConfig.from_dict(rec["config"]).material() != cfg.material():
        raise ConfigError(f"a record {path} exists for run {cfg.run_id} with a different configuration; "
                          "use --force to replace it or --tag to keep both")
    return rec


def training_data(cfg: RunConfig, data: datamod.DataBundle | None, device: torch.device) -> datamod.DataBundle:
    """The run's data (loaded unless given), checked against its batch size."""
    if data is None:
        data = datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)
    if len(data.train) < cfg.batch_size:
        raise ConfigError(f"batch size {cfg.batch_size} is larger than the {len(data.train)} training examples")
    check_last_batch(len(data.train), cfg.batch_size)
    return data


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's weights on the CPU (what checkpoints hold)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class StoppingRule:
    """When a run ends before its epoch cap (``config``; Section 2's "until the loss ceases to improve"):
    ``diverged`` on a non-finite loss; ``plateau`` once the full-pass training loss has not reached a new best at
    least ``rel_tol`` below the previous best for ``patience`` consecutive epochs."""

    def __init__(self, first_loss: float, rel_tol: float, patience: int):
        self.best, self.wait, self.rel_tol, self.patience = first_loss, 0, rel_tol, patience

    def after_epoch(self, train_loss: float, running_loss: float) -> str | None:
        """The reason to stop after an epoch whose full-pass and running losses are these, or None."""
        if not (math.isfinite(train_loss) and math.isfinite(running_loss)):
            return "diverged"
        if train_loss < self.best * (1 - self.rel_tol):
            self.best, self.wait = train_loss, 0
            return None
        self.wait += 1
        return "plateau" if self.wait >= self.patience else None


class Snapshots:
    """Figure 6: the weights after the steps in ``cfg.extra["snapshot_steps"]`` (step 0 = x0), saved as
    ``step<k>.pt`` next to the run's checkpoints."""

    def __init__(self, model: nn.Module, cfg: RunConfig, folder: Path):
        self.model, self.cfg, self.folder = model, cfg, Path(folder)
        self.at = {int(s) for s in cfg.extra.get("snapshot_steps", ())}
        self.saved: list[int] = []

    def take(self, step: int) -> None:
        if step in self.at:
            records.atomic_torch_save(cpu_state(self.model), self.folder / f"step{step}.pt")
            self.saved.append(step)

    def on_step(self, progress: Progress) -> None:
        self.take(progress.step)

    @property
    def hook(self) -> Callable[[Progress], None] | None:
        """The ``on_step`` hook, None when no snapshot is asked for (the steps then skip the call)."""
        return self.on_step if self.at else None


def measure(model: nn.Module, data: datamod.DataBundle, cfg: RunConfig, epoch: int, step: int,
            times: tuple[float, float]) -> dict:
    """One row of a run's history: loss and accuracy on the full training set, the test set and any extra
    test set (eval mode, ``evaluate``); ``times`` = (run start, seconds in training steps so far)."""
    t_start, t_train = times
    row = dict(epoch=epoch, step=step, time_s=round(time.perf_counter() - t_start, 3),
               train_time_s=round(t_train, 3))
    row["train_loss"], row["train_acc"] = evaluate(model, data.train, cfg.eval_batch_size)
    row["test_loss"], row["test_acc"] = evaluate(model, data.test, cfg.eval_batch_size)
    for name, ds in data.extra.items():
        row[f"{name}_loss"], row[f"{name}_acc"] = evaluate(model, ds, cfg.eval_batch_size)
    return row


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# A long epoch also saves the resume state every this many seconds (after the batch that passes it).
SAVE_EVERY_S = 300.0


@dataclass
class EpochState:
    """Where the epoch loop stands: what :class:`ResumeState` saves and a resumed run starts from. ``epoch``:
    the last complete one; ``partial``: saved within the next epoch (``order``: the data-order generator at its
    start, ``batch``: batches done, ``running``: their summed loss), else None."""

    epoch: int
    history: list[dict]
    rule: StoppingRule
    t_train: float
    partial: dict | None = None


def train_epochs(trainer: Trainer, data: datamod.DataBundle, snapshots: Snapshots, t_start: float,
                 on_epoch: Callable[[dict], None] | None = None, bar=None, start: EpochState | None = None,
                 save: Callable[[EpochState], None] | None = None, save_every_s: float | None = None,
                 on_step: Callable[[Progress, int, int], None] | None = None) -> tuple[list[dict], str, float]:
    """The epoch loop of a run: an epoch of steps, then its evaluation row, until the :class:`StoppingRule` or
    the epoch cap ends it. Returns (history, stop reason, seconds spent in training steps). ``start``: go on
    from a saved state (a resumed run) instead of x0; ``save``: called with the state after each epoch that
    does not end the run (before ``on_epoch``) and, with ``save_every_s``, within an epoch once that many
    seconds have passed since the last save. ``on_step(progress, epoch, batches per epoch)``: called after every
    step, after the snapshot and save hooks (it only reads the progress: a log line within a long epoch)."""
    cfg, model = trainer.cfg, trainer.model
    if start is None:
        snapshots.take(0)   # step 0 = x0
        history = [measure(model, data, cfg, 0, 0, (t_start, 0.0))]
        start = EpochState(0, history, StoppingRule(history[0]["train_loss"], cfg.rel_tol, cfg.patience), 0.0)
    history, rule, t_train = start.history, start.rule, start.t_train
    n_batches = math.ceil(len(data.train) / cfg.batch_size)
    last_save = time.monotonic()
    model.train()
    for epoch in range(start.epoch + 1, cfg.max_epochs + 1):
        part = start.partial if epoch == start.epoch + 1 else None
        if part is not None:
            trainer.generator.set_state(part["order"])
        order, hook = trainer.generator.get_state(), snapshots.hook
        _synchronize(trainer.device)
        t0 = time.perf_counter()
        if save is not None and save_every_s is not None:
            def hook(progress: Progress, epoch=epoch, order=order, t0=t0, before=t_train) -> None:
                nonlocal last_save
                snapshots.take(progress.step)
                if time.monotonic() - last_save >= save_every_s and progress.batch < n_batches:
                    running = progress.running.detach().cpu().clone()
                    save(EpochState(epoch - 1, history, rule, before + time.perf_counter() - t0,
                                    dict(order=order, batch=progress.batch, running=running)))
                    last_save = time.monotonic()
        if on_step is not None:
            def hook(progress: Progress, epoch=epoch, inner=hook) -> None:
                if inner is not None:
                    inner(progress)
                on_step(progress, epoch, n_batches)
        _, running = trainer.epoch(data.train, hook, *((part["batch"], part["running"]) if part else ()))
        _synchronize(trainer.device)
        t_train += time.perf_counter() - t0
        row = measure(model, data, cfg, epoch, trainer.progress.step, (t_start, t_train))
        history.append(row)
        stop = rule.after_epoch(row["train_loss"], float(running))
        if not stop and save is not None and epoch < cfg.max_epochs:
            save(EpochState(epoch, history, rule, t_train))
            last_save = time.monotonic()
        if on_epoch:
            on_epoch(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", acc=f"{row['train_acc']:.4f}",
                            test=f"{row['test_acc']:.4f}")
        if stop:
            return history, stop, t_train
    return history, "max_epochs", t_train


class ResumeState:
    """Training state of an unfinished run, ``resume.pt`` in its checkpoint folder, written atomically after every
    epoch (and every :data:`SAVE_EVERY_S` seconds within a long one): the model, the optimizer, every random
    stream (data order, dropout, augmentation), the step counters, the history, the stopping rule and the kept
    iterates so far (x0 is ``x0.pt`` beside it, written when the run starts). Rerunning the run resumes from it
    and ends with the record and weights an uninterrupted run would have (bit-identical on a CPU); it is removed
    when the run finishes. A state of another configuration (config hash) or another code version (lbgap version and
    git commit, ``records.git_commit``) is never used: that run starts afresh."""

    def __init__(self, trainer: Trainer, snapshots: Snapshots, folder: Path):
        self.trainer, self.snapshots, self.path = trainer, snapshots, Path(folder) / checkpoints.RESUME
        self.chash = checkpoints.config_hash(trainer.cfg)
        self.code = f"{__version__} {records.git_commit()}"

    def save(self, state: EpochState) -> None:
        t, dev = self.trainer, self.trainer.device
        rngs = dict(data_order=t.generator.get_state(), dropout_cpu=torch.get_rng_state())
        if dev.type == "cuda":
            rngs["dropout_cuda"] = torch.cuda.get_rng_state(dev)
        if t.transform is not None:
            rngs["augment"] = t.transform.generator.get_state()
        records.atomic_torch_save(dict(
            config_hash=self.chash, code=self.code, epoch=state.epoch, history=state.history, t_train=state.t_train,
            rule=dict(best=state.rule.best, wait=state.rule.wait), step=t.progress.step,
            examples=t.progress.examples, model=cpu_state(t.model), optimizer=t.opt.state_dict(), rng=rngs,
            snapshots=list(self.snapshots.saved), partial=state.partial), self.path)

    def load(self) -> tuple[EpochState, dict] | None:
        """Restore the trainer from the saved state; returns (where the loop stands, x0's weights), or None
        when there is no state of this configuration and code (or no x0 beside it)."""
        x0_path = self.path.parent / "x0.pt"
        if not (self.path.is_file() and x0_path.is_file()):
            return None
        saved = torch.load(self.path, map_location="cpu", weights_only=True)
        if (saved.get("config_hash"), saved.get("code")) != (self.chash, self.code):
            return None
        t, cfg = self.trainer, self.trainer.cfg
        t.model.load_state_dict(saved["model"])
        t.opt.load_state_dict(saved["optimizer"])
        rngs = saved["rng"]
        t.generator.set_state(rngs["data_order"])
        torch.set_rng_state(rngs["dropout_cpu"])
        if "dropout_cuda" in rngs:
            torch.cuda.set_rng_state(rngs["dropout_cuda"], t.device)
        if t.transform is not None:
            t.transform.generator.set_state(rngs["augment"])
        t.progress.step, t.progress.examples = saved["step"], saved["examples"]
        self.snapshots.saved[:] = saved["snapshots"]
        rule = StoppingRule(saved["rule"]["best"], cfg.rel_tol, cfg.patience)
        rule.wait = saved["rule"]["wait"]
        x0 = torch.load(x0_path, map_location="cpu", weights_only=True)
        return EpochState(saved["epoch"], saved["history"], rule, saved["t_train"], saved["partial"]), x0

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def save_checkpoints(model: nn.Module, folder: Path, results_dir: str | Path | None = None) -> str:
    """Write final.pt into ``folder`` (x0.pt is there since the run started); returns how the record names the
    folder, without this machine's paths (``checkpoints.describe``)."""
    records.atomic_torch_save(cpu_state(model), folder / "final.pt")
    return checkpoints.describe(folder, results_dir)


def _progress_bar(cfg: RunConfig, show: bool | None):
    if not (show if show is not None else _show_progress()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.max_epochs, desc=cfg.run_id, unit="epoch", leave=False)


def _with_pause(on_epoch: Callable[[dict], None] | None) -> Callable[[dict], None] | None:
    """``on_epoch`` followed by a pause of ``$LBGAP_EPOCH_PAUSE_S`` seconds (testing crash safety: a run slowed
    down so that it can be killed between epochs)."""
    pause = float(os.environ.get("LBGAP_EPOCH_PAUSE_S") or 0)
    if not pause:
        return on_epoch

    def hook(row: dict) -> None:
        if on_epoch:
            on_epoch(row)
        time.sleep(pause)
    return hook


def train(cfg: RunConfig, results_dir: str | Path | None = None, force: bool = False,
          data: datamod.DataBundle | None = None, progress: bool | None = None,
          on_epoch: Callable[[dict], None] | None = None, log: Callable[[str], None] = print,
          on_step: Callable[[Progress, int, int], None] | None = None) -> dict:
    """Run one training job and write its record; returns the record (the existing one if already done).

    Skip a run already recorded (unless ``force``); set up (:func:`training_data`, :func:`make_trainer`); resume
    from the state an interrupted run of this configuration and code left (:class:`ResumeState`; ``log`` says
    so: rerunning a killed command, ``force`` or not, goes on where it stopped); train
    epoch by epoch until the stopping rule or the cap (:func:`train_epochs`), saving that state after each
    epoch; save checkpoints into the run's folder of this store (``checkpoints.run_dir``); write the record,
    which names that folder and the config hash. ``progress``: show a progress bar (default: on a terminal);
    ``on_epoch``: called with each history row; ``on_step``: called after every step (:func:`train_epochs`)."""
    results_dir = records.store_root(results_dir)
    records.check_store(results_dir, cfg.profile, cfg.run_id)   # before any data is loaded or step taken
    if not force:
        done = existing_record(cfg, results_dir)
        if done is not None:
            done["skipped"] = True
            return done
    device = compute_device(cfg.device)
    started, t_start, load_at_start = records.now(), time.perf_counter(), records.host_load()
    data = training_data(cfg, data, device)
    trainer = make_trainer(cfg, data.num_classes, device, results_dir)
    model, policy = trainer.model, precision_policy(cfg, device)
    folder = checkpoints.run_dir(cfg, results_dir)
    checkpoints.stamp(cfg, folder)
    snapshots = Snapshots(model, cfg, folder)
    state = ResumeState(trainer, snapshots, folder)
    resumed = state.load()
    start, x0_state = resumed if resumed is not None else (None, cpu_state(model))
    if start is None:
        records.atomic_torch_save(x0_state, folder / "x0.pt")
    else:
        within = start.partial and f" and batch {start.partial['batch']} of epoch {start.epoch + 1}"
        log(f"resuming {cfg.run_id} from epoch {start.epoch}{within or ''}")
    x0 = torch.cat([x0_state[n].reshape(-1) for n, p in model.named_parameters() if p.requires_grad]).to(device)
    bar = _progress_bar(cfg, progress)
    if bar is not None and start is not None:
        bar.update(start.epoch)
    history, stop_reason, t_train = train_epochs(trainer, data, snapshots, t_start, _with_pause(on_epoch), bar,
                                                 start, state.save, SAVE_EVERY_S, on_step)
    if bar is not None:
        bar.close()
    status = "diverged" if stop_reason == "diverged" else "ok"
    dist = float((flat_params(model) - x0).norm())
    ckpt = save_checkpoints(model, folder, results_dir) if cfg.save_checkpoints else None
    step, samples = trainer.progress.step, trainer.progress.examples
    snap_at, snapped = snapshots.at, snapshots.saved
    last = history[-1]
    final = {k: v for k, v in last.items() if k.endswith(("_loss", "_acc"))}
    wall = time.perf_counter() - t_start
    rec = records.write_record(
        results_dir, cfg.profile, "train", cfg.run_id, status=status, stop_reason=stop_reason,
        config=cfg.to_dict(), data=data.info, epochs=last["epoch"], steps=step,
        optimizer_steps=step * int(cfg.inner_steps), final=final,
        dist_from_init=dist, x0_norm=float(x0.norm()), samples_per_s=samples / t_train if t_train else None,
        train_time_s=t_train, history=history, checkpoint=ckpt, config_hash=checkpoints.config_hash(cfg),
        **(dict(snapshots=snapped) if snap_at else {}),
        provenance=dict(records.provenance(device, wall, started, load_at_start), precision=policy),
    )
    state.remove()
    if ckpt is None:   # x0 was only kept for resuming; with nothing else kept, no folder is left behind
        (folder / "x0.pt").unlink(missing_ok=True)
    if ckpt is None and not snapped:
        (folder / checkpoints.STAMP).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
    return rec


def sb_lb_configs(net: str, seed: int, profile: str, **overrides) -> list[RunConfig]:
    """The SB and LB configurations of one (network, seed) pair under ``profile``."""
    return [make_config(net, regime, seed, profile, **overrides) for regime in ("SB", "LB")]


__all__ = ["ConfigError", "RunConfig", "make_config", "train", "train_epoch", "precision_policy", "compiled",
           "StopTraining", "Progress", "Trainer", "make_trainer", "DROPOUT_SEED_OFFSET", "StoppingRule",
           "apply_float32_policy", "compute_device", "uses_cudagraphs", "check_last_batch",
           "evaluate", "epoch_batches", "make_optimizer",
           "initial_model", "flat_params", "checkpoint_dir", "ResumeState", "EpochState", "sb_lb_configs", "replace"]
