"""Report records of the track engine: one NDJSON record per row, made a chunk at a time by
polars from a line number and a per-(label, fixes) template (or one by one, by
:func:`record_line`, for odd rows and rows made from instances)."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from prelabel.model import TrackTable
from prelabel.output.report import ObjectRecord, Report

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


CLIPPED, GROWN, ROUNDED, THINNED_BIT = 1, 2, 4, 8
THINNED = "thinned: interpolated between keyframes"
FIX_TEXTS = (
    (CLIPPED, "clipped: to padded image"),
    (GROWN, "grown: box to min size"),
    (ROUNDED, "rounded: integer_pixels"),
    (THINNED_BIT, THINNED),
)
# report records are joined and handed to the report this many at a time
CHUNK = 25_000


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while building many small acyclic objects (frames,
    strings): the collector would rescan them over and over (3x the build time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- records ------------------------------------------------------------------------------


def record_line(
    table: TrackTable,
    row: int,
    outcome: str,
    label: str,
    task: str,
    *,
    reason: str | None = None,
    fixes: list[str] | None = None,
    flags: list[str] | None = None,
    iou: float | None = None,
    annotations: int = 0,
) -> bytes:
    """One report record (``ObjectRecord.as_dict`` shape) for one row, by the reference code."""
    rec = ObjectRecord(
        table.source(row),
        outcome,  # type: ignore[arg-type]
        label=label,
        task=task,
        reason=reason,
        fixes=list(fixes or []),
        flags=list(flags or []),
        iou=iou,
        annotations=annotations,
    )
    return orjson.dumps(rec.as_dict())


@dataclass(slots=True)
class Records:
    """Report records of one stage, each with a sort key, and their counts.

    Bulk records are kept as (line number, template) pairs and only turned into text a
    chunk at a time in :meth:`flush`; odd records (drops, flags) are whole texts.
    """

    head: str = ""  # '{"source":{"file":F,"location":"line '
    texts: list[str] = field(default_factory=list)  # templates and whole records
    keys: list[IntArray] = field(default_factory=list)
    lines: list[IntArray] = field(default_factory=list)  # -1: the text is the whole record
    which: list[IntArray] = field(default_factory=list)  # index into texts
    one_keys: list[int] = field(default_factory=list)
    one_texts: list[int] = field(default_factory=list)
    ious: list[tuple[int, float]] = field(default_factory=list)  # (key, IoU) of some texts
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    fixes: Counter[str] = field(default_factory=Counter)
    annotations: int = 0

    def text(self, key: int, line: bytes, iou: float | None = None) -> None:
        """One whole record (made by :func:`record_line`), not counted (its IoU is)."""
        if iou is not None:
            self.ious.append((key, iou))
        self.one_keys.append(key)
        self.one_texts.append(len(self.texts))
        self.texts.append(line.decode())

    def dropped(self, key: int, line: bytes, reason: str, iou: float | None = None) -> None:
        """One dropped record, made by :func:`record_line`."""
        self.text(key, line, iou)
        self.outcomes["dropped"] += 1
        self.reasons[reason.split(":")[0]] += 1

    def bulk(
        self, file: str, keys: IntArray, lines: IntArray, which: IntArray, tails: list[str]
    ) -> None:
        """Records ``head + line + '"},' + tails[which]`` (tails: the rest of the record)."""
        self.head = '{"source":{"file":' + _json(file) + ',"location":"line '
        self.keys.append(keys)
        self.lines.append(lines)
        self.which.append(which + len(self.texts) if self.texts else which)
        self.texts.extend(tails)

    def _text(self, lines: IntArray, which: IntArray, texts: pl.Series) -> bytes:
        """NDJSON of some records: bulk ones made from their line and template."""
        lo, hi = int(which.min()), int(which.max())
        if lo == hi and lines.min() >= 0:  # one template (the common case): no per-row copy
            tail: pl.Expr = pl.lit(texts[lo])
            part = pl.DataFrame({"l": lines})
        else:
            tail = pl.col("t")
            part = pl.DataFrame({"l": lines, "t": texts.gather(which)})
        made = pl.concat_str([pl.lit(self.head), pl.col("l").cast(pl.String), pl.lit('"},'), tail])
        record = (
            made
            if lo == hi and lines.min() >= 0
            else (pl.when(pl.col("l") < 0).then(pl.col("t")).otherwise(made))
        )
        data: bytes = part.select(record.str.join("\n")).to_series().cast(pl.Binary).item()
        return data

    def flush(self, report: Report) -> None:
        """Add the records to ``report`` sorted by key, a chunk at a time (bounded memory)."""
        for _, iou in sorted(self.ious, key=lambda k_iou: k_iou[0]):
            report.add_iou(iou)
        self.ious = []
        if not self.keys and not self.one_keys:
            return
        if len(self.keys) == 1 and not self.one_keys and _ascending(self.keys[0]):
            lines, which = self.lines[0], self.which[0]  # one bulk run in order: no sort
            order: IntArray | None = None
        else:
            keys = np.concatenate([*self.keys, np.array(self.one_keys, dtype=np.int64)])
            lines = np.concatenate([*self.lines, np.full(len(self.one_keys), -1, dtype=np.int64)])
            which = np.concatenate([*self.which, np.array(self.one_texts, dtype=np.int64)])
            order = np.argsort(keys, kind="stable")
            del keys
        texts = pl.Series(self.texts, dtype=pl.String)
        self.keys, self.lines, self.which, self.one_keys, self.one_texts = [], [], [], [], []
        for start in range(0, len(lines), CHUNK):
            if order is None:
                part = slice(start, start + CHUNK)
                data = self._text(lines[part], which[part], texts)
            else:
                sel = order[start : start + CHUNK]
                data = self._text(lines[sel], which[sel], texts)
            first = start == 0
            report.add_lines(
                data,
                outcomes=self.outcomes if first else {},
                reasons=self.reasons if first else None,
                fixes=self.fixes if first else None,
                annotations=self.annotations if first else 0,
            )


def _ascending(keys: IntArray) -> bool:
    return bool(len(keys) < 2 or (keys[1:] >= keys[:-1]).all())


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
