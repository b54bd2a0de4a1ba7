"""MOTChallenge txt (ground truth, tracker results, public detections) -> video items.

One row per box: ``frame, id, x, y, w, h[, conf[, ...]]``, comma separated (whitespace is
sniffed too), CRLF or LF, final newline optional. Frames are 1-based. What the columns after
``h`` mean is decided by their count (said in ``Item.notes``):

====  ============================================  ==========================
cols  read as                                       source
====  ============================================  ==========================
6     frame, id, box                                minimal
7     + conf                                        minimal with score
8     + conf, class                                 MOT16/17 ground truth, no visibility
9     + conf, class, visibility                     MOT16/17 ground truth
10    + conf, x, y, z (world, ignored)              MOT15 gt / results / det
====  ============================================  ==========================

``conf`` is a score for tracker results and detections (``-1`` = no score); in a ground-truth
file (``gt*.txt`` or a file in a ``gt/`` folder) it is the "consider" flag: rows with 0 are
dropped with a reason, and no score is set. ``class`` is 1-based: class ``c`` is line ``c`` of
a labels file (``--labels``, or ``labels.txt`` beside the input as Datumaro writes it), else
the MOT16 class names.

``seqinfo.ini`` (``--seqinfo``, or found beside the file or one folder up) gives ``name``,
``frameRate``, ``seqLength``, ``imWidth``, ``imHeight``; ``--fps`` / ``--image-size`` override.

Output: one video item per file whose ``frames`` list every frame (timing, URL templates)
and whose rows are a columnar :class:`~prelabel.model.TrackTable` in ``Item.tracks`` (no
per-row objects; ``prelabel.tracks.expand`` makes per-frame instances when needed). A
regular comma-separated ASCII file is parsed from its bytes by polars' CSV reader; anything
irregular (blank lines, quotes, a field that is not a number, whitespace columns) takes the
checked per-line text path, which names the bad line.
"""

from __future__ import annotations

import configparser
import ctypes
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Dataset, Dropped, FrameRange, Item, SourceRef, TrackTable

BadRows = Literal["error", "drop", "fix"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# MOT16/17 ground-truth classes (MOT16 paper, table 3), used when no labels file is given
MOT16_CLASSES = (
    "pedestrian",
    "person_on_vehicle",
    "car",
    "bicycle",
    "motorbike",
    "non_motorized_vehicle",
    "static_person",
    "distractor",
    "occluder",
    "occluder_on_ground",
    "occluder_full",
    "reflection",
)
DEFAULT_LABEL = "person"
# file stems that name the kind of file rather than the sequence
GENERIC_STEMS = {"gt", "det", "test", "results", "res", "pred", "tracks", "output", "gt_val"}


@dataclass(frozen=True, slots=True)
class Layout:
    """What the columns of a MOT file mean."""

    name: str
    conf: int | None = None
    cls: int | None = None
    visibility: int | None = None


LAYOUTS: dict[int, Layout] = {
    6: Layout("frame, id, x, y, w, h"),
    7: Layout("frame, id, x, y, w, h, conf", conf=6),
    8: Layout("MOT16/17 ground truth without visibility (frame, id, box, conf, class)", 6, 7),
    9: Layout("MOT16/17 (frame, id, box, conf, class, visibility)", 6, 7, 8),
    10: Layout("MOT15 (frame, id, box, conf, world x, y, z; world coordinates ignored)", 6),
}


@dataclass(slots=True)
class SeqInfo:
    """What a seqinfo.ini (and the options overriding it) say about a sequence."""

    name: str | None = None
    fps: float | None = None
    length: int | None = None
    width: int | None = None
    height: int | None = None
    path: str | None = None


@dataclass(slots=True)
class Track:
    """Parsed rows of one tracking file as column arrays (one entry per row)."""

    path: str
    lines: IntArray
    frame: IntArray
    track: IntArray
    boxes: FloatArray
    score: list[float | None] | FloatArray
    labels: list[str]
    # per-row dicts (KITTI) or one column per attribute (MOT)
    attributes: list[dict[str, Any]] | dict[str, FloatArray] = field(default_factory=list)


# --- parsing ------------------------------------------------------------------------------


def read_text(path: str) -> str:
    """The file's text (UTF-8, BOM and CR removed).

    Raises:
        InputError: the file cannot be read or decoded.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        return data.decode("utf-8-sig").replace("\r", "")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=path) from None


def sniff_delimiter(text: str) -> str | None:
    """``","`` when the first non-blank line has a comma, else None (whitespace)."""
    for line in text.split("\n", 20)[:20]:
        if line.strip():
            return "," if "," in line else None
    return ","


def fast_parse(text: str, delimiter: str | None, ncols: int) -> FloatArray | None:
    """All rows as an ``(n, ncols)`` float array, or None when any line is irregular.

    Uses numpy's C text parser on the whole file; the slow per-line parser runs only when
    this fails, to name the bad line.
    """
    body = text.rstrip("\n")
    if not body or "\n\n" in body or body.startswith("\n"):
        return None
    nrows = body.count("\n") + 1
    if delimiter == ",":
        if body.count(",") != nrows * (ncols - 1):
            return None
        fast = polars_parse(body, ncols, nrows)
        if fast is not None:
            return fast
        flat = body.replace("\n", ",")
    else:
        flat = body
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(flat, sep="," if delimiter else " ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != nrows * ncols:
        return None
    return values.reshape(nrows, ncols)


def quick_table(
    path: str, names_for: Mapping[int, Sequence[str]]
) -> tuple[FloatArray, IntArray] | None:
    """A regular comma-separated ASCII file (no blank line, one column count) parsed from its
    bytes by polars, without a text copy: ``(rows, line numbers)``, or None to take the
    checked text path (which names bad lines)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None  # the text path raises the error
    if data.startswith(b"\xef\xbb\xbf") or b"\r" in data:
        data = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r", b"")
    end = len(data)
    while end and data[end - 1] == 10:
        end -= 1
    if not end or end < len(data) - 1 or data.startswith(b"\n") or not data.isascii():
        return None
    if data.find(b"\n\n", 0, end) >= 0 or data.find(b'"', 0, end) >= 0:
        return None
    first = data[: data.find(b"\n", 0, end)] if data.find(b"\n", 0, end) >= 0 else data[:end]
    ncols = first.count(b",") + 1
    nrows = data.count(b"\n", 0, end) + 1
    if ncols not in names_for or data.count(b",", 0, end) != nrows * (ncols - 1):
        return None
    values = polars_columns(data, ncols, nrows)
    del data
    if values is None:
        return None
    return values, np.arange(1, nrows + 1, dtype=np.int64)


def polars_frame(data: bytes, ncols: int, nrows: int) -> Any:
    """The rows as a polars frame of Float64 columns, or None when a field is not a number."""
    import polars as pl

    schema = {f"c{i}": pl.Float64 for i in range(ncols)}
    try:
        frame = pl.read_csv(data, has_header=False, schema=schema)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if frame.height != nrows or any(frame.null_count().row(0)):
        return None
    return frame


def large_frees_to_os() -> None:
    """Have glibc map every allocation over 256 KB on its own, so freed column arrays go back
    to the system at once. By default glibc raises that threshold after the first large
    free, and later arrays of a few MB then come from the heap and stay resident after
    ``del`` (about 70 MB more peak RSS on a million-row file). No-op off glibc.

    This changes the allocator for the whole process, so the library never calls it: the
    ``prelabel convert mot/kitti`` commands do (their process is prelabel's own), and a
    pipeline may call it itself."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 256 << 10)
    except (OSError, AttributeError):
        pass


# bytes of CSV text parsed per polars call: polars keeps the memory it allocates, so parsing
# a few MB at a time into one numpy array holds its arena at a few MB, not a whole file's
PARSE_BYTES = 4 << 20
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def polars_columns(data: bytes, ncols: int, nrows: int) -> FloatArray | None:
    """The rows of ``data`` (comma-separated numbers, ``nrows`` lines) as an ``(nrows,
    ncols)`` Fortran-order array, parsed by polars a block of lines at a time; None when a
    field is not a number or the line count differs."""
    out: FloatArray = np.empty((nrows, ncols), dtype=np.float64, order="F")
    end = len(data)
    while end and data[end - 1] == 10:
        end -= 1
    start = row = 0
    while start < end:
        stop = data.find(b"\n", min(start + PARSE_BYTES, end), end)
        stop = end if stop < 0 else stop
        block = data[start:stop]
        count = block.count(b"\n") + 1
        frame = polars_frame(block, ncols, count)
        if frame is None or row + count > nrows:
            return None
        for i, name in enumerate(frame.columns):
            out[row : row + count, i] = frame.get_column(name).to_numpy()
        row, start = row + count, stop + 1
    return out if row == nrows else None


def polars_parse(body: str, ncols: int, nrows: int) -> FloatArray | None:
    """Comma-separated rows parsed by polars' CSV reader (several times faster than numpy's
    text parser on a million rows), or None when any field is not a plain number."""
    return polars_columns(body.encode(), ncols, nrows)


def parse_line(line: str, delimiter: str | None, names: Sequence[str]) -> list[float] | str:
    """One line's numbers, or the reason it is unusable."""
    parts = [p.strip() for p in (line.split(delimiter) if delimiter else line.split())]
    if len(parts) != len(names):
        return f"expected {len(names)} columns, got {len(parts)}"
    out = []
    for name, part in zip(names, parts, strict=False):
        try:
            out.append(float(part))
        except ValueError:
            return f"{name} {part!r} is not a number"
    return out


def slow_parse(
    path: str,
    text: str,
    delimiter: str | None,
    names: Sequence[str],
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> tuple[FloatArray, IntArray]:
    """Per-line parse: rows that do not parse are an error or dropped (with the line)."""
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parsed = parse_line(line, delimiter, names)
        if isinstance(parsed, str):
            reject(path, number, parsed, bad_rows, dropped)
            continue
        rows.append(parsed)
        lines.append(number)
    array = np.array(rows, dtype=np.float64).reshape(-1, len(names))
    return array, np.array(lines, dtype=np.int64)


def reject(path: str, line: int, reason: str, bad_rows: BadRows, dropped: list[Dropped]) -> None:
    """A row that cannot be used: raise under ``error``, else record it as dropped."""
    if bad_rows == "error":
        raise InvalidAnnotationError(reason, path=path, location=f"line {line}")
    dropped.append(Dropped(SourceRef(path, f"line {line}"), reason))


def parse_table(
    path: str,
    text: str,
    names_for: Mapping[int, Sequence[str]],
    bad_rows: BadRows,
    dropped: list[Dropped],
    *,
    delimiter: str | None,
) -> tuple[FloatArray, IntArray]:
    """Parse a whole file whose column count picks the names: (rows, 1-based line numbers)."""
    first = next((ln for ln in text.split("\n", 50) if ln.strip()), None)
    if first is None:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    ncols = len(first.split(delimiter) if delimiter else first.split())
    if ncols not in names_for:
        known = ", ".join(str(n) for n in sorted(names_for))
        raise InvalidAnnotationError(
            f"{ncols} columns; this reader knows rows of {known} columns",
            path=path,
            location="line 1",
        )
    values = fast_parse(text, delimiter, ncols)
    if values is not None:
        return values, np.arange(1, len(values) + 1, dtype=np.int64)
    return slow_parse(path, text, delimiter, names_for[ncols], bad_rows, dropped)


def row_problems(values: FloatArray, names: Sequence[str]) -> list[str | None]:
    """Per row: None, or which of the first ``len(names)`` columns is not a finite number."""
    out: list[str | None] = [None] * len(values)
    bad = ~np.isfinite(values[:, : len(names)])
    for r in np.flatnonzero(bad.any(axis=1)).tolist():
        c = int(np.flatnonzero(bad[r])[0])
        out[r] = f"{names[c]} is {values[r, c]} (not a finite number)"
    return out


# --- seqinfo and labels -------------------------------------------------------------------


def read_seqinfo(path: str) -> SeqInfo:
    """Read a MOTChallenge ``seqinfo.ini`` ([Sequence] section).

    Raises:
        InputError: unreadable file, no [Sequence] section, or a value of the wrong type.
    """
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8-sig") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error) as exc:
        raise InputError(f"cannot read seqinfo: {exc}", path=path) from None
    if not parser.has_section("Sequence"):
        raise InputError("no [Sequence] section", path=path)
    sec = parser["Sequence"]

    def number(key: str, kind: type[int] | type[float]) -> Any:
        raw = sec.get(key)
        if raw is None or not raw.strip():
            return None
        try:
            value = kind(raw)
        except ValueError:
            raise InputError(f"{raw!r} is not a number", path=path, location=key) from None
        if value <= 0:
            raise InputError(f"must be > 0, got {raw}", path=path, location=key)
        return value

    return SeqInfo(
        name=sec.get("name") or None,
        fps=number("frameRate", float),
        length=number("seqLength", int),
        width=number("imWidth", int),
        height=number("imHeight", int),
        path=path,
    )


def find_seqinfo(path: Path) -> str | None:
    """``seqinfo.ini`` beside the file, or one folder up (``SEQ/gt/gt.txt`` layout)."""
    for folder in (path.parent, path.parent.parent):
        candidate = folder / "seqinfo.ini"
        if candidate.is_file():
            return str(candidate)
    return None


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def frame_image_size(seq_dir: Path, im_dir: str = "img1") -> tuple[tuple[int, int], str] | None:
    """``(width, height)`` from the header of the first frame image in ``SEQ/img1``, if any."""
    folder = seq_dir / im_dir
    if not folder.is_dir():
        return None
    first = min((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), default=None)
    if first is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(first) as image:  # reads the header only
            return image.size, str(first)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read the frame image header: {exc}", path=str(first)) from None


def video_header(path: str) -> SeqInfo:
    """fps, frame count and size from a local copy of the video (OpenCV reads the header).

    Raises:
        InputError: OpenCV cannot open the file.
    """
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise InputError("cannot open the video (OpenCV)", path=path)
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
    finally:
        cap.release()
    return SeqInfo(fps=fps, length=count, width=width, height=height, path=path)


def read_labels_file(path: str) -> list[str]:
    """One label per line (blank lines skipped)."""
    return [ln.strip() for ln in read_text(path).split("\n") if ln.strip()]


def sequence_name(path: Path) -> str:
    """The sequence a tracking file belongs to, from its path."""
    if path.parent.name in ("gt", "det") and path.parent.parent.name:
        return path.parent.parent.name
    if path.stem.lower() in GENERIC_STEMS and path.parent.name:
        return path.parent.name
    return path.stem


def item_keys(paths: Sequence[str], names: Sequence[str]) -> list[str]:
    """Item keys: the sequence name, with the file stem added where two inputs share one."""
    out = []
    for path, name in zip(paths, names, strict=False):
        clash = sum(1 for n in names if n == name) > 1
        out.append(f"{name}-{Path(path).stem}" if clash else name)
    return out


def is_ground_truth(path: Path) -> bool:
    return path.stem.lower().startswith("gt") or path.parent.name == "gt"


# --- checks shared with KITTI -------------------------------------------------------------


def duplicates(
    path: str,
    track: Track,
    keep: npt.NDArray[np.bool_],
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> None:
    """Two rows with the same (frame, track id): an error naming both lines (or drop the 2nd)."""
    rows = np.flatnonzero(keep & (track.track >= 0))
    if len(rows) < 2:
        return
    order = rows[frame_track_order(track.frame[rows], track.track[rows], track.lines[rows])]
    same = (np.diff(track.frame[order]) == 0) & (np.diff(track.track[order]) == 0)
    for k in np.flatnonzero(same).tolist():
        first, second = int(order[k]), int(order[k + 1])
        reason = (
            f"track id {track.track[second]} appears twice in frame {track.frame[second]} "
            f"(lines {track.lines[first]} and {track.lines[second]})"
        )
        if not keep[first]:
            continue
        keep[second] = False
        reject(path, int(track.lines[second]), reason, bad_rows, dropped)


def frame_track_order(frame: IntArray, tid: IntArray, lines: IntArray) -> IntArray:
    """Positions sorted by (frame, track id, line): one stable sort of a combined key when
    it fits (rows come in line order), else a three-key lexsort."""
    f0, t0 = int(frame.min()), int(tid.min())
    span_f, span_t = int(frame.max()) - f0 + 1, int(tid.max()) - t0 + 1
    if span_f * span_t < 2**62 and bool((np.diff(lines) > 0).all()):
        key = (frame - f0) * span_t + (tid - t0)
        out: IntArray = np.argsort(key, kind="stable").astype(np.int64)
        return out
    order: IntArray = np.lexsort((lines, tid, frame)).astype(np.int64)
    return order


def untracked_check(path: str, track: Track, keep: npt.NDArray[np.bool_], untracked: bool) -> None:
    """Rows without a track id (-1) need ``untracked``: each becomes a one-frame object."""
    if untracked:
        return
    rows = np.flatnonzero(keep & (track.track < 0))
    if len(rows):
        raise InvalidAnnotationError(
            f"track id {track.track[rows[0]]} (untracked detection, {len(rows)} such rows): a "
            "video task needs track ids; pass --untracked to send each such row as its own "
            "one-frame object",
            path=path,
            location=f"line {track.lines[rows[0]]}",
        )


def build_item(
    key: str,
    track: Track,
    keep: npt.NDArray[np.bool_],
    info: SeqInfo,
    *,
    first_frame: int,
    notes: list[str],
    int_attributes: frozenset[str] = frozenset(),
    auto_int_attributes: frozenset[str] = frozenset(),
) -> Item:
    """The video item: every frame ``first_frame .. first_frame+length-1``; the kept rows as
    a :class:`~prelabel.model.TrackTable` (``prelabel.tracks.expand`` makes instances)."""
    n_frames = info.length if info.length is not None else 0
    if keep.any():
        n_frames = max(n_frames, int(track.frame[keep].max()) - first_frame + 1)
    fps = info.fps
    # no per-frame fields: the video writers give templates {frame} from Frame.number
    frames = FrameRange(n_frames, first_frame, fps)
    name = info.name or key
    path = track.path
    return Item(
        key=key,
        fields={"sequence": name, "file_name": Path(path).name, "stem": Path(path).stem},
        width=info.width,
        height=info.height,
        frames=frames,
        fps=fps,
        notes=notes,
        tracks=track_table(track, keep, first_frame, int_attributes, auto_int_attributes),
    )


def track_table(
    track: Track,
    keep: npt.NDArray[np.bool_],
    first_frame: int,
    int_attributes: frozenset[str],
    auto_int_attributes: frozenset[str],
) -> TrackTable:
    """The kept rows of ``track`` as columns (labels coded, missing scores NaN)."""
    rows: Any = slice(None) if keep.all() else np.flatnonzero(keep)
    codes: dict[str, int] = {}
    labels = track.labels
    if len(labels) and labels.count(labels[0]) == len(labels):
        codes[labels[0]] = 0
        label = np.zeros(len(labels), dtype=np.int32)
    else:
        label = np.fromiter(
            (codes.setdefault(x, len(codes)) for x in labels), dtype=np.int32, count=len(labels)
        )
    score = track.score
    if isinstance(score, np.ndarray):
        scores = score.astype(np.float64)
    else:
        scores = np.array([np.nan if x is None else x for x in score], dtype=np.float64)
    attributes: dict[str, FloatArray] = {}
    if isinstance(track.attributes, dict):
        attributes = {k: v[rows] for k, v in track.attributes.items()}
    elif track.attributes:
        for name in track.attributes[0]:
            column = np.array([a[name] for a in track.attributes], dtype=np.float64)
            attributes[name] = column[rows]
    boxes = track.boxes
    return TrackTable(
        file=track.path,
        frame=track.frame[rows] - first_frame,
        track=track.track[rows],
        left=np.ascontiguousarray(boxes[rows, 0], dtype=np.float64),
        top=np.ascontiguousarray(boxes[rows, 1], dtype=np.float64),
        width=np.ascontiguousarray(boxes[rows, 2], dtype=np.float64),
        height=np.ascontiguousarray(boxes[rows, 3], dtype=np.float64),
        score=scores[rows] if len(scores) else np.zeros(0),
        label=label[rows] if len(label) else np.zeros(0, dtype=np.int32),
        labels=list(codes),
        line=track.lines[rows],
        attributes=attributes,
        int_attributes=int_attributes,
        auto_int_attributes=auto_int_attributes,
    )


def merge_info(
    info: SeqInfo,
    fps: float | None,
    image_size: tuple[int, int] | None,
    notes: list[str],
    what: str,
) -> SeqInfo:
    """Options override the sequence file; say where each fact came from."""
    if fps is not None:
        if info.fps is not None and info.fps != fps:
            notes.append(f"{what}: --fps {fps:g} overrides seqinfo frameRate {info.fps:g}")
        info.fps = fps
    if image_size is not None:
        info.width, info.height = image_size
    if info.fps is None:
        notes.append(f"{what}: frame rate unknown (no seqinfo frameRate, no --fps): no timestamps")
    if info.width is None:
        notes.append(
            f"{what}: image size unknown (no seqinfo imWidth/imHeight, no --image-size): "
            "boxes are not clipped to the frame"
        )
    return info


def check_frames(
    path: str,
    track: Track,
    keep: npt.NDArray[np.bool_],
    info: SeqInfo,
    first_frame: int,
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> None:
    """Frames before the first or beyond seqLength: error, or drop with the line."""
    last = None if info.length is None else first_frame + info.length - 1
    outside = track.frame < first_frame
    if last is not None:
        outside |= track.frame > last
    span = f"{first_frame}..{last}" if last is not None else f">= {first_frame}"
    where = f" (seqLength {info.length} in {info.path})" if info.path else ""
    for r in np.flatnonzero(keep & outside).tolist():
        keep[r] = False
        reason = f"frame {int(track.frame[r])} is outside {span}{where}"
        reject(path, int(track.lines[r]), reason, bad_rows, dropped)


# --- MOT ----------------------------------------------------------------------------------

BASE_NAMES = ("frame", "id", "x", "y", "w", "h")
COLUMN_NAMES: dict[int, tuple[str, ...]] = {
    6: BASE_NAMES,
    7: (*BASE_NAMES, "conf"),
    8: (*BASE_NAMES, "conf", "class"),
    9: (*BASE_NAMES, "conf", "class", "visibility"),
    10: (*BASE_NAMES, "conf", "world x", "world y", "world z"),
}


@dataclass(slots=True)
class MotOptions:
    """Reader options that apply to every input file."""

    fps: float | None = None
    image_size: tuple[int, int] | None = None
    seqinfo: str | None = None
    untracked: bool = False
    label: str | None = None
    labels: list[str] | None = None
    labels_path: str | None = None
    bad_rows: BadRows = "error"
    video: str | None = None


def class_labels(
    path: str,
    values: FloatArray,
    lines: IntArray,
    rows: npt.NDArray[np.bool_],
    layout: Layout,
    opts: MotOptions,
    dropped: list[Dropped],
    notes: list[str],
) -> list[str]:
    """Per-row label from the class column (or the default label)."""
    n = len(values)
    found = class_names(path, opts) if layout.cls is not None and n else None
    if found is None:
        label = opts.label or DEFAULT_LABEL
        notes.append(f"{Path(path).name}: every box labelled {label!r} (no class names)")
        return [label] * n
    names, origin = found
    notes.append(f"{Path(path).name}: class c is label c of {origin} (1-based)")
    out = [""] * n
    cls = values[:, layout.cls or 0]
    for r in np.flatnonzero(rows).tolist():
        c = cls[r]
        if c.is_integer() and 1 <= c <= len(names):
            out[r] = names[int(c) - 1]
        else:
            rows[r] = False
            reject(
                path,
                int(lines[r]),
                f"class {c:g} is not in {origin} ({len(names)} names)",
                opts.bad_rows,
                dropped,
            )
    return out


def class_names(path: str, opts: MotOptions) -> tuple[list[str], str] | None:
    """The class names and where they came from (None: ``--label`` names every box)."""
    if opts.labels is not None:
        return opts.labels, f"labels file {opts.labels_path}"
    beside = Path(path).parent / "labels.txt"
    if beside.is_file():
        return read_labels_file(str(beside)), f"labels file {beside}"
    if opts.label:
        return None
    return list(MOT16_CLASSES), "the MOT16 classes"


def read_one(path: str, key: str, opts: MotOptions, dropped: list[Dropped]) -> Item:
    """One MOT file -> one video item."""
    local: list[Dropped] = []
    quick = quick_table(path, COLUMN_NAMES)
    if quick is not None:
        values, lines = quick
        del quick  # the tuple would keep the parsed rows alive after ``del values``
    else:
        text = read_text(path)
        delimiter = sniff_delimiter(text)
        values, lines = parse_table(
            path, text, COLUMN_NAMES, opts.bad_rows, local, delimiter=delimiter
        )
        del text
    ncols = values.shape[1] if values.size else 6
    layout = LAYOUTS.get(ncols, LAYOUTS[6])
    gt = is_ground_truth(Path(path))
    notes = [
        f"{Path(path).name}: {len(values)} rows of {ncols} columns read as {layout.name}"
        f"{' ground truth' if gt else ''}"
    ]
    keep = np.ones(len(values), dtype=bool)
    if len(values):
        problems = row_problems(values, BASE_NAMES)
        bad_numbers(path, values, lines, keep, problems, opts.bad_rows, local)
    track = make_track(path, values, lines, keep, layout, gt, opts, local, notes)
    del values
    info = seq_info(path, opts, notes)
    check_frames(path, track, keep, info, 1, opts.bad_rows, local)
    untracked_check(path, track, keep, opts.untracked)
    duplicates(path, track, keep, opts.bad_rows, local)
    dropped.extend(local)
    return build_item(key, track, keep, info, first_frame=1, notes=notes)


def bad_numbers(
    path: str,
    values: FloatArray,
    lines: IntArray,
    keep: npt.NDArray[np.bool_],
    problems: list[str | None],
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> None:
    """Non-finite values, non-integral frame/id and negative sizes."""
    frac = (values[:, 0] != np.floor(values[:, 0])) | (values[:, 1] != np.floor(values[:, 1]))
    negative = (values[:, 4] < 0) | (values[:, 5] < 0)
    for r in range(len(values)) if (frac.any() or negative.any() or any(problems)) else ():
        reason = problems[r]
        if reason is None and frac[r]:
            reason = f"frame {values[r, 0]:g} / id {values[r, 1]:g} must be whole numbers"
        if reason is None and negative[r]:
            if bad_rows == "fix":
                fix_negative(values, r)
                continue
            reason = f"negative box size {values[r, 4]:g} x {values[r, 5]:g}"
        if reason is not None:
            keep[r] = False
            reject(path, int(lines[r]), reason, bad_rows, dropped)


def fix_negative(values: FloatArray, r: int) -> None:
    """A box given with negative width/height spans from x+w to x: flip it."""
    for c, s in ((2, 4), (3, 5)):
        if values[r, s] < 0:
            values[r, c] += values[r, s]
            values[r, s] = -values[r, s]


def make_track(
    path: str,
    values: FloatArray,
    lines: IntArray,
    keep: npt.NDArray[np.bool_],
    layout: Layout,
    gt: bool,
    opts: MotOptions,
    dropped: list[Dropped],
    notes: list[str],
) -> Track:
    """Column arrays for the rows (scores, labels, attributes per the layout)."""
    n = len(values)
    if n == 0:
        values = np.zeros((0, 6))
    scores: FloatArray = np.full(n, np.nan)
    if layout.conf is not None and n:
        conf = values[:, layout.conf]
        if gt:
            ignore = keep & (conf == 0)
            for r in np.flatnonzero(ignore).tolist():
                keep[r] = False
                dropped.append(
                    Dropped(
                        SourceRef(path, f"line {lines[r]}"),
                        "ground-truth row marked ignore (conf flag 0)",
                    )
                )
        else:
            scores = np.where(conf == -1, np.nan, conf)
            if n and bool((conf == -1).all()):
                notes.append(f"{Path(path).name}: conf is -1 on every row: no scores")
    labels = class_labels(path, values, lines, keep, layout, opts, dropped, notes)
    attributes: dict[str, FloatArray] = {}
    if layout.visibility is not None:
        attributes = {"visibility": values[:, layout.visibility].astype(np.float64)}
    return Track(
        path,
        lines,
        whole_numbers(values[:, 0]),
        whole_numbers(values[:, 1]),
        np.array(values[:, 2:6], dtype=np.float64),  # a copy: the parsed rows can be freed
        scores,
        labels,
        attributes,
    )


def whole_numbers(column: FloatArray) -> IntArray:
    """A frame or id column as int64, non-finite values as -1 (one column at a time)."""
    out: IntArray = np.where(np.isfinite(column), column, -1).astype(np.int64)
    return out


def seq_info(path: str, opts: MotOptions, notes: list[str]) -> SeqInfo:
    """seqinfo.ini (given or found), a local video's header and frame images, then options."""
    name = Path(path).name
    where = opts.seqinfo or find_seqinfo(Path(path))
    info = read_seqinfo(where) if where else SeqInfo()
    if where:
        notes.append(f"{name}: sequence facts from {where}")
    if opts.video:
        fill_from_video(info, video_header(opts.video), notes, name)
    if info.width is None and opts.image_size is None:
        seq_dir = Path(where).parent if where else Path(path).parent.parent
        found = frame_image_size(seq_dir)
        if found:
            (info.width, info.height), image = found
            notes.append(f"{name}: image size {info.width}x{info.height} from {image}")
    return merge_info(info, opts.fps, opts.image_size, notes, name)


def fill_from_video(info: SeqInfo, video: SeqInfo, notes: list[str], name: str) -> None:
    """Facts the sequence file lacks, from the video header (the sequence file wins)."""
    if info.fps is None and video.fps:
        info.fps = video.fps
    if info.width is None and video.width:
        info.width, info.height = video.width, video.height
    if info.length is None and video.length:
        info.length = video.length
    notes.append(
        f"{name}: video header of {video.path}: {video.fps or '?'} fps, {video.length or '?'} "
        f"frames, {video.width or '?'}x{video.height or '?'}"
    )


def read_mot(
    paths: list[str],
    *,
    fps: float | None = None,
    image_size: tuple[int, int] | None = None,
    seqinfo: str | None = None,
    untracked: bool = False,
    label: str | None = None,
    labels: str | None = None,
    bad_rows: BadRows = "error",
    video: str | None = None,
) -> Dataset:
    """Read MOTChallenge txt files: one video item per file.

    Args:
        paths: MOT txt files (ground truth, tracker results or detections).
        fps: frame rate, overriding seqinfo ``frameRate``.
        image_size: ``(width, height)``, overriding seqinfo ``imWidth``/``imHeight``.
        seqinfo: a seqinfo.ini for every input (default: found beside each file).
        untracked: rows with id -1 become one-frame objects instead of an error.
        label: the label of every box when there is no class column.
        labels: a labels file (one name per line) for the 1-based class column.
        bad_rows: a row that cannot be used (not a number, NaN, negative size, outside the
            sequence, duplicate id): ``error`` stops, ``drop`` records it as dropped, ``fix``
            repairs what it can (negative sizes are flipped) and drops the rest.
        video: a local copy of the video: its header gives fps, frame count and size where
            the seqinfo does not (the image size is also read from ``SEQ/img1``'s first frame
            image when nothing else gives it).

    Returns:
        A dataset whose items are generated lazily, one per input file.

    Raises:
        InputError: a file cannot be read; InvalidAnnotationError names the line.
    """
    opts = MotOptions(fps, image_size, seqinfo, untracked, label, None, labels, bad_rows, video)
    if labels is not None:
        opts.labels = read_labels_file(labels)
    names = [sequence_name(Path(p)) for p in paths]
    keys = item_keys(paths, names)
    dataset = Dataset(format="mot", items=[], kinds={"box"})
    dataset.labels = list(opts.labels or [label or DEFAULT_LABEL])

    def items() -> Iterator[Item]:
        for path, key in zip(paths, keys, strict=False):
            yield read_one(path, key, opts, dataset.dropped)

    dataset.items = items()
    return dataset
