"""Where a training run's weights live, and how a reader knows they are that run's.

A run's checkpoints (``x0.pt``, ``final.pt``, the kept iterates ``step<k>.pt``, and while it trains its
resume state ``resume.pt``) belong to the record store its training record is in:

* the default store (``data/results``): ``data/checkpoints/<profile>/<run id>-<config hash>`` (git-ignored;
  ``$LBGAP_CHECKPOINTS`` replaces ``data/checkpoints``);
* any other store (``--results-dir D``): ``D/_checkpoints/<profile>/<run id>-<config hash>``, never the
  repository.

The config hash (:func:`config_hash`) is a short SHA-256 of the whole configuration, so two configurations that
share a run id (another lr, another epoch cap) never share a folder. The training record stores it
(``config_hash``) and so does ``run.json`` in the folder; :func:`verify` refuses weights whose folder names
another configuration. Records written before the hash existed name no hash: their weights are read from the
old place, ``<checkpoint store>/<profile>/<run id>`` (:func:`legacy_dir`), as the code that wrote them did.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lbgap.core import paths
from lbgap.core import records
from lbgap.core.config import RunConfig

def cpu_state(model) -> dict:
    """A copy of ``model``'s weights on the CPU (what checkpoints hold)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


STAMP = "run.json"          # in each checkpoint folder: run id, config hash, config
RESUME = "resume.pt"        # training state while a run trains (removed when it finishes)
STORE_FOLDER = "_checkpoints"


class CheckpointMismatch(ValueError):
    """The weights found for a run were written for another configuration."""


def config_hash(cfg: RunConfig) -> str:
    """12 hex digits of the SHA-256 of the whole configuration (``RunConfig.to_dict``, keys sorted)."""
    text = json.dumps(json.loads(json.dumps(cfg.to_dict())), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def is_default_store(results_dir: str | os.PathLike | None) -> bool:
    """Whether ``results_dir`` is the default record store (``data/results``), whose checkpoints live in ``data/checkpoints``."""
    return results_dir is None or Path(results_dir).resolve() == paths.RESULTS_DIR.resolve()


def store_dir(results_dir: str | os.PathLike | None = None) -> Path:
    """The checkpoint store of a record store: ``$LBGAP_CHECKPOINTS`` (``data/checkpoints``) for the default
    one, ``<results_dir>/_checkpoints`` for any other."""
    if is_default_store(results_dir):
        return paths.CHECKPOINT_DIR
    return records.store_root(results_dir) / STORE_FOLDER


def run_dir(cfg: RunConfig, results_dir: str | os.PathLike | None = None, chash: str | None = None) -> Path:
    """The checkpoint folder of run ``cfg`` in the store of ``results_dir``; ``chash``: the config hash a record
    names (default: ``cfg``'s own)."""
    return store_dir(results_dir) / cfg.profile / f"{cfg.run_id}-{chash or config_hash(cfg)}"


def legacy_dir(cfg: RunConfig) -> Path:
    """Where weights went before they were keyed by config hash (records without ``config_hash``)."""
    return paths.CHECKPOINT_DIR / cfg.profile / cfg.run_id


def describe(folder: Path, results_dir: str | os.PathLike | None = None) -> str:
    """How a record names its checkpoint folder, without this machine's paths: repository-relative,
    ``$LBGAP_CHECKPOINTS/...``, or relative to its record store."""
    folder = Path(folder)
    if not is_default_store(results_dir):
        return folder.relative_to(records.store_root(results_dir)).as_posix()
    if folder.is_relative_to(paths.REPO_ROOT):
        return os.path.relpath(folder, paths.REPO_ROOT)
    return f"$LBGAP_CHECKPOINTS/{folder.relative_to(paths.CHECKPOINT_DIR).as_posix()}"


def stamp(cfg: RunConfig, folder: Path) -> None:
    """Write ``run.json`` (run id, config hash, config) into the run's checkpoint folder."""
    records.atomic_write_json(Path(folder) / STAMP, dict(run_id=cfg.run_id, config_hash=config_hash(cfg),
                                                         config=cfg.to_dict()))


def verify(folder: Path, chash: str | None, what: str, fix: str) -> None:
    """Refuse ``folder`` if its ``run.json`` names another config hash than ``chash`` (the record's). ``what``:
    the record (for the message); ``fix``: how to recompute. A legacy record (``chash`` None) is not checked."""
    if chash is None:
        return
    path = Path(folder) / STAMP
    if not path.is_file():
        raise CheckpointMismatch(f"checkpoint folder {folder} has no {STAMP}, so its weights cannot be matched to "
                                 f"{what} (config {chash}); {fix}")
    found = records.read_json(path).get("config_hash")
    if found != chash:
        raise CheckpointMismatch(f"checkpoint {path} is of config {found}, but {what} names config {chash}: "
                                 f"these are another run's weights; {fix}")


def retrain_hint(cfg: RunConfig, results_dir: str | os.PathLike | None = None) -> str:
    """The command that trains run ``cfg`` again into ``results_dir`` (the end of an error line about missing weights)."""
    store = "" if is_default_store(results_dir) else " --results-dir <that store>"
    return (f"retrain it (`lbgap train --net {cfg.net} --batch-size {cfg.batch_size} --seed {cfg.seed} "
            f"--profile {cfg.profile}{' --tag ' + cfg.tag if cfg.tag else ''}{store} --force` with its options)")


def warm_start_path(init_from: str, results_dir: str | os.PathLike | None = None) -> Path:
    """The file a warm start ``init_from`` (``<profile>/<run id>/<file>``, Figure 5) names: the kept iterate of
    that run as its training record in this store places it, else (no record, or one without a config hash)
    the old place ``<checkpoint store>/<init_from>``."""
    parts = Path(init_from).parts
    if len(parts) == 3:
        profile, run_id, name = parts
        rec = records.read_record(records.record_path(results_dir, profile, "train", run_id))
        if rec is not None and rec.get("config_hash"):
            cfg = RunConfig.from_dict(rec["config"])
            folder = run_dir(cfg, results_dir, rec["config_hash"])
            verify(folder, rec["config_hash"], f"the training record of {run_id}", retrain_hint(cfg, results_dir))
            return folder / name
    return paths.CHECKPOINT_DIR / init_from


__all__ = ["CheckpointMismatch", "config_hash", "store_dir", "run_dir", "legacy_dir", "describe", "stamp",
           "verify", "retrain_hint", "warm_start_path", "STAMP", "RESUME"]
