"""Scoring a segmentation task: segments kept, edited, deleted, added; pixel agreement.

A segment is one labelMapping entry (a plain label, or one instance of an instance label).
A sent segment is paired with the final segment of the same ``index`` when they share a
pixel (or both are empty); the segments left over are paired greedily by pixel IoU >= 0.5.
A paired segment is kept when its label and every pixel are unchanged, else edited
(``relabelled``, ``reshaped`` with the pixel IoU). Pixel accuracy is the share of pixels
whose label (``""`` = unlabeled) is unchanged; per-class IoU compares each label's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from prelabel.responses.local import Content, SegmentEntry
from prelabel.score.results import Matches, ObjectResult, greedy

Array = npt.NDArray[np.int64]
FALLBACK_IOU = 0.5


@dataclass(slots=True)
class Pixels:
    """Pixel agreement summed over tasks: pixels, agreeing pixels, per-label (inter, union)."""

    total: int = 0
    agree: int = 0
    classes: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: Pixels) -> None:
        self.total += other.total
        self.agree += other.agree
        for label, (inter, union) in other.classes.items():
            acc = self.classes.setdefault(label, [0, 0])
            acc[0] += inter
            acc[1] += union

    def as_dict(self) -> dict[str, Any]:
        return {
            "pixels": self.total,
            "pixel_accuracy": round(self.agree / self.total, 6) if self.total else None,
            "class_iou": {
                k: round(i / u, 6) if u else None for k, (i, u) in sorted(self.classes.items())
            },
        }


@dataclass(slots=True)
class Overlaps:
    """Pixel counts of the two index arrays: per segment and per (sent, final) pair."""

    sent: Array
    final: Array
    pairs: dict[tuple[int, int], int]

    @classmethod
    def of(cls, a: Array, b: Array) -> Overlaps:
        width = int(b.max(initial=0)) + 1
        codes, counts = np.unique(a.ravel() * width + b.ravel(), return_counts=True)
        pairs = {
            (int(c) // width, int(c) % width): int(n) for c, n in zip(codes, counts, strict=True)
        }
        return cls(np.bincount(a.ravel()), np.bincount(b.ravel()), pairs)

    def area(self, side: Array, index: int) -> int:
        return int(side[index]) if index < len(side) else 0

    def iou(self, i: int, j: int) -> float:
        inter = self.pairs.get((i, j), 0)
        union = self.area(self.sent, i) + self.area(self.final, j) - inter
        return inter / union if union else 1.0


def score_segments(
    sent: Content, final: Content, matches: Matches
) -> tuple[list[ObjectResult], Pixels, list[str]]:
    """Object results, pixel agreement and notes of one segmentation task."""
    if sent.index is None or final.index is None or sent.index.shape != final.index.shape:
        note = "index PNG missing or of another size: segments compared by labelMapping only"
        results = [ObjectResult("deleted", e.label, index=e.index) for e in sent.segments]
        results += [ObjectResult("added", e.label, index=e.index) for e in final.segments]
        return results, Pixels(), [note]
    ov = Overlaps.of(sent.index, final.index)
    pairs = pair_segments(sent.segments, final.segments, ov)
    results = [_paired(a, b, ov) for a, b in pairs]
    done_s, done_f = {a.index for a, _ in pairs}, {b.index for _, b in pairs}
    results += [
        ObjectResult("deleted", e.label, index=e.index)
        for e in sent.segments
        if e.index not in done_s
    ]
    results += [
        ObjectResult("added", e.label, index=e.index)
        for e in final.segments
        if e.index not in done_f
    ]
    _match(sent.segments, final.segments, ov, matches)
    return results, pixels(sent, final), []


def pair_segments(
    sent: list[SegmentEntry], final: list[SegmentEntry], ov: Overlaps
) -> list[tuple[SegmentEntry, SegmentEntry]]:
    by_index = {e.index: e for e in final}
    pairs = [
        (a, by_index[a.index])
        for a in sent
        if a.index in by_index
        and (
            ov.pairs.get((a.index, a.index))
            or not (ov.area(ov.sent, a.index) or ov.area(ov.final, a.index))
        )
    ]
    done_s, done_f = {a.index for a, _ in pairs}, {b.index for _, b in pairs}
    rest_s = [a for a in sent if a.index not in done_s]
    rest_f = [b for b in final if b.index not in done_f]
    candidates = [
        (ov.iou(a.index, b.index), i, j) for i, a in enumerate(rest_s) for j, b in enumerate(rest_f)
    ]
    chosen = greedy([c for c in candidates if c[0] >= FALLBACK_IOU])
    return pairs + [(rest_s[i], rest_f[j]) for _, i, j in chosen]


def _paired(a: SegmentEntry, b: SegmentEntry, ov: Overlaps) -> ObjectResult:
    same_pixels = (
        ov.pairs.get((a.index, b.index), 0)
        == ov.area(ov.sent, a.index)
        == ov.area(ov.final, b.index)
    )
    details = (["relabelled"] if a.label != b.label else []) + ([] if same_pixels else ["reshaped"])
    if not details:
        return ObjectResult("kept", a.label, index=a.index)
    value = None if same_pixels else ov.iou(a.index, b.index)
    new = b.label if a.label != b.label else None
    return ObjectResult("edited", a.label, index=a.index, details=details, iou=value, new_label=new)


def _match(
    sent: list[SegmentEntry], final: list[SegmentEntry], ov: Overlaps, into: Matches
) -> None:
    for label in {e.label for e in [*sent, *final]}:
        s = [e for e in sent if e.label == label and ov.area(ov.sent, e.index)]
        f = [e for e in final if e.label == label and ov.area(ov.final, e.index)]
        pairs = [(ov.iou(a.index, b.index), i, j) for i, a in enumerate(s) for j, b in enumerate(f)]
        into.add(label, len(s), len(f), [v for v, _, _ in greedy(pairs)])


def _labels(content: Content, names: dict[str, int]) -> Array:
    assert content.index is not None
    table = np.zeros(int(content.index.max(initial=0)) + 1, dtype=np.int64)
    for e in content.segments:
        if e.index < len(table):
            table[e.index] = names.setdefault(e.label, len(names) + 1)
    out: Array = table[content.index]
    return out


def pixels(sent: Content, final: Content) -> Pixels:
    """Pixel accuracy and per-class (intersection, union) of two label rasters."""
    names: dict[str, int] = {}
    a, b = _labels(sent, names), _labels(final, names)
    out = Pixels(int(a.size), int((a == b).sum()))
    for label, code in names.items():
        sa, sb = a == code, b == code
        out.classes[label] = [int((sa & sb).sum()), int((sa | sb).sum())]
    return out
