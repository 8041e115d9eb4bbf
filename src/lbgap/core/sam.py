"""Sharpness-aware minimisation (Foret et al. 2021, Algorithm 1 with p = 2), the follow-up that targets sharpness
directly: each step takes the gradient at the worst nearby point of the batch loss,

    e(x) = rho * g / ||g||_2,   g = grad f_B(x),      step with  grad f_B(x + e(x))  in place of  g,

where the base optimizer (Adam here, as in every run of the book) makes the update from x. Two forward/backward
passes per step. ``ascend`` moves the weights to x + e and returns e; ``descend`` moves them back, after the second
backward pass has left grad f_B(x + e) in ``.grad``.
"""
from __future__ import annotations

import torch


@torch.no_grad()
def ascend(params: list[torch.Tensor], rho: float) -> list[torch.Tensor]:
    """x <- x + rho g/||g|| (g: the gradients in ``.grad``, one norm over all of them); returns the perturbation."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
    scale = rho / (norm + 1e-12)
    e = [g * scale.to(g.dtype) for g in grads]
    torch._foreach_add_(params, e)
    return e


@torch.no_grad()
def descend(params: list[torch.Tensor], e: list[torch.Tensor]) -> None:
    """x + e <- x: back to the point the base optimizer steps from."""
    torch._foreach_sub_(params, e)
