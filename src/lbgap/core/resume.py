"""Resume state: an interrupted training run goes on where it stopped (``resume.pt`` in its checkpoint folder).

:class:`EpochState` is where the epoch loop stands; :class:`ResumeState` writes it, with everything else a run
needs to go on bit for bit (the model, the optimizer, every random stream, the step counters and the kept
iterates), and reads it back into a freshly built trainer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lbgap import __version__
from lbgap.core import checkpoints, records
from lbgap.core.stopping import StoppingRule

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


class ResumeState:
    """Training state of an unfinished run, ``resume.pt`` in its checkpoint folder, written atomically after every
    epoch (and every ``train.SAVE_EVERY_S`` seconds within a long one): the model, the optimizer, every random
    stream (data order, dropout, augmentation), the step counters, the history, the stopping rule and the kept
    iterates so far (x0 is ``x0.pt`` beside it, written when the run starts). Rerunning the run resumes from it
    and ends with the record and weights an uninterrupted run would have (bit-identical on a CPU); it is removed
    when the run finishes. A state of another configuration (config hash) or another code version (lbgap version and
    git commit, ``records.git_commit``) is never used: that run starts afresh.

    ``trainer``: a ``train.Trainer``; ``snapshots``: the run's ``train.Snapshots`` (its ``saved`` steps)."""

    def __init__(self, trainer, snapshots, folder: Path):
        self.trainer, self.snapshots, self.path = trainer, snapshots, Path(folder) / checkpoints.RESUME
        self.chash = checkpoints.config_hash(trainer.cfg)
        self.code = f"{__version__} {records.git_commit()}"

    def save(self, state: EpochState) -> None:
        """Write ``state`` and the trainer's state atomically (a kill leaves the previous state whole)."""
        t, dev = self.trainer, self.trainer.device
        rngs = dict(data_order=t.generator.get_state(), dropout_cpu=torch.get_rng_state())
        if dev.type == "cuda":
            rngs["dropout_cuda"] = torch.cuda.get_rng_state(dev)
        if t.transform is not None:
            rngs["augment"] = t.transform.generator.get_state()
        records.atomic_torch_save(dict(
            config_hash=self.chash, code=self.code, epoch=state.epoch, history=state.history, t_train=state.t_train,
            rule=dict(best=state.rule.best, wait=state.rule.wait), step=t.progress.step,
            examples=t.progress.examples, model=checkpoints.cpu_state(t.model), optimizer=t.opt.state_dict(),
            rng=rngs, snapshots=list(self.snapshots.saved), partial=state.partial), self.path)

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
        """Delete the state (the run finished)."""
        self.path.unlink(missing_ok=True)
