"""Group, fit, thin and record the rows of a track table (the per-object ``prepare``): the
rows to send, object by object, with their uuids and labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.errors import LimitViolation
from prelabel.model import Box, Instance, Item, SourceRef, TrackTable
from prelabel.output.report import ObjectRecord
from prelabel.tracks.filter import appearance
from prelabel.tracks.fit import BoxFit, fit_boxes
from prelabel.tracks.keyframes import Thinning, Tolerance, thin_track
from prelabel.tracks.keys import frame_numbers, uuid_texts
from prelabel.tracks.records import FIX_TEXTS, THINNED_BIT, Records, record_line

if TYPE_CHECKING:
    from prelabel.writers.context import WriteContext

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- the writers --------------------------------------------------------------------------


def columnar_ok(item: Item, ctx: WriteContext) -> bool:
    """Whether ``item.tracks`` can take the columnar path: every label becomes a ``box`` (or
    has no task geometry) and no attribute or score attribute would be sent."""
    from prelabel.writers.context import SCORE_ATTRIBUTES
    from prelabel.writers.image import choose_target

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
    from prelabel.writers.context import file_key
    from prelabel.writers.video import sequence_of

    rows, t_rank, ids, first, singles = _track_order(table, frame_pos)
    if not len(rows):
        return _singles(table, item, singles, 0, [], [])
    same = t_rank[1:] == t_rank[:-1]
    starts = np.flatnonzero(np.r_[True, ~same])
    index = table.frame[rows]
    gap = np.r_[False, (index[1:] != index[:-1] + 1) & same]
    del index
    split = ctx.config.prelabel.track_gaps == "split"
    labels = _track_labels(table, rows, starts, item, ctx)
    new_obj = np.r_[True, ~same] | (gap if split else False)
    del same
    heads = np.flatnonzero(new_obj)
    runs = _run_numbers(gap, starts, rows)[heads].tolist() if split else [0] * len(heads)
    names = [
        f"{tid}\x1f{n}" if n else str(tid)
        for tid, n in zip(table.track[rows[heads]].tolist(), runs, strict=True)
    ]
    uuids: list[str] = uuid_texts((file_key(table.file), sequence_of(item)), names)
    tids = [str(t) for t in table.track[rows[heads]].tolist()]
    ctx.report.record_tracks(
        ctx.unique_id(item),
        zip([file_key(table.file)] * len(tids), tids, uuids, runs, strict=True),
    )
    obj_labels = [labels[t] for t in t_rank[heads].tolist()]
    _note_gaps(ids[np.argsort(first, kind="stable")], gap, t_rank, item, ctx, split)
    del t_rank, gap
    obj: IntArray = np.cumsum(new_obj, dtype=np.int64)
    obj -= 1
    s_rows, s_obj, uuids, obj_labels = _singles(table, item, singles, len(uuids), uuids, obj_labels)
    if not len(s_rows):
        return rows.astype(np.int64, copy=False), obj, uuids, obj_labels
    all_rows = np.concatenate([rows, s_rows]).astype(np.int64, copy=False)
    return all_rows, np.concatenate([obj, s_obj]), uuids, obj_labels


def _track_order(
    table: TrackTable, frame_pos: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Tracked rows by track (first appearance), then frame; each one's track rank; the
    sorted track ids and their first row; the untracked rows in appearance order. Arrays
    are freed as soon as they are spent (a million rows: 8 MB each)."""
    order = appearance(table, frame_pos)
    mask = table.track[order] >= 0
    tracked, singles = order[mask], order[~mask]
    del order, mask
    track = table.track[tracked]
    ids, first = np.unique(track, return_index=True)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(ids))
    t_rank = rank[np.searchsorted(ids, track)]
    del track
    perm = np.lexsort((frame_pos[table.frame[tracked]], t_rank))
    rows, t_rank = tracked[perm], t_rank[perm]
    return rows, t_rank, ids, first, singles


def _run_numbers(gap: BoolArray, starts: IntArray, rows: IntArray) -> IntArray:
    """Per row, how many gaps precede it within its track (the run number)."""
    seen = np.cumsum(gap)
    out: IntArray = seen - np.repeat(seen[starts] - gap[starts], _sizes(starts, rows))
    return out


def _singles(
    table: TrackTable,
    item: Item,
    singles: IntArray,
    first: int,
    uuids: list[str],
    labels: list[str],
) -> tuple[IntArray, IntArray, list[str], list[str]]:
    """Untracked rows: one object each, after the tracks, in appearance order."""
    from prelabel.writers.context import file_key
    from prelabel.writers.video import sequence_of

    names = [f"line {n}" for n in table.line[singles].tolist()]
    uuids.extend(uuid_texts((file_key(table.file), sequence_of(item)), names))
    labels.extend(table.labels[c] for c in table.label[singles].tolist())
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
    from prelabel.writers.image import choose_target

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
    # the writer is the table's last reader: its box columns become the fitted boxes
    fit = (
        fit_boxes(boxes, limits, bounds, ctx.policy, in_place=True)
        if limits is not None
        else _no_fit(table)
    )
    fitted = np.ones(len(rows), dtype=bool) if blocked is None else ~blocked
    if fit.errors:
        err = rows[fitted & np.isin(rows, list(fit.errors))][0]
        src = SourceRef(table.file, f"line {int(table.line[err])}")
        raise LimitViolation(fit.errors[int(err)], path=src.file, location=src.location)
    records = Records()
    key = obj * (2 * len(rows))
    key += len(rows)
    key += np.arange(len(rows), dtype=np.int64)
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
    del key
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
    numbers = frame_numbers(item.frames or [])
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
    plain = alive & ~flagged
    every = bool(plain.all())  # the common case: no index copies
    bulk: Any = slice(None) if every else np.flatnonzero(plain)
    del plain
    sel = rows if every else rows[bulk]
    if not len(sel):
        return
    combo = table.label[sel].astype(np.int64)
    combo *= 16
    combo += fit.fixes[sel]
    tally = np.bincount(combo)  # few distinct (label, fixes) pairs: no sort needed
    combos = np.flatnonzero(tally)
    lookup = np.zeros(len(tally), dtype=np.int64)
    lookup[combos] = np.arange(len(combos))
    inverse, counts = lookup[combo], tally[combos]
    del combo
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
    records.bulk(
        table.file, key[bulk], table.line[sel], inverse.astype(np.int64, copy=False), tails
    )


def _count(records: Records, fixes: list[str], annotations: int) -> None:
    records.outcomes["fixed" if fixes else "converted"] += 1
    for fix in fixes:
        records.fixes[fix.split(":")[0]] += 1
    records.annotations += annotations
