"""Group, fit, thin and record every row of a table, object by object: the rows to send.

Rows are grouped into objects (:mod:`prelabel.tracks.objects`), fitted to their task
geometry (:mod:`prelabel.tracks.fit`), thinned to keyframes, and recorded in the report
exactly once (:mod:`prelabel.tracks.outcomes`): dropped (no task geometry, broken past
repair), thinned (a keyframe interpolation reproduces it), or converted / fixed.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from prelabel.config.limits import TargetKind
from prelabel.config.load import TaskConfig
from prelabel.fit.run import FitPolicy
from prelabel.model import Box, Geometry, Item, TrackTable
from prelabel.output.report import Report
from prelabel.tracks import outcomes
from prelabel.tracks.fit import BoxFit, Fits, Targets, fit_rows, row_targets
from prelabel.tracks.keyframes import Thinning, Tolerance, thin_track
from prelabel.tracks.keys import frame_numbers
from prelabel.tracks.objects import Objects, group
from prelabel.tracks.records import THINNED_BIT, Records

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
    targets = row_targets(table, ctx.config)
    fits = fit_rows(table, item, ctx.config, ctx.policy, objects.rows, targets)
    kinds = _kinds(objects.obj, fits)
    mixed = kinds if one_kind else None
    thinned = _record(table, item, ctx, task, objects, targets, fits, frame_pos, mixed)
    return _to_send(table, ctx, objects, kinds, fits, thinned)


def _record(
    table: TrackTable,
    item: Item,
    ctx: Context,
    task: str,
    objects: Objects,
    targets: Targets,
    fits: Fits,
    frame_pos: IntArray,
    one_kind: list[str] | None,
) -> BoolArray:
    """Record every row (dropped, thinned, converted / fixed); the positions thinned."""
    rows, obj = objects.rows, objects.obj
    records = Records()
    key, early = _keys(table, rows, obj)
    outcomes.no_target(table, rows, targets, early, records, task)
    boxed = targets.boxed[rows]
    outcomes.drops(table, rows, boxed, fits, key, records, task)
    if one_kind is not None:
        outcomes.mixed(table, rows, obj, fits, one_kind, key, records, task)
    thinned = _thin(table, item, ctx, objects, fits, frame_pos)
    fits.fit.fixes[rows[thinned & boxed]] |= THINNED_BIT
    outcomes.converted(records, table, rows, key, fits.alive & boxed, thinned, fits.fit, task)
    outcomes.shaped(records, table, rows, key, fits, thinned, task)
    del key, early
    records.flush(ctx.report)
    return thinned


def _to_send(
    table: TrackTable,
    ctx: Context,
    objects: Objects,
    kinds: list[str],
    fits: Fits,
    thinned: BoolArray,
) -> Plan:
    rows, obj = objects.rows, objects.obj
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


# --- kinds and thinning -----------------------------------------------------------------------


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


def _thin(
    table: TrackTable, item: Item, ctx: Context, objects: Objects, fits: Fits, frame_pos: IntArray
) -> BoolArray:
    """Keyframe thinning per object (positions in ``rows`` thinned away); notes the figures.

    Rows fitted to one box take part (boxes bound for ``box``, and others fitted to one).
    Interpolation runs in frame numbers; a gap is a task frame missed (``frame_pos``)."""
    rows, obj = objects.rows, objects.obj
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
        keep, figures = thin_track(frames, boxes, tol, frame_pos[table.frame[r]])
        total.add(figures)
        thinned[p[~keep]] = True
    ctx.report.note(f"{item.key}: {total.describe()}")
    return thinned
