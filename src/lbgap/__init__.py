"""lbgap: a PyTorch reproduction of Keskar et al., "On Large-Batch Training for Deep Learning:
Generalization Gap and Sharp Minima" (ICLR 2017), and of the batch-size-versus-iterations question behind it.

Modules (one idea each): ``config`` (profiles and run configs), ``data`` (datasets), ``models`` (F1-F2, C1-C4),
``train`` (SB/LB Adam training), ``results`` (result records), ``sweep`` (grids and executors), ``cli``.
"""
from __future__ import annotations

__version__ = "0.1.0"
