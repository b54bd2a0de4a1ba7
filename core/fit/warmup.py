"""Compile the mask kernels into this environment's disk cache, in a background process.

numba compiles a function on its first call, for the argument types of that call. So the
warm-up fits a few synthetic masks (holes, a pinch, several parts, tight and loose vertex
budgets, every hole policy) through :func:`~prelabel.fit.engine.fit_geometry`, exactly as
conversions do (``tests/test_kernels.py`` checks real fits compile nothing more), then
marks the cache warm.
:func:`prelabel.geometry.kernels.loader.compiled` starts this in a process of its own the
first time a mask is traced after an install.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.geometry.kernels import loader
from prelabel.geometry.rle import rle_extent, whole_mask_boxes
from prelabel.model import Mask


def synthetic_masks() -> list[Mask]:
    """Small masks that take every branch the kernels serve."""
    yy, xx = np.mgrid[0:120, 0:160]
    disc = (xx - 60) ** 2 + (yy - 60) ** 2 < 45**2
    hole = (xx - 60) ** 2 + (yy - 55) ** 2 < 12**2
    speck = (xx == 75) & (yy == 75)
    blob = ((xx - 130) ** 2 / 3 + (yy - 30) ** 2 < 15**2) | ((xx - 140) ** 2 + (yy - 90) ** 2 < 90)
    pinch = np.zeros_like(disc)
    pinch[100:110, 100:110] = True
    pinch[110:118, 110:118] = True  # touches the first square at one corner only
    masks = [disc & ~hole & ~speck | blob, pinch, disc & ~hole]
    out = []
    for m in masks:
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        out.append(Mask(rle["counts"], m.shape[0], m.shape[1]))
    return out


def exercise() -> None:
    """Fit the synthetic masks under several budgets and hole policies (and measure their
    runs and boxes, as readers check masks)."""
    masks = synthetic_masks()
    whole_mask_boxes([mask.counts for mask in masks], masks[0].height, masks[0].width)
    for mask in masks:
        rle_extent(mask.counts)
        bounds = Bounds.for_image(mask.width, mask.height)
        for budget in (8, 12, 32, 100, None):
            limits = GeometryLimits("polygon", max_vertices=budget)
            for holes in ("keyhole", "fill", "best"):
                fit_geometry(mask, "polygon", limits, bounds, FitPolicy(holes=holes))


def warm_up() -> None:
    """Compile every kernel into the disk cache and mark it warm (one process at a time)."""
    with loader.warmup_lock() as mine:
        if not mine:
            return
        if loader.compiled(wait=True) is None:
            return
        exercise()
        loader.mark_warm()
