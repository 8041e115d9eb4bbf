"""Sharpness of a minimiser: Metric 2.1 of Keskar et al. (2017), Eqs. (3)-(4), Tables 3-4; Hessian spectrum.

    phi_{x,f}(eps, A) = 100 * (max_{y in C_eps} f(x + A y) - f(x)) / (1 + f(x)),
    C_eps = { y in R^p : |y_i| <= eps * (|(A^+ x)_i| + 1) }.

* Full space: ``A = None`` (A = I_n, Table 3). Random subspace: ``A`` is n x p (Table 4, p = 100); here its
  columns are i.i.d. N(0, 1) from a seeded ``torch.Generator`` (the paper only says "randomly generated").
  ``A^+ x`` is the least-squares solution of ``A z = x`` from the p x p normal equations (AᵀA) z = Aᵀx,
  accumulated in float64 over row chunks: no pseudo-inverse is ever formed.
* The maximum is taken inexactly, as the paper: SciPy's L-BFGS-B on -f(x + A y), started at y = 0,
  ``maxiter=10``, gradient Aᵀ∇f. L-BFGS-B only evaluates feasible points, so every evaluated f is a valid
  lower bound on the maximum: ``fmax`` is the largest f seen (``solver_fmax`` is the solver's final value).
  :func:`minimize_in_box` takes SciPy's own L-BFGS-B steps without ``scipy.optimize.minimize``'s per-call
  Python loops over the n bounds (seconds per million parameters), with the same result.
* The network wrapper (:class:`FullBatchLoss`) makes f the mean Keras cross-entropy over the *whole*
  training set in float32 with ``model.eval()`` (dropout off; ``bn="batch"`` still normalises with the
  statistics of each evaluation batch, the training semantics of Keras mode=2) at the run's evaluation
  batch size; ∇f is accumulated by autograd over the evaluation batches. Only the n- (or p-) vector crosses
  to the host, in float64, for SciPy. ``train_examples=N`` (``--train-examples``) restricts f to N training
  examples, for a CPU (the first N, or N spread evenly over a speaker-ordered set: ``data.example_subset``);
  such an entry is keyed apart (``-n{N}``) and never stands in for the full-set value the paper defines
  when both exist. Which parameters are perturbed is an option; the default is every
  trainable parameter (BN gamma/beta included), as Keras' ``trainable_weights``.
* Hessian: top eigenvalue by Lanczos (``lbgap.measures.hessian``: ``eigsh``, ``which="LA"``, with its residual and
  converged flag) and trace by Hutchinson, both from Hessian-vector products (double backward), the paper's remark
  that phi "relates to the largest eigenvalue of ∇²f(x)". Entries written before were by power iteration;
  ``hessian.method_label`` says which an entry is.

CLI: ``lbgap sharpness RUN --eps 1e-3 5e-4 --space full random`` writes ``<results>/<profile>/sharpness/
<run_id>.json`` (one record per training run, one entry per (eps, space), saved after each entry).
"""
from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lbgap.core import data as datamod
from lbgap.core import records
from lbgap.core import runs
from lbgap.measures import hessian as lanczos

DEFAULT_EPS = (1e-3, 5e-4)
DEFAULT_SPACES = ("full", "random")
SUBSPACE_DIM = 100
A_SEED = 0
PARAM_SETS = ("all", "no_bn")
logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ functional core
@dataclass
class SharpnessResult:
    """One maximisation of Metric 2.1 (:func:`epsilon_sharpness`): phi (Eq. 4) with f(x), the largest f found in
    the box C_eps (Eq. 3), what L-BFGS-B reported (evaluations, iterations, message, its own final value), the
    dimension p maximised over (n in the full space, Table 3; 100 in a random subspace, Table 4), its wall time and
    where the maximiser y* lies (its norm, the fraction of its coordinates on the box)."""

    value: float          # phi, Eq. (4)
    f0: float             # f(x)
    fmax: float           # largest f evaluated inside the box
    solver_fmax: float    # -fun of scipy's final iterate
    nfev: int
    nit: int
    message: str
    eps: float
    p: int                # dimension of the maximisation (n for the full space)
    wall_s: float
    y_norm: float = 0.0   # ||y*||_2 of the maximiser found
    at_bound: float = 0.0  # fraction of coordinates of y* on the box boundary

    def to_dict(self) -> dict:
        return asdict(self)


def solver_scale(lf, objective: str) -> float:
    """The ``solver_scale`` of :func:`epsilon_sharpness` for an L-BFGS-B ``objective``: 1 for "mean" (the paper's
    f) and the number of examples f averages over for "sum" (the summed loss; same maximiser, a gradient large
    enough for L-BFGS-B to leave a converged minimiser)."""
    return float(lf.examples) if objective == "sum" else 1.0


def random_subspace(n: int, p: int = SUBSPACE_DIM, seed: int = A_SEED, device="cpu",
                    dtype=torch.float32) -> torch.Tensor:
    """The n x p matrix A of Table 4: i.i.d. N(0, 1) entries from ``torch.Generator().manual_seed(seed)``
    (generated on the CPU so the same seed gives the same A on every device)."""
    if p < 1 or n < 1:
        raise ValueError(f"subspace dimension p={p} and n={n} must be positive")
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, p, generator=g, dtype=dtype).to(device)


def pinv_apply(A: torch.Tensor, x: torch.Tensor, chunk: int = 1 << 18) -> torch.Tensor:
    """A^+ x for a tall full-column-rank A, by the normal equations in float64 (row chunks; A^+ never formed)."""
    n, p = A.shape
    if x.numel() != n:
        raise ValueError(f"A has {n} rows but x has {x.numel()} entries")
    G = torch.zeros(p, p, dtype=torch.float64, device=A.device)
    b = torch.zeros(p, dtype=torch.float64, device=A.device)
    for i in range(0, n, chunk):
        Ai = A[i: i + chunk].double()
        G += Ai.T @ Ai
        b += Ai.T @ x[i: i + chunk].double()
    return torch.linalg.solve(G, b)


@dataclass
class BoxMinimum:
    """What :func:`minimize_in_box` returns (the fields of SciPy's ``OptimizeResult`` that phi needs)."""

    x: np.ndarray
    fun: float
    nfev: int
    nit: int
    message: str


def minimize_in_box(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], lower: np.ndarray, upper: np.ndarray,
                    maxiter: int) -> BoxMinimum:
    """Minimise ``fun(y) -> (f, ∇f)`` over the box ``[lower, upper]`` from y = 0 (projected into the box) by
    SciPy's L-BFGS-B with its defaults (m = 10, ftol 2.2e-9, gtol 1e-5, maxls 20): the same iterates, value,
    evaluation count and message as ``scipy.optimize.minimize(method="L-BFGS-B", bounds=Bounds(lower, upper))``.

    Why not ``minimize`` itself: for every call it converts the bounds between its two formats and sets the
    solver's bound codes in Python loops over all n coordinates, about 6 s per million parameters on this CPU
    (7.3-8.4 s at n = 1.3-1.5 M with a free objective; 75 s more for a C2 sharpness, 15 M parameters, in the
    committed ``lbgap bench --sharpness-vs-scipy`` record, against the < 1 min target of a whole C2 sharpness
    on a GPU). Here that set-up is three vectorised numpy lines and the solver is SciPy's own
    ``setulb`` step (the C L-BFGS-B of SciPy >= 1.15), driven by the loop ``_minimize_lbfgsb`` runs, evaluations
    counted and cached as ``ScalarFunction`` does. Where that private interface differs (another SciPy), or
    :func:`_setulb_matches_minimize` finds a different answer on a small problem, it falls back to
    ``minimize``.
    """
    lower, upper = np.asarray(lower, np.float64).ravel(), np.asarray(upper, np.float64).ravel()
    if not _setulb_matches_minimize():
        return scipy_minimize_in_box(fun, lower, upper, maxiter)
    return _setulb_loop(fun, lower, upper, maxiter)


def scipy_minimize_in_box(fun, lower, upper, maxiter) -> BoxMinimum:
    """:func:`minimize_in_box` the plain way, through ``scipy.optimize.minimize`` (its fallback, and the
    baseline ``lbgap bench --sharpness-vs-scipy`` times it against)."""
    from scipy.optimize import Bounds, minimize

    res = minimize(fun, np.zeros(lower.size), jac=True, method="L-BFGS-B", bounds=Bounds(lower, upper),
                   options=dict(maxiter=int(maxiter)))
    return BoxMinimum(res.x, float(res.fun), int(res.nfev), int(res.nit), str(res.message))


def _setulb_loop(fun, lower, upper, maxiter, m: int = 10, factr: float = 2.2204460492503131e-09 / np.finfo(float).eps,
                 pgtol: float = 1e-5, maxls: int = 20, maxfun: int = 15000) -> BoxMinimum:
    from scipy.optimize import _lbfgsb
    from scipy.optimize._lbfgsb_py import status_messages, task_messages

    n = lower.size
    has_low, has_up = np.isfinite(lower), np.isfinite(upper)
    nbd = np.select([has_low & has_up, has_low, has_up], [2, 1, 3], 0).astype(np.int32)  # L-BFGS-B bound codes
    low, up = np.where(has_low, lower, 0.0), np.where(has_up, upper, 0.0)
    x = np.clip(np.zeros(n), lower, upper)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, np.int32)
    task, ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29, np.float64)

    def evaluate(point):
        f, g = fun(point.copy())
        return float(np.asarray(f).item()), np.atleast_1d(np.asarray(g, np.float64))

    last_x = x.copy()
    f, g = evaluate(last_x)   # ScalarFunction evaluates at the start point before the first step
    nfev, nit = 1, 0
    while True:
        g = g.astype(np.float64)   # a fresh float64 copy per step, as _minimize_lbfgsb
        _lbfgsb.setulb(m, x, low, up, nbd, f, g, factr, pgtol, wa, iwa, task, lsave, isave, dsave, maxls, ln_task)
        if task[0] == 3:            # wants f and g at x
            if not np.array_equal(x, last_x):
                last_x = x.copy()
                f, g = evaluate(last_x)
                nfev += 1
        elif task[0] == 1:          # a new iterate
            nit += 1
            if nit >= maxiter:
                task[0], task[1] = 5, 504
            elif nfev > maxfun:
                task[0], task[1] = 5, 502
        else:
            break
    return BoxMinimum(x, float(f), nfev, nit, status_messages[task[0]] + ": " + task_messages[task[1]])


@functools.cache
def _setulb_matches_minimize() -> bool:
    """Once per process: does :func:`_setulb_loop` give ``minimize``'s answer on a small box-constrained problem
    (some coordinates end on the box, some inside)? False where SciPy's private interface differs."""
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((12, 12))
    Q = Q @ Q.T + np.eye(12)
    c = 3 * rng.standard_normal(12)

    def fun(y):
        return float(0.5 * y @ Q @ y - c @ y), Q @ y - c

    bound = np.full(12, 0.5)
    try:
        ours = _setulb_loop(fun, -bound, bound, 10)
    except Exception:   # noqa: BLE001 (ImportError, TypeError: another SciPy's setulb)
        return False
    ref = scipy_minimize_in_box(fun, -bound, bound, 10)
    return bool(np.array_equal(ours.x, ref.x) and ours.fun == ref.fun and ours.nfev == ref.nfev
                and ours.nit == ref.nit and ours.message == ref.message)


def epsilon_sharpness(loss_and_grad: Callable[[torch.Tensor], tuple[float, torch.Tensor]], x: torch.Tensor,
                      eps: float, A: torch.Tensor | None = None, maxiter: int = 10,
                      solver_scale: float = 1.0, solver: Callable | None = None) -> SharpnessResult:
    """Metric 2.1: ``phi`` of f at ``x`` for box size ``eps`` in the full space (``A=None``) or ``A``'s span.

    ``loss_and_grad(z)`` takes a flat tensor like ``x`` and returns ``(f(z): float, ∇f(z): tensor)``.
    ``solver_scale`` multiplies the objective L-BFGS-B sees (not phi's formula): the exact maximum does not
    depend on it, but 10 iterations from y = 0 do, because L-BFGS-B's first steps are proportional to the
    gradient (e.g. ``solver_scale = N`` hands it the summed instead of the mean training loss).
    ``solver`` is :func:`minimize_in_box` (default) or :func:`scipy_minimize_in_box`: the same L-BFGS-B steps.
    """
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps={eps} must be a positive number such as 1e-3")
    if maxiter < 1:
        raise ValueError(f"maxiter={maxiter} must be at least 1")
    if not (solver_scale > 0 and math.isfinite(solver_scale)):
        raise ValueError(f"solver_scale={solver_scale} must be a positive number")
    x = x.detach().reshape(-1)
    if A is not None:
        if A.dim() != 2 or A.shape[0] != x.numel():
            raise ValueError(f"A must be n x p with n = {x.numel()} rows; got shape {tuple(A.shape)}")
        A = A.to(device=x.device, dtype=x.dtype)
        coords = pinv_apply(A, x)
    else:
        coords = x.double()
    bound = (eps * (coords.abs() + 1.0)).cpu().numpy()
    p = bound.size
    t0 = time.perf_counter()
    f0, _ = loss_and_grad(x)
    f0 = float(f0)
    best = [f0]

    def neg(y_np: np.ndarray):
        y = torch.from_numpy(y_np).to(device=x.device, dtype=x.dtype)
        z = x + (y if A is None else A @ y)
        f, g = loss_and_grad(z)
        f = float(f)
        if math.isfinite(f):
            best[0] = max(best[0], f)
        gy = g.reshape(-1) if A is None else A.T @ g.reshape(-1)
        return -solver_scale * f, -solver_scale * gy.double().cpu().numpy()

    res = (solver or minimize_in_box)(neg, -bound, bound, maxiter)
    fmax = best[0]
    y = res.x
    at_bound = float(np.mean(np.isclose(np.abs(y), bound, rtol=1e-6, atol=0.0)))
    return SharpnessResult(value=100.0 * (fmax - f0) / (1.0 + f0), f0=f0, fmax=fmax,
                           solver_fmax=float(-res.fun) / solver_scale,
                           nfev=int(res.nfev), nit=int(res.nit), message=str(res.message), eps=float(eps), p=int(p),
                           wall_s=time.perf_counter() - t0, y_norm=float(np.linalg.norm(y)), at_bound=at_bound)


# ------------------------------------------------------------------------------------------- Hessian
def hessian_top_eigenvalue(hvp: Callable[[torch.Tensor], torch.Tensor], n: int, iters: int = 20, tol: float = 1e-4,
                           seed: int = 0, device="cpu", dtype=torch.float32) -> dict:
    """The Hessian's largest (algebraic) eigenvalue for a record: :func:`lbgap.measures.hessian.top_eigenvalue`
    (Lanczos, ``which="LA"``; ``iters`` ARPACK restarts, relative tolerance ``tol``) with its residual and
    converged flag, as a dict whose ``top_eigenvalue`` is λ_max."""
    r = lanczos.top_eigenvalue(hvp, n, tol=tol, maxiter=iters, seed=seed, device=device, dtype=dtype)
    return dict(top_eigenvalue=r.value, iterations=r.iterations, residual=r.residual,
                relative_residual=r.relative_residual, converged=r.converged, tol=r.tol, lanczos_restarts_cap=iters,
                method=r.method)


def hutchinson_trace(hvp: Callable[[torch.Tensor], torch.Tensor], n: int, probes: int = 10, seed: int = 0,
                     device="cpu", dtype=torch.float32) -> dict:
    """tr(H) ≈ mean of vᵀHv over Rademacher vectors v (Hutchinson 1989); returns the estimate and its std error."""
    g = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(probes):
        v = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).to(device=device, dtype=dtype)
        vals.append(float(v @ hvp(v)))
    arr = np.asarray(vals)
    return dict(trace=float(arr.mean()), trace_se=float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else
                float("nan"), probes=probes)


# ------------------------------------------------------------------------------------- network wrapper
def select_params(model: nn.Module, which: str = "all") -> list[nn.Parameter]:
    """``all``: every trainable parameter (Keras ``trainable_weights``); ``no_bn``: BN gamma/beta left out."""
    if which not in PARAM_SETS:
        raise ValueError(f"parameter set {which!r} must be one of {', '.join(PARAM_SETS)}")
    if which == "all":
        return [p for p in model.parameters() if p.requires_grad]
    bn_ids = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              for p in m.parameters()}
    return [p for p in model.parameters() if p.requires_grad and id(p) not in bn_ids]


class FullBatchLoss:
    """f(z) and ∇f(z) for a flat vector z of ``params``: mean Keras cross-entropy over all of ``dataset``
    (pass ``data.example_subset(...)`` for fewer), float32, ``model.eval()``, in the dataset's fixed
    evaluation batches of ``batch_size`` (``eval_batches``); gradients accumulated over the batches."""

    def __init__(self, model: nn.Module, dataset, batch_size: int, params: Sequence[nn.Parameter] | None = None,
                 loss_fn: Callable | None = None):
        from lbgap.core.models import keras_cross_entropy

        self.model, self.data, self.batch_size = model, dataset, int(batch_size)
        self.examples = len(dataset)
        self.params = list(params) if params is not None else select_params(model)
        self.n = sum(p.numel() for p in self.params)
        self.loss_fn = loss_fn or keras_cross_entropy  # (logits, labels, reduction="sum") -> loss
        self.calls = 0
        self.seconds = 0.0       # wall time spent in f/grad evaluations
        self.cpu_seconds = 0.0   # process CPU time spent there (all threads)
        model.eval()

    def x(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params]).clone()

    def set(self, z: torch.Tensor) -> None:
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(z.to(self.params[0].dtype), self.params)

    def _batches(self):
        for idx in self.data.eval_batches(self.batch_size):
            yield self.data.batch(idx), self.examples

    def __call__(self, z: torch.Tensor) -> tuple[float, torch.Tensor]:
        t0, c0 = time.perf_counter(), time.process_time()
        self.set(z)
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=z.device)
        grads = [torch.zeros_like(p) for p in self.params]
        for (xb, yb), n in self._batches():
            loss = self.loss_fn(self.model(xb), yb, reduction="sum") / n
            gs = torch.autograd.grad(loss, self.params)
            for acc, g in zip(grads, gs):
                acc += g
            total += loss.detach().double()
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        return float(total), torch.cat([g.reshape(-1) for g in grads])

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        """H v at the current parameters by double backward, over the whole ``dataset``."""
        self.model.eval()
        out = [torch.zeros_like(p) for p in self.params]
        vs, i = [], 0
        for p in self.params:
            vs.append(v[i: i + p.numel()].view_as(p))
            i += p.numel()
        for (xb, yb), n in self._batches():
            loss = self.loss_fn(self.model(xb), yb, reduction="sum") / n
            gs = torch.autograd.grad(loss, self.params, create_graph=True)
            dot = sum((g * u).sum() for g, u in zip(gs, vs))
            hv = torch.autograd.grad(dot, self.params)
            for acc, h in zip(out, hv):
                acc += h
        return torch.cat([h.reshape(-1) for h in out])


# ----------------------------------------------------------------------------------------- records
OBJECTIVES = ("mean", "sum")  # what L-BFGS-B maximises: the mean training loss (default) or the sum (N x mean)


def entry_key(eps: float, space: str, p: int = SUBSPACE_DIM, a_seed: int = A_SEED, params: str = "all",
              objective: str = "mean", examples: int | None = None) -> str:
    """Name of one entry of a sharpness record; ``examples`` is set only when f uses a subset."""
    key = f"{space}-eps{eps:g}"
    if space == "random":
        key += f"-p{p}-A{a_seed}"
    if params != "all":
        key += f"-{params}"
    if objective != "mean":
        key += f"-{objective}"
    if examples is not None:
        key += f"-n{examples}"
    return key


def compute(cfg, results_dir: str | Path | None = None, eps: Sequence[float] = DEFAULT_EPS,
            spaces: Sequence[str] = DEFAULT_SPACES, p: int = SUBSPACE_DIM, a_seed: int = A_SEED,
            params: str = "all", maxiter: int = 10, objective: str = "mean", hessian: bool = True, hessian_examples: int | None = 10000,
            hessian_iters: int = 20, hutchinson_probes: int = 10, train_examples: int | None = None,
            device: str = "auto", force: bool = False, model_data=None) -> dict:
    """Sharpness record of training run ``cfg``: one entry per (eps, space), the Hessian summary; saved
    atomically after each entry, finished entries skipped unless ``force``. ``train_examples``: f on N
    training examples only, chosen by ``data.example_subset`` (None: the whole training set, the paper's
    definition); ``hessian_examples`` likewise for the Hessian, whose top eigenvalue is found by Lanczos with at most
    ``hessian_iters`` ARPACK restarts (``hessian_top_eigenvalue``)."""
    results_dir = records.store_root(results_dir)
    for s in spaces:
        if s not in DEFAULT_SPACES:
            raise ValueError(f"space {s!r} must be 'full' or 'random'")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} must be 'mean' or 'sum'")
    if train_examples is not None and train_examples < 1:
        raise ValueError(f"train_examples={train_examples}: give a positive number of training examples "
                         "(--train-examples 0, or None from Python, means the whole training set)")
    path = records.record_path(results_dir, cfg.profile, "sharpness", cfg.run_id)
    rec = None if force else records.read_record(path)
    if rec is None:
        rec = records.new_record("sharpness", run_id=cfg.run_id, train_run=cfg.run_id, net=cfg.net,
                                 regime=cfg.regime, seed=cfg.seed, batch_size=cfg.batch_size, profile=cfg.profile,
                                 config=cfg.to_dict(), entries={}, hessian=None)
    def todo_for(examples):
        return [(e, s) for s in spaces for e in eps
                if entry_key(e, s, p, a_seed, params, objective, examples) not in rec["entries"]]

    want_h = hessian and (rec.get("hessian") is None)
    if not todo_for(train_examples) and not want_h:
        rec["skipped"] = True
        return rec
    started, fresh = records.now(), force   # fresh: the first write replaces the record instead of merging
    model, data, dev = model_data or runs.load(cfg, device, results_dir=results_dir)   # IEEE float32
    train, rule = datamod.example_subset(data.train, train_examples, cfg.dataset)
    subset = len(train) if rule != "all" else None
    todo = todo_for(subset)
    if not todo and not want_h:   # asked for N >= the training set: the full-set entries exist
        rec["skipped"] = True
        return rec
    lf = FullBatchLoss(model, train, cfg.eval_batch_size, select_params(model, params))
    x = lf.x()
    A = None
    for e, s in todo:
        if s == "random" and A is None:
            A = random_subspace(lf.n, p, a_seed, dev)
        lf.calls, lf.seconds, lf.cpu_seconds = 0, 0.0, 0.0
        c0 = time.process_time()
        scale = solver_scale(lf, objective)
        r = epsilon_sharpness(lf, x, e, A if s == "random" else None, maxiter, solver_scale=scale)
        cpu_total = time.process_time() - c0
        lf.set(x)
        entry = dict(r.to_dict(), space=s, a_seed=a_seed if s == "random" else None,
                     a_distribution="iid N(0,1)" if s == "random" else None, params=params, n_params=lf.n,
                     eval_batch_size=cfg.eval_batch_size, n_train=lf.examples, train_set=len(data.train),
                     subset_rule=rule, eval_order=train.eval_order, maxiter=maxiter, objective=objective,
                     solver_scale=scale,
                     seconds_per_eval=lf.seconds / max(1, lf.calls), n_evals=lf.calls,
                     cpu_seconds_per_eval=lf.cpu_seconds / max(1, lf.calls), cpu_seconds=cpu_total,
                     threads=torch.get_num_threads())
        key = entry_key(e, s, p, a_seed, params, objective, subset)
        rec = records.save_piece(path, rec, "entries", {key: entry}, fresh,
                                 provenance=records.provenance(dev, None, started))
        fresh = False
        logger.info(f"sharpness {cfg.run_id} {s:6s} eps={e:g}: phi={r.value:.3f} (f0={r.f0:.4g}, fmax={r.fmax:.4g}, "
                    f"{r.nfev} evals, {lf.examples} examples, {r.wall_s:.0f}s)")
    del A
    if want_h:
        t0 = time.perf_counter()
        lf.set(x)
        h_set, h_rule = datamod.example_subset(data.train, hessian_examples, cfg.dataset)
        hl = FullBatchLoss(model, h_set, cfg.eval_batch_size, lf.params)
        top = hessian_top_eigenvalue(hl.hvp, lf.n, hessian_iters, device=dev)
        tr = hutchinson_trace(hl.hvp, lf.n, hutchinson_probes, device=dev)
        hess = dict(top, **tr, examples=hl.examples, subset_rule=h_rule, params=params,
                    wall_s=time.perf_counter() - t0, trace_method="Hutchinson (Rademacher), double-backward HVPs")
        rec = records.save_piece(path, rec, "entries", {}, fresh, hessian=hess,
                                 provenance=records.provenance(dev, None, started))
        logger.info(f"hessian   {cfg.run_id}: top eigenvalue {top['top_eigenvalue']:.4g} (residual "
                    f"{top['residual']:.2g}, {'converged' if top['converged'] else 'not converged'}), trace "
                    f"{tr['trace']:.4g} ({hl.examples} examples, {rec['hessian']['wall_s']:.0f}s)")
    return rec


# ------------------------------------------------------------------------ Dinh et al. (2017) rescaling
def dinh_rescale(model: nn.Module, alpha: float) -> nn.Module:
    """Function-preserving rescaling (Dinh et al., 2017) of the *last* hidden block of F1/F2:
    ``Linear -> BN(gamma, beta) -> ReLU -> Linear_out``. ReLU is positively homogeneous, so scaling BN's
    gamma and beta by alpha > 0 scales the hidden activations by alpha and dividing the output layer's
    weight (not its bias) by alpha restores the logits exactly (up to rounding). The pre-BN Linear is not
    touched: BN makes it scale-invariant, so rescaling it would not be a Dinh pair. Returns a rescaled copy."""
    import copy

    if not alpha > 0:
        raise ValueError(f"rescaling factor alpha={alpha} must be positive (ReLU is only positively homogeneous)")
    m = copy.deepcopy(model)
    mods = list(m.modules())
    lin = [x for x in mods if isinstance(x, nn.Linear)]
    bns = [x for x in mods if isinstance(x, nn.modules.batchnorm._BatchNorm)]
    if len(lin) < 2 or not bns:
        raise ValueError("the Dinh rescaling needs a network ending in BN -> ReLU -> Linear (F1/F2)")
    bn, out = bns[-1], lin[-1]
    with torch.no_grad():
        bn.weight.mul_(alpha)
        bn.bias.mul_(alpha)
        out.weight.div_(alpha)
    return m


def dinh_demo(cfg, results_dir: str | Path | None = None, alphas: Sequence[float] = (1.0, 10.0),
              eps: float = 1e-3, maxiter: int = 10, device: str = "auto", force: bool = False,
              model_data=None) -> dict:
    """phi (full space) and train/test loss and accuracy of ``cfg``'s model rescaled by each alpha (alpha = 1
    reuses the run's sharpness record when it holds the same full-space entry: it is the same problem)."""
    from lbgap.core.train import evaluate

    results_dir = records.store_root(results_dir)
    path = records.record_path(results_dir, cfg.profile, "dinh", cfg.run_id)
    rec = records.done(path, force)
    if rec is not None:
        return rec
    started, t0 = records.now(), time.perf_counter()
    model, data, dev = model_data or runs.load(cfg, device, results_dir=results_dir)
    rows = []
    probe = data.test.batch(slice(0, cfg.eval_batch_size))[0]
    with torch.no_grad():
        model.eval()
        ref = model(probe)
    spath = records.record_path(results_dir, cfg.profile, "sharpness", cfg.run_id)
    known = records.read_record(spath)["entries"].get(entry_key(eps, "full")) if spath.is_file() else None
    for a in alphas:
        m = dinh_rescale(model, a).eval()
        with torch.no_grad():
            diff = float((m(probe) - ref).abs().max())
        if a == 1.0 and known is not None and known.get("maxiter") == maxiter:
            r = SharpnessResult(**{k: known[k] for k in SharpnessResult.__dataclass_fields__})  # alpha=1: same problem
        else:
            lf = FullBatchLoss(m, data.train, cfg.eval_batch_size)
            xa = lf.x()
            r = epsilon_sharpness(lf, xa, eps, None, maxiter)
            lf.set(xa)  # parameters back at the rescaled minimiser
        tr_loss, tr_acc = evaluate(m, data.train, cfg.eval_batch_size)
        te_loss, te_acc = evaluate(m, data.test, cfg.eval_batch_size)
        rows.append(dict(alpha=a, phi=r.value, f0=r.f0, fmax=r.fmax, nfev=r.nfev, message=r.message,
                         train_loss=tr_loss, train_acc=tr_acc, test_loss=te_loss, test_acc=te_acc,
                         max_logit_change=diff, wall_s=r.wall_s))
        logger.info(f"dinh {cfg.run_id} alpha={a:g}: phi={r.value:.3f}, test acc {te_acc:.4f}, "
                    f"max |logit change| {diff:.2e}")
    return records.write_record(
        results_dir, cfg.profile, "dinh", cfg.run_id, net=cfg.net, regime=cfg.regime, seed=cfg.seed, eps=eps,
        space="full", maxiter=maxiter, eval_batch_size=cfg.eval_batch_size,
        transform="last BN gamma,beta * alpha; output Linear weight / alpha", rows=rows, config=cfg.to_dict(),
        provenance=records.provenance(dev, time.perf_counter() - t0, started))


# ----------------------------------------------------------------------------------------- tables
def sharpness_table(results_dir: str | Path | None = None, profile: str | None = None, records=None,
                    tag: str | None = ""):
    """One row per (run, eps, space) entry, plus the run's Hessian summary; of ``records`` if given (e.g.
    ``records.preferred_records(..., "sharpness")``), else of every record of ``profile``. ``tag``: only runs
    of that variant: "" (default) the untagged Table 3/4 runs, e.g. "fig4" the batch-size sweep's, None all."""
    import pandas as pd

    from lbgap.core.records import iter_records

    rows = []
    for r in iter_records(results_dir, profile, "sharpness") if records is None else records:
        if tag is not None and r["config"]["tag"] != tag:
            continue
        h = r.get("hessian") or {}
        for e in r["entries"].values():
            rows.append(dict(run_id=r["run_id"], net=r["net"], regime=r["regime"], seed=r["seed"],
                             profile=r["profile"], space=e["space"], eps=e["eps"], params=e["params"],
                             a_seed=e.get("a_seed"), objective=e["objective"], phi=e["value"],
                             examples=e.get("n_train"), subset=e.get("n_train", 0) < e.get("train_set", 0),
                             subset_rule=e["subset_rule"],
                             f0=e["f0"], fmax=e["fmax"], nfev=e["nfev"], nit=e["nit"], message=e["message"],
                             y_norm=e.get("y_norm"), at_bound=e.get("at_bound"),
                             wall_s=e["wall_s"], seconds_per_eval=e.get("seconds_per_eval"),
                             cpu_seconds_per_eval=e.get("cpu_seconds_per_eval"), cpu_seconds=e.get("cpu_seconds"),
                             hessian_top=h.get("top_eigenvalue"), hessian_trace=h.get("trace"),
                             hessian_method=lanczos.method_label(h), hessian_residual=h.get("residual"),
                             hessian_examples=h.get("examples"),
                             device=r.get("provenance", {}).get("device")))
    return pd.DataFrame(rows)


def basis(df) -> str:
    """Where a network's numbers come from, in words: profile(s), and the subset f used if not the full set."""
    if df.empty:
        return ""
    words = "/".join(sorted(df.profile.unique()))
    sub = df[df.subset.astype(bool)]
    for (n, rule), _ in sub.groupby(["examples", "subset_rule"]):
        words += "; f on " + datamod.subset_words(int(n), rule)
    return words


def entry_for(sharp, run_id: str, eps: float, space: str, objective: str):
    """The :func:`sharpness_table` row of ``run_id`` at (eps, space, objective) over all parameters, the
    full-training-set entry where a subset one also exists; None if there is none (not computed yet)."""
    if not len(sharp):
        return None
    hit = sharp[(sharp.run_id == run_id) & (sharp.eps == eps) & (sharp.space == space)
                & (sharp.objective == objective) & (sharp.params == "all")]
    if not len(hit):
        return None
    full = hit[~hit.subset.astype(bool)]
    return (full if len(full) else hit).iloc[-1]


def phi_columns(sharp, run_id: str, eps: float = 1e-3) -> dict:
    """A figure table's sharpness cells for one run: ``phi_full_sum`` and ``phi_random`` at ``eps`` (NaN where
    not computed yet) and ``sharpness_examples``, the examples f was evaluated on, in words."""
    out = dict(phi_full_sum=float("nan"), phi_random=float("nan"), sharpness_examples="")
    for col, space, objective in (("phi_full_sum", "full", "sum"), ("phi_random", "random", "mean")):
        h = entry_for(sharp, run_id, eps, space, objective)
        if h is not None:
            out[col] = float(h.phi)
            out["sharpness_examples"] = datamod.subset_words(int(h.examples), h.subset_rule if h.subset else "all")
    return out


def _prefer_full_set(df):
    """One entry per (run, space, eps, objective, A): the full-training-set one where a subset one also exists."""
    keys = ["run_id", "space", "eps", "objective", "params", "_a"]
    return (df.assign(_full=~df.subset.astype(bool), _a=df.a_seed.fillna(-1)).sort_values("_full")
            .drop_duplicates(keys, keep="last").drop(columns=["_full", "_a"]))


def summary(df, ratio: bool = True, objective: str = "mean"):
    """mean ± std over seeds per (net, space, eps, regime) (``mean_sb``, ``std_lb``, ``count_sb``, ...) and
    ``lb_sb``, the LB/SB ratio of the means. Where a run has both a full-training-set entry and a subset one
    (``--train-examples``), the full-set one counts."""
    import pandas as pd

    if df.empty:
        return pd.DataFrame()
    df = df[(df.params == "all") & (df.objective == objective)]
    if df.empty:
        return pd.DataFrame()
    df = _prefer_full_set(df)
    g = df.groupby(["net", "space", "eps", "regime"]).phi
    s = g.agg(["mean", "std", "count"]).reset_index()
    wide = s.pivot(index=["net", "space", "eps"], columns="regime", values=["mean", "std", "count"])
    wide.columns = [f"{a}_{b.lower()}" for a, b in wide.columns]
    wide = wide.reset_index()
    if ratio and {"mean_sb", "mean_lb"} <= set(wide.columns):
        wide["lb_sb"] = wide.mean_lb / wide.mean_sb
    return wide


def seed_pairs(df):
    """phi of SB and LB of the same seed side by side, one row per (net, space, objective, eps, seed), with
    their ratio: does LB come out sharper pair by pair, not only on average?"""
    if df.empty:
        return df
    d = _prefer_full_set(df[df.params == "all"])
    w = d.pivot_table(index=["net", "space", "objective", "eps", "seed"], columns="regime", values="phi")
    if not {"SB", "LB"} <= set(w.columns):
        return w.iloc[0:0]
    w = w[["SB", "LB"]].dropna()
    return w.assign(ratio=w.LB / w.SB).reset_index()


def dinh_table(results_dir=None, profile=None):
    """One row per (run, alpha) of the Dinh et al. (2017) rescaling records (:func:`dinh_demo`) of ``profile`` (None:
    all): phi in the full space, f, train and test loss and accuracy, the largest logit change."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, "dinh"):
        for row in r["rows"]:
            rows.append(dict(run=r["run_id"], net=r["net"], regime=r["regime"], seed=r["seed"], eps=r["eps"], **row))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- sweep + CLI
def measure_runs(cfgs, outcomes, measures, eps: Sequence[float], train_examples: int | None = None,
                 results_dir: Path | None = None, force: bool = False) -> None:
    """The figure and remedy sweeps' post-processing: Metric 2.1 at each ``eps`` in each (space, L-BFGS-B
    objective) of ``measures`` for every run of ``cfgs`` whose outcome is done or skipped (no Hessian), f on
    ``train_examples`` training examples (None: all). Finished entries are skipped; ``force`` goes to the first
    measure only, which starts the record afresh (a forced second call would drop the first's entries)."""
    for cfg, out in zip(cfgs, outcomes):
        if out.status not in ("done", "skipped"):
            continue
        for i, (space, objective) in enumerate(measures):
            compute(cfg, results_dir, eps=tuple(eps), spaces=(space,), objective=objective, hessian=False,
                    train_examples=train_examples, device=cfg.device, force=force and i == 0)


def post_pair(sb_cfg, lb_cfg, results_dir: Path, force: bool = False) -> None:
    """``lbgap sweep table2 --post sharpness``: both eps, both spaces and the Hessian for SB and LB, plus the
    full-space maximisation of the summed objective (see ``epsilon_sharpness``'s ``solver_scale``). ``force``
    goes to the first call only: it starts the record afresh, and a forced second call would do so again."""
    for cfg in (sb_cfg, lb_cfg):
        compute(cfg, results_dir, force=force, device=cfg.device)
        compute(cfg, results_dir, spaces=("full",), objective="sum", hessian=False, device=cfg.device)
