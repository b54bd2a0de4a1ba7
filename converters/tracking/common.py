"""Shared pieces of the tracking readers (MOT, KITTI): the options both take, types, column
layouts, the checks both formats run, and the columnar item they build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from prelabel.config.declare import option
from prelabel.converters.options import fps, image_size
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Dropped, FrameRange, Item, SourceRef, TrackTable

BadRows = Literal["error", "drop", "fix"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingOptions:
    """Options every tracking reader takes (frame rate, frame size, bad rows, untracked rows)."""

    SECTION: ClassVar[str] = "Tracking options (every tracking reader)"

    fps: float | None = fps("The video's frame rate (overrides seqinfo frameRate).")
    image_size: tuple[int, int] | None = image_size(
        "Frame size when no seqinfo.ini says it (boxes are clipped to it)."
    )
    untracked: bool = option(
        False, help="Rows with track id -1 become one-frame objects (else an error)."
    )
    bad_rows: BadRows = option(
        "error",
        show_default=True,
        help="A row that cannot be used: stop, drop it (reported with its line), or repair "
        "what can be repaired (reversed corners, negative sizes) and drop the rest.",
    )


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
    a :class:`~prelabel.model.TrackTable` (``prelabel.tracks.rows.frame_instances`` makes
    instances)."""
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


def reject(path: str, line: int, reason: str, bad_rows: BadRows, dropped: list[Dropped]) -> None:
    """A row that cannot be used: raise under ``error``, else record it as dropped."""
    if bad_rows == "error":
        raise InvalidAnnotationError(reason, path=path, location=f"line {line}")
    dropped.append(Dropped(SourceRef(path, f"line {line}"), reason))
