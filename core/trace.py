"""Mask -> polygon tracing along pixel edges (exact: rasterising gives the mask back).

OpenCV's border following (``cv2.findContours``, ``RETR_CCOMP``: outer rings and their holes)
gives the border *pixels* of each ring. Two paths turn them into pixel-edge rings:

* no pinch (no two on or two off pixels meeting only at a corner, the common case): the trace
  runs on the mask itself with every border pixel listed (``CHAIN_APPROX_NONE``); at each border
  pixel the follower turned from the previous pixel to the next one past the pixel's open
  sides, and those sides, read from a table by the two step directions, are the ring's edges
  (:func:`_edge_ring`). No upsampling, one pass;
* pinch: the 8-connected trace would cut across the corner, so the mask is traced on a 3x
  lattice that keeps such pixels apart (:func:`_lattice`); the rings, which then touch at the
  corner, are made valid with ``shapely.make_valid`` (same area).

Both give the same rings (start vertex: the top-left-most; same orientation) where both apply.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import shapely

from .model import Mask, Polygon, PolygonPart
from .rings import (
    BoolArray,
    Coords,
    PartArrays,
    clean_ring,
    parts_to_shape,
    shape_to_parts,
    signed_area,
    to_ring,
)
from .rle import crop_to_pixels, decode_mask

# chain step directions, index growing clockwise on screen (x right, y down)
_DIRS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
_DIR_INDEX = np.zeros((3, 3), np.int64)
for _i, (_dx, _dy) in enumerate(_DIRS):
    _DIR_INDEX[_dy + 1, _dx + 1] = _i
# the pixel side facing a 4-neighbour direction, walked counter-clockwise on screen: its start
_SIDE_START = {0: (1, 1), 6: (1, 0), 4: (0, 0), 2: (0, 1)}
_ONE_PIXEL = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])


def _side_table() -> tuple[npt.NDArray[np.int64], Coords, npt.NDArray[np.int64]]:
    """For each ``8 * back + out`` step pair: the open sides the follower sweeps past.

    OpenCV looks for the next border pixel counter-clockwise (on screen) from the direction
    back to the previous one; every 4-neighbour passed before the hit is off, so that side of
    the pixel is a ring edge. Returns (first index per pair + end, side start corners, side
    directions).
    """
    first = np.zeros(65, np.int64)
    corners: list[tuple[int, int]] = []
    sides: list[int] = []
    for code in range(64):
        back, out = divmod(code, 8)
        first[code] = len(corners)
        d = (back - 1) % 8
        while d != out:
            if d % 2 == 0:
                corners.append(_SIDE_START[d])
                sides.append(d)
            d = (d - 1) % 8
    first[64] = len(corners)
    return first, np.array(corners, np.float64), np.array(sides, np.int64)


_FIRST, _CORNERS, _SIDES = _side_table()


def _edge_ring(contour: npt.NDArray[np.int32]) -> Coords:
    """The pixel-edge ring around a pinch-free border-pixel chain (``CHAIN_APPROX_NONE``)."""
    p = contour.reshape(-1, 2)
    if len(p) == 1:
        return _ONE_PIXEL + p
    step = np.diff(p, axis=0, append=p[:1])  # p[k] -> p[k+1]
    out = _DIR_INDEX[step[:, 1] + 1, step[:, 0] + 1]
    back = np.roll(out, 1) ^ 4  # p[k] -> p[k-1] is the reverse of the step into p[k]
    code = back * 8 + out
    lo, n = _FIRST[code], _FIRST[code + 1] - _FIRST[code]
    at = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
    sides = _SIDES[at]
    corner = sides != np.roll(sides, 1)  # a side's start is a vertex where the side turns
    ring = _CORNERS[at[corner]] + np.repeat(p, n, axis=0)[corner]
    top = np.flatnonzero(ring[:, 1] == ring[:, 1].min())
    k = int(top[np.argmin(ring[top, 0])])
    return np.concatenate((ring[k:], ring[:k])) if k else ring


def _lattice(binary: BoolArray) -> npt.NDArray[np.uint8]:
    """A 3x image where each pixel is a 2x2 block and blocks join only through shared edges.

    Pixel ``j`` covers lattice columns ``3j+1, 3j+2``; column ``3j`` is the edge between
    pixels ``j-1`` and ``j`` (set when both are on) and row/column multiples of 3 meet at
    corners (set when all four pixels are on). Pixels touching only at a corner are therefore
    not 8-connected in the lattice, and every lattice border pixel lies 1/3 px from a pixel
    edge, so rounding ``lattice / 3`` gives the exact pixel-edge vertex.
    """
    h, w = binary.shape
    blocks = cv2.resize(binary.view(np.uint8), (3 * w, 3 * h), interpolation=cv2.INTER_NEAREST)
    # lattice[r, c] = min(blocks[r-1:r+1, c-1:c+1]): edges and corners need both/all sides on
    lattice = cv2.erode(
        blocks, _KERNEL, anchor=(1, 1), borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    return np.asarray(lattice, dtype=np.uint8)


_KERNEL = np.ones((2, 2), np.uint8)


def _contour_ring(contour: npt.NDArray[np.int32], scale: int) -> Coords:
    # a lattice border pixel lies 1/3 or 2/3 px inside a pixel edge
    return clean_ring(np.floor((contour.reshape(-1, 2) + 1) / float(scale)))


def has_pinch(binary: BoolArray) -> bool:
    """True when two on (or two off) pixels touch only at a corner somewhere in ``binary``."""
    a, b = binary[:-1, :-1], binary[:-1, 1:]
    c, d = binary[1:, :-1], binary[1:, 1:]
    return bool(np.any((a == d) & (b == c) & (a != b)))


def _rings(binary: BoolArray, pinch: bool) -> tuple[list[Coords], npt.NDArray[np.int32]] | None:
    """Every traced ring (exact pixel-edge vertices) and each one's parent index (-1: outer)."""
    if pinch:
        image, mode = _lattice(binary), cv2.CHAIN_APPROX_SIMPLE
    else:
        image, mode = binary.view(np.uint8), cv2.CHAIN_APPROX_NONE
    contours, hierarchy = cv2.findContours(image, cv2.RETR_CCOMP, mode)
    if hierarchy is None:
        return None
    if pinch:
        rings = [_contour_ring(np.asarray(c, dtype=np.int32), 3) for c in contours]
    else:
        rings = [_edge_ring(np.asarray(c, dtype=np.int32)) for c in contours]
    return rings, hierarchy[0][:, 3]


def trace_parts(binary: BoolArray) -> list[PartArrays]:
    """Trace a (cropped) boolean array into valid parts with holes along pixel edges.

    See the module docstring for the two paths. Holes inside holes come out as separate
    parts. Each ring starts at its top-left-most vertex. Coordinates are relative to the
    array's top-left corner.
    """
    if binary.size == 0:
        return []
    pinch = has_pinch(binary)
    traced = _rings(np.ascontiguousarray(binary), pinch)
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
    """Repaired parts in the traced form: rings start top-left, parts and holes in raster
    order of their first vertex (as OpenCV finds them)."""

    def first(ring: Coords) -> tuple[float, float]:
        return float(ring[0, 1]), float(ring[0, 0])

    out = [
        (_top_left(e, True), sorted((_top_left(h, False) for h in hs), key=first))
        for e, hs in parts
    ]
    return sorted(out, key=lambda part: first(part[0]))


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
