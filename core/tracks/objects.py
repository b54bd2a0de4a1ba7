"""Rows grouped into objects: tracks (or runs of them, by ``track_gaps``) in order of first
appearance, then untracked rows one object each; each object's uuid and label, with the
report notes on label changes and gaps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from prelabel.model import Item, TrackTable, file_key
from prelabel.output.report import Report
from prelabel.tracks.filter import appearance
from prelabel.tracks.keys import uuid_texts

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrackRef:
    """Which tracker track (and which run of it) one object is."""

    source: str  # the input file's name
    track_id: str  # as the input wrote it
    run: int  # 0-based run number when track_gaps = "split" split the track, else 0


@dataclass(slots=True)
class Objects:
    """Every row in object order (object by object, frame by frame), with its object."""

    rows: IntArray
    obj: IntArray
    uuids: list[str]
    labels: list[str]  # the label of each object
    refs: list[TrackRef | None]  # None: an untracked row


def group(
    table: TrackTable, item: Item, report: Report, frame_pos: IntArray, *, split: bool
) -> Objects:
    """The objects of ``table``, notes made. ``frame_pos`` is each frame's position among the
    task's frames: rows go in that order, and a track that misses a task frame has a gap."""
    rows, t_rank, ids, singles = _track_order(table, frame_pos)
    if not len(rows):
        return _singles(table, item, singles, Objects(rows, rows, [], [], []))
    same = t_rank[1:] == t_rank[:-1]
    starts = np.flatnonzero(np.r_[True, ~same])
    step = frame_pos[table.frame[rows]]  # a gap is a task frame the track misses
    gap = np.r_[False, (step[1:] != step[:-1] + 1) & same]
    del step
    labels = _track_labels(table, rows, starts, item, report)
    new_obj = np.r_[True, ~same] | (gap if split else False)
    del same
    heads = np.flatnonzero(new_obj)
    runs = _run_numbers(gap, starts, rows)[heads].tolist() if split else [0] * len(heads)
    tids = [table.track_id(t) for t in table.track[rows[heads]].tolist()]
    names = [f"{t}\x1f{n}" if n else t for t, n in zip(tids, runs, strict=True)]
    files = _files(table, rows[heads])
    uuids = _uuids(files, item.sequence, names)
    refs: list[TrackRef | None] = [
        TrackRef(f, t, n) for f, t, n in zip(files, tids, runs, strict=True)
    ]
    obj_labels = [labels[t] for t in t_rank[heads].tolist()]
    _note_gaps(table, ids, gap, t_rank, item, report, split)
    del t_rank, gap
    obj: IntArray = np.cumsum(new_obj, dtype=np.int64)
    obj -= 1
    return _singles(table, item, singles, Objects(rows, obj, uuids, obj_labels, refs))


def _track_order(
    table: TrackTable, frame_pos: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Tracked rows by track (first appearance), then frame; each one's track rank; the
    track ids by rank; the untracked rows in appearance order. Arrays are freed as soon
    as they are spent (a million rows: 8 MB each)."""
    order = appearance(table, frame_pos)
    mask = table.track[order] >= 0
    tracked, singles = order[mask], order[~mask]
    del order, mask
    if not len(tracked):
        return tracked, tracked, tracked, singles
    track = table.track[tracked]
    by_id = _stable_order(track)  # rows of one id together, each id's in appearance order
    ids = track[by_id]
    del track
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ids = ids[starts]
    rank = np.argsort(by_id[starts], kind="stable")  # ids by their first row
    sizes = np.diff(np.r_[starts, len(by_id)])[rank]
    begin = np.cumsum(sizes) - sizes  # where each id's rows go, in rank order
    at = np.repeat(starts[rank] - begin, sizes) + np.arange(len(by_id))
    rows: IntArray = tracked[by_id[at]].astype(np.int64, copy=False)
    t_rank: IntArray = np.repeat(np.arange(len(rank), dtype=np.int64), sizes)
    return rows, t_rank, ids[rank], singles


def _stable_order(values: IntArray) -> IntArray:
    """A stable argsort of non-negative ids (a radix sort when they span under 2**16)."""
    if len(values) and int(values.max()) - int(values.min()) < 1 << 16:
        values = (values - values.min()).astype(np.uint16)
    out: IntArray = np.argsort(values, kind="stable")
    return out


def _run_numbers(gap: BoolArray, starts: IntArray, rows: IntArray) -> IntArray:
    """Per row, how many gaps precede it within its track (the run number)."""
    seen = np.cumsum(gap)
    sizes = np.diff(np.r_[starts, len(rows)])
    out: IntArray = seen - np.repeat(seen[starts] - gap[starts], sizes)
    return out


def _files(table: TrackTable, rows: IntArray) -> list[str]:
    """The input file name of each row (a track's uuid takes its first row's)."""
    if table.objects is None:
        return [file_key(table.file)] * len(rows)
    return [file_key(table.objects[r].source.file) for r in rows.tolist()]


def _uuids(files: list[str], sequence: str, names: list[str]) -> list[str]:
    """``stable_uuid(file, sequence, name)`` of each object, one hash prefix per file."""
    if len(set(files)) <= 1:
        return uuid_texts((files[0], sequence), names) if files else []
    return [uuid_texts((f, sequence), [n])[0] for f, n in zip(files, names, strict=True)]


def _singles(table: TrackTable, item: Item, singles: IntArray, objects: Objects) -> Objects:
    """Untracked rows: one object each, after the tracks, in appearance order."""
    if not len(singles):
        return objects
    first = len(objects.uuids)
    names = [table.source(r).location for r in singles.tolist()]
    objects.uuids.extend(_uuids(_files(table, singles), item.sequence, names))
    objects.labels.extend(table.labels[c] for c in table.label[singles].tolist())
    objects.refs.extend([None] * len(singles))
    obj: IntArray = (first + np.arange(len(singles))).astype(np.int64)
    objects.rows = np.concatenate([objects.rows, singles]).astype(np.int64, copy=False)
    objects.obj = np.concatenate([objects.obj, obj])
    return objects


def _track_labels(
    table: TrackTable, rows: IntArray, starts: IntArray, item: Item, report: Report
) -> list[str]:
    """Label per track (the most common; first met wins ties), noting label changes."""
    names = table.labels
    codes = table.label[rows]
    if len(names) <= 1 or not len(rows):
        return [names[0] if names else ""] * len(starts)
    lo = np.minimum.reduceat(codes, starts)
    hi = np.maximum.reduceat(codes, starts)
    out = [names[int(c)] for c in lo.tolist()]
    bounds = np.r_[starts, len(rows)]
    for t in np.flatnonzero(lo != hi).tolist():
        counts = Counter(names[c] for c in codes[bounds[t] : bounds[t + 1]].tolist())
        label = counts.most_common(1)[0][0]
        out[t] = label
        seen = ", ".join(f"{k} x{v}" for k, v in counts.most_common())
        tid = table.track_id(int(table.track[rows[bounds[t]]]))
        report.note(f"{item.key}: track {tid} changes label ({seen}); sent as {label!r}")
    return out


def _note_gaps(
    table: TrackTable,
    ids: IntArray,
    gap: BoolArray,
    t_rank: IntArray,
    item: Item,
    report: Report,
    split: bool,
) -> None:
    gappy = ids[np.flatnonzero(np.bincount(t_rank[gap], minlength=len(ids)))]
    if len(gappy):
        how = "split into one object per run" if split else "kept whole (one uuid across the gap)"
        names = [table.track_id(t) for t in gappy.tolist()]
        report.note(
            f"{item.key}: {len(names)} track(s) with missing frames, {how}: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else "")
        )
