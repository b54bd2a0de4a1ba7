"""Image / video annotation objects (the shape of a response, hypothesis or base_annotations
entry): type and label against the task's geometries, the geometry's fields, its limits,
its attributes, and whether it stays inside the padded image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import shapely

from prelabel.config import rules
from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.rulebook.attributes import attribute_problems
from prelabel.rulebook.findings import Scope, Violation

EPS = 1e-6
Points = list[tuple[float, float]]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_image(pre: dict[str, Any], where: str, scope: Scope) -> Iterator[Violation]:
    """imageannotation prelabels: ``{"annotations": [...]}``, each annotation checked."""
    if not isinstance(pre.get("annotations"), list):
        yield Violation("prelabel-shape", f"{where}.annotations", "must be an array")
        return
    yield from check_annotation_list(pre["annotations"], f"{where}.annotations", scope)


def check_annotation_list(items: list[Any], where: str, scope: Scope) -> Iterator[Violation]:
    """Every annotation of one image (or one video frame), and their uuids unique."""
    seen: set[Any] = set()
    for n, item in enumerate(items):
        at = f"{where}[{n}]"
        yield from check_annotation(item, at, scope)
        uid = item.get("uuid") if isinstance(item, dict) else None
        if uid is not None and uid in seen:
            yield Violation("uuid-unique", f"{at}.uuid", f"{uid} repeats an earlier annotation")
        seen.add(uid)


def check_annotation(
    a: Any, where: str, scope: Scope, kind: str | None = None
) -> Iterator[Violation]:
    """Every rule one annotation object breaks (``kind``: its type when ``a`` has none)."""
    if not isinstance(a, dict):
        yield Violation("prelabel-geometry", where, "must be an annotation object")
        return
    kind = kind or a.get("type")
    limits = scope.limits.geometries.get(kind)  # type: ignore[arg-type]
    if limits is None:
        offered = ", ".join(scope.limits.geometries) or "none"
        yield Violation("prelabel-label", f"{where}.type",
                        f"{kind!r} is not one of the task's geometries ({offered})")  # fmt: skip
        return
    label = a.get("label")
    if not isinstance(label, str) or not limits.accepts_label(label):
        message = f"{label!r} is not a leaf of geometries.{kind}.objects_to_annotate"
        yield Violation("prelabel-label", f"{where}.label", message)
    yield from _geometry(a, str(kind), limits, where, scope.bounds)
    if "attributes" in a:
        for name, problem in attribute_problems(a["attributes"], scope.attributes):
            field = f"{where}.attributes.{name}" if name else f"{where}.attributes"
            yield Violation("attribute-values", field, problem)


def _geometry(
    a: dict[str, Any], kind: str, g: GeometryLimits, where: str, bounds: Bounds | None
) -> Iterator[Violation]:
    if kind == "point":
        yield from _point(a, where, bounds)
    elif kind == "box" or (kind == "cuboid" and "left" in a):
        yield from _box(a, g, where, bounds)
    elif kind == "cuboid":
        if not isinstance(a.get("vertices"), list):
            yield Violation("prelabel-geometry", f"{where}.vertices", "a cuboid needs vertices")
    else:
        yield from _vertices(a, kind, g, where, bounds)


def _point(a: dict[str, Any], where: str, bounds: Bounds | None) -> Iterator[Violation]:
    if not (_number(a.get("x")) and _number(a.get("y"))):
        yield Violation("prelabel-geometry", where, "a point needs numeric x, y")
    elif not _inside([(a["x"], a["y"])], bounds):
        yield Violation("in-bounds", where, "point lies outside the padded image")


def _box(
    a: dict[str, Any], g: GeometryLimits, where: str, bounds: Bounds | None
) -> Iterator[Violation]:
    keys = ("left", "top", "width", "height")
    if not all(_number(a.get(k)) for k in keys):
        yield Violation("prelabel-geometry", where, "a box needs numeric left, top, width, height")
        return
    left, top, w, h = (float(a[k]) for k in keys)
    if w < g.min_width - EPS or h < g.min_height - EPS:
        message = f"box {w:g}x{h:g} is under the min size {g.min_width:g}x{g.min_height:g}"
        yield Violation("box-settings", where, message)
    if g.integer_pixels and not all(isinstance(a[k], int) for k in keys):
        yield Violation("box-settings", where, "integer_pixels is set but box fields are not whole")
    if a.get("rotation") and not g.can_rotate:
        yield Violation(
            "box-settings", f"{where}.rotation", "box is rotated but can_rotate is false"
        )
    if not a.get("rotation") and not _inside([(left, top), (left + w, top + h)], bounds):
        yield Violation("in-bounds", where, "box extends outside the padded image")


def _points(value: Any) -> Points | None:
    if not isinstance(value, list):
        return None
    out: Points = []
    for v in value:
        if not (isinstance(v, dict) and _number(v.get("x")) and _number(v.get("y"))):
            return None
        out.append((float(v["x"]), float(v["y"])))
    return out


def _vertices(
    a: dict[str, Any], kind: str, g: GeometryLimits, where: str, bounds: Bounds | None
) -> Iterator[Violation]:
    pts = _points(a.get("vertices"))
    if pts is None:
        yield Violation("prelabel-geometry", f"{where}.vertices", f"a {kind} needs [{{x, y}}, ...]")
        return
    if kind == "ellipse":
        if len(pts) != rules.ELLIPSE_VERTICES:
            message = f"an ellipse has {rules.ELLIPSE_VERTICES} vertices, got {len(pts)}"
            yield Violation("prelabel-geometry", f"{where}.vertices", message)
    else:
        yield from _vertex_count(len(pts), g, f"{where}.vertices")
    if kind == "polygon":
        yield from _polygon_shape(pts, f"{where}.vertices")
    if not _inside(pts, bounds):
        yield Violation("in-bounds", where, f"{kind} extends outside the padded image")


def _vertex_count(count: int, g: GeometryLimits, where: str) -> Iterator[Violation]:
    if count < g.min_vertices:
        yield Violation("vertices", where, f"{count} vertices, needs at least {g.min_vertices}")
    if g.max_vertices is not None and count > g.max_vertices:
        yield Violation("vertices", where, f"{count} vertices, max_vertices is {g.max_vertices}")


def _polygon_shape(pts: Points, where: str) -> Iterator[Violation]:
    if len(set(pts)) < 3:
        yield Violation("polygon-valid", where, "fewer than 3 distinct vertices")
        return
    poly = shapely.Polygon(pts)
    if poly.area <= 0:
        yield Violation("polygon-valid", where, "the polygon has no area")
    elif not shapely.is_valid(poly) and not weakly_simple(poly):
        message = f"the polygon crosses itself ({shapely.is_valid_reason(poly)})"
        yield Violation("polygon-valid", where, message)


def weakly_simple(poly: shapely.Polygon) -> bool:
    """True for a ring that only touches itself, as a keyhole bridge does (the bridge is one
    segment walked there and back): it never crosses itself, so no region is counted twice
    or cancelled, and the repaired shape covers exactly the ring's own (shoelace) area. A
    crossing ring (bow tie) or a self-overlapping one fails that test."""
    reason = shapely.is_valid_reason(poly)
    if not reason.startswith(("Ring Self-intersection", "Self-intersection")):
        return False
    repaired = shapely.make_valid(poly)
    return abs(float(shapely.area(repaired)) - poly.area) <= 1e-6 * max(poly.area, 1.0)


def _inside(points: list[tuple[Any, Any]], bounds: Bounds | None) -> bool:
    if bounds is None or not points:
        return True
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (
        min(xs) >= bounds.x0 - EPS
        and max(xs) <= bounds.x1 + EPS
        and min(ys) >= bounds.y0 - EPS
        and max(ys) <= bounds.y1 + EPS
    )
