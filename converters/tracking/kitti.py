"""KITTI tracking labels (17 columns) and results (18 columns, with score) -> video items.

One row per object, space separated::

    frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]

Frames are 0-based; boxes are corners ``x1 y1 x2 y2`` in pixels; ``type`` is the class name
(``Car``, ``Pedestrian``, ...). ``DontCare`` rows are ignore regions, not objects: each is
recorded as dropped with that reason. ``truncated`` and ``occluded`` become the attributes
``truncation`` and ``occlusion`` (sent only when the task defines them). The 3D fields are
not used. One file is one sequence (``label_02/0000.txt``): the item key is the file stem.

Rows with ``x2 < x1`` (or ``y2 < y1``), a NaN, a field that is not a number or a wrong column
count are an error naming the line, or under ``bad_rows="drop"`` dropped with the line;
``bad_rows="fix"`` swaps reversed corners and drops what cannot be repaired.

Items carry their rows as a columnar :class:`~prelabel.model.TrackTable` (``Item.tracks``),
as MOT items do; ``truncation`` is written as an int when whole, ``occlusion`` always.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prelabel.config.declare import option
from prelabel.converters.options import fps, image_size
from prelabel.converters.text import read_text
from prelabel.converters.tracking.common import (
    MAX_FRAMES,
    BadRows,
    Empty,
    SeqInfo,
    Track,
    TrackingOptions,
    build_item,
    check_frames,
    duplicates,
    frame_problem,
    merge_info,
    reader_notes,
    reject,
    track_id_problem,
    untracked_check,
    whole_number,
)
from prelabel.converters.tracking.seq import item_keys
from prelabel.model import Dataset, Dropped, Item, SourceRef

NUMERIC = (
    "frame",
    "track_id",
    None,
    "truncated",
    "occluded",
    "alpha",
    "x1",
    "y1",
    "x2",
    "y2",
    "h",
    "w",
    "l",
    "x",
    "y",
    "z",
    "rotation_y",
    "score",
)
IGNORE_TYPE = "dontcare"


class _Rows:
    """Accumulates parsed rows of one file."""

    def __init__(self) -> None:
        self.read = 0  # rows read (every non-blank line)
        self.lines: list[int] = []
        self.frame: list[int] = []
        self.track: list[int] = []
        self.boxes: list[tuple[float, float, float, float]] = []
        self.score: list[float | None] = []
        self.labels: list[str] = []
        self.attributes: list[dict[str, float | int]] = []
        self.repairs: dict[int, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Row:
    """One usable row: frame and track id exactly, the other columns as numbers (the type
    column NaN), and what ``--bad-rows fix`` repaired."""

    frame: int
    track: int
    values: list[float]
    repairs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bad:
    """Why a row is unusable, and whether ``--bad-rows fix`` would repair it."""

    reason: str
    fixable: bool = False


def parse_row(parts: list[str], ncols: int, fix: bool) -> Row | Bad:
    """The row, or why it is unusable."""
    if len(parts) != ncols:
        return Bad(f"expected {ncols} columns (as line 1), got {len(parts)}")
    values: list[float] = []
    for name, part in zip(NUMERIC, parts, strict=False):
        if name is None:
            values.append(math.nan)
            continue
        try:
            value = float(part)
        except ValueError:
            return Bad(f"{name} {part!r} is not a number")
        if not math.isfinite(value):
            return Bad(f"{name} is {part} (not a finite number)")
        values.append(value)
    frame, track = whole_number(parts[0]), whole_number(parts[1])
    if frame is None or track is None:
        return Bad(f"frame {parts[0]} / track id {parts[1]} must be whole numbers")
    problem = frame_problem(parts[0], frame, 0) or track_id_problem(parts[1], track)
    if problem:
        return Bad(problem)
    return check_corners(Row(frame, track, values), fix)


def check_corners(row: Row, fix: bool) -> Row | Bad:
    """Reversed corners (x2 < x1 or y2 < y1): swapped under fix, else why not usable."""
    values, repairs = row.values, []
    for a, b, name in ((6, 8, "x"), (7, 9, "y")):
        if values[b] < values[a]:
            if not fix:
                return Bad(f"{name}2 {values[b]:g} < {name}1 {values[a]:g}", fixable=True)
            values[a], values[b] = values[b], values[a]
            repairs.append(f"swapped: {name}1/{name}2 reversed")
    return Row(row.frame, row.track, values, tuple(repairs))


def parse_file(path: str, bad_rows: BadRows, dropped: list[Dropped]) -> tuple[_Rows, int]:
    """Every row of a KITTI tracking file; returns the rows and the column count."""
    rows = _Rows()
    ncols = 0
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        parts = line.split()
        if not parts:
            continue
        rows.read += 1
        if not ncols:
            ncols = len(parts) if len(parts) in (17, 18) else 17
        if len(parts) > 2 and parts[2].lower() == IGNORE_TYPE:
            dropped.append(
                Dropped(
                    SourceRef(path, f"line {number}"),
                    "DontCare: an ignore region, not an object",
                    label="DontCare",
                )
            )
            continue
        parsed = parse_row(parts, ncols, bad_rows == "fix")
        if isinstance(parsed, Bad):
            reject(path, number, parsed.reason, bad_rows, dropped, fixable=parsed.fixable)
            continue
        add_row(rows, number, parts[2], parsed, ncols)
    return rows, ncols


def add_row(rows: _Rows, number: int, label: str, row: Row, ncols: int) -> None:
    v = row.values
    if row.repairs:
        rows.repairs[len(rows.lines)] = row.repairs
    rows.lines.append(number)
    rows.frame.append(row.frame)
    rows.track.append(row.track)
    rows.boxes.append((v[6], v[7], v[8] - v[6], v[9] - v[7]))
    rows.score.append(v[17] if ncols == 18 else None)
    rows.labels.append(label)
    truncation: float | int = int(v[3]) if v[3].is_integer() else v[3]
    rows.attributes.append({"truncation": truncation, "occlusion": int(v[4])})


def read_one(
    path: str,
    key: str,
    info: SeqInfo,
    untracked: bool,
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> Item:
    """One KITTI tracking file -> one video item."""
    local: list[Dropped] = []
    rows, ncols = parse_file(path, bad_rows, local)
    name = Path(path).name
    kind = "results (with score)" if ncols == 18 else "labels"
    notes = [
        f"{name}: {rows.read} rows of {ncols or 17} columns read as KITTI tracking {kind}; "
        "frames 0-based"
    ]
    track = Track(
        path,
        np.array(rows.lines, dtype=np.int64),
        np.array(rows.frame, dtype=np.int64),
        np.array(rows.track, dtype=np.int64),
        np.array(rows.boxes, dtype=np.float64).reshape(-1, 4),
        rows.score,
        rows.labels,
        rows.attributes,
        rows.repairs,
    )
    keep = np.ones(len(rows.lines), dtype=bool)
    size = None if info.width is None or info.height is None else (info.width, info.height)
    info = merge_info(SeqInfo(length=info.length), info.fps, size, notes, name, seqinfo=False)
    check_frames(path, track, keep, info, 0, bad_rows, local)
    untracked_check(path, track, keep, untracked)
    duplicates(path, track, keep, bad_rows, local)
    dropped.extend(local)
    reader_notes(notes, name, rows.read, local, rows.repairs)
    return build_item(
        key,
        track,
        keep,
        info,
        first_frame=0,
        notes=notes,
        int_attributes=frozenset({"occlusion"}),
        auto_int_attributes=frozenset({"truncation"}),
        empty=Empty(rows.read, local, "--seq-length"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class KittiOptions(TrackingOptions):
    """Options of the KITTI tracking reader (``prelabel convert kitti``)."""

    fps: float | None = fps(
        "The sequence's frame rate (KITTI files do not say it; its recordings are 10 fps)."
    )
    image_size: tuple[int, int] | None = image_size(
        "Frame size (KITTI files do not say it; boxes are clipped to it)."
    )
    seq_length: int | None = option(
        None,
        low=1,
        high=MAX_FRAMES,
        help="Number of frames of the sequence (frames 0..N-1).",
    )


def read_kitti(paths: list[str], options: KittiOptions | None = None) -> Dataset:
    """Read KITTI tracking label or result files: one video item per file (sequence).

    Args:
        paths: KITTI tracking txt files (``label_02/0000.txt`` or tracker results).
        options: the reader's options (:class:`KittiOptions`); defaults if None. KITTI
            files say neither ``fps`` (the raw recordings are 10 fps) nor ``image_size``;
            frames at or beyond ``seq_length`` are bad rows; ``untracked`` makes rows with
            track id -1 (other than DontCare) one-frame objects; ``bad_rows``: ``error``
            stops at a bad row, ``drop`` records it as dropped, ``fix`` swaps reversed
            corners and drops what cannot be repaired.

    Returns:
        A dataset whose items are generated lazily, one per file.

    Example:
        >>> read_kitti(["label_02/0000.txt"], KittiOptions(fps=10))  # doctest: +SKIP
    """
    opts = options or KittiOptions()
    names = [Path(p).stem for p in paths]
    keys = item_keys(
        paths,
        [
            f"{Path(p).parent.name}-{n}" if names.count(n) > 1 else n
            for p, n in zip(paths, names, strict=False)
        ],
    )
    size = opts.image_size
    info = SeqInfo(
        fps=opts.fps,
        length=opts.seq_length,
        width=size[0] if size else None,
        height=size[1] if size else None,
    )
    dataset = Dataset(format="kitti", items=[], kinds={"box"})

    def items() -> Iterator[Item]:
        for path, key in zip(paths, keys, strict=False):
            yield read_one(path, key, info, opts.untracked, opts.bad_rows, dataset.dropped)

    dataset.items = items()
    return dataset
