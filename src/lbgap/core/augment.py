"""Data augmentation of Appendix E.1 of Keskar et al. (2017), on a batch already on the device.

The paper trains the four convolutional networks with "horizontal reflections, random rotations up to 10° and
random translation of up to 0.2 times the size of the image" (Table 6). Keras' ``ImageDataGenerator`` with
``horizontal_flip=True, rotation_range=10, width_shift_range=0.2, height_shift_range=0.2`` draws, per image, a
flip with probability 1/2, an angle uniform in [-10°, 10°] and shifts uniform in [-0.2, 0.2] of the width and
height, and resamples bilinearly with ``fill_mode="nearest"`` (edge pixels extended). Here the same draw is one
``affine_grid`` + ``grid_sample`` (bilinear, ``padding_mode="border"`` = nearest fill) for the whole batch, with
a per-image matrix, so the GPU-resident data never goes back to the host; torchvision's
``RandomHorizontalFlip`` + ``RandomAffine(10, translate=(0.2, 0.2))`` is the per-image CPU equivalent.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = {"": None, "paper": dict(flip=True, degrees=10.0, shift=0.2)}   # Appendix E.1


def affine(x: torch.Tensor, degrees: torch.Tensor, shift_x: torch.Tensor, shift_y: torch.Tensor,
           flip: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) rotated by ``degrees[i]`` (clockwise as displayed; 90 is
    ``torch.rot90(x, -1, dims=(-2, -1))``), shifted by ``shift_x[i]``
    of its width (right) and ``shift_y[i]`` of its height (down), after a horizontal flip where ``flip[i]``;
    bilinear resampling, the border extended into the uncovered area."""
    n = x.shape[0]
    a = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(a), torch.sin(a)
    sign = 1.0 - 2.0 * flip.to(x.dtype)                     # -1 mirrors the x axis
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    # output pixel p (normalised coordinates) samples input R^-1 (p - t); a flip mirrors after sampling
    theta[:, 0, 0], theta[:, 0, 1] = cos * sign, sin
    theta[:, 1, 0], theta[:, 1, 1] = -sin * sign, cos
    tx, ty = 2.0 * shift_x.to(x.dtype), 2.0 * shift_y.to(x.dtype)   # a fraction f of the size is 2f here
    theta[:, 0, 2] = -(cos * tx + sin * ty)
    theta[:, 1, 2] = -(-sin * tx + cos * ty)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_affine(x: torch.Tensor, generator: torch.Generator, flip: bool = True, degrees: float = 10.0,
                  shift: float = 0.2) -> torch.Tensor:
    """Appendix E.1's random transform, drawn independently per image from ``generator``."""
    n, dev = x.shape[0], x.device

    def uniform(bound: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator, device=dev) * 2.0 - 1.0) * bound

    flips = torch.rand(n, generator=generator, device=dev) < 0.5 if flip else torch.zeros(n, dtype=torch.bool,
                                                                                          device=dev)
    return affine(x, uniform(degrees), uniform(shift), uniform(shift), flips)


def make(name: str, seed: int, device: torch.device):
    """The batch transform for augmentation ``name`` ("" = none -> None), with its own seeded random stream
    (independent of the data order and dropout streams, so SB and LB of one seed share it)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}: choose one of {', '.join(repr(k) for k in AUGMENTATIONS)}")
    spec = AUGMENTATIONS[name]
    if spec is None:
        return None
    gen = torch.Generator(device=device).manual_seed(int(seed) + 2_000_003)

    def transform(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"augmentation {name!r} needs image batches (N, C, H, W); got shape {tuple(x.shape)}")
        return random_affine(x, gen, **spec)

    transform.generator = gen   # its random stream, saved and restored when a run resumes
    return transform


__all__ = ["AUGMENTATIONS", "affine", "random_affine", "make"]
