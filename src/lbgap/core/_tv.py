"""Import torchvision safely.

The registry's torchvision 0.28.0 wheel is a CUDA build; on the CPU torch its compiled ``_C.so`` does
not load and ``import torchvision`` then fails while registering fake kernels for ``torchvision::nms``.
Defining the two operator schemas first makes the pure-Python parts (datasets, transforms, models)
import fine. Where ``_C.so`` does load (matching builds, e.g. on a GPU machine) this only pre-loads it.
Always ``from lbgap.core._tv import torchvision`` instead of ``import torchvision``.
"""
from __future__ import annotations

import importlib.util
import os

import torch


def _ensure_schemas() -> None:
    try:
        torch.ops.torchvision.nms  # noqa: B018  (already defined: a _C that loads)
        return
    except (AttributeError, RuntimeError):
        pass
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return
    so = os.path.join(os.path.dirname(spec.origin), "_C.so")
    try:
        torch.ops.load_library(so)
        return
    except (OSError, ImportError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")  # schemas only, no kernels
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    globals()["_LIB"] = lib


_ensure_schemas()
import torchvision  # noqa: E402

__all__ = ["torchvision"]
