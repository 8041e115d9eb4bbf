"""Metric 2.1 against functions whose maximum over the box is known, and the Hessian against an explicit one."""
import itertools
import math

import pytest
import torch
from torch import nn

from lbgap.measures import sharpness as sh
from lbgap.core.data import TensorDataset


def quad(H, b):
    """f(z) = 1/2 zᵀHz + bᵀz (float64) and its gradient."""
    def f(z):
        z = z.double()
        g = H @ z + b
        return float(0.5 * z @ H @ z + b @ z), g
    return f


def vertex_max(f, x, lo, hi, A=None):
    """Exact maximum of a convex f(x + A y) over the box [lo, hi]: it is attained at a vertex."""
    best = -math.inf
    for signs in itertools.product((0, 1), repeat=len(lo)):
        y = torch.where(torch.tensor(signs, dtype=torch.bool), hi, lo)
        best = max(best, f(x + (y if A is None else A @ y))[0])
    return best


def phi(f0, fmax):
    return 100 * (fmax - f0) / (1 + f0)


def test_diagonal_quadratic_exact():
    # x != 0 so the box half-widths eps(|x_i|+1) differ per coordinate; separable, so the maximiser is
    # y_i = sign(grad_i) * eps(|x_i|+1) and the answer is known in closed form.
    x = torch.tensor([3.0, -2.0, 0.5, 0.0, -7.0], dtype=torch.float64)
    h = torch.tensor([1.0, 4.0, 0.5, 2.0, 0.1], dtype=torch.float64)
    b = torch.tensor([0.3, -1.0, 0.2, 0.7, 0.0], dtype=torch.float64)
    f = quad(torch.diag(h), b)
    eps = 1e-2
    r = (eps * (x.abs() + 1))
    g = h * x + b
    y_star = torch.sign(g) * r
    f0 = f(x)[0]
    exact = f(x + y_star)[0]
    res = sh.epsilon_sharpness(f, x, eps, maxiter=10)
    assert res.f0 == pytest.approx(f0)
    assert res.fmax == pytest.approx(exact, rel=1e-10)
    assert res.value == pytest.approx(phi(f0, exact), rel=1e-8)
    # the |x_i| term matters: a box of plain +-eps gives a different (smaller) value
    assert phi(f0, f(x + torch.sign(g) * eps)[0]) < 0.5 * res.value
    assert res.p == 5 and res.nfev >= 2 and isinstance(res.message, str)


def test_nondiagonal_quadratic_matches_vertex_enumeration():
    torch.manual_seed(3)
    n = 7
    Q = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))[0]
    H = Q @ torch.diag(torch.linspace(0.1, 5.0, n, dtype=torch.float64)) @ Q.T     # convex, dense
    b = 0.05 * torch.randn(n, dtype=torch.float64)
    x = 2 * torch.randn(n, dtype=torch.float64)
    eps = 5e-3
    f = quad(H, b)
    r = eps * (x.abs() + 1)
    exact = vertex_max(f, x, -r, r)
    res = sh.epsilon_sharpness(f, x, eps, maxiter=10)
    assert res.fmax == pytest.approx(exact, rel=1e-9)
    assert res.value == pytest.approx(phi(f(x)[0], exact), rel=1e-6)
    assert res.at_bound == 1.0


def test_random_subspace_quadratic():
    torch.manual_seed(0)
    n, p = 40, 4
    M = torch.randn(n, n, dtype=torch.float64)
    H = M @ M.T / n
    b = 0.1 * torch.randn(n, dtype=torch.float64)
    x = 3 * torch.randn(n, dtype=torch.float64)
    A = sh.random_subspace(n, p, seed=7, dtype=torch.float64)
    assert torch.equal(A, sh.random_subspace(n, p, seed=7, dtype=torch.float64))  # seeded
    c = sh.pinv_apply(A, x)
    assert torch.allclose(c, torch.linalg.pinv(A) @ x, atol=1e-10)
    eps = 1e-3
    r = eps * (c.abs() + 1)
    f = quad(H, b)
    exact = vertex_max(f, x, -r, r, A)
    res = sh.epsilon_sharpness(f, x, eps, A=A, maxiter=10)
    assert res.p == p
    assert res.fmax == pytest.approx(exact, rel=1e-9)
    # a different A gives a different box and a different value
    other = sh.epsilon_sharpness(f, x, eps, A=sh.random_subspace(n, p, seed=8, dtype=torch.float64))
    assert other.value != pytest.approx(res.value, rel=1e-6)


@pytest.mark.parametrize("n", [7, pytest.param(40_000, marks=pytest.mark.slow)])
def test_box_solver_takes_scipy_minimizes_steps(n, monkeypatch):
    """minimize_in_box drives SciPy's L-BFGS-B step itself (minimize's Python set-up costs ~6 s per million
    coordinates): same iterates, value, evaluation count and message as scipy.optimize.minimize, on a
    non-quadratic objective with coordinates ending on the box and inside it, and one-sided and infinite bounds;
    and its fallback (another SciPy) is minimize itself."""
    import numpy as np
    from scipy.optimize import Bounds, minimize

    rng = np.random.default_rng(n)
    d, c = rng.uniform(0.5, 2.0, n), 2 * rng.standard_normal(n)

    def fun(y):
        return float(0.5 * (d * y * y).sum() - c @ y - 0.1 * np.sin(y).sum()), d * y - c - 0.1 * np.cos(y)

    lower, upper = -rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, n)
    lower[::5], upper[1::5] = -np.inf, np.inf           # bound codes 3 and 1 besides 2; 0 where both are open
    lower[2::7], upper[2::7] = -np.inf, np.inf
    ref = minimize(fun, np.zeros(n), jac=True, method="L-BFGS-B", bounds=Bounds(lower, upper),
                   options=dict(maxiter=10))
    assert sh._setulb_matches_minimize()
    for fallback in (False, True):
        if fallback:
            monkeypatch.setattr(sh, "_setulb_matches_minimize", lambda: False)
        ours = sh.minimize_in_box(fun, lower, upper, 10)
        assert np.array_equal(ours.x, ref.x) and ours.fun == ref.fun
        assert (ours.nfev, ours.nit, ours.message) == (ref.nfev, ref.nit, ref.message)
    on_box = np.isclose(ref.x, lower) | np.isclose(ref.x, upper)
    assert 0 < on_box.mean() < 1   # the box binds for some coordinates and not others


def test_bad_input_is_rejected():
    f = quad(torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="eps"):
        sh.epsilon_sharpness(f, torch.ones(3, dtype=torch.float64), 0.0)
    with pytest.raises(ValueError, match="rows"):
        sh.epsilon_sharpness(f, torch.ones(3, dtype=torch.float64), 1e-3, A=torch.ones(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="parameter set"):
        sh.select_params(nn.Linear(2, 2), "weights")


# --------------------------------------------------------------------------- a tiny network
def ce64(logits, y, reduction="sum"):
    """float64 cross-entropy for exact comparisons (the default loss is Keras' float32 one)."""
    return torch.nn.functional.cross_entropy(logits, y, reduction=reduction)


def tiny(seed=0, dtype=torch.float64):
    """A 2-3-2 tanh net and 24 uint8 points; float64 (the default) for exact comparisons."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).to(dtype)
    x = (torch.rand(24, 2) * 255).round().to(torch.uint8)
    y = (x[:, 0] > x[:, 1]).long()
    ds = TensorDataset(x, y)
    ds.batch = lambda idx: (ds.x[idx].to(dtype) / 255.0, ds.y[idx])
    return net, ds


def test_full_batch_loss_accumulates_exactly():
    net, ds = tiny()
    a = sh.FullBatchLoss(net, ds, batch_size=5, loss_fn=ce64)
    b = sh.FullBatchLoss(net, ds, batch_size=len(ds), loss_fn=ce64)
    x = a.x()
    fa, ga = a(x)
    fb, gb = b(x)
    assert fa == pytest.approx(fb, rel=1e-12)
    assert torch.allclose(ga, gb, atol=1e-12)
    # against finite differences
    e = torch.zeros_like(x)
    e[4] = 1e-6
    fd = (a(x + e)[0] - a(x - e)[0]) / 2e-6
    assert fd == pytest.approx(float(ga[4]), rel=1e-5, abs=1e-8)


def test_tiny_mlp_against_quadratic_model_vertex_max():
    # A convex-enough tiny net, small box: the maximum of f(x+y) over the box is the maximum over the 2^17
    # vertices of its second-order model up to O(eps^3); check L-BFGS-B with 10 iterations gets there and
    # that the model's best vertex, evaluated on the true f, does not beat it.
    net, ds = tiny(1)
    lf = sh.FullBatchLoss(net, ds, batch_size=len(ds), loss_fn=ce64)
    x = lf.x()
    n = x.numel()
    eps = 2e-3
    r = eps * (x.abs() + 1)

    def flat_f(z):
        return sh.FullBatchLoss(net, ds, len(ds), loss_fn=ce64)(z)[0]

    f0, g = lf(x)
    H = torch.autograd.functional.hessian(lambda z: _f_autograd(net, ds, z), x)
    V = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=n)), dtype=torch.float64) * r
    model = V @ g + 0.5 * ((V @ H) * V).sum(1)
    top = torch.topk(model, 20).indices
    brute = max(flat_f(x + V[i]) for i in top)
    res = sh.epsilon_sharpness(lf, x, eps, maxiter=10)
    assert res.fmax >= brute - 1e-6 * abs(brute)
    assert res.fmax <= f0 + float(model.max()) * 1.05 + 1e-12


def _f_autograd(net, ds, z):
    from torch.func import functional_call

    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    params, i = {}, 0
    for k, s in zip(names, shapes):
        m = math.prod(s)
        params[k] = z[i: i + m].view(s)
        i += m
    xb, yb = ds.batch(slice(None))
    return ce64(functional_call(net, params, (xb,)), yb, reduction="mean")


def test_hessian_vector_products_top_eigenvalue_and_trace():
    net, ds = tiny(2)
    lf = sh.FullBatchLoss(net, ds, batch_size=7, loss_fn=ce64)
    x = lf.x()
    H = torch.autograd.functional.hessian(lambda z: _f_autograd(net, ds, z), x)
    H = 0.5 * (H + H.T)
    v = torch.randn(x.numel(), dtype=torch.float64)
    assert torch.allclose(lf.hvp(v), H @ v, atol=1e-10)
    evals = torch.linalg.eigvalsh(H)
    top = evals.max()   # the largest algebraic eigenvalue (Lanczos, which="LA")
    est = sh.hessian_top_eigenvalue(lf.hvp, x.numel(), iters=300, tol=1e-10, dtype=torch.float64)
    assert est["top_eigenvalue"] == pytest.approx(float(top), rel=1e-4)
    tr = sh.hutchinson_trace(lf.hvp, x.numel(), probes=200, dtype=torch.float64)
    assert abs(tr["trace"] - float(torch.trace(H))) < 5 * tr["trace_se"] + 1e-9


def test_dinh_rescaling_preserves_function_and_changes_sharpness():
    from lbgap.core.models import MLP

    torch.manual_seed(0)
    m = MLP(6, 3, depth=2, width=16).eval()          # Linear -> BN -> ReLU blocks, as F1/F2
    x = torch.rand(64, 6)
    y = torch.randint(0, 3, (64,))
    m2 = sh.dinh_rescale(m, 10.0).eval()
    with torch.no_grad():
        assert torch.allclose(m(x), m2(x), rtol=1e-5, atol=1e-5)
    p1, p2 = torch.nn.utils.parameters_to_vector(m.parameters()), torch.nn.utils.parameters_to_vector(m2.parameters())
    assert (p1 - p2).abs().max() > 0.5
    ds = TensorDataset((x * 255).round().to(torch.uint8), y)
    ds.batch = lambda idx: (ds.x[idx].float() / 255.0, ds.y[idx])
    with torch.no_grad():
        assert torch.allclose(m(ds.batch(slice(None))[0]), m2(ds.batch(slice(None))[0]), rtol=1e-5, atol=1e-5)
    phis = []
    for model in (m, m2):
        lf = sh.FullBatchLoss(model, ds, 64)
        phis.append(sh.epsilon_sharpness(lf, lf.x(), 1e-2, maxiter=10).value)
    assert phis[1] > 2 * phis[0]                       # same function, much "sharper" minimum
    with pytest.raises(ValueError, match="positive"):
        sh.dinh_rescale(m, -1.0)


def test_solver_scale_changes_only_the_path_not_the_maximum():
    # Near a minimiser the gradient is tiny: L-BFGS-B from y = 0 on the *mean* loss barely moves (here it
    # stops at once: projected gradient below its tolerance), while the same objective scaled by N (the summed
    # loss) reaches the box corner. Where the solver converges the scale is irrelevant; phi is always computed
    # on the unscaled f.
    n = 50
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    h = torch.linspace(0.5, 2.0, n, dtype=torch.float64)
    eps = 1e-2
    r = eps * (x.abs() + 1)

    def problem(offset):
        delta = torch.full((n,), offset, dtype=torch.float64)    # x sits `offset` away from the minimiser
        q = quad(torch.diag(h), -h * (x + delta))
        f = lambda z: (q(z)[0] + 20.0, q(z)[1])  # noqa: E731  (f > 0, as a loss)
        return f, f(x - torch.sign(delta) * r)[0]                 # separable convex: the far corner

    f, exact = problem(1e-6)
    short_mean = sh.epsilon_sharpness(f, x, eps, maxiter=3)
    short_sum = sh.epsilon_sharpness(f, x, eps, maxiter=3, solver_scale=6e4)
    assert short_sum.fmax == pytest.approx(exact, rel=1e-10) and short_sum.value > 0
    assert short_mean.value < 0.01 * short_sum.value
    f, exact = problem(0.1)
    for scale in (1.0, 6e4):
        assert sh.epsilon_sharpness(f, x, eps, maxiter=50, solver_scale=scale).fmax == pytest.approx(exact, rel=1e-10)
    with pytest.raises(ValueError, match="solver_scale"):
        sh.epsilon_sharpness(f, x, eps, solver_scale=0.0)


def test_record_keeps_entries_written_by_another_process(tmp_path, caplog):
    # Two `lbgap sharpness` processes on the same run each add entries to one record. Simulate the other
    # process finishing an entry between our two writes (when the first entry's line is logged): its entry must
    # survive ours (read-merge-write under the record's lock), and a rerun skips everything already there.
    import json
    import logging
    from types import SimpleNamespace

    from lbgap.core import records
    from lbgap.core.config import RunConfig

    net, ds = tiny(0, torch.float32)
    cfg = RunConfig(net="F1", batch_size=8, profile="smoke", regime="SB", eval_batch_size=24)
    path = records.record_path(tmp_path, "smoke", "sharpness", cfg.run_id)

    class OtherProcess(logging.Handler):
        done = False

        def emit(self, record):
            if not self.done:
                records.update_json(path, lambda r: {**r, "entries": {**r["entries"], "other": {"value": 1.0}}})
                self.done = True

    kw = dict(eps=[1e-3, 5e-4], spaces=["full"], hessian=False, model_data=(net, SimpleNamespace(train=ds), "cpu"))
    caplog.set_level(logging.INFO, logger=sh.logger.name)
    other = OtherProcess()
    sh.logger.addHandler(other)
    try:
        rec = sh.compute(cfg, tmp_path, **kw)
    finally:
        sh.logger.removeHandler(other)
    assert other.done
    on_disk = json.loads(path.read_text())
    assert set(on_disk["entries"]) == {"other", sh.entry_key(1e-3, "full"), sh.entry_key(5e-4, "full")}
    assert set(rec["entries"]) == set(on_disk["entries"])
    assert sh.compute(cfg, tmp_path, **kw)["skipped"]
    # --force recomputes and starts the record afresh (the other process's entry goes with it)
    assert set(sh.compute(cfg, tmp_path, force=True, **kw)["entries"]) == {
        sh.entry_key(1e-3, "full"), sh.entry_key(5e-4, "full")}


def test_subset_entries_use_n_examples_and_never_replace_full_set_ones(tmp_path):
    # `--train-examples N` (a CPU budget): f is the loss on the first N training examples (MNIST/CIFAR order),
    # the entry is keyed apart, and the tables take the full-set entry of a run whenever both exist.
    from types import SimpleNamespace

    from lbgap.core.config import RunConfig

    net, ds = tiny(3, torch.float32)
    kw = dict(eps=[1e-3], spaces=["full"], hessian=False,
              model_data=(net, SimpleNamespace(train=ds), "cpu"))
    sb = RunConfig(net="F1", dataset="mnist", batch_size=8, profile="smoke", regime="SB", eval_batch_size=24)
    lb = RunConfig(net="F1", dataset="mnist", batch_size=12, profile="smoke", regime="LB", eval_batch_size=24)
    x = sh.FullBatchLoss(net, ds, 4).x()
    f_head = sh.FullBatchLoss(net, TensorDataset(ds.x[:10], ds.y[:10]), 4)(x)[0]
    assert f_head != pytest.approx(sh.FullBatchLoss(net, ds, 4)(x)[0], rel=1e-6)
    rec = sh.compute(sb, tmp_path, train_examples=10, **kw)
    (key, entry), = rec["entries"].items()
    assert key == sh.entry_key(1e-3, "full", examples=10) == "full-eps0.001-n10"
    assert (entry["n_train"], entry["train_set"], entry["subset_rule"]) == (10, 24, "first")
    assert entry["f0"] == pytest.approx(f_head, rel=1e-6)
    assert sh.compute(sb, tmp_path, train_examples=10, **kw)["skipped"]
    assert sh.compute(sb, tmp_path, train_examples=100, **kw)["entries"].keys() == {key, "full-eps0.001"}
    sh.compute(lb, tmp_path, **kw)
    table = sh.sharpness_table(tmp_path)
    assert sorted(table.subset) == [False, False, True]
    s = sh.summary(table)
    full = table[~table.subset]
    assert s.count_sb.iloc[0] == 1 and s.mean_sb.iloc[0] == pytest.approx(full[full.regime == "SB"].phi.iloc[0])
    with pytest.raises(ValueError, match="positive number of training examples"):
        sh.compute(sb, tmp_path, train_examples=0, **kw)


def test_a_speaker_ordered_set_is_measured_on_examples_spread_over_it(tmp_path):
    # so762 is stored speaker by speaker: f and the Hessian use every (N/n)-th example, and the table says so.
    from types import SimpleNamespace

    from lbgap.core.config import RunConfig

    net, ds = tiny(4, torch.float32)
    cfg = RunConfig(net="F2", dataset="so762", batch_size=8, profile="quick", regime="SB", eval_batch_size=24)
    rec = sh.compute(cfg, tmp_path, eps=[1e-3], spaces=["full"], train_examples=6, hessian_examples=8,
                     hessian_iters=3, hutchinson_probes=2,
                     model_data=(net, SimpleNamespace(train=ds), "cpu"))
    entry = rec["entries"]["full-eps0.001-n6"]
    spread = TensorDataset(ds.x[::4], ds.y[::4])
    assert entry["subset_rule"] == "spread" and entry["n_train"] == 6
    assert entry["f0"] == pytest.approx(sh.FullBatchLoss(net, spread, 24)(sh.FullBatchLoss(net, ds, 4).x())[0])
    assert (rec["hessian"]["examples"], rec["hessian"]["subset_rule"]) == (8, "spread")
    assert sh.basis(sh.sharpness_table(tmp_path)) == "quick; f on 6 training examples spread evenly"


def test_chapter_tables_take_each_network_from_one_profile_and_say_which(tmp_path):
    # The chapter reads paper records first, then quick ones: a network with paper entries is never mixed
    # with its quick ones, and Table 3's "ours from" names the profile and any training-set subset.
    from types import SimpleNamespace

    from lbgap.core import records
    from lbgap.core.config import RunConfig

    net, ds = tiny(0, torch.float32)
    sharp = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))   # a different point: another phi
    sharp.load_state_dict({k: 4 * v for k, v in net.state_dict().items()})
    kw = dict(eps=[1e-3], spaces=["full"], hessian=False)
    for prof, nets in (("paper", ["F1"]), ("quick", ["F1", "C1"])):
        for name in nets:
            for regime, b, model in (("SB", 8, net), ("LB", 12, sharp)):
                cfg = RunConfig(net=name, batch_size=b, profile=prof, regime=regime, eval_batch_size=24)
                sh.compute(cfg, tmp_path, train_examples=16 if prof == "quick" else None,
                           model_data=(model, SimpleNamespace(train=ds), "cpu"), **kw)
    t = sh.sharpness_table(records=records.preferred_records(tmp_path, ("paper", "quick"), "sharpness"))
    assert sorted(zip(t.net, t.profile)) == [("C1", "quick"), ("C1", "quick"), ("F1", "paper"), ("F1", "paper")]
    from lbgap.book.sharpness import compare_with_paper

    t3 = compare_with_paper(t, 3).set_index(["network", "eps"])
    assert t3.loc[("F1", "1e-3"), "ours from"] == "paper"
    assert t3.loc[("C1", "1e-3"), "ours from"] == "quick; f on the first 16 training examples"
    assert t3.loc[("C1", "5e-4"), "ours SB"] == "missing" and t3.loc[("C2", "1e-3"), "ours from"] == ""
    assert sh.sharpness_table(records=records.preferred_records(tmp_path, ("smoke",), "sharpness")).empty
    pairs = sh.seed_pairs(t).set_index("net")
    assert list(pairs.index) == ["C1", "F1"]
    for net in ("C1", "F1"):
        sb, lb = (t[(t.net == net) & (t.regime == r)].phi.iloc[0] for r in ("SB", "LB"))
        assert pairs.loc[net, "ratio"] == pytest.approx(lb / sb) and abs(lb / sb - 1) > 0.01


def test_forced_post_pair_keeps_both_objectives(tmp_path, monkeypatch):
    # `sweep table2 --post sharpness --force`: the mean-loss call starts each record afresh; the summed-objective
    # call after it must add to that record, not start it afresh a second time (which dropped Table 4's entries)
    from types import SimpleNamespace

    from lbgap.core import records
    from lbgap.core.config import RunConfig

    _, ds = tiny(0, torch.float32)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 40), nn.Tanh(), nn.Linear(40, 2))   # 202 parameters > the 100-dim subspace
    monkeypatch.setattr(sh.runs, "load", lambda cfg, device, **kw: (net, SimpleNamespace(train=ds), "cpu"))
    sb, lb = (RunConfig(net="F1", batch_size=b, profile="smoke", regime=r, eval_batch_size=24, device="cpu")
              for b, r in ((8, "SB"), (12, "LB")))
    want = {sh.entry_key(e, s) for e in sh.DEFAULT_EPS for s in sh.DEFAULT_SPACES} | \
           {sh.entry_key(e, "full", objective="sum") for e in sh.DEFAULT_EPS}
    for force in (False, True):
        sh.post_pair(sb, lb, tmp_path, force=force)
        for cfg in (sb, lb):
            rec = records.read_json(records.record_path(tmp_path, "smoke", "sharpness", cfg.run_id))
            assert set(rec["entries"]) == want and rec["hessian"] is not None, (force, sorted(rec["entries"]))
