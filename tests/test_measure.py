"""lbgap.measure against numbers known in closed form: B_simple of a linear model, λ_max of a small network's dense
Hessian (torch.func.hessian), Lanczos' largest *algebraic* eigenvalue, Metric 2.1 of a quadratic."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lbgap import measure
from lbgap.measures import hessian, noise


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return x @ self.w


def half_mse(out, y):
    return 0.5 * ((out - y) ** 2).mean()


def test_b_simple_of_a_linear_model_matches_its_closed_form():
    # f_i(w) = ½ (xᵢ·w − yᵢ)²: per-example gradient gᵢ = (xᵢ·w − yᵢ) xᵢ, so G = mean gᵢ, tr Σ = mean |gᵢ − G|².
    g = torch.Generator().manual_seed(0)
    n, d = 20000, 5
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = X @ torch.ones(d, dtype=torch.float64) + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    w = torch.full((d,), 0.8, dtype=torch.float64)
    per = (X @ w - y)[:, None] * X
    G = per.mean(0)
    exact = float(((per - G) ** 2).sum(1).mean() / (G @ G))
    r = measure.noise_scale(Linear(w), half_mse, (X, y), b_small=8, chunks=16, probes=300, seed=1)
    assert r.ci[0] < exact < r.ci[1]
    assert r.b_simple == pytest.approx(exact, rel=0.15)
    assert r.b_big == 128 and r.probes == 300 and r.examples == n


def test_b_simple_summary_is_the_shared_ratio_of_means():
    # the book's B_simple (b_simple_summary) and the API's interval are one function
    est = np.array([[1.0, 50.0], [2.0, 60.0], [1.5, 40.0], [0.5, 70.0]])
    point, lo, hi = noise.ratio_of_means(est, 500, 0)
    assert point == pytest.approx(220 / 5) and lo <= point <= hi


def _mlp_and_dense_hessian(scale=1.0):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    X = torch.randn(40, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    x0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def f(z):
        params, i = {}, 0
        for k, s in zip(names, shapes):
            params[k] = z[i: i + math.prod(s)].view(s)
            i += math.prod(s)
        return scale * nn.functional.cross_entropy(torch.func.functional_call(net, params, (X,)), y)

    H = torch.func.hessian(f)(x0)

    def loss(o, t):
        return scale * nn.functional.cross_entropy(o, t)

    return net, loss, (X, y), torch.linalg.eigvalsh(0.5 * (H + H.T))


def test_top_eigenvalue_matches_a_dense_eigendecomposition():
    net, loss, data, evals = _mlp_and_dense_hessian()
    r = measure.top_eigenvalue(net, loss, data, batch_size=16, tol=1e-8)
    assert r.converged and r.value == pytest.approx(float(evals[-1]), rel=1e-6)
    assert r.residual < 1e-6 * abs(r.value) + 1e-10 and r.n_params == 38


def test_top_eigenvalue_of_0_005_is_found_to_high_accuracy():
    # the regime of every large-batch run, where the old power iteration stopped early (0.00481 for 0.005)
    net, loss, data, evals = _mlp_and_dense_hessian()
    scale = 0.005 / float(evals[-1])
    net, loss, data, evals = _mlp_and_dense_hessian(scale)
    r = measure.top_eigenvalue(net, loss, data, batch_size=40, tol=1e-6)
    assert float(evals[-1]) == pytest.approx(0.005, rel=1e-9)
    assert r.converged and r.value == pytest.approx(0.005, rel=1e-5)
    # a clustered spectrum below 0.005, on which power iteration converges slowly
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    lam = np.concatenate([[0.005], np.linspace(-0.001, 0.0048, 299)])
    M = torch.from_numpy((Q * lam) @ Q.T)
    r = hessian.top_eigenvalue(lambda v: M @ v, 300, tol=1e-8, maxiter=200, dtype=torch.float64)
    assert r.converged and r.value == pytest.approx(0.005, rel=1e-6) and r.relative_residual < 1e-4


def test_lanczos_returns_the_largest_algebraic_not_the_largest_magnitude():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    lam = np.concatenate([[-3.0, 1.0], rng.uniform(-1, 0.9, 48)])
    M = torch.from_numpy((Q * lam) @ Q.T)
    r = hessian.top_eigenvalue(lambda v: M @ v, 50, tol=1e-10, maxiter=100, dtype=torch.float64)
    assert r.value == pytest.approx(1.0, rel=1e-8) and r.converged


def test_method_label_names_old_and_new_entries():
    assert hessian.method_label({"method": hessian.METHOD, "converged": True}) == "Lanczos, converged"
    assert hessian.method_label({"method": hessian.METHOD, "converged": False}) == "Lanczos, not converged"
    old = "power iteration + Hutchinson (Rademacher), double-backward HVPs"
    assert hessian.method_label({"method": old, "iterations": 20}) == "power iteration, not converged"
    assert hessian.method_label({"method": old, "iterations": 6}) == "power iteration"
    assert hessian.method_label(None) == ""


class Quadratic(nn.Module):
    def __init__(self, x0):
        super().__init__()
        self.w = nn.Parameter(x0.clone())

    def forward(self, inp):
        return self.w.expand(len(inp), -1)


def test_metric_2_1_matches_the_analytic_quadratic():
    # f(z) = ½ Σ hᵢ zᵢ², separable and convex: the box max sits at yᵢ = sign(xᵢ) ε (|xᵢ| + 1).
    h = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    x0 = torch.tensor([0.5, -1.0, 2.0, -0.25], dtype=torch.float64)
    eps = 1e-2

    def loss(out, _):
        return 0.5 * (h * out ** 2).sum(1).mean()

    data = (torch.zeros(6, 1, dtype=torch.float64), torch.zeros(6))
    f0 = float(0.5 * (h * x0 ** 2).sum())
    fmax = float(0.5 * (h * (x0.abs() + eps * (x0.abs() + 1)) ** 2).sum())
    model = Quadratic(x0)
    r = measure.sharpness(model, loss, data, eps=eps)
    assert r.phi == pytest.approx(100 * (fmax - f0) / (1 + f0), rel=1e-9)
    assert r.at_bound == 1.0
    assert torch.equal(model.w.detach(), x0)   # weights restored


def test_bad_inputs_say_what_to_give():
    net = nn.Linear(2, 1)
    with pytest.raises(TypeError, match="Dataset"):
        measure.noise_scale(net, half_mse, [1, 2, 3])
    with pytest.raises(ValueError, match="equal length"):
        measure.noise_scale(net, half_mse, (torch.zeros(5, 2), torch.zeros(4)))
    with pytest.raises(ValueError, match="lower b_small or chunks"):
        measure.noise_scale(net, half_mse, (torch.zeros(5, 2), torch.zeros(5)))


def test_a_dataset_and_a_tensor_pair_give_the_same_numbers():
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(300, 4, generator=g), torch.randn(300, generator=g)
    model = Linear(torch.full((4,), 0.3))
    a = measure.noise_scale(model, half_mse, (X, y), b_small=4, chunks=8, probes=5, seed=2)
    b = measure.noise_scale(model, half_mse, torch.utils.data.TensorDataset(X, y), b_small=4, chunks=8, probes=5,
                            seed=2)
    assert a.b_simple == pytest.approx(b.b_simple, rel=1e-6) and a.ci == pytest.approx(b.ci, rel=1e-6)
    ea = measure.top_eigenvalue(model, half_mse, (X, y), batch_size=64)
    eb = measure.top_eigenvalue(model, half_mse, torch.utils.data.TensorDataset(X, y), batch_size=50)
    exact = float(torch.linalg.eigvalsh(X.double().T @ X.double() / 300).max())   # H = XᵀX / N
    assert ea.value == pytest.approx(exact, rel=1e-4) and eb.value == pytest.approx(exact, rel=1e-4)
