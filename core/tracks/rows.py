"""Tables from per-frame instances and instances from tables.

A video item's rows reach the video writers as one :class:`~prelabel.model.TrackTable`:
tracking readers build it themselves; :func:`table_of_frames` makes it from the instances
other readers (COCO-video) or traced mask frames put on the frames, keeping each instance
in ``objects``. Image tasks made from a video's frames need instances:
:func:`frame_instances` makes them from a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from prelabel.model import Box, Frame, Instance, Item, SourceRef, TrackTable


def table_of_frames(frames: Sequence[Frame]) -> TrackTable:
    """The instances of ``frames`` as one table, frame by frame in each frame's order
    (unrotated boxes also in the box columns, NaN for other geometries)."""
    found = [(f, inst) for f, frame in enumerate(frames) for inst in frame.instances]
    labels: dict[str, int] = {}
    tracks: dict[str, int] = {}
    boxes = np.full((len(found), 4), np.nan)
    for r, (_, inst) in enumerate(found):
        g = inst.geometry
        if isinstance(g, Box) and not g.rotation:
            boxes[r] = (g.left, g.top, g.width, g.height)
    objects = np.empty(len(found), dtype=object)
    objects[:] = [inst for _, inst in found]
    return TrackTable(
        file="",
        frame=np.array([f for f, _ in found], dtype=np.int64),
        track=np.array(
            [
                -1 if i.track_id is None else tracks.setdefault(i.track_id, len(tracks))
                for _, i in found
            ],
            dtype=np.int64,
        ),
        left=boxes[:, 0].copy(),
        top=boxes[:, 1].copy(),
        width=boxes[:, 2].copy(),
        height=boxes[:, 3].copy(),
        score=np.array(
            [np.nan if i.score is None else i.score for _, i in found], dtype=np.float64
        ),
        label=np.array([labels.setdefault(i.label, len(labels)) for _, i in found], dtype=np.int32),
        labels=list(labels),
        line=np.full(len(found), -1, dtype=np.int64),
        track_names=list(tracks),
        objects=objects,
    )


def video_table(item: Item) -> TrackTable:
    """The rows of a video item as a table: its own, or those of its frames."""
    if item.tracks is not None:
        return item.tracks
    return table_of_frames(item.frames or [])


def frame_instances(table: TrackTable, n_frames: int) -> list[list[Instance]]:
    """Each frame's rows as instances, in table order (rows made from instances give theirs)."""
    out: list[list[Instance]] = [[] for _ in range(n_frames)]
    frames = table.frame.tolist()
    if table.objects is not None:
        for f, inst in zip(frames, table.objects.tolist(), strict=True):
            out[f].append(inst)
        return out
    boxes = zip(
        *(c.tolist() for c in (table.left, table.top, table.width, table.height)), strict=True
    )
    tracks, lines, scores = table.track.tolist(), table.line.tolist(), table.score.tolist()
    labels = [table.labels[c] for c in table.label.tolist()]
    for r, (left, top, width, height) in enumerate(boxes):
        score, tid = scores[r], tracks[r]
        out[frames[r]].append(
            Instance(
                labels[r],
                Box(left, top, width, height),
                SourceRef(table.file, f"line {lines[r]}"),
                None if math.isnan(score) else score,
                None if tid < 0 else table.track_id(tid),
                table.row_attributes(r),
                repairs=table.row_repairs(r),
            )
        )
    return out
