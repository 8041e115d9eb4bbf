"""lbgap.studies.bench and scripts/gpu_paper.py: real code on tiny synthetic data, checked against known numbers."""
from __future__ import annotations

import importlib.util
import json
import math
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lbgap.core import records
from lbgap.studies import bench
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
    out = bench.check_precision("F1", 64, seeds=(0, 1), epochs=1, device="cpu", log=lambda *a: None)
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
    rec = bench.bench("F1", 64, "cpu", n_samples=300, source="synthetic", epochs=1, warmup_steps=1, workers=0,
                      sharpness_vs_scipy=True, results_dir=tmp_path, log=lambda s: None)
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
    assert row["ours ÷ baseline"] == f"{rec['speedup']:.2f}×" and row["batch"] == 64
    assert row["ours (samples/s)"] == f"{rec['ours']['samples_per_s']:,.0f}"
    # the full-space sharpness, ours and through scipy.optimize.minimize: the same maximisation, side by side
    assert rec["sharpness_params"] == 1_462_794 and rec["sharpness_same"] and rec["sharpness_phi"] > 0
    assert rec["sharpness_speedup"] == pytest.approx(rec["sharpness_scipy_s"] / rec["sharpness_s"])
    assert row["sharpness speed-up"] == f"{rec['sharpness_speedup']:.2f}×"


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
    rec = bench.bench("F1", 64, "cpu", n_samples=256, source="synthetic", epochs=1, warmup_steps=1, workers=0,
                      baseline=False, stacked=2, results_dir=tmp_path, log=lambda s: None)
    st = rec["stacked"]
    assert st["models"] == 2 and st["aggregate_samples_per_s"] == pytest.approx(2 * 256 / st["epoch_s"])
    from lbgap.book import reproducibility
    from lbgap.book.context import context

    row = reproducibility.seeds_at_once_summary(context("results", tmp_path)).iloc[0]
    assert row["stacked seeds"] == "2" and row["processes"] == "—"
    assert row["stacked ÷ one"] == f"{st['aggregate_samples_per_s'] / rec['ours']['samples_per_s']:.2f}×"


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
        for d in (bench._warmup_subset(ds, 32, 1), ds):   # what _time_epochs ran: the warm-up, then 1 epoch
            train.train_epoch(model, opt, d, gen, train.StepOptions(32, train.autocast(cfg, torch.device("cpu"))))
        for (name, p), q in zip(model.named_parameters(), trained.parameters()):
            assert torch.allclose(p, q, atol=1e-6, rtol=1e-5), (s, name)
    w0, w1 = (m.net[1].weight for m in out["trained"])
    assert not torch.allclose(w0, w1)   # two different seeds, not one model twice


def test_bench_times_streams_beside_one_model(tmp_path):
    rec = bench.bench("F1", 64, "cpu", n_samples=256, source="synthetic", epochs=1, warmup_steps=1, workers=0,
                      baseline=False, streams=2, results_dir=tmp_path, log=lambda s: None)
    th = rec["streams"]
    assert th["models"] == 2 and not th["streams"] and "trained" not in th
    from lbgap.book import reproducibility
    from lbgap.book.context import context

    row = reproducibility.seeds_at_once_summary(context("results", tmp_path)).iloc[0]
    assert row["threads"] == "2 (no streams)" and row["stacked seeds"] == "—"
    assert row["threads ÷ one"] == f"{th['aggregate_samples_per_s'] / rec['ours']['samples_per_s']:.2f}×"


def test_a_failed_seeds_at_once_measurement_keeps_the_bench_record(tmp_path, monkeypatch):
    """--streams/--stacked/--concurrent are the parts a CPU never runs as on a GPU: one that raises is recorded
    with its error, and the rest of the bench (and its record) is kept."""
    def broken(*a, **k):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(bench, "time_streams", broken)
    lines = []
    rec = bench.bench("F1", 64, "cpu", n_samples=128, source="synthetic", epochs=1, warmup_steps=1, workers=0,
                      baseline=False, streams=2, stacked=2, results_dir=tmp_path, log=lines.append)
    assert rec["streams"] == dict(models=None, error="RuntimeError: CUDA error: out of memory")
    assert rec["stacked"]["models"] == 2 and any("FAILED" in ln for ln in lines)
    saved = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert saved["streams"]["error"] and saved["ours"]["samples_per_s"] > 0


@pytest.mark.slow
def test_bench_sharpness_alone_times_ours_only(tmp_path):
    """``--sharpness`` without ``--sharpness-vs-scipy`` (what scripts/gpu_paper.sh runs on C2): one timing,
    logged, and no comparison fields."""
    lines = []
    rec = bench.bench("F1", 64, "cpu", n_samples=200, source="synthetic", epochs=1, warmup_steps=1, workers=0,
                      baseline=False, sharpness=True, write=False, log=lines.append)
    assert rec["sharpness_s"] > 0 and rec["sharpness_nfev"] >= 1 and "sharpness_scipy_s" not in rec
    assert any("sharpness full space" in ln for ln in lines) and not any("skipped" in ln for ln in lines)


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
    from lbgap.core import records

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


# ------------------------------------------------------------------------------------- scripts/gpu_paper.py
def _driver():
    spec = importlib.util.spec_from_file_location("gpu_paper", ROOT / "scripts" / "gpu_paper.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_driver_per_net_option_parsing():
    d = _driver()
    assert d._per_net("F1=4,C2=1", "C2") == "1" and d._per_net("F1=4,C2=1", "C1") == ""
    assert d._per_net("3", "C1") == "3" and d._per_net("2,C2=default", "C2") == "default"
    assert d._per_net("", "F1") == ""


def test_driver_pack_complete_checks_every_file_and_size(tmp_path):
    d = _driver()
    files = [dict(path="toy/a.bin", bytes=3), dict(path="toy/b.bin", bytes=2)]
    manifest = {"datasets": {"toy": {"arrays": {"x": {"encoding": {"files": files}}}}}}
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.bin").write_bytes(b"abc")
    assert not d.pack_complete("toy", tmp_path)
    (tmp_path / "toy" / "b.bin").write_bytes(b"abc")   # wrong size
    assert not d.pack_complete("toy", tmp_path)
    (tmp_path / "toy" / "b.bin").write_bytes(b"ab")
    assert d.pack_complete("toy", tmp_path) and not d.pack_complete("other", tmp_path)


def test_driver_collect_adds_records_and_never_overwrites(tmp_path, monkeypatch, capsys):
    d = _driver()
    monkeypatch.setattr(d, "ROOT", tmp_path)
    src = tmp_path / "src"
    (src / "data/results/paper/train").mkdir(parents=True)
    (src / "data/results/paper/train/new.json").write_text('{"a": 1}')
    (src / "data/results/paper/train/old.json").write_text('{"a": 2}')
    calls = tmp_path / "call"
    calls.mkdir()
    with tarfile.open(calls / "records.tar.gz", "w:gz") as tf:
        for name in ("new.json", "old.json"):
            tf.add(src / "data/results/paper/train" / name, arcname=f"data/results/paper/train/{name}")
    kept = tmp_path / "data/results/paper/train/old.json"
    kept.parent.mkdir(parents=True)
    kept.write_text('{"a": 0}')
    assert d.main(["collect", str(calls)]) == 0
    assert (tmp_path / "data/results/paper/train/new.json").read_text() == '{"a": 1}'
    assert kept.read_text() == '{"a": 0}' and "kept the existing" in capsys.readouterr().out


def test_driver_exports_a_finished_pair_and_its_tarball_round_trips(tmp_path, monkeypatch):
    d = _driver()
    pair = type("P", (), {})()
    pair.dir = tmp_path / "work" / "paper" / "C1-s0"
    res = pair.dir / "results"
    (res / "paper" / "train").mkdir(parents=True)
    (res / "paper" / "_sweep").mkdir(parents=True)
    (res / "paper" / "train" / "C1-b256-s0.json").write_text('{"kind": "train"}')
    (res / "paper" / "_sweep" / "table2.json").write_text("{}")
    stores = [tmp_path / "results", tmp_path / "work" / "_exported"]
    rel = d.export(pair, stores)
    assert [str(r) for r in rel] == ["paper/train/C1-b256-s0.json"]
    assert all((s / rel[0]).is_file() for s in stores) and not (stores[0] / "paper" / "_sweep").exists()
    out = tmp_path / "out"
    d.write_out(out, rel, {"pairs": []}, stores[1])
    monkeypatch.setattr(d, "ROOT", tmp_path / "repo")
    assert d.main(["collect", str(out)]) == 0
    assert (tmp_path / "repo/data/results/paper/train/C1-b256-s0.json").read_text() == '{"kind": "train"}'


def test_driver_tag_selects_the_variant_records_and_is_passed_to_the_sweep(tmp_path):
    d = _driver()
    a = SimpleNamespace(device="cuda", tag="uncapped", work=str(tmp_path), profile="paper", post="sharpness",
                        pair_workers=1, compile="", extra=[])
    tagged = d.train_records_present(tmp_path, "paper", "F1", 1, a)
    assert [p.name for p in tagged] == ["F1-mnist-official-b256-s1-uncapped.json",
                                        "F1-mnist-official-b6000-s1-uncapped.json"]
    cmd = d.Pair("F1", 1, a).command()
    assert cmd[cmd.index("--tag") + 1] == "uncapped" and d.Pair("F1", 1, a).dir.name == "F1-s1-uncapped"
    a.tag = ""
    assert [p.name for p in d.train_records_present(tmp_path, "paper", "F1", 1, a)] == [
        "F1-mnist-official-b256-s1.json", "F1-mnist-official-b6000-s1.json"]
    assert "--tag" not in d.Pair("F1", 1, a).command() and d.Pair("F1", 1, a).dir.name == "F1-s1"


def test_driver_bench_missing_reads_the_records_fields(tmp_path):
    """A bench step counts as done only from a CUDA record of the same net, regime, compile mode and kind
    (baseline timing vs bf16-vs-fp32 check); CPU records, other nets and unreadable files never do."""
    d = _driver()
    bench_dir = tmp_path / "results" / "paper" / "bench"
    bench_dir.mkdir(parents=True)
    store = tmp_path / "store"
    (store / "paper" / "bench").mkdir(parents=True)

    def rec(path, **kw):
        r = records.new_record("bench", net="C2", regime="SB", device_type="cuda", compile="off", baseline={})
        r.update(kw)
        path.write_text(json.dumps({k: v for k, v in r.items() if v is not None}))

    dirs = [tmp_path / "results", store]
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["SB", "LB"]
    rec(bench_dir / "C2-cpu.json", device_type="cpu")                    # a CPU record is no GPU number
    rec(bench_dir / "C1.json", net="C1")
    (bench_dir / "broken.json").write_text('{"kind": "ben')              # half-written: ignored
    assert d.bench_missing(dirs, "paper", "c2", ["sb", "LB"]) == ["SB", "LB"]
    rec(bench_dir / "C2-sb.json")
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["LB"]
    assert d.bench_missing(dirs, "paper", "C1", ["SB"]) == []
    # the compiled step and the precision check are steps of their own
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], compile_mode="default") == ["SB"]
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], precision=True) == ["SB"]
    rec(store / "paper" / "bench" / "C2-sb-ours.json", baseline=None, precision_check={"diff": 0.0})
    rec(bench_dir / "C2-sb-default.json", baseline=None, compile="default")
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], precision=True) == []
    assert d.bench_missing(dirs, "paper", "C2", ["SB"], compile_mode="default") == []
    # an ours-only record without the check does not stand in for the timing against the baseline
    rec(bench_dir / "C2-lb-ours.json", regime="LB", baseline=None)
    assert d.bench_missing(dirs, "paper", "C2", ["SB", "LB"]) == ["LB"]


def test_driver_call_record_is_written_at_the_start_updated_and_finalised(tmp_path):
    """gpu_paper.sh's record of a call: written at its start (not complete), updated with the bench records newer
    than the call's stamp and the sweep's pairs, final at the end; one file per call, elapsed from the start."""
    import os
    import time

    d = _driver()
    rd, prof = tmp_path / "results", "paper"
    bench_dir = rd / prof / "bench"
    bench_dir.mkdir(parents=True)
    old = bench_dir / "C2-old.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # committed before the call: not this call's
    stamp = tmp_path / "stamp"
    stamp.write_text("")
    t0 = time.time() - 125.0
    args = ["call-record", "2", "--started", str(t0), "--budget", "540", "--device", "cpu", "--since", str(stamp),
            "--summary", str(tmp_path / "summary.json"), "--results-dir", str(rd)]
    assert d.main(args) == 0
    (path,) = (rd / prof / "gpu_call").glob("*.json")
    rec = json.loads(path.read_text())
    assert path.name.endswith("-call2.json") and rec["kind"] == "gpu_call" and rec["complete"] is False
    assert rec["bench"] == [] and rec["pairs"] == [] and 125 <= rec["elapsed_s"] < 200
    assert rec["provenance"]["wall_time_s"] == rec["elapsed_s"] and rec["provenance"]["torch_version"]
    (bench_dir / "C2-sb.json").write_text("{}")
    pairs = [dict(net="C1", seed=0, status="exported", seconds=200), dict(net="C1", seed=1, status="stopped at "
             "deadline", seconds=90)]
    (tmp_path / "summary.json").write_text(json.dumps(dict(tag="", jobs="C1=3", pairs=pairs)))
    assert d.main(args + ["--final"]) == 0
    assert list((rd / prof / "gpu_call").glob("*.json")) == [path]
    rec = json.loads(path.read_text())
    assert rec["complete"] is True and rec["bench"] == ["C2-sb.json"] and rec["pairs"] == pairs
    assert rec["jobs"] == "C1=3" and rec["budget_s"] == 540


def test_driver_carry_copies_one_part_and_names_the_tree_commit(tmp_path, monkeypatch, capsys):
    """``carry N`` puts part N of the packed data (with MANIFEST.json and unpack.py) into the outgoing folder,
    with the tree's commit as records name it, even when an older LBGAP_GIT_COMMIT is in the environment (the
    shell driver exports the previous part's); an unknown part is one clear line."""
    import os

    from lbgap.core import records

    d = _driver()
    packed = tmp_path / "packed"
    (packed / "toy").mkdir(parents=True)
    for rel, data in [("MANIFEST.json", b"{}"), ("unpack.py", b"# decoder\n"), ("toy/a.bin", b"abc"),
                      ("toy/b.bin", b"de")]:
        (packed / rel).write_bytes(data)
    monkeypatch.setattr(d, "OUTGOING", tmp_path / "outgoing")
    monkeypatch.setattr(d, "DATA_PARTS", {1: ["toy/a.bin"], 2: ["toy/b.bin"]})
    monkeypatch.setenv("LBGAP_GIT_COMMIT", "stale0000000")
    assert d.main(["carry", "2", "--shared", str(packed)]) == 0
    out = tmp_path / "outgoing"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "GIT_COMMIT", "MANIFEST.json", "toy/b.bin", "unpack.py"]
    assert (out / "toy" / "b.bin").read_bytes() == b"de"
    assert os.environ["LBGAP_GIT_COMMIT"] == "stale0000000"
    monkeypatch.delenv("LBGAP_GIT_COMMIT")
    assert (out / "GIT_COMMIT").read_text() == records.git_commit(ROOT) + "\n"
    assert "holds part 2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="part 3 of the packed data does not exist: choose one of 1, 2"):
        d.main(["carry", "3", "--shared", str(packed)])
    (packed / "toy" / "a.bin").unlink()
    with pytest.raises(SystemExit, match="a.bin is missing: point --shared at the folder of the packed data"):
        d.main(["carry", "1", "--shared", str(packed)])
