"""A trained run, found from its id: its configuration, its training record, its checkpoints, its model.

The measures (sharpness, landscape, the evaluation-order check) start from a finished training run. A run is
named by its id (``F1-mnist-official-b256-s0``, as ``lbgap status`` lists them) under a profile and a record
store, or by the path of its training record; :func:`resolve` finds the record and rebuilds the
:class:`~lbgap.core.config.RunConfig` it was trained with, :func:`load` the data and the model with its
weights, evaluated in IEEE float32 (no TF32 on a GPU: ``train.compute_device``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lbgap.core import records
from lbgap.core.config import RunConfig


@dataclass(frozen=True)
class Run:
    config: RunConfig
    record: dict        # the training record (``records.TrainRecord``), upgraded to the current schema
    path: Path          # where the training record is

    def checkpoint(self, which: str = "final") -> Path:
        """The saved weights ``which`` (``x0``, ``final`` or ``step<N>``) of this run (they may not exist:
        checkpoints are not committed)."""
        return checkpoint_path(self.config, which)

    def load(self, device: str = "auto", which: str = "final"):
        """``(model, data, device)``: :func:`load` of this run."""
        return load(self.config, device, which)


def resolve(run: str | os.PathLike, profile: str = "paper", results_dir: str | os.PathLike | None = None) -> Run:
    """The run ``run`` (a train run id under ``profile`` in ``results_dir``, or the path of a ``.json`` train
    record) with the configuration its training record stores."""
    path = Path(run)
    if path.suffix != ".json":
        path = records.record_path(results_dir, profile, "train", str(run))
    rec = records.read_record(path)
    if rec is None:
        raise FileNotFoundError(f"no training record {path}; give a run id that `lbgap status` lists (with the "
                                "right --profile/--results-dir) or the path of a train record")
    if rec.get("kind") != "train":
        raise ValueError(f"{path} is a {rec.get('kind')!r} record, not a training record; give a train run")
    return Run(RunConfig.from_dict(rec["config"]), rec, path)


def checkpoint_path(cfg: RunConfig, which: str = "final") -> Path:
    from lbgap.core.train import checkpoint_dir

    return checkpoint_dir(cfg) / f"{which}.pt"


def load_data(cfg: RunConfig, device):
    """The data bundle run ``cfg`` was trained and evaluated on, on ``device`` (a ``torch.device``)."""
    from lbgap.core import data as datamod

    return datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)


def load(cfg: RunConfig, device: str = "auto", which: str = "final"):
    """``(model, data, device)``: run ``cfg``'s model with its ``which`` weights and its data, on the compute
    device (``device="auto"``: a GPU if there is one) with the project's float32 policy applied."""
    from lbgap.core.train import compute_device, load_checkpoint

    dev = compute_device(device)
    data = load_data(cfg, dev)
    return load_checkpoint(cfg, which, dev, data.num_classes), data, dev


__all__ = ["Run", "resolve", "checkpoint_path", "load_data", "load"]
