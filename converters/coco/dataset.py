"""COCO dataset files (``images`` / ``annotations`` / ``categories``) -> image items.

Also the pieces the other COCO kinds read a dataset file with (categories, annotation
grouping, the instances of one annotation): results lists pair with a dataset file, CocoVID
files are dataset files with videos.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prelabel.converters.coco.common import (
    Category,
    CocoRun,
    id_key,
    image_item,
    keypoint_count,
    merge_schema,
    read_categories,
    size_of,
    used_labels,
)
from prelabel.converters.coco.geometry import Sink, object_instances
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Dataset, Dropped, Item, SourceRef


def dataset_categories(path: str, data: Mapping[str, Any], opts: CocoRun) -> dict[str, Category]:
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
    path: str, data: Mapping[str, Any], opts: CocoRun, dropped: list[Dropped]
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
