"""Pass 1 over a COCO results list: check every result and group the results by image.

Results are read a part at a time (:mod:`prelabel.converters.coco.stream`), checked against
the image source (its image known, its category known or named by its id) and grouped by
image key; groups are spilled to temporary files (:class:`Spill`: data files and a SQLite
index of where each group is), so memory holds about :data:`SPILL_RESULTS` results whatever
the file's size.

With ``workers`` above 1 (``prelabel convert --workers N``) and a file of at least
:data:`WORKER_BYTES`, the reading process only cuts the file into byte ranges
(:func:`~prelabel.converters.coco.stream.pieces`, reading a little around each cut); N
processes read, parse, check and group the pieces, each appending its groups to its own data
file, and the reading process notes where each group went, in file order. What a piece's
worker cannot take (its cut is not between two results, or a result in it is bad) is read
again here from that piece on, as one process reads it: the same results, the same error.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prelabel.collector import paused_gc
from prelabel.converters.coco.common import Category, id_key, keypoint_count
from prelabel.converters.coco.dataset import object_kinds
from prelabel.converters.coco.nesting import TooDeep
from prelabel.converters.coco.stream import (
    ListReader,
    list_start,
    parse_piece,
    pieces,
    stream_chunks,
    too_deep,
)
from prelabel.errors import (
    EnvironmentFailure,
    InvalidAnnotationError,
    PrelabelError,
    pool_result,
)

if TYPE_CHECKING:
    from prelabel.converters.coco.results import ImageSource

# about this many results are grouped in memory before they are spilled
SPILL_RESULTS = 20_000
# a file this big or bigger is grouped in worker processes when there are several (a 35 MB
# file groups as fast in two as in one: starting the pool costs what the second saves)
WORKER_BYTES = 64 << 20
# after this many pieces a worker could not take, the rest is read here
MAX_REREADS = 8


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
    """Results grouped by image key in temporary files (removed on close): each group a
    marshal blob of ``(index - base, result)`` pairs appended to a data file (one per
    process that groups), and one SQLite row per image and group saying where it is."""

    def __init__(self) -> None:
        with _spill_errors(Path(tempfile.gettempdir())):
            self._dir = tempfile.TemporaryDirectory(prefix="prelabel-coco-")
        self.folder = Path(self._dir.name)
        self.path = self.folder / "results.sqlite"
        with _spill_errors(self.path):
            # a dataset dropped half read is closed by whichever thread collects it
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE r (image TEXT, part INTEGER, base INTEGER, "
                "file INTEGER, at INTEGER, size INTEGER)"
            )
        # the results held, by image key: (index, result) pairs, added by the caller
        self.groups: dict[str, list[tuple[int, Any]]] = {}
        self._part = 0
        self._files: dict[str, int] = {}  # data file name -> number
        self._readers: dict[int, int] = {}  # data file number -> descriptor
        self._own: BlobFile | None = None
        # results per image key, in order of first appearance (of what was spilled)
        self.counts: dict[str, int] = {}

    def spill(self) -> None:
        """Write the results held (``groups``) to the files, one row per image key."""
        if self.groups:
            if self._own is None:
                self._own = BlobFile(self.folder / "reader.bin")
            self.add(0, self._own.path.name, self._own.write(self.groups))
            self.groups.clear()

    def add(self, base: int, file: str, rows: list[tuple[str, int, int, int]]) -> None:
        """Note groups written to data file ``file`` (:meth:`BlobFile.write`'s rows: image
        key, offset, size, result count), their indexes counting from ``base``."""
        number = self._files.setdefault(file, len(self._files))
        part = self._part
        with _spill_errors(self.path):
            self._db.executemany(
                "INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)",
                [(key, part, base, number, at, size) for key, at, size, _ in rows],
            )
        counts = self.counts
        for key, _, _, count in rows:
            counts[key] = counts.get(key, 0) + count
        self._part += 1

    def finish(self) -> None:
        """End of pass 1: spill the rest and index by image."""
        self.spill()
        if self._own is not None:
            self._own.close()
        with _spill_errors(self.path):
            self._db.execute("CREATE INDEX r_image ON r (image, part)")
            self._db.commit()
        names = {number: name for name, number in self._files.items()}
        with _spill_errors(self.folder):
            self._readers = {
                n: os.open(self.folder / name, os.O_RDONLY) for n, name in names.items()
            }

    def blobs(self, key: str) -> list[tuple[int, bytes]]:
        """The spilled groups of one image, in file order, each with its index base."""
        if key not in self.counts:
            return []
        query = "SELECT base, file, at, size FROM r WHERE image = ? ORDER BY part"
        with _spill_errors(self.path):
            rows = self._db.execute(query, (key,)).fetchall()
            return [(base, os.pread(self._readers[f], size, at)) for base, f, at, size in rows]

    def close(self) -> None:
        """Drop the files and their folder."""
        for fd in self._readers.values():
            os.close(fd)
        if self._own is not None:
            self._own.close()
        self._db.close()
        self._dir.cleanup()


class BlobFile:
    """A data file of a :class:`Spill`, appended to by one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with _spill_errors(path):
            self._fh = open(path, "ab")
        self._at = self._fh.tell()

    def write(self, groups: Mapping[str, list[tuple[int, Any]]]) -> list[tuple[str, int, int, int]]:
        """Append each group as one marshal blob; rows of (key, offset, size, count)."""
        # marshal: our own processes read it back; several times faster than JSON here
        blobs = [marshal.dumps(group) for group in groups.values()]
        rows, at = [], self._at
        for (key, group), blob in zip(groups.items(), blobs, strict=True):
            rows.append((key, at, len(blob), len(group)))
            at += len(blob)
        with _spill_errors(self.path):
            self._fh.write(b"".join(blobs))
            self._fh.flush()
        self._at = at
        return rows

    def close(self) -> None:
        self._fh.close()


def spilled_results(blobs: tuple[tuple[int, bytes], ...]) -> list[tuple[int, Any]]:
    """The (index, result) pairs of one image's spilled groups, in file order."""
    records: list[tuple[int, Any]] = []
    for base, blob in blobs:
        rows = marshal.loads(blob)
        records.extend([(base + i, rec) for i, rec in rows] if base else rows)
    return records


@dataclass(slots=True)
class _Pass:
    """What pass 1 learns, with the checks it already made (each raw id checked once).

    Categories a source without a category list learns from the results are collected in
    ``defaults`` (in order of first appearance) and added to it at the end."""

    path: str
    source: ImageSource
    keys: dict[Any, str] = field(default_factory=dict)  # raw image_id -> key
    cats: set[Any] = field(default_factory=set)  # raw category_ids seen
    used: set[str] = field(default_factory=set)
    defaults: dict[str, None] = field(default_factory=dict)
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
            self.defaults[cat] = None
        self.used.add(cat)
        self.cats.add(raw)

    def shape(self, rec: dict[str, Any], shape: tuple[Any, ...]) -> None:
        """Geometry kinds, once per ``shape`` of result (which keys, and of which types)."""
        if shape not in self.shapes:
            self.shapes.add(shape)
            self.kinds.update(object_kinds(rec))
        if shape[3]:
            self.most = max(self.most, keypoint_count(rec))

    def take(self, other: _Grouped) -> None:
        """Add what a worker learnt of one piece."""
        self.used |= other.used
        self.defaults.update(dict.fromkeys(other.defaults))
        self.kinds |= other.kinds
        self.most = max(self.most, other.most)

    def finish(self) -> tuple[set[str], set[str], int]:
        """Add the categories learnt to the source; (kinds, categories used, most keypoints)."""
        cats = self.source.cats
        for cat in self.defaults:
            if cat not in cats:
                cats[cat] = _default_category(cat, cats)
        return self.kinds, self.used, self.most


def group_part(
    seen: _Pass, first: int, part: list[Any], groups: dict[str, list[tuple[int, Any]]]
) -> None:
    """Check the results of one part (``first`` the index of its first) and add each to its
    image's group as an ``(index, result)`` pair.

    Raises:
        InvalidAnnotationError: a result that is not an object, or whose image or category
            the source does not have (the first such, by index).
    """
    path, keys, cats, shapes = seen.path, seen.keys, seen.cats, seen.shapes
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


def index_results(
    path: str, source: ImageSource, spill: Spill, workers: int = 1
) -> tuple[set[str], set[str], int, int]:
    """Pass 1: check every result and group it by image, in ``workers`` processes when
    there are several and the file is big (:data:`WORKER_BYTES`).

    Returns:
        (geometry kinds, category keys used, result count, most keypoints on one result).

    Raises:
        InputError: the file is not a JSON list, or nests too deeply.
        InvalidAnnotationError: the first bad result (as one process finds it).
        EnvironmentFailure: the temporary file cannot be written, or a worker died.
    """
    seen = _Pass(path, source)
    with paused_gc():  # parsed results hold no cycles: see prelabel.collector
        if workers > 1 and os.path.getsize(path) >= WORKER_BYTES:
            total = _index_in_workers(seen, spill, workers)
        else:
            total = held = 0
            for first, part in stream_chunks(path):
                group_part(seen, first, part, spill.groups)
                total += len(part)
                held += len(part)
                if held >= SPILL_RESULTS:
                    spill.spill()
                    held = 0
        spill.finish()
    kinds, used, most = seen.finish()
    return kinds, used, total, most


def _default_category(key: str, cats: Mapping[str, Category]) -> Category:
    """A category known only by id: named by the id, keypoints from a one-category schema."""
    with_kp = [c for c in cats.values() if c.keypoints]
    return Category(key, with_kp[0].keypoints if len(with_kp) == 1 else None)


# --- in a worker process ------------------------------------------------------------------


@dataclass(slots=True)
class _Grouped:
    """One piece, grouped in a worker: the data file and rows for :meth:`Spill.add`
    (indexes from the piece's first result) and what pass 1 learnt from it."""

    count: int
    file: str
    rows: list[tuple[str, int, int, int]]
    used: set[str]
    defaults: list[str]
    kinds: set[str]
    most: int


@dataclass(slots=True)
class _Worker:
    path: str
    source: ImageSource
    fd: int
    out: BlobFile


_worker: _Worker | None = None


def _start(path: str, source: ImageSource, folder: Path) -> None:
    global _worker
    out = BlobFile(folder / f"worker-{os.getpid()}.bin")
    _worker = _Worker(path, source, os.open(path, os.O_RDONLY), out)


def _group_piece(offset: int, length: int, last: bool) -> _Grouped | None:
    """A piece's groups, written to this worker's data file; None when the piece does not
    parse or holds a bad result (the reading process reads it again itself, and raises
    what one process raises)."""
    worker = _worker
    assert worker is not None, "worker not started"
    text = os.pread(worker.fd, length, offset)
    with paused_gc():  # (a piece nested past the limit does not parse: orjson's own limit)
        part = parse_piece(text, last)
        if part is None:
            return None
        seen = _Pass(worker.path, worker.source)
        groups: dict[str, list[tuple[int, Any]]] = {}
        try:
            group_part(seen, 0, part, groups)
        except PrelabelError:
            return None
        rows = worker.out.write(groups)
    name = worker.out.path.name
    return _Grouped(len(part), name, rows, seen.used, list(seen.defaults), seen.kinds, seen.most)


# --- in the reading process ---------------------------------------------------------------


def _index_in_workers(seen: _Pass, spill: Spill, workers: int) -> int:
    """Pass 1 with the reading, parsing and grouping in ``workers`` processes; this one
    cuts the file into pieces and notes where their groups went. The result count. At
    most ``2 * workers`` pieces are in flight."""
    path = seen.path
    cuts = pieces(path, list_start(path))
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start,
        initargs=(path, seen.source, spill.folder),
    )
    pending: deque[tuple[int, Future[_Grouped | None]]] = deque()
    total = rereads = 0
    try:
        while True:
            while len(pending) < 2 * workers and rereads < MAX_REREADS:
                got = next(cuts, None)
                if got is None:
                    break
                pending.append((got[0], pool.submit(_group_piece, *got)))
            if not pending:
                break
            offset, future = pending.popleft()
            grouped = pool_result(future)
            if grouped is not None:
                spill.add(total, grouped.file, grouped.rows)
                seen.take(grouped)
                total += grouped.count
                continue
            # read here from this piece on: the pieces after it may start mid-result
            for _, later in pending:
                later.cancel()
            pending.clear()
            cuts.close()
            rereads += 1
            count, after = _read_here(seen, spill, offset, total, whole=rereads >= MAX_REREADS)
            total += count
            if after is None:
                break
            cuts = pieces(path, after)
    finally:
        cuts.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return total


def _read_here(
    seen: _Pass, spill: Spill, offset: int, index: int, *, whole: bool
) -> tuple[int, int | None]:
    """One part (or, with ``whole``, the rest of the list) from ``offset`` (the start of
    result ``index``) read, checked and grouped in this process: (result count, the
    offset after it, None when the list is over)."""
    count = held = 0
    path = seen.path
    with open(path, "rb") as raw:
        raw.seek(offset)
        reader = ListReader(path, raw, head=False, index=index, offset=offset)
        try:
            while (part := reader.part()) is not None:
                group_part(seen, reader.index - len(part), part, spill.groups)
                count += len(part)
                held += len(part)
                if not whole:
                    break
                if held >= SPILL_RESULTS:
                    spill.spill()
                    held = 0
        except TooDeep as exc:
            raise too_deep(path, exc) from None
    spill.spill()
    return count, None if reader.finished else reader.offset
