"""``LabelFilter.instances`` over a tracking file's table, vectorised (label map, task labels,
score thresholds, top-k per frame), and the order the filters and writers meet its rows."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from prelabel.config.load import TaskConfig
from prelabel.model import SourceRef, TrackTable
from prelabel.output.report import Report
from prelabel.tracks.records import Records, record_line

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def appearance(table: TrackTable, frame_pos: IntArray | None = None) -> IntArray:
    """Row indices by frame (or by ``frame_pos`` of each frame), then in table order."""
    key = table.frame if frame_pos is None else frame_pos[table.frame]
    if not len(key) or bool((key[1:] >= key[:-1]).all()):  # a file in frame order
        return np.arange(len(key), dtype=np.int64)
    out: IntArray = np.argsort(key, kind="stable").astype(np.int64)
    return out


# --- filters ------------------------------------------------------------------------------


class LabelFilter(Protocol):
    """What the table filter needs of ``prelabel.filters.LabelFilter`` (its rules)."""

    config: TaskConfig
    report: Report
    allowed: frozenset[str]
    seen: dict[str, set[str]]

    def map_label(self, label: str) -> str | None: ...

    def threshold(self, label: str, original: str) -> float | None: ...

    def unmatched(self, label: str, source: SourceRef) -> str: ...


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
        threshold = filt.threshold(label, original)
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
        filt.unmatched(label, table.source(int(bad)))
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
    used = np.flatnonzero(np.bincount(out.label, minlength=len(new_labels)))
    filt.seen.setdefault("box", set()).update(new_labels[c] for c in used.tolist())
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
