"""The video writers: ``videoannotation`` and ``videoplaybackannotation`` task bodies.

Both read only the model: a video :class:`~prelabel.model.Item` whose frames carry instances
with ``track_id`` (instances without one are one-frame objects). Every instance is fitted to
the task's ``box`` (or other) geometry and recorded in the report exactly once. An item with
``tracks`` (a columnar :class:`~prelabel.model.TrackTable`, from MOT / KITTI) takes the
columnar path in ``prelabel.tracks`` when it can (byte-identical output, no object per row);
otherwise its rows are expanded to instances and go the per-object way below.

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
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from prelabel.config.limits import Bounds, TargetKind
from prelabel.errors import LimitViolation, PayloadError
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import Fitted
from prelabel.model import Box, Frame, Instance, Item
from prelabel.output.layout import safe_name
from prelabel.tracks.keyframes import Thinning, Tolerance, as_arrays, thin_track
from prelabel.tracks.timing import VideoSampling, sample_video
from prelabel.writers.common import geometry_fields, to_annotation
from prelabel.writers.context import WriteContext, file_key, stable_uuid
from prelabel.writers.image import annotation_attributes, choose_target

THINNED = "thinned: interpolated between keyframes"


@dataclass(slots=True)
class Row:
    """One instance of an object on one frame, once fitted."""

    frame: Frame
    instance: Instance
    fitted: Fitted | None = None
    kind: TargetKind | None = None


@dataclass(slots=True)
class VideoObject:
    """One object across frames: a track (or one run of it), or one untracked instance."""

    uuid: str
    label: str
    rows: list[Row] = field(default_factory=list)


def body_params(ctx: WriteContext) -> dict[str, Any]:
    """The config's params as a fresh dict (``TaskConfig.body_params`` when it exists)."""
    method = getattr(ctx.config, "body_params", None)
    if callable(method):
        out: dict[str, Any] = method()
        return out
    return copy.deepcopy(ctx.config.params)


def sequence_of(item: Item) -> str:
    return str(item.fields.get("sequence", item.key))


# --- grouping -----------------------------------------------------------------------------


def group_objects(item: Item, frames: Sequence[Frame], ctx: WriteContext) -> list[VideoObject]:
    """Instances grouped into objects with stable uuids, in first-appearance order."""
    tracks: dict[str, list[Row]] = {}
    singles: list[VideoObject] = []
    for frame in frames:
        for inst in frame.instances:
            if inst.track_id is None:
                uid = stable_uuid(
                    file_key(inst.source.file), sequence_of(item), inst.source.location
                )
                singles.append(VideoObject(uid, inst.label, [Row(frame, inst)]))
            else:
                tracks.setdefault(inst.track_id, []).append(Row(frame, inst))
    out: list[VideoObject] = []
    minted: list[tuple[str, str, str, int]] = []
    split = ctx.config.prelabel.track_gaps == "split"
    for track_id, rows in tracks.items():
        rows.sort(key=lambda r: r.frame.index)
        label = track_label(track_id, rows, item, ctx)
        for run_no, run in enumerate(runs(rows) if split else [rows]):
            parts: tuple[object, ...] = (
                file_key(rows[0].instance.source.file),
                sequence_of(item),
                track_id,
            )
            uid = stable_uuid(*parts, run_no) if run_no else stable_uuid(*parts)
            out.append(VideoObject(uid, label, run))
            minted.append((str(parts[0]), track_id, uid, run_no))
    ctx.report.record_tracks(ctx.unique_id(item), minted)
    note_gaps(tracks, item, ctx, split)
    return out + singles


def runs(rows: list[Row]) -> list[list[Row]]:
    """Split rows (sorted by frame) where frame indices are not consecutive."""
    out: list[list[Row]] = [[rows[0]]]
    for prev, row in itertools.pairwise(rows):
        if row.frame.index != prev.frame.index + 1:
            out.append([])
        out[-1].append(row)
    return out


def note_gaps(tracks: dict[str, list[Row]], item: Item, ctx: WriteContext, split: bool) -> None:
    gappy = [t for t, rows in tracks.items() if len(runs(rows)) > 1]
    if gappy:
        how = "split into one object per run" if split else "kept whole (one uuid across the gap)"
        ctx.report.note(
            f"{item.key}: {len(gappy)} track(s) with missing frames, {how}: "
            + ", ".join(gappy[:10])
            + (" ..." if len(gappy) > 10 else "")
        )


def track_label(track_id: str, rows: list[Row], item: Item, ctx: WriteContext) -> str:
    """The label of a track: the most common one; a change within the track is noted."""
    counts = Counter(r.instance.label for r in rows)
    label = counts.most_common(1)[0][0]
    if len(counts) > 1:
        seen = ", ".join(f"{k} x{v}" for k, v in counts.most_common())
        ctx.report.note(f"{item.key}: track {track_id} changes label ({seen}); sent as {label!r}")
    return label


# --- fitting, thinning, recording ---------------------------------------------------------


class Fitter:
    """Fits rows of one item without recording them (target per label and bounds cached)."""

    def __init__(self, item: Item, ctx: WriteContext) -> None:
        self.ctx = ctx
        self.bounds = ctx.config.limits.bounds(item.width, item.height)
        self.targets: dict[tuple[str, str], TargetKind | str] = {}

    def __call__(self, row: Row) -> str | None:
        """Fit ``row`` (sets ``row.fitted``); the reason when it has no target geometry."""
        inst = row.instance
        key = (inst.label, inst.geometry.kind)
        target = self.targets.get(key)
        if target is None:
            target = self.targets[key] = choose_target(inst, self.ctx)
        if target not in self.ctx.config.limits.geometries:
            return str(target)
        fit_row(row, target, self.bounds, self.ctx)  # type: ignore[arg-type]
        return None


def fit_row(row: Row, kind: TargetKind, bounds: Bounds | None, ctx: WriteContext) -> None:
    """Run the limits engine on one row; a LimitViolation names the row's source."""
    try:
        row.fitted = fit_geometry(
            row.instance.geometry, kind, ctx.config.limits.geometries[kind], bounds, ctx.policy
        )
    except LimitViolation as exc:
        src = row.instance.source
        raise LimitViolation(exc.reason, path=src.file, location=src.location) from None
    row.kind = kind


def usable(row: Row) -> bool:
    return row.fitted is not None and row.fitted.dropped is None and bool(row.fitted.geometries)


def tolerance(ctx: WriteContext) -> Tolerance:
    options = ctx.config.prelabel
    return Tolerance(options.keyframe_iou, options.keyframe_px)


def thin_object(obj: VideoObject, tol: Tolerance) -> tuple[set[int], Thinning]:
    """Row positions of ``obj`` thinned away (boxes only), and the thinning figures."""
    pos = [
        i
        for i, r in enumerate(obj.rows)
        if usable(r)
        and r.fitted is not None
        and isinstance(r.fitted.geometries[0], Box)
        and len(r.fitted.geometries) == 1
    ]
    if not tol.active or len(pos) < 3:
        return set(), Thinning(total=len(pos), kept=len(pos))
    pairs = [(obj.rows[i].frame.number, obj.rows[i].fitted.geometries[0]) for i in pos]  # type: ignore[union-attr]
    frames, boxes = as_arrays(pairs)
    keep, figures = thin_track(frames, boxes, tol)
    return {p for p, k in zip(pos, keep.tolist(), strict=False) if not k}, figures


def prepare(
    objects: list[VideoObject], item: Item, ctx: WriteContext, task: str
) -> list[VideoObject]:
    """Fit, thin and record every row; returns objects holding only the rows to send."""
    tol = tolerance(ctx)
    total = Thinning()
    out: list[VideoObject] = []
    fit = Fitter(item, ctx)
    for obj in objects:
        for row in obj.rows:
            reason = fit(row)
            if reason is not None:
                ctx.report.dropped(row.instance.source, reason, label=row.instance.label, task=task)
        thinned, figures = thin_object(obj, tol)
        total.add(figures)
        sent = record_rows(obj, thinned, ctx, task)
        if sent:
            out.append(VideoObject(obj.uuid, obj.label, sent))
    if tol.active:
        ctx.report.note(f"{item.key}: {total.describe()}")
    return out


def record_rows(obj: VideoObject, thinned: set[int], ctx: WriteContext, task: str) -> list[Row]:
    """Record each fitted row once (thinned rows as fixed); return the rows to send."""
    sent: list[Row] = []
    for i, row in enumerate(obj.rows):
        if row.fitted is None:
            continue  # no target geometry: recorded as dropped already
        inst = row.instance
        if i in thinned:
            ctx.report.converted(
                inst.source,
                label=inst.label,
                task=task,
                fixes=[*row.fitted.fixes, THINNED],
                flags=row.fitted.flags,
                annotations=0,
            )
            continue
        ctx.record(inst.source, inst.label, task, row.fitted)
        if usable(row):
            sent.append(row)
    return sent


def annotation_of(row: Row, obj: VideoObject, ctx: WriteContext) -> dict[str, Any]:
    """The Scale annotation object of one fitted row (first geometry of the fit)."""
    assert row.fitted is not None and row.kind is not None
    limits = ctx.config.limits.geometries[row.kind]
    return to_annotation(
        row.fitted.geometries[0],
        label=obj.label,
        uuid=obj.uuid,
        attributes=annotation_attributes(row.instance, ctx),
        integer_pixels=limits.integer_pixels,
    )


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
    if not item.fps:
        raise PayloadError(
            "a video attachment needs the video's frame rate to pick task frames: pass --fps "
            "or give a seqinfo.ini with frameRate",
            location=where,
        )
    sampling = VideoSampling.from_params(ctx.config.params, where=where)
    picked = sample_video(len(frames), item.fps, sampling, where=where)
    ctx.report.note(
        f"{item.key}: {len(picked)} task frames at {sampling.frame_rate:g} fps from "
        f"{len(frames)} source frames at {item.fps:g} fps (nearest source frame, halves up)"
    )
    return [frames[i] for i in picked]


def drop_unsampled(item: Item, used: Sequence[Frame], ctx: WriteContext, task: str) -> None:
    """Instances on source frames that are no task frame are dropped, with the reason."""
    chosen = {f.index for f in used}
    for frame in need_video(item):
        if frame.index in chosen:
            continue
        for inst in frame.instances:
            ctx.report.dropped(
                inst.source,
                f"not a task frame: frame {frame.number} falls between frame_rate samples",
                label=inst.label,
                task=task,
            )


def artifact_name(task: str, suffix: str) -> str:
    """``hypothesis/<task as a file name><suffix>`` (:func:`prelabel.output.layout.safe_name`)."""
    return "hypothesis/" + safe_name(task) + suffix


# --- writers ------------------------------------------------------------------------------


def per_frame_list(
    objects: list[VideoObject], used: Sequence[Frame], ctx: WriteContext
) -> list[dict[str, Any]]:
    """Scale's videoannotation response list: one ``{"annotations": [...]}`` per task frame."""
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for obj in objects:
        for row in obj.rows:
            by_frame.setdefault(row.frame.index, []).append(annotation_of(row, obj, ctx))
    return [{"annotations": list(by_frame.get(f.index, []))} for f in used]


def write_video_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The videoannotation body for one video item.

    Prelabels: inline ``base_annotations = {"annotations": [per-frame list]}``, or for
    ``hypothesis`` the per-frame list hosted as an artifact, ``{"annotations": {"url": ref}}``.
    """
    task = ctx.unique_id(item)
    body = body_params(ctx)
    used = task_frames(item, ctx, body)
    body["unique_id"] = task
    if item.tracks is not None:
        from prelabel.tracks.filter import expand
        from prelabel.tracks.hosted import video_frames_json
        from prelabel.tracks.plan import columnar_ok

        if columnar_ok(item, ctx):
            data = video_frames_json(item, used, ctx, task)
            place_frames(body, data, ctx, task)
            return body
        expand(item)
    drop_unsampled(item, used, ctx, task)
    unique = list({f.index: f for f in used}.values())
    objects = prepare(group_objects(item, unique, ctx), item, ctx, task)
    frames = per_frame_list(objects, used, ctx)
    if ctx.config.prelabel.prelabel_as == "base_annotations":
        ctx.place(body, {"annotations": frames})
    else:
        ref = ctx.artifacts.add(artifact_name(task, ".json"), orjson.dumps(frames))
        ctx.place(body, {"annotations": {"url": ref}})
    return body


def place_frames(body: dict[str, Any], data: bytes, ctx: WriteContext, task: str) -> None:
    """Put the serialized per-frame list inline (base_annotations) or hosted (hypothesis)."""
    if ctx.config.prelabel.prelabel_as == "base_annotations":
        ctx.place(body, {"annotations": orjson.loads(data)})
    else:
        ref = ctx.artifacts.add(artifact_name(task, ".json"), data)
        ctx.place(body, {"annotations": {"url": ref}})


def playback_frame(row: Row, obj: VideoObject, ctx: WriteContext, fps: float) -> dict[str, Any]:
    """One frame entry of a videoplayback hypothesis object."""
    assert row.fitted is not None and row.kind is not None
    integer = ctx.config.limits.geometries[row.kind].integer_pixels
    geometry = geometry_fields(row.fitted.geometries[0], integer_pixels=integer)
    geometry.pop("type")
    stamp = row.frame.timestamp if row.frame.timestamp is not None else row.frame.index / fps
    out: dict[str, Any] = {
        "key": row.frame.index + ctx.config.prelabel.frame_key_base,
        "timestamp": round(stamp, 6),
        **geometry,
    }
    attributes = annotation_attributes(row.instance, ctx)
    if attributes:
        out["attributes"] = attributes
    return out


def playback_hypothesis(
    objects: list[VideoObject], ctx: WriteContext, fps: float
) -> dict[str, Any]:
    """The hosted videoplayback hypothesis: ``{uuid: {label, geometry, frames}}``."""
    out: dict[str, Any] = {}
    for obj in objects:
        kind = obj.rows[0].kind
        out[obj.uuid] = {
            "label": obj.label,
            "geometry": kind,
            "frames": [playback_frame(r, obj, ctx, fps) for r in obj.rows if r.kind == kind],
        }
    return out


def write_videoplayback_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The videoplaybackannotation body for one video item.

    The hypothesis is hosted: ``hypothesis = {"annotations": {"url": ref}}`` with the
    uuid-keyed file written as an artifact.
    """
    task = ctx.unique_id(item)
    frames = need_video(item)
    fps = item.fps or ctx.config.params.get("video_frame_rate")
    if not fps:
        raise PayloadError(
            "videoplaybackannotation frames carry timestamps: pass --fps or give a seqinfo.ini "
            "with frameRate",
            location=f"item {item.key}",
        )
    body = body_params(ctx)
    if attachment_type(ctx, "video") == "image":
        body["attachments"] = frame_urls(item, ctx)
        body["attachment_type"] = "image"
    else:
        body["attachment"] = ctx.attachment(item)
    body["unique_id"] = task
    if item.tracks is not None:
        from prelabel.tracks.filter import expand
        from prelabel.tracks.hosted import add_artifact, playback_json
        from prelabel.tracks.plan import columnar_ok

        if columnar_ok(item, ctx):
            chunks = playback_json(item, ctx, task, float(fps))
            ref = add_artifact(ctx.artifacts, artifact_name(task, ".json"), chunks)
            ctx.place(body, {"annotations": {"url": ref}})
            return body
        expand(item)
    objects = prepare(group_objects(item, frames, ctx), item, ctx, task)
    data = orjson.dumps(playback_hypothesis(objects, ctx, float(fps)))
    ref = ctx.artifacts.add(artifact_name(task, ".json"), data)
    ctx.place(body, {"annotations": {"url": ref}})
    return body
