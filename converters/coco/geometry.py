"""COCO annotation / result object -> model instances (shared by every COCO input kind).

Rules (documented in :mod:`prelabel.converters.coco.read`):

* one instance per object with its richest geometry: RLE ``segmentation`` -> :class:`Mask`,
  polygon ``segmentation`` -> one :class:`Polygon` with one part per polygon, else ``bbox``
  -> :class:`Box`. Writers and the limits engine derive boxes/polygons from it later.
* polygons: an odd number of coordinates loses its last number (noted); a part with fewer
  than 3 points is dropped (noted); with no usable part the ``bbox`` is used, and with no
  ``bbox`` either the object is dropped with the reason.
* keypoints: one instance per keypoint with :class:`Point` geometry, labelled with the
  keypoint name; attributes ``instance`` (the object's instance id) and ``category``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pycocotools import mask as mask_utils

from prelabel.config.rules import MAX_IMAGE_SIDE
from prelabel.converters.options import size_problem
from prelabel.errors import InvalidAnnotationError
from prelabel.geometry.rle import rle_extent
from prelabel.model import (
    Box,
    Dropped,
    Geometry,
    Instance,
    Mask,
    Point,
    Polygon,
    PolygonPart,
    SourceRef,
)

# characters of pycocotools' compressed counts: 48 + 6-bit groups (with continuation bit)
RLE_CHARS = bytes(range(48, 48 + 64))
# the farthest a coordinate may lie from the image's corner (100 task images away)
MAX_COORDINATE = 100 * MAX_IMAGE_SIDE


@dataclass(slots=True)
class Sink:
    """Where one item's objects go: notes (fixes) and dropped objects (with reasons)."""

    dropped: list[Dropped]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KeypointSpec:
    """How keypoints of one category are named and filtered."""

    names: tuple[str, ...] = ()
    threshold: float | None = None


def is_number(value: Any) -> bool:
    """True for int/float JSON numbers (not booleans), finite."""
    kind = type(value)
    if kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_coordinates(values: Sequence[float], what: str, ref: SourceRef) -> None:
    """Pixel coordinates lie within ``MAX_COORDINATE`` of the image's corner: a value past it
    (``1e20``) is no position on any task image, and no size or bound is made from it.

    Raises:
        InvalidAnnotationError: naming the object and the value.
    """
    far = next((v for v in values if abs(v) > MAX_COORDINATE), None)
    if far is not None:
        raise InvalidAnnotationError(
            f"{what}: coordinate {far!r} is beyond {MAX_COORDINATE:,} px, far outside any "
            f"task image (at most {MAX_IMAGE_SIDE} px a side)",
            **_where(ref),
        )


def object_instances(
    obj: Mapping[str, Any],
    *,
    ref: SourceRef,
    label: str,
    instance_id: str,
    size: tuple[int, int] | None,
    sink: Sink,
    keypoints: KeypointSpec | None = None,
) -> list[Instance]:
    """The instances of one COCO annotation or result (``size`` = (height, width) if known)."""
    score = _score(obj, ref)
    out: list[Instance] = []
    has_keypoints = obj.get("keypoints") is not None
    geometry = object_geometry(obj, ref=ref, size=size, sink=sink, required=not has_keypoints)
    if geometry is not None:
        attributes = object_attributes(obj)
        out.append(
            Instance(
                label, geometry, ref, score=score, attributes=attributes, instance_id=instance_id
            )
        )
    if has_keypoints:
        spec = keypoints or KeypointSpec()
        out.extend(keypoint_instances(obj["keypoints"], spec, ref, label, instance_id, score, sink))
    return out


# boolean/number flags some COCO variants carry (CocoVID: occluded, truncated, visibility)
FLAG_KEYS = ("iscrowd", "occluded", "truncated", "ignore", "visibility")


def object_attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes kept on the instance: Datumaro-style ``attributes`` and COCO flags.

    Writers send only attributes the task defines, so extra ones cost nothing.
    """
    out: dict[str, Any] = {}
    extra = obj.get("attributes")
    if isinstance(extra, Mapping):
        out.update(extra)
    for key in FLAG_KEYS:
        if key not in obj:
            continue
        value = obj[key]
        if isinstance(value, bool) or key == "iscrowd":
            if value:
                out[key] = True
        elif is_number(value):
            out[key] = value
    return out


def _score(obj: Mapping[str, Any], ref: SourceRef) -> float | None:
    score = obj.get("score")
    if score is None:
        return None
    if not is_number(score):
        raise InvalidAnnotationError(f"score must be a number, got {score!r}", **_where(ref))
    return float(score)


def _where(ref: SourceRef) -> dict[str, str]:
    return {"path": ref.file, "location": ref.location}


def object_geometry(
    obj: Mapping[str, Any],
    *,
    ref: SourceRef,
    size: tuple[int, int] | None,
    sink: Sink,
    required: bool = True,
) -> Geometry | None:
    """The richest geometry of one object (Mask > Polygon > Box), or None when it has none.

    An object with nothing usable is recorded in ``sink.dropped`` when ``required``.
    """
    seg = obj.get("segmentation")
    problem = None
    if isinstance(seg, Mapping):
        return rle_mask(seg, ref=ref, size=size)
    if isinstance(seg, list) and seg:
        polygon, problem = polygon_from_coco(seg, ref=ref, sink=sink)
        if polygon is not None:
            return polygon
    elif seg is not None and not isinstance(seg, list):
        raise InvalidAnnotationError(
            f"segmentation must be a polygon list or an RLE object, got {type(seg).__name__}",
            **_where(ref),
        )
    bbox = obj.get("bbox")
    if bbox is not None:
        if problem:
            sink.notes.append(f"{ref.location}: {problem}; used its bbox instead")
        return box_from_coco(bbox, ref)
    if required:
        reason = problem or "no bbox, segmentation or keypoints"
        sink.dropped.append(Dropped(ref, reason))
    return None


def box_from_coco(bbox: Any, ref: SourceRef) -> Box:
    """COCO ``[x, y, w, h]`` -> :class:`Box` (same pixel-edge convention, no shift)."""
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
        raise InvalidAnnotationError(
            f"bbox must be [x, y, width, height], got {bbox!r}", **_where(ref)
        )
    check_coordinates(bbox, "bbox", ref)
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:
        raise InvalidAnnotationError(f"bbox has a negative size: {bbox!r}", **_where(ref))
    return Box(x, y, w, h)


def polygon_from_coco(
    parts: Sequence[Any], *, ref: SourceRef, sink: Sink
) -> tuple[Polygon | None, str | None]:
    """COCO polygon list -> one :class:`Polygon`; returns (polygon, why none was usable)."""
    rings: list[PolygonPart] = []
    problems: list[str] = []
    for n, part in enumerate(parts):
        if not (isinstance(part, list) and all(is_number(v) for v in part)):
            raise InvalidAnnotationError(
                f"segmentation[{n}] must be a flat list of numbers [x1, y1, x2, y2, ...]",
                **_where(ref),
            )
        check_coordinates(part, f"segmentation[{n}]", ref)
        coords = part
        if len(coords) % 2:
            sink.notes.append(
                f"{ref.location}: polygon part {n} has an odd number of coordinates "
                f"({len(coords)}); dropped the last one"
            )
            coords = coords[:-1]
        if len(coords) < 6:
            problems.append(
                f"polygon part {n} has {len(coords) // 2} point(s); a polygon needs at least 3"
            )
            continue
        rings.append(
            PolygonPart(tuple(zip(map(float, coords[::2]), map(float, coords[1::2]), strict=False)))
        )
    if rings and problems:
        sink.notes.append(f"{ref.location}: dropped {'; '.join(problems)}")
    if not rings:
        return None, "; ".join(problems) or "empty polygon"
    return Polygon(tuple(rings)), None


def rle_mask(seg: Mapping[str, Any], *, ref: SourceRef, size: tuple[int, int] | None) -> Mask:
    """A COCO RLE in any form (compressed string, compressed bytes, uncompressed list) -> Mask."""
    rle_size = seg.get("size")
    counts = seg.get("counts")
    if not (
        isinstance(rle_size, list)
        and len(rle_size) == 2
        and all(_is_int(v) and v > 0 for v in rle_size)
    ):
        raise InvalidAnnotationError(
            f"RLE size must be [height, width], got {rle_size!r}", **_where(ref)
        )
    h, w = int(rle_size[0]), int(rle_size[1])
    problem = size_problem(w, h)
    if problem:
        raise InvalidAnnotationError(f"RLE size: {problem}", **_where(ref))
    if size is not None and (h, w) != size:
        raise InvalidAnnotationError(
            f"RLE size {w}x{h} (width x height) differs from the image size {size[1]}x{size[0]}",
            **_where(ref),
        )
    if isinstance(counts, list):
        return Mask(_compress(counts, h, w, ref), h, w)
    if isinstance(counts, str) and counts.isascii():
        counts = counts.encode("ascii")
    if not isinstance(counts, bytes) or not counts or counts.translate(None, RLE_CHARS):
        raise InvalidAnnotationError(
            "RLE counts must be a list of run lengths or a compressed COCO RLE string "
            "(ASCII characters 0 to o)",
            **_where(ref),
        )
    _check_runs(counts, h, w, ref)
    return Mask(counts, h, w)


def _check_runs(counts: bytes, h: int, w: int, ref: SourceRef) -> None:
    """A compressed RLE's runs cover the image exactly: none negative (a malformed delta),
    none longer than any image, summing to height x width (a mask with more or fewer pixels
    than its image would be read as some other mask, silently)."""
    total, least = rle_extent(counts)
    if least < 0:
        raise InvalidAnnotationError(
            "RLE counts decode to a negative or overlong run: not a COCO RLE string",
            **_where(ref),
        )
    if total != h * w:
        raise InvalidAnnotationError(
            f"RLE counts cover {total} pixels, expected height*width = {h}*{w} = {h * w}",
            **_where(ref),
        )


def _compress(counts: list[Any], h: int, w: int, ref: SourceRef) -> bytes:
    if not all(_is_int(v) and v >= 0 for v in counts):
        raise InvalidAnnotationError("RLE counts must be non-negative integers", **_where(ref))
    total = sum(counts)
    if total != h * w:
        raise InvalidAnnotationError(
            f"RLE counts sum to {total}, expected height*width = {h * w}", **_where(ref)
        )
    encoded: bytes = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"]
    return encoded


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def keypoint_instances(
    values: Any,
    spec: KeypointSpec,
    ref: SourceRef,
    category: str,
    instance_id: str,
    score: float | None,
    sink: Sink,
) -> list[Instance]:
    """One Point instance per usable keypoint; the others go to ``sink.dropped`` with a reason.

    The third value of each triple is COCO's visibility flag when every third value is an
    integer 0, 1 or 2, and a confidence otherwise (model predictions write floats).
    """
    names = _keypoint_names(values, spec, ref)
    third = values[2::3]
    flags = all(_is_int(v) and v in (0, 1, 2) for v in third)
    out: list[Instance] = []
    for k, name in enumerate(names):
        x, y, v = values[3 * k : 3 * k + 3]
        where = SourceRef(ref.file, f"{ref.location}, keypoint {name}")
        reason = _keypoint_skip(v, flags, spec.threshold)
        if reason:
            sink.dropped.append(Dropped(where, reason, label=name))
            continue
        point = Point(
            float(x),
            float(y),
            name=name,
            visibility=int(v) if flags else None,
            confidence=None if flags else float(v),
        )
        attributes: dict[str, Any] = {"instance": instance_id, "category": category}
        if flags:
            attributes["visibility"] = int(v)
        out.append(
            Instance(
                name,
                point,
                where,
                score=score,
                attributes=attributes,
                instance_id=f"{instance_id}/{name}",
            )
        )
    return out


def _keypoint_names(values: Any, spec: KeypointSpec, ref: SourceRef) -> tuple[str, ...]:
    if not (
        isinstance(values, list) and len(values) % 3 == 0 and all(is_number(v) for v in values)
    ):
        raise InvalidAnnotationError(
            "keypoints must be a flat list of numbers [x1, y1, v1, x2, y2, v2, ...]", **_where(ref)
        )
    check_coordinates([v for k, v in enumerate(values) if k % 3 != 2], "keypoints", ref)
    count = len(values) // 3
    if not spec.names:
        return tuple(f"keypoint_{k + 1}" for k in range(count))
    if len(spec.names) != count:
        raise InvalidAnnotationError(
            f"{count} keypoints, but the category's schema names {len(spec.names)}", **_where(ref)
        )
    return spec.names


def _keypoint_skip(v: float, flags: bool, threshold: float | None) -> str | None:
    if flags:
        return "keypoint not labelled (visibility 0)" if v == 0 else None
    if threshold is not None and v < threshold:
        return f"keypoint confidence below the keypoint threshold {threshold:g}"
    return None
