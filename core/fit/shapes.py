"""Line, box, point, ellipse and cuboid targets of the limits engine."""

from __future__ import annotations

import math

import numpy as np
import shapely

from prelabel.config.limits import Bounds
from prelabel.errors import LimitViolation
from prelabel.fit.run import EPS, Drop, Run, Tally, inside, to_min_vertices, unsupported
from prelabel.geometry import primitives as geo
from prelabel.geometry import rings, rle, simplify
from prelabel.model import Box, Cuboid, Ellipse, Geometry, Line, Mask, Point, Polygon

# --- lines ------------------------------------------------------------------------------


def fit_line(geometry: Geometry, run: Run) -> list[Geometry]:
    if not isinstance(geometry, Line):
        raise unsupported(geometry, "line", run)
    pts = rings.ring_array(geometry.vertices) if geometry.vertices else np.empty((0, 2))
    if len(pts) > 1:
        pts = pts[np.r_[True, np.any(pts[1:] != pts[:-1], axis=1)]]
    if len(pts) < 2:
        raise run.fail("degenerate: a line needs 2 distinct vertices")
    pieces = _clip_line(shapely.LineString(pts), run)
    tally = Tally()
    out: list[Geometry] = []
    for piece in pieces:
        piece = _line_to_budget(piece, run, tally)
        arr = shapely.get_coordinates(piece)
        arr = to_min_vertices(arr, run, tally, closed=False)
        out.append(Line(rings.to_ring(arr)))
    run.fixes.extend(tally.texts())
    return out


def _clip_line(line: shapely.Geometry, run: Run) -> list[shapely.Geometry]:
    b = run.bounds
    if b is None or inside(tuple(shapely.bounds(line)), b):
        return [line]
    run.violation("outside: line extends past the padded image")
    clipped = shapely.intersection(line, shapely.box(b.x0, b.y0, b.x1, b.y1))
    pieces = [g for g in shapely.get_parts(shapely.line_merge(clipped)) if _is_line(g)]
    if not pieces:
        raise Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    if len(pieces) > 1:
        run.fixes.append(f"split: line in {len(pieces)} pieces -> {len(pieces)} annotations")
    return pieces


def _is_line(g: shapely.Geometry) -> bool:
    return bool(shapely.get_type_id(g) == 1 and shapely.length(g) > 0)


def _line_to_budget(line: shapely.Geometry, run: Run, tally: Tally) -> shapely.Geometry:
    limit = run.limits.max_vertices
    count = int(shapely.get_num_coordinates(line))
    if limit is None or count <= limit:
        return line
    run.violation(f"too many vertices: {count} > max_vertices {limit}")
    out = simplify.bisect_simplify(line, max(limit, 2), closed=False)
    out = line if out is None else out
    tally.simplified += 1
    tally.before += count
    tally.after += int(shapely.get_num_coordinates(out))
    return out


# --- boxes ------------------------------------------------------------------------------


def fit_box(geometry: Geometry, run: Run) -> list[Geometry]:
    box = _source_box(geometry, run)
    box = _unrotate(box, run)
    if not (box.width > EPS and box.height > EPS):
        raise run.fail(f"degenerate: box {box.width:g}x{box.height:g} has zero area")
    box = _clip_box(box, run)
    box = _min_size(box, run)
    box = _round_box(box, run)
    return [box]


def _source_box(geometry: Geometry, run: Run) -> Box:
    if isinstance(geometry, Box):
        return geometry
    if isinstance(geometry, Mask):
        box = rle.mask_bbox(geometry)
        if box.width == 0:
            raise run.fail("empty: mask has no pixels")
        return box
    if isinstance(geometry, Polygon):
        pts = np.concatenate([rings.ring_array(p.exterior) for p in geometry.parts])
        if pts.size == 0:
            raise run.fail("degenerate: polygon has no vertices")
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    if isinstance(geometry, Ellipse):
        x0, y0, x1, y1 = geo.ellipse_bounds(geometry)
        return Box(x0, y0, x1 - x0, y1 - y0)
    raise unsupported(geometry, "box", run)


def _unrotate(box: Box, run: Run) -> Box:
    if math.remainder(box.rotation, 2 * math.pi) == 0 or run.limits.can_rotate:
        return box
    run.violation(f"rotated: box rotation {box.rotation:g} rad but can_rotate is false")
    pts = np.asarray(geo.rotated_box_vertices(box))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    run.fixes.append("rotated: replaced by the axis-aligned bounding box")
    return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _clip_box(box: Box, run: Run) -> Box:
    b = run.bounds
    if b is None:
        return box
    if box.rotation:
        return _check_rotatedinside(box, b, run)
    x0, y0 = max(box.left, b.x0), max(box.top, b.y0)
    x1, y1 = min(box.right, b.x1), min(box.bottom, b.y1)
    if (x0, y0, x1, y1) == (box.left, box.top, box.right, box.bottom):
        return box
    run.violation("outside: box extends past the padded image")
    if not (x1 > x0 and y1 > y0):
        raise Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    return Box(x0, y0, x1 - x0, y1 - y0)


def _check_rotatedinside(box: Box, b: Bounds, run: Run) -> Box:
    pts = np.asarray(geo.rotated_box_vertices(box))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    if inside((x0, y0, x1, y1), b):
        return box
    if x1 <= b.x0 or y1 <= b.y0 or x0 >= b.x1 or y0 >= b.y1:
        raise run.fail("empty: nothing inside the padded image")
    run.flags.append("outside: rotated box extends past the padded image (kept)")
    return box


def _small_box_mode(run: Run) -> str:
    if run.policy.small_boxes is not None:
        return run.policy.small_boxes
    return {"fix": "grow", "drop": "drop", "error": "error"}[run.policy.on_violation]


def _min_size(box: Box, run: Run) -> Box:
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
        raise Drop(reason)
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


def _round_box(box: Box, run: Run) -> Box:
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


def fit_point(geometry: Geometry, run: Run) -> list[Geometry]:
    if not isinstance(geometry, Point):
        raise unsupported(geometry, "point", run)
    b = run.bounds
    if not (math.isfinite(geometry.x) and math.isfinite(geometry.y)):
        raise run.fail("degenerate: point has no finite coordinates")
    if b is not None and not inside((geometry.x, geometry.y, geometry.x, geometry.y), b):
        reason = f"outside: point ({geometry.x:g}, {geometry.y:g}) outside the padded image"
        run.violation(reason)
        raise Drop(reason)
    return [geometry]


def fit_ellipse(geometry: Geometry, run: Run) -> list[Geometry]:
    if not isinstance(geometry, Ellipse):
        raise unsupported(geometry, "ellipse", run)
    if not (geometry.rx > 0 and geometry.ry > 0):
        raise run.fail("degenerate: ellipse with a zero axis")
    b = run.bounds
    if b is not None:
        x0, y0, x1, y1 = geo.ellipse_bounds(geometry)
        if x1 <= b.x0 or y1 <= b.y0 or x0 >= b.x1 or y0 >= b.y1:
            raise run.fail("empty: nothing inside the padded image")
        if not inside((x0, y0, x1, y1), b):
            run.flags.append("outside: ellipse extends past the padded image (kept)")
    return [geometry]


def fit_cuboid(geometry: Geometry, run: Run) -> list[Geometry]:
    if not isinstance(geometry, Cuboid):
        raise unsupported(geometry, "cuboid", run)
    return [geometry]
