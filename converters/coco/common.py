"""Pieces shared by the COCO readers: their options, JSON loading with positions, categories,
image items."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from prelabel.collector import paused_gc
from prelabel.config.declare import option
from prelabel.converters.coco.geometry import KeypointSpec
from prelabel.converters.options import fps, image_size, images, size_problem
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Dataset, Instance, Item, Mask

# image fields copied into Item.fields when present (attachment_url templates use them)
_URL_FIELDS = ("coco_url", "flickr_url", "url")


@dataclass(frozen=True, slots=True, kw_only=True)
class CocoOptions:
    """Options of the COCO reader (``prelabel convert coco``), shared by every COCO kind."""

    images: str | None = images(
        "Image source for a results list: the COCO dataset file, or a folder of images "
        "(id = last digits of the file name; sizes from file headers).",
        path="any",
    )
    image_size: tuple[int, int] | None = image_size(
        "Size of every image when a results list has no image source."
    )
    keypoint_threshold: float | None = option(
        None, low=0, high=1, help="Drop predicted keypoints whose confidence is below this."
    )
    keypoint_schema: str | None = option(
        None,
        path="file",
        help="A COCO file whose categories name the keypoints (e.g. person_keypoints_val2017.json).",
    )
    only_with_results: bool = option(
        False, help="With --images a dataset file: emit only images that have results."
    )
    fps: float | None = fps(
        "Frame rate of COCO-video input (frame timestamps; videoplaybackannotation needs it)."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CocoRun(CocoOptions):
    """One ``read_coco`` call's options and what they load (the keypoint schema)."""

    schema: dict[str, Category] = field(default_factory=dict)
    workers: int = 1  # processes that parse and group a big results list


def load_json(path: str | os.PathLike[str]) -> Any:
    """Parse a whole JSON file; bad JSON is an InputError with line and column."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path=path) from None
    try:
        with paused_gc():  # a dataset's objects hold no cycles: parsed in half the time
            return orjson.loads(text.removeprefix(codecs.BOM_UTF8))  # a BOM reads as none
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg}", path=path, location=f"line {exc.lineno}, column {exc.colno}"
        ) from None


def first_char(path: str | os.PathLike[str]) -> str:
    """The first non-blank character of a file ('' when empty), without reading it whole."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(65536):
                text = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
                if text:
                    return chr(text[0])
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path=path) from None
    return ""


def id_key(value: Any, *, path: str, location: str, what: str = "id") -> str:
    """A COCO id as the item/category key: ints (any size, 0 included) and strings."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidAnnotationError(
            f"{what} must be an integer or a string, got {value!r}", path=path, location=location
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class Category:
    """A COCO category: its name and keypoint schema."""

    name: str
    keypoints: KeypointSpec | None = None


def read_categories(
    data: Mapping[str, Any], path: str, threshold: float | None
) -> dict[str, Category]:
    """``categories`` of a dataset file keyed by str(id); sparse and zero-based ids are fine."""
    raw = data.get("categories", [])
    if not isinstance(raw, list):
        raise InputError("categories must be a list", path=path, location="categories")
    out: dict[str, Category] = {}
    for n, cat in enumerate(raw):
        where = f"categories[{n}]"
        if not isinstance(cat, Mapping) or "id" not in cat or not isinstance(cat.get("name"), str):
            raise InputError("a category needs an id and a name", path=path, location=where)
        key = id_key(cat["id"], path=path, location=where)
        if key in out:
            raise InputError(f"duplicate category id {cat['id']}", path=path, location=where)
        out[key] = Category(cat["name"], _keypoint_spec(cat, path, where, threshold))
    return out


def _keypoint_spec(
    cat: Mapping[str, Any], path: str, where: str, threshold: float | None
) -> KeypointSpec | None:
    names = cat.get("keypoints")
    if names is None:
        return None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise InputError("keypoints must be a list of names", path=path, location=where)
    return KeypointSpec(tuple(names), threshold)


def keypoint_schema(path: str, threshold: float | None) -> dict[str, Category]:
    """Categories with keypoint names from a COCO file (e.g. mmpose's test_coco.json)."""
    data = load_json(path)
    if not isinstance(data, Mapping):
        raise InputError("a keypoint schema must be a COCO dataset file (an object)", path=path)
    cats = {k: c for k, c in read_categories(data, path, threshold).items() if c.keypoints}
    if not cats:
        raise InputError("no category with keypoint names in this file", path=path)
    return cats


def merge_schema(cats: dict[str, Category], schema: dict[str, Category]) -> dict[str, Category]:
    """Give categories without keypoint names the schema's: by name, else by id, else the
    schema's only category."""
    by_name = {c.name: c for c in schema.values()}
    only = next(iter(schema.values())) if len(schema) == 1 else None
    out = dict(cats)
    for key, cat in cats.items():
        if cat.keypoints is None:
            donor = by_name.get(cat.name) or schema.get(key) or only
            out[key] = Category(cat.name, donor.keypoints if donor else None)
    for key, cat in schema.items():
        out.setdefault(key, cat)
    return out


def image_item(img: Any, path: str, location: str) -> Item:
    """One image entry -> an image :class:`Item` (key = str(id))."""
    if not isinstance(img, Mapping) or "id" not in img:
        raise InputError("an image needs an id", path=path, location=location)
    key = id_key(img["id"], path=path, location=location)
    width, height = img.get("width"), img.get("height")
    check_size(width, height, path=path, location=location)
    file_name = str(img.get("file_name") or key)
    fields: dict[str, Any] = {
        "file_name": file_name,
        "id": img["id"],
        "stem": PurePosixPath(file_name.replace("\\", "/")).stem,
    }
    fields.update({k: img[k] for k in _URL_FIELDS if img.get(k)})
    if width and height:
        fields.update(width=width, height=height)
    return Item(key=key, fields=fields, width=width, height=height)


def check_size(width: Any, height: Any, *, path: str, location: str) -> None:
    """An image size an input declares (either side may be missing): whole pixels above 0,
    at most ``MAX_IMAGE_SIDE`` a side (:func:`~prelabel.converters.options.size_problem`).

    Raises:
        InputError: naming the file and the object.
    """
    if width is None and height is None:
        return
    problem = size_problem(1 if width is None else width, 1 if height is None else height)
    if problem:
        raise InputError(problem, path=path, location=location)


def size_of(item: Item) -> tuple[int, int] | None:
    """(height, width) of an item when both are known."""
    if item.width and item.height:
        return item.height, item.width
    return None


def used_labels(
    cats: Mapping[str, Category], used: Iterable[str], unnamed_keypoints: int = 0
) -> list[str]:
    """Category names of the used ids (category order), then their keypoint names.

    ``unnamed_keypoints``: the most keypoints an object of a category without a schema has;
    those are labelled ``keypoint_1`` ... (see ``coco_geometry``).
    """
    used = set(used)
    names: list[str] = []
    for key, cat in cats.items():
        if key in used:
            names.append(cat.name)
            if cat.keypoints:
                names.extend(cat.keypoints.names)
            else:
                names.extend(f"keypoint_{k + 1}" for k in range(unnamed_keypoints))
    return list(dict.fromkeys(names))


def keypoint_count(obj: Mapping[str, Any]) -> int:
    """How many keypoints an object has (0 without a keypoints list)."""
    kps = obj.get("keypoints")
    return len(kps) // 3 if isinstance(kps, list) else 0


def dump_dataset(dataset: Dataset, *, strip: str = "") -> dict[str, Any]:
    """A JSON-able dump of a dataset (consumes ``items``), for goldens and debugging.

    Args:
        dataset: what a reader returned.
        strip: a path prefix replaced by ``<data>`` so dumps do not depend on the machine.
    """

    def text(value: str) -> str:
        return value.replace(strip, "<data>") if strip else value

    items = [_dump_item(item, text) for item in dataset.items]
    return {
        "format": dataset.format,
        "labels": dataset.labels,
        "kinds": sorted(dataset.kinds),
        "notes": [text(n) for n in dataset.notes],
        "items": items,
        "dropped": [
            {"source": text(str(d.source)), "reason": d.reason, "label": d.label}
            for d in dataset.dropped
        ],
    }


def _dump_item(item: Item, text: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": item.key,
        "fields": item.fields,
        "size": [item.width, item.height],
        "notes": item.notes,
    }
    if item.frames is None:
        out["instances"] = [_dump_instance(i, text) for i in item.instances]
    else:
        out["frames"] = [
            {
                "index": f.index,
                "number": f.number,
                "fields": f.fields,
                "instances": [_dump_instance(i, text) for i in f.instances],
            }
            for f in item.frames
        ]
    return out


def _dump_instance(inst: Instance, text: Callable[[str], str]) -> dict[str, Any]:
    geometry: dict[str, Any] = {"kind": inst.geometry.kind}
    if isinstance(inst.geometry, Mask):
        geometry.update(inst.geometry.rle(), counts=inst.geometry.counts.decode())
    else:
        geometry.update(
            {k: getattr(inst.geometry, k) for k in inst.geometry.__slots__ if k != "kind"}
        )
    return {
        "label": inst.label,
        "geometry": geometry,
        "source": text(str(inst.source)),
        "score": inst.score,
        "track_id": inst.track_id,
        "instance_id": inst.instance_id,
        "attributes": inst.attributes,
    }
