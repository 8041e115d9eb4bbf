"""The six networks of Keskar et al. (2017), Table 1 and Appendix B, as the authors' code builds them.

* F1 (MNIST): 784 -> 5 x [Dense 512, BN, ReLU] -> 10                       (App. B.1)
* F2 (TIMIT): 360 -> 7 x [Dense 512, BN, ReLU] -> 1973                     (App. B.2)
* C1/C3 (CIFAR-10/100): the Keras ``shallownet`` of ``network_zoo.py``      (App. B.3)
  2 x [Conv 64 5x5 'same' stride 1, BN, ReLU, MaxPool 3x3/2 'same'] -> Dense 384 -> Dense 192 -> out,
  BN + ReLU + Dropout(0.5) on both dense layers. (The paper's text says stride-2 convolutions; the code,
  which produced the figures, uses stride-1 convolutions and stride-2 pooling. We follow the code.)
* C2/C4 (CIFAR-10/100): the Keras ``deepnet`` (VGG-16 + BN + dropout 0.3/0.4/0.5)   (App. B.4)

Outputs are logits; the softmax lives in the loss (``keras_cross_entropy``). Weights are Glorot-uniform
and biases zero (Keras 1 defaults). BatchNorm semantics are an option:

* ``bn="batch"`` (default) reproduces Keras ``BatchNormalization(mode=2)``: batch statistics in training
  *and* evaluation (``track_running_stats=False``), so evaluation depends on the evaluation batch.
* ``bn="running"`` is standard PyTorch BN with running averages used in ``eval()``.

Trainable parameter counts (tested): F1 1,462,794; F2 2,780,085; C1 1,757,834; C3 1,775,204;
C2 14,991,946; C4 15,038,116.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BN_MODES = ("batch", "running")
BN_EPS = 1e-3  # Keras 1.2 default (1.0.x used 1e-6); irrelevant to the conclusions, recorded anyway
LOSS_CLIP = 1e-7  # Keras 1 clips softmax probabilities to [1e-7, 1 - 1e-7]
_LOG_LO, _LOG_HI = math.log(LOSS_CLIP), math.log1p(-LOSS_CLIP)


@dataclass(frozen=True)
class NetSpec:
    """A network of Table 1: its name, kind (mlp/conv), dataset, input shape, classes and the paper's parameter count."""
    name: str
    kind: str  # "mlp" or "conv"
    dataset: str
    input_shape: tuple[int, ...]
    num_classes: int
    paper_params: int
    description: str


NETS: dict[str, NetSpec] = {
    "F1": NetSpec("F1", "mlp", "mnist", (1, 28, 28), 10, 1_462_794, "fully connected, 5 x 512 BN ReLU"),
    "F2": NetSpec("F2", "mlp", "so762", (360,), 1973, 2_780_085, "fully connected, 7 x 512 BN ReLU"),
    "C1": NetSpec("C1", "conv", "cifar10", (3, 32, 32), 10, 1_757_834, "shallow conv (AlexNet-like)"),
    "C2": NetSpec("C2", "conv", "cifar10", (3, 32, 32), 10, 14_991_946, "deep conv (VGG-16-like)"),
    "C3": NetSpec("C3", "conv", "cifar100", (3, 32, 32), 100, 1_775_204, "shallow conv (AlexNet-like)"),
    "C4": NetSpec("C4", "conv", "cifar100", (3, 32, 32), 100, 15_038_116, "deep conv (VGG-16-like)"),
}


def _bn(kind: str, channels: int, bn: str) -> nn.Module:
    cls = nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d
    return cls(channels, eps=BN_EPS, track_running_stats=(bn == "running"))


class MLP(nn.Module):
    """F1/F2: ``depth`` x [Linear -> BN -> ReLU] then a linear output layer."""

    def __init__(self, in_features: int, num_classes: int, depth: int, width: int = 512, bn: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_features
        for _ in range(depth):
            layers += [nn.Linear(d, width), _bn("1d", width, bn), nn.ReLU(inplace=True)]
            d = width
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the batch ``x``."""
        return self.net(x)


def _conv_block(cin: int, cout: int, k: int, bn: str) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2), _bn("2d", cout, bn), nn.ReLU(inplace=True)]


class ShallowNet(nn.Module):
    """C1/C3: Keras ``shallownet`` (authors' ``network_zoo.py``)."""

    def __init__(self, num_classes: int, bn: str = "batch"):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(3, 64, 5, bn), nn.MaxPool2d(3, stride=2, padding=1),   # 32 -> 16
            *_conv_block(64, 64, 5, bn), nn.MaxPool2d(3, stride=2, padding=1),  # 16 -> 8
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 384), _bn("1d", 384, bn), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(384, 192), _bn("1d", 192, bn), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(192, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the batch ``x``."""
        return self.classifier(self.features(x))


# Keras ``deepnet``: (channels, dropout after the conv or None); "M" = MaxPool 2x2.
_DEEPNET = [(64, 0.3), (64, None), "M", (128, 0.4), (128, None), "M",
            (256, 0.4), (256, 0.4), (256, None), "M",
            (512, 0.4), (512, 0.4), (512, None), "M",
            (512, 0.4), (512, 0.4), (512, None), "M"]


class DeepNet(nn.Module):
    """C2/C4: Keras ``deepnet`` (VGG-16 with BN and the code's dropout 0.3/0.4/0.5)."""

    def __init__(self, num_classes: int, bn: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in _DEEPNET:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            cout, drop = item
            layers += _conv_block(cin, cout, 3, bn)
            if drop:
                layers.append(nn.Dropout(drop))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5),
            nn.Linear(512, 512), _bn("1d", 512, bn), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the batch ``x``."""
        return self.classifier(self.features(x))


def glorot_init_(model: nn.Module) -> nn.Module:
    """Keras 1 defaults: Glorot-uniform weights, zero biases, BN gamma=1 and beta=0."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def build_model(name: str, bn: str = "batch", num_classes: int | None = None) -> nn.Module:
    """Build network ``name`` (F1, F2, C1-C4) with Glorot init. Seed the RNG before calling for a given x0."""
    key = name.upper()
    if key not in NETS:
        raise ValueError(f"unknown network {name!r}: choose one of {', '.join(NETS)}")
    if bn not in BN_MODES:
        raise ValueError(f"unknown BatchNorm mode {bn!r}: choose 'batch' (Keras mode=2) or 'running'")
    spec = NETS[key]
    k = num_classes or spec.num_classes
    if key == "F1":
        model = MLP(784, k, depth=5, bn=bn)
    elif key == "F2":
        model = MLP(360, k, depth=7, bn=bn)
    elif key in ("C1", "C3"):
        model = ShallowNet(k, bn=bn)
    else:
        model = DeepNet(k, bn=bn)
    return glorot_init_(model)


def ghost_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, ghost: int) -> torch.Tensor:
    """Ghost batch normalisation (Hoffer et al. 2017, Algorithm 1): in training mode, normalise each consecutive
    chunk of ``ghost`` examples with its own mean and (biased) variance instead of the whole batch's, then apply
    ``bn``'s affine map. A batch of at most ``ghost`` examples is plain BN; a last chunk of one example joins the
    chunk before it. Computed in float32 (as autocast runs BN). Only for batch-statistic BN (``bn="batch"``):
    running averages are not updated."""
    n = x.shape[0]
    if n <= ghost:
        return F.batch_norm(x.float(), None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
    k = n // ghost - (1 if n % ghost == 1 else 0)       # full chunks normalised together
    main, rest = x[: k * ghost].float(), x[k * ghost:].float()
    g = main.reshape(k, ghost, *x.shape[1:])
    dims = (1, *range(3, g.dim()))                     # the chunk's examples (and pixels for conv maps)
    mean, var = g.mean(dims, keepdim=True), g.var(dims, unbiased=False, keepdim=True)
    out = ((g - mean) / torch.sqrt(var + bn.eps)).reshape(main.shape)
    if len(rest):
        rdims = (0, *range(2, rest.dim()))
        out = torch.cat([out, (rest - rest.mean(rdims, keepdim=True))
                         / torch.sqrt(rest.var(rdims, unbiased=False, keepdim=True) + bn.eps)])
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return out * bn.weight.view(shape) + bn.bias.view(shape)


class _GhostBN:
    """Mixin of the ghost-batch BN classes: ``forward`` is :func:`ghost_batch_norm` in training mode, plain BN
    otherwise. The class is swapped on the existing modules (:func:`use_ghost_batches`), so the parameter names,
    checkpoints and x0 stay those of the plain network."""

    ghost: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return ghost_batch_norm(self, x, self.ghost)
        return super().forward(x)


class GhostBatchNorm1d(_GhostBN, nn.BatchNorm1d):
    """BatchNorm1d over ghost batches in training (Hoffer et al. 2017; :func:`use_ghost_batches`)."""


class GhostBatchNorm2d(_GhostBN, nn.BatchNorm2d):
    """BatchNorm2d over ghost batches in training (Hoffer et al. 2017; :func:`use_ghost_batches`)."""


def use_ghost_batches(model: nn.Module, ghost: int) -> nn.Module:
    """Make every BN layer of ``model`` normalise ghost batches of ``ghost`` examples in training (Hoffer et al.
    2017); evaluation keeps the network's own BN (with ``bn="batch"``, the evaluation batch's statistics as Keras
    mode=2). In place; returns ``model``."""
    if ghost < 2:
        raise ValueError(f"ghost batch size {ghost} must be at least 2 (BN needs two examples to normalise)")
    for m in model.modules():
        if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
            if m.track_running_stats:
                raise ValueError("ghost batches are implemented for batch-statistic BN (bn='batch') only")
            m.__class__ = GhostBatchNorm1d if isinstance(m, nn.BatchNorm1d) else GhostBatchNorm2d
            m.ghost = int(ghost)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (Table 1's counts)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def keras_cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean cross-entropy with Keras 1's probability clipping (per-example loss <= -log(1e-7) ~= 16.12).

    Identical to ``F.cross_entropy`` except where a probability falls outside [1e-7, 1 - 1e-7]; that only
    matters far from a minimiser (extreme alpha in parametric plots, sharpness maximisation).
    """
    logp = F.log_softmax(logits.float(), dim=1).gather(1, target.view(-1, 1)).squeeze(1)
    logp = logp.clamp(min=_LOG_LO, max=_LOG_HI)
    loss = -logp
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def model_table() -> list[dict]:
    """Table 1 of the paper with our parameter counts (built on the CPU, so it costs a second or two)."""
    rows = []
    for name, spec in NETS.items():
        n = count_parameters(build_model(name))
        rows.append({"network": name, "type": spec.description, "data": spec.dataset,
                     "input": "x".join(map(str, spec.input_shape)), "classes": spec.num_classes,
                     "parameters": n, "paper_parameters": spec.paper_params, "match": n == spec.paper_params})
    return rows
