"""Reading mask pixels, for :mod:`prelabel.converters.masks.read` and its kinds.

:func:`header` reads an image's mode and size without decoding pixels (so items can be
listed and size-checked cheaply) and refuses sizes no task can take (Scale's largest image
side, ``prelabel.config.rules.MAX_IMAGE_SIDE``) before anything is allocated;
:func:`decode` returns the pixels as stored (palette indices, never colours; 1-bit as 0/1;
grey 8/16-bit; or RGB), and a file that cannot be decoded (truncated, corrupt) is an
:class:`~prelabel.errors.InputError` naming it. :func:`present` lists the distinct non-zero
values of an index array.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from prelabel.config.rules import MAX_IMAGE_SIDE
from prelabel.converters.masks.colormaps import BUILTIN_NAMES, ColorMap, decode_colors
from prelabel.errors import InputError
from prelabel.geometry.raster import histogram

Array = npt.NDArray[Any]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# what Pillow raises for a file it cannot decode (or will not: a decompression bomb)
UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def _check_side(path: Path, width: int, height: int) -> None:
    if max(width, height) > MAX_IMAGE_SIDE:
        raise InputError(
            f"image is {width}x{height}, but a task image is at most {MAX_IMAGE_SIDE} px "
            "a side (Scale's attachment limit)",
            path=path,
        )


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk; None for another format."""
    with path.open("rb") as f:
        head = f.read(24)
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def header(path: Path) -> tuple[str, int, int]:
    """(PIL mode, width, height) from the file header, without decoding pixels.

    Raises:
        InputError: not a readable image, or wider or taller than ``MAX_IMAGE_SIDE``.
    """
    try:
        size = _png_size(path)
        if size is not None:  # before Pillow sees it: its bomb check allows larger sides
            _check_side(path, *size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                mode, (width, height) = im.mode, im.size
    except UNREADABLE as exc:
        raise InputError(f"not a readable image: {exc}", path=path) from None
    _check_side(path, width, height)
    return mode, width, height


def decode(path: Path) -> Array:
    """Pixels as stored: palette indices (not colours), 1-bit as 0/1, grey 8/16-bit, or RGB
    (H, W, 3).

    Raises:
        InputError: the file cannot be decoded (truncated or corrupt), naming it.
    """
    mode = header(path)[0]
    try:
        return _decode(path, mode)
    except UNREADABLE as exc:
        raise InputError(f"cannot decode the image: {exc}", path=path) from None


def _decode(path: Path, mode: str) -> Array:
    if mode in ("L", "I", "I;16", "I;16B", "RGB", "RGBA"):  # Pillow < 10.1 opens 16-bit PNGs as "I"
        data = np.fromfile(path, dtype=np.uint8)
        check_png(data.data)  # libpng would print its own complaint on stderr
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if arr is not None:
            if arr.ndim == 3:
                arr = np.ascontiguousarray(arr[..., 2::-1])
            return arr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            return _pixels(im)


def check_png(data: memoryview) -> None:
    """Check a PNG's chunks (lengths and CRCs) before libpng decodes it: a truncated or
    corrupt file is a ValueError saying where, not a libpng message on stderr. Files that
    are not PNGs pass."""
    if bytes(data[:8]) != PNG_SIGNATURE:
        return
    at, end = 8, len(data)
    while at + 12 <= end:
        length, raw = struct.unpack(">I4s", data[at : at + 8])
        kind = raw.decode("latin-1")
        stop = at + 12 + length
        if stop > end:
            raise ValueError(f"truncated file: chunk {kind} at byte {at} runs past the end")
        (crc,) = struct.unpack(">I", data[stop - 4 : stop])
        if zlib.crc32(data[at + 4 : stop - 4]) != crc:
            raise ValueError(f"corrupt file: chunk {kind} at byte {at} fails its CRC")
        if kind == "IEND":
            return
        at = stop
    raise ValueError("truncated file: no IEND chunk")


def _pixels(im: Image.Image) -> Array:
    """The stored values of a Pillow image: a 1-bit image as 0/1 (not 0/255, which would
    read as void), the index or grey channel of LA / PA, RGB without alpha."""
    if im.mode == "1":
        return np.array(im, dtype=np.uint8)
    if im.mode in ("LA", "PA"):
        return np.ascontiguousarray(np.array(im)[..., 0])
    if im.mode == "RGBA":
        im = im.convert("RGB")
    return np.array(im)


def index_values(path: Path, arr: Array, cmap: ColorMap | None) -> Array:
    """A single-channel index array; an RGB index mask is read through ``cmap``.

    Raises:
        InputError: an RGB mask and no colour map.
    """
    if arr.ndim == 2:
        return arr
    if cmap is None:
        raise no_colormap(path)
    return decode_colors(arr, cmap, tolerance=None, path=str(path)).values


def no_colormap(path: Path) -> InputError:
    """The error for a colour PNG read without a colour map."""
    return InputError(
        f"a colour (RGB) mask needs --colormap: built in are {BUILTIN_NAMES}, or give a "
        "colour map file (docs/formats.md, 'Colour maps')",
        path=path,
    )


def present(values: Array, counts: Array | None = None) -> list[int]:
    """The distinct non-zero values of an integer array (``counts``: its histogram)."""
    if counts is None and values.dtype.itemsize <= 2:
        counts = histogram(values)
    if counts is not None:
        return [int(v) for v in np.flatnonzero(counts) if v]
    return [int(v) for v in np.unique(values) if v]
