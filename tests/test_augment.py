"""augment.py (Appendix E.1): the batched affine transform against exact pixel operations."""
from __future__ import annotations

import pytest
import torch

from lbgap.core import augment


def _x(n=2, c=3, h=8, w=8):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0))


def zeros(n=2):
    return torch.zeros(n)


def test_identity_flip_rotation_and_shift_are_exact():
    x = _x()
    no = torch.zeros(2, dtype=torch.bool)
    torch.testing.assert_close(augment.affine(x, zeros(), zeros(), zeros(), no), x)
    torch.testing.assert_close(augment.affine(x, zeros(), zeros(), zeros(), ~no), x.flip(-1))
    # a quarter turn maps pixel centres onto pixel centres
    torch.testing.assert_close(augment.affine(x, torch.full((2,), 90.0), zeros(), zeros(), no),
                               torch.rot90(x, -1, dims=(-2, -1)), atol=1e-5, rtol=0)
    # one pixel right / down; the uncovered column / row repeats the edge (Keras fill_mode="nearest")
    right = augment.affine(x, zeros(), torch.full((2,), 1 / 8), zeros(), no)
    torch.testing.assert_close(right[..., 1:], x[..., :-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(right[..., 0], x[..., 0], atol=1e-5, rtol=0)
    down = augment.affine(x, zeros(), zeros(), torch.full((2,), 2 / 8), no)
    torch.testing.assert_close(down[..., 2:, :], x[..., :-2, :], atol=1e-5, rtol=0)


def test_random_transform_is_per_image_seeded_and_bounded():
    x = _x(n=64, h=16, w=16).mean(1, keepdim=True).repeat(1, 3, 1, 1)
    a = augment.make("paper", seed=0, device=torch.device("cpu"))(x)
    b = augment.make("paper", seed=0, device=torch.device("cpu"))(x)
    c = augment.make("paper", seed=1, device=torch.device("cpu"))(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= x.min() - 1e-6 and a.max() <= x.max() + 1e-6   # bilinear: no overshoot
    changed = (a - x).abs().flatten(1).amax(1) > 1e-4
    assert changed.all()   # every image gets its own draw
    assert augment.make("", 0, torch.device("cpu")) is None
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.make("cutout", 0, torch.device("cpu"))
    with pytest.raises(ValueError, match="image batches"):
        augment.make("paper", 0, torch.device("cpu"))(torch.rand(4, 360))
