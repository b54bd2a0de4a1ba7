"""COCO results lists, streamed: a 1 GB file is never held in memory.

Pass 1 parses the list with orjson on bounded chunks (about a megabyte of text at a time,
cut between two results: :func:`stream_chunks`), checks every result against the image
source and groups the results by image, spilling each group of a chunk to a temporary SQLite
file as one row. Pass 2 gives one item per image in the image source's order: its recipe
(:class:`ResultsRecipe`: the image's entry and its results as bytes, what a worker process
gets, ``prelabel convert --workers N``) or the item it builds. Masks stay compressed.
Objects an image's results cannot give (no geometry) are recorded in its task.
"""

from __future__ import annotations

import codecs
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
import orjson
from PIL import Image

from prelabel.converters.coco.columns import plain_columns
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
# about this much JSON text is parsed at once ...
CHUNK_BYTES = 1 << 20
# ... and about this many results are grouped in memory before they are spilled
SPILL_RESULTS = 20_000
_WS = b" \t\r\n"


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
    """Results grouped by image key in a temporary SQLite file (removed on close): one row
    per image and spill, the image's results of that spill as one marshal blob."""

    def __init__(self) -> None:
        with _spill_errors(Path(tempfile.gettempdir())):
            self._dir = tempfile.TemporaryDirectory(prefix="prelabel-coco-")
        self.path = Path(self._dir.name) / "results.sqlite"
        with _spill_errors(self.path):
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("CREATE TABLE r (image TEXT, part INTEGER, data BLOB)")
        # the results held, by image key: (index, result) pairs, added by the caller
        self.groups: dict[str, list[tuple[int, Any]]] = {}
        self._part = 0
        # results per image key, in order of first appearance (of what was spilled)
        self.counts: dict[str, int] = {}

    def spill(self) -> None:
        """Write the results held (``groups``) to the file, one row per image key."""
        # marshal: our own processes read it back; several times faster than JSON here
        rows = [(key, self._part, marshal.dumps(group)) for key, group in self.groups.items()]
        with _spill_errors(self.path):
            self._db.executemany("INSERT INTO r VALUES (?, ?, ?)", rows)
        counts = self.counts
        for key, group in self.groups.items():
            counts[key] = counts.get(key, 0) + len(group)
        self.groups.clear()
        self._part += 1

    def finish(self) -> None:
        """End of pass 1: spill the rest and index by image."""
        self.spill()
        with _spill_errors(self.path):
            self._db.execute("CREATE INDEX r_image ON r (image, part)")
            self._db.commit()

    def blobs(self, key: str) -> list[bytes]:
        """The spilled groups of one image, in file order."""
        if key not in self.counts:
            return []
        with _spill_errors(self.path):
            rows = self._db.execute("SELECT data FROM r WHERE image = ? ORDER BY part", (key,))
            return [bytes(data) for (data,) in rows]

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


def stream_chunks(path: str) -> Iterator[tuple[int, list[Any]]]:
    """(index of the first, objects) of a top-level JSON list, about :data:`CHUNK_BYTES` of
    text at a time, each chunk parsed by orjson.

    A chunk ends after a ``}`` that a ``,`` and a ``{`` follow and whose prefix parses as a
    list: only a ``}`` that closes a list element does (one inside a string or a nested
    object leaves the prefix unparsable), so elements are never split, whatever they hold.

    The bytes pass through a :class:`NestingGuard` as they are read, so a file nested
    deeper than :data:`MAX_DEPTH` stops there; a UTF-8 BOM is read as no BOM.

    Raises:
        InputError: the file is not a JSON list (located by line and column when small),
            or it nests too deeply.
    """
    with open(path, "rb") as raw:
        fh = NestingGuard(raw)
        index = 0
        try:
            for index, part in _chunks(path, fh):
                yield index, part
                index += len(part)
        except TooDeep as exc:
            raise InputError(
                f"JSON nested deeper than {MAX_DEPTH} levels (a result nests a few)",
                path=path,
                location=f"results[{index}], byte {exc.offset}",
            ) from None


def _chunks(path: str, fh: NestingGuard) -> Iterator[tuple[int, list[Any]]]:
    index = 0
    text = fh.read(CHUNK_BYTES)
    if text.startswith(codecs.BOM_UTF8):
        text = text[len(codecs.BOM_UTF8) :]
    text = text.lstrip(_WS)
    if not text.startswith(b"["):
        raise _json_error(path, -1, ValueError("expected a JSON list"))
    text, done, want = text[1:], False, CHUNK_BYTES
    while not done:
        while len(text) < want and not done:
            more = fh.read(CHUNK_BYTES)
            text, done = text + more, not more
        part, text = _parse_prefix(text) if not done else (_parse_rest(path, index, text), b"")
        if part is None:  # no element boundary parsed: take more text
            want *= 2
            continue
        want = CHUNK_BYTES
        if part:
            yield index, part
            index += len(part)


def _parse_prefix(text: bytes) -> tuple[list[Any] | None, bytes]:
    """The longest run of whole elements at the start of ``text`` and the rest after its
    separating comma, or (None, text) when no boundary is found."""
    end = len(text)
    while (close := text.rfind(b"}", 0, end)) >= 0:
        end = close
        comma = _skip(text, close + 1)
        if comma >= len(text) or text[comma] != ord(","):
            continue
        start = _skip(text, comma + 1)
        if start >= len(text) or text[start] != ord("{"):
            continue
        try:
            part = orjson.loads(b"[" + text[: close + 1] + b"]")
        except orjson.JSONDecodeError:
            continue
        return part, text[comma + 1 :]
    return None, text


def _skip(text: bytes, at: int) -> int:
    while at < len(text) and text[at] in _WS:
        at += 1
    return at


def _parse_rest(path: str, index: int, text: bytes) -> list[Any]:
    """The last elements: ``text`` is what follows the last cut, up to the closing ``]``."""
    try:
        part = orjson.loads(b"[" + text)
    except orjson.JSONDecodeError as exc:
        raise _json_error(path, index - 1, exc) from None
    if not isinstance(part, list):
        raise _json_error(path, index - 1, ValueError("expected a JSON list"))
    return part


def _json_error(path: str, index: int, exc: Exception) -> InputError:
    """The error of a file that is not a JSON list: by line and column when it is small
    enough to parse whole again, else after the last result that parsed (found by a
    streaming parse, only now that there is an error)."""
    if Path(path).stat().st_size <= _LOCATE_LIMIT:
        load_json(path)  # raises with line and column
    index = max(index, _last_whole(path))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"after results[{index}]" if index >= 0 else "results[0]"
    return InputError(f"invalid JSON: {first}", path=path, location=where)


def _last_whole(path: str) -> int:
    parsed = 0
    with open(path, "rb") as fh:
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            fh.seek(0)
        try:
            for _ in ijson.items(NestingGuard(fh), "item", use_float=True):
                parsed += 1
        except (ijson.JSONError, TooDeep):
            pass
    return parsed - 1


def read_results(path: str, opts: CocoRun, dropped: list[Dropped]) -> Dataset:
    """A COCO results list -> image items (one image's results at a time).

    The dataset's ``recipes`` are the same items as recipes (what worker processes get);
    consume either ``items`` or ``recipes``.
    """
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
    recipes = _recipes(path, source, spill, opts)
    return Dataset(
        format="coco",
        items=(recipe().materialize() for recipe in recipes),
        labels=used_labels(source.cats, used, most),
        notes=notes,
        kinds=kinds,
        recipes=recipes,
    )


@dataclass(slots=True)
class _Pass:
    """What pass 1 learns, with the checks it already made (each raw id checked once)."""

    path: str
    source: ImageSource
    keys: dict[Any, str] = field(default_factory=dict)  # raw image_id -> key
    cats: set[Any] = field(default_factory=set)  # raw category_ids seen
    used: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    shapes: set[tuple[Any, ...]] = field(default_factory=set)
    most: int = 0

    def image_key(self, raw: Any, where: str) -> str:
        key = id_key(raw, path=self.path, location=where, what="image_id")
        if not self.source.knows(key):
            raise InvalidAnnotationError(
                f"image_id {raw} has no image in {self.source.description}",
                path=self.path,
                location=where,
            )
        if not isinstance(raw, bool):
            self.keys[raw] = key
        return key

    def category(self, raw: Any, where: str) -> None:
        cat = id_key(raw, path=self.path, location=where, what="category_id")
        source = self.source
        if cat not in source.cats:
            if source.kind == "dataset":
                raise InvalidAnnotationError(
                    f"category_id {raw} is not in {source.path}", path=self.path, location=where
                )
            source.cats[cat] = _default_category(cat, source.cats)
        self.used.add(cat)
        self.cats.add(raw)

    def shape(self, rec: dict[str, Any], shape: tuple[Any, ...]) -> None:
        """Geometry kinds, once per ``shape`` of result (which keys, and of which types)."""
        if shape not in self.shapes:
            self.shapes.add(shape)
            self.kinds.update(object_kinds(rec))
        if shape[3]:
            self.most = max(self.most, keypoint_count(rec))


def index_results(
    path: str, source: ImageSource, spill: Spill
) -> tuple[set[str], set[str], int, int]:
    """Pass 1: check every result and group it by image.

    Returns:
        (geometry kinds, category keys used, result count, most keypoints on one result).
    """
    seen = _Pass(path, source)
    keys, cats, shapes, groups = seen.keys, seen.cats, seen.shapes, spill.groups
    total = held = 0
    for first, part in stream_chunks(path):
        for i, rec in enumerate(part, first):
            if type(rec) is not dict:
                raise InvalidAnnotationError(
                    "a result must be an object", path=path, location=f"results[{i}]"
                )
            raw = rec.get("image_id")
            key = keys.get(raw) if type(raw) is int or type(raw) is str else None
            if key is None:
                key = seen.image_key(raw, f"results[{i}]")
            raw_cat = rec.get("category_id")
            if (type(raw_cat) is not int and type(raw_cat) is not str) or raw_cat not in cats:
                seen.category(raw_cat, f"results[{i}]")
            seg = rec.get("segmentation")
            shape = (type(seg), bool(seg), rec.get("bbox") is not None, "keypoints" in rec)
            if shape[3] or shape not in shapes:
                seen.shape(rec, shape)
            group = groups.get(key)
            if group is None:
                group = groups[key] = []
            group.append((i, rec))
        total += len(part)
        held += len(part)
        if held >= SPILL_RESULTS:
            spill.spill()
            held = 0
    spill.finish()
    return seen.kinds, seen.used, total, seen.most


def _default_category(key: str, cats: Mapping[str, Category]) -> Category:
    """A category known only by id: named by the id, keypoints from a one-category schema."""
    with_kp = [c for c in cats.values() if c.keypoints]
    return Category(key, with_kp[0].keypoints if len(with_kp) == 1 else None)


@dataclass(frozen=True, slots=True)
class ResultsRecipe:
    """One image's item, to be built where it is converted: its image (entry, file or
    size), its results as the spilled bytes, the categories (shared by every recipe)."""

    path: str  # the results file (records name it)
    image: ImageRef
    cats: dict[str, Category]
    blobs: tuple[bytes, ...]
    weight: int

    @property
    def key(self) -> str:
        return self.image.key

    def __call__(self) -> Item:
        """The item: the image and one or more objects per result, in file order, as
        columns when every result is plain (:mod:`prelabel.converters.coco.columns`),
        else as instances; what its results cannot give is in ``item.dropped`` (recorded
        in its task)."""
        records = [r for blob in self.blobs for r in marshal.loads(blob)]
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
