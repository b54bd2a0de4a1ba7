"""The limits engine's shared state: policy, result, the run of one fit and its tallies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.config.options import (
    HolePolicy,
    OnViolation,
    PartPolicy,
    PrelabelOptions,
    SmallBoxPolicy,
)
from prelabel.errors import LimitViolation
from prelabel.model import Geometry

if TYPE_CHECKING:  # geometry (shapely, OpenCV) loads when a ring is fitted, not before
    from prelabel.geometry.rings import Coords

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


class Drop(Exception):
    """Internal: the object is dropped with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Run:
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
            raise Drop(reason)

    def fail(self, reason: str) -> Drop:
        """Nothing can fix this: the drop to raise (or a LimitViolation under ``error``)."""
        if self.policy.on_violation == "error":
            raise LimitViolation(reason)
        return Drop(reason)


def unsupported(geometry: Geometry, target: str, run: Run) -> Drop:
    return run.fail(f"unsupported: a {geometry.kind} cannot become a {target}")


def inside(box: tuple[float, float, float, float], bounds: Bounds) -> bool:
    x0, y0, x1, y1 = box
    return (
        x0 >= bounds.x0 - EPS
        and y0 >= bounds.y0 - EPS
        and x1 <= bounds.x1 + EPS
        and y1 <= bounds.y1 + EPS
    )


@dataclass(slots=True)
class Tally:
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


def to_min_vertices(ring: Coords, run: Run, tally: Tally, *, closed: bool = True) -> Coords:
    """``ring`` densified along its longest edges to ``min_vertices`` (a violation when it
    had fewer); ``closed`` False for a line."""
    from prelabel.geometry.simplify import densify_array

    need = run.limits.min_vertices
    if len(ring) >= need:
        return ring
    run.violation(f"too few vertices: {len(ring)} < min_vertices {need}")
    tally.dense_before += len(ring)
    tally.dense_after += need
    return densify_array(ring, need, closed=closed)
