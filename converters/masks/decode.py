"""Reading mask pixels, for :mod:`prelabel.converters.masks.read` and its kinds.

:func:`header` reads a PNG's mode and size without decoding pixels (so items can be listed
and size-checked cheaply); :func:`decode` returns the pixels as stored (palette indices,
never colours; grey 8/16-bit; or RGB). :func:`present` lists the distinct non-zero values of
an index array and :func:`zero_values` sets void values to 0, both via histograms and lookup
tables where the dtype allows. Split out of ``masks.py``; the names stay importable from
there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from prelabel.converters.masks.colormaps import decode_colors, voc_colormap
from prelabel.errors import InputError
from prelabel.geometry.raster import histogram, lookup

Array = npt.NDArray[Any]


def header(path: Path) -> tuple[str, int, int]:
    """(PIL mode, width, height) from the file header, without decoding pixels."""
    try:
        with Image.open(path) as im:
            return im.mode, im.size[0], im.size[1]
    except (OSError, SyntaxError) as exc:
        raise InputError(f"not a readable image: {exc}", path=path) from None


def decode(path: Path) -> Array:
    """Pixels as stored: palette indices (not colours), grey 8/16-bit, or RGB (H, W, 3)."""
    mode = header(path)[0]
    if mode in ("L", "I", "I;16", "I;16B", "RGB", "RGBA"):  # Pillow < 10.1 opens 16-bit PNGs as "I"
        data = np.fromfile(path, dtype=np.uint8)
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if arr is not None:
            if arr.ndim == 3:
                arr = np.ascontiguousarray(arr[..., 2::-1])
            return arr
    with Image.open(path) as im:
        if im.mode in ("1", "LA", "PA", "I"):
            im = im.convert("L" if im.mode != "I" else "I")
        if im.mode == "RGBA":
            im = im.convert("RGB")
        return np.array(im)


def index_values(path: Path, arr: Array) -> Array:
    """A single-channel index array; an RGB index mask is read through the VOC palette."""
    if arr.ndim == 2:
        return arr
    return decode_colors(arr, voc_colormap(), tolerance=None, path=str(path)).values


def present(values: Array, counts: Array | None = None) -> list[int]:
    """The distinct non-zero values of an integer array (``counts``: its histogram)."""
    if counts is None and values.dtype.itemsize <= 2:
        counts = histogram(values)
    if counts is not None:
        return [int(v) for v in np.flatnonzero(counts) if v]
    return [int(v) for v in np.unique(values) if v]


def zero_values(values: Array, drop: Sequence[int]) -> Array:
    """``values`` with every value in ``drop`` set to 0 (in place when writable)."""
    if drop and values.dtype == np.uint8:
        table = np.arange(256, dtype=np.uint8)
        table[[v for v in drop if 0 <= v < 256]] = 0
        return lookup(values, table)
    if drop:
        mask = np.isin(values, list(drop))
        if mask.any():
            if not values.flags.writeable:
                values = values.copy()
            values[mask] = 0
    return values
