"""The video writers: ``videoannotation`` and ``videoplaybackannotation`` task bodies.

Both read only the model: a video :class:`~prelabel.model.Item` whose rows are a
:class:`~prelabel.model.TrackTable` (``Item.tracks`` from MOT / KITTI, or made from the
instances on its frames), rows with a track id forming objects (rows without one are
one-frame objects). The track engine (``prelabel.tracks``) fits every row to the task's
``box`` (or other) geometry, records it in the report exactly once and writes the JSON;
these writers add the task's params, attachments and frame sampling. They consume the item's
rows (fitted boxes are written into its columns, and the table is let go once planned).

videoannotation (scale-api.md §4.1)
    [DOC] the response file is a list with one ``{"annotations": [...]}`` per task frame, the
    same ``uuid`` on every frame of one object. [INFERRED] the hypothesis takes the same list
    as a hosted JSON file, ``hypothesis = {"annotations": {"url": ...}}`` (no Scale page;
    fiftyone does this). [CODE] ``base_annotations = {"annotations": [per-frame list]}`` inline
    (Scale's web-app linter reads this shape). Task frames: one per item frame for image
    attachments (``attachments`` + ``attachment_type: "image"``); for a video attachment the
    task's frame_rate / start_time / duration_time pick source frames (``prelabel.tracks.timing``).

videoplaybackannotation (scale-api.md §4.2)
    [DOC] ``hypothesis.annotations.url`` points at a hosted JSON object keyed by uuid, each
    ``{"label", "geometry", "frames": [{"key", "timestamp", left, top, width, height,
    "attributes"?}]}``; ``timestamp`` in seconds. [UNKNOWN] whether ``key`` counts from 0 or 1:
    ``[prelabel] frame_key_base`` (default 0) decides; key = frame index (0-based position in
    the sequence) + base.

Keyframes (``[prelabel] keyframe_iou`` / ``keyframe_px``): rows that interpolation between the
kept neighbours reproduces are left out and recorded as fixed ("thinned: ..."); whether Scale
interpolates between hypothesis frames is [UNKNOWN] (the VPA audit UI does with "efficient
interpolation" on). ``track_gaps = "split"`` gives each run of consecutive frames its own uuid.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.collector import trim_heap
from prelabel.errors import PayloadError
from prelabel.model import Frame, Item, TrackTable
from prelabel.output.layout import safe_name
from prelabel.tracks.hosted import drop_frames, frames_json, playback_chunks, unsampled
from prelabel.tracks.keys import frame_numbers
from prelabel.tracks.plan import plan, track_map
from prelabel.tracks.rows import video_table
from prelabel.tracks.timing import VideoSampling, sample_video, time_window
from prelabel.writers.context import WriteContext

IntArray = npt.NDArray[np.int64]


def body_params(ctx: WriteContext) -> dict[str, Any]:
    """The config's params as a fresh dict (``TaskConfig.body_params`` when it exists)."""
    method = getattr(ctx.config, "body_params", None)
    if callable(method):
        out: dict[str, Any] = method()
        return out
    return copy.deepcopy(ctx.config.params)


# --- task frames --------------------------------------------------------------------------


def attachment_type(ctx: WriteContext, default: str) -> str:
    value = str(ctx.config.params.get("attachment_type", default))
    if value not in ("image", "video"):
        raise PayloadError(f"params.attachment_type must be 'image' or 'video', got {value!r}")
    return value


def frame_urls(item: Item, ctx: WriteContext) -> list[str]:
    """One attachment URL per frame (``{frame}`` = the frame number as the source wrote it)."""
    frames = item.frames or []
    return [ctx.attachment(item, {**f.fields, "frame": f.number}) for f in frames]


def need_video(item: Item) -> Sequence[Frame]:
    if item.frames is None:
        raise PayloadError(
            "a video task needs a video item (frames); got an image", location=f"item {item.key}"
        )
    return item.frames


def task_frames(item: Item, ctx: WriteContext, body: dict[str, Any]) -> Sequence[Frame]:
    """Set the attachment(s) on ``body`` and return the source frame of each task frame."""
    frames = need_video(item)
    if attachment_type(ctx, "image") == "image":
        body["attachments"] = frame_urls(item, ctx)
        body["attachment_type"] = "image"
        return frames
    body["attachment"] = ctx.attachment(item)
    body["attachment_type"] = "video"
    where = f"item {item.key}"
    sampling = VideoSampling.from_params(ctx.config.params, where=where)
    fps = source_fps(item, ctx, "to pick task frames")
    picked = sample_video(len(frames), fps, sampling, where=where)
    ctx.report.note(
        f"{item.key}: {len(picked)} task frames at {sampling.frame_rate:g} fps from "
        f"{len(frames)} source frames at {fps:g} fps (nearest source frame, halves up)"
    )
    return [frames[i] for i in picked]


# task params that give the source's frame rate when the input does not, in order
FPS_PARAMS = ("video_frame_rate", "frame_rate")


def source_fps(item: Item, ctx: WriteContext, why: str) -> float:
    """The source frames' rate: the reader's (``--fps``, a seqinfo.ini, a video header),
    else ``params.video_frame_rate``, else ``params.frame_rate`` (each frame of the input
    then one task frame; noted).

    Raises:
        PayloadError: none of them gives one.
    """
    if item.fps:
        return float(item.fps)
    for key in FPS_PARAMS:
        value = ctx.config.params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            ctx.report.note(
                f"{item.key}: the input does not say its frame rate (no --fps): taken as "
                f"params.{key}, {value:g} fps"
            )
            return float(value)
    raise PayloadError(
        f"the video's frame rate is needed {why} and the input does not say it: pass --fps "
        "(or set params.frame_rate)",
        location=f"item {item.key}",
    )


def in_window(
    item: Item, table: TrackTable, ctx: WriteContext, task: str, fps: float
) -> tuple[TrackTable, IntArray]:
    """The rows a videoplayback task takes, and each frame's position among the task's
    frames. With a time window (``start_time`` / ``duration_time``): the rows on the
    task's ``frame_rate`` grid inside it, the others dropped; else every row."""
    frames = need_video(item)
    params = ctx.config.params
    if "start_time" not in params and "duration_time" not in params:
        return table, np.arange(len(frames), dtype=np.int64)
    sampling = VideoSampling.from_params(params, where=f"item {item.key}")
    window = time_window(frame_numbers(frames).tolist(), fps, sampling)
    end = "the end" if window.end is None else f"{window.end:g}s"
    ctx.report.note(
        f"{item.key}: {window.picked} task frames at {sampling.frame_rate:g} fps in "
        f"{window.start:g}s..{end} from {len(frames)} source frames at {fps:g} fps (nearest "
        "source frame, halves up)"
    )
    keep = np.array(window.keep, dtype=bool).reshape(-1)
    frame_pos: IntArray = np.cumsum(keep) - 1  # the rows on other frames are dropped
    return drop_frames(table, keep, window.reasons, ctx, task), frame_pos


def artifact_name(task: str, suffix: str) -> str:
    """``hypothesis/<task as a file name><suffix>`` (:func:`prelabel.output.layout.safe_name`)."""
    return "hypothesis/" + safe_name(task) + suffix


# --- writers ------------------------------------------------------------------------------


def write_video_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The videoannotation body for one video item.

    Prelabels: inline ``base_annotations = {"annotations": [per-frame list]}``, or for
    ``hypothesis`` the per-frame list hosted as an artifact, ``{"annotations": {"url": ref}}``.
    """
    task = ctx.unique_id(item)
    body = body_params(ctx)
    used = task_frames(item, ctx, body)
    body["unique_id"] = task
    frames = need_video(item)
    unique = list({f.index: f for f in used}.values())
    frame_pos = np.full(len(frames), len(frames), dtype=np.int64)
    frame_pos[[f.index for f in unique]] = np.arange(len(unique))
    table = drop_frames(video_table(item), frame_pos < len(frames), unsampled(frames), ctx, task)
    planned = plan(table, item, ctx, task, frame_pos)
    del table
    item.tracks = None  # the writer is the rows' last reader: free them
    trim_heap()  # what the rows' arrays held goes back before the text is made
    ctx.report.track_maps[task] = track_map(planned)
    data = frames_json(planned, used, frame_pos, ctx)
    if ctx.config.prelabel.prelabel_as == "base_annotations":
        ctx.place(body, {"annotations": orjson.loads(data)})
    else:
        ref = ctx.artifacts.add(artifact_name(task, ".json"), data)
        ctx.place(body, {"annotations": {"url": ref}})
    return body


def write_videoplayback_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The videoplaybackannotation body for one video item.

    The hypothesis is hosted: ``hypothesis = {"annotations": {"url": ref}}`` with the
    uuid-keyed file written as an artifact.
    """
    task = ctx.unique_id(item)
    frames = need_video(item)
    fps = source_fps(item, ctx, "for the hypothesis frames' timestamps")
    body = body_params(ctx)
    table = video_table(item)
    frame_pos = np.arange(len(frames), dtype=np.int64)
    if attachment_type(ctx, "video") == "image":
        body["attachments"] = frame_urls(item, ctx)
        body["attachment_type"] = "image"
    else:
        body["attachment"] = ctx.attachment(item)
        table, frame_pos = in_window(item, table, ctx, task, float(fps))
    body["unique_id"] = task
    planned = plan(table, item, ctx, task, frame_pos, one_kind=True)
    del table
    item.tracks = None  # the writer is the rows' last reader: free them
    trim_heap()  # what the rows' arrays held goes back before the text is made
    ctx.report.track_maps[task] = track_map(planned)
    chunks = playback_chunks(planned, frames, ctx, float(fps))
    ref = ctx.artifacts.add_chunks(artifact_name(task, ".json"), chunks)
    ctx.place(body, {"annotations": {"url": ref}})
    return body
