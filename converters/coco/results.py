"""COCO results lists, streamed: a 1 GB file is never held in memory.

Pass 1 (:mod:`prelabel.converters.coco.grouping`) parses the list with orjson on bounded
chunks (about a megabyte of text at a time, cut between two results:
:mod:`prelabel.converters.coco.stream`), checks every result against the image source and
groups the results by image into temporary spill files; with ``--workers N`` the N
processes parse and group byte ranges of the file while this one cuts them and notes where
each group went. Pass 2 gives one item per image in the image source's order: its recipe
(:class:`ResultsRecipe`: the image's entry and its results as bytes, what a worker process
gets, ``prelabel convert --workers N``) or the item it builds. Masks stay compressed.
Objects an image's results cannot give (no geometry) are recorded in its task.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from prelabel.converters.coco.columns import plain_columns
from prelabel.converters.coco.common import (
    Category,
    CocoRun,
    check_size,
    image_item,
    load_json,
    size_of,
    used_labels,
)
from prelabel.converters.coco.dataset import annotation_instances, dataset_categories, list_field
from prelabel.converters.coco.geometry import Sink
from prelabel.converters.coco.grouping import Spill, index_results, spilled_results
from prelabel.errors import InputError
from prelabel.model import Dataset, Dropped, Item

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass(slots=True)
class ImageSource:
    """Where results find their images: a dataset file, a folder, or one fixed size."""

    description: str
    cats: dict[str, Category]
    # key -> raw image entry (dataset file) or image path (folder); empty for a fixed size
    entries: dict[str, Any] = field(default_factory=dict)
    kind: str = "size"
    size: tuple[int, int] | None = None  # (width, height)
    path: str = ""

    def knows(self, key: str) -> bool:
        return self.kind == "size" or key in self.entries

    def keys(self, spill: Spill, only_with_results: bool) -> list[str]:
        if self.kind == "size":
            return list(spill.counts)
        return [k for k in self.entries if not only_with_results or k in spill.counts]

    def image(self, key: str) -> ImageRef:
        """What one item needs of the source (small: it travels with the item's recipe)."""
        return ImageRef(self.kind, key, self.entries.get(key), self.path, self.size)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image of an image source: its dataset entry, its file, or the fixed size."""

    kind: str
    key: str
    entry: Any
    path: str
    size: tuple[int, int] | None

    def item(self, raw_id: Any) -> Item:
        """The image's item, without objects (a folder's image: its size from the header)."""
        if self.kind == "dataset":
            return image_item(self.entry, self.path, f"image id {self.key}")
        if self.kind == "folder":
            return folder_item(self.key, self.entry, Path(self.path))
        width, height = self.size or (0, 0)
        key = self.key
        fields = {"file_name": key, "id": raw_id, "stem": key, "width": width, "height": height}
        return Item(key=key, fields=fields, width=width, height=height)


def image_source(path: str, opts: CocoRun) -> ImageSource:
    """The image source of a results list (see :mod:`prelabel.converters.coco.read`)."""
    if opts.images:
        source = Path(opts.images)
        if source.is_dir():
            return folder_source(source, opts)
        if source.is_file():
            return dataset_source(str(source), opts)
        raise InputError("image source not found (a COCO dataset file or a folder)", path=source)
    if opts.image_size:
        w, h = opts.image_size
        return ImageSource(f"every image {w}x{h} (--image-size)", dict(opts.schema), size=(w, h))
    raise InputError(
        "a COCO results list has no image sizes or file names: give --images "
        "(the COCO dataset file or a folder of images) or --image-size WxH",
        path=path,
    )


def dataset_source(path: str, opts: CocoRun) -> ImageSource:
    """Images and categories from a COCO dataset file."""
    data = load_json(path)
    if not isinstance(data, Mapping) or "images" not in data:
        raise InputError("the image source must be a COCO dataset file with images", path=path)
    entries: dict[str, Any] = {}
    for n, img in enumerate(list_field(data, "images", path)):
        key = image_item(img, path, f"images[{n}]").key
        entries[key] = img
    cats = dataset_categories(path, data, opts)
    return ImageSource(f"images and categories from {path}", cats, entries, "dataset", path=path)


def folder_source(folder: Path, opts: CocoRun) -> ImageSource:
    """Images of a folder (recursive); id = last run of digits in the file stem."""
    entries: dict[str, Any] = {}
    for file in sorted(folder.rglob("*")):
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        digits = re.findall(r"\d+", file.stem)
        if not digits:
            continue
        key = str(int(digits[-1]))
        if key in entries:
            raise InputError(
                f"image id {key} from both {entries[key].name} and {file.name}", path=folder
            )
        entries[key] = file
    if not entries:
        raise InputError("no image with digits in its name in this folder", path=folder)
    desc = f"images from folder {folder} (id = last digits of the file name)"
    return ImageSource(desc, dict(opts.schema), entries, "folder", path=str(folder))


def folder_item(key: str, file: Path, folder: Path) -> Item:
    """An image item from a file, size from its header only."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against Scale's limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as im:
                width, height = im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"cannot read image header: {exc}", path=file) from None
    check_size(width, height, path=str(file), location="image header")
    name = file.relative_to(folder).as_posix()
    fields = {
        "file_name": name,
        "id": int(key),
        "stem": file.stem,
        "width": width,
        "height": height,
    }
    return Item(key=key, fields=fields, width=width, height=height)


def read_results(path: str, opts: CocoRun, dropped: list[Dropped]) -> Dataset:
    """A COCO results list -> image items (one image's results at a time).

    The dataset's ``recipes`` are the same items as recipes (what worker processes get);
    consume either ``items`` or ``recipes``.
    """
    source = image_source(path, opts)
    spill = Spill()
    try:
        kinds, used, total, most = index_results(path, source, spill, opts.workers)
    except BaseException:
        spill.close()
        raise
    notes = [
        f"{path}: COCO results list, {total} results on {len(spill.counts)} images; "
        f"{source.description}"
    ]
    if source.kind != "dataset" and not opts.schema:
        notes.append(f"{path}: no category names given: labels are category ids")
    recipes = _recipes(path, source, spill, opts)
    return Dataset(
        format="coco",
        items=(recipe().materialize() for recipe in recipes),
        labels=used_labels(source.cats, used, most),
        notes=notes,
        kinds=kinds,
        recipes=recipes,
    )


@dataclass(frozen=True, slots=True)
class ResultsRecipe:
    """One image's item, to be built where it is converted: its image (entry, file or
    size), its results as the spilled bytes, the categories (shared by every recipe)."""

    path: str  # the results file (records name it)
    image: ImageRef
    cats: dict[str, Category]
    blobs: tuple[tuple[int, bytes], ...]  # the spilled groups (Spill.blobs)
    weight: int

    @property
    def key(self) -> str:
        return self.image.key

    def __call__(self) -> Item:
        """The item: the image and one or more objects per result, in file order, as
        columns when every result is plain (:mod:`prelabel.converters.coco.columns`),
        else as instances; what its results cannot give is in ``item.dropped`` (recorded
        in its task)."""
        records = spilled_results(self.blobs)
        raw_id = records[0][1]["image_id"] if records else self.key
        item = self.image.item(raw_id)
        size = size_of(item)
        if records:
            item.columns = plain_columns(records, self.path, size, self.cats)
            if item.columns is not None:
                return item
        sink = Sink(item.dropped)
        for index, rec in records:
            item.instances.extend(
                annotation_instances(
                    rec, self.path, f"results[{index}]", index, size, self.cats, sink
                )
            )
        item.notes.extend(sink.notes)
        return item


def _recipes(
    path: str, source: ImageSource, spill: Spill, opts: CocoRun
) -> Iterator[ResultsRecipe]:
    try:
        for key in source.keys(spill, opts.only_with_results):
            blobs = tuple(spill.blobs(key))
            yield ResultsRecipe(
                path, source.image(key), source.cats, blobs, spill.counts.get(key, 0)
            )
    finally:
        spill.close()
