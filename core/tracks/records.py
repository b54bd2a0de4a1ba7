"""Report records of the track engine: one NDJSON record per row, made a chunk at a time by
polars from a line number and a per-(label, fixes) template (or one by one, by
:func:`record_line`, for odd rows and rows made from instances)."""

from __future__ import annotations

from collections import Counter
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
    chunk at a time in :meth:`flush`; odd records (drops, flags) are whole texts. Bulk
    records of a template marked ``compact`` (plainly converted rows) on consecutive lines,
    in key order, become one run record: ``{"source": {"file", "location": "lines A-B",
    "lines": [A, B]}, "count": N, ...}``.
    """

    file: str = ""  # the file of the bulk records
    texts: list[str] = field(default_factory=list)  # templates and whole records
    compact: list[bool] = field(default_factory=list)  # per text: runs of it compact
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
        self.compact.append(False)

    def dropped(self, key: int, line: bytes, reason: str, iou: float | None = None) -> None:
        """One dropped record, made by :func:`record_line`."""
        self.text(key, line, iou)
        self.outcomes["dropped"] += 1
        self.reasons[reason.split(":")[0]] += 1

    def bulk(
        self,
        file: str,
        keys: IntArray,
        lines: IntArray,
        which: IntArray,
        tails: list[str],
        compact: list[bool],
    ) -> None:
        """Records ``{"source":{"file":file,"location":"line N"},`` + ``tails[which]`` (the
        rest of the record); runs of a ``compact`` tail on consecutive lines become one."""
        self.file = file
        self.keys.append(keys)
        self.lines.append(lines)
        self.which.append(which + len(self.texts) if self.texts else which)
        self.texts.extend(tails)
        self.compact.extend(compact)

    def flush(self, report: Report) -> None:
        """Add the records to ``report`` sorted by key, a chunk at a time (bounded memory)."""
        for _, iou in sorted(self.ious, key=lambda k_iou: k_iou[0]):
            report.add_iou(iou)
        self.ious = []
        if not self.keys and not self.one_keys:
            return
        lines, which = self._sorted()
        runs = _runs(lines, which, np.array(self.compact, dtype=bool))
        del which
        texts = pl.Series(self.texts, dtype=pl.String)
        self.texts, self.compact = [], []
        head = '{"source":{"file":' + json_text(self.file) + ',"location":"line'
        for n, start in enumerate(range(0, len(runs.first), CHUNK)):
            part = slice(start, start + CHUNK)
            data = runs.text(part, lines, texts, head)
            report.add_lines(
                data,
                outcomes=self.outcomes if n == 0 else {},
                reasons=self.reasons if n == 0 else None,
                fixes=self.fixes if n == 0 else None,
                annotations=self.annotations if n == 0 else 0,
            )

    def _sorted(self) -> tuple[IntArray, IntArray]:
        """Every record's line (-1: a whole text) and text index, in key order."""
        one_keys = np.array(self.one_keys, dtype=np.int64)
        one_which = np.array(self.one_texts, dtype=np.int64)
        if len(self.keys) == 1 and _ascending(self.keys[0]):
            # one bulk run in order (a file's rows by line): the few whole texts go in
            # between, no sort of the bulk
            order = np.argsort(one_keys, kind="stable")
            at = np.searchsorted(self.keys[0], one_keys[order], side="right")
            lines = np.insert(self.lines[0], at, -1)
            which = np.insert(self.which[0], at, one_which[order])
        else:
            keys = np.concatenate([*self.keys, one_keys])
            order = np.argsort(keys, kind="stable")
            del keys
            lines = np.concatenate([*self.lines, np.full(len(one_keys), -1, np.int64)])
            which = np.concatenate([*self.which, one_which])
            lines, which = lines[order], which[order]
        self.keys, self.lines, self.which, self.one_keys, self.one_texts = [], [], [], [], []
        return lines, which


@dataclass(slots=True)
class Runs:
    """Records in key order: each a run of sorted entries ``first .. first + count - 1``."""

    first: IntArray  # the record's first entry
    count: IntArray  # how many entries (lines) it stands for
    which: IntArray  # its text

    def text(self, part: slice, lines: IntArray, texts: pl.Series, head: str) -> bytes:
        """NDJSON of records ``part``: whole texts, one-line records and run records."""
        first, count, which = self.first[part], self.count[part], self.which[part]
        frame = pl.DataFrame(
            {"a": lines[first], "b": lines[first + count - 1], "n": count, "t": texts.gather(which)}
        )
        a, b = pl.col("a").cast(pl.String), pl.col("b").cast(pl.String)
        one = pl.concat_str([pl.lit(head + " "), a, pl.lit('"},'), pl.col("t")])
        run = pl.concat_str(
            [
                *(pl.lit(head + "s "), a, pl.lit("-"), b, pl.lit('","lines":['), a, pl.lit(",")),
                *(b, pl.lit(']},"count":'), pl.col("n").cast(pl.String), pl.lit(","), pl.col("t")),
            ]
        )
        record = (
            pl.when(pl.col("a") < 0)
            .then(pl.col("t"))
            .when(pl.col("n") > 1)
            .then(run)
            .otherwise(one)
        )
        data: bytes = frame.select(record.str.join("\n")).to_series().cast(pl.Binary).item()
        return data


def _runs(lines: IntArray, which: IntArray, compact: BoolArray) -> Runs:
    """Group entries into records: consecutive lines of one compact text are one run."""
    joinable = compact[which] & (lines >= 0)
    same = joinable[1:] & joinable[:-1]
    same &= which[1:] == which[:-1]
    same &= lines[1:] == lines[:-1] + 1
    first = np.flatnonzero(np.r_[True, ~same]).astype(np.int64)
    del same, joinable
    count = np.diff(np.r_[first, len(lines)]).astype(np.int64)
    return Runs(first, count, which[first])


def _ascending(keys: IntArray) -> bool:
    return bool(len(keys) < 2 or (keys[1:] >= keys[:-1]).all())


def json_text(value: Any) -> str:
    """``value`` as JSON text (orjson's, as the records and hosted files write it)."""
    return orjson.dumps(value).decode()
