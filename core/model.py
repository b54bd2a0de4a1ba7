"""The one intermediate model between readers and writers.

Readers (``prelabel.converters.*``) turn an input format into a :class:`Dataset`; writers
(``prelabel.writers.*``) turn each :class:`Item` into a Scale task body. Nothing else passes
between them, so a new input format touches one reader and never a writer.

Coordinates and the pixel-edge convention
-----------------------------------------
All coordinates are pixels as floats, origin at the top-left corner of the image, x to the
right, y down. Pixel ``(row i, column j)`` is the unit square ``[j, j+1) x [i, i+1)``: integer
coordinates lie on pixel *edges*, and the centre of the top-left pixel is ``(0.5, 0.5)``.
A box covering columns 0..9 therefore has ``left=0, width=10``; COCO ``bbox`` and Scale's
``left/top/width/height`` use the same convention, so no +-1 or half-pixel shift is applied
anywhere. Polygons traced from masks run along pixel edges; a polygon is rasterised by
pixel centres (a pixel is inside when its centre is).

Masks stay compact: a :class:`Mask` holds a COCO RLE (compressed counts) of the full frame,
a few hundred bytes per instance. A whole-image label raster (:class:`IndexRaster`) is loaded
lazily, one item at a time, and only for readers whose input already is a raster.
"""

from __future__ import annotations

import functools
import hashlib
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal, Protocol, TypeAlias, overload

import numpy as np
import numpy.typing as npt

XY: TypeAlias = tuple[float, float]
Ring: TypeAlias = tuple[XY, ...]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where an object came from, so every report line can point at the input.

    ``location`` is human text: ``"line 12"``, ``"annotations[41]"``, ``"results[5]"``,
    ``"pixel value 3"``, ``"frame 7, line 220"``.
    """

    file: str
    location: str

    def __str__(self) -> str:
        return f"{self.file}, {self.location}"


# one namespace for every uuid prelabel derives, so reruns give the same uuids
UUID_NAMESPACE = uuidlib.UUID("6f1f8a52-3c2e-4b1e-9d2a-7a6b9c0e5d11")


@functools.lru_cache(maxsize=4096)
def file_key(path: str) -> str:
    """What a source file contributes to a uuid: its name, not the path it was given by, so
    the same input converted from another folder or checkout gets the same uuids."""
    return PurePath(path).name


def _uuid_part(part: object) -> str:
    if isinstance(part, SourceRef):
        return f"{file_key(part.file)}, {part.location}"
    return str(part)


_NAMESPACE_BYTES = UUID_NAMESPACE.bytes


def stable_uuid(*parts: object) -> str:
    """A uuid5 derived from ``parts``: the same inputs give the same uuid on every run.

    A :class:`SourceRef` part contributes its file *name* and location, so uuids do not
    depend on where the input was read from. (``uuid.uuid5``'s exact algorithm, without
    its UUID object: one per object is a measurable share of a big conversion.)
    """
    name = "\x1f".join(_uuid_part(p) for p in parts)
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def stable_uuids(prefix: str, rests: Iterable[str]) -> list[str]:
    """The uuids :func:`stable_uuid` gives parts whose joined text is ``prefix + rest``, for
    each rest (the many objects of one task, whose texts share the task and file): the
    prefix hashed once, the version and variant bits set and the hex made for all at once."""
    head = hashlib.sha1(_NAMESPACE_BYTES + prefix.encode("utf-8"))
    digests = []
    for rest in rests:
        h = head.copy()
        h.update(rest.encode("utf-8"))
        digests.append(h.digest())
    if not digests:
        return []
    raw = np.frombuffer(b"".join(digests), np.uint8).reshape(-1, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), np.uint8).reshape(-1, 32)
    # the 8-4-4-4-12 text of every uuid laid out in one array, a newline after each, and
    # split once: half the time of slicing each uuid's text from the hex in Python
    out = np.full((len(digests), 37), ord("-"), np.uint8)
    for start, end, at in _UUID_GROUPS:
        out[:, at : at + end - start] = hexed[:, start:end]
    out[:, 36] = ord("\n")
    return out.tobytes().decode("ascii").split("\n")[:-1]


# each dash-separated group of a uuid's text: its hex digits, and where it starts in the text
_UUID_GROUPS = ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24))


# --- geometries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box, or rotated by ``rotation`` radians clockwise about its centre.

    ``left/top/width/height`` describe the unrotated box (Scale's convention).
    """

    left: float
    top: float
    width: float
    height: float
    rotation: float = 0.0

    kind: Literal["box"] = field(default="box", init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.width >= 0 and self.height >= 0):
            raise ValueError(f"box width and height must be >= 0, got {self.width} x {self.height}")

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True, slots=True)
class PolygonPart:
    """One connected part: an exterior ring and its holes (rings are open, no repeat)."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()


@dataclass(frozen=True, slots=True)
class Polygon:
    """A polygon with one or several parts, each possibly with holes."""

    parts: tuple[PolygonPart, ...]

    kind: Literal["polygon"] = field(default="polygon", init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("polygon has no parts")

    @classmethod
    def from_ring(cls, ring: Iterable[XY]) -> Polygon:
        return cls((PolygonPart(tuple(ring)),))


@dataclass(frozen=True, slots=True)
class Line:
    """A polyline through ``vertices`` in order."""

    vertices: Ring

    kind: Literal["line"] = field(default="line", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class Point:
    """A point; for keypoints ``name`` is the keypoint name and ``visibility`` COCO's flag
    (0 not labelled, 1 labelled but not visible, 2 visible) or None when unknown."""

    x: float
    y: float
    name: str | None = None
    visibility: int | None = None
    confidence: float | None = None

    kind: Literal["point"] = field(default="point", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class Ellipse:
    """Ellipse with centre, semi-axes and rotation (radians clockwise)."""

    cx: float
    cy: float
    rx: float
    ry: float
    rotation: float = 0.0

    kind: Literal["ellipse"] = field(default="ellipse", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class Cuboid:
    """A cuboid passed through as Scale's own fields (``vertices``, ``edges``, ...)."""

    fields: Mapping[str, Any]

    kind: Literal["cuboid"] = field(default="cuboid", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class Mask:
    """A binary mask as a full-frame COCO RLE with compressed (string) counts.

    ``counts`` is the compressed counts as bytes, exactly what ``pycocotools.mask.encode``
    returns; ``height``/``width`` are the frame size. Use ``prelabel.geometry.primitives`` to decode,
    trace or measure it.
    """

    counts: bytes
    height: int
    width: int

    kind: Literal["mask"] = field(default="mask", init=False, repr=False)

    def rle(self) -> dict[str, Any]:
        """The pycocotools RLE dict."""
        return {"size": [self.height, self.width], "counts": self.counts}


Geometry: TypeAlias = Box | Polygon | Line | Point | Ellipse | Cuboid | Mask
GeometryKind: TypeAlias = Literal["box", "polygon", "line", "point", "ellipse", "cuboid", "mask"]


# --- instances, frames, items -----------------------------------------------------------


@dataclass(slots=True)
class Instance:
    """One object on an image or a video frame."""

    label: str
    geometry: Geometry
    source: SourceRef
    score: float | None = None
    track_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # distinct instance identity inside one item (e.g. COCO annotation id, mask instance
    # value); segment writers give each distinct instance its own index
    instance_id: str | None = None
    # what the reader repaired ("swapped: x1/x2 reversed"): each is a fix on the object's
    # report record, ahead of any fit fix (the object is then "fixed", never "converted")
    repairs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Segment:
    """What one value of an :class:`IndexRaster` means."""

    label: str
    source: SourceRef
    instance: bool = False
    track_id: str | None = None
    score: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IndexRaster:
    """A whole-image raster of segment values (0 = unlabeled) and what each value means.

    ``values`` is an (H, W) integer array; ``segments`` maps each non-zero value that occurs
    to its :class:`Segment`. Values with no entry are an input error the reader reports.
    """

    values: npt.NDArray[np.integer[Any]]
    segments: dict[int, Segment]

    @property
    def height(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return int(self.values.shape[1])


RasterSource: TypeAlias = Callable[[], IndexRaster]


@dataclass(slots=True)
class Frame:
    """One frame of a video item.

    ``index`` is the 0-based position in the item's frame list; ``number`` the frame number
    as the source wrote it (MOT 1-based, KITTI 0-based, ...); ``timestamp`` in seconds from
    the start of the video when known.
    """

    index: int
    number: int
    instances: list[Instance] = field(default_factory=list)
    timestamp: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    raster: RasterSource | None = None


class FrameRange(Sequence[Frame]):
    """``length`` bare frames (index ``i``, number ``first + i``, timestamp ``i / fps`` when
    ``fps`` is known, no instances or fields), made only when an element is first asked for.

    A tracking file can span 300,000 frames whose :class:`Frame` objects the columnar
    writers never need: they read :attr:`numbers` / :attr:`timestamps` instead. Once made,
    the frames are kept (instances added to them stay).
    """

    __slots__ = ("_frames", "first", "fps", "length")

    def __init__(self, length: int, first: int, fps: float | None) -> None:
        self.length, self.first, self.fps = length, first, fps
        self._frames: list[Frame] | None = None

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, i: int) -> Frame: ...
    @overload
    def __getitem__(self, i: slice) -> list[Frame]: ...
    def __getitem__(self, i: int | slice) -> Frame | list[Frame]:
        return self.frames()[i]

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames())

    def frames(self) -> list[Frame]:
        """The frames as objects (made on the first call)."""
        if self._frames is None:
            fps = self.fps
            first = self.first
            self._frames = [
                Frame(i, i + first, [], i / fps if fps else None, {}) for i in range(self.length)
            ]
        return self._frames

    @property
    def numbers(self) -> npt.NDArray[np.int64]:
        """Every frame's number, without making frames."""
        return np.arange(self.first, self.first + self.length, dtype=np.int64)

    @property
    def timestamps(self) -> npt.NDArray[np.float64] | None:
        """Every frame's timestamp (None without fps), without making frames."""
        if not self.fps:
            return None
        out: npt.NDArray[np.float64] = np.arange(self.length, dtype=np.int64) / self.fps
        return out


@dataclass(slots=True)
class TrackTable:
    """The rows of one video item as columns (one entry per row, in source order): what the
    video writers read.

    Tracking files (MOT, KITTI) are read straight into columns: millions of rows stay a
    handful of numpy arrays. ``frame`` indexes ``Item.frames``; ``track`` is the tracker's id
    (-1 = untracked: a one-frame object), or with ``track_names`` a code into them; boxes
    are ``left/top/width/height`` in the pixel-edge convention; ``score`` is NaN where there
    is none; ``label`` holds codes into ``labels``; ``attributes`` maps an attribute name to a
    float column, written as int where ``int_attributes`` names it (or where
    ``auto_int_attributes`` names it and the value is whole); ``line`` is the 1-based source
    line in ``file``.

    Rows made from per-frame :class:`Instance` objects (COCO-video, traced mask frames) keep
    each instance in ``objects``: its geometry, source, attributes and repairs are read from
    it (the box columns hold an unrotated box geometry, NaN otherwise; ``line`` is unused).

    What the reader repaired on a row (``--bad-rows fix``) is ``repairs[repair[row]]``:
    ``repair`` codes into ``repairs``, whose entry 0 is no repair (``repair`` None: none).
    """

    file: str
    frame: npt.NDArray[np.int64]
    track: npt.NDArray[np.int64]
    left: npt.NDArray[np.float64]
    top: npt.NDArray[np.float64]
    width: npt.NDArray[np.float64]
    height: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    label: npt.NDArray[np.int32]
    labels: list[str]
    line: npt.NDArray[np.int64]
    attributes: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    int_attributes: frozenset[str] = frozenset()
    auto_int_attributes: frozenset[str] = frozenset()
    track_names: list[str] | None = None
    objects: npt.NDArray[np.object_] | None = None
    repair: npt.NDArray[np.int32] | None = None
    repairs: list[tuple[str, ...]] = field(default_factory=lambda: [()])

    def __len__(self) -> int:
        return len(self.frame)

    def take(self, rows: npt.NDArray[Any]) -> TrackTable:
        """The table restricted to ``rows`` (a boolean mask or row indices), labels shared."""
        return TrackTable(
            self.file,
            self.frame[rows],
            self.track[rows],
            self.left[rows],
            self.top[rows],
            self.width[rows],
            self.height[rows],
            self.score[rows],
            self.label[rows],
            self.labels,
            self.line[rows],
            {k: v[rows] for k, v in self.attributes.items()},
            self.int_attributes,
            self.auto_int_attributes,
            self.track_names,
            None if self.objects is None else self.objects[rows],
            None if self.repair is None else self.repair[rows],
            self.repairs,
        )

    def source(self, row: int) -> SourceRef:
        """Where row ``row`` came from."""
        if self.objects is not None:
            source: SourceRef = self.objects[row].source
            return source
        return SourceRef(self.file, f"line {int(self.line[row])}")

    def track_id(self, code: int) -> str:
        """The tracker's id of a track code, as the input wrote it."""
        return str(code) if self.track_names is None else self.track_names[code]

    def row_attributes(self, row: int) -> dict[str, Any]:
        """The attributes of row ``row`` (whole numbers as ints where the table says so)."""
        if self.objects is not None:
            out: dict[str, Any] = self.objects[row].attributes
            return out
        return {k: self._value(k, float(v[row])) for k, v in self.attributes.items()}

    def row_repairs(self, row: int) -> list[str]:
        """What the reader repaired on row ``row`` (fixes for its record; [] for none)."""
        if self.objects is not None:
            repairs: list[str] = self.objects[row].repairs
            return list(repairs)
        return [] if self.repair is None else list(self.repairs[int(self.repair[row])])

    def row_score(self, row: int) -> float | None:
        """The score of row ``row`` (None where there is none)."""
        if self.objects is not None:
            score: float | None = self.objects[row].score
            return score
        value = float(self.score[row])
        return None if value != value else value

    def _value(self, name: str, value: float) -> float | int:
        if name in self.int_attributes or (name in self.auto_int_attributes and value.is_integer()):
            return int(value)
        return value


@dataclass(slots=True)
class ObjectColumns:
    """An image's plain objects as columns, one entry per object in source order: each a
    box (``boxes[row]`` = left, top, width, height) or a mask (``masks[row]`` = compressed
    COCO RLE counts of a ``height`` x ``width`` frame, ``boxes[row]`` None) with a label,
    maybe a score, an instance id and its index in the array ``array`` of ``file`` (its
    location ``array[index]``: ``results[7]``), and nothing else (no
    attributes, repairs or track). A results file of millions of detections is read this
    way: the image writer fits boxes from the columns with no object per row, and every
    other consumer gets the same objects as instances (:meth:`instances`). ``mask_boxes``,
    when the reader measured them with its check of the masks, holds each mask row's pixel
    box (None for a box row or a mask without pixels); without them a mask row goes down
    the object path, which measures its mask itself.
    """

    file: str
    array: str
    indexes: list[int]
    ids: list[str]
    labels: list[str]
    scores: list[float | None]
    boxes: list[tuple[float, float, float, float] | None]
    masks: list[bytes | None]
    height: int = 0
    width: int = 0
    mask_boxes: list[tuple[float, float, float, float] | None] | None = None

    def __len__(self) -> int:
        return len(self.indexes)

    def take(self, rows: Sequence[int]) -> ObjectColumns:
        """The columns of ``rows`` (row numbers, in the order given)."""
        return ObjectColumns(
            self.file,
            self.array,
            [self.indexes[r] for r in rows],
            [self.ids[r] for r in rows],
            [self.labels[r] for r in rows],
            [self.scores[r] for r in rows],
            [self.boxes[r] for r in rows],
            [self.masks[r] for r in rows],
            self.height,
            self.width,
            None if self.mask_boxes is None else [self.mask_boxes[r] for r in rows],
        )

    def kind(self, row: int) -> GeometryKind:
        return "box" if self.boxes[row] is not None else "mask"

    def location(self, row: int) -> str:
        return f"{self.array}[{self.indexes[row]}]"

    def source(self, row: int) -> SourceRef:
        return SourceRef(self.file, self.location(row))

    def instance(self, row: int) -> Instance:
        """Row ``row`` as the :class:`Instance` a reader of objects makes of it."""
        box = self.boxes[row]
        counts = self.masks[row]
        geometry: Geometry = (
            Box(*box) if box is not None else Mask(counts or b"", self.height, self.width)
        )
        return Instance(
            self.labels[row],
            geometry,
            self.source(row),
            score=self.scores[row],
            instance_id=self.ids[row],
        )

    def instances(self) -> list[Instance]:
        return [self.instance(row) for row in range(len(self))]


@dataclass(slots=True)
class Item:
    """One image, or one video as an ordered list of frames.

    ``key`` is a stable identifier (image id, file stem, sequence name) used for the default
    unique_id; ``fields`` are what URL templates may use (``file_name``, ``id``, ``stem``,
    ``coco_url``, ``sequence``, ...). An image item has ``instances`` (and maybe a
    ``raster``); a video item has ``frames`` (``frames is not None``). A tracking item
    (MOT, KITTI) keeps its rows in ``tracks`` (a :class:`TrackTable`) and its frames
    carry no instances; other readers put instances (or a raster) on the frames, which
    the video writers read as a table too (``prelabel.tracks.rows``).
    """

    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    instances: list[Instance] = field(default_factory=list)
    # a list, or a FrameRange (frames made on demand) for tracking files
    frames: Sequence[Frame] | None = None
    fps: float | None = None
    raster: RasterSource | None = None
    # per-item facts for the report (e.g. "columns read as MOT15 ground truth")
    notes: list[str] = field(default_factory=list)
    # tracking rows as columns (MOT, KITTI): frames then carry no instances of their own
    tracks: TrackTable | None = None
    # an image's plain objects as columns (a COCO results list gives them): after the
    # instances; :meth:`materialize` makes them instances
    columns: ObjectColumns | None = None
    # objects of this item its maker could not use (recorded as dropped in the item's task;
    # readers of whole files record theirs in Dataset.dropped instead)
    dropped: list[Dropped] = field(default_factory=list)

    @property
    def is_video(self) -> bool:
        return self.frames is not None

    @property
    def sequence(self) -> str:
        """The video's name (``fields["sequence"]``, else the key): part of its uuids."""
        return str(self.fields.get("sequence", self.key))

    def iter_instances(self) -> Iterator[Instance]:
        """Every instance of the item (its columns too), frame by frame for a video."""
        if self.frames is None:
            yield from self.instances
            if self.columns is not None:
                yield from self.columns.instances()
        else:
            for frame in self.frames:
                yield from frame.instances

    def materialize(self) -> Item:
        """Turn the item's columns into instances (after its own); returns the item."""
        if self.columns is not None:
            self.instances.extend(self.columns.instances())
            self.columns = None
        return self


@dataclass(slots=True)
class Dropped:
    """An input object a reader could not turn into an instance, with the reason.

    Readers yield these next to items so nothing is lost without a trace: the report
    counts them as input objects that were dropped.
    """

    source: SourceRef
    reason: str
    label: str | None = None


class ItemRecipe(Protocol):
    """A picklable maker of one item: ``recipe()`` builds it, in whichever process converts
    it (``prelabel convert --workers N``). ``key`` is the item's key; ``weight`` about how
    many objects it holds (how work is split)."""

    @property
    def key(self) -> str: ...

    @property
    def weight(self) -> int: ...

    def __call__(self) -> Item: ...


@dataclass(slots=True)
class Dataset:
    """What a reader returns: an iterable of items (often a generator: consume once).

    ``labels`` are the label names the reader knows of (for ``--emit-taxonomy``);
    ``dropped`` is filled by the reader while ``items`` is consumed; ``notes`` are
    reader-level facts for the report ("COCO results list, sizes from dataset file X").
    """

    format: str
    items: Iterable[Item]
    labels: list[str] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # geometry kinds the reader produces, when known (taxonomy emission)
    kinds: set[str] = field(default_factory=set)
    # the same items as recipes (a reader that groups a big file gives them): each builds
    # its item where it is called, so workers get small bytes, not objects; consume either
    # ``items`` or ``recipes``, once
    recipes: Iterable[ItemRecipe] | None = None
