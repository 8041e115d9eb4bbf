"""``lbgap bench``, the measurements: our training epoch against the PyTorch baseline a user would write, same net,
batch and data, and the optional parts (several seeds at once, evaluation, sharpness). The driver that runs them and
writes a record is :mod:`lbgap.studies.bench`; the table of the records, :mod:`lbgap.studies.bench_table`.

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
the CPU), evaluation throughput (float32, TF32 off; on CUDA also TF32 on), N concurrent processes, N seeds
stacked into one vmapped model (no channels_last there) or N seeds in N threads of one process, each on its own
CUDA stream, and the time of one full-space sharpness maximisation (Metric 2.1, 10 L-BFGS-B iterations).
Global torch settings a measurement changes (the TF32 flags) are restored when it ends, error or not
(:func:`tf32_flags`).
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import statistics
import time
from collections.abc import Iterator

import torch
from torch import nn

from lbgap.core import data as datamod
from lbgap.core import memory
from lbgap.core.config import get_profile
from lbgap.core.models import NETS, build_model, keras_cross_entropy
from lbgap.core.train import (ConfigError, StepOptions, autocast, compiled, epoch_batches, evaluate, initial_model,
                              make_config, make_optimizer, precision_policy, train_epoch, uses_cudagraphs)

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


def resolve_batch(net: str, batch: str | int, full_n: int, profile: str = "paper") -> int:
    """SB / LB / an integer / a percentage, resolved against the *full* training set as in the paper: SB is the
    profile's ``sb_batch_size``, LB its ``lb_fraction`` of ``full_n`` (``core.config.PROFILES``)."""
    spec = str(batch).strip().upper()
    prof = get_profile(profile)
    if spec == "SB":
        return int(prof["sb_batch_size"])
    if spec == "LB":
        return int(round(prof["lb_fraction"] * full_n))
    from lbgap.core.train import resolve_batch_size

    return resolve_batch_size(batch, full_n)



# --------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def tf32_flags(matmul: bool, cudnn: bool) -> Iterator[None]:
    """Set torch's global TF32 flags (matmul, cuDNN) for a measurement and restore the values they had, also when
    the measurement fails."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def sync(device: torch.device) -> None:
    """Wait for ``device``'s queued work (CUDA; nothing to wait for on a CPU), so that a clock read after it
    times the work and not only its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warmup_subset(ds, batch_size: int, steps: int):
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
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t0)
    return dict(peak_tflops=2 * n ** 3 / statistics.median(times) / 1e12, peak_dtype=str(dtype).split(".")[-1],
                peak_n=n)


def time_epochs(run_epoch, ds, batch_size: int, device: torch.device, epochs: int, warmup_steps: int,
                 warm_passes: int = 1, before_timing=None):
    """``run_epoch(dataset)`` ``warm_passes`` times on the warm-up subset (compile, caches; two under
    ``torch.compile``, since CUDA graph trees run a shape eagerly once and record it on its second call, so one
    pass would leave the last partial batch's recording inside the first timed epoch), then ``before_timing()``
    if given, then ``epochs`` (at least 1) timed whole epochs over ``ds``, synchronised with the device around
    each; returns (warm-up s, epoch times, the last epoch's result)."""
    sync(device)
    t0 = time.perf_counter()
    warm_set = warmup_subset(ds, batch_size, warmup_steps)
    for _ in range(max(1, warm_passes)):
        run_epoch(warm_set)
    sync(device)
    warm, times, out = time.perf_counter() - t0, [], None
    if before_timing is not None:
        before_timing()
    for _ in range(max(1, epochs)):
        sync(device)
        t0 = time.perf_counter()
        out = run_epoch(ds)
        sync(device)
        times.append(time.perf_counter() - t0)
    return warm, times, out


# ------------------------------------------------------------------------------------------------- ours
def one_seed(net: str, seed: int, device: torch.device, precision: str = "auto", compile_mode: str = "",
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
    (``before_timing``: called between the warm-up and the timed epochs, see :func:`time_epochs`)."""
    ds = ds.to(device)
    cfg, model, opt, gen = one_seed(net, seed, device, precision, compile_mode, num_classes)
    policy = precision_policy(cfg, device)
    step_model = compiled(model, cfg.compile)
    step_opts = StepOptions(batch_size, autocast(cfg, device), uses_cudagraphs(cfg.compile))
    warm, times, (steps, running) = time_epochs(
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
    with tf32_flags(matmul=False, cudnn=True):
        t0 = time.perf_counter()
        epoch(warmup_steps)
        warm = time.perf_counter() - t0
        times, steps, running = [], 0, 0.0
        for _ in range(max(1, epochs)):
            sync(device)
            t0 = time.perf_counter()
            steps, running = epoch()
            sync(device)
            times.append(time.perf_counter() - t0)
    return dict(tf32="PyTorch defaults (cuDNN TF32 on, matmul TF32 off)", samples_per_s=len(bds) / statistics.median(times),
                epoch_s=statistics.median(times),
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
                       sps=r["samples_per_s"], peak_rss_mib=memory.peak_rss_bytes() / 2**20))
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
                per_process_samples_per_s=[o["sps"] for o in outs],
                per_process_peak_rss_mib=[o["peak_rss_mib"] for o in outs], memory_method=memory.memory_method())


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
    warm, times, _ = time_epochs(lambda d: st.epoch(d, batch_size, gens), ds, batch_size, device, epochs,
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
        cfg, model, opt, gen = one_seed(net, s, device, precision, num_classes=num_classes)
        seeds.append(dict(model=model, opt=opt, cfg=cfg, gen=gen, stream=torch.cuda.Stream(device) if cuda else None))

    def run_seed(sd: dict, d) -> tuple[int, torch.Tensor]:
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
            return [f.result() for f in [pool.submit(run_seed, sd, d) for sd in seeds]]

        warm, times, out = time_epochs(epoch, ds, batch_size, device, epochs, warmup_steps)
    return dict(models=n, streams=cuda, aggregate_samples_per_s=n * len(ds) / statistics.median(times),
                epoch_s=statistics.median(times), warmup_s=warm,
                last_epoch_loss=[float(r) / max(1, k) for k, r in out], trained=[sd["model"] for sd in seeds])


# ------------------------------------------------------------------------------------- optional parts
def eval_throughput(model: nn.Module, ds, batch_size: int, device: torch.device) -> dict:
    """Examples/s of ``train.evaluate`` (float32) with TF32 off (our policy) and, on CUDA, on (for comparison);
    the TF32 flags are restored afterwards, also on an error."""
    out = {}
    for tf32 in ((False, True) if device.type == "cuda" else (False,)):
        with tf32_flags(matmul=tf32, cudnn=tf32):
            evaluate(model, ds, batch_size)  # warm-up
            sync(device)
            t0 = time.perf_counter()
            evaluate(model, ds, batch_size)
            sync(device)
            out["eval_samples_per_s" + ("_tf32" if tf32 else "")] = len(ds) / (time.perf_counter() - t0)
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
        sync(ds.device)
        t0 = time.perf_counter()
        r = sharpness.epsilon_sharpness(lf, x, eps, None, maxiter, solver=solver)
        sync(ds.device)
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
