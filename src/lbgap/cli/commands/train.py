"""``lbgap train``: one network at one batch size and seed (one training record)."""
from __future__ import annotations

import argparse
import sys
import time

from lbgap.cli.options import run_options, run_overrides
from lbgap.cli import options as opt


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train one network at one batch size and seed")
    p.add_argument("--net", required=True, help="the network of Table 1: F1 | F2 | C1 | C2 | C3 | C4")
    p.add_argument("--batch-size", required=True, type=opt.batch_size, help="a whole number >= 1, a percentage "
                   "of the training set like 10%%, SB (the profile's small batch: 256 in paper) or LB (10%% of the training set)")
    p.add_argument("--seed", type=opt.seed, default=0, help="seed of x0, the data order and dropout: a whole "
                   "number >= 0 (default 0)")
    p.add_argument("--lr", type=opt.positive_float, default=None, help="learning rate, a positive number such as "
                   "1e-3 (default: the profile's, Adam 1e-3)")
    p.add_argument("--optimizer", default=None, choices=["adam", "sgd"], help="adam | sgd (default adam, as in the "
                   "paper)")
    p.add_argument("--dataset", default=None, help="override the network's dataset (e.g. F2: so762 | timit)")
    run_options(p)
    p.set_defaults(func=run)


class LogLines:
    """Progress on stderr when it is not a terminal (a log file), where tqdm's bar is off: one line per epoch
    (:meth:`epoch`, the ``on_epoch`` hook) and, within an epoch, one line at most every ``every_s`` seconds since
    the last line (:meth:`step`, the ``on_step`` hook: batches done, mean training loss so far). Reading the loss
    waits for the device only when a line is due; the training itself is unchanged."""

    EVERY_S = 60.0

    def __init__(self, cfg, every_s: float | None = None, clock=time.monotonic):
        self.cfg, self.every_s, self.clock = cfg, self.EVERY_S if every_s is None else every_s, clock
        self.last = clock()

    def _print(self, text: str) -> None:
        print(f"{self.cfg.run_id} {text}", file=sys.stderr, flush=True)
        self.last = self.clock()

    def epoch(self, row: dict) -> None:
        self._print(f"epoch {row['epoch']}/{self.cfg.max_epochs}: train loss {row['train_loss']:.4f}, "
                    f"train acc {row['train_acc']:.4f}, test acc {row['test_acc']:.4f}, {row['time_s']:.0f} s")

    def step(self, progress, epoch: int, batches: int) -> None:
        if progress.batch >= batches or self.clock() - self.last < self.every_s:
            return   # the epoch's own line follows its last batch
        loss = float(progress.running) / max(progress.batch, 1)
        self._print(f"epoch {epoch}/{self.cfg.max_epochs}: batch {progress.batch}/{batches}, "
                    f"train loss so far {loss:.4f}")


def run(a: argparse.Namespace) -> int:
    from lbgap.core.config import make_config
    from lbgap.core.train import train

    cfg = make_config(a.net, a.batch_size, a.seed, a.profile, **run_overrides(a))
    lines = None if sys.stderr.isatty() or getattr(a, "verbosity", 0) < 0 else LogLines(cfg)   # --quiet: none
    rec = train(cfg, a.results_dir, force=a.force, on_epoch=lines and lines.epoch, on_step=lines and lines.step)
    if rec.get("skipped"):
        print(f"skipped {cfg.run_id}: a record exists (use --force to rerun)")
        return 0
    f = rec["final"]
    print(f"{cfg.run_id}: {rec['status']} after {rec['epochs']} epochs ({rec['stop_reason']}); "
          f"train acc {f['train_acc']:.4f}, test acc {f['test_acc']:.4f}; "
          f"{rec['samples_per_s']:.0f} samples/s on {rec['provenance']['device']}")
    return 0 if rec["status"] == "ok" else 1
