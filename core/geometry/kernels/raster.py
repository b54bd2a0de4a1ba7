"""Compiled loops of mask -> polygon, raster side: RLE crop decode, pixel-edge rings with
pinch detection, and IoU counted from pixel-row crossings.

Plain Python over numpy arrays, written as the explicit loops a compiler wants; compiled by
:func:`prelabel.geometry.kernels.loader.compiled` (see there for the numpy fallback).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# chain direction index of a step (dx, dy), looked up at 3 * dy + dx + 4: directions
# (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1) are 0..7, growing
# clockwise on screen (x right, y down); the numbering of prelabel.geometry.trace's side tables
STEP_DIR = np.array([5, 6, 7, 4, 0, 0, 3, 2, 1], np.int64)


def rle_extent(s: U8) -> tuple[int, int]:
    """``(sum, smallest)`` of the runs of compressed RLE counts (as :func:`decode_crop`
    reads them): what a mask's runs cover and whether one is negative. A value of more than
    seven 5-bit groups (over 35 bits: longer than any image), or one the string ends
    inside, gives ``(-1, -1)``."""
    total, least, _, _, _, _ = rle_measure(s, 1)
    return total, least


def rle_measure(s: U8, h: int) -> tuple[int, int, int, int, int, int]:
    """:func:`rle_extent` and :func:`pixel_box` (in a frame ``h`` high, its width left
    open) of compressed RLE counts in one pass: ``(sum, smallest, x0, x1, y0, y1)``; the
    box is meaningful only when the runs are none negative and cover the frame.

    The position is kept as a column and a row, so a division is made only where a run
    ends past its column (about once a column), not twice a run of pixels."""
    n = s.size
    total = 0
    least = 0
    x0, x1, y0, y1 = np.int64(1) << 62, -1, h, -1
    col, row = 0, 0  # where the next run starts: pixel col * h + row (column-major)
    before, last = 0, 0  # the values two and one before the current one
    m = 0
    p = 0
    while p < n:
        x = 0
        k = 0
        more = True
        while more and p < n:
            if k == 7:
                return -1, -1, 0, -1, 0, -1
            c = np.int64(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if more:  # the string ends inside a value
            return -1, -1, 0, -1, 0, -1
        if m > 2:
            x += before
        before, last = last, x
        total += x
        least = min(least, x)
        m += 1
        if least < 0:  # no box is meaningful any more: only the sum and least go on
            continue
        end = row + x  # the run ends before pixel col * h + end
        if m & 1 == 0 and x > 0:  # a run of pixels (the values alternate, 0s first)
            x0 = min(x0, col)
            if end <= h:  # inside one column
                x1 = max(x1, col)
                y0, y1 = min(y0, row), max(y1, end - 1)
            else:  # into the next columns: every row
                x1 = max(x1, col + (end - 1) // h)
                y0, y1 = 0, h - 1
        if end < h:
            row = end
        else:
            col += end // h
            row = end % h
    return total, least, x0, x1, y0, y1


def rle_extents(s: U8, ends: I64) -> tuple[I64, I64]:
    """:func:`rle_extent` of many strings in one call: ``s`` their bytes one after the
    other, ``ends`` where each ends; ``(sums, smallest)``, one entry per string."""
    sums = np.empty(ends.size, np.int64)
    least = np.empty(ends.size, np.int64)
    start = 0
    for i in range(ends.size):
        sums[i], least[i] = rle_extent(s[start : ends[i]])
        start = ends[i]
    return sums, least


def whole_mask_boxes(s: U8, ends: I64, h: int, w: int) -> tuple[bool, F64]:
    """Whether every one of many compressed RLE strings (``s`` their bytes one after the
    other, ``ends`` where each ends) has runs none negative that cover an ``h`` x ``w``
    frame exactly (:func:`rle_extent`), and if so each one's pixel box ``[x, y, width,
    height]`` (zeros for a mask without pixels): a results list's mask check and the boxes
    of its masks in one call."""
    boxes = np.zeros((ends.size, 4), np.float64)
    start = 0
    for i in range(ends.size):
        total, least, x0, x1, y0, y1 = rle_measure(s[start : ends[i]], h)
        if total != h * w or least < 0:
            return False, boxes
        if x1 >= 0:
            boxes[i, 0], boxes[i, 1] = x0, y0
            boxes[i, 2], boxes[i, 3] = x1 - x0 + 1, y1 - y0 + 1
        start = ends[i]
    return True, boxes


def runs_of(s: U8) -> I64:
    """The run lengths of compressed RLE counts, as pycocotools' ``rleFrString`` reads them:
    5-bit groups (0x20 = more follows, 0x10 in the last group = negative), offset by 48;
    from the fourth value on, a delta against the one two before."""
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
    return runs[:m]


def pixel_box(runs: I64, h: int, w: int) -> tuple[int, int, int, int]:
    """``(x0, x1, y0, y1)``, inclusive, of the pixels ``runs`` set in an ``h`` x ``w``
    frame (column-major, as COCO counts them); ``x1`` is -1 when they set none."""
    total = h * w
    x0, x1, y0, y1 = w, -1, h, -1
    pos = 0
    for i in range(runs.size):
        r = runs[i]
        if i & 1 and r > 0 and pos < total:
            end = min(pos + r, total)
            c0, c1 = pos // h, (end - 1) // h
            x0, x1 = min(x0, c0), max(x1, c1)
            if c0 != c1:  # the run crosses into the next column: every row
                y0, y1 = 0, h - 1
            else:
                y0, y1 = min(y0, pos % h), max(y1, (end - 1) % h)
        pos += r
    return x0, x1, y0, y1


def decode_crop(s: U8, h: int, w: int) -> tuple[U8, int, int]:
    """Decode compressed RLE counts only inside the mask's bounding box.

    Returns ``(crop, x0, y0)``: the C-ordered ``uint8`` crop (0/1) and its corner; an empty
    ``(0, 0)`` crop for a mask without pixels.
    """
    runs = runs_of(s)
    x0, x1, y0, y1 = pixel_box(runs, h, w)
    total = h * w
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
    contour as ``(N, 2)``), starting at its top-left-most vertex; see :mod:`prelabel.geometry.trace`.

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
    prev_out = STEP_DIR[3 * (p[0, 1] - p[n - 1, 1]) + p[0, 0] - p[n - 1, 0] + 4]
    for k in range(n):
        j = 0 if k == n - 1 else k + 1
        out = STEP_DIR[3 * (p[j, 1] - p[k, 1]) + p[j, 0] - p[k, 0] + 4]
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
    The arithmetic of :func:`prelabel.geometry.rings.rings_to_mask`."""
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
    :func:`prelabel.geometry.rings.rings_to_mask`."""
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
