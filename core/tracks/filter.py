"""The columnar tracking path's table <-> instances moves and ``LabelFilter.instances``
vectorised (label map, task labels, score thresholds, top-k per frame)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from prelabel.model import Box, Instance, Item, SourceRef, TrackTable
from prelabel.tracks.records import Records, record_line

if TYPE_CHECKING:
    from prelabel.filters import LabelFilter

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- table <-> instances ------------------------------------------------------------------


def _attribute_value(value: float, name: str, table: TrackTable) -> float | int:
    if name in table.int_attributes or (name in table.auto_int_attributes and value.is_integer()):
        return int(value)
    return value


def expand(item: Item) -> Item:
    """Move ``item.tracks`` onto the frames as :class:`Instance` objects (the per-object
    path's input), in source order within each frame; clears ``item.tracks``."""
    table = item.tracks
    if table is None or item.frames is None:
        return item
    frames = item.frames
    cols = [c.tolist() for c in (table.frame, table.track, table.line)]
    boxes = zip(
        *(c.tolist() for c in (table.left, table.top, table.width, table.height)), strict=True
    )
    scores = table.score.tolist()
    labels = [table.labels[c] for c in table.label.tolist()]
    attrs = [(k, v.tolist()) for k, v in table.attributes.items()]
    for r, (left, top, width, height) in enumerate(boxes):
        tid = cols[1][r]
        score = scores[r]
        frames[cols[0][r]].instances.append(
            Instance(
                labels[r],
                Box(left, top, width, height),
                SourceRef(table.file, f"line {cols[2][r]}"),
                None if math.isnan(score) else score,
                None if tid < 0 else str(tid),
                {k: _attribute_value(v[r], k, table) for k, v in attrs},
            )
        )
    item.tracks = None
    return item


def appearance(table: TrackTable, frame_pos: IntArray | None = None) -> IntArray:
    """Row indices in the order the per-object path meets them: by frame, then source order."""
    key = table.frame if frame_pos is None else frame_pos[table.frame]
    out: IntArray = np.argsort(key, kind="stable").astype(np.int64)
    return out


# --- filters ------------------------------------------------------------------------------


def _label_decisions(
    filt: LabelFilter, table: TrackTable
) -> tuple[IntArray, list[str], dict[int, str], FloatArray, list[int]]:
    """Per label code: new code (-1 dropped), new labels, drop reasons, thresholds, and the
    codes whose unmatched label is an error."""
    new_code = np.full(len(table.labels), -1, dtype=np.int64)
    new_labels: list[str] = []
    reasons: dict[int, str] = {}
    thresholds = np.full(len(table.labels), np.nan)
    errors: list[int] = []
    for code, original in enumerate(table.labels):
        label = filt.map_label(original)
        if label is None:
            reasons[code] = f"label map: {original!r} is dropped"
            continue
        if filt.allowed and label not in filt.allowed:
            reasons[code] = f"unmatched label: {label!r} is not one of the task's labels"
            if not filt.config.prelabel.allow_unmatched_labels:
                errors.append(code)
            continue
        if label not in new_labels:
            new_labels.append(label)
        new_code[code] = new_labels.index(label)
        threshold = filt._threshold(label, original)
        if threshold is not None:
            thresholds[code] = threshold
    return new_code, new_labels, reasons, thresholds, errors


def filter_table(filt: LabelFilter, table: TrackTable, task: str) -> TrackTable:
    """``LabelFilter.instances`` over every frame of a table: returns the rows to write.

    Raises:
        InputError: an unmatched label without ``allow_unmatched_labels`` (first such row).
    """
    n = len(table)
    if n == 0:
        return table
    new_code, new_labels, reasons, thresholds, errors = _label_decisions(filt, table)
    order = appearance(table)
    if errors:
        bad = order[np.isin(table.label[order], errors)][0]
        original = table.labels[int(table.label[bad])]
        label = filt.map_label(original) or original
        filt._unmatched(label, SourceRef(table.file, f"line {int(table.line[bad])}"))
    records = Records()
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    label_drop = new_code[table.label] < 0
    limit = thresholds[table.label]
    with np.errstate(invalid="ignore"):
        score_drop = ~label_drop & (table.score < limit)
    for r in np.flatnonzero(label_drop | score_drop).tolist():
        original = table.labels[int(table.label[r])]
        reason = reasons.get(int(table.label[r]))
        if reason is None:
            reason = f"score: {table.score[r]:.4g} below threshold {limit[r]:g}"
        line = record_line(table, r, "dropped", original, task, reason=reason)
        records.dropped(int(table.frame[r]) * 2 * n * 2 + int(pos[r]), line, reason)
    keep = ~(label_drop | score_drop)
    out = table if keep.all() else table.take(keep)
    out.label = new_code[out.label].astype(np.int32)
    out.labels = new_labels
    filt.seen.setdefault("box", set()).update(new_labels[c] for c in np.unique(out.label))
    out = _top_k(filt, out, task, records, 2 * n)
    records.flush(filt.report)
    return out


def _top_k(
    filt: LabelFilter, table: TrackTable, task: str, records: Records, stride: int
) -> TrackTable:
    """Keep the ``top_k`` best scored rows per frame (no score ranks as -1), recording drops."""
    k = filt.config.prelabel.top_k
    if k is None or len(table) == 0:
        return table
    n = len(table)
    rank_key = -np.where(np.isnan(table.score), -1.0, table.score)
    order = np.lexsort((np.arange(n), rank_key, table.frame))
    frames = table.frame[order]
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    drop = order[rank >= k]
    for r, rk in zip(drop.tolist(), rank[rank >= k].tolist(), strict=True):
        reason = f"top-k: rank {rk + 1} > {k}"
        label = table.labels[int(table.label[r])]
        line = record_line(table, r, "dropped", label, task, reason=reason)
        records.dropped(int(table.frame[r]) * 2 * stride + stride + rk, line, reason)
    if not len(drop):
        return table
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    return table.take(keep)
