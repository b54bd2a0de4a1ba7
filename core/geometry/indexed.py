"""Indexed PNGs as Scale reads and writes them (scale-api.md §2.2): ``indexedImage`` is one
8-bit channel, each pixel a labelMapping ``index`` (0 = unlabeled); ``extendedIndexedImage``
is RGBA whose R, G, B bytes hold a 24-bit index (R least significant, alpha ignored).

Used by the sandbox (to answer segmentation tasks) and by ``prelabel import`` (to read the
answers); both sides decode with :func:`decode_index_png`, so an 8-bit, 16-bit, palette or
RGBA PNG is read the same way everywhere.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from prelabel.errors import InputError

IndexArray = npt.NDArray[np.int64]
MAX_8BIT = 255
MAX_24BIT = (1 << 24) - 1


def encode_index_png(index: npt.NDArray[Any], *, extended: bool | None = None) -> bytes:
    """PNG bytes of an index array: 8-bit single channel, or RGBA (24-bit index) when
    ``extended`` (default: only when an index exceeds 255)."""
    import cv2

    values = np.asarray(index, dtype=np.int64)
    top = int(values.max()) if values.size else 0
    if extended is None:
        extended = top > MAX_8BIT
    if top > (MAX_24BIT if extended else MAX_8BIT) or (values.size and int(values.min()) < 0):
        raise InputError(f"index {top} does not fit an {'RGBA' if extended else '8-bit'} PNG")
    if extended:
        bgra = np.empty((*values.shape, 4), dtype=np.uint8)
        bgra[..., 0] = (values >> 16) & 255
        bgra[..., 1] = (values >> 8) & 255
        bgra[..., 2] = values & 255
        bgra[..., 3] = 255
        image: npt.NDArray[Any] = bgra
    else:
        image = values.astype(np.uint8)
    ok, buf = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - cv2 encodes any uint8 array
        raise InputError("PNG encoding failed")
    return bytes(buf.tobytes())


def decode_index_png(data: bytes, *, where: str = "indexed PNG") -> IndexArray:
    """The index array of an indexed PNG (8/16-bit grey or palette: the values; RGB/RGBA:
    R + 256 G + 65536 B).

    Raises:
        InputError: the bytes are not a PNG Pillow can read (``where`` names it).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"not a readable PNG ({exc})", path=where) from None
    if mode in ("RGB", "RGBA"):
        rgb = array[..., :3].astype(np.int64)
        out: IndexArray = rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)
        return out
    if array.ndim != 2:
        raise InputError(f"expected a single-channel or RGB(A) PNG, got mode {mode}", path=where)
    return array.astype(np.int64)
