"""Keyframe thinning of tracks: keep only the frames linear interpolation cannot reproduce.

A track is a run of boxes on increasing frame numbers. A frame is dropped (thinned) when the
box interpolated linearly, in frame number, between the kept frames around it matches the
tracker's box within the tolerance: IoU at least ``iou`` and/or every edge within ``px``
pixels (both must hold when both are given). The first and last frame of every run are always
kept, and a gap in frame numbers ends a run, so the frames on both sides of a gap are kept too.

The search is the Ramer-Douglas-Peucker scheme on boxes: interpolate over a span, keep the
worst frame if it breaks the tolerance and split there, until every span passes. Every thinned
frame is then within tolerance of the interpolation between its kept neighbours.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far an interpolated box may be from the tracker's box (None = not checked)."""

    iou: float | None = None
    px: float | None = None

    @property
    def active(self) -> bool:
        return self.iou is not None or self.px is not None


@dataclass(slots=True)
class Thinning:
    """What thinning did to a set of tracks: kept frames and the worst interpolation error."""

    total: int = 0
    kept: int = 0
    worst_iou: float = 1.0
    worst_px: float = 0.0

    @property
    def ratio(self) -> float:
        return self.kept / self.total if self.total else 1.0

    def add(self, other: Thinning) -> None:
        self.total += other.total
        self.kept += other.kept
        self.worst_iou = min(self.worst_iou, other.worst_iou)
        self.worst_px = max(self.worst_px, other.worst_px)

    def describe(self) -> str:
        return (
            f"keyframes: kept {self.kept} of {self.total} track frames (ratio {self.ratio:.3f}); "
            f"worst interpolated box: IoU {self.worst_iou:.4f}, {self.worst_px:.2f} px"
        )


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise IoU of ``(n, 4)`` boxes given as left, top, width, height."""
    ix = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    iy = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    out: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)
    return out


def edge_error(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise largest distance (px) between corresponding edges of ltwh boxes."""
    ea = np.stack([a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]], axis=1)
    eb = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
    out: FloatArray = np.abs(ea - eb).max(axis=1)
    return out


def interpolate(frames: IntArray, boxes: FloatArray, i: int, j: int) -> FloatArray:
    """Boxes of rows ``i+1..j-1`` interpolated linearly (in frame number) from rows i and j."""
    span = float(frames[j] - frames[i])
    w = ((frames[i + 1 : j] - frames[i]) / span)[:, None]
    out: FloatArray = boxes[i] * (1 - w) + boxes[j] * w
    return out


def _violation(truth: FloatArray, guess: FloatArray, tol: Tolerance) -> FloatArray:
    """How badly each row breaks the tolerance (> 0 breaks), comparable within one span."""
    bad = np.zeros(len(truth))
    if tol.iou is not None:
        bad = np.maximum(bad, tol.iou - box_iou(truth, guess))
    if tol.px is not None:
        bad = np.maximum(bad, (edge_error(truth, guess) - tol.px) / max(tol.px, 1.0))
    return bad


def run_starts(frames: IntArray) -> IntArray:
    """Row indices where a run of consecutive frame numbers starts (row 0 included)."""
    if len(frames) == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    out: IntArray = np.concatenate([[0], breaks]).astype(np.int64)
    return out


def keyframes(
    frames: IntArray, boxes: FloatArray, tol: Tolerance, steps: IntArray | None = None
) -> BoolArray:
    """Which rows of one track to keep.

    Args:
        frames: frame numbers, strictly increasing (interpolation runs in them).
        boxes: ``(n, 4)`` boxes as left, top, width, height.
        tol: the tolerance; an inactive one keeps every row.
        steps: where a gap is when the task samples the frames: each row's position in
            the task's frame sequence (default: ``frames``).

    Returns:
        A boolean mask over the rows.
    """
    n = len(frames)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    if not tol.active:
        keep[:] = True
        return keep
    starts = run_starts(frames if steps is None else steps)
    ends = np.append(starts[1:] - 1, n - 1)
    keep[starts] = True
    keep[ends] = True
    stack = [(int(s), int(e)) for s, e in zip(starts, ends, strict=False) if e - s > 1]
    while stack:
        i, j = stack.pop()
        bad = _violation(boxes[i + 1 : j], interpolate(frames, boxes, i, j), tol)
        worst = int(np.argmax(bad))
        if bad[worst] > 0:
            k = i + 1 + worst
            keep[k] = True
            if k - i > 1:
                stack.append((i, k))
            if j - k > 1:
                stack.append((k, j))
    return keep


def measure(frames: IntArray, boxes: FloatArray, keep: BoolArray) -> Thinning:
    """Count kept rows and the worst error of the interpolated (thinned) ones."""
    out = Thinning(total=len(frames), kept=int(keep.sum()))
    kept = np.flatnonzero(keep)
    for i, j in itertools.pairwise(kept):
        if j - i > 1:
            guess = interpolate(frames, boxes, int(i), int(j))
            truth = boxes[i + 1 : j]
            out.worst_iou = min(out.worst_iou, float(box_iou(truth, guess).min()))
            out.worst_px = max(out.worst_px, float(edge_error(truth, guess).max()))
    return out


def thin_track(
    frames: IntArray, boxes: FloatArray, tol: Tolerance, steps: IntArray | None = None
) -> tuple[BoolArray, Thinning]:
    """:func:`keyframes` and :func:`measure` in one call."""
    keep = keyframes(frames, boxes, tol, steps)
    return keep, measure(frames, boxes, keep)


def as_arrays(rows: list[tuple[int, Any]]) -> tuple[IntArray, FloatArray]:
    """``[(frame_number, Box), ...]`` to the arrays the functions above take."""
    frames = np.array([f for f, _ in rows], dtype=np.int64)
    boxes = np.array([(b.left, b.top, b.width, b.height) for _, b in rows], dtype=np.float64)
    return frames, boxes.reshape(-1, 4)
