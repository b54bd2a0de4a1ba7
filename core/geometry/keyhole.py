"""Keyholes: bridge a part's holes into its exterior, giving one weakly simple ring."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely

from prelabel.geometry.rings import Coords, ring_array, signed_area, to_ring
from prelabel.model import PolygonPart, Ring


def _ray_hit(ring: Coords, h: Coords) -> tuple[int, float]:
    """First edge of ``ring`` hit by the ray from ``h`` towards +x: (edge index, hit x)."""
    p, q = ring, np.concatenate((ring[1:], ring[:1]))
    dy = q[:, 1] - p[:, 1]
    spans = ((p[:, 1] <= h[1]) & (q[:, 1] >= h[1])) | ((q[:, 1] <= h[1]) & (p[:, 1] >= h[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dy != 0, (h[1] - p[:, 1]) / dy, 0.0)
    xs = np.where(dy != 0, p[:, 0] + t * (q[:, 0] - p[:, 0]), np.minimum(p[:, 0], q[:, 0]))
    xs = np.where(dy == 0, np.where(p[:, 0] >= h[0], p[:, 0], q[:, 0]), xs)
    xs = np.where(spans & (xs >= h[0]), xs, np.inf)
    i = int(np.argmin(xs))
    return i, float(xs[i])


def _in_triangle(pts: Coords, a: Coords, b: Coords, c: Coords) -> npt.NDArray[np.bool_]:
    def side(p1: Coords, p2: Coords) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = (p2[0] - p1[0]) * (pts[:, 1] - p1[1]) - (p2[1] - p1[1]) * (
            pts[:, 0] - p1[0]
        )
        return out

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    neg = (s1 < 0) | (s2 < 0) | (s3 < 0)
    pos = (s1 > 0) | (s2 > 0) | (s3 > 0)
    return ~(neg & pos)


def _bridge_vertex(ring: Coords, h: Coords) -> int:
    """Index of a ring vertex visible from ``h`` (Eberly's hole-bridging rule)."""
    i, hit_x = _ray_hit(ring, h)
    if not math.isfinite(hit_x):
        return int(np.argmin(np.hypot(*(ring - h).T)))
    j = (i + 1) % len(ring)
    cand = i if ring[i, 0] >= ring[j, 0] else j
    hit = np.array([hit_x, h[1]])
    cx, cy = float(ring[cand, 0]), float(ring[cand, 1])
    if abs(cx - hit_x) <= 1e-8 + 1e-5 * abs(hit_x) and abs(cy - h[1]) <= 1e-8 + 1e-5 * abs(h[1]):
        return cand  # the ray hits the vertex itself (np.allclose's tolerances)
    inside = _in_triangle(ring, h, hit, ring[cand])
    inside[cand] = False
    inside &= np.any(ring != h, axis=1)
    if not inside.any():
        return cand
    idx = np.flatnonzero(inside)
    d = ring[idx] - h
    angle = np.abs(np.arctan2(d[:, 1], np.maximum(d[:, 0], 1e-300)))
    order = np.lexsort((np.hypot(d[:, 0], d[:, 1]), angle))
    return int(idx[order[0]])


def _in_wedge(ring: Coords, i: int, d: Coords) -> bool:
    """Whether direction ``d`` from vertex ``i`` points into the ring's interior there
    (counter-clockwise ring: the interior wedge sweeps from the next edge to the previous)."""
    v = ring[i]
    a, b = ring[i - 1] - v, ring[(i + 1) % len(ring)] - v
    start = math.atan2(b[1], b[0])
    sweep = (math.atan2(a[1], a[0]) - start) % (2 * math.pi)
    return (math.atan2(d[1], d[0]) - start) % (2 * math.pi) <= sweep


def _occurrence(ring: Coords, m: int, toward: Coords) -> int:
    """Where the ring passes a vertex several times (rings touching at a point), the pass
    whose interior wedge faces ``toward``."""
    same = np.flatnonzero(np.all(ring == ring[m], axis=1))
    if len(same) == 1:
        return m
    d = toward - ring[m]
    return next((int(i) for i in same if _in_wedge(ring, int(i), d)), m)


def keyhole_arrays(exterior: Coords, holes: list[Coords]) -> Coords:
    """Bridge every hole into the exterior; see :func:`keyhole`. Returns an ``(N, 2)`` ring."""
    ring = exterior if signed_area(exterior) > 0 else exterior[::-1]
    oriented = [h if signed_area(h) < 0 else h[::-1] for h in holes]
    for hole in sorted(oriented, key=lambda a: -float(a[:, 0].max())):
        # vertices as complex numbers: exact equality, and a sorted lookup instead of a
        # hole x ring comparison table
        ring_c = ring[:, 0] + 1j * ring[:, 1]
        hole_c = hole[:, 0] + 1j * hole[:, 1]
        by_value = np.sort(ring_c)
        at = np.minimum(np.searchsorted(by_value, hole_c), len(by_value) - 1)
        shared = by_value[at] == hole_c
        if shared.any():  # the hole touches the ring at a vertex: zero-length bridge there
            k = int(np.argmax(shared))
            m = int(np.flatnonzero(ring_c == hole_c[k])[0])
            m = _occurrence(ring, m, hole.mean(axis=0))
        else:
            k = int(np.argmax(hole[:, 0]))
            m = _occurrence(ring, _bridge_vertex(ring, hole[k]), hole[k])
        loop = np.concatenate([hole[k:], hole[: k + 1]])
        ring = np.concatenate([ring[: m + 1], loop, ring[m:]])
    keep = np.any(ring != np.concatenate((ring[-1:], ring[:-1])), axis=1)
    return ring[keep] if keep.any() else ring[:1]


def keyhole(part: PolygonPart) -> Ring:
    """Bridge each hole of ``part`` into its exterior, giving one ring with no holes.

    Holes are taken rightmost first; each is joined from its rightmost vertex to a vertex of
    the ring built so far that is visible along the +x ray (Eberly's rule), by a zero-width
    cut: the ring runs to the hole, around it and back along the same two points. The ring
    covers exactly the part's area (the cut has no width) and rasterises to the same pixels;
    shapely reports it as ``Self-intersection`` at the cut only (``make_valid`` returns the
    original part), which is the "near-valid" form Scale's single-ring polygons need. Each
    hole costs its own vertices plus 2 (both cut ends repeat).

    Args:
        part: the polygon part.

    Returns:
        The single ring, exterior counter-clockwise (x right, y up sense of the shoelace sum).
    """
    holes = [ring_array(h) for h in part.holes]
    return to_ring(keyhole_arrays(ring_array(part.exterior), [h for h in holes if len(h) >= 3]))


def keyhole_count(shape: shapely.Geometry) -> int:
    """Vertices a polygon has once keyholed: coordinates minus closing repeats plus 2/hole."""
    holes = int(shapely.get_num_interior_rings(shape))
    return int(shapely.get_num_coordinates(shape)) - 1 + holes
