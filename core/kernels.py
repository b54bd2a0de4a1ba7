"""Compiled inner loops of mask -> polygon: RLE crop decode, pixel-edge rings, ring IoU.

Each function here is plain Python over numpy arrays, written as the explicit loops a
compiler wants. :func:`compiled` returns them compiled by numba (imported on first use, so
``import prelabel`` and the tracking paths never pay for it; machine code cached on disk
next to this file). When numba cannot be imported, or ``PRELABEL_JIT=0`` is set, callers
use their vectorised numpy versions instead: both give identical results (the tests compare
them on real masks and random ones), the compiled ones only skip numpy's per-call overhead,
which dominates on the small arrays of one object.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import FunctionType
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# chain direction index (0 = +x, growing clockwise on screen) of a step (dx, dy), looked up
# at 3 * dy + dx + 4; the same numbering as prelabel.trace
_STEP_DIR = np.array([5, 6, 7, 4, 0, 0, 3, 2, 1], np.int64)


def decode_crop(s: U8, h: int, w: int) -> tuple[U8, int, int]:
    """Decode compressed RLE counts only inside the mask's bounding box.

    Returns ``(crop, x0, y0)``: the C-ordered ``uint8`` crop (0/1) and its corner; an empty
    ``(0, 0)`` crop for a mask without pixels.
    """
    # pycocotools' rleFrString: 5-bit groups (0x20 = more follows, 0x10 in the last group =
    # negative), offset by 48; from the fourth value on, a delta against the one two before
    n = s.size
    runs = np.empty(n, np.int64)
    m = 0
    p = 0
    while p < n:
        x = 0
        k = 0
        more = True
        while more and p < n:
            c = np.int64(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += runs[m - 2]
        runs[m] = x
        m += 1
    runs = runs[:m]
    total = h * w
    x0, x1, y0, y1 = w, -1, h, -1
    pos = 0
    for i in range(runs.size):
        r = runs[i]
        if i & 1 and r > 0 and pos < total:
            end = min(pos + r, total)
            c0, c1 = pos // h, (end - 1) // h
            x0, x1 = min(x0, c0), max(x1, c1)
            if c0 != c1:
                y0, y1 = 0, h - 1
            else:
                y0, y1 = min(y0, pos % h), max(y1, (end - 1) % h)
        pos += r
    if x1 < 0:
        return np.zeros((0, 0), np.uint8), 0, 0
    crop = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    pos = 0
    for i in range(runs.size):
        r = runs[i]
        if i & 1 and r > 0 and pos < total:
            j, end = pos, min(pos + r, total)
            while j < end:  # one column's share of the run at a time
                col, row = j // h, j % h
                stop = min(end - j, h - row)
                for k in range(max(row, y0) - y0, min(row + stop, y1 + 1) - y0):
                    crop[k, col - x0] = 1
                j += stop
        pos += r
    return crop, x0, y0


def edge_ring(p: I32, sides: I32, corners: I32) -> F64:
    """The pixel-edge ring around a pinch-free border-pixel chain (OpenCV ``CHAIN_APPROX_NONE``
    contour as ``(N, 2)``), starting at its top-left-most vertex; see :mod:`prelabel.trace`.

    ``sides``/``corners`` are the ``(64, 4)`` side and ``(64, 4, 2)`` start-corner tables of
    the trace, indexed by ``8 * back + out`` step directions.
    """
    n = p.shape[0]
    if n == 1:
        out1 = np.empty((4, 2), np.float64)
        for k, (dx, dy) in enumerate(((0, 0), (0, 1), (1, 1), (1, 0))):
            out1[k, 0] = p[0, 0] + dx
            out1[k, 1] = p[0, 1] + dy
        return out1
    codes = np.empty(n, np.int64)
    prev_out = _STEP_DIR[3 * (p[0, 1] - p[n - 1, 1]) + p[0, 0] - p[n - 1, 0] + 4]
    for k in range(n):
        j = 0 if k == n - 1 else k + 1
        out = _STEP_DIR[3 * (p[j, 1] - p[k, 1]) + p[j, 0] - p[k, 0] + 4]
        codes[k] = (prev_out ^ 4) * 8 + out
        prev_out = out
    last = -1  # the ring's last side, where the walk comes back to the start
    for k in range(n):
        for slot in range(4):
            if sides[codes[k], slot] >= 0:
                last = sides[codes[k], slot]
    ring = np.empty((4 * n, 2), np.float64)
    m = 0
    for k in range(n):
        for slot in range(4):
            side = sides[codes[k], slot]
            if side >= 0 and side != last:
                ring[m, 0] = corners[codes[k], slot, 0] + p[k, 0]
                ring[m, 1] = corners[codes[k], slot, 1] + p[k, 1]
                m += 1
            if side >= 0:
                last = side
    start = 0
    for k in range(1, m):
        if ring[k, 1] < ring[start, 1] or (
            ring[k, 1] == ring[start, 1] and ring[k, 0] < ring[start, 0]
        ):
            start = k
    out2 = np.empty((m, 2), np.float64)
    for k in range(m):
        out2[k] = ring[(start + k) % m]
    return out2


def edge_rings(
    chains: I32, starts: I64, binary: U8, sides: I32, corners: I32
) -> tuple[F64, I64, bool]:
    """:func:`edge_ring` of every border chain of one trace at once, and whether ``binary``
    has a pinch (two on pixels touching only at a corner, the other two off).

    ``chains`` holds the chains one after another, chain ``i`` at ``starts[i]:starts[i+1]``.
    Every pinch is crossed by some border chain as a diagonal step whose two side pixels are
    off, so the chains are all that needs looking at. Returns the rings the same way
    (concatenated, with their starts) and the pinch flag.
    """
    total = 0
    pieces = []
    pinch = False
    h, w = binary.shape
    for i in range(starts.size - 1):
        p = chains[starts[i] : starts[i + 1]]
        n = p.shape[0]
        for k in range(n):
            j = 0 if k == n - 1 else k + 1
            dx, dy = p[j, 0] - p[k, 0], p[j, 1] - p[k, 1]
            if dx != 0 and dy != 0:
                x, y = p[k, 0], p[k, 1]
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    if binary[y, x + dx] == 0 and binary[y + dy, x] == 0:
                        pinch = True
        ring = edge_ring(p, sides, corners)
        pieces.append(ring)
        total += ring.shape[0]
    out = np.empty((total, 2), np.float64)
    ring_starts = np.zeros(len(pieces) + 1, np.int64)
    m = 0
    for i, ring in enumerate(pieces):
        out[m : m + ring.shape[0]] = ring
        m += ring.shape[0]
        ring_starts[i + 1] = m
    return out, ring_starts, pinch


def _crossings(
    points: F64,
    starts: I64,
    weights: I64,
    rmin: int,
    count: I64,
    fill: bool,
    cols: I64,
    steps: I64,
    offsets: I64,
) -> None:
    """Count (``fill`` False) or write (True) the pixel-row crossings of rings: for each edge
    and each row whose centre line it crosses, the first column whose centre is at or right
    of the crossing and the winding step, signed so each ring adds its weight inside itself.
    The arithmetic of :func:`prelabel.rings.rings_to_mask`."""
    for i in range(starts.size - 1):
        a, b = starts[i], starts[i + 1]
        area = 0.0
        for k in range(a, b):
            j = k + 1 if k + 1 < b else a
            area += points[k, 0] * points[j, 1] - points[j, 0] * points[k, 1]
        sign = -weights[i] if area > 0 else weights[i]
        for k in range(a, b):
            j = k + 1 if k + 1 < b else a
            px, py, qx, qy = points[k, 0], points[k, 1], points[j, 0], points[j, 1]
            if py == qy:
                continue
            step = sign if qy > py else -sign
            r0 = math.ceil(min(py, qy) - 0.5)
            r1 = math.ceil(max(py, qy) - 0.5)
            for row in range(r0, r1):
                slot = row - rmin
                if fill:
                    x = px + ((row + 0.5 - py) * (qx - px)) / (qy - py)
                    at = offsets[slot] + count[slot]
                    cols[at] = math.ceil(x - 0.5)
                    steps[at] = step
                count[slot] += 1


def rings_iou(
    a_points: F64, a_starts: I64, a_weights: I64, b_points: F64, b_starts: I64, b_weights: I64
) -> float:
    """IoU by pixel centres of shapes A and B, each given as rings weighted +1 (an exterior,
    or a simple or keyholed ring on its own) or -1 (a hole); A's exteriors may overlap (they
    are OR-ed), B's parts are disjoint. Counted along pixel rows from the rings' crossings
    with each row's centre line: the cost grows with the outlines, not the area, and no
    raster is made. A centre on a left edge is inside, as in
    :func:`prelabel.rings.rings_to_mask`."""
    lo, hi = np.inf, -np.inf
    for k in range(a_points.shape[0]):
        lo, hi = min(lo, a_points[k, 1]), max(hi, a_points[k, 1])
    for k in range(b_points.shape[0]):
        lo, hi = min(lo, b_points[k, 1]), max(hi, b_points[k, 1])
    if not lo <= hi:
        return 1.0
    rmin = math.ceil(lo - 0.5)
    nrows = math.ceil(hi - 0.5) - rmin + 1
    none = np.zeros(0, np.int64)
    count_a = np.zeros(nrows, np.int64)
    count_b = np.zeros(nrows, np.int64)
    _crossings(a_points, a_starts, a_weights, rmin, count_a, False, none, none, none)
    _crossings(b_points, b_starts, b_weights, rmin, count_b, False, none, none, none)
    offsets = np.zeros(nrows + 1, np.int64)
    for r in range(nrows):
        offsets[r + 1] = offsets[r] + count_a[r] + count_b[r]
    total = offsets[nrows]
    cols = np.empty(total, np.int64)
    steps = np.empty(total, np.int64)
    in_b = np.empty(total, np.bool_)
    fill_a = np.zeros(nrows, np.int64)
    _crossings(a_points, a_starts, a_weights, rmin, fill_a, True, cols, steps, offsets)
    for r in range(nrows):
        for k in range(offsets[r], offsets[r] + count_a[r]):
            in_b[k] = False
        for k in range(offsets[r] + count_a[r], offsets[r + 1]):
            in_b[k] = True
    # B's crossings go after A's in each row
    fill_b = count_a.copy()
    _crossings(b_points, b_starts, b_weights, rmin, fill_b, True, cols, steps, offsets)
    inter = 0
    union = 0
    for r in range(nrows):
        s0, s1 = offsets[r], offsets[r + 1]
        # insertion sort of the row's few crossings by column
        for k in range(s0 + 1, s1):
            c, st, ib = cols[k], steps[k], in_b[k]
            j = k - 1
            while j >= s0 and cols[j] > c:
                cols[j + 1], steps[j + 1], in_b[j + 1] = cols[j], steps[j], in_b[j]
                j -= 1
            cols[j + 1], steps[j + 1], in_b[j + 1] = c, st, ib
        wa = 0
        wb = 0
        for k in range(s0, s1 - 1):
            if in_b[k]:
                wb += steps[k]
            else:
                wa += steps[k]
            span = cols[k + 1] - cols[k]
            if wa > 0 or wb > 0:
                union += span
                if wa > 0 and wb > 0:
                    inter += span
    return 1.0 if union == 0 else inter / union


def midpoint_ring(ring: F64) -> F64:
    """The ring through the midpoints of a pixel-edge ring's edges (see
    :func:`prelabel.simplify.midpoint_ring`); an empty ``(0, 2)`` array when ``ring`` does
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

    The ring is split at vertex 0 and the vertex farthest from it (both ranked infinite),
    then each chain at its vertex farthest from the chord's line, recursively. A vertex is
    kept at tolerance ``t`` exactly when its own distance and every enclosing split's exceed
    ``t``, so its rank is the smallest of those distances, and Douglas-Peucker at any
    tolerance keeps the vertices ranked above it: one pass ranks them all, and the
    least-lossy result within a vertex budget is the top of the ranking.
    """
    n = ring.shape[0]
    rank = np.zeros(n, np.float64)
    if n == 0:
        return rank
    far, best = 0, -1.0
    for k in range(1, n):
        ex, ey = ring[k, 0] - ring[0, 0], ring[k, 1] - ring[0, 1]
        d = ex * ex + ey * ey
        if d > best:
            far, best = k, d
    rank[0] = np.inf
    rank[far] = np.inf
    # chains as (first, last, cap) in indices that wrap: last may run past n
    stack = [(0, far, np.inf), (far, n, np.inf)]
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


@dataclass(frozen=True)
class Kernels:
    """The compiled functions (same signatures as the module-level ones)."""

    decode_crop: Callable[[U8, int, int], tuple[U8, int, int]]
    edge_ring: Callable[[I32, I32, I32], F64]
    rings_iou: Callable[[F64, I64, I64, F64, I64, I64], float]
    dp_ranks: Callable[[F64], F64]
    midpoint_ring: Callable[[F64], F64]
    edge_rings: Callable[[I32, I64, U8, I32, I32], tuple[F64, I64, bool]]
    ring_ranks: Callable[[F64, I64], F64]
    simple_part: Callable[[F64, I64], bool]
    ranked_select: Callable[[F64, I64, I64], tuple[F64, I64, float]]


# compiled in this order: a kernel that calls another finds it already compiled
_ORDER = (
    "_orient",
    "_touch",
    "_inside",
    "_drop_collinear",
    "_crossings",
    "edge_ring",
    "dp_ranks",
    "decode_crop",
    "edge_rings",
    "rings_iou",
    "midpoint_ring",
    "ring_ranks",
    "simple_part",
    "ranked_select",
)


@cache
def compiled() -> Kernels | None:
    """The numba-compiled kernels, or None when numba is missing or ``PRELABEL_JIT=0``.

    Each function is compiled from a copy that sees the compiled versions of the helpers it
    calls; the module's own functions stay plain Python."""
    if os.environ.get("PRELABEL_JIT", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None
    jit: Any = numba.njit(cache=True, nogil=True)
    namespace = dict(globals())
    for name in _ORDER:
        code = namespace[name].__code__
        namespace[name] = jit(FunctionType(code, namespace, name))
    fields = {f.name for f in dataclasses.fields(Kernels)}
    return Kernels(**{name: namespace[name] for name in fields})
