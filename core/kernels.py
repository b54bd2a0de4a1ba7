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

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
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
    # filled column by column (the RLE's order), transposed once at the end
    cols = np.zeros((x1 - x0 + 1, y1 - y0 + 1), np.uint8)
    pos = 0
    for i in range(runs.size):
        r = runs[i]
        if i & 1 and r > 0 and pos < total:
            j, end = pos, min(pos + r, total)
            while j < end:
                col, row = j // h, j % h
                stop = min(end - j, h - row)
                lo = max(row, y0) - y0
                hi = min(row + stop, y1 + 1) - y0
                for k in range(lo, hi):
                    cols[col - x0, k] = 1
                j += stop
        pos += r
    return np.ascontiguousarray(cols.T), x0, y0


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


def rings_iou(points: F64, starts: I64, crop: U8, ox: float, oy: float) -> float:
    """IoU by pixel centres of rings (OR-ed, each simple or keyholed) with a mask crop.

    ``points`` holds every ring's vertices one after another, ring ``i`` at
    ``starts[i]:starts[i + 1]``; ``crop`` is the mask inside its box, whose top-left pixel
    corner is image point ``(ox, oy)`` (integers). Each row's crossings use the arithmetic of
    :func:`prelabel.rings.rings_to_mask`, so a centre on a left edge is inside.
    """
    h, w = crop.shape
    # the window: the crop and every ring's reach, in whole pixels
    wx0, wy0, wx1, wy1 = 0, 0, w, h
    for k in range(points.shape[0]):
        wx0 = min(wx0, math.floor(points[k, 0] - ox))
        wy0 = min(wy0, math.floor(points[k, 1] - oy))
        wx1 = max(wx1, math.ceil(points[k, 0] - ox) + 1)
        wy1 = max(wy1, math.ceil(points[k, 1] - oy) + 1)
    ww, wh = wx1 - wx0, wy1 - wy0
    cover = np.zeros((wh, ww + 1), np.int32)
    bx, by = ox + wx0, oy + wy0  # image point of the window's corner
    for i in range(starts.size - 1):
        a, b = starts[i], starts[i + 1]
        area = 0.0
        for k in range(a, b):
            j = k + 1 if k + 1 < b else a
            area += points[k, 0] * points[j, 1] - points[j, 0] * points[k, 1]
        sign = -1 if area > 0 else 1  # each ring adds 1 inside itself, whichever way it turns
        for k in range(a, b):
            j = k + 1 if k + 1 < b else a
            px, py = points[k, 0] - bx, points[k, 1] - by
            qx, qy = points[j, 0] - bx, points[j, 1] - by
            if py == qy:
                continue
            step = sign if qy > py else -sign
            r0 = max(math.ceil(min(py, qy) - 0.5), 0)
            r1 = min(math.ceil(max(py, qy) - 0.5), wh)
            for row in range(r0, r1):
                x = px + ((row + 0.5 - py) * (qx - px)) / (qy - py)
                col = min(max(math.ceil(x - 0.5), 0), ww)
                cover[row, col] += step
    inter = 0
    union = 0
    for row in range(wh):
        run = 0
        cy = row + wy0
        for col in range(ww):
            run += cover[row, col]
            cx = col + wx0
            on = 0 <= cy < h and 0 <= cx < w and crop[cy, cx] != 0
            if run > 0:
                union += 1
                if on:
                    inter += 1
            elif on:
                union += 1
    return 1.0 if union == 0 else inter / union


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


@dataclass(frozen=True)
class Kernels:
    """The compiled functions (same signatures as the module-level ones)."""

    decode_crop: Callable[[U8, int, int], tuple[U8, int, int]]
    edge_ring: Callable[[I32, I32, I32], F64]
    rings_iou: Callable[[F64, I64, U8, float, float], float]
    dp_ranks: Callable[[F64], F64]


@cache
def compiled() -> Kernels | None:
    """The numba-compiled kernels, or None when numba is missing or ``PRELABEL_JIT=0``."""
    if os.environ.get("PRELABEL_JIT", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None
    jit: Any = numba.njit(cache=True, nogil=True)
    return Kernels(
        decode_crop=jit(decode_crop),
        edge_ring=jit(edge_ring),
        rings_iou=jit(rings_iou),
        dp_ranks=jit(dp_ranks),
    )
