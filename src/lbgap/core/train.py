"""Small-batch (SB) vs large-batch (LB) training, Section 2 / Table 2 of Keskar et al. (2017).

Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), no weight decay, no schedule, identical for both regimes;
SB = 256, LB = 10 % of the training set actually used. For a given seed SB and LB start from the same
initial weights x0 (the model is built right after ``torch.manual_seed(seed)``) and use the same
data-order seed. Each epoch reshuffles (Keras ``fit(shuffle=True)``) and keeps the last partial batch.

After every epoch the full training set and the test set are evaluated in ``eval()`` mode (dropout off;
with ``bn="batch"`` BN still normalises with the statistics of each evaluation batch, as Keras mode=2)
at a fixed, recorded evaluation batch size, in the dataset's fixed evaluation batches (consecutive for
MNIST/CIFAR, interleaved across speakers for speech frames: ``eval_batches``). The run stops on a plateau
of the training loss or at the cap (``stopping``), or with status ``diverged`` on a non-finite loss.

Read top to bottom: the building blocks (model, optimizer, batches, evaluation), one epoch of optimizer
steps (:func:`train_epoch`, its settings in :class:`StepOptions`), a run's trainer (:class:`Trainer`), the
epoch loop with its per-step hooks (:func:`train_epochs`) and a whole run with its record (:func:`train`).
The configuration is checked in :mod:`lbgap.core.config`, the device and precision policy is
:mod:`lbgap.core.precision`, the resume state :mod:`lbgap.core.resume`.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from lbgap.core import augment
from lbgap.core import checkpoints
from lbgap.core import data as datamod
from lbgap.core import paths  # noqa: F401  (tests point paths.CHECKPOINT_DIR elsewhere through this module)
from lbgap.core import records
from lbgap.core import sam
from lbgap.core.checkpoints import cpu_state
from lbgap.core.config import (COMPILE_MODES, ConfigError, RunConfig, default_split, make_config,
                               resolve_batch_size, sb_lb_configs, train_size)
from lbgap.core.models import NETS, build_model, keras_cross_entropy, use_ghost_batches
from lbgap.core.precision import (TF32, apply_float32_policy, autocast, compiled, compute_device,
                                  precision_policy, uses_cudagraphs)
from lbgap.core.resume import EpochState, ResumeState
from lbgap.core.stopping import StoppingRule

logger = logging.getLogger(__name__)


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
    """The trainable parameters as one detached vector (the space of the paper's x)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def check_last_batch(n: int, batch_size: int, what: str = "training examples") -> None:
    """A BatchNorm net in training mode cannot normalise a batch of one example; an epoch of ``n`` examples in
    batches of ``batch_size`` (last partial batch kept, as Keras does) must not end with one."""
    if n > 1 and n % batch_size == 1:
        raise ConfigError(f"{n} {what} in batches of {batch_size} leave a last batch of 1 example, which "
                          f"BatchNorm cannot normalise in training mode; use {n - 1} or {n + 1} examples, or "
                          "another batch size")


# ------------------------------------------------------------------------------------- one epoch of steps
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


@dataclass
class StepOptions:
    """How :func:`train_epoch` takes its steps; :meth:`of` builds those of a run.

    ``autocast``: the precision context (``precision.autocast``); ``cudagraphs``: mark each step for a compiled
    model that replays CUDA graphs. ``inner_steps``/``prox``: conservative training (Appendix E.2, after Li et
    al. 2014): each batch B_k solves x_{k+1} = argmin_x f_{B_k}(x) + (prox/2)||x - x_k||^2 (Eq. 5)
    approximately with ``inner_steps`` steps of the same optimizer (one persistent Adam, lr unchanged: the
    paper's "3 iterations of ADAM", lambda = 1e-3); 1 and 0 are plain training. ``sam_rho``: sharpness-aware
    minimisation (``sam``): the update uses the gradient at x + rho g/||g||. ``transform``: applied to each
    training batch (data augmentation, Appendix E.1: ``augment.make``). ``lr_at(step)``: the learning rate of
    each step (a warm-up, :func:`warmup_lr`), set before it."""

    batch_size: int
    autocast: contextlib.AbstractContextManager = field(default_factory=contextlib.nullcontext)
    cudagraphs: bool = False
    inner_steps: int = 1
    prox: float = 0.0
    sam_rho: float = 0.0
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    lr_at: Callable[[int], float] | None = None

    @classmethod
    def of(cls, cfg: RunConfig, device: torch.device, n_train: int,
           transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> "StepOptions":
        """The steps of run ``cfg`` on ``device`` over ``n_train`` training examples."""
        return cls(cfg.batch_size, autocast(cfg, device), cudagraphs=uses_cudagraphs(cfg.compile),
                   inner_steps=int(cfg.inner_steps), prox=float(cfg.prox), sam_rho=float(cfg.sam_rho),
                   transform=transform, lr_at=warmup_lr(cfg, math.ceil(n_train / cfg.batch_size)))


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, dataset, generator: torch.Generator,
                options: StepOptions, on_step: Callable[[Progress], None] | None = None,
                progress: Progress | None = None,
                resume: tuple[int, torch.Tensor] | None = None) -> tuple[int, torch.Tensor]:
    """One shuffled epoch of SGD/Adam steps (``options``: :class:`StepOptions`) with no host synchronisation;
    returns (batches, summed loss at the start of each batch).

    ``on_step(progress)``: called after each batch's update with the run's :class:`Progress` (``progress``,
    advanced here across epochs; without it, a fresh one counting from this epoch's start). The hook may
    evaluate, take snapshots (Figure 6) or probe the model, and raise :class:`StopTraining` to end training
    after that step: the exception reaches the caller (:meth:`Trainer.until_stopped` catches it).

    ``resume=(skip, running)``: go on with an epoch interrupted after ``skip`` batches whose summed loss was
    ``running`` (a resumed run; ``generator`` in the state it had at the start of that epoch)."""
    o, device = options, dataset.device
    skip, running = resume if resume is not None else (0, None)
    progress = Progress() if progress is None else progress
    running = torch.zeros((), device=device) if running is None else running.to(device).clone()
    progress.running, progress.batch = running, skip
    steps = skip
    params = [p for g in opt.param_groups for p in g["params"]] if (o.prox or o.sam_rho) else []
    for idx in epoch_batches(len(dataset), o.batch_size, generator, device)[skip:]:
        x, y = dataset.batch(idx)
        if o.transform is not None:
            x = o.transform(x)
        if device.type == "cuda" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        anchor = [p.detach().clone() for p in params] if o.prox else None   # x_k
        if o.lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = o.lr_at(progress.step)
        for inner in range(o.inner_steps):
            if o.cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()
            with o.autocast:
                loss = keras_cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if o.sam_rho:
                e = sam.ascend(params, o.sam_rho)
                with o.autocast:
                    perturbed = keras_cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                perturbed.backward()
                sam.descend(params, e)
            if o.prox:
                with torch.no_grad():
                    torch._foreach_add_([p.grad for p in params], torch._foreach_sub(params, anchor), alpha=o.prox)
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


# ------------------------------------------------------------------------------------------- a run's trainer
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

    def epoch(self, dataset, on_step: Callable[[Progress], None] | None = None,
              resume: tuple[int, torch.Tensor] | None = None) -> tuple[int, torch.Tensor]:
        """One shuffled epoch of :func:`train_epoch` (``resume=(skip, running)``: the rest of one, after ``skip``
        batches whose summed loss was ``running``); returns (batches, summed loss at the start of each)."""
        options = StepOptions.of(self.cfg, self.device, len(dataset), self.transform)
        return train_epoch(self.step_model, self.opt, dataset, self.generator, options, on_step, self.progress,
                           resume)

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


def training_data(cfg: RunConfig, data: datamod.DataBundle | None, device: torch.device) -> datamod.DataBundle:
    """The run's data (loaded unless given), checked against its batch size."""
    if data is None:
        data = datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)
    if len(data.train) < cfg.batch_size:
        raise ConfigError(f"batch size {cfg.batch_size} is larger than the {len(data.train)} training examples")
    check_last_batch(len(data.train), cfg.batch_size)
    return data


# ------------------------------------------------------------------------------------------- the epoch loop
class Snapshots:
    """Figure 6: the weights after the steps in ``cfg.extra["snapshot_steps"]`` (step 0 = x0), saved as
    ``step<k>.pt`` next to the run's checkpoints."""

    def __init__(self, model: nn.Module, cfg: RunConfig, folder: Path):
        self.model, self.cfg, self.folder = model, cfg, Path(folder)
        self.at = {int(s) for s in cfg.extra.get("snapshot_steps", ())}
        self.saved: list[int] = []

    def take(self, step: int) -> None:
        """Save the weights if ``step`` is one of the kept steps."""
        if step in self.at:
            records.atomic_torch_save(cpu_state(self.model), self.folder / f"step{step}.pt")
            self.saved.append(step)

    def on_step(self, progress: Progress) -> None:
        """The per-step hook: :meth:`take` the step just trained."""
        self.take(progress.step)


class PeriodicSave:
    """A per-step hook that saves the resume state within a long epoch, once ``every_s`` seconds have passed
    since the last save (:meth:`saved` restarts the clock; :meth:`begin_epoch` says where the epoch started)."""

    def __init__(self, save: Callable[[EpochState], None], every_s: float, n_batches: int):
        self.save, self.every_s, self.n_batches = save, every_s, n_batches
        self.last = time.monotonic()
        self.epoch, self.order, self.t0, self.before = 0, None, 0.0, 0.0
        self.history: list[dict] = []
        self.rule: StoppingRule | None = None

    def begin_epoch(self, epoch: int, order: torch.Tensor, t0: float, state: EpochState) -> None:
        """Epoch ``epoch`` starts at ``t0`` with the data order ``order`` after the loop's ``state``."""
        self.epoch, self.order, self.t0 = epoch, order, t0
        self.history, self.rule, self.before = state.history, state.rule, state.t_train

    def saved(self) -> None:
        """The state was just saved (after an epoch)."""
        self.last = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        if time.monotonic() - self.last >= self.every_s and progress.batch < self.n_batches:
            running = progress.running.detach().cpu().clone()
            self.save(EpochState(self.epoch - 1, self.history, self.rule, self.before + time.perf_counter() - self.t0,
                                 dict(order=self.order, batch=progress.batch, running=running)))
            self.saved()


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


def train_epochs(trainer: Trainer, data: datamod.DataBundle, snapshots: Snapshots, t_start: float,
                 on_epoch: Callable[[dict], None] | None = None, bar=None, start: EpochState | None = None,
                 save: Callable[[EpochState], None] | None = None, save_every_s: float | None = None,
                 on_step: Callable[[Progress, int, int], None] | None = None) -> tuple[list[dict], str, float]:
    """The epoch loop of a run: an epoch of steps, then its evaluation row, until the :class:`StoppingRule` or
    the epoch cap ends it. Returns (history, stop reason, seconds spent in training steps). ``start``: go on
    from a saved state (a resumed run) instead of x0; ``save``: called with the state after each epoch that
    does not end the run (before ``on_epoch``) and, with ``save_every_s``, within an epoch once that many
    seconds have passed since the last save. ``on_step(progress, epoch, batches per epoch)``: called after every
    step, after the snapshot and save hooks (it only reads the progress: a log line within a long epoch).

    After each step the hooks run in this order: the snapshot (:class:`Snapshots`), the periodic save
    (:class:`PeriodicSave`), ``on_step``."""
    cfg, model = trainer.cfg, trainer.model
    if start is None:
        snapshots.take(0)   # step 0 = x0
        history = [measure(model, data, cfg, 0, 0, (t_start, 0.0))]
        start = EpochState(0, history, StoppingRule(history[0]["train_loss"], cfg.rel_tol, cfg.patience), 0.0)
    history, rule, t_train = start.history, start.rule, start.t_train
    n_batches = math.ceil(len(data.train) / cfg.batch_size)
    periodic = PeriodicSave(save, save_every_s, n_batches) if save is not None and save_every_s is not None else None
    epoch = start.epoch
    hooks: list[Callable[[Progress], None]] = []
    if snapshots.at:
        hooks.append(snapshots.on_step)
    if periodic is not None:
        hooks.append(periodic)
    if on_step is not None:
        hooks.append(lambda progress: on_step(progress, epoch, n_batches))

    def after_step(progress: Progress) -> None:
        for hook in hooks:
            hook(progress)

    model.train()
    for epoch in range(start.epoch + 1, cfg.max_epochs + 1):
        part = start.partial if epoch == start.epoch + 1 else None
        if part is not None:
            trainer.generator.set_state(part["order"])
        order = trainer.generator.get_state()
        _synchronize(trainer.device)
        t0 = time.perf_counter()
        if periodic is not None:
            periodic.begin_epoch(epoch, order, t0, EpochState(epoch - 1, history, rule, t_train))
        _, running = trainer.epoch(data.train, after_step if hooks else None,
                                   (part["batch"], part["running"]) if part else None)
        _synchronize(trainer.device)
        t_train += time.perf_counter() - t0
        row = measure(model, data, cfg, epoch, trainer.progress.step, (t_start, t_train))
        history.append(row)
        stop = rule.after_epoch(row["train_loss"], float(running))
        if not stop and save is not None and epoch < cfg.max_epochs:
            save(EpochState(epoch, history, rule, t_train))
            if periodic is not None:
                periodic.saved()
        if on_epoch:
            on_epoch(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", acc=f"{row['train_acc']:.4f}",
                            test=f"{row['test_acc']:.4f}")
        if stop:
            return history, stop, t_train
    return history, "max_epochs", t_train


# ------------------------------------------------------------------------------------------------- a run
def checkpoint_dir(cfg: RunConfig, results_dir: str | Path | None = None) -> Path:
    """Where run ``cfg`` trained into the store ``results_dir`` keeps its checkpoints (``checkpoints.run_dir``)."""
    return checkpoints.run_dir(cfg, results_dir)


def existing_record(cfg: RunConfig, results_dir: Path) -> dict | None:
    """The training record of run ``cfg`` in ``results_dir``, None if there is none; ConfigError if it was
    trained with another material configuration."""
    path = records.record_path(results_dir, cfg.profile, "train", cfg.run_id)
    rec = records.read_record(path)
    if rec is None:
        return None
    if rec.get("config") and RunConfig.from_dict(rec["config"]).material() != cfg.material():
        raise ConfigError(f"a record {path} exists for run {cfg.run_id} with a different configuration; "
                          "use --force to replace it or --tag to keep both")
    return rec


def save_checkpoints(model: nn.Module, folder: Path, results_dir: str | Path | None = None) -> str:
    """Write final.pt into ``folder`` (x0.pt is there since the run started); returns how the record names the
    folder, without this machine's paths (``checkpoints.describe``)."""
    records.atomic_torch_save(cpu_state(model), folder / "final.pt")
    return checkpoints.describe(folder, results_dir)


def _show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


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
          on_epoch: Callable[[dict], None] | None = None,
          on_step: Callable[[Progress, int, int], None] | None = None) -> dict:
    """Run one training job and write its record; returns the record (the existing one if already done).

    Skip a run already recorded (unless ``force``); set up (:func:`training_data`, :func:`make_trainer`); resume
    from the state an interrupted run of this configuration and code left (:class:`ResumeState`, logged: rerunning
    a killed command, ``force`` or not, goes on where it stopped); train epoch by epoch until the stopping rule or
    the cap (:func:`train_epochs`), saving that state after each epoch; save checkpoints into the run's folder of
    this store (``checkpoints.run_dir``); write the record, which names that folder and the config hash.
    ``progress``: show a progress bar (default: on a terminal); ``on_epoch``: called with each history row;
    ``on_step``: called after every step (:func:`train_epochs`)."""
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
        logger.info(f"resuming {cfg.run_id} from epoch {start.epoch}{within or ''}")
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


# Names that moved to their own modules and are still imported from here by the studies and measures.
__all__ = ["ConfigError", "RunConfig", "make_config", "sb_lb_configs", "train_size", "resolve_batch_size",
           "default_split", "COMPILE_MODES",                                               # lbgap.core.config
           "TF32", "apply_float32_policy", "compute_device", "autocast", "precision_policy", "compiled",
           "uses_cudagraphs",                                                              # lbgap.core.precision
           "EpochState", "ResumeState", "StoppingRule", "cpu_state",      # resume, stopping, checkpoints
           "make_optimizer", "initial_model", "epoch_batches", "evaluate", "warmup_lr", "flat_params",
           "check_last_batch", "StopTraining", "Progress", "StepOptions", "train_epoch", "DROPOUT_SEED_OFFSET",
           "Trainer", "make_trainer", "training_data", "Snapshots", "PeriodicSave", "measure", "SAVE_EVERY_S",
           "train_epochs", "checkpoint_dir", "existing_record", "save_checkpoints", "train"]
