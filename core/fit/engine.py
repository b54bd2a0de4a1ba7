"""The geometry-limits engine: fit a model geometry to a task's limits, or drop it with a reason.

:func:`fit_geometry` turns one model geometry into shapes Scale accepts for a target kind:

* conversions (not violations): mask -> polygon (traced along pixel edges), mask / polygon /
  ellipse -> box (bounds), box -> polygon (its 4 corners); holes keyholed or filled and parts
  split or reduced to the largest, as the policy says;
* violations, which ``on_violation`` decides (``fix`` repairs, ``drop`` drops the object with
  the limit in the reason, ``error`` raises :class:`~prelabel.errors.LimitViolation`):
  invalid rings (``make_valid``), shapes past the padded image (clipped), too many vertices
  (Douglas-Peucker at the least tolerance within budget; traced masks from their edge
  midpoint rings, see :mod:`prelabel.geometry.simplify`), too few (densified), boxes
  under the minimum size (``small_boxes``), rotation without ``can_rotate``;
* what cannot be fixed (zero area, nothing inside the image, unsupported conversion) is
  dropped with a reason, or raised under ``error``.

``Fitted.fixes`` holds short texts whose part before ``':'`` is the kind of change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from prelabel.config.limits import Bounds, GeometryLimits, TargetKind
from prelabel.fit.polygon import fit_polygon
from prelabel.fit.run import Drop, FitPolicy, Fitted, Run
from prelabel.fit.shapes import fit_box, fit_cuboid, fit_ellipse, fit_line, fit_point
from prelabel.model import Box, Geometry, Mask

__all__ = [
    "fit_geometry",
]


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
    run = Run(policy, limits, bounds)
    try:
        if target == "box" and _plain_box_source(geometry):
            out = fit_box(geometry, run)  # floats and pycocotools: no numpy warning to quiet
        else:
            with np.errstate(all="ignore"):  # GEOS on float slivers; results are checked
                out = _TARGETS[target](geometry, run)
    except Drop as drop:
        return Fitted(fixes=run.fixes, flags=run.flags, dropped=drop.reason, iou=run.iou)
    return Fitted(geometries=out, fixes=run.fixes, flags=run.flags, iou=run.iou)


def _plain_box_source(geometry: Geometry) -> bool:
    """An unrotated box or a mask: its box needs no numpy (the common case, kept cheap)."""
    kind = type(geometry)
    return kind is Mask or (kind is Box and not geometry.rotation)  # type: ignore[union-attr]


_TARGETS: dict[str, Callable[[Geometry, Run], list[Geometry]]] = {
    "box": fit_box,
    "polygon": fit_polygon,
    "line": fit_line,
    "point": fit_point,
    "ellipse": fit_ellipse,
    "cuboid": fit_cuboid,
}
