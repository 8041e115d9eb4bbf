import hashlib
import json
import lzma
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lbgap.core import data, packs, paths

FIXTURES = Path(__file__).parent / "fixtures"


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def write_pack(root: Path, name: str = "mnist", n_train: int = 40, n_test: int = 20, monkeypatch=None) -> dict:
    """A tiny pack in exactly the format of ../shared/data (MANIFEST.json + xz-raw arrays + unpack.py); with
    ``monkeypatch``, its files and arrays are pinned in ``lbgap.core.packs`` (as the shipped packs are)."""
    rng = np.random.default_rng(0)
    shape = (28, 28) if name == "mnist" else (32, 32, 3)
    arrays = {"x_train": rng.integers(0, 256, (n_train,) + shape, dtype=np.uint8),
              "y_train": (np.arange(n_train) % 10).astype(np.uint8),
              "x_test": rng.integers(0, 256, (n_test,) + shape, dtype=np.uint8),
              "y_test": (np.arange(n_test) % 10).astype(np.uint8)}
    (root / name).mkdir(parents=True)
    specs = {}
    for key, arr in arrays.items():
        packed = lzma.compress(arr.tobytes())
        rel = f"{name}/{key}.u8.xz"
        (root / rel).write_bytes(packed)
        specs[key] = {"shape": list(arr.shape), "dtype": "uint8", "sha256": _sha(arr.tobytes()),
                      "encoding": {"type": "xz-raw", "files": [{"path": rel, "bytes": len(packed), "sha256": _sha(packed)}]}}
    names = [str(i) for i in range(10)]
    manifest = {"format_version": 1, "datasets": {name: {
        "complete": False, "status": "test fixture", "arrays": specs,
        "class_names": {"names": names, "sha256_utf8_newline_joined": _sha("\n".join(names).encode())}}}}
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    shutil.copy(FIXTURES / "unpack.py", root / "unpack.py")
    if monkeypatch is not None:
        monkeypatch.setitem(packs.PACK_FILES, name, {
            f["path"]: (f["bytes"], f["sha256"]) for sp in specs.values() for f in sp["encoding"]["files"]})
        monkeypatch.setitem(packs.PACK_ARRAYS, name, {
            key: dict(encoding="xz-raw", files=[f["path"] for f in sp["encoding"]["files"]], shape=tuple(sp["shape"]),
                      dtype="uint8", sha256=sp["sha256"]) for key, sp in specs.items()})
    return arrays


def test_import_pack_round_trip(tmp_path, monkeypatch):
    arrays = write_pack(tmp_path / "pack", monkeypatch=monkeypatch)
    path = data.import_pack("mnist", tmp_path / "pack", cache_dir=tmp_path / "cache")
    got, meta = data.read_cache("mnist", tmp_path / "cache")
    assert path.is_file()
    for key, arr in arrays.items():
        assert np.array_equal(got[key], arr)
    assert meta["train_complete"] is False and meta["sha256"]["x_train"] == _sha(arrays["x_train"].tobytes())
    with pytest.raises(data.DataError, match="training"):  # a partial dataset is never trained on
        data.load("mnist", cache_dir=tmp_path / "cache")


def test_import_pack_detects_corruption(tmp_path, monkeypatch):
    write_pack(tmp_path / "pack", monkeypatch=monkeypatch)
    f = tmp_path / "pack" / "mnist" / "x_train.u8.xz"
    b = bytearray(f.read_bytes())
    b[-1] ^= 0xFF
    f.write_bytes(bytes(b))
    with pytest.raises(data.DataError, match="does not match the sha256 lbgap pins"):
        data.import_pack("mnist", tmp_path / "pack", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_a_pack_edited_consistently_with_its_manifest_is_refused(tmp_path, monkeypatch):
    # the pinned hashes live in lbgap, not in the pack: labels changed and MANIFEST.json updated to match
    write_pack(tmp_path / "pack", monkeypatch=monkeypatch)
    root = tmp_path / "pack"
    y = np.frombuffer(lzma.decompress((root / "mnist/y_train.u8.xz").read_bytes()), np.uint8)
    packed = lzma.compress(((y + 1) % 10).astype(np.uint8).tobytes())
    (root / "mnist/y_train.u8.xz").write_bytes(packed)
    manifest = json.loads((root / "MANIFEST.json").read_text())
    spec = manifest["datasets"]["mnist"]["arrays"]["y_train"]
    spec["sha256"] = _sha(((y + 1) % 10).astype(np.uint8).tobytes())
    spec["encoding"]["files"][0].update(bytes=len(packed), sha256=_sha(packed))
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(data.DataError, match="y_train.u8.xz does not match the sha256 lbgap pins"):
        data.import_pack("mnist", root, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_import_never_runs_the_packs_own_code(tmp_path, monkeypatch):
    arrays = write_pack(tmp_path / "pack", monkeypatch=monkeypatch)
    marker = tmp_path / "unpack-ran"
    (tmp_path / "pack" / "unpack.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(1)\n")
    data.import_pack("mnist", tmp_path / "pack", cache_dir=tmp_path / "cache")
    assert not marker.exists()
    assert np.array_equal(data.read_cache("mnist", tmp_path / "cache")[0]["y_test"], arrays["y_test"])


def test_import_from_a_folder_that_is_not_a_pack(tmp_path):
    with pytest.raises(data.DataError, match="cannot read .*mnist/x_train.u8.xz"):
        data.import_pack("mnist", tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(data.DataError, match="no shipped pack of .timit."):
        data.import_pack("timit", tmp_path, cache_dir=tmp_path / "cache")


def test_the_pinned_hashes_are_the_shipped_manifests():
    # packs.py was written from ../shared/data/MANIFEST.json; every decoded array lbgap uses is pinned
    for name, arrays in packs.PACK_ARRAYS.items():
        assert set(arrays) == {"x_train", "y_train", "x_test", "y_test"}
        for spec in arrays.values():
            for f in spec["files"]:
                rel = f if isinstance(f, str) else f[0]
                assert rel in packs.PACK_FILES[name] and rel.startswith(f"{name}/")
    if (paths.SHARED_DATA / "MANIFEST.json").is_file():
        manifest = json.loads((paths.SHARED_DATA / "MANIFEST.json").read_text())
        for name, arrays in packs.PACK_ARRAYS.items():
            for key, spec in arrays.items():
                assert manifest["datasets"][name]["arrays"][key]["sha256"] == spec["sha256"]


def test_the_speech_pack_pin_is_the_one_its_import_checks():
    from lbgap.core import speech

    assert packs.PACK_FILES["so762"] == {f"so762/{speech.SO762_FILE}": (
        packs.PACK_FILES["so762"][f"so762/{speech.SO762_FILE}"][0], speech.SO762_XZ_SHA256)}


def test_the_cache_check_is_cheap_unless_the_file_moved(tmp_path):
    arrays = {k: v.astype(np.uint8) for k, v in data.synthetic_arrays("mnist", 32, 16).items()}
    path = data._write_cache("mnist", arrays, {"train_complete": True, "test_complete": True}, tmp_path)
    side = json.loads(data.check_path("mnist", tmp_path).read_text())
    assert side["bytes"] == path.stat().st_size and side["sha256"] == data.file_sha256(path)
    data.check_cache("mnist", tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))   # same size and mtime: the cheap check passes ...
    data.check_cache("mnist", tmp_path)
    with pytest.raises(data.DataError, match="does not match the sha256"):   # ... the full one does not
        data.verify("mnist", tmp_path)
    os.utime(path)   # mtime moved: the load re-hashes
    with pytest.raises(data.DataError, match="lbgap data import mnist --from"):
        data.read_cache("mnist", tmp_path)


def test_missing_data_names_the_dataset_and_the_commands(tmp_path):
    with pytest.raises(data.DataError) as e:
        data.load("cifar10", split="holdout", cache_dir=tmp_path)
    msg = str(e.value)
    assert "cifar10" in msg and "lbgap data import" in msg and "lbgap data download" in msg


def test_holdout_is_stratified_seeded_and_disjoint():
    labels = torch.arange(1000) % 10
    labels[:100] = 3  # unbalanced classes
    a = data.stratified_holdout(labels, 200, seed=0)
    b = data.stratified_holdout(labels, 200, seed=0)
    c = data.stratified_holdout(labels, 200, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(a) == 200 == len(set(a.tolist()))
    frac_all = torch.bincount(labels, minlength=10).double() / len(labels)
    frac_hold = torch.bincount(labels[a], minlength=10).double() / 200
    assert torch.allclose(frac_all, frac_hold, atol=0.006)


def test_example_subset_takes_the_front_of_shuffled_sets_and_spreads_over_speaker_ordered_ones():
    ds = data.TensorDataset(torch.arange(10, dtype=torch.uint8)[:, None], torch.arange(10))
    first, rule = data.example_subset(ds, 4, "cifar10")
    assert rule == "first" and first.y.tolist() == [0, 1, 2, 3]
    spread, rule = data.example_subset(ds, 4, "so762")
    assert rule == "spread" and spread.y.tolist() == [0, 2, 5, 7]
    assert data.example_subset(ds, 10, "so762") == (ds, "all") and data.example_subset(ds, None, "mnist")[1] == "all"
    assert data.subset_words(2000, "first") == "the first 2,000 training examples"
    assert ds.eval_batches(4) == [slice(0, 4), slice(4, 8), slice(8, 10)] and ds.eval_order == "stored"
    with pytest.raises(ValueError, match="positive number"):
        data.example_subset(ds, 0, "mnist")


def test_synthetic_bundle_shapes_and_scaling():
    b = data.load("cifar10", split="holdout", source="synthetic", n_train=100, n_test=30)
    assert len(b.train) + len(b.test) == 100 and len(b.extra["official_test"]) == 30
    x, y = b.train.batch(torch.arange(5))
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64


def test_official_split_refused_when_test_set_incomplete(tmp_path):
    arrays = data.synthetic_arrays("cifar10", 50, 10)
    data._write_cache("cifar10", {k: v.astype(np.uint8) for k, v in arrays.items()},
                      {"train_complete": True, "test_complete": False}, tmp_path)
    with pytest.raises(data.DataError, match="holdout"):
        data.load("cifar10", split="official", cache_dir=tmp_path)


@pytest.mark.skipif(not (paths.SHARED_DATA / "MANIFEST.json").is_file(), reason="../shared/data is not here")
def test_import_real_mnist_from_shared_data(tmp_path):
    data.import_pack("mnist", paths.SHARED_DATA, cache_dir=tmp_path)
    b = data.load("mnist", cache_dir=tmp_path)
    assert (len(b.train), len(b.test)) == (60000, 10000)
    assert b.train.x.shape == (60000, 1, 28, 28) and b.train.x.dtype == torch.uint8
    # the official label counts of MNIST
    assert torch.bincount(b.train.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(b.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
