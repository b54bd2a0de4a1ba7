"""Model geometry -> Scale annotation objects (the shape shared by response, hypothesis and
base_annotations; scale-api.md §3.3). Used by the image and video writers and the track engine.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import numpy.typing as npt

from prelabel.errors import PayloadError
from prelabel.model import Box, Cuboid, Ellipse, Geometry, Line, Mask, Point, Polygon, Ring

# coordinates are written rounded to this many decimals: sub-millipixel noise only bloats
# bodies and makes goldens unstable
DECIMALS = 3
_SCALE = 10**DECIMALS


def round_coordinate(value: float) -> float | int:
    """A coordinate as written in a body: rounded to :data:`DECIMALS`, whole numbers as int."""
    rounded = round(float(value), DECIMALS)
    return int(rounded) if rounded.is_integer() else rounded


def round_coordinates(values: npt.ArrayLike) -> list[float | int]:
    """:func:`round_coordinate` of many values, the same numbers, with numpy.

    Scaled by 10**DECIMALS, a value's nearest integer ``k`` is that of its exact value unless
    it lies within a millionth of a tie (the scaling errs by under 1e-7 for the coordinates
    a body holds); then ``k / 10**DECIMALS``, a correctly rounded division, is the float
    ``round`` returns. Values near a tie, or too large for that, go through ``round``.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(all="ignore"):  # huge values overflow: they take the slow path
        scaled = flat * _SCALE
        k = np.rint(scaled)
        exact = (np.abs(scaled) < 1e12) & (np.abs(np.abs(scaled - k) - 0.5) >= 1e-6)
        whole = exact & (np.fmod(k, _SCALE) == 0)
    values_out = (k / _SCALE).astype(object)  # Python floats, whole ones swapped for ints
    values_out[whole] = (k[whole] // _SCALE).astype(np.int64).astype(object)
    out: list[float | int] = values_out.tolist()
    for i in np.flatnonzero(~exact).tolist():
        out[i] = round_coordinate(flat[i])
    return out


def _vertices(ring: Ring) -> list[dict[str, float | int]]:
    return [{"x": round_coordinate(x), "y": round_coordinate(y)} for x, y in ring]


def box_corners(box: Box) -> list[tuple[float, float]]:
    """The four corners of a (possibly rotated, clockwise about its centre) box, clockwise
    from the top-left corner of the unrotated box (:func:`prelabel.geometry.primitives.rotated_box_vertices`)."""
    from prelabel.geometry.primitives import rotated_box_vertices  # shapely: load when needed

    return rotated_box_vertices(box)


def ellipse_extremes(ellipse: Ellipse) -> list[tuple[float, float]]:
    """Scale's ellipse form: the 4 extremal points, vertex 0 and 2 on the first axis
    (:func:`prelabel.geometry.primitives.ellipse_vertices`)."""
    from prelabel.geometry.primitives import ellipse_vertices  # shapely: load when needed

    return ellipse_vertices(ellipse)


def geometry_fields(geometry: Geometry, *, integer_pixels: bool = False) -> dict[str, Any]:
    """The geometry part of an annotation object (without label, uuid, attributes)."""
    if isinstance(geometry, Box):
        fields: dict[str, Any] = {"type": "box"}
        if integer_pixels and not geometry.rotation:
            fields.update(
                left=round(geometry.left),
                top=round(geometry.top),
                width=round(geometry.width),
                height=round(geometry.height),
            )
        else:
            fields.update(
                left=round_coordinate(geometry.left),
                top=round_coordinate(geometry.top),
                width=round_coordinate(geometry.width),
                height=round_coordinate(geometry.height),
            )
        if geometry.rotation:
            fields["rotation"] = round_coordinate(geometry.rotation)
            fields["vertices"] = _vertices(tuple(box_corners(geometry)))
        return fields
    if isinstance(geometry, Polygon):
        if len(geometry.parts) != 1 or geometry.parts[0].holes:
            raise PayloadError(
                "a Scale polygon has one ring and no holes; fit the geometry first "
                f"(got {len(geometry.parts)} part(s))"
            )
        return {"type": "polygon", "vertices": _vertices(geometry.parts[0].exterior)}
    if isinstance(geometry, Line):
        return {"type": "line", "vertices": _vertices(geometry.vertices)}
    if isinstance(geometry, Point):
        return {
            "type": "point",
            "x": round_coordinate(geometry.x),
            "y": round_coordinate(geometry.y),
        }
    if isinstance(geometry, Ellipse):
        return {"type": "ellipse", "vertices": _vertices(tuple(ellipse_extremes(geometry)))}
    if isinstance(geometry, Cuboid):
        return {"type": "cuboid", **copy.deepcopy(dict(geometry.fields))}
    if isinstance(geometry, Mask):
        raise PayloadError("a mask cannot be an image/video annotation; fit it to a polygon or box")
    raise PayloadError(f"unsupported geometry {type(geometry).__name__}")


def to_annotation(
    geometry: Geometry,
    *,
    label: str,
    uuid: str | None = None,
    attributes: dict[str, Any] | None = None,
    integer_pixels: bool = False,
) -> dict[str, Any]:
    """One Scale annotation object: ``{"type", "label", geometry fields, "uuid"?, "attributes"?}``.

    Example:
        >>> to_annotation(Box(1, 2, 3, 4), label="car")
        {'type': 'box', 'left': 1, 'top': 2, 'width': 3, 'height': 4, 'label': 'car'}
    """
    out = geometry_fields(geometry, integer_pixels=integer_pixels)
    out["label"] = label
    if uuid is not None:
        out["uuid"] = uuid
    if attributes:
        out["attributes"] = attributes
    return out
