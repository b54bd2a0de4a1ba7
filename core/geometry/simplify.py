"""Vertex budgets: least-lossy Douglas-Peucker simplification and densifying."""

from __future__ import annotations

import heapq
from itertools import pairwise
from types import ModuleType
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
import shapely

from prelabel.geometry.kernels import simplify as kernels
from prelabel.geometry.kernels.loader import Kernels, compiled
from prelabel.geometry.keyhole import keyhole_count
from prelabel.geometry.rings import (
    Coords,
    clean_ring,
    exterior_coords,
    hole_coords,
    ring_array,
    starts,
    to_ring,
    weighted_iou,
)
from prelabel.model import Ring

# an integer ring as OpenCV takes it: (N, 1, 2) int32
IntRing: TypeAlias = npt.NDArray[np.int32]

# bisection steps of the simplification tolerance (2**-16 of the part's size is sub-pixel)
BISECT_STEPS = 16
# fast integer path: first upper bracket (px) for the tolerance, grown x4 until it fits, and
# the bracket width (px) at which the bisection stops (finer tolerances change nothing on
# pixel-grid rings)
FAST_START = 2.0
FAST_PRECISION = 0.01
# when the best DP result is not a valid polygon, these multiples of its tolerance are tried
# before shapely's (slower) topology-preserving bisection
FAST_RETRIES = (1.1, 1.25, 1.5, 2.0)
# holes up to this many vertices that DP collapses are kept as their largest triangle
SMALL_RING = 64


def _vertex_count(shape: shapely.Geometry, closed: bool) -> int:
    if closed:
        return keyhole_count(shape) if shapely.get_type_id(shape) == 3 else 0
    return int(shapely.get_num_coordinates(shape))


def bisect_simplify(
    shape: shapely.Geometry, max_vertices: int, *, closed: bool = True
) -> shapely.Geometry | None:
    """Least-lossy topology-preserving Douglas-Peucker simplification within a budget.

    Bisects the tolerance between 0 and the shape's size (at most :data:`BISECT_STEPS`
    steps, stopping early on an exact fit) for the smallest tolerance whose result has at
    most ``max_vertices`` (keyholed count for polygons). Returns None when even the coarsest
    simplification is over budget.
    """
    x0, y0, x1, y1 = shapely.bounds(shape)
    hi = max(x1 - x0, y1 - y0, 1e-9)
    best = shapely.simplify(shape, hi, preserve_topology=True)
    if _vertex_count(best, closed) > max_vertices:
        return _coarsest_fallback(best, max_vertices) if closed else None
    lo = 0.0
    best_valid: shapely.Geometry = best
    for _ in range(BISECT_STEPS):
        mid = (lo + hi) / 2
        cand = shapely.simplify(shape, mid, preserve_topology=True)
        count = _vertex_count(cand, closed)
        if count <= max_vertices and (not closed or shapely.is_valid(cand)):
            hi, best_valid = mid, cand
            if count == max_vertices:
                break
        else:
            lo = mid
    return best_valid


def midpoint_ring(ring: Coords) -> Coords:
    """The ring through the midpoints of a traced ring's unit pixel edges, collinear ones left out.

    ``ring`` runs along pixel edges (integer vertices, axis-aligned edges). Each corner is
    cut half a pixel along both of its edges, so a unit staircase becomes a straight run
    while every pixel centre stays on its side: the result rasterises (by pixel centres) to
    exactly the same pixels, with far fewer vertices for Douglas-Peucker to keep on diagonal
    and curved outlines. An empty array when ``ring`` does not run along pixel edges.
    """
    return _kernels().midpoint_ring(ring)


def _kernels() -> Kernels | ModuleType:
    """The compiled kernels, or (no numba) the same functions run by the interpreter."""
    return compiled() or kernels


def _midpoint_rings(rings: list[Coords]) -> list[Coords] | None:
    """Each ring's :func:`midpoint_ring`, or None unless every ring runs along pixel edges."""
    out = [midpoint_ring(r) for r in rings]
    return out if all(len(r) for r in out) else None


def _dp_rings(rings: list[IntRing], tolerance: float) -> list[IntRing]:
    out: list[IntRing] = [np.asarray(cv2.approxPolyDP(r, tolerance, True)) for r in rings]
    for i in range(1, len(out)):  # a hole DP collapses keeps its largest triangle instead
        if len(out[i]) < 3 <= len(rings[i]) <= SMALL_RING:
            tri = _drop_least_area(rings[i].reshape(-1, 2).astype(np.float64), 3)
            out[i] = tri.astype(np.int32).reshape(-1, 1, 2)
    return out


def _floats(rings: list[IntRing]) -> list[Coords]:
    return [r.reshape(-1, 2).astype(np.float64) for r in rings]


def _dp_count(rings: list[IntRing]) -> int:
    """Keyholed vertex count of DP rings, or -1 when a ring collapsed under 3 vertices."""
    if any(len(r) < 3 for r in rings):
        return -1
    return sum(len(r) for r in rings) + 2 * (len(rings) - 1)


def _fast_simplify_part(rings: list[Coords], max_vertices: int) -> list[Coords] | None:
    """Bisection with OpenCV's Douglas-Peucker on integer rings, then one validity check.

    A tolerance that collapses a ring counts as too coarse. Returns None (the caller falls
    back to shapely's topology-preserving simplifier) when no tolerance tried meets the
    budget or the best result is not a valid polygon.
    """
    ints = [r.astype(np.int32).reshape(-1, 1, 2) for r in rings]
    span = float((rings[0].max(axis=0) - rings[0].min(axis=0)).max())
    lo, hi = 0.0, min(FAST_START, span)
    best: list[IntRing] | None = None
    while hi < span and _dp_count(_dp_rings(ints, hi)) > max_vertices:
        lo, hi = hi, min(hi * 4, span)
    while hi - lo > FAST_PRECISION:
        mid = (lo + hi) / 2
        cand = _dp_rings(ints, mid)
        count = _dp_count(cand)
        if count > max_vertices:
            lo = mid
            continue
        hi = mid
        if count > 0:
            best = cand
            if count == max_vertices:
                break
    if best is None:
        best = _dp_rings(ints, hi)
        if not 0 < _dp_count(best) <= max_vertices:
            return None
    if _valid(floats := _floats(best)):
        return floats
    for factor in FAST_RETRIES:  # DP cut across a narrow neck: coarser may not, and is cheap
        cand = _dp_rings(ints, hi * factor)
        if 0 < _dp_count(cand) <= max_vertices and _valid(floats := _floats(cand)):
            return floats
    return None


# above this tolerance (px) a budget is tight enough that Douglas-Peucker on the pixel-edge
# rings can beat it on the midpoint rings: both are tried and the higher IoU is kept
EDGE_TOLERANCE = 1.0
# when the least-lossy ranked result is not simple, this many next-coarser tolerances are
# tried (one vertex fewer each), then these fractions of the budget, before shapely's
# topology-preserving bisection
RANKED_STEPS = 4
RANKED_RETRIES = (0.9, 0.75, 0.5)


def _ranked_simplify(
    traced: list[Coords], mids: list[Coords], max_vertices: int
) -> list[Coords] | None:
    """The least-lossy simplification of a traced part (pixel-edge rings, and their
    :func:`midpoint_ring` forms) within budget.

    Douglas-Peucker on the midpoint rings, at the least tolerance the budget allows
    (:func:`_ranked`). When that tolerance is over :data:`EDGE_TOLERANCE` (a tight budget,
    where greedy Douglas-Peucker can go either way), also on the pixel-edge rings, keeping
    the result with the higher IoU. Returns None when the holes alone are over budget or
    nothing tried gives a polygon whose rings do not touch (the caller then falls back to
    shapely's topology-preserving simplifier).
    """
    budget = max_vertices - 2 * (len(traced) - 1)
    if 3 * len(traced) > budget:
        return None
    best = _ranked(mids, budget)
    if best is not None and best[1] <= EDGE_TOLERANCE:
        return best[0]
    candidates = [] if best is None else [best[0]]
    edges = _ranked(traced, budget)
    if edges is not None:
        candidates.append(edges[0])
    if not candidates:
        return None
    scores = [part_iou(c, traced) for c in candidates]
    return candidates[int(np.argmax(scores))]


def _ranked(rings: list[Coords], budget: int) -> tuple[list[Coords], float] | None:
    """Douglas-Peucker of all rings at one tolerance, the least that keeps at most
    ``budget`` vertices in all, from one ranking pass: every vertex is ranked by the largest
    tolerance that keeps it (:func:`~prelabel.geometry.kernels.simplify.ring_ranks`, each ring keeping at
    least a triangle) and the tolerance keeps those ranked above it. The result must be a
    polygon whose rings do not touch (:func:`~prelabel.geometry.kernels.simplify.simple_part`); returns it
    and its tolerance, or None."""
    floor = 3 * len(rings)
    keeps = [budget - k for k in range(RANKED_STEPS)] + [int(budget * f) for f in RANKED_RETRIES]
    flat, cut, tolerance = _kernels().ranked_select(
        np.concatenate(rings),
        starts(map(len, rings), len(rings)),
        np.array([max(k, floor) for k in keeps], np.int64),
    )
    if not len(flat):
        return None
    bounds = cut.tolist()
    return [flat[i:j] for i, j in pairwise(bounds)], float(tolerance)


def part_iou(rings: list[Coords], reference: list[Coords]) -> float:
    """IoU by pixel centres of two polygons, each given as its exterior and holes."""
    return weighted_iou(
        rings, [1] + [-1] * (len(rings) - 1), reference, [1] + [-1] * (len(reference) - 1)
    )


def _valid(rings: list[Coords]) -> bool:
    shape = shapely.Polygon(rings[0], rings[1:])
    return bool(shapely.is_valid(shape) and shapely.area(shape) > 0)


def simplify_part(
    exterior: Coords, holes: list[Coords], max_vertices: int, *, traced: bool = False
) -> tuple[Coords, list[Coords]] | None:
    """Least-lossy simplification of one polygon part to a keyholed vertex budget.

    The budget counts the ring the part becomes after :func:`keyhole` (exterior + holes + 2
    per hole). A ``traced`` part (rings along pixel edges, from a mask) is simplified from
    its :func:`midpoint_ring` form, which rasterises to the same pixels with staircases
    straightened: every vertex is ranked once and the least tolerance within budget keeps
    the top of the ranking (:func:`_ranked_simplify`). Other integer rings take a bisection
    of the tolerance with OpenCV's ``approxPolyDP``. Either is accepted when the result is a
    valid polygon; otherwise (or for float rings) :func:`bisect_simplify` with shapely's
    topology-preserving simplifier decides.

    Returns:
        ``(exterior, holes)`` within budget, or None when the holes alone are over budget
        (the caller fills holes and tries again).
    """
    rings = [exterior, *holes]
    mids = _midpoint_rings(rings) if traced else None
    if mids is not None:
        ranked = _ranked_simplify(rings, mids, max_vertices)
        if ranked is not None:
            return ranked[0], ranked[1:]
        rings = mids
    elif all(np.array_equal(r, np.rint(r)) and np.abs(r).max() < 2**30 for r in rings):
        fast = _fast_simplify_part(rings, max_vertices)
        if fast is not None:
            return fast[0], fast[1:]
    shape = bisect_simplify(shapely.Polygon(rings[0], rings[1:]), max_vertices)
    if shape is None:
        return None
    return exterior_coords(shape), hole_coords(shape)


def _drop_least_area(ring: Coords, keep: int) -> Coords:
    """Remove the vertex spanning the smallest triangle until ``keep`` remain (Visvalingam)."""
    pts = ring
    while len(pts) > keep:
        a, b = pts - np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0) - pts
        pts = np.delete(pts, int(np.argmin(np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]))), 0)
    return pts


def _coarsest_fallback(shape: shapely.Geometry, max_vertices: int) -> shapely.Geometry | None:
    """A hole-free polygon DP keeps at 4+ vertices: drop least-area vertices to the budget."""
    if shapely.get_type_id(shape) != 3 or shapely.get_num_interior_rings(shape) or max_vertices < 3:
        return None
    ext = exterior_coords(shape)
    cand = shapely.Polygon(_drop_least_area(ext, max_vertices))
    return cand if shapely.is_valid(cand) and shapely.area(cand) > 0 else None


def simplify_to_budget(ring: Ring, max_vertices: int, *, min_vertices: int = 3) -> Ring:
    """Simplify a closed ring to at most ``max_vertices`` with the smallest DP tolerance.

    Uses :func:`bisect_simplify` (``shapely.simplify(..., preserve_topology=True)``); a ring
    already within budget is returned unchanged; a result under ``min_vertices`` is densified
    back with :func:`densify_to`.

    Args:
        ring: the closed ring (no repeat of the first vertex).
        max_vertices: the budget.
        min_vertices: the least vertex count of the result.

    Returns:
        The simplified ring.

    Raises:
        ValueError: fewer than 3 distinct vertices, or a budget under 3.
    """
    arr = clean_ring(ring_array(ring))
    if len(arr) < 3 or max_vertices < 3:
        raise ValueError("a ring needs at least 3 distinct vertices and a budget of at least 3")
    if len(arr) <= max_vertices:
        return ring
    shape = shapely.make_valid(shapely.Polygon(arr), method="structure", keep_collapsed=False)
    if shapely.get_type_id(shape) != 3:
        shape = max(shapely.get_parts(shape), key=lambda g: g.area)
    out = bisect_simplify(shapely.Polygon(exterior_coords(shape)), max_vertices)
    if out is None:  # pragma: no cover - a hole-free polygon always simplifies to 3
        raise ValueError("ring cannot be simplified to the budget")
    result = exterior_coords(out)
    return to_ring(densify_array(result, min_vertices))


def densify_array(ring: Coords, min_vertices: int, *, closed: bool = True) -> Coords:
    """Insert vertices on the longest edges (split evenly) until there are ``min_vertices``."""
    n = len(ring)
    if n >= min_vertices or n < 2:
        return ring
    ends = np.roll(ring, -1, axis=0) if closed else ring[1:]
    starts = ring if closed else ring[:-1]
    lengths = np.hypot(*(ends - starts).T)
    pieces = np.ones(len(starts), dtype=np.int64)
    heap = [(-float(length), i) for i, length in enumerate(lengths)]
    heapq.heapify(heap)
    for _ in range(min_vertices - n):
        _, i = heapq.heappop(heap)
        pieces[i] += 1
        heapq.heappush(heap, (-float(lengths[i]) / pieces[i], i))
    out: list[Coords] = []
    for i in range(len(starts)):
        t = np.arange(pieces[i])[:, None] / pieces[i]
        out.append(starts[i] + t * (ends[i] - starts[i]))
    if not closed:
        out.append(ring[-1:])
    return np.concatenate(out)


def densify_to(ring: Ring, min_vertices: int, *, closed: bool = True) -> Ring:
    """Add vertices along the longest edges until the ring (or line) has ``min_vertices``.

    Each added vertex splits the edge that is currently longest per piece, so new vertices
    spread evenly over the long edges; the shape does not change.
    """
    return to_ring(densify_array(ring_array(ring), min_vertices, closed=closed))
