"""Every row fitted to its task geometry, chosen by its label and geometry kind.

Unrotated boxes bound for a ``box`` geometry are fitted all at once: ``fit_geometry`` for
every row in numpy (clip, empty, min size with ``small_boxes``, ``integer_pixels``,
``on_violation``), with the reference fix, flag and drop texts. Every other row (a polygon,
mask, line, point..., or a box bound for a polygon) goes through
:func:`prelabel.fit.engine.fit_geometry` one by one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from prelabel.config.limits import Bounds, GeometryLimits, TargetKind
from prelabel.config.load import TaskConfig
from prelabel.errors import LimitViolation
from prelabel.fit.run import EPS, FitPolicy, Fitted
from prelabel.fit.target import choose_target
from prelabel.model import Box, Geometry, Item, TrackTable
from prelabel.tracks.records import CLIPPED, GROWN, ROUNDED

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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
    *,
    in_place: bool = False,
) -> BoxFit:
    """``fit_geometry(Box(...), "box", limits, bounds, policy)`` for every row at once.

    Rows broken past repair are in ``dropped`` (or ``errors``, the LimitViolation reason,
    under ``on_violation = "error"``), with exactly the reference texts. With ``in_place``
    the fitted boxes are written into ``boxes`` (writable float64 arrays are not copied:
    32 MB less for a million rows, for a caller that is the columns' last reader).
    """
    left, top, width, height = (_own(b, in_place) for b in boxes)
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


def _own(column: FloatArray, in_place: bool) -> FloatArray:
    if in_place and column.dtype == np.float64 and column.flags.writeable:
        return column
    return np.array(column, dtype=np.float64)


def _clip(fit: BoxFit, b: Bounds, policy: FitPolicy) -> None:
    """Clip to the padded image, in place, computing only on the rows that may cross it."""
    left, top, width, height = fit.left, fit.top, fit.width, fit.height
    inside = (left >= b.x0) & (top >= b.y0)
    inside &= left + width <= b.x1
    inside &= top + height <= b.y1
    rows = np.flatnonzero(~inside & fit.alive)  # a superset of the changed rows (NaN too)
    del inside
    if not len(rows):
        return
    l0, t0, right, bottom = (
        left[rows],
        top[rows],
        left[rows] + width[rows],
        top[rows] + height[rows],
    )
    x0, y0 = np.maximum(l0, b.x0), np.maximum(t0, b.y0)
    x1, y1 = np.minimum(right, b.x1), np.minimum(bottom, b.y1)
    changed = ~((x0 == l0) & (y0 == t0) & (x1 == right) & (y1 == bottom))
    if not changed.any():
        return
    outside = "outside: box extends past the padded image"
    if policy.on_violation != "fix":
        _fail(fit, rows[changed], outside, policy, True)
        return
    empty = changed & ~((x1 > x0) & (y1 > y0))
    _fail(fit, rows[empty], "empty: nothing inside the padded image", policy, False)
    ok = changed & ~empty
    at = rows[ok]
    fit.left[at], fit.top[at] = x0[ok], y0[ok]
    fit.width[at], fit.height[at] = (x1 - x0)[ok], (y1 - y0)[ok]
    fit.fixes[at] |= CLIPPED


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


# --- every row ------------------------------------------------------------------------------


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


def row_targets(table: TrackTable, config: TaskConfig) -> Targets:
    """Each row's task geometry, chosen once per (label, geometry kind)."""
    geometries = config.limits.geometries
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


def fit_rows(
    table: TrackTable,
    item: Item,
    config: TaskConfig,
    policy: FitPolicy,
    rows: IntArray,
    targets: Targets,
) -> Fits:
    """Fit every row that has a task geometry (``rows``: the rows in send order).

    Raises:
        LimitViolation: the first row in ``rows`` order that breaks a limit under ``error``.
    """
    limits = config.limits.geometries.get("box")
    bounds = config.limits.bounds(item.width, item.height)
    boxes = (table.left, table.top, table.width, table.height)
    # the writer is the table's last reader: its box columns become the fitted boxes
    # (unless other rows still read theirs)
    every = bool(targets.boxed.all())
    fit = (
        fit_boxes(boxes, limits, bounds, policy, in_place=every)
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
        error = _fit_one(table, int(rows[p]), p, targets, config, policy, bounds, fits)
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
    config: TaskConfig,
    policy: FitPolicy,
    bounds: Bounds | None,
    fits: Fits,
) -> tuple[int, LimitViolation] | None:
    """Fit row ``r`` (position ``p``) through the limits engine; the error it raises."""
    from prelabel.fit.engine import fit_geometry

    kind: TargetKind = targets.names[int(targets.code[r])]  # type: ignore[assignment]
    geometry = _geometry(table, r)
    try:
        fitted = fit_geometry(geometry, kind, config.limits.geometries[kind], bounds, policy)
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
