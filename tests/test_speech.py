"""Speech frames for F2: Kaldi-style fbank, SPHERE reading, TIMIT labels, the so762 pack and the cache."""
import hashlib
import importlib.util
import io
import json
import lzma

import numpy as np
import pytest
import torch

from lbgap import cli
from lbgap.core import data
from lbgap.core import paths
from lbgap.core import records
from lbgap.core import speech


# ------------------------------------------------------------------------------------- helpers (independent)
def numpy_fbank(x: np.ndarray) -> np.ndarray:
    """Frame-by-frame transcription of Kaldi's fbank with the pack's settings (recipe/fbank.py)."""
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)
    mlo, mhi = mel(20.0), mel(7800.0)
    delta = (mhi - mlo) / 41
    banks = np.zeros((40, 257))
    for b in range(40):
        left, centre, right = mlo + b * delta, mlo + (b + 1) * delta, mlo + (b + 2) * delta
        for k in range(256):
            m = mel(16000 / 512 * k)
            if left < m < right:
                banks[b, k] = (m - left) / (centre - left) if m <= centre else (right - m) / (right - centre)
    n = np.arange(400)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * n / 399)) ** 0.85
    out = []
    for t in range(1 + (len(x) - 400) // 160):
        fr = x[160 * t: 160 * t + 400].astype(np.float64)
        fr = fr - fr.mean()
        fr = np.append(fr[0] - 0.97 * fr[0], fr[1:] - 0.97 * fr[:-1]) * window
        spec = np.abs(np.fft.fft(np.pad(fr, (0, 112)))[:257]) ** 2
        out.append(np.log(np.maximum(banks @ spec, np.finfo(np.float32).eps)))
    return np.array(out)


def sphere_bytes(samples: np.ndarray, byte_format: str = "01") -> bytes:
    """A NIST SPHERE file as on the TIMIT discs: 1024-byte ASCII header, then 16-bit PCM."""
    lines = ["NIST_1A", "   1024", "database_id -s5 TIMIT", "database_version -s3 1.0",
             "utterance_id -s8 test_utt", "channel_count -i 1", f"sample_count -i {len(samples)}",
             "sample_rate -i 16000", f"sample_min -i {samples.min()}", f"sample_max -i {samples.max()}",
             "sample_n_bytes -i 2", f"sample_byte_format -s2 {byte_format}", "sample_sig_bits -i 16", "end_head"]
    header = ("\n".join(lines) + "\n").encode().ljust(1024, b" ")
    order = "<" if byte_format == "01" else ">"
    return header + samples.astype(f"{order}i2").tobytes()


def make_timit(root, rng) -> dict:
    """A tiny corpus in the LDC93S1 layout: TRAIN/TEST/DR*/SPEAKER/{SA1,SI*,SX*}.WAV + .PHN."""
    layout = {"TRAIN/DR1/FCJF0": ["SA1", "SI1027", "SX37"], "TRAIN/DR2/MABC0": ["SI841", "SX121"],
              "TEST/DR1/MDAB0": ["SA2", "SI1039", "SX49"], "TEST/DR4/FEDW0": ["SI1084"],  # FEDW0: not core
              "TEST/DR2/FPAS0": ["SX134"]}
    phones = ["h#", "q", "ax", "s", "tcl", "t", "iy", "pau", "h#"]
    wav = {}
    for folder, utts in layout.items():
        (root / folder).mkdir(parents=True)
        for u in utts:
            n = int(rng.integers(5200, 7000))
            tone = 3000 * np.sin(2 * np.pi * rng.uniform(200, 3000) * np.arange(n) / 16000)
            x = np.clip(tone + rng.normal(0, 300, n), -32768, 32767).astype(np.int16)
            (root / folder / f"{u}.WAV").write_bytes(sphere_bytes(x, "01" if "TRAIN" in folder else "10"))
            cuts = np.sort(rng.choice(np.arange(300, n - 300), len(phones) - 1, replace=False))
            edges = [0, *cuts.tolist(), n]
            (root / folder / f"{u}.PHN").write_text(
                "".join(f"{a} {b} {p}\n" for a, b, p in zip(edges[:-1], edges[1:], phones)))
            wav[f"{folder.split('/')[-1].lower()}_{u.lower()}"] = (x, list(zip(edges[:-1], edges[1:], phones)))
    return wav


# ------------------------------------------------------------------------------------------------- fbank
def test_fbank_matches_independent_numpy():
    x = np.random.default_rng(0).normal(0, 1000, 4000)
    got = speech.fbank(x).numpy()
    want = numpy_fbank(x)
    assert got.shape == (1 + (4000 - 400) // 160, 40)
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_fbank_matches_the_pack_recipe_when_present():
    recipe = paths.SHARED_DATA / "so762" / "recipe" / "fbank.py"
    if not recipe.is_file():
        pytest.skip("the so762 recipe is not on this machine")
    spec = importlib.util.spec_from_file_location("so762_fbank", recipe)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.random.default_rng(1).normal(0, 2000, 3000).astype(np.float32)
    np.testing.assert_allclose(speech.fbank(x).numpy(), mod.fbank(x), atol=2e-4)


def test_fbank_known_values():
    # a constant signal is zero after DC removal: every bin sits at the floor log(float32 eps)
    assert np.allclose(speech.fbank(np.full(1600, 1234.0)).numpy(), np.log(np.finfo(np.float32).eps))
    # a 1 kHz tone peaks in the filter whose centre (on Kaldi's mel scale) is nearest 1 kHz
    t = np.arange(16000) / 16000
    fb = speech.fbank(10000 * np.sin(2 * np.pi * 1000 * t)).numpy()
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    centres = mel(20) + (mel(7800) - mel(20)) / 41 * np.arange(1, 41)
    assert fb.mean(0).argmax() == np.abs(centres - mel(1000)).argmin()
    assert len(speech.fbank(np.zeros(399))) == 0


# ----------------------------------------------------------------------------------------- SPHERE, labels
@pytest.mark.parametrize("byte_format", ["01", "10"])
def test_read_sphere_both_byte_orders(tmp_path, byte_format):
    x = np.array([0, 1, -1, 32767, -32768, 1234], np.int16)
    (tmp_path / "a.WAV").write_bytes(sphere_bytes(x, byte_format))
    np.testing.assert_array_equal(speech.read_sphere(tmp_path / "a.WAV"), x)
    (tmp_path / "b.WAV").write_bytes(b"NIST_1A\n   1024\nsample_coding -s26 pcm,embedded-shorten-v2.00\n"
                                     b"end_head\n".ljust(1024 - 16))
    with pytest.raises(data.DataError, match="sph2pipe"):
        speech.read_sphere(tmp_path / "b.WAV")


def test_fold_61_to_39():
    assert len(speech.PHONES61) == 61 and len(speech.PHONES39) == 39
    assert speech.PHONES39[0] == "sil"
    assert {speech.FOLD.get(p, p) for p in ("ao", "zh", "ux", "pcl", "h#", "ix")} == {"aa", "sh", "uw", "sil", "ih"}


def test_frame_labels_centre_sample_q_and_thirds():
    # centres of frames 0..9 are samples 200, 360, ..., 1640
    phn = [(0, 520, "h#"), (520, 600, "q"), (600, 1400, "iy"), (1400, 1700, "pcl")]
    phone, pstate = speech.frame_labels(phn, 10)
    sil, iy = speech.PHONES39.index("sil"), speech.PHONES39.index("iy")
    # h# (extended by q to 600) holds centres 200, 360, 520 -> 3 frames, states 0, 1, 2
    assert phone.tolist() == [sil] * 3 + [iy] * 5 + [sil] * 2
    # iy: centres 680..1320 -> 5 frames, states floor(3k/5) = 0 0 1 1 2; pcl: 2 frames -> states 0 1
    assert pstate.tolist() == [3 * sil, 3 * sil + 1, 3 * sil + 2] + [3 * iy + s for s in (0, 0, 1, 1, 2)] + \
        [3 * sil, 3 * sil + 1]
    lead_q = speech.frame_labels([(0, 300, "q"), (300, 2000, "s")], 3)[0]
    assert lead_q.tolist() == [speech.PHONES39.index("s")] * 3


# ------------------------------------------------------------------------------------- TIMIT round trip
def test_timit_fixture_round_trips_through_importer_and_trains(tmp_path, monkeypatch, checkpoints):
    rng = np.random.default_rng(0)
    corpus = make_timit(tmp_path / "TIMIT", rng)
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    assert cli.main(["data", "import", "timit", "--from", str(tmp_path / "TIMIT")]) == 0
    arrays, meta = data.read_cache("timit")
    # SA sentences and non-core test speakers are left out
    assert list(arrays["utt_train"]) == ["fcjf0_si1027", "fcjf0_sx37", "mabc0_si841", "mabc0_sx121"]
    assert list(arrays["utt_test"]) == ["mdab0_si1039", "mdab0_sx49", "fpas0_sx134"]
    lo, hi = arrays["lo"], arrays["hi"]
    for part in ("train", "test"):
        off = arrays[f"off_{part}"]
        for u, utt in enumerate(arrays[f"utt_{part}"]):
            x, phn = corpus[str(utt)]
            fb = numpy_fbank(x)
            deq = arrays[f"x_{part}"][off[u]:off[u + 1]] / 255 * (hi - lo) + lo
            assert deq.shape == fb.shape
            inside = (fb > lo) & (fb < hi)   # clipped outliers aside, within half a quantisation step
            assert np.all(np.abs(deq - fb)[inside] <= np.broadcast_to((hi - lo) / 510 + 1e-4, fb.shape)[inside])
            ph, ps = speech.frame_labels(phn, len(fb))
            np.testing.assert_array_equal(arrays[f"t_phone_{part}"][off[u]:off[u + 1]], ph)
            np.testing.assert_array_equal(arrays[f"y_{part}"][off[u]:off[u + 1]], ps)   # default: pstate

    bundle = data.load("timit", "official", "real", "cpu")
    assert bundle.info["description"].startswith("TIMIT") and bundle.num_classes == 1973
    assert len(bundle.train) == arrays["off_train"][-1] and len(bundle.test) == arrays["off_test"][-1]
    out = tmp_path / "results"
    assert cli.main(["train", "--net", "F2", "--dataset", "timit", "--batch-size", "LB", "--profile", "quick",
                     "--max-epochs", "1", "--device", "cpu", "--results-dir", str(out)]) == 0
    rec = json.loads(next((out / "quick" / "train").glob("F2-timit-*.json")).read_text())
    assert rec["config"]["batch_size"] == round(0.1 * len(bundle.train))   # LB = 10% of TIMIT's own size
    assert rec["data"]["description"] == speech.DESCRIPTION["timit"] and rec["data"]["targets"] == "pstate"


def test_timit_missing_says_where_to_get_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="LDC93S1"):
        speech.import_dataset("timit", tmp_path / "empty", cache_dir=tmp_path)
    with pytest.raises(data.DataError, match="LDC93S1"):
        speech.import_dataset("timit", paths.SHARED_DATA, cache_dir=tmp_path)
    with pytest.raises(data.DataError, match="LDC93S1"):
        data.load("timit", "official", "real", "cpu", cache_dir=tmp_path)


# ------------------------------------------------------------------------------------------- so762 pack
def fake_so762(rng, n_utt=6):
    """A tiny pack with the so762 README's arrays: 3 speakers, speaker-disjoint utt_split."""
    lens = rng.integers(3, 9, n_utt)
    n = int(lens.sum())
    spk = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])[:n_utt]
    smap = np.full(5126, -1, np.int16)
    smap[[7, 9]] = [120, 121]
    return dict(fbank_u8_T=rng.integers(0, 256, (40, n), dtype=np.uint8),
                fbank_lo=rng.uniform(-5, 0, 40).astype(np.float32), fbank_hi=rng.uniform(5, 10, 40).astype(np.float32),
                phone=rng.integers(0, 40, n).astype(np.uint8), pstate=rng.integers(0, 120, n).astype(np.uint8),
                senone=rng.choice([7, 9, 11, 4000], n).astype(np.int16), senone_map1973=smap,
                utt_off=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                utt_id=np.array([f"u{i}" for i in range(n_utt)]), spk=spk,
                utt_split=np.array([0, 0, 1, 1, 0, 0], np.uint8)[:n_utt], orig_split=np.array(["train"] * n_utt))


def write_pack(root, pack, monkeypatch):
    buf = io.BytesIO()
    np.savez(buf, **pack)
    raw = buf.getvalue()
    xz = lzma.compress(raw)
    (root / "so762").mkdir(parents=True)
    (root / "so762" / speech.SO762_FILE).write_bytes(xz)
    monkeypatch.setattr(speech, "SO762_XZ_SHA256", hashlib.sha256(xz).hexdigest())
    monkeypatch.setattr(speech, "SO762_NPZ_SHA256", hashlib.sha256(raw).hexdigest())
    n_train = int(np.diff(pack["utt_off"])[pack["utt_split"] == 0].sum())
    monkeypatch.setitem(data.DATASETS, "so762", dict(data.DATASETS["so762"], n_train=n_train))


def test_so762_import_splice_and_speaker_norm_against_brute_force(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pack = fake_so762(rng)
    write_pack(tmp_path / "shared", pack, monkeypatch)
    speech.import_dataset("so762", tmp_path / "shared", cache_dir=tmp_path / "cache")
    b = speech.load_so762("official", "cpu", cache_dir=tmp_path / "cache")
    assert b.info["description"] == "speechocean762 (TIMIT stand-in)"
    # brute force: dequantise, per-speaker z-score over all the speaker's frames, splice +-4 with edge repeat
    fb = pack["fbank_u8_T"].T.astype(np.float64) / 255 * (pack["fbank_hi"] - pack["fbank_lo"]) + pack["fbank_lo"]
    off = pack["utt_off"]
    frame_spk = np.repeat(pack["spk"], np.diff(off))
    z = np.empty_like(fb)
    for s in np.unique(frame_spk):
        m = frame_spk == s
        z[m] = (fb[m] - fb[m].mean(0)) / fb[m].std(0)
    target = np.where(pack["senone_map1973"][pack["senone"]] >= 0, pack["senone_map1973"][pack["senone"]],
                      pack["pstate"])
    xs, ys = {0: [], 1: []}, {0: [], 1: []}
    for u in range(len(off) - 1):
        a, e = off[u], off[u + 1]
        for f in range(a, e):
            xs[pack["utt_split"][u]].append(np.concatenate([z[min(max(f + k, a), e - 1)] for k in range(-4, 5)]))
            ys[pack["utt_split"][u]].append(target[f])
    for ds, code in ((b.train, 0), (b.test, 1)):
        x, y = ds.batch(slice(0, len(ds) + 10))
        assert x.shape == (len(xs[code]), 360) and x.dtype == torch.float32 and y.dtype == torch.int64
        np.testing.assert_allclose(x.numpy(), np.array(xs[code]), atol=1e-4)
        np.testing.assert_array_equal(y.numpy(), ys[code])
        idx = torch.tensor([len(ds) - 1, 0, 2])
        xi, yi = ds.batch(idx)
        torch.testing.assert_close(xi, x[idx])
        torch.testing.assert_close(ds.subset(idx).batch(slice(1, 3))[0], x[idx[1:]])
        spread, rule = data.example_subset(ds, 5, "so762")    # every (N/5)-th frame, windows intact
        assert rule == "spread"
        torch.testing.assert_close(spread.batch(slice(0, 5))[0], x[torch.arange(5) * len(ds) // 5])
        batches = ds.eval_batches(7)             # fixed-order passes interleave the speaker-ordered frames
        assert sorted(torch.cat(batches).tolist()) == list(range(len(ds)))
        assert batches[1].tolist() == list(range(1, len(ds), len(batches))) and ds.eval_order == "interleaved"
    assert b.info["eval_order"] == "interleaved"
    # train.evaluate follows eval_batches: with batch-statistic BN the result depends on how batches are cut
    from lbgap.core.models import keras_cross_entropy
    from lbgap.core.train import evaluate
    torch.manual_seed(0)
    classes = int(b.train.y.max()) + 1
    net = torch.nn.Sequential(torch.nn.Linear(360, 16), torch.nn.BatchNorm1d(16, track_running_stats=False),
                              torch.nn.ReLU(), torch.nn.Linear(16, classes))
    def pass_over(cuts):
        with torch.no_grad():
            return sum(float(keras_cross_entropy(net(b.train.batch(i)[0]), b.train.batch(i)[1], reduction="sum"))
                       for i in cuts) / len(b.train)
    assert evaluate(net, b.train, 7)[0] == pytest.approx(pass_over(b.train.eval_batches(7)), rel=1e-5)
    consecutive = [slice(i, i + 7) for i in range(0, len(b.train), 7)]
    assert evaluate(net, b.train, 7)[0] != pytest.approx(pass_over(consecutive), rel=1e-3)
    # `lbgap eval-order`: both ways in one record, for the book's deviation note
    from lbgap.core.config import RunConfig
    from lbgap.studies import eval_order
    cfg = RunConfig(net="F2", dataset="so762", batch_size=8, profile="quick", regime="SB", eval_batch_size=7)
    rec = eval_order.eval_order_check(cfg, tmp_path / "res", model_data=(net, b, "cpu"))
    assert rec["rows"]["train"]["interleaved"]["loss"] == pytest.approx(evaluate(net, b.train, 7)[0])
    assert rec["rows"]["train"]["stored"]["loss"] == pytest.approx(pass_over(consecutive), rel=1e-5)
    assert eval_order.eval_order_check(cfg, tmp_path / "res")["skipped"]
    assert list(eval_order.eval_order_table([rec]).set) == ["train", "test"]
    assert records.read_record(records.record_path(tmp_path / "res", "quick", "evalorder", cfg.run_id)) == rec
    assert set(pack["spk"][pack["utt_split"] == 0]).isdisjoint(pack["spk"][pack["utt_split"] == 1])
    phone = speech.load_so762("official", "cpu", cache_dir=tmp_path / "cache", targets="phone")
    np.testing.assert_array_equal(phone.train.y.numpy(), pack["phone"][np.repeat(pack["utt_split"], np.diff(off)) == 0])
    with pytest.raises(data.DataError, match="no target"):
        speech.load_so762("official", "cpu", cache_dir=tmp_path / "cache", targets="senone")
    with pytest.raises(data.DataError, match="--split official"):
        speech.load_so762("holdout", "cpu", cache_dir=tmp_path / "cache")


def test_so762_rejects_a_corrupt_pack(tmp_path, monkeypatch):
    pack = fake_so762(np.random.default_rng(1))
    write_pack(tmp_path / "shared", pack, monkeypatch)
    monkeypatch.setattr(speech, "SO762_XZ_SHA256", "0" * 64)
    with pytest.raises(data.DataError, match="sha256"):
        speech.import_dataset("so762", tmp_path / "shared", cache_dir=tmp_path / "cache")
    with pytest.raises(data.DataError, match="shared data folder"):
        speech.import_dataset("so762", tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "so762.npz").exists()


def test_synthetic_so762_keeps_f2_shape():
    b = data.load("so762", "official", "synthetic", "cpu", n_train=32, n_test=16)
    x, y = b.train.batch(slice(0, 8))
    assert x.shape == (8, 360) and int(y.max()) < 1973


@pytest.mark.slow
def test_real_so762_cache_matches_the_readme():
    if not data.cache_path("so762").is_file():
        pytest.skip("so762 is not imported (lbgap data import so762 --from ../shared/data)")
    b = data.load("so762", "official", "real", "cpu")
    assert (len(b.train), len(b.test)) == (1_106_004, 508_255)
    assert b.info["speakers"] == {"train": 169, "test": 81} and b.info["classes_used"] == 1970


def test_speech_is_a_dataset_module_only():
    """Importing the speech dataset loads no measure, study or CLI code (the evaluation-order check that used to
    live here is lbgap.studies.eval_order; only the ``eval-order`` command imports it, when run)."""
    import subprocess
    import sys

    code = ("import sys, lbgap.core.speech; "
            "print(sorted(m for m in sys.modules if m.startswith(('lbgap.measures', 'lbgap.studies', 'lbgap.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert not hasattr(speech, "eval_order_check") and not hasattr(speech, "eval_order_table")
