"""The limits a task puts on geometries, derived from its params (see ``prelabel.config.load``).

These are plain data the limits engine (``prelabel.fit.engine``) and the writers read; they are
built once per config by :func:`prelabel.config.load.TaskConfig.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

TargetKind: TypeAlias = Literal["box", "polygon", "line", "point", "ellipse", "cuboid"]
TARGET_KINDS: tuple[TargetKind, ...] = ("box", "polygon", "line", "point", "ellipse", "cuboid")


@dataclass(frozen=True, slots=True)
class GeometryLimits:
    """Limits of one geometry type of an image or video task (Scale's ``geometries.<kind>``).

    ``labels`` are the leaf choices of its ``objects_to_annotate`` (empty = any label);
    vertex limits apply to polygon and line, size limits to box and cuboid.
    """

    kind: TargetKind
    labels: frozenset[str] = frozenset()
    min_vertices: int = 1
    max_vertices: int | None = None
    min_width: float = 0.0
    min_height: float = 0.0
    can_rotate: bool = False
    integer_pixels: bool = False

    def accepts_label(self, label: str) -> bool:
        return not self.labels or label in self.labels


@dataclass(frozen=True, slots=True)
class Bounds:
    """The drawable area: the image extended by padding (x0, y0, x1, y1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def for_image(cls, width: float, height: float, pad_x: float = 0, pad_y: float = 0) -> Bounds:
        return cls(-pad_x, -pad_y, width + pad_x, height + pad_y)


@dataclass(frozen=True, slots=True)
class TaskLimits:
    """Everything a task's params say about acceptable prelabels."""

    task_type: str
    geometries: dict[TargetKind, GeometryLimits] = field(default_factory=dict)
    pad_x: float = 0.0
    pad_y: float = 0.0
    # segmentannotation: leaf labels, and which of them are instance labels
    segment_labels: frozenset[str] = frozenset()
    instance_labels: frozenset[str] = frozenset()
    allow_unlabeled: bool = True

    def bounds(self, width: int | None, height: int | None) -> Bounds | None:
        if width is None or height is None:
            return None
        return Bounds.for_image(width, height, self.pad_x, self.pad_y)

    def all_labels(self) -> frozenset[str]:
        """Every leaf label the task accepts anywhere."""
        out: set[str] = set(self.segment_labels)
        for g in self.geometries.values():
            out |= g.labels
        return frozenset(out)
