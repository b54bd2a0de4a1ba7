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
per-row objects; ``prelabel.tracks.rows.frame_instances`` makes per-frame instances for image
tasks). A regular comma-separated ASCII file is parsed from its bytes by polars' CSV reader;
anything irregular (blank lines, quotes, a field that is not a number, whitespace columns)
takes the checked per-line text path, which names the bad line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from prelabel.config.declare import option
from prelabel.converters.options import fps, image_size
from prelabel.converters.text import read_text
from prelabel.converters.tracking.common import (
    DEFAULT_LABEL,
    EXACT_FLOAT,
    LAYOUTS,
    MAX_FRAMES,
    MOT16_CLASSES,
    BadRows,
    Empty,
    FloatArray,
    IntArray,
    Layout,
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
from prelabel.converters.tracking.parse import (
    LineTokens,
    parse_table,
    quick_table,
    row_problems,
    sniff_delimiter,
)
from prelabel.converters.tracking.seq import (
    find_seqinfo,
    frame_image_size,
    is_ground_truth,
    item_keys,
    read_labels_file,
    read_seqinfo,
    sequence_name,
    video_header,
)
from prelabel.model import Dataset, Dropped, Item, SourceRef

# --- MOT ----------------------------------------------------------------------------------

BASE_NAMES = ("frame", "id", "x", "y", "w", "h")
COLUMN_NAMES: dict[int, tuple[str, ...]] = {
    6: BASE_NAMES,
    7: (*BASE_NAMES, "conf"),
    8: (*BASE_NAMES, "conf", "class"),
    9: (*BASE_NAMES, "conf", "class", "visibility"),
    10: (*BASE_NAMES, "conf", "world x", "world y", "world z"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MotOptions(TrackingOptions):
    """Options of the MOTChallenge reader (``prelabel convert mot``)."""

    fps: float | None = fps("The video's frame rate (overrides seqinfo.ini frameRate).")
    image_size: tuple[int, int] | None = image_size(
        "Frame size when no seqinfo.ini says it (boxes are clipped to it)."
    )
    seqinfo: str | None = option(
        None,
        path="file",
        help="seqinfo.ini for the inputs (default: found beside each file or one up).",
    )
    video: str | None = option(
        None,
        path="file",
        help="Local copy of the video: fps, frame count and size from its header.",
    )
    label: str | None = option(None, help="Label of every box when the file has no class column.")
    labels: str | None = option(
        None,
        path="file",
        help="Class names, one a line: class c is line c (default: labels.txt beside).",
    )


@dataclass(frozen=True, slots=True)
class ClassNames:
    """The names of the class column's values (class c is ``names[c - 1]``) and their origin."""

    names: list[str]
    origin: str


def class_labels(
    path: str,
    values: FloatArray,
    lines: IntArray,
    rows: npt.NDArray[np.bool_],
    layout: Layout,
    opts: MotOptions,
    given: ClassNames | None,
    dropped: list[Dropped],
    notes: list[str],
) -> list[str]:
    """Per-row label from the class column (or the default label)."""
    n = len(values)
    found = class_names(path, opts, given) if layout.cls is not None and n else None
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


def class_names(
    path: str, opts: MotOptions, given: ClassNames | None
) -> tuple[list[str], str] | None:
    """The class names and where they came from (None: ``--label`` names every box)."""
    if given is not None:
        return given.names, given.origin
    beside = Path(path).parent / "labels.txt"
    if beside.is_file():
        return read_labels_file(str(beside)), f"labels file {beside}"
    if opts.label:
        return None
    return list(MOT16_CLASSES), "the MOT16 classes"


def read_one(
    path: str, key: str, opts: MotOptions, given: ClassNames | None, dropped: list[Dropped]
) -> Item:
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
    read = len(values) + len(local)  # rows that did not parse are dropped already
    ncols = values.shape[1] if values.size else 6
    layout = LAYOUTS.get(ncols, LAYOUTS[6])
    gt = is_ground_truth(Path(path))
    name = Path(path).name
    notes = [
        f"{name}: {read} rows of {ncols} columns read as {layout.name}"
        f"{' ground truth' if gt else ''}"
    ]
    keep = np.ones(len(values), dtype=bool)
    checked = Checked(path, lines, keep, opts.bad_rows, local)
    if len(values):
        bad_numbers(values, checked)
    track = make_track(path, values, lines, keep, layout, gt, opts, given, local, notes)
    track.track = exact_ids(values[:, 1], checked, track.track) if len(values) else track.track
    track.repairs = checked.repairs
    del values
    info = seq_info(path, opts, notes)
    check_frames(path, track, keep, info, 1, opts.bad_rows, local)
    untracked_check(path, track, keep, opts.untracked)
    duplicates(path, track, keep, opts.bad_rows, local)
    dropped.extend(local)
    reader_notes(notes, name, read, local, checked.repairs)
    empty = Empty(read, local, "seqinfo.ini seqLength or --video")
    return build_item(key, track, keep, info, first_frame=1, notes=notes, empty=empty)


@dataclass(slots=True)
class Checked:
    """One file's row checks: where rows are, which are kept, what to do with bad ones, and
    the repairs made (row position -> what was done)."""

    path: str
    lines: IntArray
    keep: npt.NDArray[np.bool_]
    bad_rows: BadRows
    dropped: list[Dropped]
    repairs: dict[int, tuple[str, ...]] = field(default_factory=dict)
    tokens: LineTokens | None = None

    def reject(self, r: int, reason: str, *, fixable: bool = False) -> None:
        self.keep[r] = False
        reject(self.path, int(self.lines[r]), reason, self.bad_rows, self.dropped, fixable=fixable)

    def token(self, r: int, column: int) -> str:
        """Field ``column`` of row ``r`` as the file writes it (read on first use)."""
        if self.tokens is None:
            self.tokens = LineTokens(self.path)
        return self.tokens.get(int(self.lines[r]), column)


def bad_numbers(values: FloatArray, checked: Checked) -> None:
    """Non-finite values, non-integral frame/id, frames out of range and negative sizes
    (flipped under ``--bad-rows fix``, each flip a repair of its row)."""
    problems = row_problems(values, BASE_NAMES)
    frame = values[:, 0]
    frac = (frame != np.floor(frame)) | (values[:, 1] != np.floor(values[:, 1]))
    outside = (frame < 1) | (frame > MAX_FRAMES)
    negative = (values[:, 4] < 0) | (values[:, 5] < 0)
    odd = frac | outside | negative
    odd[list(problems)] = True
    for r in np.flatnonzero(odd).tolist():  # in line order
        reason = problems.get(r)
        if reason is None and frac[r]:
            reason = f"frame {checked.token(r, 0)} / id {checked.token(r, 1)} must be whole numbers"
        if reason is None and outside[r]:
            reason = frame_problem(checked.token(r, 0), int(frame[r]), 1)
        if reason is not None:
            checked.reject(r, reason)
        elif negative[r] and checked.bad_rows == "fix":
            checked.repairs[r] = fix_negative(values, r)
        elif negative[r]:
            reason = f"negative box size {values[r, 4]:g} x {values[r, 5]:g}"
            checked.reject(r, reason, fixable=True)


def fix_negative(values: FloatArray, r: int) -> tuple[str, ...]:
    """A box given with negative width/height spans from x+w to x: flip it; what was done."""
    done = []
    for c, s, name in ((2, 4, "width"), (3, 5, "height")):
        if values[r, s] < 0:
            values[r, c] += values[r, s]
            values[r, s] = -values[r, s]
            done.append(f"flipped: negative {name}")
    return tuple(done)


def exact_ids(column: FloatArray, checked: Checked, ids: IntArray) -> IntArray:
    """``ids`` with the ids a float cannot hold exactly (from 2**53 on) read again from the
    file's text, so two such ids never merge; one a 64-bit integer cannot hold is a bad row."""
    for r in np.flatnonzero(checked.keep & (np.abs(column) >= EXACT_FLOAT)).tolist():
        text = checked.token(r, 1)
        exact = whole_number(text)
        if exact is None:
            checked.reject(r, f"track id {text} must be a whole number")
        elif problem := track_id_problem(text, exact):
            checked.reject(r, problem)
        else:
            ids[r] = exact
    return ids


def make_track(
    path: str,
    values: FloatArray,
    lines: IntArray,
    keep: npt.NDArray[np.bool_],
    layout: Layout,
    gt: bool,
    opts: MotOptions,
    given: ClassNames | None,
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
    labels = class_labels(path, values, lines, keep, layout, opts, given, dropped, notes)
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
    """A frame or id column as int64, values no int64 holds (non-finite, from 2**63 on) as
    -1: their rows are bad rows (one column at a time)."""
    fits = np.isfinite(column) & (np.abs(column) < 2.0**63)
    out: IntArray = np.where(fits, column, -1).astype(np.int64)
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


def read_mot(paths: list[str], options: MotOptions | None = None) -> Dataset:
    """Read MOTChallenge txt files: one video item per file.

    Args:
        paths: MOT txt files (ground truth, tracker results or detections).
        options: the reader's options (:class:`MotOptions`); defaults if None. ``fps`` and
            ``image_size`` override seqinfo ``frameRate`` / ``imWidth``x``imHeight``;
            ``seqinfo`` is a seqinfo.ini for every input (default: found beside each file);
            ``untracked`` makes rows with id -1 one-frame objects instead of an error;
            ``label`` labels every box when there is no class column; ``labels`` is a
            labels file (one name per line) for the 1-based class column; ``bad_rows``
            decides what a row that cannot be used (not a number, NaN, negative size,
            outside the sequence, duplicate id) does: ``error`` stops, ``drop`` records it
            as dropped, ``fix`` repairs what it can (negative sizes are flipped) and drops
            the rest; ``video`` is a local copy of the video whose header gives fps, frame
            count and size where the seqinfo does not (the image size is also read from
            ``SEQ/img1``'s first frame image when nothing else gives it).

    Returns:
        A dataset whose items are generated lazily, one per input file.

    Raises:
        InputError: a file cannot be read; InvalidAnnotationError names the line.

    Example:
        >>> read_mot(["MOT17-02/gt/gt.txt"], MotOptions(fps=30))  # doctest: +SKIP
    """
    opts = options or MotOptions()
    given = None
    if opts.labels is not None:
        given = ClassNames(read_labels_file(opts.labels), f"labels file {opts.labels}")
    names = [sequence_name(Path(p)) for p in paths]
    keys = item_keys(paths, names)
    dataset = Dataset(format="mot", items=[], kinds={"box"})
    dataset.labels = list(given.names if given else [opts.label or DEFAULT_LABEL])

    def items() -> Iterator[Item]:
        for path, key in zip(paths, keys, strict=False):
            yield read_one(path, key, opts, given, dataset.dropped)

    dataset.items = items()
    return dataset
