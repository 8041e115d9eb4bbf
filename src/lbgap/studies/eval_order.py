"""Why speech frames are evaluated in interleaved batches: one F2 model, two evaluation orders.

F2's speech frames (:mod:`lbgap.core.speech`) are stored speaker by speaker. With batch-statistic BN (Keras
mode=2, the paper's F2) an evaluation batch is normalised with its own statistics, so consecutive slices of
the stored order (one speaker per batch) and the interleaved batches of ``data.eval_batches`` (every batch a
spread of speakers) give different losses and accuracies for the same weights. The check evaluates the final
model of a training run both ways, on its training and test frames, at the run's evaluation batch size, and
writes ``<results>/<profile>/evalorder/<run_id>.json``; the chapter on SB vs LB shows the table.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

from lbgap.core import records
from lbgap.core import runs
from lbgap.core.speech import SpeechFrames

KIND = "evalorder"
ORDERS = ("stored", "interleaved")


def eval_order_check(cfg, results_dir: str | Path | None = None, device: str = "auto", force: bool = False,
                     model_data=None) -> dict:
    """The final model of training run ``cfg`` (F2) evaluated on its training and test frames in stored-order
    and in interleaved batches; the record (the existing one, marked ``skipped``, unless ``force``).
    ``model_data``: ``(model, data, device)`` instead of loading the run's checkpoint and data."""
    from lbgap.core.train import evaluate

    path = records.record_path(results_dir, cfg.profile, KIND, cfg.run_id)
    rec = records.done(path, force)
    if rec is not None:
        return rec
    started, t0 = records.now(), time.perf_counter()
    model, data, dev = model_data or runs.load(cfg, device, results_dir=results_dir)
    rows = {}
    for part, ds in (("train", data.train), ("test", data.test)):
        if not isinstance(ds, SpeechFrames):
            raise ValueError(f"{cfg.run_id}: the evaluation-order check is for speech frames (F2 on so762 or "
                             "TIMIT); other datasets are stored shuffled")
        stored = copy.copy(ds)
        stored.eval_order = "stored"
        rows[part] = {}
        for order, view in zip(ORDERS, (stored, ds)):
            loss, acc = evaluate(model, view, cfg.eval_batch_size)
            rows[part][order] = dict(loss=loss, acc=acc)
    return records.write_record(results_dir, cfg.profile, KIND, cfg.run_id, net=cfg.net, regime=cfg.regime,
                                seed=cfg.seed, profile=cfg.profile, eval_batch_size=cfg.eval_batch_size, rows=rows,
                                provenance=records.provenance(dev, time.perf_counter() - t0, started))


# :func:`eval_order_table`'s snake_case columns and their display labels (applied only when shown)
LABELS = {**{f"acc_pct_{o}": f"accuracy % ({o})" for o in ORDERS}, **{f"loss_{o}": f"loss ({o})" for o in ORDERS}}


def eval_order_table(recs: list[dict]):
    """One row per (run, set) of the ``evalorder`` records ``recs``: accuracy (%) and loss in stored-order and in
    interleaved evaluation batches (``acc_pct_stored``, ``loss_interleaved``, ...; labels :data:`LABELS`),
    formatted for display."""
    import pandas as pd

    rows = [dict(net=r["net"], regime=r["regime"], seed=r["seed"], profile=r["profile"], set=part,
                 **{f"acc_pct_{o}": f"{100 * v[o]['acc']:.2f}" for o in ORDERS},
                 **{f"loss_{o}": f"{v[o]['loss']:.3f}" for o in ORDERS})
            for r in recs for part, v in r["rows"].items()]
    return pd.DataFrame(rows)


__all__ = ["LABELS", "eval_order_check", "eval_order_table"]
