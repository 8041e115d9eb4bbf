"""When a run ends before its epoch cap: Section 2's "until the loss ceases to improve", made precise in
:mod:`lbgap.core.config` (``rel_tol``, ``patience``)."""
from __future__ import annotations

import math


class StoppingRule:
    """``diverged`` on a non-finite loss; ``plateau`` once the full-pass training loss has not reached a new best at
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
