"""Format-neutral filtering applied to every reader's output before the writers.

In order, per instance: the label map (rename, merge, drop), score thresholds (per label,
else global), the task's label set (an error, or a drop with ``allow_unmatched_labels``),
then top-k per image or frame. Every instance removed here is recorded in the report.
Raster segments get the same label map and label checks. A tracking item's columnar
table (``Item.tracks``) gets the same filters vectorised (:meth:`LabelFilter.table`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prelabel.config.load import TaskConfig
from prelabel.config.params import suggest
from prelabel.errors import InputError
from prelabel.model import (
    IndexRaster,
    Instance,
    ObjectColumns,
    RasterSource,
    SourceRef,
    TrackTable,
)
from prelabel.output.report import Report


def _load_label_map(path: str | None) -> dict[str, str | None]:
    if path is None:
        return {}
    from prelabel.config.labelmap import load_label_map

    return load_label_map(path)


def label_hint(label: str, allowed: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the task label ``label`` is closest to: the same but for
    case first (``Person`` -> ``person``), then by spelling (``_background_`` ->
    ``background``); "" when none is close."""
    choices = sorted(allowed)
    folded = [c for c in choices if c.casefold() == label.casefold()]
    if folded:
        return f"; did you mean {folded[0]}?"
    return suggest(label, choices)


@dataclass(slots=True)
class LabelFilter:
    """Applies the ``[prelabel]`` label and score options, recording each drop."""

    config: TaskConfig
    report: Report
    label_map: dict[str, str | None] = field(init=False)
    allowed: frozenset[str] = field(init=False)
    seen: dict[str, set[str]] = field(default_factory=dict)  # geometry kind -> labels kept

    def __post_init__(self) -> None:
        self.label_map = _load_label_map(self.config.prelabel.label_map)
        self.allowed = self.config.limits.all_labels()

    # --- labels ---------------------------------------------------------------------------

    def map_label(self, label: str) -> str | None:
        """The label after the label map (None = dropped by the map)."""
        return self.label_map[label] if label in self.label_map else label

    def unmatched(self, label: str, source: SourceRef) -> str:
        """Reason to drop an unmatched label, or raise when unmatched labels are errors."""
        reason = f"unmatched label: {label!r} is not one of the task's labels"
        if self.config.prelabel.allow_unmatched_labels:
            return reason
        choices = ", ".join(sorted(self.allowed))
        raise InputError(
            f"label {label!r} is not one of the task's labels ({choices}); map it with "
            "--label-map, or pass --allow-unmatched-labels to drop such objects"
            + label_hint(label, self.allowed),
            path=source.file,
            location=source.location,
        )

    def _label_reason(self, original: str, source: SourceRef) -> tuple[str | None, str | None]:
        """(new label, None) or (None, reason to drop)."""
        label = self.map_label(original)
        if label is None:
            return None, f"label map: {original!r} is dropped"
        if self.allowed and label not in self.allowed:
            return None, self.unmatched(label, source)
        return label, None

    def _verdict(
        self, original: str, score: float | None, source: SourceRef
    ) -> tuple[str | None, str | None]:
        """(the label after the map, None) for an object to keep, else (its label or
        None, why it is dropped: the label map, an unmatched label, or its score)."""
        label, reason = self._label_reason(original, source)
        if reason is None and label is not None:
            threshold = self.threshold(label, original)
            if threshold is not None and score is not None and score < threshold:
                reason = f"score: {score:.4g} below threshold {threshold:g}"
        return label, reason

    def threshold(self, label: str, original: str) -> float | None:
        per_label = self.config.prelabel.score_thresholds
        if label in per_label:
            return per_label[label]
        if original in per_label:
            return per_label[original]
        return self.config.prelabel.score_threshold

    # --- instances ------------------------------------------------------------------------

    def instances(self, instances: list[Instance], task: str) -> list[Instance]:
        """Filter one image's or frame's instances; returns those to write."""
        kept: list[Instance] = []
        for inst in instances:
            original = inst.label
            label, reason = self._verdict(original, inst.score, inst.source)
            if reason is not None or label is None:
                self.report.dropped(inst.source, reason or "dropped", label=original, task=task)
                continue
            inst.label = label
            kept.append(inst)
            self.seen.setdefault(inst.geometry.kind, set()).add(label)
        return self._top_k(kept, task)

    def columns(self, cols: ObjectColumns, task: str) -> ObjectColumns:
        """:meth:`instances` over an image's object columns (same drops, reasons and record
        order, labels mapped); returns the columns to write."""
        options = self.config.prelabel
        if not (self.label_map or options.score_thresholds) and options.score_threshold is None:
            if self.allowed.issuperset(cols.labels) or not self.allowed:  # nothing to drop
                for kind, name in {(cols.kind(row), name) for row, name in enumerate(cols.labels)}:
                    self.seen.setdefault(kind, set()).add(name)
                if options.top_k is None or len(cols) <= options.top_k:
                    return cols
        kept: list[int] = []
        labels: list[str] = []
        for row, original in enumerate(cols.labels):
            label, reason = self._verdict(original, cols.scores[row], cols.source(row))
            if reason is not None or label is None:
                self.report.dropped(
                    cols.source(row), reason or "dropped", label=original, task=task
                )
                continue
            kept.append(row)
            labels.append(label)
            self.seen.setdefault(cols.kind(row), set()).add(label)
        out = cols.take(kept)
        out.labels = labels
        rows = self._top_k_rows(out.scores, out.source, out.labels, task)
        return out if rows is None else out.take(rows)

    def table(self, table: TrackTable, task: str) -> TrackTable:
        """:meth:`instances` over every frame of a columnar track table, vectorised (same
        drops, reasons and record order); returns the rows to write."""
        from prelabel.tracks.filter import filter_table

        return filter_table(self, table, task)

    def _top_k_rows(
        self,
        scores: list[float | None],
        sources: Callable[[int], SourceRef],
        labels: list[str],
        task: str,
    ) -> list[int] | None:
        """The positions top-k keeps, in order, each one it leaves out recorded as dropped
        (ranked by score, highest first; no score ranks last); None when it keeps all."""
        k = self.config.prelabel.top_k
        if k is None or len(scores) <= k:
            return None

        def rank_key(i: int) -> float:
            score = scores[i]
            return -(score if score is not None else -1.0)

        ranked = sorted(range(len(scores)), key=rank_key)
        for rank, i in enumerate(ranked[k:], start=k + 1):
            self.report.dropped(sources(i), f"top-k: rank {rank} > {k}", label=labels[i], task=task)
        keep = set(ranked[:k])
        return [i for i in range(len(scores)) if i in keep]

    def _top_k(self, instances: list[Instance], task: str) -> list[Instance]:
        rows = self._top_k_rows(
            [inst.score for inst in instances],
            lambda i: instances[i].source,
            [inst.label for inst in instances],
            task,
        )
        return instances if rows is None else [instances[i] for i in rows]

    # --- rasters --------------------------------------------------------------------------

    def raster(self, source: RasterSource, task: str) -> RasterSource:
        """Wrap a lazy raster so its segments get the label map and label checks on load."""

        def load() -> IndexRaster:
            raster = source()
            zeroed: list[int] = []
            for value, segment in list(raster.segments.items()):
                original = segment.label
                label, reason = self._verdict(original, segment.score, segment.source)
                if reason is not None or label is None:
                    self.report.dropped(
                        segment.source, reason or "dropped", label=original, task=task
                    )
                    del raster.segments[value]
                    zeroed.append(value)
                    continue
                segment.label = label
                self.seen.setdefault("mask", set()).add(label)
            if zeroed:
                values: Any = raster.values
                values[np.isin(values, zeroed)] = 0
            return raster

        return load
