"""The columnar path for tracking files: filter, fit, thin, record and write without a Python
object per row.

A MOT or KITTI item carries its rows as a :class:`~prelabel.model.TrackTable` (numpy
columns). This module does to that table exactly what the per-object path does to
instances, so the outputs are byte-identical (``tests/test_tracks.py`` proves it on the real
files):

* :func:`filter_table` is ``LabelFilter.instances`` (label map, task labels, score
  thresholds, top-k per frame), vectorised; drops are recorded in the same order;
* :func:`fit_boxes` is ``prelabel.fit.fit_geometry`` for axis-aligned boxes to a ``box``
  target (clip, empty, min size with ``small_boxes``, ``integer_pixels``, ``on_violation``),
  with the same fix, flag and drop texts;
* :func:`playback_json` / :func:`video_frames_json` are the video writers: objects grouped by
  track in first-appearance order, runs split by ``track_gaps``, keyframes thinned per object,
  one report record per row written as NDJSON by polars (``Report.add_lines``), and the
  hosted JSON assembled by polars string columns. Numbers are written as
  ``prelabel.writers.common`` writes them: rounded to 3 decimals like Python's ``round``
  (a few ambiguous halves are settled by Python itself) and integral values as ints.

:func:`columnar_ok` says when the table can take this path; otherwise the writers call
:func:`expand` (rows to per-frame instances) and run the per-object code, which stays the
reference. Polars is imported only here, so other formats never load it.
"""

from __future__ import annotations

import gc
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from .errors import LimitViolation
from .fit import EPS, FitPolicy
from .keyframes import Thinning, Tolerance, thin_track
from .limits import Bounds, GeometryLimits
from .model import Box, Frame, Instance, Item, SourceRef, TrackTable
from .report import ObjectRecord, Report

if TYPE_CHECKING:
    from .filters import LabelFilter
    from .writers.context import ArtifactStore, WriteContext

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# fix bits, in the order the limits engine appends the texts
CLIPPED, GROWN, ROUNDED, THINNED_BIT = 1, 2, 4, 8
FIX_TEXTS = (
    (CLIPPED, "clipped: to padded image"),
    (GROWN, "grown: box to min size"),
    (ROUNDED, "rounded: integer_pixels"),
    (THINNED_BIT, "thinned: interpolated between keyframes"),
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
    annotations: int = 0,
) -> bytes:
    """One report record (``ObjectRecord.as_dict`` shape) for one row, by the reference code."""
    rec = ObjectRecord(
        SourceRef(table.file, f"line {int(table.line[row])}"),
        outcome,  # type: ignore[arg-type]
        label=label,
        task=task,
        reason=reason,
        fixes=list(fixes or []),
        flags=list(flags or []),
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
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    fixes: Counter[str] = field(default_factory=Counter)
    annotations: int = 0

    def text(self, key: int, line: bytes) -> None:
        """One whole record (made by :func:`record_line`), not counted."""
        self.one_keys.append(key)
        self.one_texts.append(len(self.texts))
        self.texts.append(line.decode())

    def dropped(self, key: int, line: bytes, reason: str) -> None:
        """One dropped record, made by :func:`record_line`."""
        self.text(key, line)
        self.outcomes["dropped"] += 1
        self.reasons[reason.split(":")[0]] += 1

    def bulk(
        self, file: str, keys: IntArray, lines: IntArray, which: IntArray, tails: list[str]
    ) -> None:
        """Records ``head + line + '"},' + tails[which]`` (tails: the rest of the record)."""
        self.head = '{"source":{"file":' + _json(file) + ',"location":"line '
        self.keys.append(keys)
        self.lines.append(lines)
        self.which.append(which + len(self.texts))
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
        if not self.keys and not self.one_keys:
            return
        keys = np.concatenate([*self.keys, np.array(self.one_keys, dtype=np.int64)])
        lines = np.concatenate([*self.lines, np.full(len(self.one_keys), -1, dtype=np.int64)])
        which = np.concatenate([*self.which, np.array(self.one_texts, dtype=np.int64)])
        texts = pl.Series(self.texts, dtype=pl.String)
        self.keys, self.lines, self.which, self.one_keys, self.one_texts = [], [], [], [], []
        order = np.argsort(keys, kind="stable")
        del keys
        for start in range(0, len(order), CHUNK):
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


# --- vectorised box fit -------------------------------------------------------------------


@dataclass(slots=True)
class BoxFit:
    """What :func:`fit_boxes` made of each row (same length as its input)."""

    left: FloatArray
    top: FloatArray
    width: FloatArray
    height: FloatArray
    fixes: npt.NDArray[np.uint8]
    dropped: dict[int, str] = field(default_factory=dict)
    flags: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def alive(self) -> BoolArray:
        out = np.ones(len(self.left), dtype=bool)
        out[list(self.dropped)] = False
        out[list(self.errors)] = False
        return out


def _fail(fit: BoxFit, rows: IntArray, reason: Any, policy: FitPolicy, hard: bool) -> None:
    """Rows that break a limit: errors under ``error`` (when ``hard``), else dropped."""
    target = fit.errors if hard and policy.on_violation == "error" else fit.dropped
    for r in rows.tolist():
        target[r] = reason(r) if callable(reason) else reason


def fit_boxes(
    boxes: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    limits: GeometryLimits,
    bounds: Bounds | None,
    policy: FitPolicy,
) -> BoxFit:
    """``fit_geometry(Box(...), "box", limits, bounds, policy)`` for every row at once.

    Rows broken past repair are in ``dropped`` (or ``errors``, the LimitViolation reason,
    under ``on_violation = "error"``), with exactly the reference texts.
    """
    left, top, width, height = (np.array(b, dtype=np.float64) for b in boxes)
    fit = BoxFit(left, top, width, height, np.zeros(len(left), dtype=np.uint8))
    degenerate = ~((width > EPS) & (height > EPS))
    _fail(
        fit,
        np.flatnonzero(degenerate),
        lambda r: f"degenerate: box {width[r]:g}x{height[r]:g} has zero area",
        policy,
        True,
    )
    if bounds is not None:
        _clip(fit, bounds, policy)
    _min_size(fit, limits, bounds, policy)
    if limits.integer_pixels:
        _round(fit, limits, bounds, policy)
    return fit


def _clip(fit: BoxFit, b: Bounds, policy: FitPolicy) -> None:
    left, top, width, height = fit.left, fit.top, fit.width, fit.height
    right, bottom = left + width, top + height
    x0, y0 = np.maximum(left, b.x0), np.maximum(top, b.y0)
    x1, y1 = np.minimum(right, b.x1), np.minimum(bottom, b.y1)
    same = (x0 == left) & (y0 == top) & (x1 == right) & (y1 == bottom)
    changed = fit.alive & ~same
    if not changed.any():
        return
    outside = "outside: box extends past the padded image"
    if policy.on_violation != "fix":
        _fail(fit, np.flatnonzero(changed), outside, policy, True)
        return
    empty = changed & ~((x1 > x0) & (y1 > y0))
    _fail(fit, np.flatnonzero(empty), "empty: nothing inside the padded image", policy, False)
    ok = changed & ~empty
    fit.left = np.where(ok, x0, left)
    fit.top = np.where(ok, y0, top)
    fit.width = np.where(ok, x1 - x0, width)
    fit.height = np.where(ok, y1 - y0, height)
    fit.fixes[ok] |= CLIPPED


def _small_mode(policy: FitPolicy) -> str:
    if policy.small_boxes is not None:
        return policy.small_boxes
    return {"fix": "grow", "drop": "drop", "error": "error"}[policy.on_violation]


def _min_size(fit: BoxFit, limits: GeometryLimits, b: Bounds | None, policy: FitPolicy) -> None:
    mw, mh = limits.min_width, limits.min_height
    small = np.flatnonzero(fit.alive & ~((fit.width >= mw) & (fit.height >= mh)))
    if not len(small):
        return
    w, h = fit.width, fit.height

    def reason(r: int) -> str:
        return f"too small: box {w[r]:.1f}x{h[r]:.1f} under min {mw:g}x{mh:g}"

    mode = _small_mode(policy)
    if mode == "keep":
        fit.flags.update((r, reason(r)) for r in small.tolist())
        return
    if mode in ("error", "drop"):
        target = fit.errors if mode == "error" else fit.dropped
        target.update((r, reason(r)) for r in small.tolist())
        return
    _grow(fit, small, mw, mh, b, policy, reason)


def _grow(
    fit: BoxFit,
    rows: IntArray,
    mw: float,
    mh: float,
    b: Bounds | None,
    policy: FitPolicy,
    reason: Any,
) -> None:
    w0, h0 = fit.width[rows], fit.height[rows]
    w, h = np.maximum(w0, mw), np.maximum(h0, mh)
    left = fit.left[rows] + w0 / 2 - w / 2
    top = fit.top[rows] + h0 / 2 - h / 2
    ok = np.ones(len(rows), dtype=bool)
    if b is not None:
        ok = ~((w > b.x1 - b.x0) | (h > b.y1 - b.y0))
        left = np.minimum(np.maximum(left, b.x0), b.x1 - w)
        top = np.minimum(np.maximum(top, b.y0), b.y1 - h)
    _fail(
        fit,
        rows[~ok],
        lambda r: f"{reason(r)}, and the padded image is smaller than that",
        policy,
        True,
    )
    good = rows[ok]
    fit.left[good], fit.top[good] = left[ok], top[ok]
    fit.width[good], fit.height[good] = w[ok], h[ok]
    fit.fixes[good] |= GROWN


def _snap(v: FloatArray) -> FloatArray:
    r = np.rint(v)
    out: FloatArray = np.where(np.abs(v - r) < 1e-6, r, v)
    return out


def _span(a: FloatArray, b: FloatArray, lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
    ilo, ihi = math.ceil(lo - 1e-6), math.floor(hi + 1e-6)
    under = a < ilo
    b = np.where(under, b + (ilo - a), b)
    a = np.where(under, ilo, a)
    over = b > ihi
    a = np.where(over, a - (b - ihi), a)
    b = np.where(over, ihi, b)
    return np.maximum(a, ilo), b


def _round(fit: BoxFit, limits: GeometryLimits, b: Bounds | None, policy: FitPolicy) -> None:
    rows = np.flatnonzero(fit.alive)
    left, top = fit.left[rows], fit.top[rows]
    width, height = fit.width[rows], fit.height[rows]
    x0, y0 = np.floor(_snap(left)), np.floor(_snap(top))
    x1, y1 = np.ceil(_snap(left + width)), np.ceil(_snap(top + height))
    x1, y1 = np.maximum(x1, x0 + 1), np.maximum(y1, y0 + 1)
    if b is not None:
        x0, x1 = _span(x0, x1, b.x0, b.x1)
        y0, y1 = _span(y0, y1, b.y0, b.y1)
    w, h = x1 - x0, y1 - y0
    changed = (x0 != left) | (y0 != top) | (w != width) | (h != height)
    fit.left[rows], fit.top[rows], fit.width[rows], fit.height[rows] = x0, y0, w, h
    fit.fixes[rows[changed]] |= ROUNDED
    small = (w < limits.min_width) | (h < limits.min_height)
    text = "too small: no integer box of the minimum size fits the padded image"
    _fail(fit, rows[small], text, policy, True)


# --- numbers as text ----------------------------------------------------------------------


def scaled(values: FloatArray, decimals: int = 3) -> IntArray:
    """``round(v, decimals) * 10**decimals`` as exact integers, as Python's ``round`` rounds.

    ``floor(x + 0.5)`` of the scaled float decides, except within a few ulps of a half (or
    past 2**52), where the decimal of ``round`` itself is read exactly.
    """
    factor = 10.0**decimals
    x = values * factor
    out = np.floor(x + 0.5)
    frac = x - np.floor(x)
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(
            (np.abs(frac - 0.5) <= 4 * np.spacing(np.abs(x))) | ~(np.abs(x) < 2.0**52)
        )
    result: IntArray = out.astype(np.int64)
    for r in near.tolist():
        exact = Decimal(repr(round(float(values[r]), decimals))) * (10**decimals)
        result[r] = int(exact.to_integral_value())
    return result


def _text_expr(name: str, unit: int, decimals: int, as_float: bool) -> pl.Expr:
    m = pl.col(name)
    a = m.abs()
    sign = pl.when(m < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (a // unit).cast(pl.String)
    frac = (a % unit).cast(pl.String).str.zfill(decimals)
    text = pl.concat_str([sign, whole, pl.lit("."), frac]).str.strip_chars_end("0")
    if as_float:
        return text.str.replace(r"\.$", ".0").alias(name)
    return text.str.strip_chars_end(".").alias(name)


def _suffixes(decimals: int) -> pl.Series:
    """``""`` / ``".5"`` / ``".125"``: the fraction text of each value of ``m % 10**decimals``."""
    unit = 10**decimals
    return pl.Series(
        [""] + [("." + str(k).zfill(decimals)).rstrip("0") for k in range(1, unit)],
        dtype=pl.String,
    )


def number_columns(
    columns: dict[str, FloatArray], decimals: int = 3, *, as_float: bool = False
) -> pl.DataFrame:
    """Numbers as the writers write them, one text column per input:
    ``prelabel.writers.common`` (3 decimals, integral values as ints), or with ``as_float``
    as orjson writes ``round(v, decimals)`` (``2.0``)."""
    unit = 10**decimals
    if as_float or decimals > 3:
        frame = pl.DataFrame({k: scaled(v, decimals) for k, v in columns.items()})
        return frame.select([_text_expr(k, unit, decimals, as_float) for k in columns])
    suffixes = _suffixes(decimals)
    out = {}
    for name, values in columns.items():
        m = scaled(values, decimals)
        a = np.abs(m)
        parts = pl.DataFrame({"w": a // unit, "f": suffixes.gather(a % unit)})
        if (m < 0).any():
            parts = parts.with_columns(n=pl.Series(m < 0))
            sign = pl.when(pl.col("n")).then(pl.lit("-")).otherwise(pl.lit(""))
            text = pl.concat_str([sign, pl.col("w").cast(pl.String), pl.col("f")])
        else:
            text = pl.concat_str([pl.col("w").cast(pl.String), pl.col("f")])
        out[name] = parts.select(text).to_series()
    return pl.DataFrame(out)


def number_text(values: FloatArray, decimals: int = 3, *, as_float: bool = False) -> pl.Series:
    """:func:`number_columns` of one column."""
    return number_columns({"t": values}, decimals, as_float=as_float).to_series()


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- the writers --------------------------------------------------------------------------


def columnar_ok(item: Item, ctx: WriteContext) -> bool:
    """Whether ``item.tracks`` can take the columnar path: every label becomes a ``box`` (or
    has no task geometry) and no attribute or score attribute would be sent."""
    from .writers.context import SCORE_ATTRIBUTES
    from .writers.image import choose_target

    table = item.tracks
    if table is None:
        return False
    defined = ctx.config.params.get("annotation_attributes") or {}
    if any(name in defined for name in table.attributes):
        return False
    if any(name in defined for name in SCORE_ATTRIBUTES) and not np.isnan(table.score).all():
        return False
    probe = Box(0, 0, 1, 1)
    for label in table.labels:
        target = choose_target(Instance(label, probe, SourceRef("", "")), ctx)
        if target in ctx.config.limits.geometries and target != "box":
            return False
    return True


@dataclass(slots=True)
class Plan:
    """The rows to send, in the order the per-object writer sends them."""

    rows: IntArray  # table rows, object by object, frame by frame
    obj: IntArray  # object number of each sent row
    uuids: list[str]
    labels: list[str]  # label of each object
    fit: BoxFit  # fitted boxes (indexed by table row)
    table: TrackTable


def _objects(
    table: TrackTable, item: Item, ctx: WriteContext, frame_pos: IntArray
) -> tuple[IntArray, IntArray, list[str], list[str]]:
    """(rows in object order, object of each, uuid and label per object), notes emitted."""
    from .writers.context import file_key, stable_uuid
    from .writers.video import sequence_of

    key = file_key(table.file)

    order = appearance(table, frame_pos)
    tracked = order[table.track[order] >= 0]
    singles = order[table.track[order] < 0]
    ids, first = np.unique(table.track[tracked], return_index=True)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(ids))
    track_rank = rank[np.searchsorted(ids, table.track[tracked])]
    rows = tracked[np.lexsort((frame_pos[table.frame[tracked]], track_rank))]
    if not len(rows):
        return _singles(table, item, singles, 0, [], [])
    t_rank = rank[np.searchsorted(ids, table.track[rows])]
    t_ids = table.track[rows]
    starts = np.flatnonzero(np.r_[True, t_rank[1:] != t_rank[:-1]]) if len(rows) else rows
    index = table.frame[rows]
    gap = np.r_[False, (index[1:] != index[:-1] + 1) & (t_rank[1:] == t_rank[:-1])]
    run_no = np.cumsum(gap) - np.repeat(np.cumsum(gap)[starts] - gap[starts], _sizes(starts, rows))
    split = ctx.config.prelabel.track_gaps == "split"
    seq = sequence_of(item)
    labels = _track_labels(table, rows, starts, item, ctx)
    uuids: list[str] = []
    obj_labels: list[str] = []
    new_obj = np.r_[True, t_rank[1:] != t_rank[:-1]] | (gap if split else False)
    for r in np.flatnonzero(new_obj).tolist():
        tid, n = str(int(t_ids[r])), int(run_no[r]) if split else 0
        uuids.append(stable_uuid(key, seq, tid, n) if n else stable_uuid(key, seq, tid))
        obj_labels.append(labels[int(t_rank[r])])
    _note_gaps(ids[np.argsort(first, kind="stable")], gap, t_rank, item, ctx, split)
    obj = np.cumsum(new_obj) - 1
    s_rows, s_obj, uuids, obj_labels = _singles(table, item, singles, len(uuids), uuids, obj_labels)
    all_rows = np.concatenate([rows, s_rows]).astype(np.int64)
    all_obj = np.concatenate([obj, s_obj]).astype(np.int64)
    return all_rows, all_obj, uuids, obj_labels


def _singles(
    table: TrackTable,
    item: Item,
    singles: IntArray,
    first: int,
    uuids: list[str],
    labels: list[str],
) -> tuple[IntArray, IntArray, list[str], list[str]]:
    """Untracked rows: one object each, after the tracks, in appearance order."""
    from .writers.context import file_key, stable_uuid
    from .writers.video import sequence_of

    key = file_key(table.file)

    seq = sequence_of(item)
    for r in singles.tolist():
        uuids.append(stable_uuid(key, seq, f"line {int(table.line[r])}"))
        labels.append(table.labels[int(table.label[r])])
    obj: IntArray = (first + np.arange(len(singles))).astype(np.int64)
    return singles.astype(np.int64), obj, uuids, labels


def _sizes(starts: IntArray, rows: IntArray) -> IntArray:
    out: IntArray = np.diff(np.r_[starts, len(rows)]).astype(np.int64)
    return out


def _track_labels(
    table: TrackTable, rows: IntArray, starts: IntArray, item: Item, ctx: WriteContext
) -> list[str]:
    """Label per track (the most common; first met wins ties), noting label changes."""
    names = table.labels
    codes = table.label[rows]
    if len(names) <= 1 or not len(rows):
        return [names[0] if names else ""] * len(starts)
    lo = np.minimum.reduceat(codes, starts)
    hi = np.maximum.reduceat(codes, starts)
    out = [names[int(c)] for c in lo.tolist()]
    bounds = np.r_[starts, len(rows)]
    for t in np.flatnonzero(lo != hi).tolist():
        counts = Counter(names[c] for c in codes[bounds[t] : bounds[t + 1]].tolist())
        label = counts.most_common(1)[0][0]
        out[t] = label
        seen = ", ".join(f"{k} x{v}" for k, v in counts.most_common())
        tid = int(table.track[rows[bounds[t]]])
        ctx.report.note(f"{item.key}: track {tid} changes label ({seen}); sent as {label!r}")
    return out


def _note_gaps(
    ids: IntArray, gap: BoolArray, t_rank: IntArray, item: Item, ctx: WriteContext, split: bool
) -> None:
    gappy = ids[np.unique(t_rank[gap])] if gap.any() else ids[:0]
    if len(gappy):
        how = "split into one object per run" if split else "kept whole (one uuid across the gap)"
        names = [str(t) for t in gappy.tolist()]
        ctx.report.note(
            f"{item.key}: {len(names)} track(s) with missing frames, {how}: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else "")
        )


def _targets(table: TrackTable, ctx: WriteContext) -> dict[int, str]:
    """Label codes with no task geometry, with the reference drop reason."""
    from .writers.image import choose_target

    out: dict[int, str] = {}
    probe = Box(0, 0, 1, 1)
    for code, label in enumerate(table.labels):
        target = choose_target(Instance(label, probe, SourceRef("", "")), ctx)
        if target not in ctx.config.limits.geometries:
            out[code] = str(target)
    return out


def plan(table: TrackTable, item: Item, ctx: WriteContext, task: str, frame_pos: IntArray) -> Plan:
    """Group, fit, thin and record every row (the per-object ``prepare``); the rows to send.

    Raises:
        LimitViolation: under ``on_violation = "error"``, naming the first row in send order.
    """
    rows, obj, uuids, labels = _objects(table, item, ctx, frame_pos)
    no_target = _targets(table, ctx)
    blocked = np.isin(table.label[rows], list(no_target)) if no_target else None
    limits = ctx.config.limits.geometries.get("box")
    bounds = ctx.config.limits.bounds(item.width, item.height)
    boxes = (table.left, table.top, table.width, table.height)
    fit = fit_boxes(boxes, limits, bounds, ctx.policy) if limits is not None else _no_fit(table)
    fitted = np.ones(len(rows), dtype=bool) if blocked is None else ~blocked
    if fit.errors:
        err = rows[fitted & np.isin(rows, list(fit.errors))][0]
        src = SourceRef(table.file, f"line {int(table.line[err])}")
        raise LimitViolation(fit.errors[int(err)], path=src.file, location=src.location)
    records = Records()
    seq_key = np.arange(len(rows), dtype=np.int64)
    key = obj * 2 * len(rows) + len(rows) + seq_key
    if blocked is not None:
        for p in np.flatnonzero(blocked).tolist():
            r = int(rows[p])
            reason = no_target[int(table.label[r])]
            line = record_line(
                table, r, "dropped", table.labels[int(table.label[r])], task, reason=reason
            )
            records.dropped(int(obj[p]) * 2 * len(rows) + p, line, reason)
    alive = fitted & fit.alive[rows]
    for p in np.flatnonzero(fitted & ~fit.alive[rows]).tolist():
        r = int(rows[p])
        reason = fit.dropped[r]
        line = record_line(
            table, r, "dropped", table.labels[int(table.label[r])], task, reason=reason
        )
        records.dropped(int(key[p]), line, reason)
    thinned = _thin(table, item, ctx, rows, obj, alive, fit)
    fit.fixes[rows[thinned]] |= THINNED_BIT
    _converted(records, table, rows, key, alive, thinned, fit, task)
    records.flush(ctx.report)
    sent = alive & ~thinned
    return Plan(rows[sent], obj[sent], uuids, labels, fit, table)


def _no_fit(table: TrackTable) -> BoxFit:
    n = len(table)
    return BoxFit(table.left, table.top, table.width, table.height, np.zeros(n, dtype=np.uint8))


def _thin(
    table: TrackTable,
    item: Item,
    ctx: WriteContext,
    rows: IntArray,
    obj: IntArray,
    alive: BoolArray,
    fit: BoxFit,
) -> BoolArray:
    """Keyframe thinning per object (positions in ``rows`` thinned away); notes the figures."""
    options = ctx.config.prelabel
    tol = Tolerance(options.keyframe_iou, options.keyframe_px)
    thinned = np.zeros(len(rows), dtype=bool)
    if not tol.active:
        return thinned
    numbers = np.array([f.number for f in item.frames or []], dtype=np.int64)
    total = Thinning()
    pos = np.flatnonzero(alive)
    objs = obj[pos]
    starts = np.flatnonzero(np.r_[True, objs[1:] != objs[:-1]]) if len(pos) else pos
    for a, b in zip(starts.tolist(), np.r_[starts[1:], len(pos)].tolist(), strict=True):
        p = pos[a:b]
        r = rows[p]
        if len(p) < 3:
            total.add(Thinning(total=len(p), kept=len(p)))
            continue
        frames = numbers[table.frame[r]]
        boxes = np.stack([fit.left[r], fit.top[r], fit.width[r], fit.height[r]], axis=1)
        keep, figures = thin_track(frames, boxes, tol)
        total.add(figures)
        thinned[p[~keep]] = True
    ctx.report.note(f"{item.key}: {total.describe()}")
    return thinned


def _converted(
    records: Records,
    table: TrackTable,
    rows: IntArray,
    key: IntArray,
    alive: BoolArray,
    thinned: BoolArray,
    fit: BoxFit,
    task: str,
) -> None:
    """Records of the fitted rows: flagged ones one by one, the rest as polars strings."""
    flagged = np.zeros(len(rows), dtype=bool)
    if fit.flags:
        flagged = alive & np.isin(rows, list(fit.flags))
    for p in np.flatnonzero(flagged).tolist():
        r = int(rows[p])
        fixes = [text for bit, text in FIX_TEXTS if fit.fixes[r] & bit]
        n = 0 if thinned[p] else 1
        line = record_line(
            table,
            r,
            "fixed" if fixes else "converted",
            table.labels[int(table.label[r])],
            task,
            fixes=fixes,
            flags=[fit.flags[r]],
            annotations=n,
        )
        records.text(int(key[p]), line)
        _count(records, fixes, n)
    bulk = np.flatnonzero(alive & ~flagged)
    if not len(bulk):
        return
    sel = rows[bulk]
    combo = table.label[sel].astype(np.int64) * 16 + fit.fixes[sel]
    tally = np.bincount(combo)  # few distinct (label, fixes) pairs: no sort needed
    combos = np.flatnonzero(tally)
    lookup = np.zeros(len(tally), dtype=np.int64)
    lookup[combos] = np.arange(len(combos))
    inverse, counts = lookup[combo], tally[combos]
    tails = []
    for c, n_rows in zip(combos.tolist(), counts.tolist(), strict=True):
        fixes = [text for bit, text in FIX_TEXTS if (c % 16) & bit]
        n = 0 if (c % 16) & THINNED_BIT else 1
        rec = ObjectRecord(
            SourceRef("", ""),
            "fixed" if fixes else "converted",
            label=table.labels[c // 16],
            task=task,
            fixes=fixes,
            annotations=n,
        )
        tails.append(orjson.dumps(rec.as_dict()).decode().split('"},', 1)[1])
        records.outcomes["fixed" if fixes else "converted"] += n_rows
        for fix in fixes:
            records.fixes[fix.split(":")[0]] += n_rows
        records.annotations += n * n_rows
    records.bulk(table.file, key[bulk], table.line[sel], inverse.ravel().astype(np.int64), tails)


def _count(records: Records, fixes: list[str], annotations: int) -> None:
    records.outcomes["fixed" if fixes else "converted"] += 1
    for fix in fixes:
        records.fixes[fix.split(":")[0]] += 1
    records.annotations += annotations


def _attribute_note(plan_: Plan, ctx: WriteContext) -> None:
    """The note the per-object writer makes when rows carry attributes the task lacks."""
    if not len(plan_.rows) or not plan_.table.attributes:
        return
    defined = ctx.config.params.get("annotation_attributes") or {}
    skipped = sorted(set(plan_.table.attributes) - set(defined))
    if skipped:
        ctx.report.note(
            "attributes not defined in params.annotation_attributes were not sent: "
            + ", ".join(skipped)
        )


def _box_columns(plan_: Plan) -> pl.DataFrame:
    """The sent rows' fitted boxes as number text."""
    r = plan_.rows
    fit = plan_.fit
    return number_columns(
        {"left": fit.left[r], "top": fit.top[r], "width": fit.width[r], "height": fit.height[r]}
    )


def _geometry_text(prefix: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [
            prefix,
            pl.lit('"left":'),
            pl.col("left"),
            pl.lit(',"top":'),
            pl.col("top"),
            pl.lit(',"width":'),
            pl.col("width"),
            pl.lit(',"height":'),
            pl.col("height"),
        ]
    )


def playback_json(item: Item, ctx: WriteContext, task: str, fps: float) -> Iterator[bytes]:
    """The uuid-keyed videoplayback hypothesis of ``item.tracks``, in chunks of whole objects
    (records and notes are made before the first chunk)."""
    table = item.tracks
    frames = item.frames or []
    assert table is not None
    plan_ = plan(table, item, ctx, task, np.arange(len(frames), dtype=np.int64))
    _attribute_note(plan_, ctx)
    return _playback_chunks(plan_, frames, ctx.config.prelabel.frame_key_base, fps)


def _playback_chunks(plan_: Plan, frames: list[Frame], base: int, fps: float) -> Iterator[bytes]:
    if not len(plan_.rows):
        yield b"{}"
        return
    heads = _frame_heads(frames, base, fps)
    starts = np.flatnonzero(np.r_[True, plan_.obj[1:] != plan_.obj[:-1]])
    at = np.searchsorted(starts, np.arange(CHUNK, len(plan_.rows), CHUNK))
    bounds = [*sorted({0, *starts[at[at < len(starts)]].tolist()}), len(plan_.rows)]
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        yield (b"{" if n == 0 else b",") + _playback_part(plan_, heads, slice(a, b))
    yield b"}"


def _playback_part(plan_: Plan, heads: pl.Series, part: slice) -> bytes:
    """Whole objects ``"uuid":{"label","geometry","frames":[...]}`` of rows ``part``.

    Rows are in object order, so each row's text is its frame entry led by the object's
    opening (first row) or a comma, and closed by ``]}`` on the object's last row: one
    concatenation, no grouping.
    """
    rows = plan_.rows[part]
    obj = plan_.obj[part]
    n = len(rows)
    first = np.flatnonzero(np.r_[True, obj[1:] != obj[:-1]])
    last = np.r_[first[1:] - 1, n - 1]
    openings = [
        ("," if k else "")
        + _json(plan_.uuids[o])
        + ':{"label":'
        + _json(plan_.labels[o])
        + ',"geometry":"box","frames":['
        for k, o in enumerate(obj[first].tolist())
    ]
    lead = pl.select(pl.repeat(",", n, dtype=pl.String)).to_series()
    lead = lead.scatter(first, pl.Series(openings, dtype=pl.String))
    trail = pl.select(pl.repeat("}", n, dtype=pl.String)).to_series().scatter(last, "}]}")
    fit = plan_.fit
    cols = number_columns(
        {
            "left": fit.left[rows],
            "top": fit.top[rows],
            "width": fit.width[rows],
            "height": fit.height[rows],
        }
    ).with_columns(head=heads.gather(plan_.table.frame[rows]), lead=lead, trail=trail)
    text = pl.concat_str([pl.col("lead"), _geometry_text(pl.col("head")), pl.col("trail")])
    data: bytes = cols.select(text.str.join("")).to_series().cast(pl.Binary).item()
    return data


def add_artifact(store: ArtifactStore, name: str, chunks: Iterable[bytes]) -> str:
    """``ArtifactStore.add`` for data written a chunk at a time (never whole in memory)."""
    path = store.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    store.written.append(name)
    return store.reference(name)


def _frame_heads(frames: list[Frame], base: int, fps: float) -> pl.Series:
    """Per frame ``{"key":K,"timestamp":T,`` (timestamp rounded to 6 decimals, a float)."""
    with paused_gc():
        stamps = np.array(
            [f.timestamp if f.timestamp is not None else f.index / fps for f in frames],
            dtype=np.float64,
        ).reshape(-1)
        index = np.array([f.index for f in frames], dtype=np.int64).reshape(-1)
    table = pl.DataFrame(
        {"key": index + base, "t": number_text(stamps, 6, as_float=True)},
        schema={"key": pl.Int64, "t": pl.String},
    )
    return table.select(
        pl.concat_str(
            [
                pl.lit('{"key":'),
                pl.col("key").cast(pl.String),
                pl.lit(',"timestamp":'),
                pl.col("t"),
                pl.lit(","),
            ]
        )
    ).to_series()


def video_frames_json(item: Item, used: list[Frame], ctx: WriteContext, task: str) -> bytes:
    """The videoannotation per-frame list for ``used`` task frames (records and notes made);
    rows on source frames that are no task frame are dropped with the reference reason."""
    table = item.tracks
    frames = item.frames or []
    assert table is not None
    unique = list({f.index: f for f in used}.values())
    frame_pos = np.full(len(frames), len(frames), dtype=np.int64)
    frame_pos[[f.index for f in unique]] = np.arange(len(unique))
    chosen = frame_pos[table.frame] < len(frames)
    _drop_unsampled(table, ~chosen, frames, task, ctx)
    if not chosen.all():
        table = table.take(chosen)
    plan_ = plan(table, item, ctx, task, frame_pos)
    by_frame: dict[int, str] = {}
    if len(plan_.rows):
        suffix = [
            ',"label":' + _json(plan_.labels[o]) + ',"uuid":' + _json(plan_.uuids[o]) + "}"
            for o in range(len(plan_.uuids))
        ]
        cols = _box_columns(plan_).with_columns(
            tail=pl.Series(suffix, dtype=pl.String).gather(plan_.obj),
            frame=pl.Series(table.frame[plan_.rows]),
        )
        order = np.argsort(frame_pos[table.frame[plan_.rows]], kind="stable")
        entries = cols[order].select(
            pl.col("frame"),
            pl.concat_str([_geometry_text(pl.lit('{"type":"box",')), pl.col("tail")]).alias("e"),
        )
        grouped = entries.group_by("frame", maintain_order=True).agg(pl.col("e").str.join(","))
        by_frame = dict(zip(grouped["frame"].to_list(), grouped["e"].to_list(), strict=True))
        _attribute_note(plan_, ctx)
    parts = ['{"annotations":[' + by_frame.get(f.index, "") + "]}" for f in used]
    return ("[" + ",".join(parts) + "]").encode()


def _drop_unsampled(
    table: TrackTable, rows: BoolArray, frames: list[Frame], task: str, ctx: WriteContext
) -> None:
    if not rows.any():
        return
    records = Records()
    order = appearance(table)
    for k, r in enumerate(order[rows[order]].tolist()):
        reason = f"not a task frame: frame {frames[int(table.frame[r])].number} falls between frame_rate samples"
        line = record_line(
            table, r, "dropped", table.labels[int(table.label[r])], task, reason=reason
        )
        records.dropped(k, line, reason)
    records.flush(ctx.report)
