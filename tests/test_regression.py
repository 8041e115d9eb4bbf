"""Huge N, few features: the streamed generator, the exact losses, the one-pass solver, GD/SGD, the noise scale,
the study's records and the chapter's tables and figures on a smoke run."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lbgap.studies import regression as study
from lbgap.studies import regression_data as reg
from lbgap.studies import regression_methods as meth
from lbgap.studies import regression_timing as timing

LS, LOGIT = reg.get_problem("least_squares"), reg.get_problem("logistic")


def _stacked(problem, seed, stop, chunk, start=0):
    xs, ys = zip(*reg.stream(problem, seed, stop, chunk, start))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("problem", [LS, LOGIT], ids=["ls", "logistic"])
def test_stream_rows_do_not_depend_on_chunk_size(problem):
    n = 3 * reg.BLOCK + 123
    x, y = _stacked(problem, 7, n, reg.CHUNK)
    for chunk in (1000, reg.BLOCK, reg.BLOCK + 1, 5 * reg.BLOCK):
        x2, y2 = _stacked(problem, 7, n, chunk)
        assert np.array_equal(x, x2) and np.array_equal(y, y2)
    # any range is the same rows, whatever block it starts in
    x3, y3 = reg.rows(problem, 7, reg.BLOCK - 50, 2 * reg.BLOCK + 10)
    assert np.array_equal(x3, x[reg.BLOCK - 50:2 * reg.BLOCK + 10]) and np.array_equal(y3, y[reg.BLOCK - 50:2 * reg.BLOCK + 10])
    sizes = [len(a) for a, _ in reg.stream(problem, 7, n, 1000)]
    assert set(sizes[:-1]) == {1000} and sum(sizes) == n
    # another seed or the other problem gives other rows
    assert not np.array_equal(reg.rows(problem, 8, 0, 100)[0], x[:100])
    other = LOGIT if problem is LS else LS
    assert not np.array_equal(reg.rows(other, 7, 0, 100)[0], x[:100])


def test_generated_data_follow_the_model():
    x, y = reg.rows(LS, 0, 0, 2**18)
    np.testing.assert_allclose(np.cov(x.T), LS.cov, atol=0.03)
    np.testing.assert_allclose(np.std(y - x @ LS.w_star), LS.noise, rtol=0.01)
    xl, yl = reg.rows(LOGIT, 0, 0, 2**18)
    assert set(np.unique(yl)) == {0.0, 1.0}
    # the population loss (quadrature) is the mean loss of a large sample, at w* and elsewhere
    for problem, xs, ys in ((LOGIT, xl, yl), (LS, x, y)):
        for w in (problem.w_star, np.array([0.5, -1.0, 0.2, 1.0]), np.zeros(4)):
            losses = reg.sample_losses(problem, xs, ys, w)
            se = losses.std() / np.sqrt(len(losses))
            assert abs(reg.population_loss(problem, w) - losses.mean()) <= 4 * se + 1e-12   # (w = 0: log 2 exactly)


def test_optimal_loss_and_gap():
    assert reg.optimal_loss(LS) == LS.noise**2 / 2
    assert reg.relative_gap(LS, LS.w_star) == 0 and reg.relative_gap(LOGIT, LOGIT.w_star) == pytest.approx(0, abs=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(5):   # w* minimises the logistic population loss (well-specified model)
        assert reg.relative_gap(LOGIT, LOGIT.w_star + 0.05 * rng.standard_normal(4)) > 0
    # quadrature converged: more nodes change nothing that matters
    w = np.array([0.5, -1.0, 0.2, 1.0])
    fine = reg._gauss_hermite(300)
    a = reg.population_loss(LOGIT, w)
    old, reg._GH = reg._GH, fine
    try:
        assert reg.population_loss(LOGIT, w) == pytest.approx(a, abs=1e-8)
    finally:
        reg._GH = old
    with pytest.raises(ValueError, match="unknown regression problem"):
        reg.get_problem("poisson")


@pytest.mark.parametrize("n", [57, 5000, reg.BLOCK + 999])
def test_one_pass_equals_lstsq(n):
    x, y = reg.rows(LS, 3, 0, n)
    w_ref = np.linalg.lstsq(x, y, rcond=None)[0]
    for chunk in (10, 1000, reg.BLOCK):
        out = meth.one_pass(LS, 3, n, chunk=chunk)
        np.testing.assert_allclose(out["w"], w_ref, rtol=1e-10, atol=1e-12)
        assert out["examples"] == n
    assert out["final_gap"] == pytest.approx(reg.relative_gap(LS, w_ref))
    with pytest.raises(ValueError, match="least squares only"):
        meth.one_pass(LOGIT, 3, 100)


def test_targets_count_a_crossing_only_once_it_holds():
    clock = meth.Clock()
    tg = meth.Targets(targets=(0.01,), hold=2.0)
    for e, g in [(10, 0.5), (20, 0.005), (30, 0.02), (40, 0.008), (60, 0.009), (80, 0.007)]:
        tg.check(dict(last=g), e, e, clock)
    assert tg.reached(0.01)["examples"] == 40      # the dip at 20 did not hold; 40 held until 80
    tg2 = meth.Targets(targets=(0.01,), hold=1.0)
    tg2.check(dict(last=0.005), 20, 1, clock)
    assert tg2.reached(0.01)["examples"] == 20
    tg3 = meth.Targets(targets=(0.01,), hold=2.0)
    tg3.check(dict(last=0.005), 20, 1, clock)
    assert tg3.reached(0.01) is None
    tg3.finish()                                    # the run ended while it held
    assert tg3.reached(0.01)["examples"] == 20


def test_gd_and_sgd_reach_the_targets():
    g = meth.gd(LS, 0, 20_000, lr=0.8, max_passes=200)
    assert g["status"] == "target" and g["targets"]["0.001"]["steps"] == g["passes"]
    assert g["final_gap"] <= 0.001 and len(g["path"]) == g["passes"]
    assert meth.gd(LS, 0, 20_000, lr=3.0, max_passes=200)["status"] == "diverged"
    s = meth.sgd(LS, 0, 10**9, batch=16, lr=0.125, max_examples=2**18)
    assert s["status"] == "target" and s["targets"]["0.01"]["examples"] <= s["targets"]["0.001"]["examples"]
    assert min(s["final_gap"], s["final_gap_avg"]) <= 0.001
    assert meth.sgd(LS, 0, 10**9, batch=16, lr=4.0, max_examples=2**18)["status"] == "diverged"
    s1 = meth.sgd(LOGIT, 0, 10**9, batch=1, lr=0.0625, max_examples=2**16)
    assert s1["targets"]["0.01"] is not None
    # the same seed and step give the same run on N rows or on the stream until N rows are used
    a = meth.sgd(LS, 0, 10**6, batch=256, lr=0.5, max_examples=2**17)
    b = meth.sgd(LS, 0, 10**9, batch=256, lr=0.5, max_examples=2**17)
    assert a["w"] == b["w"] and a["examples"] == b["examples"]
    with pytest.raises(ValueError, match="larger than the 100 rows"):
        meth.sgd(LS, 0, 100, batch=256, lr=0.1, max_examples=1000)


def test_noise_scale_estimator_matches_least_squares_formula():
    m = 2**19
    x, y = reg.rows(LS, 11, 0, m)
    s = LS.cov
    for w in (np.zeros(4), LS.w_star + np.array([0.3, -0.2, 0.1, 0.05]), LS.w_star + 0.02):
        est = meth.noise_scale(LS, w, x, y)
        dlt = w - LS.w_star
        g = s @ dlt
        cov = np.outer(g, g) + (dlt @ s @ dlt + LS.noise**2) * s      # Cov of one row's gradient (Isserlis)
        assert est["trace"] == pytest.approx(np.trace(cov), rel=0.01)
        # |mean|^2 - tr/m is unbiased for |G|^2 with standard error ~ sqrt(4 G'CG/m + 2 tr(C^2)/m^2)
        se = np.sqrt(4 * g @ cov @ g / m + 2 * np.trace(cov @ cov) / m**2)
        assert abs(est["grad_sq"] - g @ g) < 4 * se
        b = meth.noise_scale_exact(LS, w)
        assert b == pytest.approx(np.trace(cov) / (g @ g))
        assert est["b_noise"] == pytest.approx(b, rel=4 * se / (g @ g) + 0.01)
    # B_noise grows as w approaches the optimum
    assert meth.noise_scale_exact(LS, LS.w_star + 0.01) > 100 * meth.noise_scale_exact(LS, np.zeros(4))
    with pytest.raises(ValueError, match="least squares only"):
        meth.noise_scale_exact(LOGIT, np.zeros(4))


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("results")
    study.run_study("smoke", d)
    return d


def test_run_study_writes_one_record_per_run_and_skips_existing(smoke_dir):
    files = sorted((smoke_dir / "smoke" / study.KIND).glob("*.json"))
    recs = [json.loads(f.read_text()) for f in files]
    assert {r["kind"] for r in recs} == {study.KIND}
    assert all(r["run_id"] == f.stem for r, f in zip(recs, files))
    roles = {(r["problem"], r["role"], r["method"]) for r in recs}
    assert ("least_squares", "measure", "exact") in roles and ("logistic", "measure", "exact") not in roles
    assert ("logistic", "noise", "noise") in roles and ("logistic", "tune", "sgd") in roles
    assert all("git_commit" in r["provenance"] and r["provenance"]["wall_time_s"] is not None for r in recs)
    stamps = {f: f.stat().st_mtime_ns for f in files}
    study.run_study("smoke", smoke_dir, problems=("least_squares",))   # all exist: nothing rerun
    assert {f: f.stat().st_mtime_ns for f in files} == stamps
    with pytest.raises(ValueError, match="no sizes for profile 'huge'"):
        study.run_study("huge", smoke_dir)


def test_chapter_tables_and_figures_on_smoke_records(smoke_dir):
    import matplotlib
    matplotlib.use("Agg")
    from lbgap.book import regression as book

    df = book.runs(smoke_dir, "smoke")
    assert set(df.problem) == set(study.PROBLEMS) and set(df.target) == set(study.TARGETS)
    tab = book.time_table(smoke_dir, "smoke", 0.01, "least_squares")
    assert "exact one pass" in tab.index and "full-batch GD" in tab.index and "1e5" in tab.columns
    assert book.fig_time_vs_n(smoke_dir, "smoke").axes
    assert book.fig_noise_scale(smoke_dir, "smoke").axes
    assert book.fig_examples_by_batch(smoke_dir, "smoke").axes
    nz = book.noise_points(smoke_dir, "smoke")
    ls = nz[nz.problem == "least_squares"]
    far = ls[ls.b_noise_exact.astype(float) < ls.rows / 200]   # the estimate's relative noise ~ 2 sqrt(B_noise/rows)
    assert len(far) >= 3 and np.allclose(far.b_noise, far.b_noise_exact.astype(float), rtol=0.3)
    assert any("CPU minutes" in line for line in book.key_numbers(smoke_dir, "smoke"))
    with pytest.raises(ValueError, match="no regression records"):
        book.runs(smoke_dir, "quick")


@pytest.mark.parametrize("problem,batch,lr", [(LS, 256, 0.5), (LS, 1, 0.0625), (LOGIT, 16, 1.0), (LOGIT, 1, 0.25)],
                         ids=["ls-256", "ls-1", "logistic-16", "logistic-1"])
def test_timed_sgd_updates_are_the_runs_arithmetic(problem, batch, lr):
    """The headline times sgd's updates without its checks: on the rows the run used, the same iterates exactly."""
    run = meth.sgd(problem, 4, 10**9, batch=batch, lr=lr, max_examples=3000)
    x, y = reg.rows(problem, 4, 0, run["examples"])
    w, wbar = timing.sgd_updates(problem, x, y, batch, lr)
    assert w.tolist() == run["w"] and wbar.tolist() == run["w_avg"]


def test_timed_exact_solve_and_plan():
    x, y = reg.rows(LS, 3, 0, 5000)
    np.testing.assert_allclose(timing.exact_solve(x, y), meth.one_pass(LS, 3, 5000)["w"], rtol=1e-10)
    plan = [dict(method="exact", target=0.01, examples=5000, batch=None, lr=None, variant="last"),
            dict(method="sgd", target=0.01, examples=4096, batch=256, lr=0.5, variant="avg")]
    out = timing.time_plan(LS, 3, plan, repeats=5)
    for e in out:
        assert len(e["solve"]["cpu_s_all"]) == len(e["generate"]["cpu_s_all"]) == 5 == e["repeats"]
        assert e["solve"]["cpu_s"] == np.median(e["solve"]["cpu_s_all"]) and e["blocks"] == 1
    assert out[0]["gap"] == pytest.approx(reg.relative_gap(LS, timing.exact_solve(x, y)))
    w, wbar = timing.sgd_updates(LS, x[:4096], y[:4096], 256, 0.5)
    assert out[1]["gap"] == pytest.approx(reg.relative_gap(LS, wbar))
    with pytest.raises(ValueError, match="least squares only"):
        timing.time_plan(LOGIT, 3, plan[:1], repeats=5)
    with pytest.raises(ValueError, match="unknown method 'newton'"):
        timing.time_plan(LS, 3, [dict(plan[0], method="newton")], repeats=5)


def test_regression_sizes_live_beside_the_profiles():
    from lbgap.cli.commands import regression as cmd
    from lbgap.core import config

    assert set(cmd.PROFILES) == set(config.REGRESSION_SIZES) <= set(config.PROFILES)   # run profiles, no others
    assert not hasattr(study, "PROFILES") and not hasattr(config, "REGRESSION_PROFILES")
    assert study.regression_size("quick")["headline_repeats"] >= 5


def test_headline_times_both_methods_on_the_same_seeds(smoke_dir):
    from lbgap.book import regression as book

    recs = [json.loads(f.read_text()) for f in (smoke_dir / "smoke" / study.KIND).glob("*headline*.json")]
    assert {(r["problem"], r["seed"]) for r in recs} == {(p, s) for p in study.PROBLEMS
                                                         for s in study.regression_size("smoke")["seeds"]}
    assert all(r["threads"] == 1 and r["provenance"]["omp_num_threads"] == "1" for r in recs)
    ls = next(r for r in recs if r["problem"] == "least_squares")
    assert {e["method"] for e in ls["entries"]} == {"exact", "sgd"}
    for e in ls["entries"]:
        assert e["gap"] <= e["target"] * 1.5     # the timed solve is the work that reached the target
        assert e["generate"]["cpu_s"] > 0 and e["solve"]["cpu_s"] > 0
    hc = book.headline_comparison(smoke_dir, "smoke")
    row = hc[(hc.problem == "least_squares") & (hc.target == 0.001)].iloc[0]
    assert row.n_paired == 1 and np.isnan(row.diff_lo)     # one seed: no interval
    assert row.diff_s == pytest.approx(row.exact_solve_s - row.sgd_solve_s)
    line = next(x for x in book.key_numbers(smoke_dir, "smoke") if x.startswith("least squares, to 0.1%"))
    assert "the solve alone" in line and "exact − SGD" in line and "generating the rows" in line


def test_knee_takes_s_min_from_full_batch_gd(smoke_dir):
    from lbgap.book import regression as book

    kn = book.knee_numbers(smoke_dir, "smoke")
    gd = [json.loads(f.read_text()) for f in (smoke_dir / "smoke" / study.KIND).glob("*-gd-N*.json")]
    for k in kn.itertuples():
        mine = [r for r in gd if r["problem"] == k.problem and not r.get("bounded")]
        nmax = max(r["n"] for r in mine)
        steps = [r["targets"][f"{k.target:g}"]["steps"] for r in mine if r["n"] == nmax]
        assert k.gd_steps == pytest.approx(np.mean(steps)) and k.b_crit == pytest.approx(k.e_min / k.s_min)
        eb = book.examples_by_batch(smoke_dir, "smoke")
        fewest = eb[(eb.problem == k.problem) & (eb.target == k.target)].steps.min()
        assert k.s_min == min(k.gd_steps, fewest)          # the full-batch limit: no batch size took fewer steps
        assert k.s_min_from == ("full-batch GD" if k.gd_steps <= fewest else k.s_min_from)
    assert "S_min (steps)" in book.knee(smoke_dir, "smoke").columns
