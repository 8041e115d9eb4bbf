"""lbgap: a PyTorch reproduction of Keskar et al., "On Large-Batch Training for Deep Learning:
Generalization Gap and Sharp Minima" (ICLR 2017), and of the batch-size-versus-iterations question behind it.

Sub-packages, one idea a module: ``core`` (config, models, data, train, records, runs, sweep), ``measures``
(sharpness and the Hessian, landscape, gradient noise), ``studies`` (the paper's figures and tables beyond Table 2,
our own studies, the bench), ``book`` (what the chapters call) and ``cli`` (the ``lbgap`` command, a leaf).
"""
from __future__ import annotations

__version__ = "0.1.0"
