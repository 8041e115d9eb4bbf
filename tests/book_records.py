"""Hand-made records for the tests of ``lbgap.book``: training runs whose Table 2 numbers are known by hand,
sharpness, landscape and GPU-call records, written where the book's tables read them."""
from __future__ import annotations

from lbgap.book.context import context
from lbgap.core import records


def train_record(results_dir, net, regime, seed, train_acc, test_acc, dist, epochs=10, stop="plateau", sps=1.0,
                 eval_order=None):
    bs = 256 if regime == "SB" else 6000
    run_id = f"{net}-mnist-official-b{bs}-s{seed}"
    history = [dict(epoch=e, step=e * 10, train_acc=train_acc * e / epochs, test_acc=test_acc * e / epochs,
                    train_loss=1.0 / (e + 1), test_loss=1.0 / (e + 1)) for e in range(epochs + 1)]
    rec = dict(kind="train", run_id=run_id, status="ok", stop_reason=stop, epochs=epochs, steps=epochs * 10,
               config=dict(profile="paper", net=net, dataset="mnist", split="official", source="real", bn="batch",
                           regime=regime, batch_size=bs, seed=seed, tag=""),
               final=dict(train_acc=train_acc, test_acc=test_acc, train_loss=0.01, test_loss=0.1),
               dist_from_init=dist, samples_per_s=sps, history=history,
               provenance=dict(wall_time_s=3600.0, device="cpu (test)", git_commit="abc", torch_version="2",
                               python="3.11", lbgap_version="0.1.0"))
    if eval_order:   # records without it predate interleaved evaluation batches: stored order
        rec["data"] = dict(eval_order=eval_order)
    records.atomic_write_json(records.record_path(results_dir, "paper", "train", run_id), rec)


def three_f1_pairs(results_dir):
    """F1 seeds 0-2: SB test acc 0.98, 0.99, 1.00 -> mean 99.00, std 1.00; LB 0.95, 0.96, 0.97 -> 96.00 ± 1.00; gap
    3.00, 2 standard errors = 2*sqrt(1/3 + 1/3) = 1.63 -> significant. Distances 30/10, 40/10, 50/10 -> ratio
    4 ± 1. LB seed 2 hit the epoch cap. The context reads F1 and C3 (no records), seeds 0-4."""
    for s, (a, b, d) in enumerate([(0.98, 0.95, 30.0), (0.99, 0.96, 40.0), (1.00, 0.97, 50.0)]):
        train_record(results_dir, "F1", "SB", s, 1.0, a, d, sps=1000.0 * (s + 1))
        train_record(results_dir, "F1", "LB", s, 1.0, b, 10.0, stop="max_epochs" if s == 2 else "plateau")
    return context("results", results_dir, seeds="0-4", nets="F1,C3")


def sharpness_record(results_dir, net, regime, seed, phis):
    entries = {f"{space}-{objective}": dict(space=space, eps=1e-3, params="all", objective=objective, value=v, f0=0.1,
                                            fmax=0.2, nfev=11, nit=10, message="", wall_s=1.0, n_train=60000,
                                            train_set=60000)
               for (space, objective), v in phis.items()}
    rid = f"{net}-mnist-official-b{256 if regime == 'SB' else 6000}-s{seed}"
    records.atomic_write_json(records.record_path(results_dir, "paper", "sharpness", rid),
                              dict(kind="sharpness", run_id=rid, net=net, regime=regime, seed=seed, profile="paper",
                                   entries=entries, hessian=None))


def sharpness_pair_record(results_dir, run_id, regime, seed, tag, phi_full, phi_random):
    entry = dict(f0=0.01, fmax=0.02, nfev=12, nit=10, message="STOP", wall_s=1.0, params="all", eps=1e-3,
                 n_train=60000, train_set=60000)
    rec = dict(kind="sharpness", run_id=run_id, net="F1", regime=regime, seed=seed, profile="paper",
               config=dict(tag=tag),
               entries={"full-eps0.001-sum": dict(entry, space="full", objective="sum", value=phi_full),
                        "random-eps0.001-p100-A0": dict(entry, space="random", value=phi_random, a_seed=0)})
    records.atomic_write_json(records.record_path(results_dir, "paper", "sharpness", run_id), rec)


def gpu_call_record(results_dir, started, elapsed, pairs, complete=True, gpu="NVIDIA H200", bench=(), profile="paper"):
    run_id = started.replace("-", "").replace(":", "") + "Z-call1"
    rec = dict(kind="gpu_call", run_id=run_id, call="1", device=gpu, budget_s=540, elapsed_s=elapsed,
               complete=complete, bench=list(bench), tag="", jobs="", pairs=pairs,
               provenance=dict(device=gpu, started=started + "+00:00", wall_time_s=elapsed, git_commit="abc",
                               torch_version="2", python="3.11", lbgap_version="0.1.0"))
    records.atomic_write_json(records.record_path(results_dir, profile, "gpu_call", run_id), rec)
