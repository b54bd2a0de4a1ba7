"""Shared pieces of the tracking readers (MOT, KITTI): the options both take, types, column
layouts, the checks both formats run, and the columnar item they build."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import numpy as np
import numpy.typing as npt

from prelabel.config.declare import option
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Dropped, FrameRange, Item, SourceRef, TrackTable

BadRows = Literal["error", "drop", "fix"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingOptions:
    """Options every tracking reader takes (untracked rows, bad rows); each reader declares
    its own ``fps`` and ``image_size`` (what they override differs)."""

    SECTION: ClassVar[str] = "Tracking options (every tracking reader)"

    untracked: bool = option(
        False, help="Rows with track id -1 become one-frame objects (else an error)."
    )
    bad_rows: BadRows = option(
        "error",
        show_default=True,
        help="A row that cannot be used: stop, drop it (reported with its line), or repair "
        "what can be repaired (reversed corners, negative sizes; each such object is "
        "reported as fixed) and drop the rest.",
    )


# The most frames one sequence may span (frame numbers, a seqLength, --seq-length): prelabel's
# limit, as Scale documents none. A video task holds an entry per frame (for frame images an
# attachment URL each), so memory follows the span, not the rows: 1,000,000 frames (9 h 15
# min at 30 fps) take about 200 MB for a videoplaybackannotation and 900 MB for a
# frame-image videoannotation, where one MOT row numbered 10,000,000 used to take 3.5 GB.
MAX_FRAMES: Final = 1_000_000
# track ids are kept as 64-bit integers; float columns hold whole numbers exactly below 2**53
INT64: Final = (-(2**63), 2**63 - 1)
EXACT_FLOAT: Final = 2**53
# a whole number is at most this many characters ("-9223372036854775808" is 20)
NUMBER_CHARS: Final = 40

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
    # row position -> what ``--bad-rows fix`` repaired on it (fixes on its report record)
    repairs: dict[int, tuple[str, ...]] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class Empty:
    """What a file without a usable row says (a sequence without frames makes a video task
    Scale refuses): how many rows were read, those dropped, and the option that gives the
    sequence's length (then the task is made, without prelabels)."""

    read: int
    dropped: list[Dropped]
    length_from: str

    def reason(self) -> str:
        if not self.read:
            what = "no rows"
        else:
            first = self.dropped[0] if self.dropped else None
            example = f"; {first.source.location}: {first.reason}" if first else ""
            what = f"none of its {self.read} rows is usable{example}"
        return (
            f"{what}, and no sequence length: a video task needs at least one frame (give "
            f"{self.length_from} for a task without prelabels)"
        )


def reader_notes(
    notes: list[str],
    name: str,
    read: int,
    dropped: list[Dropped],
    repairs: dict[int, tuple[str, ...]],
) -> None:
    """The reader's tally after its checks: rows dropped of those read, rows repaired."""
    if dropped:
        notes.append(f"{name}: {len(dropped)} of {read} rows dropped (each in report.json)")
    note = repair_note(name, repairs)
    if note:
        notes.append(note)


def build_item(
    key: str,
    track: Track,
    keep: npt.NDArray[np.bool_],
    info: SeqInfo,
    *,
    first_frame: int,
    notes: list[str],
    empty: Empty,
    int_attributes: frozenset[str] = frozenset(),
    auto_int_attributes: frozenset[str] = frozenset(),
) -> Item:
    """The video item: every frame ``first_frame .. first_frame+length-1``; the kept rows as
    a :class:`~prelabel.model.TrackTable` (``prelabel.tracks.rows.frame_instances`` makes
    instances).

    Raises:
        InvalidAnnotationError: no frame at all (no usable row and no sequence length).
    """
    n_frames = info.length if info.length is not None else 0
    if keep.any():
        n_frames = max(n_frames, int(track.frame[keep].max()) - first_frame + 1)
    if not n_frames:
        raise InvalidAnnotationError(empty.reason(), path=track.path)
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
    repair, repairs = repair_codes(track, rows)
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
        repair=repair,
        repairs=repairs,
    )


def repair_codes(
    track: Track, rows: Any
) -> tuple[npt.NDArray[np.int32] | None, list[tuple[str, ...]]]:
    """The repairs of the kept ``rows`` as a code column into a list of repairs (entry 0:
    none), or None when no row was repaired."""
    if not track.repairs:
        return None, [()]
    kinds: dict[tuple[str, ...], int] = {(): 0}
    code = np.zeros(len(track.lines), dtype=np.int32)
    for r, texts in track.repairs.items():
        code[r] = kinds.setdefault(texts, len(kinds))
    return code[rows], list(kinds)


def repair_note(name: str, repairs: dict[int, tuple[str, ...]]) -> str | None:
    """``"0000.txt: 3 rows repaired (--bad-rows fix): ..."`` (None when none was)."""
    if not repairs:
        return None
    counts: dict[str, int] = {}
    for texts in repairs.values():
        for text in texts:
            counts[text] = counts.get(text, 0) + 1
    kinds = ", ".join(f"{text} x{n}" for text, n in counts.items())
    return f"{name}: {len(repairs)} rows repaired (--bad-rows fix; each recorded as fixed): {kinds}"


def merge_info(
    info: SeqInfo,
    fps: float | None,
    image_size: tuple[int, int] | None,
    notes: list[str],
    what: str,
    *,
    seqinfo: bool = True,
) -> SeqInfo:
    """Options override the sequence file (``seqinfo``: the format has one); say where each
    fact came from."""
    if fps is not None:
        if info.fps is not None and info.fps != fps:
            notes.append(f"{what}: --fps {fps:g} overrides seqinfo frameRate {info.fps:g}")
        info.fps = fps
    if image_size is not None:
        info.width, info.height = image_size
    if info.fps is None:
        given = "no seqinfo frameRate, no --fps" if seqinfo else "no --fps"
        notes.append(
            f"{what}: frame rate unknown ({given}): timestamps and video sampling use "
            "params.video_frame_rate or params.frame_rate"
        )
    if info.width is None:
        given = "no seqinfo imWidth/imHeight, no --image-size" if seqinfo else "no --image-size"
        notes.append(f"{what}: image size unknown ({given}): boxes are not clipped to the frame")
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


def reject(
    path: str,
    line: int,
    reason: str,
    bad_rows: BadRows,
    dropped: list[Dropped],
    *,
    fixable: bool = False,
) -> None:
    """A row that cannot be used: raise under ``error`` (saying what ``--bad-rows`` does),
    else record it as dropped. ``fixable``: ``--bad-rows fix`` would have repaired it."""
    if bad_rows == "error":
        hint = (
            "--bad-rows fix repairs such rows, --bad-rows drop leaves them out (reported)"
            if fixable
            else "--bad-rows drop leaves such rows out (reported)"
        )
        raise InvalidAnnotationError(f"{reason}; {hint}", path=path, location=f"line {line}")
    dropped.append(Dropped(SourceRef(path, f"line {line}"), reason))


# --- frame numbers and track ids ----------------------------------------------------------


def whole_number(text: str) -> int | None:
    """The whole number ``text`` writes, exactly (``"7"``, ``"7.0"``, ``"7e3"``, beyond
    2**53 too), or None when it writes none (a fraction, not a number, too long)."""
    text = text.strip()
    if len(text) > NUMBER_CHARS:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value() or value.adjusted() > 30:
        return None
    return int(value)


def frame_problem(text: str, frame: int, first: int) -> str | None:
    """Why frame number ``frame`` (written ``text``) cannot be used, or None."""
    last = first + MAX_FRAMES - 1
    if frame > last:
        return (
            f"frame {text} is beyond frame {last}: a sequence may span at most "
            f"{MAX_FRAMES:,} frames (prelabel's limit); split the file"
        )
    if frame < first:
        return f"frame {text} is before the first frame, {first}"
    return None


def track_id_problem(text: str, track_id: int) -> str | None:
    """Why track id ``track_id`` (written ``text``) cannot be used, or None."""
    if not INT64[0] <= track_id <= INT64[1]:
        return f"track id {text} does not fit a 64-bit integer"
    return None
