"""COCO reader: dataset files, results lists, CocoVID / YouTube-VIS and mmtracking results.

Kinds (detected from the file, stated in ``Dataset.notes``):

* **dataset file** ``{"images", "annotations", "categories"}`` -> one image item per image,
  including images with no annotations (tasks to label from scratch). Loaded whole.
* **results list** ``[{"image_id", "category_id", "bbox" | "segmentation" | "keypoints",
  "score"}]`` -> streamed with ijson and spilled to a temporary SQLite file grouped by image,
  so a 1 GB file never sits in memory. It needs an image source (``images=``):

  - a COCO dataset file: sizes, file names and category names; every image of it becomes an
    item (``only_with_results=True`` keeps only images that have results);
  - a folder of images: sizes from file headers (Pillow, no decoding); the image id of a file
    is the **last run of digits in its stem** (``COCO_val2014_000000000042.jpg`` -> 42,
    ``000000139099.jpg`` -> 139099); files without digits are ignored; every image becomes an item;
  - ``image_size=(width, height)``: every result id is accepted; items are the ids that
    have results, in order of first appearance.

  Without a dataset file, labels are the category ids as text (``"1"``); rename them with a
  label map (``{"1": "person"}``) or give ``keypoint_schema=`` a COCO file naming them.
* **CocoVID / YouTube-VIS** (``videos``, images with ``video_id``/``frame_id``, annotations
  with ``instance_id``) -> one video item per video, frames in ``frame_id`` order.
* **mmtracking results** (``track_bboxes`` / ``track_masks``) -> video items; ``images=`` the
  CocoVID file the tracker ran on (frame *i* of the results = the *i*-th image in video, then
  ``frame_id`` order), or ``image_size=`` for one video.

Geometry: one instance per object with its richest geometry, Mask > Polygon > Box (RLE in
any form -> Mask; polygon parts -> one multi-part Polygon; else bbox). Keypoints become one
Point instance per keypoint labelled with the keypoint name, attributes ``instance`` (the
object's id) and ``category``; see :mod:`prelabel.converters.coco.geometry`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel.converters.coco.common import (
    Category,
    first_char,
    id_key,
    image_item,
    keypoint_count,
    load_json,
    merge_schema,
    read_categories,
    size_of,
    used_labels,
)
from prelabel.converters.coco.common import keypoint_schema as load_keypoint_schema
from prelabel.converters.coco.geometry import Sink, object_instances
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Dataset, Dropped, Item, SourceRef


@dataclass(slots=True)
class CocoOptions:
    """Reader options shared by every COCO kind."""

    images: str | None = None
    image_size: tuple[int, int] | None = None
    keypoint_threshold: float | None = None
    keypoint_schema: str | None = None
    only_with_results: bool = False
    fps: float | None = None
    schema: dict[str, Category] = field(default_factory=dict)


def read_coco(
    paths: list[str],
    *,
    images: str | None = None,
    image_size: tuple[int, int] | None = None,
    keypoint_threshold: float | None = None,
    keypoint_schema: str | None = None,
    only_with_results: bool = False,
    fps: float | None = None,
) -> Dataset:
    """Read COCO dataset files, results lists, CocoVID files or mmtracking results.

    Args:
        paths: input files; several are read one after the other into one dataset.
        images: image source for results lists: a COCO dataset file or a folder of images.
        image_size: ``(width, height)`` of every image when no image source is given.
        keypoint_threshold: drop predicted keypoints whose confidence is below this.
        keypoint_schema: a COCO file whose categories name the keypoints.
        only_with_results: with ``images`` a dataset file, emit only images with results.
        fps: frame rate of COCO-video inputs (timestamps; videoplaybackannotation needs it).

    Returns:
        A dataset whose ``items`` is a generator (consume once); ``dropped`` fills as it runs.

    Raises:
        InputError: an unreadable file, unknown kind, or a bad object (with its location).
    """
    if not paths:
        raise InputError("no input file given")
    opts = CocoOptions(
        images, image_size, keypoint_threshold, keypoint_schema, only_with_results, fps
    )
    if keypoint_schema:
        opts.schema = load_keypoint_schema(keypoint_schema, keypoint_threshold)
    dropped: list[Dropped] = []
    parts = [_read_one(str(p), opts, dropped) for p in paths]
    return Dataset(
        format="coco",
        items=_chain(parts),
        labels=list(dict.fromkeys(label for part in parts for label in part.labels)),
        dropped=dropped,
        notes=[note for part in parts for note in part.notes],
        kinds={kind for part in parts for kind in part.kinds},
    )


def _chain(parts: list[Dataset]) -> Iterator[Item]:
    for part in parts:
        yield from part.items


def _read_one(path: str, opts: CocoOptions, dropped: list[Dropped]) -> Dataset:
    if not Path(path).is_file():
        raise InputError("no such file", path=path)
    start = first_char(path)
    if start == "[":
        from prelabel.converters.coco.results import read_results

        return read_results(path, opts, dropped)
    if start != "{":
        raise InputError(
            "not a COCO JSON file (expected a list or an object)", path=path, location="line 1"
        )
    data = load_json(path)
    if "track_bboxes" in data or "track_masks" in data:
        from prelabel.converters.coco.video import read_track_results

        return read_track_results(path, data, opts, dropped)
    if "videos" in data:
        from prelabel.converters.coco.video import read_cocovid

        return read_cocovid(path, data, opts, dropped)
    if "images" in data:
        return read_dataset_file(path, data, opts, dropped)
    keys = ", ".join(sorted(data)[:8]) or "none"
    raise InputError(
        f"not a COCO file: expected images/annotations/categories, videos, or track_bboxes; "
        f"top-level keys: {keys}",
        path=path,
    )


def dataset_categories(
    path: str, data: Mapping[str, Any], opts: CocoOptions
) -> dict[str, Category]:
    """Categories of a dataset file, with keypoint names from the schema file if given."""
    cats = read_categories(data, path, opts.keypoint_threshold)
    return merge_schema(cats, opts.schema) if opts.schema else cats


def list_field(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """A top-level list of a COCO file (missing = empty)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InputError(f"{key} must be a list", path=path, location=key)
    return value


def group_annotations(
    path: str, anns: list[Any], image_keys: Mapping[str, Any], cats: Mapping[str, Category]
) -> dict[str, list[int]]:
    """Annotation indices per image key; unknown image or category ids are errors."""
    groups: dict[str, list[int]] = {}
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(ann, Mapping):
            raise InvalidAnnotationError(
                "an annotation must be an object", path=path, location=where
            )
        key = id_key(ann.get("image_id"), path=path, location=where, what="image_id")
        if key not in image_keys:
            raise InvalidAnnotationError(
                f"image_id {ann['image_id']} is not in images", path=path, location=where
            )
        cat = id_key(ann.get("category_id"), path=path, location=where, what="category_id")
        if cat not in cats:
            raise InvalidAnnotationError(
                f"category_id {ann['category_id']} is not in categories", path=path, location=where
            )
        groups.setdefault(key, []).append(i)
    return groups


def read_dataset_file(
    path: str, data: Mapping[str, Any], opts: CocoOptions, dropped: list[Dropped]
) -> Dataset:
    """A COCO dataset file -> one image item per image, annotations as instances."""
    cats = dataset_categories(path, data, opts)
    imgs = list_field(data, "images", path)
    items = {}
    for n, img in enumerate(imgs):
        item = image_item(img, path, f"images[{n}]")
        if item.key in items:
            raise InputError(
                f"duplicate image id {item.fields['id']}", path=path, location=f"images[{n}]"
            )
        items[item.key] = item
    anns = list_field(data, "annotations", path)
    groups = group_annotations(path, anns, items, cats)
    used = {str(a["category_id"]) for a in anns}
    notes = [f"{path}: COCO dataset file, {len(items)} images, {len(anns)} annotations"]
    return Dataset(
        format="coco",
        items=_dataset_items(path, items, groups, anns, cats, dropped),
        labels=used_labels(cats, used, max(map(keypoint_count, anns), default=0)),
        notes=notes,
        kinds=annotation_kinds(anns),
    )


def _dataset_items(
    path: str,
    items: dict[str, Item],
    groups: dict[str, list[int]],
    anns: list[Any],
    cats: Mapping[str, Category],
    dropped: list[Dropped],
) -> Iterator[Item]:
    for key, item in items.items():
        sink = Sink(dropped)
        for i in groups.get(key, ()):
            ann = anns[i]
            item.instances.extend(
                annotation_instances(ann, path, f"annotations[{i}]", i, size_of(item), cats, sink)
            )
        item.notes.extend(sink.notes)
        yield item


def annotation_instances(
    ann: Mapping[str, Any],
    path: str,
    location: str,
    index: int,
    size: tuple[int, int] | None,
    cats: Mapping[str, Category],
    sink: Sink,
) -> list[Any]:
    """Instances of one annotation/result; instance_id = str(id), else the list index."""
    cat = cats[str(ann["category_id"])]
    ann_id = ann.get("id")
    return object_instances(
        ann,
        ref=SourceRef(path, location),
        label=cat.name,
        instance_id=str(ann_id) if ann_id is not None else str(index),
        size=size,
        sink=sink,
        keypoints=cat.keypoints,
    )


def annotation_kinds(anns: list[Any]) -> set[str]:
    """Geometry kinds the annotations will produce."""
    kinds: set[str] = set()
    for ann in anns:
        kinds.update(object_kinds(ann))
    return kinds


def object_kinds(obj: Mapping[str, Any]) -> set[str]:
    """Geometry kinds one object produces (Mask > Polygon > Box, plus point for keypoints)."""
    out: set[str] = set()
    seg = obj.get("segmentation")
    if isinstance(seg, Mapping):
        out.add("mask")
    elif isinstance(seg, list) and seg:
        out.add("polygon")
    elif obj.get("bbox") is not None:
        out.add("box")
    if obj.get("keypoints") is not None:
        out.add("point")
    return out


def parse_image_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)`` (width, height)."""
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) <= 0:
        raise InputError(f"image size must be WIDTHxHEIGHT, e.g. 640x480, got {text!r}")
    return size
