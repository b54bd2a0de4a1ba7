"""COCO panoptic masks: the RGB PNG (id = R + 256 G + 256^2 B) with its JSON, and
panopticapi's 2-channel PNG (R = category id, G = instance id).

Value 0 is unlabeled (void) in both; it is never listed in ``segments_info``. Segment ids
repeat across images, so segments are looked up per PNG (by the annotation's ``file_name``
stem). A category's ``isthing`` says whether its segments are instances (instance id 0 does
not mean stuff in the 2-channel form).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.errors import InputError
from prelabel.geometry.raster import CountedRaster
from prelabel.model import Dropped, IndexRaster, Segment, SourceRef

# panopticapi's 2-channel converter combines category and instance as 1000 * R + G
TWO_CHANNEL_BASE = 1000


@dataclass(slots=True)
class Panoptic:
    """A COCO panoptic JSON: categories, segments per PNG stem, images per stem."""

    path: Path
    categories: dict[int, tuple[str, bool]]  # id -> (name, isthing)
    segments: dict[str, list[dict[str, Any]]]
    images: dict[str, dict[str, Any]]

    def only(self, stem: str) -> Panoptic:
        """This JSON narrowed to one PNG (what an item's raster needs: it pickles small)."""
        segments = {stem: self.segments[stem]} if stem in self.segments else {}
        images = {stem: self.images[stem]} if stem in self.images else {}
        return Panoptic(self.path, self.categories, segments, images)


def load_panoptic(path: str) -> Panoptic:
    """Read a COCO panoptic JSON (``annotations`` optional, as for the 2-channel form).

    Raises:
        InputError: the file is missing or lacks ``categories`` / well-formed annotations.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such panoptic JSON", path=path)
    try:
        data = orjson.loads(p.read_bytes().removeprefix(codecs.BOM_UTF8))
        cats = {
            int(c["id"]): (str(c["name"]), bool(c.get("isthing", 0))) for c in data["categories"]
        }
        images_by_id = {img["id"]: img for img in data.get("images", [])}
        segments: dict[str, list[dict[str, Any]]] = {}
        images: dict[str, dict[str, Any]] = {}
        for ann in data.get("annotations", []):
            stem = Path(ann["file_name"]).stem
            segments[stem] = ann["segments_info"]
            if ann.get("image_id") in images_by_id:
                images[stem] = images_by_id[ann["image_id"]]
        for img in images_by_id.values():
            images.setdefault(Path(img["file_name"]).stem, img)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"not a COCO panoptic JSON: {exc!r}", path=path) from None
    return Panoptic(p, cats, segments, images)


def _rgb(path: Path, pixels: npt.NDArray[Any], what: str) -> npt.NDArray[np.int32]:
    if pixels.ndim != 3:
        raise InputError(f"a {what} must be RGB", path=path)
    return pixels.astype(np.int32)


def panoptic_raster(
    path: Path, pixels: npt.NDArray[Any], pan: Panoptic, dropped: list[Dropped]
) -> IndexRaster:
    """The raster of a COCO panoptic PNG; ids with no ``segments_info`` entry are an error,
    listed segments with no pixels are appended to ``dropped``."""
    rgb = _rgb(path, pixels, "COCO panoptic PNG")
    values = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    infos = {int(s["id"]): s for s in pan.segments.get(path.stem, [])}
    segments: dict[int, Segment] = {}
    for v in (int(x) for x in np.unique(values) if x):
        info = infos.get(v)
        if info is None:
            raise InputError(
                f"unknown value {v} in {path.name}: not in its segments_info in "
                f"{pan.path.name} ({len(infos)} segments)",
                path=path,
                location=f"pixel value {v}",
            )
        segments[v] = _segment(path, pan, v, info)
    for sid, info in infos.items():
        if sid not in segments:
            src = SourceRef(str(path), f"pixel value {sid}")
            label = pan.categories.get(int(info.get("category_id", -1)), (None, False))[0]
            dropped.append(Dropped(src, "empty: listed in segments_info, no pixels", label))
    return IndexRaster(values, segments)


def _segment(path: Path, pan: Panoptic, v: int, info: dict[str, Any]) -> Segment:
    cat = int(info["category_id"])
    if cat not in pan.categories:
        raise InputError(
            f"segment {v} has category_id {cat}, which {pan.path.name} does not list",
            path=path,
            location=f"pixel value {v}",
        )
    name, isthing = pan.categories[cat]
    attributes = {"iscrowd": 1} if info.get("iscrowd") else {}
    return Segment(
        name, SourceRef(str(path), f"pixel value {v}"), instance=isthing, attributes=attributes
    )


def two_channel_raster(
    path: Path, pixels: npt.NDArray[Any], pan: Panoptic, void: Sequence[int]
) -> IndexRaster:
    """The raster of a 2-channel PNG: value = 1000 * category + instance; category 0 and
    ``void`` categories are unlabeled (the latter kept as void: never filled)."""
    rgb = _rgb(path, pixels, "2-channel panoptic PNG (R = category, G = instance)")
    cat = rgb[..., 0]
    voided = np.isin(cat, list(void)) if void else None
    values = np.where(np.isin(cat, [0, *void]), 0, cat * TWO_CHANNEL_BASE + rgb[..., 1])
    cats = pan.categories
    segments: dict[int, Segment] = {}
    for v in (int(x) for x in np.unique(values) if x):
        c, inst = divmod(v, TWO_CHANNEL_BASE)
        where = f"pixel value ({c}, {inst}, 0)"
        if c not in cats:
            raise InputError(
                f"unknown category {c} in {path.name}: {pan.path.name} lists "
                f"{len(cats)} categories",
                path=path,
                location=where,
            )
        name, isthing = cats[c]
        segments[v] = Segment(name, SourceRef(str(path), where), instance=isthing)
    if voided is not None and not voided.any():
        voided = None
    return CountedRaster(values, segments, void=voided)
