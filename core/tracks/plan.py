"""Fit, thin and record every row of a table, object by object: the rows to send.

Each row's task geometry is chosen by its label and geometry kind. Unrotated boxes bound for
a ``box`` geometry are fitted all at once (:mod:`prelabel.tracks.fit`); every other row (a
polygon, mask, line, point..., or a box bound for a polygon) goes through
:func:`prelabel.fit.engine.fit_geometry` one by one. Every row is recorded in the report
exactly once: dropped (no task geometry, broken past repair), thinned (a keyframe
interpolation reproduces it), or converted / fixed.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.config.limits import Bounds, TargetKind
from prelabel.config.load import TaskConfig
from prelabel.errors import LimitViolation
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.fit.target import choose_target
from prelabel.model import Box, Geometry, Item, SourceRef, TrackTable
from prelabel.output.report import ObjectRecord, Report
from prelabel.tracks.fit import BoxFit, fit_boxes
from prelabel.tracks.keyframes import Thinning, Tolerance, thin_track
from prelabel.tracks.keys import frame_numbers
from prelabel.tracks.objects import Objects, group
from prelabel.tracks.records import FIX_TEXTS, THINNED, THINNED_BIT, Records, record_line

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Context(Protocol):
    """What the engine needs from the writer of a task (a ``WriteContext`` is one)."""

    config: TaskConfig
    report: Report
    policy: FitPolicy

    def attributes(
        self, attributes: dict[str, Any], *, score: float | None = None
    ) -> dict[str, Any]: ...

    def sends_attributes(self, names: Collection[str], *, scored: bool) -> bool: ...


@dataclass(slots=True)
class Plan:
    """The rows to send, object by object, frame by frame, and what they became."""

    rows: IntArray  # table rows to send
    obj: IntArray  # the object of each row to send
    objects: Objects  # uuids, labels and tracks of the objects
    kinds: list[str]  # the geometry of each object (its first row's)
    fit: BoxFit  # fitted boxes, by table row
    shapes: dict[int, tuple[TargetKind, Geometry]]  # rows sent as another geometry
    frame: IntArray  # the frame of each table row
    attributes: list[dict[str, Any]] | None  # per row to send (None: no row sends any)


@dataclass(slots=True)
class Targets:
    """The task geometry of every row."""

    names: list[str]  # a target kind, or the reason there is none
    code: IntArray  # per table row: an index into names
    boxed: BoolArray  # per table row: an unrotated box bound for ``box`` (fitted at once)
    missing: BoolArray  # per table row: no task geometry


@dataclass(slots=True)
class Fits:
    """What fitting made of the rows, by position in object order."""

    fit: BoxFit
    alive: BoolArray
    shaped: dict[int, Fitted] = field(default_factory=dict)  # position -> its fit
    kinds: dict[int, TargetKind] = field(default_factory=dict)  # position -> target


def plan(
    table: TrackTable,
    item: Item,
    ctx: Context,
    task: str,
    frame_pos: IntArray,
    *,
    one_kind: bool = False,
) -> Plan:
    """Group, fit, thin and record every row; the rows to send.

    ``frame_pos`` orders the frames (the task's order). With ``one_kind`` (a videoplayback
    object has one geometry) rows whose geometry is not their object's first one are
    dropped.

    Raises:
        LimitViolation: under ``on_violation = "error"``, naming the first row in send order.
    """
    split = ctx.config.prelabel.track_gaps == "split"
    objects = group(table, item, ctx.report, frame_pos, split=split)
    rows, obj = objects.rows, objects.obj
    targets = _targets(table, ctx)
    fits = _fit(table, item, ctx, rows, targets)
    records = Records()
    key, early = _keys(table, rows, obj)
    _no_target(table, rows, targets, early, records, task)
    boxed = targets.boxed[rows]
    _drops(table, rows, boxed, fits, key, records, task)
    kinds = _kinds(obj, fits)
    if one_kind:
        _mixed(table, rows, obj, fits, kinds, key, records, task)
    thinned = _thin(table, item, ctx, rows, obj, fits)
    fits.fit.fixes[rows[thinned & boxed]] |= THINNED_BIT
    _converted(records, table, rows, key, fits.alive & boxed, thinned, fits.fit, task)
    _shaped(records, table, rows, key, fits, thinned, task)
    del key, early
    records.flush(ctx.report)
    sent = fits.alive & ~thinned
    shapes = {
        int(rows[p]): (fits.kinds[p], f.geometries[0]) for p, f in fits.shaped.items() if sent[p]
    }
    if not sent.all():
        rows, obj = rows[sent], obj[sent]
    objects.rows = objects.obj = rows[:0]  # the plan's own arrays replace them (8 MB each)
    attributes = _attributes(table, rows, ctx)
    return Plan(rows, obj, objects, kinds, fits.fit, shapes, table.frame, attributes)


def _attributes(table: TrackTable, rows: IntArray, ctx: Context) -> list[dict[str, Any]] | None:
    """The attributes sent with each row to send (None when no row sends any), asked of
    the writer row by row in send order; the writer's note when none is defined."""
    if not len(rows):
        return None
    scored = not bool(np.isnan(table.score).all())
    if table.objects is None and not ctx.sends_attributes(list(table.attributes), scored=scored):
        if table.attributes:  # what the writer says when it leaves attributes out
            ctx.attributes(table.row_attributes(int(rows[0])))
        return None
    out = [ctx.attributes(table.row_attributes(r), score=table.row_score(r)) for r in rows.tolist()]
    return out if any(out) else None


def _keys(table: TrackTable, rows: IntArray, obj: IntArray) -> tuple[IntArray, IntArray]:
    """The order of the records: a file's rows by line (so plainly converted rows on
    consecutive lines make one run record); rows made from instances object by object,
    a row without a task geometry before the others of its object (the second key)."""
    if table.objects is None:
        lines: IntArray = table.line[rows]
        return lines, lines
    key = obj * (2 * len(rows)) + len(rows) + np.arange(len(rows), dtype=np.int64)
    return key, key - len(rows)


def track_map(plan_: Plan) -> list[dict[str, Any]]:
    """Which tracker track (and run) each object of the task is, and its annotation uuid:
    report.json's ``tasks[].tracks`` (untracked rows and objects with nothing sent left out)."""
    obj = plan_.obj
    sent = obj[np.r_[True, obj[1:] != obj[:-1]]] if len(obj) else obj
    refs, uuids = plan_.objects.refs, plan_.objects.uuids
    return [
        {"source": ref.source, "track_id": ref.track_id, "uuid": uuids[o], "run": ref.run}
        for o in sent.tolist()
        if (ref := refs[o]) is not None
    ]


# --- targets and fits ---------------------------------------------------------------------


def _targets(table: TrackTable, ctx: Context) -> Targets:
    """Each row's task geometry, chosen once per (label, geometry kind)."""
    geometries = ctx.config.limits.geometries
    kinds, plain = ["box"], np.ones(len(table), dtype=bool)
    kind = np.zeros(len(table), dtype=np.int64)
    if table.objects is not None:
        seen = [o.geometry.kind for o in table.objects.tolist()]
        kinds = list(dict.fromkeys(seen))
        kind = np.array([kinds.index(k) for k in seen], dtype=np.int64).reshape(-1)
        plain = ~np.isnan(table.width)
    pair = table.label.astype(np.int64) * len(kinds) + kind
    tally = np.bincount(pair) if len(pair) else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(tally)
    lookup = np.zeros(len(tally), dtype=np.int64)
    lookup[present] = np.arange(len(present))
    names = [
        choose_target(kinds[p % len(kinds)], table.labels[p // len(kinds)], geometries)
        for p in present.tolist()
    ]
    code = lookup[pair]
    is_box = np.array([n == "box" for n in names], dtype=bool)
    missing = np.array([n not in geometries for n in names], dtype=bool)
    if not names:
        return Targets(names, code, plain[:0], plain[:0])
    return Targets(names, code, is_box[code] & plain, missing[code])


def _fit(table: TrackTable, item: Item, ctx: Context, rows: IntArray, targets: Targets) -> Fits:
    """Fit every row that has a task geometry.

    Raises:
        LimitViolation: the first row in ``rows`` order that breaks a limit under ``error``.
    """
    limits = ctx.config.limits.geometries.get("box")
    bounds = ctx.config.limits.bounds(item.width, item.height)
    boxes = (table.left, table.top, table.width, table.height)
    # the writer is the table's last reader: its box columns become the fitted boxes
    # (unless other rows still read theirs)
    every = bool(targets.boxed.all())
    fit = (
        fit_boxes(boxes, limits, bounds, ctx.policy, in_place=every)
        if limits is not None and targets.boxed.any()
        else _no_fit(table)
    )
    if not every:
        _only(fit, targets.boxed)
    boxed = targets.boxed[rows]
    fits = Fits(fit, boxed & fit.alive[rows])
    first_error = _first(table, rows, boxed, fit.errors)
    for p in np.flatnonzero(~boxed & ~targets.missing[rows]).tolist():
        if first_error is not None and p > first_error[0]:
            break
        error = _fit_one(table, int(rows[p]), p, targets, ctx, bounds, fits)
        if error is not None:
            first_error = error
    if first_error is not None:
        raise first_error[1]
    return fits


def _first(
    table: TrackTable, rows: IntArray, boxed: BoolArray, errors: dict[int, str]
) -> tuple[int, LimitViolation] | None:
    """The box fit's first error in ``rows`` order (its position and the error)."""
    if not errors:
        return None
    p = int(np.flatnonzero(boxed & np.isin(rows, list(errors)))[0])
    src = table.source(int(rows[p]))
    return p, LimitViolation(errors[int(rows[p])], path=src.file, location=src.location)


def _fit_one(
    table: TrackTable,
    r: int,
    p: int,
    targets: Targets,
    ctx: Context,
    bounds: Bounds | None,
    fits: Fits,
) -> tuple[int, LimitViolation] | None:
    """Fit row ``r`` (position ``p``) through the limits engine; the error it raises."""
    from prelabel.fit.engine import fit_geometry

    kind: TargetKind = targets.names[int(targets.code[r])]  # type: ignore[assignment]
    geometry = _geometry(table, r)
    try:
        fitted = fit_geometry(
            geometry, kind, ctx.config.limits.geometries[kind], bounds, ctx.policy
        )
    except LimitViolation as exc:
        src = table.source(r)
        return p, LimitViolation(exc.reason, path=src.file, location=src.location)
    fits.shaped[p], fits.kinds[p] = fitted, kind
    if fitted.dropped is None and fitted.geometries:
        fits.alive[p] = True
        g = fitted.geometries[0]
        if isinstance(g, Box) and len(fitted.geometries) == 1:  # thinned as a box
            fit = fits.fit
            fit.left[r], fit.top[r], fit.width[r], fit.height[r] = g.left, g.top, g.width, g.height
    return None


def _geometry(table: TrackTable, r: int) -> Geometry:
    if table.objects is not None:
        geometry: Geometry = table.objects[r].geometry
        return geometry
    return Box(*(float(c[r]) for c in (table.left, table.top, table.width, table.height)))


def _no_fit(table: TrackTable) -> BoxFit:
    """Box columns nothing fits (no row is a box bound for ``box``), as a fit's own arrays."""
    return BoxFit(
        np.array(table.left, dtype=np.float64),
        np.array(table.top, dtype=np.float64),
        np.array(table.width, dtype=np.float64),
        np.array(table.height, dtype=np.float64),
        np.zeros(len(table), dtype=np.uint8),
    )


def _only(fit: BoxFit, boxed: BoolArray) -> None:
    """Forget what the box fit said of rows it does not fit (other geometries)."""
    for found in (fit.dropped, fit.flags, fit.errors):
        for r in [r for r in found if not boxed[r]]:
            del found[r]
    fit.fixes[~boxed] = 0


# --- records ------------------------------------------------------------------------------


def _label(table: TrackTable, r: int) -> str:
    return table.labels[int(table.label[r])]


def _no_target(
    table: TrackTable, rows: IntArray, targets: Targets, key: IntArray, records: Records, task: str
) -> None:
    for p in np.flatnonzero(targets.missing[rows]).tolist():
        r = int(rows[p])
        reason = targets.names[int(targets.code[r])]
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)


def _drops(
    table: TrackTable,
    rows: IntArray,
    boxed: BoolArray,
    fits: Fits,
    key: IntArray,
    records: Records,
    task: str,
) -> None:
    """Rows the fit dropped (broken past repair), with its reason."""
    for p in np.flatnonzero(boxed & ~fits.alive).tolist():
        r = int(rows[p])
        reason = fits.fit.dropped[r]
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)
    for p, fitted in fits.shaped.items():
        if fitted.dropped is not None or not fitted.geometries:
            r = int(rows[p])
            reason = fitted.dropped or "nothing left after fitting"
            line = record_line(
                table, r, "dropped", _label(table, r), task, reason=reason, iou=fitted.iou
            )
            records.dropped(int(key[p]), line, reason, fitted.iou)


def _kinds(obj: IntArray, fits: Fits) -> list[str]:
    """The geometry of each object: its first fitted row's (``box`` without one)."""
    n_obj = int(obj[-1]) + 1 if len(obj) else 0
    out = ["box"] * n_obj
    if not fits.kinds:
        return out
    alive = np.flatnonzero(fits.alive)
    heads = alive[np.r_[True, obj[alive][1:] != obj[alive][:-1]]] if len(alive) else alive
    for p in heads.tolist():
        out[int(obj[p])] = fits.kinds.get(p, "box")
    return out


def _mixed(
    table: TrackTable,
    rows: IntArray,
    obj: IntArray,
    fits: Fits,
    kinds: list[str],
    key: IntArray,
    records: Records,
    task: str,
) -> None:
    """Drop rows whose geometry is not their object's (a videoplayback object has one)."""
    if not fits.kinds:  # every row a box
        return
    for p in np.flatnonzero(fits.alive).tolist():
        kind = fits.kinds.get(p, "box")
        want = kinds[int(obj[p])]
        if kind == want:
            continue
        r = int(rows[p])
        fits.alive[p] = False
        reason = f"mixed geometry: a {kind} on a track sent as a {want} (its first frame's)"
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)


def _thin(
    table: TrackTable, item: Item, ctx: Context, rows: IntArray, obj: IntArray, fits: Fits
) -> BoolArray:
    """Keyframe thinning per object (positions in ``rows`` thinned away); notes the figures.

    Rows fitted to one box take part (boxes bound for ``box``, and others fitted to one)."""
    options = ctx.config.prelabel
    tol = Tolerance(options.keyframe_iou, options.keyframe_px)
    thinned = np.zeros(len(rows), dtype=bool)
    if not tol.active:
        return thinned
    numbers = frame_numbers(item.frames or [])
    total = Thinning()
    boxy = fits.alive.copy()
    for at, fitted in fits.shaped.items():
        boxy[at] &= len(fitted.geometries) == 1 and isinstance(fitted.geometries[0], Box)
    pos = np.flatnonzero(boxy)
    objs = obj[pos]
    starts = np.flatnonzero(np.r_[True, objs[1:] != objs[:-1]]).tolist() if len(pos) else []
    fit = fits.fit
    for a, b in itertools.pairwise([*starts, len(pos)]):
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


def _shaped(
    records: Records,
    table: TrackTable,
    rows: IntArray,
    key: IntArray,
    fits: Fits,
    thinned: BoolArray,
    task: str,
) -> None:
    """Records of the rows fitted one by one and kept (as the report records a fit)."""
    for p, fitted in fits.shaped.items():
        if not fits.alive[p]:
            continue
        r = int(rows[p])
        if thinned[p]:
            fixes, iou, n = [*fitted.fixes, THINNED], None, 0
        else:
            fixes, iou, n = fitted.fixes, fitted.iou, len(fitted.geometries)
        rec = ObjectRecord(
            table.source(r),
            "fixed" if fixes else "converted",
            label=_label(table, r),
            task=task,
            fixes=list(fixes),
            flags=list(fitted.flags),
            iou=iou,
            annotations=n,
        )
        records.text(int(key[p]), orjson.dumps(rec.as_dict()), iou)
        _count(records, fixes, n)


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
    """Records of the boxes fitted at once: flagged ones (and rows made from instances) one
    by one, the rest as polars strings."""
    flagged = np.zeros(len(rows), dtype=bool)
    if fit.flags:
        flagged = alive & np.isin(rows, list(fit.flags))
    if table.objects is not None:
        flagged = alive
    for p in np.flatnonzero(flagged).tolist():
        r = int(rows[p])
        fixes = [text for bit, text in FIX_TEXTS if fit.fixes[r] & bit]
        n = 0 if thinned[p] else 1
        line = record_line(
            table,
            r,
            "fixed" if fixes else "converted",
            _label(table, r),
            task,
            fixes=fixes,
            flags=[fit.flags[r]] if r in fit.flags else [],
            annotations=n,
        )
        records.text(int(key[p]), line)
        _count(records, fixes, n)
    plain = alive & ~flagged
    if table.objects is None:  # a file's rows: their records go by line, so take them so
        bulk: Any = _table_order(rows[plain], len(table))
        sel = bulk
        key = table.line
    else:
        every = bool(plain.all())  # the common case: no index copies
        bulk = slice(None) if every else np.flatnonzero(plain)
        sel = rows if every else rows[bulk]
    del plain
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
    tails, compact = [], []
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
        compact.append(not fixes)
        records.outcomes["fixed" if fixes else "converted"] += n_rows
        for fix in fixes:
            records.fixes[fix.split(":")[0]] += n_rows
        records.annotations += n * n_rows
    which = inverse.astype(np.int64, copy=False)
    records.bulk(table.file, key[bulk], table.line[sel], which, tails, compact)


def _table_order(rows: IntArray, n: int) -> IntArray:
    """``rows`` (distinct table rows) in table order, without a sort."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    out: IntArray = np.flatnonzero(mask)
    return out


def _count(records: Records, fixes: list[str], annotations: int) -> None:
    records.outcomes["fixed" if fixes else "converted"] += 1
    for fix in fixes:
        records.fixes[fix.split(":")[0]] += 1
    records.annotations += annotations
