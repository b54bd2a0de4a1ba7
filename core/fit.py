"""The geometry-limits engine: fit a model geometry to a task's limits, or drop it with a reason.

:func:`fit_geometry` turns one model geometry into shapes Scale accepts for a target kind:

* conversions (not violations): mask -> polygon (traced along pixel edges), mask / polygon /
  ellipse -> box (bounds), box -> polygon (its 4 corners); holes keyholed or filled and parts
  split or reduced to the largest, as the policy says;
* violations, which ``on_violation`` decides (``fix`` repairs, ``drop`` drops the object with
  the limit in the reason, ``error`` raises :class:`~prelabel.errors.LimitViolation`):
  invalid rings (``make_valid``), shapes past the padded image (clipped), too many vertices
  (simplified by a bisection of the Douglas-Peucker tolerance), too few (densified), boxes
  under the minimum size (``small_boxes``), rotation without ``can_rotate``;
* what cannot be fixed (zero area, nothing inside the image, unsupported conversion) is
  dropped with a reason, or raised under ``error``.

``Fitted.fixes`` holds short texts whose part before ``':'`` is the kind of change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from . import geometry as geo
from .errors import LimitViolation
from .limits import Bounds, GeometryLimits, TargetKind
from .model import Box, Cuboid, Ellipse, Geometry, Line, Mask, Point, Polygon
from .options import HolePolicy, OnViolation, PartPolicy, PrelabelOptions, SmallBoxPolicy

# coordinates within this of the bounds count as inside (float noise of clipping)
EPS = 1e-9
# shapes (and parts) with less area than this (px^2) are degenerate: float slivers left by
# repairs and clipping, not annotations
MIN_AREA = 1e-6


@dataclass(frozen=True, slots=True)
class FitPolicy:
    """How the engine repairs what breaks a limit (from the ``[prelabel]`` options)."""

    on_violation: OnViolation = "fix"
    holes: HolePolicy = "keyhole"
    min_hole_area: float = 0.0
    parts: PartPolicy = "each"
    small_boxes: SmallBoxPolicy | None = None

    @classmethod
    def from_options(cls, options: PrelabelOptions) -> FitPolicy:
        return cls(
            on_violation=options.on_violation,
            holes=options.holes,
            min_hole_area=options.min_hole_area,
            parts=options.parts,
            small_boxes=options.small_boxes,
        )


@dataclass(slots=True)
class Fitted:
    """What the engine made of one geometry.

    ``geometries`` are shapes Scale accepts for the target kind (a polygon here has exactly
    one part and no holes); empty when dropped, with ``dropped`` the reason. ``fixes`` lists
    each change made ("simplified: 812 -> 100 vertices", "clipped: to padded image");
    ``flags`` lists problems kept on purpose. ``iou`` is the IoU of the result against the
    source shape (mask or input polygon) where defined.
    """

    geometries: list[Geometry] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    dropped: str | None = None
    iou: float | None = None


class _Drop(Exception):
    """Internal: the object is dropped with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Run:
    """The state of one fit: policy, fixes and flags so far."""

    policy: FitPolicy
    limits: GeometryLimits
    bounds: Bounds | None
    fixes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    iou: float | None = None

    def violation(self, reason: str) -> None:
        """A limit is broken: raise under ``error``, drop under ``drop``, go on under ``fix``."""
        if self.policy.on_violation == "error":
            raise LimitViolation(reason)
        if self.policy.on_violation == "drop":
            raise _Drop(reason)

    def fail(self, reason: str) -> _Drop:
        """Nothing can fix this: the drop to raise (or a LimitViolation under ``error``)."""
        if self.policy.on_violation == "error":
            raise LimitViolation(reason)
        return _Drop(reason)


def fit_geometry(
    geometry: Geometry,
    target: TargetKind,
    limits: GeometryLimits,
    bounds: Bounds | None,
    policy: FitPolicy,
) -> Fitted:
    """Fit ``geometry`` to ``target`` under ``limits`` inside ``bounds``.

    Args:
        geometry: the model geometry (any kind).
        target: the Scale geometry kind to produce.
        limits: the target's limits from the task config.
        bounds: the drawable area (image extended by padding), or None for no clipping.
        policy: how to treat violations, holes, parts and small boxes.

    Returns:
        The fitted geometries with fixes, flags and IoU, or a drop reason.

    Raises:
        LimitViolation: when ``policy.on_violation == "error"`` and a limit is broken.
    """
    run = _Run(policy, limits, bounds)
    try:
        with np.errstate(all="ignore"):  # GEOS on float slivers; results are checked
            out = _TARGETS[target](geometry, run)
    except _Drop as drop:
        return Fitted(fixes=run.fixes, flags=run.flags, dropped=drop.reason, iou=run.iou)
    return Fitted(geometries=out, fixes=run.fixes, flags=run.flags, iou=run.iou)


def _unsupported(geometry: Geometry, target: str, run: _Run) -> _Drop:
    return run.fail(f"unsupported: a {geometry.kind} cannot become a {target}")


# --- polygons ---------------------------------------------------------------------------


def _fit_polygon(geometry: Geometry, run: _Run) -> list[Geometry]:
    if isinstance(geometry, Mask):
        return _fit_mask_polygon(geometry, run)
    if isinstance(geometry, Polygon):
        shape = _valid_input_shape(geometry, run)
    elif isinstance(geometry, Box):
        shape = shapely.Polygon(geo.rotated_box_vertices(geometry))
        if not shapely.area(shape) > MIN_AREA:
            raise run.fail("degenerate: zero area box")
    else:
        raise _unsupported(geometry, "polygon", run)
    reference = shape
    shape = _clip_shape(shape, run)
    parts = _choose_parts(geo.shape_to_parts(shape), run)
    kept, rings = _fit_parts(parts, run)
    run.iou = _shape_iou(reference, kept) if run.fixes else 1.0
    return [Polygon.from_ring(geo.to_ring(r)) for r in rings]


def _fit_mask_polygon(mask: Mask, run: _Run) -> list[Geometry]:
    crop, x0, y0 = geo.decode_cropped(mask)
    if crop.size == 0:
        raise run.fail("empty: mask has no pixels")
    parts = geo.trace_parts(crop)
    offset = np.array([x0, y0], dtype=np.float64)
    parts = [(e + offset, [h + offset for h in hs]) for e, hs in parts]
    if run.bounds is not None and not _inside(_parts_bounds(parts), run.bounds):
        parts = geo.shape_to_parts(_clip_shape(geo.parts_to_shape(parts), run))
    parts = _choose_parts(parts, run)
    _, rings = _fit_parts(parts, run)
    raster = np.zeros_like(crop)
    for ring in rings:  # each ring is its own annotation: OR them (they may overlap)
        raster |= geo.rings_to_mask([ring], crop.shape[0], crop.shape[1], origin=(x0, y0))
    run.iou = geo.iou(raster, crop)
    return [Polygon.from_ring(geo.to_ring(r)) for r in rings]


def _valid_input_shape(polygon: Polygon, run: _Run) -> shapely.Geometry:
    """The input polygon as a valid shapely geometry (repaired under ``fix``)."""
    parts: list[geo.PartArrays] = []
    for part in polygon.parts:
        ext = geo.clean_ring(geo.ring_array(part.exterior))
        if len(ext) >= 3:
            holes = [geo.clean_ring(geo.ring_array(h)) for h in part.holes]
            parts.append((ext, [h for h in holes if len(h) >= 3]))
    if not parts:
        raise run.fail("degenerate: fewer than 3 distinct vertices")
    shape = geo.parts_to_shape(parts)
    if not shapely.is_valid(shape):
        reason = shapely.is_valid_reason(shape).split("[")[0]
        run.violation(f"invalid: {reason}")
        shape = _repair(shape)
        run.fixes.append(f"repaired: {reason.lower()} (make_valid)")
    if not shapely.area(shape) > MIN_AREA:
        raise run.fail("degenerate: zero area")
    return shape


def _repair(shape: shapely.Geometry) -> shapely.Geometry:
    """A valid polygonal version of ``shape``: ``make_valid`` (structure, then linework
    polygons), then a zero buffer if GEOS still leaves it invalid."""
    out = shapely.make_valid(shape, method="structure", keep_collapsed=False)
    if not shapely.is_valid(out):
        pieces = geo.shape_to_parts(shapely.make_valid(shape))
        out = shapely.union_all([shapely.Polygon(e, hs) for e, hs in pieces])
    return out if shapely.is_valid(out) else shapely.buffer(out, 0)


def _parts_bounds(parts: list[geo.PartArrays]) -> tuple[float, float, float, float]:
    pts = np.concatenate([e for e, _ in parts])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _inside(box: tuple[float, float, float, float], bounds: Bounds) -> bool:
    x0, y0, x1, y1 = box
    return (
        x0 >= bounds.x0 - EPS
        and y0 >= bounds.y0 - EPS
        and x1 <= bounds.x1 + EPS
        and y1 <= bounds.y1 + EPS
    )


def _clip_shape(shape: shapely.Geometry, run: _Run) -> shapely.Geometry:
    """Clip a valid polygonal shape to the bounds (a violation when anything is cut)."""
    b = run.bounds
    if b is None or _inside(tuple(shapely.bounds(shape)), b):
        return shape
    run.violation("outside: polygon extends past the padded image")
    clipped = shapely.intersection(shape, shapely.box(b.x0, b.y0, b.x1, b.y1))
    if not geo.shape_to_parts(clipped) or not shapely.area(clipped) > MIN_AREA:
        raise _Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    return clipped


def _choose_parts(parts: list[geo.PartArrays], run: _Run) -> list[geo.PartArrays]:
    if len(parts) <= 1:
        return parts
    if run.policy.parts == "largest":
        areas = [
            abs(geo.signed_area(e)) - sum(abs(geo.signed_area(h)) for h in hs) for e, hs in parts
        ]
        run.fixes.append(f"largest: kept 1 of {len(parts)} parts")
        return [parts[int(np.argmax(areas))]]
    run.fixes.append(f"split: {len(parts)} parts -> {len(parts)} annotations")
    return parts


@dataclass(slots=True)
class _Tally:
    """Totals over the parts of one object, reported as one fix each."""

    before: int = 0
    after: int = 0
    simplified: int = 0
    filled_small: int = 0
    filled: int = 0
    dropped_holes: int = 0
    bridged: int = 0
    dense_before: int = 0
    dense_after: int = 0
    degenerate: int = 0

    def texts(self) -> list[str]:
        out = []
        if self.filled_small:
            out.append(f"filled: {self.filled_small} holes under min_hole_area")
        if self.filled:
            out.append(f"filled: {self.filled} holes (holes = fill)")
        if self.dropped_holes:
            out.append(f"filled: {self.dropped_holes} smallest holes to fit max_vertices")
        if self.simplified:
            out.append(f"simplified: {self.before} -> {self.after} vertices")
        if self.bridged:
            out.append(f"keyhole: {self.bridged} holes bridged")
        if self.dense_before:
            out.append(f"densified: {self.dense_before} -> {self.dense_after} vertices")
        if self.degenerate:
            out.append(f"dropped: {self.degenerate} degenerate parts")
        return out


def _fit_parts(
    parts: list[geo.PartArrays], run: _Run
) -> tuple[list[geo.PartArrays], list[geo.Coords]]:
    """Each part to one ring within the vertex budget; returns kept parts and their rings."""
    tally = _Tally()
    kept: list[geo.PartArrays] = []
    rings: list[geo.Coords] = []
    for ext, holes in parts:
        fitted = _fit_part(ext, holes, run, tally)
        if fitted is not None:
            kept.append(fitted[0])
            rings.append(fitted[1])
    run.fixes.extend(tally.texts())
    if not rings:
        raise run.fail("degenerate: no part with area and 3 distinct vertices")
    return kept, rings


def _fit_part(
    ext: geo.Coords, holes: list[geo.Coords], run: _Run, tally: _Tally
) -> tuple[geo.PartArrays, geo.Coords] | None:
    holes = _filter_holes(holes, run, tally)
    ext, holes = _to_budget(ext, holes, run, tally)
    ring = geo.keyhole_arrays(ext, holes) if holes else ext
    tally.bridged += len(holes)
    area = geo.signed_area(ring) if len(ring) >= 3 else 0.0
    if not abs(area) > MIN_AREA:
        tally.degenerate += 1
        return None
    if area < 0:  # one orientation for every output: clockwise on screen (y down)
        ring = np.concatenate((ring[:1], ring[:0:-1]))
    return (ext, holes), _to_min_vertices(ring, run, tally)


def _filter_holes(holes: list[geo.Coords], run: _Run, tally: _Tally) -> list[geo.Coords]:
    if not holes:
        return holes
    if run.policy.holes == "fill":
        tally.filled += len(holes)
        return []
    if run.policy.min_hole_area <= 0:
        return holes
    kept = [h for h in holes if abs(geo.signed_area(h)) >= run.policy.min_hole_area]
    tally.filled_small += len(holes) - len(kept)
    return kept


def _to_budget(
    ext: geo.Coords, holes: list[geo.Coords], run: _Run, tally: _Tally
) -> geo.PartArrays:
    limit = run.limits.max_vertices
    count = len(ext) + sum(len(h) + 2 for h in holes)
    if limit is None or count <= limit:
        return ext, holes
    run.violation(f"too many vertices: {count} > max_vertices {limit}")
    limit = max(limit, 3)
    out = geo.simplify_part(ext, holes, limit)
    while out is None:  # holes alone are over budget: fill the smallest first
        if not holes:
            raise run.fail(f"too many vertices: cannot simplify {count} to {limit}")
        holes = sorted(holes, key=lambda r: abs(geo.signed_area(r)))[1:]
        tally.dropped_holes += 1
        out = geo.simplify_part(ext, holes, limit)
    tally.simplified += 1
    tally.before += count
    tally.after += len(out[0]) + sum(len(h) + 2 for h in out[1])
    return out


def _to_min_vertices(ring: geo.Coords, run: _Run, tally: _Tally) -> geo.Coords:
    need = run.limits.min_vertices
    if len(ring) >= need:
        return ring
    run.violation(f"too few vertices: {len(ring)} < min_vertices {need}")
    tally.dense_before += len(ring)
    tally.dense_after += need
    return geo.densify_array(ring, need)


def _shape_iou(reference: shapely.Geometry, kept: list[geo.PartArrays]) -> float:
    result = shapely.union_all([shapely.Polygon(e, hs) for e, hs in kept])
    union = shapely.area(shapely.union(reference, result))
    if not union > 0:
        return 0.0
    return float(shapely.area(shapely.intersection(reference, result)) / union)


# --- lines ------------------------------------------------------------------------------


def _fit_line(geometry: Geometry, run: _Run) -> list[Geometry]:
    if not isinstance(geometry, Line):
        raise _unsupported(geometry, "line", run)
    pts = geo.ring_array(geometry.vertices) if geometry.vertices else np.empty((0, 2))
    if len(pts) > 1:
        pts = pts[np.r_[True, np.any(pts[1:] != pts[:-1], axis=1)]]
    if len(pts) < 2:
        raise run.fail("degenerate: a line needs 2 distinct vertices")
    pieces = _clip_line(shapely.LineString(pts), run)
    tally = _Tally()
    out: list[Geometry] = []
    for piece in pieces:
        piece = _line_to_budget(piece, run, tally)
        arr = shapely.get_coordinates(piece)
        arr = _line_min_vertices(arr, run, tally)
        out.append(Line(geo.to_ring(arr)))
    run.fixes.extend(tally.texts())
    return out


def _clip_line(line: shapely.Geometry, run: _Run) -> list[shapely.Geometry]:
    b = run.bounds
    if b is None or _inside(tuple(shapely.bounds(line)), b):
        return [line]
    run.violation("outside: line extends past the padded image")
    clipped = shapely.intersection(line, shapely.box(b.x0, b.y0, b.x1, b.y1))
    pieces = [g for g in shapely.get_parts(shapely.line_merge(clipped)) if _is_line(g)]
    if not pieces:
        raise _Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    if len(pieces) > 1:
        run.fixes.append(f"split: line in {len(pieces)} pieces -> {len(pieces)} annotations")
    return pieces


def _is_line(g: shapely.Geometry) -> bool:
    return bool(shapely.get_type_id(g) == 1 and shapely.length(g) > 0)


def _line_to_budget(line: shapely.Geometry, run: _Run, tally: _Tally) -> shapely.Geometry:
    limit = run.limits.max_vertices
    count = int(shapely.get_num_coordinates(line))
    if limit is None or count <= limit:
        return line
    run.violation(f"too many vertices: {count} > max_vertices {limit}")
    out = geo.bisect_simplify(line, max(limit, 2), closed=False)
    out = line if out is None else out
    tally.simplified += 1
    tally.before += count
    tally.after += int(shapely.get_num_coordinates(out))
    return out


def _line_min_vertices(arr: geo.Coords, run: _Run, tally: _Tally) -> geo.Coords:
    need = run.limits.min_vertices
    if len(arr) >= need:
        return arr
    run.violation(f"too few vertices: {len(arr)} < min_vertices {need}")
    tally.dense_before += len(arr)
    tally.dense_after += need
    return geo.densify_array(arr, need, closed=False)


# --- boxes ------------------------------------------------------------------------------


def _fit_box(geometry: Geometry, run: _Run) -> list[Geometry]:
    box = _source_box(geometry, run)
    box = _unrotate(box, run)
    if not (box.width > EPS and box.height > EPS):
        raise run.fail(f"degenerate: box {box.width:g}x{box.height:g} has zero area")
    box = _clip_box(box, run)
    box = _min_size(box, run)
    box = _round_box(box, run)
    return [box]


def _source_box(geometry: Geometry, run: _Run) -> Box:
    if isinstance(geometry, Box):
        return geometry
    if isinstance(geometry, Mask):
        box = geo.mask_bbox(geometry)
        if box.width == 0:
            raise run.fail("empty: mask has no pixels")
        return box
    if isinstance(geometry, Polygon):
        pts = np.concatenate([geo.ring_array(p.exterior) for p in geometry.parts])
        if pts.size == 0:
            raise run.fail("degenerate: polygon has no vertices")
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    if isinstance(geometry, Ellipse):
        x0, y0, x1, y1 = geo.ellipse_bounds(geometry)
        return Box(x0, y0, x1 - x0, y1 - y0)
    raise _unsupported(geometry, "box", run)


def _unrotate(box: Box, run: _Run) -> Box:
    if math.remainder(box.rotation, 2 * math.pi) == 0 or run.limits.can_rotate:
        return box
    run.violation(f"rotated: box rotation {box.rotation:g} rad but can_rotate is false")
    pts = np.asarray(geo.rotated_box_vertices(box))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    run.fixes.append("rotated: replaced by the axis-aligned bounding box")
    return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _clip_box(box: Box, run: _Run) -> Box:
    b = run.bounds
    if b is None:
        return box
    if box.rotation:
        return _check_rotated_inside(box, b, run)
    x0, y0 = max(box.left, b.x0), max(box.top, b.y0)
    x1, y1 = min(box.right, b.x1), min(box.bottom, b.y1)
    if (x0, y0, x1, y1) == (box.left, box.top, box.right, box.bottom):
        return box
    run.violation("outside: box extends past the padded image")
    if not (x1 > x0 and y1 > y0):
        raise _Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    return Box(x0, y0, x1 - x0, y1 - y0)


def _check_rotated_inside(box: Box, b: Bounds, run: _Run) -> Box:
    pts = np.asarray(geo.rotated_box_vertices(box))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    if _inside((x0, y0, x1, y1), b):
        return box
    if x1 <= b.x0 or y1 <= b.y0 or x0 >= b.x1 or y0 >= b.y1:
        raise run.fail("empty: nothing inside the padded image")
    run.flags.append("outside: rotated box extends past the padded image (kept)")
    return box


def _small_box_mode(run: _Run) -> str:
    if run.policy.small_boxes is not None:
        return run.policy.small_boxes
    return {"fix": "grow", "drop": "drop", "error": "error"}[run.policy.on_violation]


def _min_size(box: Box, run: _Run) -> Box:
    mw, mh = run.limits.min_width, run.limits.min_height
    if box.width >= mw and box.height >= mh:
        return box
    reason = f"too small: box {box.width:.1f}x{box.height:.1f} under min {mw:g}x{mh:g}"
    mode = _small_box_mode(run)
    if mode == "keep":
        run.flags.append(reason)
        return box
    if mode == "error":
        raise LimitViolation(reason)
    if mode == "drop":
        raise _Drop(reason)
    grown = _grow(box, mw, mh, run.bounds)
    if grown is None:
        raise run.fail(f"{reason}, and the padded image is smaller than that")
    run.fixes.append("grown: box to min size")
    return grown


def _grow(box: Box, mw: float, mh: float, b: Bounds | None) -> Box | None:
    w, h = max(box.width, mw), max(box.height, mh)
    left = box.left + box.width / 2 - w / 2
    top = box.top + box.height / 2 - h / 2
    if b is not None:
        if w > b.x1 - b.x0 or h > b.y1 - b.y0:
            return None
        left = min(max(left, b.x0), b.x1 - w)
        top = min(max(top, b.y0), b.y1 - h)
    return Box(left, top, w, h, box.rotation)


def _snap(v: float) -> float:
    r = round(v)
    return float(r) if abs(v - r) < 1e-6 else v


def _round_box(box: Box, run: _Run) -> Box:
    if not run.limits.integer_pixels:
        return box
    if box.rotation:
        run.flags.append("integer_pixels: not applied to a rotated box")
        return box
    x0, y0 = math.floor(_snap(box.left)), math.floor(_snap(box.top))
    x1, y1 = math.ceil(_snap(box.right)), math.ceil(_snap(box.bottom))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)  # a sub-pixel box still covers one pixel
    b = run.bounds
    x0, x1 = _fit_span(x0, x1, (b.x0, b.x1) if b else None)
    y0, y1 = _fit_span(y0, y1, (b.y0, b.y1) if b else None)
    out = Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    if (out.left, out.top, out.width, out.height) != (box.left, box.top, box.width, box.height):
        run.fixes.append("rounded: integer_pixels")
    if out.width < run.limits.min_width or out.height < run.limits.min_height:
        raise run.fail("too small: no integer box of the minimum size fits the padded image")
    return out


def _fit_span(a: int, b: int, span: tuple[float, float] | None) -> tuple[int, int]:
    """Shift (then clamp) the integer span [a, b] into [ceil(lo), floor(hi)]."""
    if span is None:
        return a, b
    ilo, ihi = math.ceil(span[0] - 1e-6), math.floor(span[1] + 1e-6)
    if a < ilo:
        a, b = ilo, b + (ilo - a)
    if b > ihi:
        a, b = a - (b - ihi), ihi
    return max(a, ilo), b


# --- points, ellipses, cuboids ----------------------------------------------------------


def _fit_point(geometry: Geometry, run: _Run) -> list[Geometry]:
    if not isinstance(geometry, Point):
        raise _unsupported(geometry, "point", run)
    b = run.bounds
    if not (math.isfinite(geometry.x) and math.isfinite(geometry.y)):
        raise run.fail("degenerate: point has no finite coordinates")
    if b is not None and not _inside((geometry.x, geometry.y, geometry.x, geometry.y), b):
        reason = f"outside: point ({geometry.x:g}, {geometry.y:g}) outside the padded image"
        run.violation(reason)
        raise _Drop(reason)
    return [geometry]


def _fit_ellipse(geometry: Geometry, run: _Run) -> list[Geometry]:
    if not isinstance(geometry, Ellipse):
        raise _unsupported(geometry, "ellipse", run)
    if not (geometry.rx > 0 and geometry.ry > 0):
        raise run.fail("degenerate: ellipse with a zero axis")
    b = run.bounds
    if b is not None:
        x0, y0, x1, y1 = geo.ellipse_bounds(geometry)
        if x1 <= b.x0 or y1 <= b.y0 or x0 >= b.x1 or y0 >= b.y1:
            raise run.fail("empty: nothing inside the padded image")
        if not _inside((x0, y0, x1, y1), b):
            run.flags.append("outside: ellipse extends past the padded image (kept)")
    return [geometry]


def _fit_cuboid(geometry: Geometry, run: _Run) -> list[Geometry]:
    if not isinstance(geometry, Cuboid):
        raise _unsupported(geometry, "cuboid", run)
    return [geometry]


_TARGETS: dict[str, Callable[[Geometry, _Run], list[Geometry]]] = {
    "box": _fit_box,
    "polygon": _fit_polygon,
    "line": _fit_line,
    "point": _fit_point,
    "ellipse": _fit_ellipse,
    "cuboid": _fit_cuboid,
}
