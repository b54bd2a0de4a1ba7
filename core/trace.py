"""Mask -> polygon tracing along pixel edges (exact: rasterising gives the mask back).

OpenCV's border following (``cv2.findContours``, ``RETR_CCOMP``: outer rings and their holes,
every border pixel listed with ``CHAIN_APPROX_NONE``) runs on the mask itself, no upsampling.
At each border pixel the follower turned from the previous border pixel to the next one past
the pixel's open sides; those sides, read from a table by the two step directions, are the
ring's unit edges, and a vertex sits wherever the side direction changes (:func:`_edge_ring`).

Where two on (or two off) pixels meet only at a corner (a pinch), the 8-connected trace walks
through that corner, so a ring may touch itself there; such a trace is made valid with
``shapely.make_valid`` (same area) and put back in the traced form (:func:`_canonical`).
Every ring starts at its top-left-most vertex; exteriors have negative shoelace area (x right,
y up sense), holes positive.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import shapely

from .kernels import compiled
from .model import Mask, Polygon, PolygonPart
from .rings import (
    BoolArray,
    Coords,
    PartArrays,
    parts_to_shape,
    shape_to_parts,
    signed_area,
    to_ring,
)
from .rle import crop_to_pixels, decode_mask

# chain step directions, index growing clockwise on screen (x right, y down)
_DIRS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
# direction index of a step (dx, dy), looked up at 3 * dy + dx + 4
_STEP_DIR = np.zeros(9, np.int32)
for _i, (_dx, _dy) in enumerate(_DIRS):
    _STEP_DIR[3 * _dy + _dx + 4] = _i
# the pixel side facing a 4-neighbour direction, walked counter-clockwise on screen: its start
_SIDE_START = {0: (1, 1), 6: (1, 0), 4: (0, 0), 2: (0, 1)}
_ONE_PIXEL = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])


def _side_table() -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """For each ``8 * back + out`` step pair: the open sides the follower sweeps past.

    OpenCV looks for the next border pixel counter-clockwise (on screen) from the direction
    back to the previous one; every 4-neighbour passed before the hit is off, so that side of
    the pixel is a ring edge. Returns ``(64, 4)`` side directions (-1: none) and ``(64, 4, 2)``
    side start corners, in the order walked.
    """
    sides = np.full((64, 4), -1, np.int32)
    corners = np.zeros((64, 4, 2), np.int32)
    for code in range(64):
        back, out = divmod(code, 8)
        d, slot = (back - 1) % 8, 0
        while d != out:
            if d % 2 == 0:
                sides[code, slot], corners[code, slot] = d, _SIDE_START[d]
                slot += 1
            d = (d - 1) % 8
    return sides, corners


_SIDES, _CORNERS = _side_table()
# flat forms for one-index gathers: per pair, which of the 4 slots are used; per pair * 4 +
# slot, the side and its start corner
_USED = _SIDES >= 0
_SIDE_AT = _SIDES.ravel()
_CORNER_AT = _CORNERS.reshape(-1, 2)


def _edge_ring(contour: npt.NDArray[np.int32]) -> Coords:
    """The pixel-edge ring around a pinch-free border-pixel chain (``CHAIN_APPROX_NONE``)."""
    p = contour.reshape(-1, 2)
    if len(p) == 1:
        return _ONE_PIXEL + p
    step = np.concatenate((p[1:], p[:1])) - p  # p[k] -> p[k+1]
    out = _STEP_DIR[step[:, 1] * 3 + step[:, 0] + 4]
    back = np.concatenate((out[-1:], out[:-1])) ^ 4  # p[k] -> p[k-1]: the step in, reversed
    code = back * 8 + out
    pixel, slot = np.nonzero(_USED[code])  # every open side, in walking order
    at = code[pixel] * 4 + slot
    sides = _SIDE_AT[at]
    turn = np.flatnonzero(sides != np.concatenate((sides[-1:], sides[:-1])))
    ring = (_CORNER_AT[at[turn]] + p[pixel[turn]]).astype(np.float64)
    top = np.flatnonzero(ring[:, 1] == ring[:, 1].min())
    k = int(top[np.argmin(ring[top, 0])])
    return np.concatenate((ring[k:], ring[:k])) if k else ring


def has_pinch(binary: BoolArray) -> bool:
    """True when two on (or two off) pixels touch only at a corner somewhere in ``binary``.

    In a 2x2 window ``[[a, b], [c, d]]`` that is ``a == d != b == c``, that is ``a != b``,
    ``c != d`` and ``a != c``.
    """
    across = binary[:, 1:] != binary[:, :-1]
    down = binary[1:, :-1] != binary[:-1, :-1]
    return bool((across[:-1] & across[1:] & down).any())


def _rings(binary: BoolArray) -> tuple[list[Coords], npt.NDArray[np.int32]] | None:
    """Every traced ring (exact pixel-edge vertices) and each one's parent index (-1: outer)."""
    image = binary.view(np.uint8)
    contours, hierarchy = cv2.findContours(image, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return None
    kernels = compiled()
    if kernels is not None:
        rings = [
            kernels.edge_ring(np.asarray(c, np.int32).reshape(-1, 2), _SIDES, _CORNERS)
            for c in contours
        ]
    else:
        rings = [_edge_ring(np.asarray(c, dtype=np.int32)) for c in contours]
    return rings, hierarchy[0][:, 3]


def trace_parts(binary: BoolArray) -> list[PartArrays]:
    """Trace a (cropped) boolean array into valid parts with holes along pixel edges.

    See the module docstring. Holes inside holes come out as separate
    parts. Each ring starts at its top-left-most vertex. Coordinates are relative to the
    array's top-left corner.
    """
    if binary.size == 0:
        return []
    pinch = has_pinch(binary)
    traced = _rings(np.ascontiguousarray(binary))
    if traced is None:
        return []
    rings, parents = traced
    parts: dict[int, PartArrays] = {}
    for i in np.flatnonzero(parents < 0):
        if len(rings[i]) >= 3:
            parts[int(i)] = (rings[i], [])
    for i in np.flatnonzero(parents >= 0):
        part = parts.get(int(parents[i]))
        if part is not None and len(rings[i]) >= 3:
            part[1].append(rings[i])
    out = list(parts.values())
    if not (pinch and out):
        return out
    shape = parts_to_shape(out)  # parts meeting at a corner are valid; a self-touching ring is not
    if shapely.is_valid(shape):
        return out
    return _canonical(shape_to_parts(shapely.make_valid(shape, method="structure")))


def _top_left(ring: Coords, clockwise: bool) -> Coords:
    """``ring`` starting at its top-left-most vertex, turning as traced rings do (exterior
    negative shoelace area, holes positive)."""
    if (signed_area(ring) < 0) != clockwise:
        ring = ring[::-1]
    top = np.flatnonzero(ring[:, 1] == ring[:, 1].min())
    k = int(top[np.argmin(ring[top, 0])])
    return np.concatenate((ring[k:], ring[:k]))


def _canonical(parts: list[PartArrays]) -> list[PartArrays]:
    """Repaired parts in the traced form: rings start top-left, parts and holes in reverse
    raster order of their first vertex (as OpenCV lists them)."""

    def first(ring: Coords) -> tuple[float, float]:
        return float(ring[0, 1]), float(ring[0, 0])

    out = [
        (_top_left(e, True), sorted((_top_left(h, False) for h in hs), key=first, reverse=True))
        for e, hs in parts
    ]
    return sorted(out, key=lambda part: first(part[0]), reverse=True)


def _arrays_to_part(ext: Coords, holes: list[Coords], dx: float, dy: float) -> PolygonPart:
    off = np.array([dx, dy])
    return PolygonPart(to_ring(ext + off), tuple(to_ring(h + off) for h in holes))


def mask_to_polygon(mask: Mask | npt.ArrayLike) -> Polygon:
    """Trace a mask into a model :class:`Polygon` along pixel edges, with every part and hole.

    Args:
        mask: a :class:`Mask` or a ``(H, W)`` array (non-zero = on).

    Returns:
        The polygon; rasterising it (:func:`polygon_to_mask`) gives the mask back exactly.
        The parts form a valid shapely (multi)polygon of the mask's area (see
        :func:`trace_parts`).

    Raises:
        ValueError: the mask has no pixels.
    """
    binary = decode_mask(mask) if isinstance(mask, Mask) else np.asarray(mask) != 0
    crop, x0, y0 = crop_to_pixels(binary)
    parts = trace_parts(crop)
    if not parts:
        raise ValueError("empty mask: nothing to trace")
    return Polygon(tuple(_arrays_to_part(e, hs, x0, y0) for e, hs in parts))
