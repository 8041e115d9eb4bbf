"""lbgap.studies.bench: real code on tiny synthetic data, checked against known numbers (the GPU driver's tests:
test_gpu_driver.py)."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch

from lbgap.core import records
from lbgap.studies import bench, bench_timing
from lbgap import cli
from lbgap.core import data as datamod
from lbgap.core import train
from lbgap.core.train import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_flops_of_f1_match_the_analytic_count():
    # Linear layers 784-512, 4 x 512-512, 512-10: forward 2*in*out each, backward 2*in*out for the weight
    # gradient and 2*in*out for the input gradient, except the first layer (the input needs no gradient).
    macs = 784 * 512 + 4 * 512 * 512 + 512 * 10
    assert bench.train_flops_per_example("F1") == 6 * macs - 2 * 784 * 512


def test_torchvision_style_dataset_serves_exactly_our_batches():
    for name in ("cifar10", "mnist"):
        ds = datamod.load(name, "official", "synthetic", "cpu", n_train=8, n_test=4).train
        tv = bench.baseline_dataset(ds)
        x, y = ds.batch(torch.arange(8))
        for i in (0, 5):
            xi, yi = tv[i]
            assert xi.dtype == torch.float32 and torch.equal(xi, x[i]) and yi == int(y[i])


def test_resolve_batch_uses_the_full_training_set():
    assert bench.resolve_batch("C1", "SB", 45000) == 256
    assert bench.resolve_batch("C1", "LB", 45000) == 4500
    assert bench.resolve_batch("F1", "10%", 60000) == 6000
    assert bench.resolve_batch("F1", 512, 60000) == 512
    with pytest.raises(ConfigError):
        bench.resolve_batch("F1", "abc", 60000)


def test_resolve_batch_reads_sb_and_lb_from_the_profile():
    from lbgap.core.config import get_profile

    smoke = get_profile("smoke")
    assert bench.resolve_batch("F1", "SB", 60000, "smoke") == smoke["sb_batch_size"] == 16
    assert bench.resolve_batch("F1", "LB", 60000, "smoke") == round(smoke["lb_fraction"] * 60000) == 15000
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        bench.resolve_batch("F1", "SB", 60000, "huge")


def test_tf32_flags_are_restored_when_a_measurement_fails(monkeypatch):
    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            assert torch.backends.cuda.matmul.allow_tf32 is False    # the measurement's setting is in effect
            raise RuntimeError("broken model")

    ds = datamod.load("mnist", "official", "synthetic", "cpu", n_train=16, n_test=8).train
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = True, True
        with pytest.raises(RuntimeError, match="broken model"):
            bench_timing.eval_throughput(Broken(), ds, 8, torch.device("cpu"))
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
        monkeypatch.setattr(bench_timing, "build_model", lambda net, num_classes=None: Broken())
        with pytest.raises(RuntimeError, match="broken model"):
            bench_timing.time_baseline("F1", ds, 8, torch.device("cpu"), epochs=1, warmup_steps=1, workers=0)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def test_synthetic_bench_data_has_the_real_runs_training_size(tmp_path, monkeypatch):
    """Without the real cache, CIFAR-10 is benchmarked on as many synthetic images as the paper profile's
    hold-out split trains on (45,000), so LB is the profile's 4,500; MNIST keeps its 60,000 (official split)."""
    from lbgap.core import paths

    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "empty-cache")
    ds, name, used, full_n = bench.bench_data("C1", n_samples=64, source="auto")
    assert (name, used, len(ds), full_n) == ("cifar10", "synthetic", 64, 45000)
    assert bench.resolve_batch("C1", "LB", full_n) == 4500
    assert bench.bench_data("F1", n_samples=32, source="synthetic")[3] == 60000


def test_check_precision_trains_each_seed_in_both_precisions(monkeypatch, checkpoints):
    """The bf16-vs-fp32 check that the GPU driver runs (--check-precision), end to end on tiny synthetic MNIST on
    the CPU: one bf16 and one fp32 run per seed, and bf16 autocast really changes the arithmetic (the same
    seed's losses differ; identical numbers would mean the precision was ignored)."""
    real_load = datamod.load
    monkeypatch.setattr(bench.datamod, "load", lambda name, split, source, dev: real_load(
        name, split, "synthetic", dev, n_train=256, n_test=128))
    out = bench.check_precision("F1", 64, seeds=(0, 1), epochs=1, device="cpu")
    rows = {(r["seed"], r["precision"]): r for r in out["rows"]}
    assert sorted(rows) == [(0, "bf16"), (0, "fp32"), (1, "bf16"), (1, "fp32")]
    assert all(r["epochs"] == 1 and 0 <= r["test_acc"] <= 1 for r in rows.values())
    for seed in (0, 1):
        assert rows[seed, "bf16"]["train_loss"] != rows[seed, "fp32"]["train_loss"]
    assert out["mean_acc_bf16"] == pytest.approx((rows[0, "bf16"]["test_acc"] + rows[1, "bf16"]["test_acc"]) / 2)


def test_precision_verdict():
    ok = bench.precision_verdict([0.50, 0.52], [0.51, 0.53])
    assert ok["diff"] == pytest.approx(-0.01) and ok["seed_sd"] == pytest.approx(math.sqrt(2e-4))
    assert ok["within_seed_noise"]
    bad = bench.precision_verdict([0.40, 0.401], [0.50, 0.501])
    assert not bad["within_seed_noise"]
    with pytest.raises(ValueError):
        bench.precision_verdict([0.5], [0.5])


@pytest.mark.slow
def test_bench_end_to_end_writes_a_record_and_a_table(tmp_path):
    rec = bench.bench("F1", 64, bench.BenchOptions("cpu", n_samples=300, source="synthetic", epochs=1, warmup_steps=1,
                                                   workers=0, sharpness_vs_scipy=True), results_dir=tmp_path)
    assert rec["n_samples"] == 300 and rec["batch_size"] == 64 and rec["data_source"] == "synthetic"
    assert rec["ours"]["steps_per_epoch"] == rec["baseline"]["steps_per_epoch"] == math.ceil(300 / 64)
    assert rec["speedup"] == pytest.approx(rec["ours"]["samples_per_s"] / rec["baseline"]["samples_per_s"])
    assert rec["ours"]["samples_per_s"] == pytest.approx(300 / rec["ours"]["epoch_s"])
    assert rec["ours_tflops"] == pytest.approx(rec["flops_per_example"] * rec["ours"]["samples_per_s"] / 1e12)
    assert rec["precision_policy"]["tf32_matmul"] is False and rec["precision_policy"]["train"] == "float32"
    assert math.isfinite(rec["ours"]["last_epoch_loss"]) and rec["eval_samples_per_s"] > 0
    path = tmp_path / "paper" / "bench" / f"{rec['run_id']}.json"
    assert json.loads(path.read_text())["speedup"] == pytest.approx(rec["speedup"])
    df = bench.bench_table(tmp_path)
    assert len(df) == 1 and df.speedup.iloc[0] == pytest.approx(rec["speedup"]) and df.net.iloc[0] == "F1"
    # the reproducibility chapter's table of it
    from lbgap.book import reproducibility
    from lbgap.book.context import context

    row = reproducibility.bench_summary(context("results", tmp_path)).iloc[0]
    assert row["speedup"] == f"{rec['speedup']:.2f}×" and row["batch"] == 64
    assert row["ours_sps"] == f"{rec['ours']['samples_per_s']:,.0f}"
    # the full-space sharpness, ours and through scipy.optimize.minimize: the same maximisation, side by side
    assert rec["sharpness_params"] == 1_462_794 and rec["sharpness_same"] and rec["sharpness_phi"] > 0
    assert rec["sharpness_speedup"] == pytest.approx(rec["sharpness_scipy_s"] / rec["sharpness_s"])
    assert row["sharpness_speedup"] == f"{rec['sharpness_speedup']:.2f}×"


def test_stacked_seeds_compute_each_seeds_own_loss_and_gradient():
    """torch.func stacking (bench --stacked): one vmapped model of two F1 seeds, each on its own batch, gives
    each seed the loss and gradient of its own separate model (BN with batch statistics, so no buffers)."""
    from lbgap.core.models import keras_cross_entropy

    ds = datamod.load("mnist", "official", "synthetic", "cpu", n_train=128, n_test=8).train
    st = bench.StackedSeeds("F1", (0, 1), torch.device("cpu"), "fp32")
    xy = [ds.batch(torch.arange(0, 64)), ds.batch(torch.arange(64, 128))]
    x, y = torch.stack([a for a, _ in xy]), torch.stack([b for _, b in xy])
    loss = st.step(x, y)   # the gradients stay in .grad after the Adam step
    for k, cfg in enumerate(st.cfgs):
        model = train.initial_model(cfg)
        ref = keras_cross_entropy(model(xy[k][0]), xy[k][1])
        ref.backward()
        assert loss[k].item() == pytest.approx(ref.item(), abs=1e-6)
        for name, p in model.named_parameters():
            assert torch.allclose(st.params[name].grad[k], p.grad, atol=1e-5, rtol=1e-4), name
    # the seeds really differ (seed 1 is not a copy of seed 0)
    assert not torch.equal(st.params["net.1.weight"][0], st.params["net.1.weight"][1])
    steps = st.epoch(ds, 50, [torch.Generator().manual_seed(s) for s in (0, 1)])
    assert steps == 3  # 50 + 50 + 28: the last partial batch included, as in train.train_epoch


def test_bench_times_processes_and_stacked_seeds_side_by_side(tmp_path):
    rec = bench.bench("F1", 64, bench.BenchOptions("cpu", n_samples=256, source="synthetic", epochs=1, warmup_steps=1,
                                                   workers=0, baseline=False, stacked=2), results_dir=tmp_path)
    st = rec["stacked"]
    assert st["models"] == 2 and st["aggregate_samples_per_s"] == pytest.approx(2 * 256 / st["epoch_s"])
    from lbgap.book import reproducibility
    from lbgap.book.context import context

    row = reproducibility.seeds_at_once_summary(context("results", tmp_path)).iloc[0]
    assert row["stacked_seeds"] == "2" and row["processes"] == "—"
    assert row["stacked_x"] == f"{st['aggregate_samples_per_s'] / rec['ours']['samples_per_s']:.2f}×"


def test_streams_train_each_seed_as_its_own_run():
    """bench --streams: N seeds in N threads of one process (CUDA: one stream each) end each epoch with the
    weights that ``train.train_epoch`` gives that seed alone, from its own x0, batches and Adam state."""
    ds = datamod.load("mnist", "official", "synthetic", "cpu", n_train=96, n_test=8).train
    out = bench.time_streams(2, "F1", ds, 32, torch.device("cpu"), "fp32", epochs=1, warmup_steps=1)
    assert out["models"] == 2 and out["streams"] is False
    assert out["aggregate_samples_per_s"] == pytest.approx(2 * 96 / out["epoch_s"])
    for s, trained in enumerate(out["trained"]):
        cfg = train.make_config("F1", 256, s, "paper", precision="fp32", device="cpu", save_checkpoints=False)
        model = train.initial_model(cfg)
        model.train()
        opt, gen = train.make_optimizer(cfg, model.parameters()), torch.Generator().manual_seed(s)
        for d in (bench_timing.warmup_subset(ds, 32, 1), ds):   # what _time_epochs ran: the warm-up, then 1 epoch
            train.train_epoch(model, opt, d, gen, train.StepOptions(32, train.autocast(cfg, torch.device("cpu"))))
        for (name, p), q in zip(model.named_parameters(), trained.parameters()):
            assert torch.allclose(p, q, atol=1e-6, rtol=1e-5), (s, name)
    w0, w1 = (m.net[1].weight for m in out["trained"])
    assert not torch.allclose(w0, w1)   # two different seeds, not one model twice


def test_bench_times_streams_beside_one_model(tmp_path):
    rec = bench.bench("F1", 64, bench.BenchOptions("cpu", n_samples=256, source="synthetic", epochs=1, warmup_steps=1,
                                                   workers=0, baseline=False, streams=2), results_dir=tmp_path)
    th = rec["streams"]
    assert th["models"] == 2 and not th["streams"] and "trained" not in th
    from lbgap.book import reproducibility
    from lbgap.book.context import context

    row = reproducibility.seeds_at_once_summary(context("results", tmp_path)).iloc[0]
    assert row["threads"] == "2 (no streams)" and row["stacked_seeds"] == "—"
    assert row["threads_x"] == f"{th['aggregate_samples_per_s'] / rec['ours']['samples_per_s']:.2f}×"


def test_a_failed_seeds_at_once_measurement_keeps_the_bench_record(tmp_path, monkeypatch, caplog):
    """--streams/--stacked/--concurrent are the parts a CPU never runs as on a GPU: one that raises is recorded
    with its error, and the rest of the bench (and its record) is kept."""
    def broken(*a, **k):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(bench, "time_streams", broken)
    caplog.set_level(logging.INFO, logger=bench.logger.name)
    rec = bench.bench("F1", 64, bench.BenchOptions("cpu", n_samples=128, source="synthetic", epochs=1, warmup_steps=1,
                                                   workers=0, baseline=False, streams=2, stacked=2),
                      results_dir=tmp_path)
    assert rec["streams"] == dict(models=None, error="RuntimeError: CUDA error: out of memory")
    failed = [r for r in caplog.records if "FAILED" in r.getMessage()]
    assert rec["stacked"]["models"] == 2 and [r.levelno for r in failed] == [logging.WARNING]
    saved = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert saved["streams"]["error"] and saved["ours"]["samples_per_s"] > 0


@pytest.mark.slow
def test_bench_sharpness_alone_times_ours_only(tmp_path, caplog):
    """``--sharpness`` without ``--sharpness-vs-scipy`` (what scripts/gpu_paper.sh runs on C2): one timing,
    logged, and no comparison fields."""
    caplog.set_level(logging.INFO, logger=bench.logger.name)
    rec = bench.bench("F1", 64, bench.BenchOptions("cpu", n_samples=200, source="synthetic", epochs=1, warmup_steps=1,
                                                   workers=0, baseline=False, sharpness=True), write=False)
    lines = caplog.messages
    assert rec["sharpness_s"] > 0 and rec["sharpness_nfev"] >= 1 and "sharpness_scipy_s" not in rec
    assert any("sharpness full space" in ln for ln in lines) and not any("skipped" in ln for ln in lines)


def test_bench_options_default_to_the_command_lines_and_take_every_option():
    """``lbgap bench`` without options asks for :class:`BenchOptions`' defaults; each option reaches its field."""
    from lbgap.cli.commands import bench as command

    def options(*args):
        return command.bench_options(cli.build_parser().parse_args(["bench", "--net", "F1", *args]))

    assert options() == bench.BenchOptions()
    assert options("--device", "cpu", "--n-samples", "300", "--data", "synthetic", "--epochs", "1",
                   "--warmup-steps", "1", "--precision", "bf16", "--compile", "default", "--workers", "0",
                   "--no-baseline", "--concurrent", "2", "--stacked", "3", "--streams", "4", "--sharpness",
                   "--sharpness-vs-scipy") == bench.BenchOptions(
        "cpu", 300, "synthetic", 1, 1, "bf16", "default", 0, False, 2, 3, 4, True, True)


def test_bench_cli_rejects_a_batch_larger_than_the_data(capsys, tmp_path):
    rc = cli.main(["bench", "--net", "F1", "--batch-size", "500", "--n-samples", "100", "--data", "synthetic",
                   "--results-dir", str(tmp_path)])
    assert rc == 2 and "raise --n-samples" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_a_last_batch_of_one_example_is_refused_before_anything_runs(capsys, tmp_path):
    """BatchNorm cannot normalise one example in training mode: 129 examples in batches of 64 end with one. The
    bench and a training run say so up front (the F2 LB bench step of gpu_paper.sh once had 2 x 110,600 + 1)."""
    rc = cli.main(["bench", "--net", "F1", "--batch-size", "64", "--n-samples", "129", "--data", "synthetic",
                   "--results-dir", str(tmp_path)])
    assert rc == 2 and "last batch of 1 example" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))
    cfg = train.make_config("F1", 64, 0, "smoke", n_train=129)
    with pytest.raises(ConfigError, match="use 128 or 130 examples"):
        train.train(cfg, tmp_path, progress=False)


def _bench_steps():
    """The ``step LIMIT NET REGIMES ... -- options`` lines of scripts/gpu_paper.sh: (net, regimes, options)."""
    out = []
    for line in (ROOT / "scripts" / "gpu_paper.sh").read_text().splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0] == "step" and parts[1].isdigit():
            opts = parts[parts.index("--") + 1:] if "--" in parts else []
            out.append((parts[2], parts[3].split(","), opts))
    return out


def test_full_training_size_is_what_a_real_run_trains_on(monkeypatch):
    """MNIST's 60,000; CIFAR-10's 50,000 less the 5,000 hold-out when its official test set is incomplete."""
    assert bench.full_training_size("F1") == 60000 and bench.full_training_size("f2") == 1106004
    monkeypatch.setattr(train, "default_split", lambda name, source: "holdout")
    assert bench.full_training_size("C1") == 45000
    monkeypatch.setattr(train, "default_split", lambda name, source: "official")
    assert bench.full_training_size("C2") == 50000


def test_every_gpu_bench_step_has_whole_batches_of_at_least_two():
    """Each bench step of the GPU script, at the real training-set sizes: its batches fit the examples it
    benchmarks and none of its epochs ends with a one-example batch (which would crash that regime on the GPU)."""
    steps = _bench_steps()
    assert {net for net, _, _ in steps} >= {"C1", "C2", "F1", "F2"}
    for net, regimes, opts in steps:
        full = bench.full_training_size(net)
        n = int(opts[opts.index("--n-samples") + 1]) if "--n-samples" in opts else full
        for regime in regimes:
            bs = bench.resolve_batch(net, regime, full)
            assert bs <= n and n % bs != 1, (net, regime, n, bs)


def test_float32_policy_holds_in_every_command_and_is_recorded_on_a_gpu(monkeypatch):
    """PyTorch leaves cuDNN's TF32 on by default; every lbgap command (sharpness and landscape included, which
    never call train.precision_policy) switches it off, and a GPU record says what was in effect."""

    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True   # PyTorch's cuDNN default
        assert cli.main(["models"]) == 0
        assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False
        torch.backends.cudnn.allow_tf32 = True   # and any computation, called from Python, on picking its device
        assert train.compute_device("cpu") == torch.device("cpu") and torch.backends.cudnn.allow_tf32 is False
    finally:
        train.apply_float32_policy()
    monkeypatch.setattr(records, "device_name", lambda d: "a GPU")
    assert records.provenance("cuda")["tf32"] == dict(matmul=False, cudnn=False)
    assert "tf32" not in records.provenance("cpu")


@pytest.mark.slow
def test_concurrent_processes_time_their_epochs_and_a_failure_is_raised():
    """--concurrent: two spawned processes report their timed epochs; one that fails (here an unknown batch
    size) makes the call raise at once instead of leaving the others waiting at the barrier."""
    out = bench.time_concurrent(2, "F1", 128, "synthetic", 64, torch.device("cpu"), "fp32", "", 1)
    assert out["processes"] == 2 and len(out["per_process_samples_per_s"]) == 2
    assert out["aggregate_samples_per_s"] > 0
    with pytest.raises(RuntimeError, match="benchmark process failed"):
        bench.time_concurrent(2, "F1", 128, "synthetic", "a lot", torch.device("cpu"), "fp32", "", 1)


def test_compile_switch_is_validated_recorded_and_not_material():
    with pytest.raises(ConfigError, match="compile mode"):
        train.make_config("F1", "SB", 0, "smoke", compile="fastest")
    a = train.make_config("F1", "SB", 0, "smoke")
    b = train.make_config("F1", "SB", 0, "smoke", compile="default")
    assert b.to_dict()["compile"] == "default" and a.material() == b.material()
    pol = train.precision_policy(b, torch.device("cpu"))
    assert pol["compile"] == "default" and pol["tf32_cudnn"] is False
    assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False


def test_train_epoch_steps_and_batches():
    ds = datamod.load("mnist", "official", "synthetic", "cpu", n_train=70, n_test=8).train
    cfg = train.make_config("F1", 16, 0, "smoke")
    model = train.initial_model(cfg)
    opt = train.make_optimizer(cfg, model.parameters())
    g = torch.Generator().manual_seed(0)
    steps, total = train.train_epoch(model, opt, ds, g, train.StepOptions(32, train.autocast(cfg, torch.device("cpu"))))
    assert steps == 3 and math.isfinite(float(total))
