"""Model geometries from arrays: boxes (xyxy or xywh), polygon rings, masks (dense boolean or
COCO RLE in any form). Shapes and values are checked; a problem is a ``ValueError`` whose
message names the array and the index (``boxes[3] has a negative size ...``), for the
caller to put in its own error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from prelabel.model import Box, Mask, Polygon, PolygonPart

BoxFormat = Literal["xyxy", "xywh"]
FloatArray = npt.NDArray[np.float64]


def finite(name: str, array: Any, shape_text: str) -> FloatArray:
    """``array`` as float64, every value finite."""
    try:
        values = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers shaped {shape_text}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        index = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name}{index} is not a finite number")
    return values


def boxes_from_array(boxes: Any, box_format: BoxFormat = "xyxy") -> list[Box]:
    """``(N, 4)`` pixel boxes: corners (``xyxy``) or left, top, width, height (``xywh``)."""
    values = finite("boxes", boxes, "(N, 4)")
    if values.size == 0:  # no detections: [] or an empty (0, 4) array
        return []
    if values.ndim != 2 or values.shape[1] != 4:
        raise ValueError(f"boxes must be shaped (N, 4), got {values.shape}")
    if box_format not in ("xyxy", "xywh"):
        raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    x, y, a, b = values.T
    w, h = (a - x, b - y) if box_format == "xyxy" else (a, b)
    out: list[Box] = []
    for i in range(len(values)):
        if w[i] < 0 or h[i] < 0:
            raise ValueError(f"boxes[{i}] has a negative size ({box_format} {values[i].tolist()})")
        out.append(Box(float(x[i]), float(y[i]), float(w[i]), float(h[i])))
    return out


def polygon_from_rings(value: Any, name: str) -> Polygon:
    """One polygon from a ring (``[x1, y1, ...]`` or ``(K, 2)``) or a list of rings (parts)."""
    parts: list[PolygonPart] = []
    for ring in _rings(value):
        points = finite(name, ring, "(K, 2) or [x1, y1, ...]")
        if points.ndim == 1:
            if len(points) % 2:
                raise ValueError(f"{name} has an odd number of coordinates")
            points = points.reshape(-1, 2)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise ValueError(f"{name} needs rings of at least 3 points, got shape {points.shape}")
        parts.append(PolygonPart(tuple((float(x), float(y)) for x, y in points)))
    if not parts:
        raise ValueError(f"{name} is empty")
    return Polygon(tuple(parts))


def _rings(value: Any) -> list[Any]:
    """One ring (flat list or (K, 2)) or a list of rings -> a list of rings."""
    if isinstance(value, np.ndarray):
        return [value] if value.ndim <= 2 else list(value)
    if value and isinstance(value[0], (list, tuple, np.ndarray)):
        first = value[0]
        if len(first) == 2 and not isinstance(first[0], (list, tuple, np.ndarray)):
            return [value]  # [(x, y), ...]: one ring of points
        return list(value)
    return [value]


def masks_from(masks: Any, size: tuple[int, int]) -> list[Mask]:
    """Masks of an image of ``size`` (height, width): a dense ``(N, H, W)`` array, or a list
    of ``(H, W)`` arrays and COCO RLE dicts (compressed string or bytes, or run lengths)."""
    if isinstance(masks, np.ndarray):
        if masks.ndim != 3 or masks.shape[1:] != size:
            raise ValueError(
                f"masks must be shaped (N, {size[0]}, {size[1]}) (N, height, width), "
                f"got {masks.shape}"
            )
        return encode_stack(masks)
    out: list[Mask] = []
    for i, mask in enumerate(masks):
        if isinstance(mask, Mapping):
            out.append(rle_mask(mask, size, f"masks[{i}]"))
            continue
        dense = np.asarray(mask)
        if dense.shape != size:
            raise ValueError(f"masks[{i}] is shaped {dense.shape}, not {size}")
        out.extend(encode_stack(dense[None]))
    return out


def encode_stack(masks: npt.NDArray[Any]) -> list[Mask]:
    """Dense ``(N, H, W)`` masks (non-zero = inside) -> compressed RLE masks, in one
    pycocotools call (column-major, as COCO encodes)."""
    if not len(masks):
        return []
    stack = np.asfortranarray(np.moveaxis(masks != 0, 0, -1).astype(np.uint8))
    height, width = masks.shape[1:]
    return [Mask(rle["counts"], height, width) for rle in mask_utils.encode(stack)]


def rle_mask(rle: Mapping[str, Any], size: tuple[int, int], name: str) -> Mask:
    """A COCO RLE dict of an image of ``size`` (height, width) -> :class:`Mask`."""
    rle_size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(rle_size, Sequence) and [int(v) for v in rle_size] == list(size)):
        raise ValueError(f"{name}: RLE size {rle_size!r} is not [height, width] {list(size)}")
    height, width = size
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    if isinstance(counts, (list, np.ndarray)):
        runs = [int(c) for c in counts]
        if sum(runs) != height * width or min(runs, default=0) < 0:
            raise ValueError(f"{name}: RLE counts do not cover {height}x{width} pixels")
        frozen = mask_utils.frPyObjects({"size": list(size), "counts": runs}, height, width)
        counts = frozen["counts"]
    if not isinstance(counts, bytes) or not counts:
        raise ValueError(f"{name}: RLE counts must be a string, bytes or a list of runs")
    return Mask(counts, height, width)
