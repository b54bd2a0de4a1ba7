"""The geometry-limits engine: fit a model geometry to a task's limits, or drop it with a reason.

(Interface fixed by the foundation; implementation in progress.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .limits import Bounds, GeometryLimits, TargetKind
from .model import Geometry
from .options import HolePolicy, OnViolation, PartPolicy, PrelabelOptions, SmallBoxPolicy


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
    each change made ("simplified 812 -> 100 vertices", "clipped to the padded image");
    ``flags`` lists problems kept on purpose. ``iou`` is the IoU of the result against the
    source shape (mask or input polygon) where defined.
    """

    geometries: list[Geometry] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    dropped: str | None = None
    iou: float | None = None


def fit_geometry(
    geometry: Geometry,
    target: TargetKind,
    limits: GeometryLimits,
    bounds: Bounds | None,
    policy: FitPolicy,
) -> Fitted:
    """Fit ``geometry`` to ``target`` under ``limits`` inside ``bounds``.

    Raises:
        LimitViolation: when ``policy.on_violation == "error"`` and a limit is broken.
    """
    raise NotImplementedError
