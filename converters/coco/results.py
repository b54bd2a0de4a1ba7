"""COCO results lists, streamed: a 1 GB file is never held in memory.

Pass 1 parses the list with ijson (C backend when available), checks every result against
the image source and spills it to a temporary SQLite file keyed by image id. Pass 2 (the
item generator) reads one image's results at a time in file order. Masks stay compressed.
"""

from __future__ import annotations

import codecs
import itertools
import marshal
import re
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
from PIL import Image

from prelabel.converters.coco.common import (
    Category,
    CocoRun,
    check_size,
    id_key,
    image_item,
    keypoint_count,
    load_json,
    size_of,
    used_labels,
)
from prelabel.converters.coco.dataset import (
    annotation_instances,
    dataset_categories,
    list_field,
    object_kinds,
)
from prelabel.converters.coco.geometry import Sink
from prelabel.converters.coco.nesting import MAX_DEPTH, NestingGuard, TooDeep
from prelabel.errors import EnvironmentFailure, InputError, InvalidAnnotationError
from prelabel.model import Dataset, Dropped, Item

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# below this size a JSON error is located by line/column with a full parse
_LOCATE_LIMIT = 64 << 20
_BATCH = 5000


@contextmanager
def _spill_errors(path: Path) -> Iterator[None]:
    """The temporary file refusing a write (a full disk, a file-size limit) is the
    environment's failure (exit 6), named."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        reason = f"cannot write the temporary file results are grouped in: {why}"
        raise EnvironmentFailure(reason, path=path) from None


class Spill:
    """Results grouped by image key in a temporary SQLite file (removed on close)."""

    def __init__(self) -> None:
        with _spill_errors(Path(tempfile.gettempdir())):
            self._dir = tempfile.TemporaryDirectory(prefix="prelabel-coco-")
        self.path = Path(self._dir.name) / "results.sqlite"
        with _spill_errors(self.path):
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("CREATE TABLE r (image TEXT, idx INTEGER, data BLOB)")
        self._batch: list[tuple[str, int, bytes]] = []
        self.counts: dict[str, int] = {}

    def add(self, key: str, index: int, record: dict[str, Any]) -> None:
        """Store one result under its image key."""
        # marshal: our own process reads it back; several times faster than JSON here
        self._batch.append((key, index, marshal.dumps(record)))
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        with _spill_errors(self.path):
            self._db.executemany("INSERT INTO r VALUES (?, ?, ?)", self._batch)
        self._batch.clear()

    def finish(self) -> None:
        """End of pass 1: write the last batch and index by image."""
        self._flush()
        with _spill_errors(self.path):
            self._db.execute("CREATE INDEX r_image ON r (image, idx)")
            self._db.commit()

    def records(self, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """(index, result) of one image, in file order."""
        if key not in self.counts:
            return
        with _spill_errors(self.path):
            rows = self._db.execute(
                "SELECT idx, data FROM r WHERE image = ? ORDER BY idx", (key,)
            ).fetchall()
        for index, data in rows:
            yield index, marshal.loads(data)

    def close(self) -> None:
        """Drop the database and its folder."""
        self._db.close()
        self._dir.cleanup()


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

    def item(self, key: str, raw_id: Any) -> Item:
        if self.kind == "dataset":
            return image_item(self.entries[key], self.path, f"image id {key}")
        if self.kind == "folder":
            return folder_item(key, self.entries[key], Path(self.path))
        width, height = self.size or (0, 0)
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


def stream_records(path: str) -> Iterator[tuple[int, Any]]:
    """(index, object) of a top-level JSON list, parsed incrementally."""
    index = -1
    with open(path, "rb") as f:
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:  # a BOM is read as no BOM
            f.seek(0)
        try:
            for index, obj in enumerate(ijson.items(NestingGuard(f), "item", use_float=True)):
                yield index, obj
        except ijson.JSONError as exc:
            raise _json_error(path, index, exc) from None
        except TooDeep as exc:
            where = f"results[{index + 1}], byte {exc.offset}"
            raise InputError(
                f"JSON nested deeper than {MAX_DEPTH} levels (a result nests a few)",
                path=path,
                location=where,
            ) from None


def _json_error(path: str, index: int, exc: Exception) -> InputError:
    if Path(path).stat().st_size <= _LOCATE_LIMIT:
        load_json(path)  # raises with line and column
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"after results[{index}]" if index >= 0 else "results[0]"
    return InputError(f"invalid JSON: {first}", path=path, location=where)


def read_results(path: str, opts: CocoRun, dropped: list[Dropped]) -> Dataset:
    """A COCO results list -> image items (one image's results at a time)."""
    source = image_source(path, opts)
    spill = Spill()
    try:
        kinds, used, total, most = index_results(path, source, spill)
    except BaseException:
        spill.close()
        raise
    notes = [
        f"{path}: COCO results list, {total} results on {len(spill.counts)} images; "
        f"{source.description}"
    ]
    if source.kind != "dataset" and not opts.schema:
        notes.append(f"{path}: no category names given: labels are category ids")
    return Dataset(
        format="coco",
        items=_result_items(path, source, spill, opts, dropped),
        labels=used_labels(source.cats, used, most),
        notes=notes,
        kinds=kinds,
    )


def index_results(
    path: str, source: ImageSource, spill: Spill
) -> tuple[set[str], set[str], int, int]:
    """Pass 1: check and spill every result.

    Returns:
        (geometry kinds, category keys used, result count, most keypoints on one result).
    """
    kinds: set[str] = set()
    used: set[str] = set()
    total = most = 0
    for i, rec in stream_records(path):
        where = f"results[{i}]"
        if not isinstance(rec, dict):
            raise InvalidAnnotationError("a result must be an object", path=path, location=where)
        key = id_key(rec.get("image_id"), path=path, location=where, what="image_id")
        if not source.knows(key):
            raise InvalidAnnotationError(
                f"image_id {rec['image_id']} has no image in {source.description}",
                path=path,
                location=where,
            )
        cat = id_key(rec.get("category_id"), path=path, location=where, what="category_id")
        if cat not in source.cats:
            if source.kind == "dataset":
                raise InvalidAnnotationError(
                    f"category_id {rec['category_id']} is not in {source.path}",
                    path=path,
                    location=where,
                )
            source.cats[cat] = _default_category(cat, source.cats)
        used.add(cat)
        kinds.update(object_kinds(rec))
        if "keypoints" in rec:
            most = max(most, keypoint_count(rec))
        spill.add(key, i, rec)
        total += 1
    spill.finish()
    return kinds, used, total, most


def _default_category(key: str, cats: Mapping[str, Category]) -> Category:
    """A category known only by id: named by the id, keypoints from a one-category schema."""
    with_kp = [c for c in cats.values() if c.keypoints]
    return Category(key, with_kp[0].keypoints if len(with_kp) == 1 else None)


def _result_items(
    path: str, source: ImageSource, spill: Spill, opts: CocoRun, dropped: list[Dropped]
) -> Iterator[Item]:
    try:
        for key in source.keys(spill, opts.only_with_results):
            yield _result_item(path, key, source, spill, dropped)
    finally:
        spill.close()


def _result_item(
    path: str, key: str, source: ImageSource, spill: Spill, dropped: list[Dropped]
) -> Item:
    sink = Sink(dropped)
    records = spill.records(key)
    first = next(records, None)
    raw_id = first[1]["image_id"] if first else key
    item = source.item(key, raw_id)
    size = size_of(item)
    for index, rec in itertools.chain([first] if first else [], records):
        item.instances.extend(
            annotation_instances(rec, path, f"results[{index}]", index, size, source.cats, sink)
        )
    item.notes.extend(sink.notes)
    return item
