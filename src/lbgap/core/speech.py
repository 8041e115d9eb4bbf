"""Speech frames for network F2 (Keskar et al. 2017, Table 1 / App. B.2: TIMIT, 360 -> 7 x 512 -> 1973).

TIMIT is licensed by the LDC, so F2 trains here on **speechocean762 (TIMIT stand-in)**: 1.61 M frames of
real read English with forced-aligned labels (``../shared/data/so762``; its README documents the pack).
A user who holds TIMIT can bring it: ``lbgap data import timit --from /path/to/TIMIT``.

Both end in one cache format, ``data/cache/<name>.npz`` (written atomically by ``data._write_cache``)::

    x_train, x_test        (N, 40) uint8   quantised log-mel, frame-major: fb = x / 255 * (hi - lo) + lo
    y_train, y_test        (N,)    int16   the default target (so762: "1973"; timit: "pstate")
    t_<name>_train/_test   (N,)    int16   every selectable target (so762: 1973, pstate, phone; timit: pstate, phone)
    off_train, off_test    (U+1,)  int64   utterance u is frames off[u]:off[u+1]
    uspk_train, uspk_test  (U,)    int32   speaker of each utterance (index into spk)
    utt_train, utt_test    (U,)    str     utterance ids
    spk                    (S,)    str     speaker ids (train and test speakers are disjoint)
    spk_mean, spk_std      (S, 40) float32 per-speaker mean / std of the dequantised log-mel (all its frames)
    lo, hi                 (40,)   float32 dequantisation range
    meta                   JSON: source, sha256 of every array, targets, default target, description

Features are kept compact (uint8 + offsets, ~65 MB for so762) and turned into F2's 360-dim input per batch,
on the batch's device (:class:`SpeechFrames`): dequantise, per-speaker mean/variance normalisation (Kaldi's
TIMIT recipe; dequantisation and CMVN fold into one per-speaker affine map, applied in float32), splice
+-4 frames inside the utterance (edge frames repeated) -> 9 x 40 = 360.

Targets (``load(..., targets=...)``; records store which): so762 ``1973`` (default; the pack's senone-based
F2-sized classes, 1,970 occur), ``pstate`` (120), ``phone`` (40). TIMIT: ``pstate`` (default; the 61 hand-
labelled phones folded to 39, each segment cut into 3 equal states: 117 classes) and ``phone`` (39); the paper's
1,973 tied states need a Kaldi GMM-HMM alignment we do not build. F2 keeps its 1,973 outputs either way
(unused classes only learn to be improbable), so its parameter count stays the paper's.

Splits: ``official`` is the corpus's speaker-disjoint train/test (so762: the pack's ``utt_split``, 169 / 81
speakers; timit: the 462 training speakers' SI+SX sentences / the 24-speaker core test set). ``holdout`` is
refused: a frame-level hold-out would share speakers and utterances with training.
"""
from __future__ import annotations

import hashlib
import io
import lzma
import os
import wave
from pathlib import Path

import numpy as np
import torch

from lbgap.core import data as datamod
from lbgap.core import paths

SO762_FILE = "so762_f2.npz.xz"
SO762_XZ_SHA256 = "9d644fb8b7213caa93bcb256920f894b5385ac8d83ba64693a78c173012fed95"
SO762_NPZ_SHA256 = "e425f8fdc4ee48d5a15da37f3737d13ee1e1971c3a521fb72219a6e4eb8d3395"
DESCRIPTION = {"so762": "speechocean762 (TIMIT stand-in)", "timit": "TIMIT (LDC93S1), core test set"}
TARGETS = {"so762": ("1973", "pstate", "phone"), "timit": ("pstate", "phone")}
CONTEXT = 4                      # splice +-4 frames -> 9 x 40 = 360 inputs (F2's input size)
NMEL = 40
LDC_HINT = ("TIMIT is licensed by the LDC and not shipped here: obtain LDC93S1 "
            "(https://catalog.ldc.upenn.edu/LDC93S1), then run `lbgap data import timit --from /path/to/TIMIT` "
            "(the folder that holds TRAIN/ and TEST/)")


def how_to_get(name: str) -> str:
    """How to put speech dataset ``name`` into the cache (the end of an error line)."""
    if name == "timit":
        return LDC_HINT
    return f"import it with `lbgap data import so762 --from ../shared/data` (the folder holding so762/{SO762_FILE})"


# --------------------------------------------------------------------------------------------- batches
class SpeechFrames(datamod.TensorDataset):
    """Frames of whole utterances on one device; ``batch(idx)`` -> (float32 [B, 360], int64 [B]).

    Example ``i`` is frame ``i`` (frame ``frames[i]`` after :meth:`subset`). Its input is frames
    ``f-4 .. f+4`` clamped to the utterance (edge frames repeated), each mapped through its speaker's
    affine ``u * scale[s] + shift[s]`` (= dequantise, subtract the speaker mean, divide by the speaker std).
    Length and device as a :class:`~lbgap.core.data.TensorDataset` (``y`` per example, ``x`` on the device); its own
    constructor, since ``x`` holds one row per frame of the corpus rather than one per example.
    """

    def __init__(self, x, y, frame_utt, utt_off, utt_spk, scale, shift, context: int = CONTEXT):
        self.x, self.y, self.frames = x, y.long(), None
        self.frame_utt, self.utt_off, self.utt_spk = frame_utt, utt_off, utt_spk
        self.scale, self.shift = scale, shift
        self._offsets = torch.arange(-context, context + 1, device=x.device)

    def batch(self, idx: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``idx`` with their context windows, as (float features, labels)."""
        if isinstance(idx, slice):
            idx = torch.arange(*idx.indices(len(self)), device=self.device)
        idx = idx.to(self.device).long()
        f = idx if self.frames is None else self.frames[idx]
        u = self.frame_utt[f].long()
        first, last = self.utt_off[u], self.utt_off[u + 1] - 1
        win = torch.minimum(torch.maximum(f[:, None] + self._offsets, first[:, None]), last[:, None])
        s = self.utt_spk[u].long()
        x = self.x[win].float() * self.scale[s][:, None, :] + self.shift[s][:, None, :]
        return x.reshape(len(idx), -1), self.y[idx]

    # Fixed-order passes (evaluation, sharpness f) interleave: the frames are stored speaker by speaker, so a
    # consecutive slice would be a few utterances of one speaker, and batch-statistic BN (Keras mode=2) would
    # normalise it with that speaker's statistics; an interleaved batch spans every speaker, as a shuffled
    # training batch does.
    eval_order = "interleaved"

    def to(self, device: torch.device | str) -> "SpeechFrames":
        """The same frames on ``device``."""
        new = object.__new__(SpeechFrames)
        for k, v in vars(self).items():
            setattr(new, k, v.to(device) if torch.is_tensor(v) else v)
        return new

    def subset(self, idx: torch.Tensor) -> "SpeechFrames":
        """The frames ``idx`` as a dataset of their own (utterances shared)."""
        idx = idx.to(self.device).long()
        new = object.__new__(SpeechFrames)
        vars(new).update(vars(self))
        new.frames = idx if self.frames is None else self.frames[idx]
        new.y = self.y[idx]
        return new


def _frames_dataset(arrays: dict, part: str, target: str, scale: torch.Tensor, shift: torch.Tensor) -> SpeechFrames:
    off = torch.from_numpy(arrays[f"off_{part}"].astype(np.int64))
    lengths = torch.diff(off)
    frame_utt = torch.repeat_interleave(torch.arange(len(lengths), dtype=torch.int32), lengths)
    y = torch.from_numpy(arrays[f"t_{target}_{part}"].astype(np.int64))
    return SpeechFrames(torch.from_numpy(arrays[f"x_{part}"]), y, frame_utt, off,
                        torch.from_numpy(arrays[f"uspk_{part}"].astype(np.int64)), scale, shift)


def load(name: str = "so762", split: str = "official", device: str | torch.device = "cpu",
         cache_dir: Path | None = None, targets: str | None = None) -> datamod.DataBundle:
    """Load a speech cache as a :class:`lbgap.core.data.DataBundle` of :class:`SpeechFrames` on ``device``."""
    if name not in TARGETS:
        raise datamod.DataError(f"unknown speech dataset {name!r}: 'so762' or 'timit'")
    if split != "official":
        raise datamod.DataError(f"{name} has only its speaker-disjoint official test set (a frame-level "
                                f"hold-out would share speakers and utterances with training): use --split official")
    path = datamod.cache_path(name, cache_dir)
    if not path.is_file():
        raise datamod.DataError(f"dataset {name!r} is not in the cache ({path}); {how_to_get(name)}")
    arrays, meta = datamod.read_cache(name, cache_dir)
    target = targets or meta["default_target"]
    if target not in meta["targets"]:
        raise datamod.DataError(f"{name} has no target {target!r}: choose one of {', '.join(meta['targets'])}")
    mean = torch.from_numpy(arrays["spk_mean"]).float()
    std = torch.from_numpy(arrays["spk_std"]).float()
    lo, hi = torch.from_numpy(arrays["lo"]).float(), torch.from_numpy(arrays["hi"]).float()
    scale = (hi - lo) / 255.0 / std                     # u * scale + shift == (dequantised - mean) / std
    shift = (lo - mean) / std
    train = _frames_dataset(arrays, "train", target, scale, shift)
    test = _frames_dataset(arrays, "test", target, scale, shift)
    num_classes = datamod.DATASETS[name]["classes"]
    if int(max(train.y.max(), test.y.max())) >= num_classes:
        raise datamod.DataError(f"{name} target {target!r} has labels beyond F2's {num_classes} outputs; "
                                f"re-import with `lbgap data import {name}`")
    device = datamod.resolve_device(device)
    info = dict(dataset=name, split=split, source=meta.get("source", ""), n_train=len(train), n_test=len(test),
                test_complete=True, holdout_seed=None, extra={}, eval_order=train.eval_order,
                description=DESCRIPTION[name], targets=target,
                classes_used=int(torch.unique(train.y).numel()),
                features=f"40 log-mel, per-speaker mean/variance norm., +-{CONTEXT} frames spliced -> 360",
                speakers=dict(train=int(len(np.unique(arrays["uspk_train"]))),
                              test=int(len(np.unique(arrays["uspk_test"])))),
                utterances=dict(train=len(arrays["utt_train"]), test=len(arrays["utt_test"])))
    return datamod.DataBundle(name, train.to(device), test.to(device), {}, info)


def load_so762(split: str = "official", device: str | torch.device = "cpu", cache_dir: Path | None = None,
               targets: str | None = None) -> datamod.DataBundle:
    """speechocean762 frames for F2 (:func:`load` of so762)."""
    return load("so762", split, device, cache_dir, targets)


def cached_n_train(name: str, cache_dir: Path | None = None) -> int:
    """Training frames of a cached speech dataset (TIMIT's size is known only once it is imported)."""
    path = datamod.cache_path(name, cache_dir)
    if not path.is_file():
        raise datamod.DataError(f"dataset {name!r} is not in the cache ({path}); {how_to_get(name)}")
    with np.load(path, allow_pickle=False) as z:
        return int(z["y_train"].shape[0])


# ----------------------------------------------------------------------------------------- cache writing
def speaker_stats(x: np.ndarray, off: np.ndarray, uspk: np.ndarray, n_spk: int, lo: np.ndarray,
                  hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-speaker mean and std (float64 sums) of the dequantised features of all the speaker's frames."""
    s1 = np.zeros((n_spk, x.shape[1]))
    s2 = np.zeros((n_spk, x.shape[1]))
    cnt = np.zeros(n_spk)
    step = (hi.astype(np.float64) - lo) / 255.0
    for u, s in enumerate(uspk):
        fb = x[off[u]:off[u + 1]].astype(np.float64) * step + lo
        s1[s] += fb.sum(0)
        s2[s] += (fb * fb).sum(0)
        cnt[s] += len(fb)
    if (cnt == 0).any():
        raise datamod.DataError("a speaker has no frames; the corpus is malformed")
    mean = s1 / cnt[:, None]
    std = np.sqrt(np.maximum(s2 / cnt[:, None] - mean ** 2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def _write_speech_cache(name: str, parts: dict, spk: np.ndarray, lo: np.ndarray, hi: np.ndarray, meta: dict,
                        cache_dir: Path | None) -> Path:
    """``parts[p]`` (p = train/test): x uint8 (N,40), off, uspk, utt, and targets {name: int array}."""
    arrays: dict[str, np.ndarray] = {}
    for p, d in parts.items():
        arrays[f"x_{p}"] = np.ascontiguousarray(d["x"], dtype=np.uint8)
        arrays[f"off_{p}"] = np.asarray(d["off"], np.int64)
        arrays[f"uspk_{p}"] = np.asarray(d["uspk"], np.int32)
        arrays[f"utt_{p}"] = np.asarray(d["utt"]).astype(str)
        for t, v in d["targets"].items():
            arrays[f"t_{t}_{p}"] = np.asarray(v, np.int16)
        arrays[f"y_{p}"] = arrays[f"t_{meta['default_target']}_{p}"]
    x_all = np.concatenate([arrays["x_train"], arrays["x_test"]])
    off_all = np.concatenate([arrays["off_train"], arrays["off_test"][1:] + arrays["off_train"][-1]])
    mean, std = speaker_stats(x_all, off_all, np.concatenate([arrays["uspk_train"], arrays["uspk_test"]]),
                              len(spk), lo, hi)
    arrays.update(spk=np.asarray(spk).astype(str), spk_mean=mean, spk_std=std, lo=lo.astype(np.float32),
                  hi=hi.astype(np.float32))
    meta = dict(meta, description=DESCRIPTION[name], train_complete=True, test_complete=True,
                usable="official only (speaker-disjoint test set)", format="lbgap.core.speech v1")
    return datamod._write_cache(name, arrays, meta, cache_dir)


# ----------------------------------------------------------------------------------------- so762 import
def _find_so762(src: Path) -> Path:
    for cand in (src, src / SO762_FILE, src / "so762" / SO762_FILE):
        if cand.is_file():
            return cand
    raise datamod.DataError(f"no {SO762_FILE} under {src}; point --from at the shared data folder "
                            f"(e.g. ../shared/data, which holds so762/{SO762_FILE})")


def import_so762(src: str | os.PathLike | None = None, cache_dir: Path | None = None) -> Path:
    """Verify the pack (sha256 of the .xz and of the decompressed .npz), split it, cache it."""
    path = _find_so762(Path(src) if src is not None else paths.SHARED_DATA)
    packed = path.read_bytes()
    if hashlib.sha256(packed).hexdigest() != SO762_XZ_SHA256:
        raise datamod.DataError(f"{path} does not match its documented sha256 (corrupt or a different version); "
                                "copy it again from the shared data folder")
    raw = lzma.decompress(packed)
    del packed
    if hashlib.sha256(raw).hexdigest() != SO762_NPZ_SHA256:
        raise datamod.DataError(f"the decompressed {path.name} does not match its documented sha256")
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        pack = {k: z[k] for k in z.files}
    del raw
    off, split = pack["utt_off"], pack["utt_split"]
    smap, senone, pstate = pack["senone_map1973"], pack["senone"], pack["pstate"]
    t1973 = np.where(smap[senone] >= 0, smap[senone], pstate)   # README step 4
    targets = {"1973": t1973, "pstate": pstate, "phone": pack["phone"]}
    spk, uspk_all = np.unique(pack["spk"], return_inverse=True)
    x_all = pack["fbank_u8_T"]                                  # (40, N) dimension-major
    parts = {}
    for p, code in (("train", 0), ("test", 1)):
        utts = np.flatnonzero(split == code)
        frames = np.concatenate([np.arange(off[u], off[u + 1]) for u in utts])
        lengths = off[utts + 1] - off[utts]
        parts[p] = dict(x=np.ascontiguousarray(x_all[:, frames].T), off=np.concatenate([[0], np.cumsum(lengths)]),
                        uspk=uspk_all[utts], utt=pack["utt_id"][utts],
                        targets={t: v[frames] for t, v in targets.items()})
    if len(parts["train"]["x"]) != datamod.DATASETS["so762"]["n_train"]:
        raise datamod.DataError(f"the so762 pack has {len(parts['train']['x'])} training frames, expected "
                                f"{datamod.DATASETS['so762']['n_train']}")
    meta = dict(source=f"so762 pack {SO762_FILE} (sha256 {SO762_XZ_SHA256[:12]})", targets=list(TARGETS["so762"]),
                default_target="1973", pack_sha256=dict(xz=SO762_XZ_SHA256, npz=SO762_NPZ_SHA256))
    return _write_speech_cache("so762", parts, spk, pack["fbank_lo"], pack["fbank_hi"], meta, cache_dir)


# ----------------------------------------------------------------------------------------------- fbank
SR, WIN, HOP, NFFT = 16000, 400, 160, 512
_EPS = float(np.finfo(np.float32).eps)


def _mel(f):
    return 1127.0 * np.log(1.0 + f / 700.0)


def mel_banks(nmel: int = NMEL, lo: float = 20.0, hi: float = 7800.0, nfft: int = NFFT, sr: int = SR) -> np.ndarray:
    """Kaldi's triangular mel filters (mel = 1127 ln(1 + f/700)) as an (nmel, nfft/2 + 1) matrix."""
    nb = nfft // 2
    m = _mel(sr / nfft * np.arange(nb))
    mlo, mhi = _mel(lo), _mel(hi)
    delta = (mhi - mlo) / (nmel + 1)
    left = mlo + delta * np.arange(nmel)[:, None]
    up = (m - left) / delta
    down = (left + 2 * delta - m) / delta
    w = np.zeros((nmel, nb + 1), np.float32)
    w[:, :nb] = np.maximum(0.0, np.minimum(up, down))
    return w


_BANKS = torch.from_numpy(mel_banks()).double()
_POVEY = torch.from_numpy((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / (WIN - 1))) ** 0.85)


def fbank(wav: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Kaldi-style 40-dim log-mel of a 16 kHz waveform (int16 scale), as ``../shared/data/so762/recipe/fbank.py``:
    25 ms Povey window, 10 ms hop, snip_edges, DC removal, pre-emphasis 0.97, 512-point FFT, power spectrum,
    40 mel bins over 20-7800 Hz, natural log floored at float32 eps. Returns (T, 40) float32."""
    x = torch.as_tensor(np.asarray(wav), dtype=torch.float64)
    if len(x) < WIN:
        return torch.zeros(0, NMEL)
    fr = x.unfold(0, WIN, HOP)
    fr = fr - fr.mean(1, keepdim=True)
    fr = torch.cat([fr[:, :1] * (1 - 0.97), fr[:, 1:] - 0.97 * fr[:, :-1]], 1) * _POVEY
    power = torch.fft.rfft(fr, n=NFFT).abs() ** 2
    return torch.log(torch.clamp(power @ _BANKS.T, min=_EPS)).float()


# ----------------------------------------------------------------------------------------- TIMIT import
# 61 TIMIT phones -> 39 (Lee & Hon 1989; Kaldi's conf/phones.60-48-39.map); "q" is absorbed by its neighbour.
FOLD = {"ao": "aa", "ax": "ah", "ax-h": "ah", "axr": "er", "hv": "hh", "ix": "ih", "el": "l", "em": "m", "en": "n",
        "nx": "n", "eng": "ng", "zh": "sh", "ux": "uw", "pcl": "sil", "tcl": "sil", "kcl": "sil", "bcl": "sil",
        "dcl": "sil", "gcl": "sil", "h#": "sil", "pau": "sil", "epi": "sil"}
PHONES61 = ("aa ae ah ao aw ax ax-h axr ay b bcl ch d dcl dh dx eh el em en eng epi er ey f g gcl h# hh hv ih ix iy "
            "jh k kcl l m n ng nx ow oy p pau pcl q r s sh t tcl th uh uw ux v w y z zh").split()
PHONES39 = ["sil"] + sorted({FOLD.get(p, p) for p in PHONES61 if p != "q"} - {"sil"})
# The 24 speakers of the TIMIT core test set (2 per dialect region; Kaldi's conf/test_spk.list).
CORE_TEST = ("mdab0 mwbt0 felc0 mtas1 mwew0 fpas0 mjmp0 mlnt0 fpkt0 mlll0 mtls0 fjlm0 mbpm0 mklt0 fnlp0 mcmj0 "
             "mjdh0 fmgd0 mgrt0 mnjm0 fdhc0 mjln0 mpam0 fmld0").split()


def read_sphere(path: str | os.PathLike) -> np.ndarray:
    """16-bit PCM samples of a NIST SPHERE file (TIMIT's .WAV); RIFF .wav copies are read too."""
    raw = Path(path).read_bytes()
    if raw[:4] == b"RIFF":
        with wave.open(str(path)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise datamod.DataError(f"{path}: expected 16-bit mono audio")
            return np.frombuffer(w.readframes(w.getnframes()), "<i2")
    if not raw.startswith(b"NIST_1A"):
        raise datamod.DataError(f"{path} is neither a NIST SPHERE nor a RIFF wave file")
    hsize = int(raw[8:16].split()[0])
    fields = {}
    for line in raw[16:hsize].decode("ascii", "replace").splitlines():
        parts = line.split(None, 2)
        if parts and parts[0] == "end_head":
            break
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    coding = fields.get("sample_coding", "pcm")
    if coding != "pcm" or fields.get("sample_n_bytes", "2") != "2" or fields.get("channel_count", "1") != "1":
        raise datamod.DataError(f"{path}: only uncompressed 16-bit mono PCM SPHERE is supported (got coding "
                                f"{coding!r}); decompress with sph2pipe first")
    if int(fields.get("sample_rate", SR)) != SR:
        raise datamod.DataError(f"{path}: sample rate {fields['sample_rate']} is not {SR} Hz")
    order = ">" if fields.get("sample_byte_format", "01") == "10" else "<"
    count = int(fields.get("sample_count", (len(raw) - hsize) // 2))
    return np.frombuffer(raw, f"{order}i2", count=count, offset=hsize).astype(np.int16)


def frame_labels(phn: list[tuple[int, int, str]], n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """39-phone and phone x 3 uniform-state labels of each frame (the segment holding the frame's centre
    sample ``160 i + 200``); "q" segments are merged into the preceding segment (the following at the start)."""
    segs: list[list] = []
    for a, b, p in phn:
        if p not in PHONES61:
            raise datamod.DataError(f"unknown TIMIT phone {p!r}")
        if p == "q":
            if segs:
                segs[-1][1] = b
            else:
                segs.append([a, b, None])
            continue
        if segs and segs[-1][2] is None:   # a leading "q" takes the next phone
            segs[-1][1:] = [b, p]
            continue
        segs.append([a, b, p])
    segs = [s for s in segs if s[2] is not None]
    if not segs:
        raise datamod.DataError("an utterance has no phone segments")
    starts = np.array([s[0] for s in segs])
    centre = HOP * np.arange(n_frames) + WIN // 2
    seg = np.clip(np.searchsorted(starts, centre, side="right") - 1, 0, len(segs) - 1)
    phone = np.array([PHONES39.index(FOLD.get(s[2], s[2])) for s in segs])[seg]
    _, first, inv, counts = np.unique(seg, return_index=True, return_inverse=True, return_counts=True)
    pos = np.arange(n_frames) - first[inv]
    state = (3 * pos) // counts[inv]
    return phone, phone * 3 + state


def _ci(folder: Path, name: str) -> Path | None:
    """Case-insensitive child lookup (TIMIT copies come upper- or lower-case)."""
    for child in folder.iterdir() if folder.is_dir() else ():
        if child.name.lower() == name:
            return child
    return None


def _timit_root(src: Path) -> Path:
    queue = [src] + ([c for c in sorted(src.iterdir()) if c.is_dir()] if src.is_dir() else [])
    for cand in queue:
        if _ci(cand, "train") is not None and _ci(cand, "test") is not None:
            return cand
    raise datamod.DataError(f"no TIMIT TRAIN/ and TEST/ folders under {src}; {LDC_HINT}")


def _utterances(split_dir: Path, speakers: set[str] | None) -> list[tuple[str, str, Path, Path]]:
    """(speaker, utterance id, audio, .PHN) of the SI and SX sentences (SA excluded, as is standard)."""
    out = []
    for dr in sorted(d for d in split_dir.iterdir() if d.is_dir() and d.name.lower().startswith("dr")):
        for sp in sorted(d for d in dr.iterdir() if d.is_dir()):
            if speakers is not None and sp.name.lower() not in speakers:
                continue
            for wav in sorted(f for f in sp.iterdir() if f.suffix.lower() == ".wav"):
                stem = wav.name.split(".")[0]
                if stem.lower().startswith("sa"):
                    continue
                phn = next((f for f in sp.iterdir() if f.name.lower() == f"{stem.lower()}.phn"), None)
                if phn is None:
                    raise datamod.DataError(f"{wav} has no matching .PHN file")
                out.append((sp.name.lower(), f"{sp.name.lower()}_{stem.lower()}", wav, phn))
    return out


def import_timit(src: str | os.PathLike, cache_dir: Path | None = None) -> Path:
    """Read the LDC93S1 layout (TRAIN|TEST/DR*/SPEAKER/*.WAV + .PHN), compute features and labels, cache."""
    src = Path(src)
    if not src.is_dir():
        raise datamod.DataError(f"{src} is not a folder; {LDC_HINT}")
    root = _timit_root(src)
    train = _utterances(_ci(root, "train"), None)
    test = _utterances(_ci(root, "test"), set(CORE_TEST))
    if not train or not test:
        raise datamod.DataError(f"{root} has no {'training' if not train else 'core-test'} utterances "
                                f"(SI/SX .WAV with .PHN); {LDC_HINT}")
    spk = sorted({u[0] for u in train + test})
    sid = {s: i for i, s in enumerate(spk)}
    feats, parts = {}, {}
    for p, utts in (("train", train), ("test", test)):
        fbs, phones, pstates = [], [], []
        for _, _utt, wav, phn in utts:
            fb = fbank(read_sphere(wav)).numpy()
            segs = [(int(a), int(b), c) for a, b, c in (line.split() for line in phn.read_text().splitlines()
                                                      if line.strip())]
            ph, ps = frame_labels(segs, len(fb))
            fbs.append(fb)
            phones.append(ph)
            pstates.append(ps)
        feats[p] = fbs
        parts[p] = dict(off=np.concatenate([[0], np.cumsum([len(f) for f in fbs])]),
                        uspk=[sid[u[0]] for u in utts], utt=[u[1] for u in utts],
                        targets={"pstate": np.concatenate(pstates), "phone": np.concatenate(phones)})
    train_fb = np.concatenate(feats["train"])
    lo = np.percentile(train_fb, 0.1, axis=0).astype(np.float32)    # the so762 pack's quantisation
    hi = np.percentile(train_fb, 99.9, axis=0).astype(np.float32)
    hi = np.maximum(hi, lo + 1e-3)
    for p in parts:
        fb = train_fb if p == "train" else np.concatenate(feats[p])
        parts[p]["x"] = np.clip(np.round((fb - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
    meta = dict(source=f"TIMIT LDC93S1 ({len(train)} train / {len(test)} core-test utterances)",
                targets=list(TARGETS["timit"]), default_target="pstate", phones=PHONES39,
                core_test_speakers=sorted({u[0] for u in test}))
    return _write_speech_cache("timit", parts, np.array(spk), lo, hi, meta, cache_dir)


def import_dataset(name: str, src: str | os.PathLike | None = None, cache_dir: Path | None = None) -> Path:
    """``lbgap data import so762|timit --from DIR``: returns the cache path."""
    if name == "so762":
        return import_so762(src, cache_dir)
    if name == "timit":
        if src is None or Path(src).resolve() == paths.SHARED_DATA:
            raise datamod.DataError(LDC_HINT)
        return import_timit(src, cache_dir)
    raise datamod.DataError(f"unknown speech dataset {name!r}: 'so762' or 'timit'")
