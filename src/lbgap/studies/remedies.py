"""Appendix E of Keskar et al. (2017): can a remedy close the large-batch gap? Tables 6 and 7.

* Table 7, conservative training (Appendix E.2, after Li et al. 2014): each LB step becomes an approximate solve of
  the proximal sub-problem x_{k+1} = argmin_x (1/|B_k|) sum_{i in B_k} f_i(x) + (lambda/2) ||x - x_k||^2 (Eq. 5)
  "using 3 iterations of ADAM", lambda = 1e-3. The paper reports the baseline SB test accuracy, the conservative LB
  test accuracy and the conservative LB sharpness at eps = 1e-3 and 5e-4: "a statistically significant improvement
  in the testing accuracy of the large-batch method but it does not solve the problem of sensitivity".
* Table 6, data augmentation (Appendix E.1, the four conv nets): SB and LB both trained on augmented data
  (``augment``: flips, rotations up to 10 degrees, shifts up to 0.2); the paper reports both test accuracies and
  the augmented LB sharpness: LB "achieves accuracy comparable to the SB method ... the sharpness of the minima
  still exists".

What this module fixes where the paper is silent (each run's record keeps its exact config):

* conservative training: one persistent Adam (lr 1e-3) takes the 3 inner steps on the same batch, the proximal
  term anchored at x_k (``train.train_epoch``);
* a remedy's runs are the Table 2 configurations of the same seed (same x0, data order, batch sizes, stopping
  rule) plus the remedy's settings and its name as the tag, so they never mix with Table 2's;
* sharpness of each remedy LB minimiser as Table 3/4 at both eps: full space with L-BFGS-B on the summed loss (the
  objective that reaches the box at a converged minimiser; see the sharpness chapter) and the random
  100-dimensional subspace, f on ``train_examples`` un-augmented training examples (None: all, the paper's
  definition);
* the comparison is per seed against the Table 2 SB and plain LB runs of the same seed and profile (``run`` makes
  them, and plain LB's sharpness entries, where missing), with paired t-tests (``paired_effects``);
* a control the paper does not have, ``repeat3``: the same 3 Adam steps per batch with lambda = 0, so that what the
  proximal term does is told apart from what three times the optimizer steps do (``control_table``).

The measured tables (Table 7 against Table 2's runs of the same seeds, the control, the paired tests) are in
the chapter "Can a remedy close the gap? (Tables 6 and 7)" (``chapters/remedies.ipynb``).

CLI: ``lbgap sweep remedy --net F1 --seeds 0-4 --profile paper --max-epochs 50`` (Table 7 on a CPU,
matching the F1 Table 2 runs' 50-epoch cap); ``lbgap sweep remedy --net C1 --remedy augment --device cuda``
(Table 6, GPU).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lbgap.core import records
from lbgap.measures import sharpness
from lbgap.core import sweep
from lbgap.core.train import make_config

# name -> the config settings it adds, the regimes it trains, the paper's table
REMEDIES = {
    "conservative": dict(settings=dict(inner_steps=3, prox=1e-3), regimes=("LB",), table=7),   # Appendix E.2
    "augment": dict(settings=dict(augment="paper"), regimes=("SB", "LB"), table=6),            # Appendix E.1
    # not in the paper: conservative training without its proximal term (lambda = 0), the same 3 Adam steps per
    # batch, to tell what the proximal term adds from what three times the optimizer steps add
    "repeat3": dict(settings=dict(inner_steps=3, prox=0.0), regimes=("LB",), table=7, control_of="conservative"),
}
EPS = (1e-3, 5e-4)
MEASURES = (("full", "sum"), ("random", "mean"))    # (space, L-BFGS-B objective): the table's phi columns
SHARPNESS = MEASURES                                 # what ``run`` computes per run


def grid(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", remedy: str = "conservative", **overrides):
    """The remedy's configurations per seed: the Table 2 configs of its regimes plus its settings and tag."""
    if remedy not in REMEDIES:
        raise ValueError(f"unknown remedy {remedy!r}: choose one of {', '.join(REMEDIES)}")
    if not seeds:
        raise ValueError("give at least one seed")
    spec = REMEDIES[remedy]
    return [make_config(net, regime, seed, profile, tag=remedy, **spec["settings"], **overrides)
            for seed in seeds for regime in spec["regimes"]]


def run(net: str, seeds: Sequence[int] = (0,), profile: str = "paper", remedy: str = "conservative",
        train_examples: int | None = None, results_dir: str | Path | None = None, executor: str = "serial",
        force: bool = False, baseline: bool = True, **overrides) -> list:
    """Seed by seed: with ``baseline`` the Table 2 SB and LB runs of the seed first (same overrides; skipped where
    their records exist), then the remedy's runs; then the sharpness entries of plain and remedy LB (finished
    ones skipped), so an interrupted sweep leaves whole seeds behind. Returns the training outcomes."""
    from lbgap.core.train import sb_lb_configs

    results_dir = records.store_root(results_dir)
    grid(net, seeds, profile, remedy, **overrides)   # bad input fails before anything runs
    outcomes = []
    for seed in seeds:
        cfgs = (sb_lb_configs(net, seed, profile, **overrides) if baseline else []) \
            + grid(net, (seed,), profile, remedy, **overrides)
        done = sweep.run_grid(cfgs, results_dir, executor, force=force, label=f"remedy-{remedy}-{net}")
        outcomes += done
        lb = [(cfg, out) for cfg, out in zip(cfgs, done) if cfg.regime == "LB"]
        sharpness.measure_runs([c for c, _ in lb], [o for _, o in lb], SHARPNESS, EPS, train_examples,
                               results_dir, force)
    return outcomes


def _phi(sharp, run_id: str, eps: float, space: str, objective: str) -> float:
    h = sharpness.entry_for(sharp, run_id, eps, space, objective)
    return float("nan") if h is None else float(h.phi)


LABELS = {"conservative": "conservative", "augment": "augmented", "repeat3": "3 steps, λ = 0"}


def table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick"),
          remedy: str = "conservative"):
    """One row per (network, seed) with a remedy LB run: test accuracy of the Table 2 SB and plain LB runs of that
    seed, of the remedy's LB run and of its SB run (augmentation trains both; NaN otherwise), the final training
    losses, and phi of Table 2 SB, plain LB and remedy LB at each eps (full space summed objective, random
    subspace; NaN where not computed). Per network the first of ``profiles`` that has remedy runs."""
    import pandas as pd

    nan = float("nan")
    rows = []
    for prof, df, mine in records.first_profile_runs(results_dir, profiles,
                                                     lambda df: (df.tag == remedy) & (df.status == "ok")):
        base = df[(df.tag == "") & (df.bn == "batch") & (df.status == "ok")]
        sharp = pd.concat([sharpness.sharpness_table(results_dir, prof, tag=t) for t in ("", remedy)],
                          ignore_index=True)

        def pick(frame, r, regime):
            hit = frame[(frame.net == r.net) & (frame.seed == r.seed) & (frame.split == r.split)
                        & (frame.regime == regime)]
            return hit.iloc[0] if len(hit) else None

        for _, r in mine[mine.regime == "LB"].iterrows():
            sb, lb, rsb = pick(base, r, "SB"), pick(base, r, "LB"), pick(mine, r, "SB")
            row = dict(net=r.net, profile=prof, seed=int(r.seed), batch_size=int(r.batch_size),
                       epochs=int(r.epochs), steps=int(r.steps), stop_reason=r.stop_reason,
                       test_acc_sb=100 * sb.test_acc if sb is not None else nan,
                       test_acc_lb=100 * lb.test_acc if lb is not None else nan,
                       test_acc_remedy=100 * r.test_acc,
                       test_acc_remedy_sb=100 * rsb.test_acc if rsb is not None else nan,
                       train_loss_lb=lb.train_loss if lb is not None else nan, train_loss_remedy=r.train_loss)
            for eps in EPS:
                for space, objective in MEASURES:
                    col = f"{space}_{eps:g}"
                    row[f"phi_sb_{col}"] = _phi(sharp, sb.run_id, eps, space, objective) if sb is not None else nan
                    row[f"phi_lb_{col}"] = _phi(sharp, lb.run_id, eps, space, objective) if lb is not None else nan
                    row[f"phi_remedy_{col}"] = _phi(sharp, r.run_id, eps, space, objective)
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["net", "profile", "seed", "test_acc_sb", "test_acc_lb", "test_acc_remedy",
                                     "test_acc_remedy_sb"])
    return pd.DataFrame(rows).sort_values(["net", "seed"]).reset_index(drop=True)


def control_table(results_dir: str | Path | None = None, profiles: Sequence[str] = ("paper", "quick"),
                  remedy: str = "conservative"):
    """:func:`table` of ``remedy`` with its control's LB run of the same (network, profile, seed) beside it (the
    remedy whose ``control_of`` it is: for conservative training, the same 3 Adam steps per batch with lambda = 0):
    columns ``test_acc_control``, ``train_loss_control`` and ``phi_control_<space>_<eps>``. Only seeds that have
    both."""
    control = next((k for k, v in REMEDIES.items() if v.get("control_of") == remedy), None)
    if control is None:
        have = ", ".join(f"{k} (of {v['control_of']})" for k, v in REMEDIES.items() if v.get("control_of"))
        raise ValueError(f"remedy {remedy!r} has no control run; the controls are: {have}")
    main, ctrl = table(results_dir, profiles, remedy), table(results_dir, profiles, control)
    if main.empty or ctrl.empty:
        return main.iloc[0:0]
    keep = {"test_acc_remedy": "test_acc_control", "train_loss_remedy": "train_loss_control",
            **{c: c.replace("phi_remedy_", "phi_control_") for c in ctrl.columns if c.startswith("phi_remedy_")}}
    ctrl = ctrl[["net", "profile", "seed", *keep]].rename(columns=keep)
    return main.merge(ctrl, on=["net", "profile", "seed"], how="inner")


def paired_effects(df, pairs: Sequence[tuple[str, str, str]]):
    """Per network and pair (label, column a, column b) of per-seed values: the mean and std of a - b over the
    seeds, how many seeds have a > b, and the two-sided paired t-test's p-value (scipy.stats.ttest_rel; NaN
    below 2 seeds). This is the paper's "statistically significant improvement" made checkable."""
    import pandas as pd
    from scipy import stats

    rows = []
    for net, g in df.groupby("net"):
        for label, a, b in pairs:
            d = (g[a] - g[b]).dropna()
            p = float(stats.ttest_rel(g.loc[d.index, a], g.loc[d.index, b]).pvalue) if len(d) > 1 else float("nan")
            rows.append(dict(network=net, comparison=label, n=len(d), mean=d.mean(), std=d.std(),
                             a_larger=int((d > 0).sum()), p=p))
    return pd.DataFrame(rows, columns=["network", "comparison", "n", "mean", "std", "a_larger", "p"])
