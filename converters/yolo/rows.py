"""One row of an Ultralytics txt file -> instances, in pixels.

Rows (coordinates normalised to the image, 0..1; an optional trailing confidence is what
``save_conf=True`` adds):

    detect   class cx cy w h [conf]                      -> Box
    segment  class x1 y1 ... xk yk [conf]  (k >= 3)      -> Polygon
    pose     class cx cy w h + K x (x y [v]) [conf]      -> Box + one Point per keypoint
    obb      class x1 y1 x2 y2 x3 y3 x4 y4 [conf]        -> Box rotated to the four corners

``auto`` reads pose rows when the names file gives ``kpt_shape``, else 5-6 values as detect
and longer rows as segment (an OBB row and a 4-point polygon look alike: ``--kind obb``).
A class token that is a name instead of an id (a modified exporter) is used as the label.
A DOTA row (``x1 y1 ... x4 y4 name difficult``, pixels) is refused, never misread. A row
that cannot be used is an error naming the line, or under ``bad_rows`` dropped (``fix``
repairs negative box sizes first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from prelabel.converters.tracking.common import BadRows, reject
from prelabel.converters.yolo.names import Names
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Box, Dropped, Geometry, Instance, Point, Polygon, SourceRef

Kind = Literal["auto", "detect", "segment", "pose", "obb"]
# a corner further than this (pixels) from the rectangle through the others: not a rectangle
_RECT_TOLERANCE = 0.5


class BadRow(Exception):
    """A row that cannot be used; the message says why."""


@dataclass(slots=True)
class FileRows:
    """Reading one label file: where it is, what the rows mean, where drops and notes go."""

    path: str
    width: int
    height: int
    names: Names
    kind: Kind
    bad_rows: BadRows
    dropped: list[Dropped]
    notes: set[str] = field(default_factory=set)

    def instances(self, text: str) -> list[Instance]:
        """Every row's instances, in file order (blank lines skipped)."""
        out: list[Instance] = []
        for number, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                out.extend(self._row(tokens, number))
            except BadRow as exc:
                reject(self.path, number, str(exc), self.bad_rows, self.dropped)
        return out

    # --- one row ----------------------------------------------------------------------

    def _row(self, tokens: list[str], number: int) -> list[Instance]:
        label = self._label(tokens[0])
        values = _numbers(tokens[1:])
        ref = SourceRef(self.path, f"line {number}")
        kind = self._kind(len(values))
        if kind == "pose":
            return self._pose(values, label, ref)
        geometry, score = self._geometry(kind, values)
        return [Instance(label, geometry, ref, score=score, instance_id=ref.location)]

    def _label(self, token: str) -> str:
        try:
            value = float(token)
        except ValueError:
            self.notes.add(
                "class names instead of class ids in the first column (a modified "
                "exporter): used as the labels"
            )
            return token
        if not value.is_integer() or value < 0:
            raise BadRow(f"class {token!r} is not a whole number >= 0")
        label = self.names.label(int(value))
        if not self.names.names:
            self.notes.add("no --names: the labels are the class ids ('0', '1', ...)")
        if label is None:
            raise BadRow(
                f"class {int(value)} has no name in {self.names.origin} "
                f"({len(self.names.names)} classes)"
            )
        return label

    def _kind(self, count: int) -> Kind:
        if self.kind != "auto":
            return self.kind
        if self.names.kpt_shape is not None:
            return "pose"
        if count <= 5:  # shorter rows are broken detect rows, and said to be
            return "detect"
        if count in (8, 9):
            self.notes.add(
                f"{self.path}: rows of {count} values read as 4-point polygons; pass "
                "--kind obb if they are oriented boxes"
            )
        return "segment"

    def _geometry(self, kind: Kind, values: list[float]) -> tuple[Geometry, float | None]:
        if kind == "detect":
            coords, score = _split_score(values, 4, "a detect row is class cx cy w h [conf]")
            return self._box(coords), score
        if kind == "obb":
            coords, score = _split_score(values, 8, "an OBB row is class x1 y1 ... x4 y4 [conf]")
            return self._oriented(coords), score
        score = values[-1] if len(values) % 2 else None
        coords = values[:-1] if score is not None else values
        if len(coords) < 6:
            raise BadRow(f"{len(coords) // 2} point(s); a segment row needs at least 3")
        return Polygon.from_ring(self._points(coords)), score

    def _box(self, coords: list[float]) -> Box:
        cx, cy, w, h = coords
        if w < 0 or h < 0:
            if self.bad_rows != "fix":
                raise BadRow(f"negative box size {w:g} x {h:g}")
            w, h = abs(w), abs(h)
        width, height = w * self.width, h * self.height
        return Box(cx * self.width - width / 2, cy * self.height - height / 2, width, height)

    def _points(self, coords: list[float]) -> list[tuple[float, float]]:
        return [
            (coords[i] * self.width, coords[i + 1] * self.height) for i in range(0, len(coords), 2)
        ]

    def _oriented(self, coords: list[float]) -> Box:
        corners = np.asarray(self._points(coords), dtype=np.float64)
        box = rectangle(corners)
        if box is None:
            self.notes.add(
                f"{self.path}: some oriented boxes are not rectangles; their minimum-area "
                "rectangles were used"
            )
            fitted = cv2.boxPoints(cv2.minAreaRect(corners.astype(np.float32)))
            box = rectangle(
                np.asarray(fitted, dtype=np.float64), tolerance=1e-3 * max(1, self.width)
            )
            assert box is not None
        return box

    def _pose(self, values: list[float], label: str, ref: SourceRef) -> list[Instance]:
        count, dims = self._pose_shape(len(values))
        expected = 4 + count * dims
        score = values[expected] if len(values) == expected + 1 else None
        if len(values) not in (expected, expected + 1):
            raise BadRow(
                f"{len(values)} values after the class; a pose row of {count} keypoints "
                f"({dims} values each) has {expected} (or {expected + 1} with conf)"
            )
        out = [Instance(label, self._box(values[:4]), ref, score=score, instance_id=ref.location)]
        points = np.asarray(values[4:expected], dtype=np.float64).reshape(count, dims)
        names = self._keypoint_names(label, count)
        third = points[:, 2] if dims == 3 else None
        flags = third is not None and bool(np.isin(third, (0, 1, 2)).all())
        for k, name in enumerate(names):
            where = SourceRef(ref.file, f"{ref.location}, keypoint {name}")
            value = None if third is None else float(third[k])
            if flags and value == 0:
                self.dropped.append(Dropped(where, "keypoint not labelled (visibility 0)", name))
                continue
            visibility = int(value) if flags and value is not None else None
            point = Point(
                float(points[k, 0]) * self.width,
                float(points[k, 1]) * self.height,
                name=name,
                visibility=visibility,
                confidence=None if flags else value,
            )
            attributes: dict[str, object] = {"instance": ref.location, "category": label}
            if visibility is not None:
                attributes["visibility"] = visibility
            inst = Instance(name, point, where, score=score, attributes=dict(attributes))
            inst.instance_id = f"{ref.location}/{name}"
            out.append(inst)
        return out

    def _pose_shape(self, count: int) -> tuple[int, int]:
        if self.names.kpt_shape is not None:
            return self.names.kpt_shape
        rest = count - 4
        dims = 3 if rest % 3 == 0 else 2
        self.notes.add(
            f"{self.path}: no kpt_shape (give --names data.yaml): keypoints read as "
            f"{dims} values each"
        )
        return rest // dims, dims

    def _keypoint_names(self, label: str, count: int) -> tuple[str, ...]:
        for class_id, name in self.names.names.items():
            names = self.names.kpt_names.get(class_id)
            if name == label and names is not None and len(names) == count:
                return names
        return tuple(f"keypoint_{k + 1}" for k in range(count))


def _numbers(tokens: list[str]) -> list[float]:
    out: list[float] = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise BadRow(f"{token!r} is not a number") from None
        if not math.isfinite(value):
            raise BadRow(f"{token!r} is not a finite number")
        out.append(value)
    return out


def _split_score(values: list[float], size: int, shape: str) -> tuple[list[float], float | None]:
    if len(values) == size:
        return values, None
    if len(values) == size + 1:
        return values[:size], values[size]
    raise BadRow(f"{len(values) + 1} values; {shape}")


def rectangle(corners: np.ndarray, tolerance: float = _RECT_TOLERANCE) -> Box | None:
    """The rotated :class:`Box` whose corners are ``corners`` (4 x 2 pixels, in order around
    the rectangle, either direction), or None when they are not a rectangle.

    Width runs along the first edge and the rotation is that edge's angle (clockwise, y down),
    so :func:`prelabel.geometry.primitives.rotated_box_vertices` gives the same corners back.
    """
    p1, p2, p3, p4 = corners
    centre = corners.mean(axis=0)
    first, second = p2 - p1, p3 - p2
    width, height = float(np.hypot(*first)), float(np.hypot(*second))
    if width == 0 or height == 0:
        rotation = 0.0
    else:
        rotation = math.atan2(float(first[1]), float(first[0]))
    box = Box(float(centre[0]) - width / 2, float(centre[1]) - height / 2, width, height, rotation)
    # opposite corners are mirror images through the centre, and the sides are square
    square = abs(float(first @ second)) <= tolerance * max(width, height, 1.0)
    mirrored = np.abs(p1 + p3 - 2 * centre).max() <= tolerance and (
        np.abs(p2 + p4 - 2 * centre).max() <= tolerance
    )
    return box if square and mirrored else None


def refuse_dota_file(text: str, path: str) -> None:
    """:func:`refuse_dota` on every row of a file, before anything else is read of it."""
    for number, line in enumerate(text.splitlines(), start=1):
        refuse_dota(line.split(), path, number)


def refuse_dota(tokens: list[str], path: str, number: int) -> None:
    """A DOTA row (eight pixel coordinates, a class name, a difficulty flag) is not a YOLO
    row whatever ``bad_rows`` says: refusing it is the only safe reading."""
    if len(tokens) != 10 or tokens[9] not in ("0", "1"):
        return
    try:
        [float(t) for t in tokens[:8]]
    except ValueError:
        return
    try:
        float(tokens[8])
    except ValueError:
        raise InvalidAnnotationError(
            "a DOTA row (x1 y1 ... x4 y4 class difficult, in pixels), not an Ultralytics "
            "YOLO row; convert DOTA labels to YOLO OBB first "
            "(ultralytics.data.converter.convert_dota_to_yolo_obb)",
            path=path,
            location=f"line {number}",
        ) from None
