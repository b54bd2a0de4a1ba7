"""Geometry primitives, one import for all: RLE masks, tracing, rasterising, keyholes, budgets.

Everything follows the pixel-edge convention of :mod:`prelabel.model`: pixel ``(i, j)`` is
the unit square ``[j, j+1) x [i, i+1)``, so a traced polygon runs along pixel edges (integer
coordinates) and a polygon is rasterised by pixel centres (a pixel is inside when its centre
``(j + 0.5, i + 0.5)`` is, even-odd rule, a centre exactly on a left/top edge counts as inside).
Tracing and rasterising are exact inverses: ``polygon_to_mask(mask_to_polygon(m)) == m``.

Rings are ``(N, 2)`` float arrays internally and :data:`~prelabel.model.Ring` tuples in the
model; no shapely object is ever stored in the model.
"""

from __future__ import annotations

import math

import numpy as np

from prelabel.geometry.rings import (
    BoolArray,
    polygon_to_mask,
    rings_to_mask,
)
from prelabel.geometry.rle import (
    decode_mask,
)
from prelabel.model import XY, Box, Ellipse, Geometry, Mask, Polygon

__all__ = [
    "ellipse_bounds",
    "ellipse_vertices",
    "rasterize",
    "rotated_box_vertices",
]


def _ellipse_mask(e: Ellipse, height: int, width: int) -> BoolArray:
    ys, xs = np.mgrid[0:height, 0:width]
    dx, dy = xs + 0.5 - e.cx, ys + 0.5 - e.cy
    cos, sin = math.cos(e.rotation), math.sin(e.rotation)
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    with np.errstate(divide="ignore", invalid="ignore"):
        inside: BoolArray = (u / e.rx) ** 2 + (v / e.ry) ** 2 <= 1.0
    return inside


def rasterize(geometry: Geometry, height: int, width: int) -> BoolArray:
    """Rasterise a box, polygon, mask or ellipse by pixel centres into ``(height, width)``.

    Raises:
        ValueError: for a line, point or cuboid (no area), or a mask of another size.
    """
    if isinstance(geometry, Mask):
        if (geometry.height, geometry.width) != (height, width):
            raise ValueError(
                f"mask is {geometry.width}x{geometry.height}, raster is {width}x{height}"
            )
        return decode_mask(geometry)
    if isinstance(geometry, Box):
        ring = np.asarray(rotated_box_vertices(geometry))
        return rings_to_mask([ring], height, width)
    if isinstance(geometry, Polygon):
        return polygon_to_mask(geometry, height, width)
    if isinstance(geometry, Ellipse):
        return _ellipse_mask(geometry, height, width)
    raise ValueError(f"a {geometry.kind} has no area to rasterise")


# --- conversions the writers need -------------------------------------------------------


def ellipse_vertices(ellipse: Ellipse) -> list[XY]:
    """Scale's ellipse form: the 4 extremal points; vertices 0 and 2 end the ``rx`` axis."""
    cos, sin = math.cos(ellipse.rotation), math.sin(ellipse.rotation)
    ax, ay = (ellipse.rx * cos, ellipse.rx * sin), (-ellipse.ry * sin, ellipse.ry * cos)
    cx, cy = ellipse.cx, ellipse.cy
    return [
        (cx - ax[0], cy - ax[1]),
        (cx - ay[0], cy - ay[1]),
        (cx + ax[0], cy + ax[1]),
        (cx + ay[0], cy + ay[1]),
    ]


def ellipse_bounds(ellipse: Ellipse) -> tuple[float, float, float, float]:
    """Axis-aligned bounds ``(x0, y0, x1, y1)`` of a (rotated) ellipse."""
    cos, sin = math.cos(ellipse.rotation), math.sin(ellipse.rotation)
    hw = math.hypot(ellipse.rx * cos, ellipse.ry * sin)
    hh = math.hypot(ellipse.rx * sin, ellipse.ry * cos)
    return ellipse.cx - hw, ellipse.cy - hh, ellipse.cx + hw, ellipse.cy + hh


def rotated_box_vertices(box: Box) -> list[XY]:
    """The 4 corners of a box rotated clockwise (y down) about its centre, starting from
    the unrotated top-left corner and going clockwise on screen."""
    cx, cy = box.left + box.width / 2, box.top + box.height / 2
    cos, sin = math.cos(box.rotation), math.sin(box.rotation)
    out: list[XY] = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * box.width / 2, sy * box.height / 2
        out.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
    return out
