"""A trained run, found from its id: its configuration, its training record, its checkpoints, its model.

The measures (sharpness, landscape, the evaluation-order check) start from a finished training run. A run is
named by its id (``F1-mnist-official-b256-s0``, as ``lbgap status`` lists them) under a profile and a record
store, or by the path of its training record; :func:`resolve` finds the record and rebuilds the
:class:`~lbgap.core.config.RunConfig` it was trained with, :func:`load` the data and the model with its
weights, evaluated in IEEE float32 (no TF32 on a GPU: ``precision.compute_device``).

The weights are those the training record names: the folder of its config hash in its store's checkpoint store
(``checkpoints.run_dir``; records older than the hash: the old place, ``checkpoints.legacy_dir``). Weights
written for another configuration are refused (``checkpoints.CheckpointMismatch``) with one line naming the
file and how to recompute them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lbgap.core import records
from lbgap.core.config import RunConfig


@dataclass(frozen=True)
class Run:
    """A trained run: its configuration, its training record and where that record is."""
    config: RunConfig
    record: dict        # the training record (``records.TrainRecord``), upgraded to the current schema
    path: Path          # where the training record is

    @property
    def results_dir(self) -> Path:
        """The record store this run's training record is in (``<store>/<profile>/train/<run id>.json``)."""
        return self.path.parent.parent.parent

    @property
    def config_hash(self) -> str | None:
        """The config hash the record names (None in records written before it existed)."""
        return self.record.get("config_hash")

    def folder(self) -> Path:
        """The checkpoint folder the record names, checked against its config hash."""
        from lbgap.core import checkpoints

        if self.config_hash is None:
            return checkpoints.legacy_dir(self.config)
        folder = checkpoints.run_dir(self.config, self.results_dir, self.config_hash)
        if folder.is_dir():
            checkpoints.verify(folder, self.config_hash, f"training record {self.path}",
                               checkpoints.retrain_hint(self.config, self.results_dir))
        return folder

    def checkpoint(self, which: str = "final") -> Path:
        """The saved weights ``which`` (``x0``, ``final`` or ``step<N>``) of this run (they may not exist:
        checkpoints are not committed)."""
        return self.folder() / f"{which}.pt"

    def model(self, which: str = "final", device="cpu", num_classes: int | None = None):
        """The run's network with its ``which`` weights, on ``device``; a missing file is one clear error."""
        import torch

        from lbgap.core import checkpoints
        from lbgap.core.models import build_model

        path = self.checkpoint(which)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint {path} for training record {self.path}; "
                                    f"{checkpoints.retrain_hint(self.config, self.results_dir)}")
        model = build_model(self.config.net, bn=self.config.bn, num_classes=num_classes)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.to(device)

    def load(self, device: str = "auto", which: str = "final"):
        """``(model, data, device)``: this run's model with its ``which`` weights and its data, on the compute
        device (``device="auto"``: a GPU if there is one) with the project's float32 policy applied."""
        from lbgap.core.precision import compute_device

        dev = compute_device(device)
        data = load_data(self.config, dev)
        return self.model(which, dev, data.num_classes), data, dev


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


def find(cfg: RunConfig, results_dir: str | os.PathLike | None = None) -> Run:
    """The training run of configuration ``cfg`` in the store ``results_dir``: its record must exist and be of
    that configuration (device, precision and compile mode aside), else one clear error."""
    run = resolve(cfg.run_id, cfg.profile, results_dir)
    if run.config.material() != cfg.material():
        diff = sorted(k for k, v in cfg.material().items() if run.config.material().get(k) != v)
        raise ValueError(f"training record {run.path} is of another configuration than {cfg.run_id} asked for "
                         f"(differs in {', '.join(diff)}); give the --results-dir it was trained into, or retrain")
    return run


def checkpoint_path(cfg: RunConfig, which: str = "final", results_dir: str | os.PathLike | None = None) -> Path:
    """The ``which`` weights of run ``cfg`` as its training record in ``results_dir`` names them."""
    return find(cfg, results_dir).checkpoint(which)


def load_data(cfg: RunConfig, device):
    """The data bundle run ``cfg`` was trained and evaluated on, on ``device`` (a ``torch.device``)."""
    from lbgap.core import data as datamod

    return datamod.load(cfg.dataset, cfg.split, cfg.source, device, cfg.n_train, cfg.n_test)


def load(cfg: RunConfig, device: str = "auto", which: str = "final", results_dir: str | os.PathLike | None = None):
    """``(model, data, device)``: :meth:`Run.load` of the run of ``cfg`` in the store ``results_dir``."""
    return find(cfg, results_dir).load(device, which)


__all__ = ["Run", "resolve", "find", "checkpoint_path", "load_data", "load"]
