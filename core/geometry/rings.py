"""Ring arrays: model <-> ``(N, 2)`` arrays <-> shapely, cleaning, areas and rasterising.

Pixel-edge convention of :mod:`prelabel.model`: pixel ``(i, j)`` is the unit square
``[j, j+1) x [i, i+1)``; a polygon is rasterised by pixel centres (even-odd rule, a centre
exactly on a left/top edge counts as inside).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import shapely

from prelabel.geometry.kernels.loader import compiled
from prelabel.model import Polygon, Ring

BoolArray: TypeAlias = npt.NDArray[np.bool_]
Coords: TypeAlias = npt.NDArray[np.float64]
# a traced or fitted part: exterior ring and hole rings, (N, 2) float arrays, open (no repeat)
PartArrays: TypeAlias = tuple[Coords, list[Coords]]


def starts(lengths: Iterable[int], count: int) -> npt.NDArray[np.int64]:
    """Where each of ``count`` consecutive pieces of the given lengths starts, and the end:
    ``[0, l0, l0 + l1, ...]`` (the layout the compiled kernels take concatenated rings in)."""
    return np.fromiter(accumulate(lengths, initial=0), np.int64, count + 1)


def _prev(a: Coords) -> Coords:
    return np.concatenate((a[-1:], a[:-1]))


def _next(a: Coords) -> Coords:
    return np.concatenate((a[1:], a[:1]))


def clean_ring(ring: Coords) -> Coords:
    """Drop repeated and collinear vertices (including spikes) of a closed ring."""
    pts = ring
    while len(pts) >= 3:
        pts = pts[np.any(pts != _prev(pts), axis=1)]
        if len(pts) < 3:
            break
        a, b = pts - _prev(pts), _next(pts) - pts
        keep = a[:, 0] * b[:, 1] != a[:, 1] * b[:, 0]
        if keep.all():
            return pts
        pts = pts[keep]
    return pts[:0]


def to_ring(arr: Coords) -> Ring:
    """An ``(N, 2)`` array as a model ring (tuple of float pairs)."""
    return tuple(map(tuple, np.asarray(arr, dtype=np.float64).tolist()))


def ring_array(ring: Ring | Coords) -> Coords:
    """A model ring (or array) as an ``(N, 2)`` float array, closing repeat removed."""
    arr = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
        arr = arr[:-1]
    return arr


def exterior_coords(polygon: shapely.Geometry) -> Coords:
    """The exterior ring of a shapely polygon as an open ``(N, 2)`` array."""
    return ring_array(shapely.get_coordinates(shapely.get_exterior_ring(polygon)))


def hole_coords(polygon: shapely.Geometry) -> list[Coords]:
    """The interior rings of a shapely polygon as open ``(N, 2)`` arrays."""
    n = int(shapely.get_num_interior_rings(polygon))
    return [
        ring_array(shapely.get_coordinates(shapely.get_interior_ring(polygon, i))) for i in range(n)
    ]


def parts_to_shape(parts: list[PartArrays]) -> shapely.Geometry:
    """Parts as one shapely (Multi)Polygon (not validated)."""
    polys = [shapely.Polygon(e, hs) for e, hs in parts]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def shape_to_parts(shape: shapely.Geometry) -> list[PartArrays]:
    """Polygonal parts of a shapely geometry as arrays (non-polygon pieces are ignored)."""
    out: list[PartArrays] = []
    for geom in shapely.get_parts(shape):
        if shapely.get_type_id(geom) == 6:  # MultiPolygon inside a collection
            out.extend(shape_to_parts(geom))
        elif shapely.get_type_id(geom) == 3 and not geom.is_empty:
            out.append((exterior_coords(geom), hole_coords(geom)))
        elif shapely.get_type_id(geom) == 7:
            out.extend(shape_to_parts(geom))
    return out


# --- rasterising ------------------------------------------------------------------------


def rings_to_mask(
    rings: list[Coords], height: int, width: int, *, origin: tuple[float, float] = (0.0, 0.0)
) -> BoolArray:
    """Rasterise rings together by pixel centres with the even-odd rule.

    Args:
        rings: closed rings as ``(N, 2)`` arrays (holes and keyhole bridges cancel out).
        height: raster height.
        width: raster width.
        origin: image coordinate of the raster's top-left corner.

    Returns:
        ``(height, width)`` boolean array.
    """
    if not rings:
        return np.zeros((height, width), bool)
    rows, cols = _crossings(rings, height, width, origin)
    hits = np.bincount(rows * (width + 1) + cols, minlength=height * (width + 1))
    parity = np.cumsum(hits.reshape(height, width + 1)[:, :width], axis=1) & 1
    return parity.astype(bool)


def _crossings(
    rings: list[Coords], height: int, width: int, origin: tuple[float, float]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Where ring edges cross the rows' centre lines: (row, first column whose centre is at
    or right of the crossing), columns clipped to ``[0, width]``, rows outside dropped."""
    p = np.concatenate(rings) - np.asarray(origin, dtype=np.float64)
    q = np.concatenate([_next(r) for r in rings]) - np.asarray(origin)
    moving = p[:, 1] != q[:, 1]  # horizontal edges cross no row's centre line
    p, q = p[moving], q[moving]
    lo, hi = np.minimum(p[:, 1], q[:, 1]), np.maximum(p[:, 1], q[:, 1])
    r0 = np.minimum(np.maximum(np.ceil(lo - 0.5), 0), height).astype(np.int64)
    r1 = np.minimum(np.maximum(np.ceil(hi - 0.5), 0), height).astype(np.int64)
    counts = r1 - r0
    edge = np.repeat(np.arange(len(p)), counts)
    rows = r0[edge] + np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts)
    # one rounding (the division), so a crossing exactly at a pixel centre is exact for
    # integer vertices and the raster does not depend on the origin
    pe, qe = p[edge], q[edge]
    xs = pe[:, 0] + ((rows + 0.5 - pe[:, 1]) * (qe[:, 0] - pe[:, 0])) / (qe[:, 1] - pe[:, 1])
    cols = np.minimum(np.maximum(np.ceil(xs - 0.5), 0), width).astype(np.int64)
    return rows, cols


def polygon_to_mask(
    polygon: Polygon, height: int, width: int, *, origin: tuple[float, float] = (0.0, 0.0)
) -> BoolArray:
    """Rasterise a model polygon (all parts, holes cut out) by pixel centres.

    Args:
        polygon: the polygon.
        height: raster height.
        width: raster width.
        origin: image coordinate of the raster's top-left corner.

    Returns:
        ``(height, width)`` boolean array; parts are OR-ed, holes within a part cut out.
    """
    out = np.zeros((height, width), bool)
    for part in polygon.parts:
        rings = [ring_array(part.exterior), *(ring_array(h) for h in part.holes)]
        out |= rings_to_mask([r for r in rings if len(r)], height, width, origin=origin)
    return out


def weighted_iou(
    a: list[Coords], a_weights: Sequence[int], b: list[Coords], b_weights: Sequence[int]
) -> float:
    """IoU by pixel centres of two shapes, each given as rings weighted +1 (an exterior, or a
    simple or keyholed ring on its own) or -1 (a hole): a pixel is in a shape when the
    weights of its rings that contain it add up above 0 (so exteriors may overlap: OR-ed).

    Compiled, it is counted from each pixel row's crossings (outline-sized work, no raster);
    the numpy fallback rasterises each ring over its own bounding box (a class mask may
    have thousands of small parts) and gives the same figure.
    """
    kernels = compiled()
    if kernels is not None:
        return float(
            kernels.rings_iou(
                np.concatenate(a),
                starts(map(len, a), len(a)),
                np.asarray(a_weights, np.int64),
                np.concatenate(b),
                starts(map(len, b), len(b)),
                np.asarray(b_weights, np.int64),
            )
        )
    pts = np.concatenate([*a, *b])
    x0, y0 = (int(v) for v in np.floor(pts.min(axis=0)))
    x1, y1 = (int(v) + 1 for v in np.ceil(pts.max(axis=0)))
    counts = [np.zeros((y1 - y0, x1 - x0), np.int64) for _ in range(2)]
    for count, rings, weights in ((counts[0], a, a_weights), (counts[1], b, b_weights)):
        for ring, weight in zip(rings, weights, strict=True):
            rx0, ry0 = (
                int(v) - x for v, x in zip(np.floor(ring.min(axis=0)), (x0, y0), strict=True)
            )
            rx1, ry1 = (
                int(v) + 1 - x for v, x in zip(np.ceil(ring.max(axis=0)), (x0, y0), strict=True)
            )
            inside = rings_to_mask([ring], ry1 - ry0, rx1 - rx0, origin=(x0 + rx0, y0 + ry0))
            count[ry0:ry1, rx0:rx1] += weight * inside
    return iou(counts[0] > 0, counts[1] > 0)


def iou(mask_a: npt.ArrayLike, mask_b: npt.ArrayLike) -> float:
    """Intersection over union of two same-shape boolean arrays (1.0 when both are empty)."""
    a, b = np.asarray(mask_a, dtype=bool), np.asarray(mask_b, dtype=bool)
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def signed_area(ring: Coords) -> float:
    """Shoelace area: positive for counter-clockwise in x-right/y-up axes."""
    x, y = ring[:, 0], ring[:, 1]
    return float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1]) / 2
