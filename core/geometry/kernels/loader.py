"""Compiled inner loops of mask -> polygon, and the switch between them and their fallbacks.

The loops live in :mod:`prelabel.geometry.kernels.raster` (RLE crop decode, pixel-edge rings, IoU) and
:mod:`prelabel.geometry.kernels.simplify` (midpoint rings, vertex ranking, simplicity check) as plain
Python over numpy arrays. :func:`compiled` returns them compiled by numba (imported on first
use, so ``import prelabel`` and the tracking paths never pay for it; machine code cached on
disk next to the package). When numba cannot be imported, or ``PRELABEL_JIT=0`` is set,
callers use vectorised numpy versions (decode, rings, IoU) or run the same loops in the
interpreter (simplification): the results are identical (``tests/test_kernels.py``), only
slower, since numpy's per-call overhead dominates on the small arrays of one object.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import FunctionType
from typing import Any

from prelabel.geometry.kernels import raster as kernels_raster
from prelabel.geometry.kernels import simplify as kernels_simplify
from prelabel.geometry.kernels.raster import F64, I32, I64, U8

__all__ = [
    "Kernels",
    "compiled",
]


@dataclass(frozen=True)
class Kernels:
    """The compiled functions (same signatures as the module-level ones)."""

    decode_crop: Callable[[U8, int, int], tuple[U8, int, int]]
    edge_ring: Callable[[I32, I32, I32], F64]
    rings_iou: Callable[[F64, I64, I64, F64, I64, I64], float]
    dp_ranks: Callable[[F64], F64]
    midpoint_ring: Callable[[F64], F64]
    edge_rings: Callable[[I32, I64, U8, I32, I32], tuple[F64, I64, bool]]
    ring_ranks: Callable[[F64, I64], F64]
    simple_part: Callable[[F64, I64], bool]
    ranked_select: Callable[[F64, I64, I64], tuple[F64, I64, float]]


# compiled in this order: a kernel that calls another finds it already compiled
_ORDER = (
    "_orient",
    "_touch",
    "_inside",
    "_drop_collinear",
    "_crossings",
    "edge_ring",
    "dp_ranks",
    "decode_crop",
    "edge_rings",
    "rings_iou",
    "midpoint_ring",
    "ring_ranks",
    "simple_part",
    "ranked_select",
)


@cache
def compiled() -> Kernels | None:
    """The numba-compiled kernels, or None when numba is missing or ``PRELABEL_JIT=0``.

    Each function is compiled from a copy that sees the compiled versions of the helpers it
    calls; the modules' own functions stay plain Python."""
    if os.environ.get("PRELABEL_JIT", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None
    try:
        return _compile(numba.njit(cache=True, nogil=True))
    except RuntimeError:  # no writable place for the on-disk cache: compile in memory
        return _compile(numba.njit(cache=False, nogil=True))


def _compile(jit: Any) -> Kernels:
    namespace = {**vars(kernels_raster), **vars(kernels_simplify)}
    for name in _ORDER:
        code = namespace[name].__code__
        namespace[name] = jit(FunctionType(code, namespace, name))
    fields = {f.name for f in dataclasses.fields(Kernels)}
    return Kernels(**{name: namespace[name] for name in fields})
