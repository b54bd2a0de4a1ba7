"""Items from what a model pipeline holds in memory: numpy arrays, COCO RLE, polygons,
keypoints, and ``supervision.Detections``.

An image item per call (:func:`from_arrays`, :func:`from_supervision`); a video item from
such frames (:func:`from_frames`). Each object gets the richest geometry given (mask, then
polygon, then box, as COCO results do); keypoints add one point per keypoint. Records in
the report name ``<memory>`` as the file and the caller's key and the object's index as the
location (``key img7, index 3``), so they stay traceable. Malformed arrays raise
:class:`~prelabel.errors.InputError` naming the key and what is wrong; nothing is dropped
without a record (a keypoint COCO marks as not labelled, visibility 0, is recorded as
dropped in the item's task).

Example::

    item = from_arrays("img7", 640, 480, boxes=xyxy, class_ids=cls, names=["person", "car"],
                       scores=conf, attachment="https://cdn.example.com/img7.jpg")
    task = Converter(config).convert(item)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prelabel.errors import InputError
from prelabel.geometry.arrays import (
    BoxFormat,
    FloatArray,
    boxes_from_array,
    finite,
    masks_from,
    polygon_from_rings,
)
from prelabel.model import (
    Dropped,
    Frame,
    Geometry,
    Instance,
    Item,
    Point,
    SourceRef,
)

MEMORY = "<memory>"  # the file name records of in-memory objects carry
# class names: a list indexed by class id, or a mapping keyed by the id or by its text (as a
# names mapping read from JSON, or carried through Arrow, has it)
Names = Sequence[str] | Mapping[int, str] | Mapping[str, str]


def source(key: str, index: int, detail: str = "") -> SourceRef:
    """Where object ``index`` of item ``key`` came from: ``<memory>, key KEY, index I``."""
    return SourceRef(MEMORY, f"key {key}, index {index}{detail}")


@dataclass(frozen=True, slots=True)
class _Where:
    """The item being built, for error messages."""

    key: str

    def fail(self, reason: str) -> InputError:
        return InputError(reason, path=MEMORY, location=f"key {self.key}")


def from_arrays(
    key: str,
    width: int,
    height: int,
    *,
    boxes: Any = None,
    box_format: BoxFormat = "xyxy",
    masks: Any = None,
    polygons: Any = None,
    keypoints: Any = None,
    labels: Sequence[str] | None = None,
    class_ids: Any = None,
    names: Names | None = None,
    scores: Any = None,
    track_ids: Any = None,
    attachment: str | None = None,
    keypoint_names: Sequence[str] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Item:
    """An image item from arrays, one entry per object.

    Args:
        key: the item's key (the default unique_id ends in it; records name it).
        width, height: the image size in pixels.
        boxes: ``(N, 4)`` boxes in pixels, ``box_format`` ``"xyxy"`` (corners) or ``"xywh"``
            (left, top, width, height).
        masks: dense boolean ``(N, H, W)`` (or a list of ``(H, W)`` arrays), or a list of
            COCO RLE dicts (``{"size": [H, W], "counts": str | bytes | list}``).
        polygons: per object a ring (``[x1, y1, x2, y2, ...]`` or ``(K, 2)``) or a list of
            rings (one part each).
        keypoints: ``(N, K, 2)`` or ``(N, K, 3)``; a third value that is 0, 1 or 2 everywhere
            is COCO's visibility flag (0 = not labelled: recorded as dropped), else a
            confidence. Named ``keypoint_names`` (default ``keypoint_1``, ...).
        labels: per object its label; or ``class_ids`` with ``names`` (a list, or a mapping
            id -> name keyed by the id or its text); class ids without names become labels
            ``"0"``, ``"1"``, ...
        scores: per object a confidence (None or NaN: none).
        track_ids: per object a tracker id (None or NaN: untracked), for video frames.
        attachment: the image URL (used when the config has no ``attachment_url``).
        fields: more template fields for ``attachment_url`` / ``unique_id``.

    Returns:
        The item; its objects in the order given.

    Raises:
        InputError: arrays of different lengths, wrong shapes, non-finite coordinates, a
            mask of another size, a class id missing from ``names`` (naming key and index).
    """
    where = _Where(str(key))
    _check_size(where, width, height)
    count = _count(where, boxes=boxes, masks=masks, polygons=polygons, keypoints=keypoints)
    per = _PerObject(where, count)
    geometries = _geometries(where, boxes, box_format, masks, polygons, (height, width))
    object_labels = _labels(where, per, labels, class_ids, names)
    object_scores = _optional(where, per, "scores", scores, float)
    tracks = _optional(where, per, "track_ids", track_ids, _track_id)
    points = None if keypoints is None else _keypoint_array(where, per, keypoints)
    kp_names = [] if points is None else _keypoint_names(where, points.shape[1], keypoint_names)
    item = Item(key=str(key), fields=_fields(attachment, fields), width=width, height=height)
    for i in range(count):  # each object's geometry, then its keypoints (as COCO's reader)
        geometry = geometries[i] if geometries else None
        if geometry is not None:
            inst = Instance(object_labels[i], geometry, source(item.key, i), object_scores[i])
            inst.track_id, inst.instance_id = tracks[i], str(i)
            item.instances.append(inst)
        if points is not None:
            _add_keypoints(item, i, points[i], kp_names, object_labels[i], object_scores[i])
    return item


def from_supervision(
    detections: Any,
    key: str,
    width: int,
    height: int,
    *,
    names: Names | None = None,
    attachment: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Item:
    """An image item from a ``supervision.Detections`` (one image, or one video frame).

    Reads ``xyxy``, ``mask`` (the geometry when present), ``class_id``, ``confidence``,
    ``tracker_id`` and ``data["class_name"]``; labels are the class names when the
    detections carry them, else ``names[class_id]``, else the class id as text. Build a
    video item with tracks from one such item per frame (:func:`from_frames`).
    """
    data = getattr(detections, "data", None) or {}
    class_names = data.get("class_name") if isinstance(data, Mapping) else None
    class_id = getattr(detections, "class_id", None)
    labels = [str(n) for n in class_names] if class_names is not None else None
    if labels is None and class_id is None:
        raise _Where(str(key)).fail("the detections have neither class_id nor class names")
    return from_arrays(
        key,
        width,
        height,
        boxes=np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4),
        masks=getattr(detections, "mask", None),
        labels=labels,
        class_ids=None if labels is not None else class_id,
        names=names,
        scores=getattr(detections, "confidence", None),
        track_ids=getattr(detections, "tracker_id", None),
        attachment=attachment,
        fields=fields,
    )


def from_frames(
    key: str,
    frames: Sequence[Item],
    *,
    fps: float | None = None,
    first_frame: int = 0,
    attachment: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Item:
    """A video item from image items, one per frame in order (frame ``i`` gets number
    ``first_frame + i`` and, with ``fps``, timestamp ``i / fps``).

    Objects with the same track id across frames become one video object; a frame item's
    own fields (its ``attachment``) give the per-frame URL of image-sequence tasks. Every
    frame must have the video's size.
    """
    where = _Where(str(key))
    if not frames:
        raise where.fail("a video item needs at least one frame")
    width, height = frames[0].width, frames[0].height
    out = Item(key=str(key), fields=_fields(attachment, fields), width=width, height=height)
    out.fps = fps
    video: list[Frame] = []
    for i, frame in enumerate(frames):
        if (frame.width, frame.height) != (width, height) or frame.frames is not None:
            raise where.fail(
                f"frame {i} ({frame.key}) is not a {width}x{height} image item "
                f"(got {frame.width}x{frame.height}{', a video' if frame.frames else ''})"
            )
        stamp = i / fps if fps else None
        video.append(Frame(i, first_frame + i, frame.instances, stamp, dict(frame.fields)))
        out.dropped.extend(frame.dropped)
    out.frames = video
    return out


# --- checks and per-object columns -------------------------------------------------------


def _check_size(where: _Where, width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise where.fail(f"{name} must be a positive whole number of pixels, got {value!r}")


def _count(where: _Where, **given: Any) -> int:
    """The object count: the length of the geometry arrays, which must agree."""
    lengths = {name: len(value) for name, value in given.items() if value is not None}
    if len(set(lengths.values())) > 1:
        said = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise where.fail(f"the geometry arrays disagree on the object count ({said})")
    return next(iter(lengths.values()), 0)


@dataclass(frozen=True, slots=True)
class _PerObject:
    """Checks that a per-object column has one entry per object."""

    where: _Where
    count: int

    def column(self, name: str, value: Any) -> list[Any]:
        values = np.asarray(value).tolist() if isinstance(value, np.ndarray) else list(value)
        if len(values) != self.count:
            raise self.where.fail(f"{name} has {len(values)} entries for {self.count} objects")
        return values


def _optional(where: _Where, per: _PerObject, name: str, value: Any, convert: Any) -> list[Any]:
    if value is None:
        return [None] * per.count
    out: list[Any] = []
    for i, entry in enumerate(per.column(name, value)):
        if entry is None or (isinstance(entry, float | np.floating) and math.isnan(entry)):
            out.append(None)
            continue
        try:
            out.append(convert(entry))
        except (TypeError, ValueError):
            raise where.fail(f"{name}[{i}] is {entry!r}, not a number") from None
    return out


def _track_id(value: Any) -> str:
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return str(int(number))


def _fields(attachment: str | None, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(extra or {})
    if attachment is not None:
        out["attachment"] = attachment
    return out


def _labels(
    where: _Where,
    per: _PerObject,
    labels: Sequence[str] | None,
    class_ids: Any,
    names: Names | None,
) -> list[str]:
    if labels is not None:
        return [str(label) for label in per.column("labels", labels)]
    if class_ids is None:
        if per.count:
            raise where.fail("give labels, or class_ids (with names)")
        return []
    out: list[str] = []
    for i, value in enumerate(per.column("class_ids", class_ids)):
        number = float(value)
        if not number.is_integer():
            raise where.fail(f"class_ids[{i}] is {value!r}, not a whole number")
        out.append(_class_name(where, int(number), names, i))
    return out


def _class_name(where: _Where, class_id: int, names: Names | None, index: int) -> str:
    if names is None:
        return str(class_id)
    try:
        if class_id < 0:
            raise IndexError(class_id)
        if isinstance(names, Mapping):
            table: Mapping[Any, str] = names
            return str(table[class_id] if class_id in table else table[str(class_id)])
        return str(names[class_id])
    except (IndexError, KeyError):
        raise where.fail(
            f"class_ids[{index}] is {class_id}, which names does not have ({len(names)} name(s))"
        ) from None


# --- geometries ---------------------------------------------------------------------------


def _geometries(
    where: _Where,
    boxes: Any,
    box_format: BoxFormat,
    masks: Any,
    polygons: Any,
    size: tuple[int, int],
) -> Sequence[Geometry] | None:
    """The richest geometry of each object: masks, else polygons, else boxes."""
    try:
        if masks is not None:
            return masks_from(masks, size)
        if polygons is not None:
            return [polygon_from_rings(p, f"polygons[{i}]") for i, p in enumerate(polygons)]
        if boxes is not None:
            return boxes_from_array(boxes, box_format)
    except ValueError as exc:
        raise where.fail(str(exc)) from None
    return None


# --- keypoints ----------------------------------------------------------------------------


def _keypoint_array(where: _Where, per: _PerObject, keypoints: Any) -> FloatArray:
    try:
        points = finite("keypoints", keypoints, "(N, K, 2) or (N, K, 3)")
    except ValueError as exc:
        raise where.fail(str(exc)) from None
    if points.size == 0 and per.count == 0:
        return points.reshape(0, 0, 2)
    if points.ndim != 3 or points.shape[2] not in (2, 3) or len(points) != per.count:
        raise where.fail(
            f"keypoints must be shaped ({per.count}, K, 2) or ({per.count}, K, 3), "
            f"got {points.shape}"
        )
    return points


def _keypoint_names(where: _Where, count: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [f"keypoint_{k + 1}" for k in range(count)]
    if len(names) != count:
        raise where.fail(f"{count} keypoints per object, but {len(names)} keypoint_names")
    return [str(n) for n in names]


def _add_keypoints(
    item: Item,
    index: int,
    points: FloatArray,
    names: list[str],
    label: str,
    score: float | None,
) -> None:
    """One Point instance per keypoint of object ``index`` (COCO's reading of the third
    value: visibility flags when all are 0/1/2, else confidences)."""
    third = points[:, 2] if points.shape[1] == 3 else None
    flags = third is not None and bool(np.isin(third, (0, 1, 2)).all())
    for k, name in enumerate(names):
        ref = source(item.key, index, f", keypoint {name}")
        value = None if third is None else float(third[k])
        if flags and value == 0:
            item.dropped.append(Dropped(ref, "keypoint not labelled (visibility 0)", label=name))
            continue
        visibility = int(value) if flags and value is not None else None
        point = Point(
            float(points[k, 0]),
            float(points[k, 1]),
            name=name,
            visibility=visibility,
            confidence=None if flags else value,
        )
        attributes: dict[str, Any] = {"instance": str(index), "category": label}
        if visibility is not None:
            attributes["visibility"] = visibility
        inst = Instance(name, point, ref, score=score, attributes=attributes)
        inst.instance_id = f"{index}/{name}"
        item.instances.append(inst)
