"""An image's COCO results as columns (:class:`~prelabel.model.ObjectColumns`), when every
one of them is plain: a ``bbox`` or a compressed-string RLE ``segmentation``, a category, a
score or none, an id or none, and nothing else that becomes part of an object (no keypoints,
polygons, ``attributes`` or flags such as ``iscrowd``).

What a detector writes is plain, so a results list of millions of detections is read
without an object per result. The checks are those of the object path
(:mod:`prelabel.converters.coco.geometry`) made in bulk; where a result is not plain, or a
check fails, the image goes down the object path, which gives the same objects, and
names the result and what is wrong with it when something is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prelabel.converters.coco.common import Category
from prelabel.converters.coco.geometry import FLAG_KEYS, MAX_COORDINATE, RLE_CHARS
from prelabel.converters.options import size_problem
from prelabel.geometry.rle import whole_mask_boxes
from prelabel.model import ObjectColumns

# keys that make a result more than a box or a mask with a label and a score
_NOT_PLAIN = frozenset(("keypoints", "attributes", *FLAG_KEYS))


def plain_columns(
    records: Sequence[tuple[int, Mapping[str, Any]]],
    path: str,
    size: tuple[int, int] | None,
    cats: Mapping[str, Category],
) -> ObjectColumns | None:
    """The columns of one image's ``(index, result)`` pairs (``size`` = (height, width) of
    the image if known), or None when a result is not plain or not valid."""
    cols = ObjectColumns(path, "results", [], [], [], [], [], [])
    names: dict[Any, str] = {}
    mask_size = size
    for index, rec in records:
        if not rec.keys().isdisjoint(_NOT_PLAIN):
            return None
        score = rec.get("score")
        if score is not None:
            if type(score) is int:
                score = float(score)
            elif type(score) is not float or not math.isfinite(score):
                return None
        seg = rec.get("segmentation")
        if seg is None:
            box = _box(rec.get("bbox"))
            if box is None:
                return None
            cols.boxes.append(box)
            cols.masks.append(None)
        elif type(seg) is dict:
            counts, mask_size = _rle(seg, mask_size)
            if counts is None:
                return None
            cols.boxes.append(None)
            cols.masks.append(counts)
        else:
            return None
        raw = rec["category_id"]
        name = names.get(raw)
        if name is None:
            name = names[raw] = cats[str(raw)].name
        ann_id = rec.get("id")
        cols.indexes.append(index)
        cols.ids.append(str(ann_id) if ann_id is not None else str(index))
        cols.labels.append(name)
        cols.scores.append(score)
    if mask_size is not None:
        cols.height, cols.width = mask_size
        strings = [m for m in cols.masks if m is not None]
        if strings:  # each must cover the frame with no negative run; their boxes come too
            boxes = whole_mask_boxes(strings, *mask_size)
            if boxes is None:
                return None
            measured = iter(boxes)
            cols.mask_boxes = [None if m is None else next(measured) for m in cols.masks]
    return cols


def _box(bbox: Any) -> tuple[float, float, float, float] | None:
    """A COCO ``[x, y, w, h]`` the object path takes as it is, as floats; else None."""
    if type(bbox) is not list or len(bbox) != 4:
        return None
    for v in bbox:
        kind = type(v)
        if not (kind is int or (kind is float and math.isfinite(v))) or abs(v) > MAX_COORDINATE:
            return None
    if bbox[2] < 0 or bbox[3] < 0:
        return None
    return float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])


def _rle(
    seg: Mapping[str, Any], size: tuple[int, int] | None
) -> tuple[bytes | None, tuple[int, int] | None]:
    """(counts, frame size) of a compressed-string RLE the object path takes, whose size
    is the image's (or, the image's unknown, every mask's); counts None otherwise."""
    rle_size, counts = seg.get("size"), seg.get("counts")
    if type(counts) is not str or not counts or not counts.isascii():
        return None, size
    if type(rle_size) is not list or len(rle_size) != 2:
        return None, size
    h, w = rle_size
    if type(h) is not int or type(w) is not int:
        return None, size
    if (h, w) != size and (size is not None or size_problem(w, h)):  # a known size is valid
        return None, size
    data = counts.encode("ascii")
    if data.translate(None, RLE_CHARS):
        return None, size
    return data, (h, w)
