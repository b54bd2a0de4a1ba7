"""Comparing one sent annotation with its final version: same or not, how, and by how much.

An annotation is *kept* when its label, geometry (type, every coordinate to 1e-6 px) and
attributes are unchanged. Otherwise it is *edited*, with details: ``relabelled`` (label),
``moved`` (same geometry type and vertex count, coordinates changed), ``reshaped`` (type or
vertex count changed), ``attributes``. The IoU of the two shapes is given for boxes,
polygons and ellipses; the vertex move is the mean distance between corresponding points
(box corners, vertices, the point) when both have as many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely import affinity

GEOMETRY_KEYS = ("left", "top", "width", "height", "rotation", "x", "y")
AREA_TYPES = ("box", "polygon", "ellipse")
PLACES = 6


@dataclass(slots=True)
class Change:
    """How a final annotation differs from the sent one."""

    details: list[str] = field(default_factory=list)
    iou: float | None = None
    moves: float | None = None

    @property
    def kept(self) -> bool:
        return not self.details


def _coords(value: Any) -> tuple[Any, ...]:
    if isinstance(value, dict):
        return tuple(sorted((k, round(float(v), PLACES)) for k, v in value.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)))  # fmt: skip
    return ()


def signature(a: dict[str, Any]) -> tuple[Any, ...]:
    """Everything that makes up an annotation's geometry, rounded to 1e-6 px."""
    parts: list[Any] = [a.get("type")]
    for key in GEOMETRY_KEYS:
        if isinstance(a.get(key), (int, float)):
            parts.append((key, round(float(a[key]), PLACES)))
    for key in ("vertices", "edges"):
        parts.extend((key, _coords(v)) for v in a.get(key) or [])
    return tuple(parts)


def points(a: dict[str, Any]) -> list[tuple[float, float]]:
    """Box corners (unrotated unless vertices are given), vertices, or the point."""
    if isinstance(a.get("vertices"), list):
        return [(float(v["x"]), float(v["y"])) for v in a["vertices"] if "x" in v and "y" in v]
    if "left" in a and "width" in a:
        x, y, w, h = (float(a[k]) for k in ("left", "top", "width", "height"))
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if "x" in a and "y" in a:
        return [(float(a["x"]), float(a["y"]))]
    return []


def shape(a: dict[str, Any]) -> shapely.Geometry | None:
    """The area an annotation covers (boxes, polygons, ellipses), else None."""
    kind = a.get("type") or ("box" if "left" in a else None)
    pts = points(a)
    if kind not in AREA_TYPES or len(pts) < 3:
        return None
    if kind == "ellipse":
        return _ellipse(pts)
    geom = shapely.Polygon(pts)
    return geom if geom.is_valid else shapely.make_valid(geom)


def _ellipse(pts: list[tuple[float, float]]) -> shapely.Geometry | None:
    if len(pts) != 4:
        return None
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
    cx, cy = (x0 + x2) / 2, (y0 + y2) / 2
    a_len, b_len = math.dist((x0, y0), (x2, y2)) / 2, math.dist((x1, y1), (x3, y3)) / 2
    angle = math.degrees(math.atan2(y2 - y0, x2 - x0))
    circle = shapely.Point(0, 0).buffer(1.0, 32)
    scaled = affinity.scale(circle, a_len, b_len, origin=(0, 0))
    return affinity.translate(affinity.rotate(scaled, angle, origin=(0, 0)), cx, cy)


def iou(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Area IoU of two annotations (None when either has no area)."""
    sa, sb = shape(a), shape(b)
    if sa is None or sb is None:
        return None
    return area_iou(sa, sb)


def area_iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Intersection over union of two areas (1 when both are empty)."""
    if not shapely.intersects(a, b):
        return 0.0
    union = float(shapely.area(shapely.union(a, b)))
    return float(shapely.area(shapely.intersection(a, b))) / union if union > 0 else 1.0


def vertex_moves(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Mean distance between corresponding points (None when their counts differ)."""
    pa, pb = points(a), points(b)
    if not pa or len(pa) != len(pb):
        return None
    return sum(math.dist(p, q) for p, q in zip(pa, pb, strict=True)) / len(pa)


def compare(sent: dict[str, Any], final: dict[str, Any], *, label: bool = True) -> Change:
    """How ``final`` differs from ``sent`` (``label=False``: labels are not compared)."""
    change = Change()
    if label and sent.get("label") != final.get("label"):
        change.details.append("relabelled")
    if signature(sent) != signature(final):
        same_kind = sent.get("type") == final.get("type")
        moved = same_kind and len(points(sent)) == len(points(final))
        change.details.append("moved" if moved else "reshaped")
        change.iou, change.moves = iou(sent, final), vertex_moves(sent, final)
    if (sent.get("attributes") or {}) != (final.get("attributes") or {}):
        change.details.append("attributes")
    return change
