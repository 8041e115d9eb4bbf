"""Datasets: loaded once into uint8 tensors on the run's device, scaled to [0, 1] per batch, no DataLoader.

The paper uses MNIST and CIFAR "without any pre-processing" (Appendix A); the authors' code divides by 255
and does no mean/std normalisation, and neither do we. Batches are served by slicing a seeded per-epoch
permutation (``train.epoch_batches``), which keeps the data GPU-resident and the order reproducible.

Three ways in, one cache format (``data/cache/<name>.npz``: ``x_train, y_train, x_test, y_test`` uint8,
images NHWC, plus a JSON ``meta`` string):

1. ``lbgap data download NAME``        torchvision's download (md5-checked by torchvision);
2. ``lbgap data import NAME --from DIR`` the shipped lossless pack, decoded here (never by the pack's own
   code); every file's size and sha256 and every decoded array's sha256 must equal the values pinned in
   :mod:`lbgap.core.packs` (the pack's ``MANIFEST.json`` is not trusted);
3. ``lbgap data import NAME --data-dir DIR`` torchvision-format raw files already on disk.

Each cache file has a sidecar ``<name>.npz.check.json`` (size, mtime and sha256 of the cache file, written at
import): loading compares size and mtime (free) and re-hashes only when the mtime moved; ``lbgap data verify``
re-hashes the file and every array. A truncated or corrupted cache is a :class:`DataError` saying how to
re-import it.

Evaluation splits: ``official`` (the dataset's own test set) and ``holdout`` (a seeded, class-stratified
5,000-example hold-out of the official training set is the test set; training uses the rest). With
``holdout`` the official test set, complete or not, is also evaluated as the secondary ``official_test``.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lbgap.core import packs, paths

DATASETS: dict[str, dict] = {
    "mnist": dict(shape=(1, 28, 28), classes=10, n_train=60000, n_test=10000, tv="MNIST"),
    "cifar10": dict(shape=(3, 32, 32), classes=10, n_train=50000, n_test=10000, tv="CIFAR10"),
    "cifar100": dict(shape=(3, 32, 32), classes=100, n_train=50000, n_test=10000, tv="CIFAR100"),
    "so762": dict(shape=(360,), classes=1973, n_train=1106004, n_test=508255, tv=None),
    # bring-your-own TIMIT (lbgap.core.speech): sizes are known once imported (speech.cached_n_train)
    "timit": dict(shape=(360,), classes=1973, n_train=None, n_test=None, tv=None),
}
SPLITS = ("official", "holdout")
HOLDOUT_SIZE = 5000
HOLDOUT_SEED = 0        # one fixed hold-out for every run, so all seeds and regimes share the same test set
SYNTHETIC_SEED = 1234   # synthetic data is the same for every run
# Real datasets with a loader of their own ("module:function", resolved on use, so that the speech module can build
# on this one without an import circle); the others are read from the cache here.
REAL_LOADERS: dict[str, str] = {"so762": "lbgap.core.speech:load", "timit": "lbgap.core.speech:load"}


def real_loader(name: str):
    """The loader of ``name`` from :data:`REAL_LOADERS`."""
    import importlib

    module, attr = REAL_LOADERS[name].split(":")
    return getattr(importlib.import_module(module), attr)


class DataError(Exception):
    """Data missing, incomplete or corrupt; the message says what to do."""


def how_to_get(name: str) -> str:
    """The three ways to put dataset ``name`` into the cache (the end of an error line)."""
    return (f"get it with one of: `lbgap data import {name} --from ../shared/data` (the shipped pack), "
            f"`lbgap data download {name}` (torchvision, needs internet), or "
            f"`lbgap data import {name} --data-dir DIR` (torchvision-format files already on disk)")


# --------------------------------------------------------------------------------------------- datasets
class TensorDataset:
    """uint8 examples + int64 labels on one device; ``batch(idx)`` returns float32 in [0, 1] and labels."""

    eval_order = "stored"   # how ``eval_batches`` cuts a fixed-order pass ("stored" | "interleaved"); recorded

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} examples but {len(y)} labels")
        self.x, self.y = x, y.long()

    def __len__(self) -> int:
        return len(self.y)

    @property
    def device(self) -> torch.device:
        """The device the examples are on."""
        return self.x.device

    def batch(self, idx: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Examples ``idx`` as (float inputs in [0, 1], integer labels)."""
        return self.x[idx].float().div_(255.0), self.y[idx]

    def to(self, device: torch.device | str) -> "TensorDataset":
        """The same examples on ``device``."""
        return TensorDataset(self.x.to(device), self.y.to(device))

    def subset(self, idx: torch.Tensor) -> "TensorDataset":
        """The examples ``idx`` as a dataset of their own."""
        return TensorDataset(self.x[idx], self.y[idx])

    def eval_batches(self, batch_size: int) -> list:
        """The batches of a fixed-order pass over the whole set (``train.evaluate``, the sharpness f, BN
        re-estimation), as ``eval_order`` says: ``"stored"``, consecutive slices of the stored order (MNIST and
        CIFAR are stored shuffled); ``"interleaved"``, with K batches batch k holds examples k, k+K, k+2K, ...
        (speech frames, stored speaker by speaker: see ``speech.SpeechFrames``)."""
        n = len(self)
        if self.eval_order == "interleaved":
            k = -(-n // batch_size)
            return [torch.arange(j, n, k, device=self.device) for j in range(k)]
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


@dataclass
class DataBundle:
    """A dataset as a run uses it: training and test sets, any extra test sets, and what the record stores about it (``info``)."""
    name: str
    train: TensorDataset
    test: TensorDataset
    extra: dict[str, TensorDataset] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Number of classes (the dataset's own, else the largest training label + 1)."""
        return DATASETS[self.name]["classes"] if self.name in DATASETS else int(self.train.y.max()) + 1


# Datasets stored with related examples next to each other (so762/TIMIT: the frames of one utterance, the
# utterances of one speaker): a subset of them is spread evenly over the set, not taken from the front.
SPEAKER_ORDERED = {"so762", "timit"}


def example_subset(dataset: TensorDataset, n: int | None, name: str) -> tuple[TensorDataset, str]:
    """The ``n`` examples of dataset ``name``'s training (or test) set that a budget measurement (sharpness f,
    Hessian, landscape curves) uses in place of the whole set, and the rule that chose them: ``"first"`` n of
    a set in shuffled order (MNIST, CIFAR), ``"spread"`` (every (N/n)-th, so every speaker is in it) of a
    speaker-ordered set (:data:`SPEAKER_ORDERED`), ``"all"`` when ``n`` is None or at least the set's size."""
    total = len(dataset)
    if n is None or n >= total:
        return dataset, "all"
    if n < 1:
        raise ValueError(f"a subset of {n} examples: give a positive number (or None for all {total})")
    if name in SPEAKER_ORDERED:
        return dataset.subset(torch.arange(n, device=dataset.device) * total // n), "spread"
    return dataset.subset(torch.arange(n, device=dataset.device)), "first"


def subset_words(n: int, rule: str, part: str = "training") -> str:
    """``example_subset``'s choice in words, for tables and figure notes."""
    return {"first": f"the first {n:,} {part} examples", "spread": f"{n:,} {part} examples spread evenly",
            "all": f"the whole {part} set"}[rule]


# ------------------------------------------------------------------------------------------------ cache
def cache_path(name: str, cache_dir: Path | None = None) -> Path:
    """Where dataset ``name`` is cached: ``<cache>/<name>.npz``."""
    return (cache_dir or paths.CACHE_DIR) / f"{name}.npz"


def check_path(name: str, cache_dir: Path | None = None) -> Path:
    """The sidecar of a cache file: ``{"bytes", "mtime_ns", "sha256"}`` of ``<name>.npz`` as written."""
    return cache_path(name, cache_dir).with_suffix(".npz.check.json")


def file_sha256(path: Path) -> str:
    """The sha256 of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def array_sha256(arr: np.ndarray) -> str:
    """The sha256 of the array's bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def reimport_hint(name: str) -> str:
    """The command that imports dataset ``name`` again (the end of an error line about a bad cache)."""
    src = "DIR" if name == "timit" else "../shared/data"
    return f"re-import with `lbgap data import {name} --from {src}` (or `lbgap data download {name}`)"


def _write_cache(name: str, arrays: dict[str, np.ndarray], meta: dict, cache_dir: Path | None) -> Path:
    out = cache_path(name, cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, name=name, sha256={k: array_sha256(v) for k, v in arrays.items()})
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        digest = file_sha256(Path(tmp))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    st = out.stat()
    check = check_path(name, cache_dir)
    check.write_text(json.dumps(dict(bytes=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest)) + "\n")
    return out


def check_cache(name: str, cache_dir: Path | None = None, full: bool = False) -> Path:
    """The cache file of ``name``, checked against its sidecar: size always, the sha256 when its mtime moved
    or ``full``; a :class:`DataError` saying how to re-import it otherwise. A cache written before sidecars
    existed is checked when it is read (its zip CRCs), not here."""
    path = cache_path(name, cache_dir)
    if not path.is_file():
        raise DataError(f"dataset {name!r} is not in the cache ({path}); {how_to_get(name)}")
    side = check_path(name, cache_dir)
    if not side.is_file():
        return path
    try:
        want = json.loads(side.read_text())
        size, mtime, digest = int(want["bytes"]), int(want["mtime_ns"]), str(want["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"the check file {side} of the cached {name} is unreadable; {reimport_hint(name)}") from None
    st = path.stat()
    if st.st_size != size:
        raise DataError(f"the cached {name} ({path}) has {st.st_size} bytes, {size} were written (truncated or "
                        f"replaced); {reimport_hint(name)}")
    if (full or st.st_mtime_ns != mtime) and file_sha256(path) != digest:
        raise DataError(f"the cached {name} ({path}) does not match the sha256 written at import (corrupted or "
                        f"edited); {reimport_hint(name)}")
    return path


# what a damaged .npz raises when it is opened or a member is read
_BROKEN_NPZ = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, OSError)


def read_meta(name: str, cache_dir: Path | None = None) -> dict:
    """Only the ``meta`` entry of a cached dataset (npz members load lazily: this reads no pixels)."""
    path = check_cache(name, cache_dir)
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"])) if "meta" in z.files else {}
    except _BROKEN_NPZ as e:
        raise DataError(f"the cached {name} ({path}) is unreadable ({type(e).__name__}: {e}); "
                        f"{reimport_hint(name)}") from None


def read_cache(name: str, cache_dir: Path | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The cached arrays of dataset ``name`` and their metadata, the cache checked first (:func:`check_cache`)."""
    path = check_cache(name, cache_dir)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "meta"}
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except _BROKEN_NPZ as e:
        raise DataError(f"the cached {name} ({path}) is unreadable ({type(e).__name__}: {e}); "
                        f"{reimport_hint(name)}") from None
    return arrays, meta


def verify(name: str, cache_dir: Path | None = None) -> str:
    """``lbgap data verify``: the cache file's sha256 against its sidecar and every array's against the
    ``meta`` written at import; returns a one-line summary, raises :class:`DataError` on any mismatch."""
    path = check_cache(name, cache_dir, full=True)
    arrays, meta = read_cache(name, cache_dir)
    want = meta.get("sha256", {})
    bad = [k for k, v in arrays.items() if k in want and array_sha256(v) != want[k]]
    if bad:
        raise DataError(f"the cached {name} ({path}): {', '.join(bad)} differ from the sha256 written at import; "
                        f"{reimport_hint(name)}")
    side = "file sha256 and " if check_path(name, cache_dir).is_file() else "(no check file: written by an older " \
        "lbgap) "
    return f"{name}: ok ({side}{len([k for k in arrays if k in want])} array sha256s match)"


# ------------------------------------------------------------------------------------------ three ways in
def _pack_file(name: str, pack: Path, rel: str) -> bytes:
    """The bytes of pack file ``rel``, refused unless its size and sha256 equal :data:`packs.PACK_FILES`."""
    size, digest = packs.PACK_FILES[name][rel]
    path = pack / rel
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path} ({e.strerror}); point --from at the shared data folder "
                        "(e.g. ../shared/data) or copy it again") from None
    if len(raw) != size or hashlib.sha256(raw).hexdigest() != digest:
        raise DataError(f"{path} does not match the sha256 lbgap pins for it (edited, corrupt or another "
                        "version); copy the pack again from the shared data folder")
    return raw


def decode_array(name: str, key: str, pack: Path) -> np.ndarray:
    """Decode array ``key`` of pack ``name`` as :data:`packs.PACK_ARRAYS` describes it (the encodings of the
    pack's README), from pinned files only; its sha256 must equal the pinned one."""
    spec = packs.PACK_ARRAYS[name][key]
    if spec["encoding"] == "xz-raw":
        raw = b"".join(lzma.decompress(_pack_file(name, pack, rel)) for rel in spec["files"])
        arr = np.frombuffer(raw, dtype=spec["dtype"]).reshape(spec["shape"])
    else:   # webp-mosaic: sprite sheets of ``tile``-shaped images, ``cols`` per row, ``count`` used
        from PIL import Image

        th, tw, tc = spec["tile"]
        parts = []
        for rel, cols, count in spec["files"]:
            img = Image.open(io.BytesIO(_pack_file(name, pack, rel)))
            m = np.asarray(img.convert("RGB") if tc == 3 else img.convert("L")).reshape(img.height, img.width, tc)
            rows = m.shape[0] // th
            tiles = m.reshape(rows, th, cols, tw, tc).transpose(0, 2, 1, 3, 4).reshape(rows * cols, th, tw, tc)
            parts.append(tiles[:count])
        arr = np.concatenate(parts).reshape(spec["shape"]).astype(spec["dtype"], copy=False)
    arr = np.ascontiguousarray(arr)
    if arr.shape != tuple(spec["shape"]) or array_sha256(arr) != spec["sha256"]:
        raise DataError(f"{name}/{key} decoded from {pack} does not match the sha256 lbgap pins for it; copy the "
                        "pack again from the shared data folder")
    return arr


def import_pack(name: str, pack_dir: str | os.PathLike, cache_dir: Path | None = None) -> Path:
    """Decode pack ``pack_dir`` (the format of ``../shared/data``) here, every file checked against the hashes
    pinned in :mod:`lbgap.core.packs` (nothing of the pack is executed or trusted); cache it."""
    pack = Path(pack_dir)
    if name not in packs.PACK_ARRAYS:
        raise DataError(f"there is no shipped pack of {name!r}: packs exist for {', '.join(packs.PACK_ARRAYS)}")
    if not pack.is_dir():
        raise DataError(f"{pack} is not a folder; point --from at the shared data folder, e.g. ../shared/data")
    arrays = {key: decode_array(name, key, pack) for key in ("x_train", "y_train", "x_test", "y_test")}
    n_test_full = DATASETS[name]["n_test"]
    meta = dict(source=f"data pack ({pack.name}/MANIFEST.json)", status=packs.PACK_STATUS[name],
                train_complete=len(arrays["y_train"]) == DATASETS[name]["n_train"],
                test_complete=len(arrays["y_test"]) == n_test_full)
    return _write_cache(name, arrays, meta, cache_dir)


def _from_torchvision(name: str, root: Path, download: bool) -> dict[str, np.ndarray]:
    from lbgap.core._tv import torchvision

    cls = getattr(torchvision.datasets, DATASETS[name]["tv"])
    out = {}
    for part, train in (("train", True), ("test", False)):
        try:
            ds = cls(str(root), train=train, download=download)
        except RuntimeError as e:
            raise DataError(f"torchvision could not read {name} under {root}: {e}; "
                            "the folder must hold torchvision's own layout (e.g. MNIST/raw/, "
                            "cifar-10-batches-py/)") from e
        x = ds.data.numpy() if torch.is_tensor(ds.data) else np.asarray(ds.data)
        y = ds.targets.numpy() if torch.is_tensor(ds.targets) else np.asarray(ds.targets)
        out[f"x_{part}"], out[f"y_{part}"] = x.astype(np.uint8), y.astype(np.uint8)
    return out


def download(name: str, root: str | os.PathLike | None = None, cache_dir: Path | None = None) -> Path:
    """torchvision's download (with its md5 checks) into ``root`` (default: a temp dir), then cache."""
    if DATASETS.get(name, {}).get("tv") is None:
        raise DataError(f"{name!r} cannot be downloaded by torchvision")
    if root is None:
        with tempfile.TemporaryDirectory() as tmp:
            arrays = _from_torchvision(name, Path(tmp), download=True)
    else:
        arrays = _from_torchvision(name, Path(root), download=True)
    return _write_cache(name, arrays, dict(source="torchvision-download", train_complete=True,
                                           test_complete=True), cache_dir)


def import_data_dir(name: str, data_dir: str | os.PathLike, cache_dir: Path | None = None) -> Path:
    """Cache dataset ``name`` from torchvision-format files already in ``data_dir`` (no download)."""
    if DATASETS.get(name, {}).get("tv") is None:
        raise DataError(f"{name!r} has no torchvision format; see `lbgap data --help`")
    arrays = _from_torchvision(name, Path(data_dir), download=False)
    return _write_cache(name, arrays, dict(source=f"data-dir:{Path(data_dir).name}", train_complete=True,
                                           test_complete=len(arrays["y_test"]) == DATASETS[name]["n_test"]),
                        cache_dir)


# ------------------------------------------------------------------------------------------------ loading
def _to_nchw(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    return np.ascontiguousarray(x.reshape((len(x),) + tuple(shape)))


def stratified_holdout(labels: torch.Tensor, size: int = HOLDOUT_SIZE, seed: int = HOLDOUT_SEED) -> torch.Tensor:
    """Indices of a seeded, class-stratified hold-out of ``size`` examples (largest-remainder allocation)."""
    labels = labels.cpu().long()
    n = len(labels)
    if not 0 < size < n:
        raise ValueError(f"hold-out size {size} must be between 1 and {n - 1}")
    counts = torch.bincount(labels)
    quota = counts.double() * size / n
    take = quota.floor().long()
    short = size - int(take.sum())
    if short:
        take[torch.argsort(quota - take, descending=True)[:short]] += 1
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    order = perm[torch.argsort(labels[perm], stable=True)]  # random within class, grouped by class
    starts = torch.cumsum(counts, 0) - counts
    chosen = [order[s: s + t] for s, t in zip(starts.tolist(), take.tolist())]
    return torch.sort(torch.cat(chosen)).values


def synthetic_arrays(name: str, n_train: int, n_test: int, seed: int = SYNTHETIC_SEED) -> dict[str, np.ndarray]:
    """Learnable synthetic data of the dataset's exact shape: a per-class uint8 prototype plus noise."""
    spec = DATASETS[name]
    rng = np.random.default_rng(seed)
    k = spec["classes"]
    protos = rng.integers(0, 256, size=(k,) + spec["shape"], dtype=np.uint8)
    out = {}
    for part, n in (("train", n_train), ("test", n_test)):
        y = rng.integers(0, k, size=n)
        noise = rng.integers(0, 256, size=(n,) + spec["shape"], dtype=np.uint8)
        out[f"x_{part}"] = ((protos[y].astype(np.uint16) + noise) // 2).astype(np.uint8)
        out[f"y_{part}"] = y.astype(np.int64)
    return out


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else CPU; any other spec must name a device torch has (DataError otherwise)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: give auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return dev


def load(name: str, split: str = "official", source: str = "real", device: str | torch.device = "cpu",
         n_train: int | None = None, n_test: int | None = None, cache_dir: Path | None = None) -> DataBundle:
    """Load dataset ``name`` onto ``device`` as a :class:`DataBundle` (train, test, extra test sets)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose 'official' or 'holdout'")
    device = resolve_device(device)
    spec = DATASETS[name]
    if source == "synthetic":
        arrays = synthetic_arrays(name, n_train or 512, n_test or 256)
        meta = dict(source="synthetic", test_complete=True, train_complete=True)
    elif source == "real":
        if name in REAL_LOADERS:
            return real_loader(name)(name, split=split, device=device, cache_dir=cache_dir)
        arrays, meta = read_cache(name, cache_dir)
        if not meta.get("train_complete", True):
            raise DataError(f"the cached {name} has only {len(arrays['y_train'])} of {spec['n_train']} training "
                            f"images ({meta.get('status', 'incomplete pack')}); it cannot be trained on here. "
                            f"Use `lbgap data download {name}` on a machine with internet")
    else:
        raise DataError(f"unknown data source {source!r}: 'real' or 'synthetic'")

    x_tr = torch.from_numpy(_to_nchw(arrays["x_train"], spec["shape"]))
    y_tr = torch.from_numpy(arrays["y_train"].astype(np.int64))
    x_te = torch.from_numpy(_to_nchw(arrays["x_test"], spec["shape"]))
    y_te = torch.from_numpy(arrays["y_test"].astype(np.int64))
    official = TensorDataset(x_te, y_te)
    extra: dict[str, TensorDataset] = {}
    if split == "official":
        if not meta.get("test_complete", True):
            raise DataError(f"the cached {name} has only {len(y_te)} of the {spec['n_test']} official test images, "
                            f"so split 'official' is impossible here: use --split holdout (a seeded 5,000-image "
                            f"hold-out of the training set; the {len(y_te)} official test images are reported too)")
        train, test = TensorDataset(x_tr, y_tr), official
    else:
        size = HOLDOUT_SIZE if source == "real" else max(1, len(y_tr) // 5)
        hold = stratified_holdout(y_tr, size)
        keep = torch.ones(len(y_tr), dtype=torch.bool)
        keep[hold] = False
        train = TensorDataset(x_tr[keep], y_tr[keep])
        test = TensorDataset(x_tr[hold], y_tr[hold])
        extra["official_test"] = official
    info = dict(dataset=name, split=split, source=meta.get("source", source), n_train=len(train),
                n_test=len(test), test_complete=bool(meta.get("test_complete", True)),
                holdout_seed=HOLDOUT_SEED if split == "holdout" else None,
                extra={k: len(v) for k, v in extra.items()}, eval_order=train.eval_order)
    return DataBundle(name, train.to(device), test.to(device), {k: v.to(device) for k, v in extra.items()}, info)


def status(cache_dir: Path | None = None) -> list[dict]:
    """What is in the cache, for ``lbgap status`` and the book."""
    rows = []
    for name in DATASETS:
        path = cache_path(name, cache_dir)
        row = dict(dataset=name, cached=path.is_file(), source="", n_train=0, n_test=0, usable="no")
        if path.is_file():
            try:
                check_cache(name, cache_dir)
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                    row.update(source=meta.get("source", ""), n_train=int(z["y_train"].shape[0]),
                               n_test=int(z["y_test"].shape[0]))
                ok_train = meta.get("train_complete", True)
                row["usable"] = ("official+holdout" if meta.get("test_complete", True) else "holdout only") \
                    if ok_train else f"no: needs {name} (pixels incomplete)"
                row["usable"] = meta.get("usable", row["usable"])  # e.g. speech: official split only
            except Exception as e:  # a broken cache file must not break `lbgap status`
                row["usable"] = f"no: {e}" if isinstance(e, DataError) else f"no: unreadable cache ({e})"
        rows.append(row)
    return rows
