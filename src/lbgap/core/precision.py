"""Device and precision policy: where a computation runs and in which floating-point format.

* Training steps run under bfloat16 autocast on CUDA (``precision="auto"``) or when asked (``"bf16"``), else
  float32 (:func:`autocast`).
* Everything else (evaluation, sharpness, parametric curves) is IEEE float32: TF32 is switched off for
  matmuls *and* cuDNN convolutions (PyTorch's own default leaves it on for cuDNN), so it is true float32 on
  every GPU (:func:`apply_float32_policy`). Training speed does not depend on it: training runs under autocast.
* The training step may be compiled (``torch.compile``, :func:`compiled`); evaluation stays eager.

A record stores what was in effect (:func:`precision_policy`, ``provenance.precision``).
"""
from __future__ import annotations

import torch
from torch import nn

from lbgap.core import data as datamod
from lbgap.core.config import COMPILE_MODES, ConfigError, RunConfig
from lbgap.core.models import NETS

TF32 = False   # "float32" means IEEE float32 (see the module docstring)


def apply_float32_policy() -> None:
    """Switch TF32 off for matmuls and cuDNN convolutions (the policy above). Called by ``lbgap`` commands (``cli.main``),
    notebooks (``lbgap.book.context``) and :func:`compute_device`, through which every computation picks its device,
    since PyTorch's default leaves cuDNN's TF32 on."""
    torch.backends.cuda.matmul.allow_tf32 = TF32
    torch.backends.cudnn.allow_tf32 = TF32


def compute_device(spec: str | torch.device = "auto") -> torch.device:
    """The device a computation runs on (``data.resolve_device``), with the float32 policy in effect: the one
    way training, sharpness, landscape, trajectory, noise and the steps-to-target study pick their device."""
    apply_float32_policy()
    return datamod.resolve_device(spec)


def trains_in_bf16(cfg: RunConfig | None, device: torch.device) -> bool:
    """Whether run ``cfg``'s training steps on ``device`` run under bfloat16 autocast."""
    return cfg is not None and (cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda"))


def autocast(cfg: RunConfig, device: torch.device) -> torch.autocast:
    """The autocast context of run ``cfg``'s training steps on ``device`` (disabled in float32). One object per
    thread: it keeps its entry state."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=trains_in_bf16(cfg, device))


def precision_policy(cfg: RunConfig | None, device: torch.device) -> dict:
    """Apply the TF32 policy and return what a record stores about precision (``provenance.precision``)."""
    apply_float32_policy()
    return dict(train="bfloat16 autocast" if trains_in_bf16(cfg, device) else "float32", eval="float32",
                tf32_matmul=TF32, tf32_cudnn=TF32,
                channels_last=device.type == "cuda" and cfg is not None and NETS[cfg.net].kind == "conv",
                fused_adam=device.type == "cuda" and cfg is not None and cfg.optimizer == "adam",
                compile=(cfg.compile or "off") if cfg is not None else "off")


def uses_cudagraphs(mode: str) -> bool:
    """Compile modes that replay CUDA graphs (each step must then be marked: ``cudagraph_mark_step_begin``)."""
    return mode in ("reduce-overhead", "max-autotune")


def compiled(model: nn.Module, mode: str) -> nn.Module:
    """``torch.compile(model)`` for the training step (parameters shared; evaluation stays eager)."""
    if mode not in COMPILE_MODES:
        raise ConfigError(f"unknown compile mode {mode!r}: choose one of {', '.join(m or 'off' for m in COMPILE_MODES)}")
    if not mode:
        return model
    # dynamic=False: one static graph for the full batch and one for the epoch's last partial batch
    return torch.compile(model, mode=None if mode == "default" else mode, dynamic=False)
