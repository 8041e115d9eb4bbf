"""The Hessian's largest eigenvalue by Lanczos on Hessian-vector products (paper Section 2.1: Metric 2.1 "relates to
the largest eigenvalue of ∇²f(x)").

:func:`top_eigenvalue` hands ``hvp(v) = H v`` to ``scipy.sparse.linalg.eigsh`` as a ``LinearOperator`` with
``which="LA"``: the largest *algebraic* eigenvalue, not the largest magnitude (at a saddle or an unconverged point
the most negative eigenvalue can be the larger in magnitude). ARPACK's implicitly restarted Lanczos stops when its
Ritz estimate is within ``tol`` (relative) of the eigenvalue; the result carries that flag, the number of
Hessian-vector products and the residual ‖H v − λ v‖ measured with one more product. For a symmetric H the
residual bounds the eigenvalue's error: some eigenvalue of H lies within ‖H v − λ v‖ of λ.

The power iteration used before (largest magnitude, stopped on an absolute change) is gone; the records it wrote
keep their fields, and :func:`method_label` names what stands behind an entry so that pages can show it.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

METHOD = "Lanczos (scipy.sparse.linalg.eigsh, which='LA') on double-backward Hessian-vector products"
POWER_CAP = 20   # the power iteration's iteration cap in the committed records (hessian_iters' old default)


@dataclass
class TopEigenvalue:
    """What :func:`top_eigenvalue` returns: λ_max, its residual ‖H v − λ v‖ and whether ARPACK converged."""

    value: float
    residual: float       # ‖H v − λ v‖ with ‖v‖ = 1 (one extra Hessian-vector product)
    converged: bool       # ARPACK met its relative tolerance ``tol``
    iterations: int       # Hessian-vector products spent by Lanczos (the residual's one not counted)
    tol: float
    n: int                # dimension of H
    wall_s: float
    method: str = METHOD

    @property
    def relative_residual(self) -> float:
        return self.residual / abs(self.value) if self.value else float("inf")

    def to_dict(self) -> dict:
        return dict(asdict(self), relative_residual=self.relative_residual)


def top_eigenvalue(hvp: Callable[[torch.Tensor], torch.Tensor], n: int, tol: float = 1e-4, maxiter: int = 20,
                   ncv: int = 20, seed: int = 0, device="cpu", dtype=torch.float32) -> TopEigenvalue:
    """Largest algebraic eigenvalue of the symmetric n x n operator ``hvp`` by Lanczos (``eigsh``, ``which="LA"``).

    ``tol``: ARPACK's relative tolerance on the Ritz value; ``maxiter``: ARPACK restarts (each costs about
    ``ncv`` products); ``ncv``: Lanczos basis size (capped at n); ``seed``: the start vector, N(0, 1) from a CPU
    ``torch.Generator``. Products run in ``dtype`` on ``device``; ARPACK works in float64. When ARPACK does not
    converge within ``maxiter`` restarts the best Ritz pair found is returned with ``converged=False``.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    if n < 1:
        raise ValueError(f"the Hessian's dimension n={n} must be positive")
    if not (tol > 0 and math.isfinite(tol)) or maxiter < 1:
        raise ValueError(f"tol={tol} must be a positive number and maxiter={maxiter} at least 1")
    t0 = time.perf_counter()
    calls = [0]

    def matvec(v: np.ndarray) -> np.ndarray:
        calls[0] += 1
        t = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).ravel()).to(device=device, dtype=dtype)
        return hvp(t).detach().double().cpu().numpy()

    g = torch.Generator().manual_seed(int(seed))
    v0 = torch.randn(n, generator=g, dtype=torch.float64).numpy()
    if n <= 2:   # ARPACK needs k < n - 1: build the matrix from n products
        H = np.stack([matvec(e) for e in np.eye(n)], 1)
        w, V = np.linalg.eigh(0.5 * (H + H.T))
        lam, vec, converged = float(w[-1]), V[:, -1], True
    else:
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        try:
            w, V = eigsh(op, k=1, which="LA", v0=v0, ncv=min(n - 1, max(3, ncv)), maxiter=int(maxiter), tol=tol)
            lam, vec, converged = float(w[0]), V[:, 0], True
        except ArpackNoConvergence as e:
            if len(e.eigenvalues):
                lam, vec = float(e.eigenvalues[0]), e.eigenvectors[:, 0]
            else:   # no Ritz pair at all: the Rayleigh quotient of the start vector
                vec = v0 / np.linalg.norm(v0)
                lam = float(vec @ matvec(vec))
            converged = False
    spent = calls[0]
    vec = vec / np.linalg.norm(vec)
    residual = float(np.linalg.norm(matvec(vec) - lam * vec))
    return TopEigenvalue(value=lam, residual=residual, converged=converged, iterations=spent, tol=float(tol), n=int(n),
                         wall_s=time.perf_counter() - t0)


def method_label(entry: dict | None) -> str:
    """How a record's Hessian entry was computed, in words for a table: "Lanczos, converged" / "Lanczos, not
    converged" / "power iteration, not converged" (it ran into the 20-iteration cap) / "power iteration" (it
    stopped on the old absolute tolerance: no residual was recorded, so its accuracy is unknown) / "" (none)."""
    if not entry:
        return ""
    method = str(entry.get("method", ""))
    if method.startswith("Lanczos"):
        return "Lanczos, converged" if entry.get("converged") else "Lanczos, not converged"
    cap = entry.get("iterations_cap", POWER_CAP)
    if entry.get("iterations", 0) >= cap:
        return "power iteration, not converged"
    return "power iteration"
