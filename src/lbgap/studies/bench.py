"""``lbgap bench``: our training epoch against the PyTorch baseline a user would write, same net, batch, data.

* **ours** (``train.train_epoch``, exactly what ``lbgap train`` runs): uint8 data resident on the device and
  sliced by a seeded permutation, converted to float per batch, no host synchronisation inside the epoch,
  channels_last + bf16 autocast on CUDA, fused Adam on CUDA, optional ``torch.compile``.
* **baseline** (the PyTorch CIFAR-10 tutorial's loop): a torchvision-style dataset that turns every example
  into a PIL image and applies ``transforms.ToTensor()`` (what ``torchvision.datasets.MNIST/CIFAR10`` do per
  sample; speech frames: a float32 ``TensorDataset``), ``DataLoader(shuffle=True, num_workers=2)``, eager
  float32 NCHW, ``nn.CrossEntropyLoss``, default Adam, ``running_loss += loss.item()`` every step.

Both time whole epochs over the same examples after a short warm-up (compile time is reported apart).
Also measured: training FLOPs per example (``torch.utils.flop_counter.FlopCounterMode``, forward + backward
of one step), the achieved TFLOP/s against a matmul peak measured on the spot (bf16 8192^3 on CUDA, fp32 on
the CPU), evaluation throughput (float32, TF32 off; on CUDA also TF32 on), optionally N concurrent processes
(``--concurrent``), N seeds stacked into one vmapped model (``--stacked``; no channels_last there) or N seeds
in N threads of one process, each on its own CUDA stream (``--streams``), a
bf16-vs-fp32 short-run accuracy check (``--check-precision``) and the time of one full-space sharpness
maximisation (Metric 2.1, 10 L-BFGS-B iterations, full training set; ``--sharpness``).
Every result is printed and written as a record ``<results>/<profile>/bench/<id>.json``;
:func:`bench_table` reads them back for the reproducibility chapter.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lbgap.core import data as datamod
from lbgap.core import records
from lbgap.core.models import NETS, build_model, keras_cross_entropy
from lbgap.core.train import (ConfigError, StepOptions, autocast, check_last_batch, compiled, epoch_batches, evaluate,
                    initial_model, make_config, make_optimizer, precision_policy, train_epoch, uses_cudagraphs)
from lbgap.core.train import train as train_run

BASELINE_WORKERS = 2   # the PyTorch CIFAR-10 tutorial's DataLoader(num_workers=2)


# -------------------------------------------------------------------------------------------------- data
def bench_data(net: str, n_samples: int | None = None, source: str = "auto"):
    """The network's training set on the CPU (real cache if present, else synthetic of the same shape),
    cut to its first ``n_samples`` examples. Returns (dataset, dataset name, source, full training size)."""
    net = net.upper()
    if net not in NETS:
        raise ConfigError(f"unknown network {net!r}: choose one of {', '.join(NETS)}")
    name = NETS[net].dataset
    if source not in ("auto", "real", "synthetic"):
        raise ValueError(f"data source {source!r} must be auto, real or synthetic")
    from lbgap.core.train import default_split

    ds, used = None, source
    if source in ("auto", "real"):
        try:
            ds = datamod.load(name, default_split(name, "real"), "real", "cpu").train
            used = "real"
        except datamod.DataError:
            if source == "real":
                raise
    # synthetic stand-in: as many examples as the real run trains on, so that LB's 10 % batch is the one the
    # paper profile uses
    full = full_training_size(net)
    if ds is None:
        n = min(n_samples or full, full)
        ds = datamod.load(name, "official", "synthetic", "cpu", n_train=n, n_test=64).train
        used = "synthetic"
    full_n = len(ds) if used == "real" else full
    if n_samples:
        if n_samples < 1:
            raise ValueError(f"--n-samples {n_samples} must be positive")
        ds = ds.subset(torch.arange(min(n_samples, len(ds))))
    return ds, name, used, full_n


def full_training_size(net: str) -> int:
    """How many examples a real paper-profile run of ``net`` trains on: the dataset's training set, less the
    hold-out where the official test set is incomplete (CIFAR-10 here keeps 45,000 of the 50,000)."""
    from lbgap.core.train import default_split

    name = NETS[net.upper()].dataset
    full = datamod.DATASETS[name]["n_train"] or 50000
    return full - datamod.HOLDOUT_SIZE if default_split(name, "real") == "holdout" else full


def resolve_batch(net: str, batch: str | int, full_n: int) -> int:
    """SB / LB / an integer / a percentage, resolved against the *full* training set as in the paper."""
    spec = str(batch).strip().upper()
    if spec == "SB":
        return 256
    if spec == "LB":
        return int(round(0.10 * full_n))
    from lbgap.core.train import resolve_batch_size

    return resolve_batch_size(batch, full_n)


# --------------------------------------------------------------------------------------------- helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _warmup_subset(ds, batch_size: int, steps: int):
    """First ``steps`` full batches plus a last partial batch of the real epoch's size (compile sees both shapes)."""
    rem = len(ds) % batch_size
    k = min(len(ds) // batch_size, steps) * batch_size + rem
    return ds.subset(torch.arange(max(1, min(k, len(ds)))))


def train_flops_per_example(net: str, num_classes: int | None = None, batch: int = 4) -> float:
    """Matmul + convolution FLOPs of one training step (forward + backward) per example, counted by
    ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (nothing is computed)."""
    from torch.utils.flop_counter import FlopCounterMode

    spec = NETS[net.upper()]
    model = build_model(net, num_classes=num_classes).to("meta")
    x = torch.zeros((batch,) + tuple(spec.input_shape), device="meta")
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as fc:
        nn.functional.cross_entropy(model(x), y).backward()
    return fc.get_total_flops() / batch


def matmul_peak(device: torch.device, n: int | None = None, reps: int = 10) -> dict:
    """Measured dense matmul rate: bf16 n=8192 on CUDA, fp32 n=1024 on the CPU (random data, median)."""
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    n = n or (8192 if cuda else 1024)
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t0)
    return dict(peak_tflops=2 * n ** 3 / statistics.median(times) / 1e12, peak_dtype=str(dtype).split(".")[-1],
                peak_n=n)


def _time_epochs(run_epoch, ds, batch_size: int, device: torch.device, epochs: int, warmup_steps: int,
                 warm_passes: int = 1, before_timing=None):
    """``run_epoch(dataset)`` ``warm_passes`` times on the warm-up subset (compile, caches; two under
    ``torch.compile``, since CUDA graph trees run a shape eagerly once and record it on its second call, so one
    pass would leave the last partial batch's recording inside the first timed epoch), then ``before_timing()``
    if given, then ``epochs`` (at least 1) timed whole epochs over ``ds``, synchronised with the device around
    each; returns (warm-up s, epoch times, the last epoch's result)."""
    _sync(device)
    t0 = time.perf_counter()
    warm_set = _warmup_subset(ds, batch_size, warmup_steps)
    for _ in range(max(1, warm_passes)):
        run_epoch(warm_set)
    _sync(device)
    warm, times, out = time.perf_counter() - t0, [], None
    if before_timing is not None:
        before_timing()
    for _ in range(max(1, epochs)):
        _sync(device)
        t0 = time.perf_counter()
        out = run_epoch(ds)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return warm, times, out


# ------------------------------------------------------------------------------------------------- ours
def _one_seed(net: str, seed: int, device: torch.device, precision: str = "auto", compile_mode: str = "",
              num_classes: int | None = None):
    """What one training run starts from, as ``lbgap train`` builds it: the paper-profile config, the seed's
    initial model on ``device`` in training mode (channels_last for a conv net on CUDA), its optimiser and its
    batch-order generator. Returns (config, model, optimiser, generator)."""
    cfg = make_config(net, 256, seed, "paper", precision=precision, compile=compile_mode, device=str(device),
                      save_checkpoints=False)
    model = initial_model(cfg, num_classes).to(device)
    if device.type == "cuda" and NETS[cfg.net].kind == "conv":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    return cfg, model, make_optimizer(cfg, model.parameters()), torch.Generator(device=device).manual_seed(seed)


def time_ours(net: str, ds, batch_size: int, device: torch.device, precision: str = "auto", compile_mode: str = "",
              epochs: int = 2, warmup_steps: int = 3, seed: int = 0, num_classes: int | None = None,
              before_timing=None) -> dict:
    """Samples/s of ``train.train_epoch`` (the code ``lbgap train`` runs) over ``ds``: median of ``epochs``
    (``before_timing``: called between the warm-up and the timed epochs, see :func:`_time_epochs`)."""
    ds = ds.to(device)
    cfg, model, opt, gen = _one_seed(net, seed, device, precision, compile_mode, num_classes)
    policy = precision_policy(cfg, device)
    step_model = compiled(model, cfg.compile)
    step_opts = StepOptions(batch_size, autocast(cfg, device), uses_cudagraphs(cfg.compile))
    warm, times, (steps, running) = _time_epochs(
        lambda d: train_epoch(step_model, opt, d, gen, step_opts), ds, batch_size, device, epochs,
        warmup_steps, warm_passes=2 if cfg.compile else 1, before_timing=before_timing)
    loss = float(running) / max(1, steps)
    return dict(samples_per_s=len(ds) / statistics.median(times), epoch_s=statistics.median(times),
                epoch_times_s=times, warmup_s=warm, steps_per_epoch=steps, last_epoch_loss=loss,
                policy=policy, model=model)


# --------------------------------------------------------------------------------------------- baseline
class TorchvisionStyle(torch.utils.data.Dataset):
    """What ``torchvision.datasets.CIFAR10/MNIST.__getitem__`` does: uint8 HWC array -> PIL -> transform."""

    def __init__(self, x_uint8_nchw: torch.Tensor, y: torch.Tensor):
        from lbgap.core._tv import torchvision

        x = x_uint8_nchw.numpy()
        self.gray = x.shape[1] == 1
        self.data = x[:, 0] if self.gray else x.transpose(0, 2, 3, 1).copy()
        self.targets = y.tolist()
        self.transform = torchvision.transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.fromarray(self.data[i], mode="L") if self.gray else Image.fromarray(self.data[i])
        return self.transform(img), self.targets[i]


def baseline_dataset(ds) -> torch.utils.data.Dataset:
    """Images: :class:`TorchvisionStyle`; anything else (speech frames): float32 ``TensorDataset``."""
    if isinstance(ds, datamod.TensorDataset) and ds.x.dim() == 4:
        return TorchvisionStyle(ds.x.cpu(), ds.y.cpu())
    x, y = ds.batch(torch.arange(len(ds), device=ds.device))
    return torch.utils.data.TensorDataset(x.cpu(), y.cpu())


def time_baseline(net: str, ds, batch_size: int, device: torch.device, epochs: int = 2, warmup_steps: int = 3,
                  workers: int = BASELINE_WORKERS, seed: int = 0, num_classes: int | None = None) -> dict:
    """Samples/s of the idiomatic loop (see the module docstring): median of ``epochs`` whole epochs."""
    torch.manual_seed(seed)
    model = build_model(net, num_classes=num_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    bds = baseline_dataset(ds)
    loader = torch.utils.data.DataLoader(bds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=device.type == "cuda",
                                         generator=torch.Generator().manual_seed(seed))

    def epoch(limit: int | None = None) -> tuple[int, float]:
        model.train()
        running, steps = 0.0, 0
        for i, (x, y) in enumerate(loader):
            if limit is not None and i >= limit:
                break
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
            running += loss.item()
            steps += 1
        return steps, running

    # the user's float32 is PyTorch's default: TF32 on for cuDNN convolutions, off for matmuls
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    try:
        t0 = time.perf_counter()
        epoch(warmup_steps)
        warm = time.perf_counter() - t0
        times, steps, running = [], 0, 0.0
        for _ in range(max(1, epochs)):
            _sync(device)
            t0 = time.perf_counter()
            steps, running = epoch()
            _sync(device)
            times.append(time.perf_counter() - t0)
    finally:
        precision_policy(None, device)
    return dict(tf32="PyTorch defaults (cuDNN TF32 on, matmul TF32 off)", samples_per_s=len(bds) / statistics.median(times), epoch_s=statistics.median(times),
                epoch_times_s=times, warmup_s=warm, steps_per_epoch=steps, last_epoch_loss=running / max(1, steps),
                workers=workers)


# ------------------------------------------------------------------------------------- concurrency
def _concurrent_worker(args: tuple, barrier, queue) -> None:
    """One of ``time_concurrent``'s processes: set up and warm up, wait for the others, then time its epochs
    only. Any failure is sent back (and breaks the barrier, so no sibling waits for it)."""
    net, n_samples, source, batch, device, precision, compile_mode, epochs = args
    try:
        torch.set_num_threads(1)
        ds, _, _, full_n = bench_data(net, n_samples, source)
        bs = resolve_batch(net, batch, full_n)
        start = {}

        def ready():   # after the warm-up: all processes start their timed epochs together
            barrier.wait()
            start["t0"] = time.perf_counter()

        r = time_ours(net, ds, bs, torch.device(device), precision, compile_mode, epochs=epochs, warmup_steps=3,
                      before_timing=ready)
        queue.put(dict(samples=len(ds) * max(1, epochs), t0=start["t0"], t1=time.perf_counter(),
                       sps=r["samples_per_s"]))
    except BaseException as e:  # noqa: BLE001 -- reported to the parent, which raises it
        barrier.abort()
        queue.put(dict(error=f"{type(e).__name__}: {e}"))


def time_concurrent(procs: int, net: str, n_samples: int | None, source: str, batch, device: torch.device,
                    precision: str, compile_mode: str, epochs: int) -> dict:
    """``procs`` processes training the same configuration at once (one per seed in a sweep): aggregate
    samples/s = all examples of the timed epochs / span from the first start to the last finish (set-up and
    warm-up happen before a barrier, outside the span). A process that fails or dies stops them all and
    raises, so the caller records the error instead of waiting forever."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    barrier, q = ctx.Barrier(procs), ctx.Queue()
    args = (net, n_samples, source, batch, str(device), precision, compile_mode, epochs)
    ps = [ctx.Process(target=_concurrent_worker, args=(args, barrier, q), daemon=True) for _ in range(procs)]
    for p in ps:
        p.start()
    outs = []
    try:
        while len(outs) < procs:
            try:
                outs.append(q.get(timeout=1.0))
            except queue_mod.Empty:
                dead = [p.exitcode for p in ps if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a benchmark process died (exit code {dead[0]}) before reporting") from None
                continue
            if "error" in outs[-1]:
                raise RuntimeError(f"a benchmark process failed: {outs[-1]['error']}")
    finally:
        for p in ps:
            if len(outs) < procs or any("error" in o for o in outs):
                p.terminate()
            p.join(timeout=30)
    span = max(o["t1"] for o in outs) - min(o["t0"] for o in outs)
    return dict(processes=procs, aggregate_samples_per_s=sum(o["samples"] for o in outs) / span,
                per_process_samples_per_s=[o["sps"] for o in outs])


# ---------------------------------------------------------------------------------- stacked seeds
class StackedSeeds:
    """``n`` seeds of one configuration trained as one model: ``torch.func.stack_module_state`` gives every
    parameter a leading seed dimension and ``torch.vmap`` runs the seeds' forward passes as one (each on its own
    batch, dropout drawn per seed); Adam is elementwise, so one Adam over the stacked tensors is each seed's
    own Adam. The other way, beside one process per seed, to keep a GPU busy with small networks;
    BN uses batch statistics (``bn="batch"``, no buffers), so nothing else needs stacking."""

    def __init__(self, net: str, seeds, device: torch.device, precision: str = "auto",
                 num_classes: int | None = None):
        import copy

        self.cfgs = [make_config(net, 256, s, "paper", precision=precision, device=str(device),
                                 save_checkpoints=False) for s in seeds]
        models = [initial_model(c, num_classes).to(device) for c in self.cfgs]
        self.params, self.buffers = torch.func.stack_module_state(models)
        self.base = copy.deepcopy(models[0]).to("meta")
        self.opt = make_optimizer(self.cfgs[0], self.params.values())
        self.autocast = autocast(self.cfgs[0], device)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each seed's loss on its own batch: ``x`` is [seeds, batch, ...], ``y`` [seeds, batch]."""
        def one(p, b, xi, yi):
            return keras_cross_entropy(torch.func.functional_call(self.base, (p, b), (xi,)), yi)

        with self.autocast:
            return torch.vmap(one, randomness="different")(self.params, self.buffers, x, y)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.losses(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()   # the seeds share no parameter: d(sum)/d(theta_s) = d(loss_s)/d(theta_s)
        self.opt.step()
        return loss.detach()

    def epoch(self, ds, batch_size: int, generators) -> int:
        """One shuffled epoch per seed (each its own permutation, as ``train.train_epoch``); returns the steps."""
        steps = 0
        for idxs in zip(*(epoch_batches(len(ds), batch_size, g, ds.device) for g in generators)):
            xy = [ds.batch(i) for i in idxs]
            self.step(torch.stack([x for x, _ in xy]), torch.stack([y for _, y in xy]))
            steps += 1
        return steps


def time_stacked(n: int, net: str, ds, batch_size: int, device: torch.device, precision: str = "auto",
                 epochs: int = 2, warmup_steps: int = 3, num_classes: int | None = None) -> dict:
    """Aggregate samples/s of :class:`StackedSeeds` with ``n`` seeds (all seeds' examples / epoch time, median)."""
    ds = ds.to(device)
    st = StackedSeeds(net, range(n), device, precision, num_classes)
    gens = [torch.Generator(device=device).manual_seed(s) for s in range(n)]
    warm, times, _ = _time_epochs(lambda d: st.epoch(d, batch_size, gens), ds, batch_size, device, epochs,
                                  warmup_steps)
    return dict(models=n, aggregate_samples_per_s=n * len(ds) / statistics.median(times),
                epoch_s=statistics.median(times), warmup_s=warm)


def time_streams(n: int, net: str, ds, batch_size: int, device: torch.device, precision: str = "auto",
                 epochs: int = 2, warmup_steps: int = 3, num_classes: int | None = None) -> dict:
    """The third way of several seeds at once, beside processes and stacking: ``n`` seeds in one process, each
    trained by ``train.train_epoch`` (exactly one run's code) in its own Python thread, on CUDA each on its own
    stream, so one seed's kernels can fill the GPU while another's are being launched (PyTorch releases the GIL
    inside its operators). On the CPU there are no streams: the threads alone (``streams: False``). Eager (no
    ``torch.compile``: dynamo is not thread-safe). Aggregate samples/s = all seeds' examples / epoch time."""
    from concurrent.futures import ThreadPoolExecutor

    ds = ds.to(device)
    cuda = device.type == "cuda"
    seeds = []
    for s in range(n):
        cfg, model, opt, gen = _one_seed(net, s, device, precision, num_classes=num_classes)
        seeds.append(dict(model=model, opt=opt, cfg=cfg, gen=gen, stream=torch.cuda.Stream(device) if cuda else None))

    def one_seed(sd: dict, d) -> tuple[int, torch.Tensor]:
        step_opts = StepOptions(batch_size, autocast(sd["cfg"], device))   # one autocast object per thread
        if sd["stream"] is None:
            return train_epoch(sd["model"], sd["opt"], d, sd["gen"], step_opts)
        sd["stream"].wait_stream(torch.cuda.default_stream(device))   # the data were written on the default stream
        # on CUDA, autograd runs every backward pass on one worker thread per device; off, each seed's thread
        # launches its own backward (thread-local setting), which is what several threads are for
        with torch.autograd.set_multithreading_enabled(False), torch.cuda.stream(sd["stream"]):
            return train_epoch(sd["model"], sd["opt"], d, sd["gen"], step_opts)

    with ThreadPoolExecutor(max_workers=n) as pool:
        def epoch(d):
            return [f.result() for f in [pool.submit(one_seed, sd, d) for sd in seeds]]

        warm, times, out = _time_epochs(epoch, ds, batch_size, device, epochs, warmup_steps)
    return dict(models=n, streams=cuda, aggregate_samples_per_s=n * len(ds) / statistics.median(times),
                epoch_s=statistics.median(times), warmup_s=warm,
                last_epoch_loss=[float(r) / max(1, k) for k, r in out], trained=[sd["model"] for sd in seeds])


# ------------------------------------------------------------------------------------- optional parts
def eval_throughput(model: nn.Module, ds, batch_size: int, device: torch.device) -> dict:
    """Examples/s of ``train.evaluate`` (float32) with TF32 off (our policy) and, on CUDA, on (for comparison)."""
    out = {}
    for tf32 in ((False, True) if device.type == "cuda" else (False,)):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        evaluate(model, ds, batch_size)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        evaluate(model, ds, batch_size)
        _sync(device)
        out["eval_samples_per_s" + ("_tf32" if tf32 else "")] = len(ds) / (time.perf_counter() - t0)
    precision_policy(None, device)  # back to the policy
    return out


def sharpness_timing(model: nn.Module, ds, batch_size: int, eps: float = 1e-3, maxiter: int = 10,
                     vs_scipy: bool = False) -> dict:
    """Wall time of one full-space Metric 2.1 maximisation (``lbgap.measures.sharpness``) on ``ds``; with ``vs_scipy``
    the same maximisation again through ``scipy.optimize.minimize`` (the plain call, whose Python set-up of the
    bounds costs seconds per million parameters), side by side: both times, their ratio and whether phi and
    the evaluation count agree. Skipped cleanly when that module is missing."""
    try:
        from lbgap.measures import sharpness
    except ModuleNotFoundError as e:
        if e.name != "lbgap.measures.sharpness":
            raise
        return dict(sharpness_skipped="lbgap.measures.sharpness is not installed")
    lf = sharpness.FullBatchLoss(model, ds, batch_size)
    x = lf.x()

    def timed(solver):
        _sync(ds.device)
        t0 = time.perf_counter()
        r = sharpness.epsilon_sharpness(lf, x, eps, None, maxiter, solver=solver)
        _sync(ds.device)
        lf.set(x)
        return r, time.perf_counter() - t0

    r, wall = timed(sharpness.minimize_in_box)
    out = dict(sharpness_s=wall, sharpness_phi=r.value, sharpness_nfev=r.nfev, sharpness_nit=r.nit,
               sharpness_eps=eps, sharpness_maxiter=maxiter, sharpness_params=lf.n, sharpness_examples=len(ds))
    if vs_scipy:
        ref, ref_wall = timed(sharpness.scipy_minimize_in_box)
        out.update(sharpness_scipy_s=ref_wall, sharpness_scipy_phi=ref.value, sharpness_speedup=ref_wall / wall,
                   sharpness_same=bool(ref.value == r.value and ref.nfev == r.nfev))
    return out


def check_precision(net: str, batch, seeds=(0, 1), epochs: int = 3, device: str = "auto",
                    n_samples: int | None = None, log=print) -> dict:
    """Train ``epochs`` epochs of the paper configuration in bf16 autocast and in fp32 for each seed
    (real data, into a temporary record store) and compare final test accuracy with the seed spread."""
    dev = datamod.resolve_device(device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for prec in ("bf16", "fp32"):
                cfg = make_config(net, batch, seed, "paper", precision=prec, device=str(dev), max_epochs=epochs,
                                  save_checkpoints=False)
                data = datamod.load(cfg.dataset, cfg.split, cfg.source, dev)
                if n_samples:
                    data.train = data.train.subset(torch.arange(min(n_samples, len(data.train)), device=dev))
                rec = train_run(cfg, tmp, force=True, data=data, progress=False)
                rows.append(dict(seed=seed, precision=prec, test_acc=rec["final"]["test_acc"],
                                 train_loss=rec["final"]["train_loss"], epochs=rec["epochs"]))
                log(f"  precision check {net} b{cfg.batch_size} seed {seed} {prec}: test acc "
                    f"{rows[-1]['test_acc']:.4f}, train loss {rows[-1]['train_loss']:.4f}")
    acc = {p: [r["test_acc"] for r in rows if r["precision"] == p] for p in ("bf16", "fp32")}
    return dict(rows=rows, epochs=epochs, n_train=n_samples, **precision_verdict(acc["bf16"], acc["fp32"]))


def precision_verdict(acc_bf16, acc_fp32) -> dict:
    """Difference of mean accuracies against seed noise: within noise when |diff| <= 2 standard errors of a
    two-sample difference, using the pooled across-seed standard deviation of the two precisions."""
    n = len(acc_fp32)
    if n < 2 or len(acc_bf16) != n:
        raise ValueError("the precision check needs at least two seeds per precision")
    diff = statistics.mean(acc_bf16) - statistics.mean(acc_fp32)
    sd = math.sqrt((statistics.variance(acc_bf16) + statistics.variance(acc_fp32)) / 2)
    se = sd * math.sqrt(2 / n)
    return dict(mean_acc_bf16=statistics.mean(acc_bf16), mean_acc_fp32=statistics.mean(acc_fp32), diff=diff,
                seed_sd=sd, diff_se=se, within_seed_noise=bool(abs(diff) <= 2 * se))


# ----------------------------------------------------------------------------------------------- bench
def bench(net: str, batch="SB", device: str = "auto", n_samples: int | None = None, source: str = "auto",
          epochs: int = 2, warmup_steps: int = 3, precision: str = "auto", compile_mode: str = "",
          workers: int = BASELINE_WORKERS, baseline: bool = True, concurrent: int = 0, stacked: int = 0,
          streams: int = 0, sharpness: bool = False,
          sharpness_vs_scipy: bool = False, profile: str = "paper", results_dir: str | Path | None = None,
          write: bool = True, log=print) -> dict:
    """Time ours vs the baseline for one (net, batch) and write a ``bench`` record; returns it."""
    net = net.upper()
    dev = datamod.resolve_device(device)
    started, t_start = records.now(), time.perf_counter()
    ds, name, used, full_n = bench_data(net, n_samples, source)
    bs = resolve_batch(net, batch, full_n)
    if bs > len(ds):
        raise ValueError(f"batch size {bs} is larger than the {len(ds)} examples benchmarked; raise --n-samples "
                         f"to at least {bs}")
    check_last_batch(len(ds), bs, "examples benchmarked (--n-samples)")
    classes = datamod.DATASETS[name]["classes"]
    log(f"bench {net} b{bs} on {records.device_name(dev)}: {len(ds)} {used} {name} examples, "
        f"{math.ceil(len(ds) / bs)} steps/epoch")
    rec = records.new_record(
        "bench", net=net, dataset=name, data_source=used, n_samples=len(ds),
        batch_size=bs, batch_spec=str(batch), regime={"SB": "SB", "LB": "LB"}.get(str(batch).upper(), ""),
        device_type=dev.type, epochs=epochs, warmup_steps=warmup_steps, compile=compile_mode or "off",
        threads=torch.get_num_threads(), host_load_1min=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    rec["flops_per_example"] = train_flops_per_example(net, classes)
    rec.update(matmul_peak(dev))
    t0 = time.perf_counter()
    ours = time_ours(net, ds, bs, dev, precision, compile_mode, epochs, warmup_steps, num_classes=classes)
    model = ours.pop("model")
    rec["precision_policy"] = ours.pop("policy")
    rec["ours"] = ours
    rec["ours_tflops"] = rec["flops_per_example"] * ours["samples_per_s"] / 1e12
    rec["ours_mfu"] = rec["ours_tflops"] / rec["peak_tflops"]
    log(f"  ours     {ours['samples_per_s']:10.0f} samples/s  ({ours['epoch_s']:.3f} s/epoch, warm-up "
        f"{ours['warmup_s']:.1f} s, {rec['ours_tflops']:.3g} TFLOP/s = {100 * rec['ours_mfu']:.0f}% of the "
        f"{rec['peak_tflops']:.3g} TFLOP/s {rec['peak_dtype']} matmul peak)")
    if baseline:
        base = time_baseline(net, ds, bs, dev, epochs, warmup_steps, workers, num_classes=classes)
        rec["baseline"] = base
        rec["baseline_tflops"] = rec["flops_per_example"] * base["samples_per_s"] / 1e12
        rec["speedup"] = ours["samples_per_s"] / base["samples_per_s"]
        log(f"  baseline {base['samples_per_s']:10.0f} samples/s  ({base['epoch_s']:.3f} s/epoch, DataLoader "
            f"num_workers={workers}, eager fp32)")
        log(f"  ratio    {rec['speedup']:10.2f} x")
    ev = eval_throughput(model, ds.to(dev), 5000, dev)
    rec.update(ev)
    log(f"  eval     {ev['eval_samples_per_s']:10.0f} samples/s float32 (TF32 off)"
        + (f", {ev['eval_samples_per_s_tf32']:.0f} with TF32" if "eval_samples_per_s_tf32" in ev else ""))
    # several seeds at once, three ways; one that fails (they are the parts never run on every host) is recorded
    # with its error and the bench goes on, so the record of the rest is kept
    at_once = [
        ("concurrent", concurrent, "processes", lambda: time_concurrent(concurrent, net, n_samples, source, batch,
                                                                         dev, precision, compile_mode, epochs)),
        ("stacked", stacked, "seeds stacked (torch.func.vmap, one process)",
         lambda: time_stacked(stacked, net, ds, bs, dev, precision, epochs, warmup_steps, classes)),
        ("streams", streams, "seeds in one process (threads" + (", each on its own CUDA stream)" if dev.type == "cuda"
                                                                 else "; no streams on the CPU)"),
         lambda: time_streams(streams, net, ds, bs, dev, precision, epochs, warmup_steps, classes))]
    for key, n, what, measure in at_once:
        if not n or n < 2:
            continue
        try:
            out = measure()
        except Exception as e:
            rec[key] = dict(models=None, error=f"{type(e).__name__}: {e}")
            log(f"  {n} {what}: FAILED, {rec[key]['error']} (recorded; the bench goes on)")
            continue
        out.pop("trained", None)
        rec[key] = out
        log(f"  {n} {what}: {out['aggregate_samples_per_s']:.0f} samples/s together "
            f"({out['aggregate_samples_per_s'] / ours['samples_per_s']:.2f} x one model)")
    if sharpness or sharpness_vs_scipy:
        rec.update(sharpness_timing(model, ds.to(dev), 5000, vs_scipy=sharpness_vs_scipy))
        if "sharpness_s" not in rec:
            log(f"  sharpness skipped: {rec['sharpness_skipped']}")
        else:
            log(f"  sharpness full space, {rec['sharpness_maxiter']} L-BFGS-B iterations on {len(ds)} examples: "
                f"{rec['sharpness_s']:.1f} s ({rec['sharpness_nfev']} evaluations)")
        if "sharpness_scipy_s" in rec:
            log(f"  the same through scipy.optimize.minimize: {rec['sharpness_scipy_s']:.1f} s, ratio "
                f"{rec['sharpness_speedup']:.2f} x, " + ("same phi and evaluations" if rec["sharpness_same"]
                                                         else "DIFFERENT phi or evaluations"))
    wall = time.perf_counter() - t_start
    rec["bench_s"] = time.perf_counter() - t0
    rec["run_id"] = bench_id(rec)
    rec["provenance"] = records.provenance(dev, wall, started)
    if write:
        records.atomic_write_json(records.record_path(results_dir, profile, "bench", rec["run_id"]), rec)
    return rec


def bench_id(rec: dict) -> str:
    dev = "cuda" if rec["device_type"] == "cuda" else "cpu"
    parts = [rec["net"], f"b{rec['batch_size']}", dev, f"n{rec['n_samples']}"]
    if rec["compile"] != "off":
        parts.append(rec["compile"])
    if "baseline" not in rec:
        parts.append("ours")
    return "-".join(parts)


def bench_table(results_dir: str | Path | None = None, profile: str | None = None):
    """One row per bench record (reproducibility chapter): device, net, batch, samples/s ours and baseline,
    ratio, TFLOP/s and share of the measured peak, eval and sharpness times where measured."""
    import pandas as pd

    rows = []
    for r in records.iter_records(results_dir, profile, "bench"):
        if r.get("kind") == "bench":
            rows.append(dict(
                device=r["provenance"]["device"], net=r["net"], regime=r.get("regime") or f"B{r['batch_size']}",
                batch_size=r["batch_size"], n_samples=r["n_samples"], data=r["data_source"],
                compile=r["compile"], ours_samples_per_s=r["ours"]["samples_per_s"],
                baseline_samples_per_s=(r.get("baseline") or {}).get("samples_per_s"), speedup=r.get("speedup"),
                ours_tflops=r["ours_tflops"], peak_tflops=r["peak_tflops"], peak_dtype=r["peak_dtype"],
                mfu=r["ours_mfu"], warmup_s=r["ours"]["warmup_s"],
                eval_samples_per_s=r.get("eval_samples_per_s"), eval_samples_per_s_tf32=r.get("eval_samples_per_s_tf32"),
                concurrent=(r.get("concurrent") or {}).get("processes"),
                concurrent_samples_per_s=(r.get("concurrent") or {}).get("aggregate_samples_per_s"),
                stacked=(r.get("stacked") or {}).get("models"),
                stacked_samples_per_s=(r.get("stacked") or {}).get("aggregate_samples_per_s"),
                streams=(r.get("streams") or {}).get("models"),
                streams_cuda=(r.get("streams") or {}).get("streams"),
                streams_samples_per_s=(r.get("streams") or {}).get("aggregate_samples_per_s"),
                sharpness_s=r.get("sharpness_s"), sharpness_scipy_s=r.get("sharpness_scipy_s"),
                sharpness_speedup=r.get("sharpness_speedup"), sharpness_params=r.get("sharpness_params"),
                precision_check_diff=(r.get("precision_check") or {}).get("diff"),
                threads=r.get("threads"), host_load_1min=r.get("host_load_1min"), git_commit=r["provenance"]["git_commit"]))
    return pd.DataFrame(rows)
