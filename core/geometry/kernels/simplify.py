"""Compiled loops of mask -> polygon, vector side: edge-midpoint rings, Douglas-Peucker
ranking and selection within a vertex budget, and a strict simplicity check.

Plain Python over numpy arrays, written as the explicit loops a compiler wants; compiled by
:func:`prelabel.geometry.kernels.loader.compiled` (see there for the fallback).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def midpoint_ring(ring: F64) -> F64:
    """The ring through the midpoints of a pixel-edge ring's edges (see
    :func:`prelabel.geometry.simplify.midpoint_ring`); an empty ``(0, 2)`` array when ``ring`` does
    not run along pixel edges (a vertex off the integer grid, an edge not axis-aligned)."""
    n = ring.shape[0]
    out = np.empty((2 * n, 2), np.float64)
    m = 0
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        x, y = ring[k, 0], ring[k, 1]
        dx, dy = ring[j, 0] - x, ring[j, 1] - y
        if x != math.floor(x) or y != math.floor(y) or (dx == 0) == (dy == 0):
            return np.empty((0, 2), np.float64)
        length = abs(dx) + abs(dy)
        hx, hy = dx * (0.5 / length), dy * (0.5 / length)
        out[m, 0], out[m, 1] = x + hx, y + hy
        m += 1
        if length > 1:
            out[m, 0], out[m, 1] = x + dx - hx, y + dy - hy
            m += 1
    return _drop_collinear(out[:m])


def _drop_collinear(ring: F64) -> F64:
    """``ring`` without the vertices collinear with their two neighbours."""
    n = ring.shape[0]
    keep = np.empty(n, np.bool_)
    kept = 0
    for k in range(n):
        i, j = (k - 1) % n, (k + 1) % n
        ux, uy = ring[k, 0] - ring[i, 0], ring[k, 1] - ring[i, 1]
        vx, vy = ring[j, 0] - ring[k, 0], ring[j, 1] - ring[k, 1]
        keep[k] = ux * vy != uy * vx
        kept += keep[k]
    out = np.empty((kept, 2), np.float64)
    m = 0
    for k in range(n):
        if keep[k]:
            out[m] = ring[k]
            m += 1
    return out


def dp_ranks(ring: F64) -> F64:
    """For each vertex of a closed ring, the largest Douglas-Peucker tolerance that keeps it.

    The ring is split at two far-apart vertices (both ranked infinite): the vertex farthest
    from vertex 0, and the vertex farthest from that one (close to the ring's diameter, as
    OpenCV's ``approxPolyDP`` starts); then each chain at its vertex farthest from the
    chord's line, recursively. A vertex is
    kept at tolerance ``t`` exactly when its own distance and every enclosing split's exceed
    ``t``, so its rank is the smallest of those distances, and Douglas-Peucker at any
    tolerance keeps the vertices ranked above it: one pass ranks them all, and the
    least-lossy result within a vertex budget is the top of the ranking.
    """
    n = ring.shape[0]
    rank = np.zeros(n, np.float64)
    if n == 0:
        return rank
    first = 0
    for _ in range(2):
        origin, best = first, -1.0
        for k in range(n):
            ex, ey = ring[k, 0] - ring[origin, 0], ring[k, 1] - ring[origin, 1]
            d = ex * ex + ey * ey
            if d > best:
                first, best = k, d
    far = first
    first = origin
    rank[first] = np.inf
    rank[far] = np.inf
    lo, hi = min(first, far), max(first, far)
    # chains as (first, last, cap) in indices that wrap: last may run past n
    stack = [(lo, hi, np.inf), (hi, lo + n, np.inf)]
    while stack:
        i, j, cap = stack.pop()
        if j - i < 2:
            continue
        ax, ay = ring[i % n, 0], ring[i % n, 1]
        bx, by = ring[j % n, 0], ring[j % n, 1]
        dx, dy = bx - ax, by - ay
        norm = math.sqrt(dx * dx + dy * dy)
        k_best, d_best = i + 1, -1.0
        for k in range(i + 1, j):
            px, py = ring[k % n, 0] - ax, ring[k % n, 1] - ay
            d = abs(dx * py - dy * px) / norm if norm > 0 else math.sqrt(px * px + py * py)
            if d > d_best:
                k_best, d_best = k, d
        r = min(d_best, cap)
        rank[k_best % n] = r
        stack.append((i, k_best, r))
        stack.append((k_best, j, r))
    return rank


def ring_ranks(points: F64, starts: I64) -> F64:
    """:func:`dp_ranks` of every ring (concatenated, ring ``i`` at ``starts[i]:starts[i+1]``),
    with each ring's best-ranked other vertex raised to infinite too, so that any tolerance
    keeps at least a triangle of every ring."""
    out = np.empty(points.shape[0], np.float64)
    for i in range(starts.size - 1):
        a, b = starts[i], starts[i + 1]
        rank = dp_ranks(points[a:b])
        best, at = -1.0, -1
        for k in range(b - a):
            if rank[k] != np.inf and rank[k] > best:
                best, at = rank[k], k
        if at >= 0:
            rank[at] = np.inf
        out[a:b] = rank
    return out


def ranked_select(points: F64, starts: I64, keeps: I64) -> tuple[F64, I64, float]:
    """Douglas-Peucker of all rings at one shared tolerance, from one ranking pass
    (:func:`ring_ranks`): for each vertex count in ``keeps`` in turn, the tolerance that
    keeps at most that many vertices in all, until the result is a polygon whose rings do
    not touch (:func:`simple_part`). Returns the kept vertices (concatenated), where each
    ring starts, and the tolerance; an empty result when no count gives one."""
    ranks = ring_ranks(points, starts)
    ordered = np.sort(ranks)[::-1]
    nr = starts.size - 1
    tried = -1.0
    for keep in keeps:
        tolerance = ordered[keep] if keep < ordered.size else 0.0
        if tolerance == tried:
            continue
        tried = tolerance
        cut = np.zeros(nr + 1, np.int64)
        for i in range(nr):
            n = 0
            for k in range(starts[i], starts[i + 1]):
                n += ranks[k] > tolerance
            cut[i + 1] = cut[i] + n
        kept = np.empty((cut[nr], 2), np.float64)
        m = 0
        for k in range(points.shape[0]):
            if ranks[k] > tolerance:
                kept[m] = points[k]
                m += 1
        if simple_part(kept, cut):
            return kept, cut, tolerance
    return np.empty((0, 2), np.float64), np.zeros(1, np.int64), 0.0


def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def _touch(
    ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float, dy: float
) -> bool:
    """Whether closed segments ab and cd share any point (exact for coordinates on a
    half-pixel grid: every product is exact in float64)."""
    d1, d2 = _orient(cx, cy, dx, dy, ax, ay), _orient(cx, cy, dx, dy, bx, by)
    d3, d4 = _orient(ax, ay, bx, by, cx, cy), _orient(ax, ay, bx, by, dx, dy)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and (
        (d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)
    ):
        return True
    for px, py, e0x, e0y, e1x, e1y, d in (
        (ax, ay, cx, cy, dx, dy, d1),
        (bx, by, cx, cy, dx, dy, d2),
        (cx, cy, ax, ay, bx, by, d3),
        (dx, dy, ax, ay, bx, by, d4),
    ):
        if d == 0 and min(e0x, e1x) <= px <= max(e0x, e1x) and min(e0y, e1y) <= py <= max(e0y, e1y):
            return True
    return False


def _inside(px: float, py: float, points: F64, a: int, b: int) -> bool:
    """Even-odd point-in-ring test (the point is on no edge)."""
    inside = False
    for k in range(a, b):
        j = k + 1 if k + 1 < b else a
        yk, yj = points[k, 1], points[j, 1]
        if (yk > py) != (yj > py):
            x = points[k, 0] + (py - yk) * (points[j, 0] - points[k, 0]) / (yj - yk)
            if px < x:
                inside = not inside
    return inside


def simple_part(points: F64, starts: I64) -> bool:
    """Whether an exterior ring and its holes (concatenated, ring 0 the exterior) form a valid
    polygon whose rings do not even touch: every ring has 3+ vertices and area, no two
    edges meet except consecutive ones at their shared vertex (and those do not fold back),
    every hole lies inside the exterior and outside the other holes. Stricter than GEOS
    (which lets a hole touch its exterior at one point), never looser."""
    nr = starts.size - 1
    n = points.shape[0]
    ring_of = np.empty(n, np.int64)
    for i in range(nr):
        a, b = starts[i], starts[i + 1]
        if b - a < 3:
            return False
        area = 0.0
        for k in range(a, b):
            j = k + 1 if k + 1 < b else a
            area += points[k, 0] * points[j, 1] - points[j, 0] * points[k, 1]
            ring_of[k] = i
        if area == 0:
            return False
    nxt = np.empty(n, np.int64)
    xmin = np.empty(n, np.float64)
    xmax = np.empty(n, np.float64)
    for i in range(nr):
        a, b = starts[i], starts[i + 1]
        for k in range(a, b):
            nxt[k] = k + 1 if k + 1 < b else a
    for k in range(n):
        j = nxt[k]
        xmin[k] = min(points[k, 0], points[j, 0])
        xmax[k] = max(points[k, 0], points[j, 0])
        # consecutive edges k -> j -> nxt[j] must not fold back on each other
        m = nxt[j]
        ux, uy = points[j, 0] - points[k, 0], points[j, 1] - points[k, 1]
        vx, vy = points[m, 0] - points[j, 0], points[m, 1] - points[j, 1]
        if ux * vy - uy * vx == 0 and ux * vx + uy * vy <= 0:
            return False
    order = np.argsort(xmin, kind="mergesort")
    for oi in range(n):
        e = order[oi]
        f_end = nxt[e]
        ymin_e = min(points[e, 1], points[f_end, 1])
        ymax_e = max(points[e, 1], points[f_end, 1])
        for oj in range(oi + 1, n):
            g = order[oj]
            if xmin[g] > xmax[e]:
                break
            g_end = nxt[g]
            if (
                min(points[g, 1], points[g_end, 1]) > ymax_e
                or max(points[g, 1], points[g_end, 1]) < ymin_e
            ):
                continue
            if g == f_end or e == g_end:  # consecutive edges: checked above
                continue
            if _touch(
                points[e, 0],
                points[e, 1],
                points[f_end, 0],
                points[f_end, 1],
                points[g, 0],
                points[g, 1],
                points[g_end, 0],
                points[g_end, 1],
            ):
                return False
    for i in range(1, nr):  # no edges cross, so one vertex tells where a whole hole is
        px, py = points[starts[i], 0], points[starts[i], 1]
        if not _inside(px, py, points, starts[0], starts[1]):
            return False
        for j in range(1, nr):
            if j != i and _inside(px, py, points, starts[j], starts[j + 1]):
                return False
    return True
