"""COCO-video: CocoVID / YouTube-VIS dataset files and mmtracking ``track_bboxes`` results.

One video item per video; frames in ``frame_id`` order (``Frame.number`` = ``frame_id``,
fields ``file_name``, ``frame``, ``id``); instances carry ``track_id`` = str(instance_id) or
the tracker's track id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prelabel.converters.coco.common import (
    Category,
    CocoRun,
    check_size,
    id_key,
    keypoint_count,
    load_json,
    used_labels,
)
from prelabel.converters.coco.dataset import (
    annotation_instances,
    annotation_kinds,
    dataset_categories,
    group_annotations,
    list_field,
)
from prelabel.converters.coco.geometry import Sink, check_coordinates, is_number, rle_mask
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Box, Dataset, Dropped, Frame, Instance, Item, SourceRef


@dataclass(slots=True)
class Video:
    """One video of a CocoVID file: its entry and its images in frame order."""

    entry: Mapping[str, Any]
    frames: list[Mapping[str, Any]]


def cocovid_videos(path: str, data: Mapping[str, Any]) -> dict[str, Video]:
    """Videos keyed by str(id), each with its images sorted by ``frame_id``."""
    videos: dict[str, Video] = {}
    for n, entry in enumerate(list_field(data, "videos", path)):
        where = f"videos[{n}]"
        if not isinstance(entry, Mapping):
            raise InputError("a video must be an object", path=path, location=where)
        check_size(entry.get("width"), entry.get("height"), path=path, location=where)
        videos[id_key(entry.get("id"), path=path, location=where)] = Video(entry, [])
    for n, img in enumerate(list_field(data, "images", path)):
        where = f"images[{n}]"
        if not isinstance(img, Mapping) or "id" not in img:
            raise InputError("an image needs an id", path=path, location=where)
        vid = id_key(img.get("video_id"), path=path, location=where, what="video_id")
        if vid not in videos:
            raise InputError(
                f"video_id {img['video_id']} is not in videos", path=path, location=where
            )
        check_size(img.get("width"), img.get("height"), path=path, location=where)
        frame = img.get("frame_id")
        if isinstance(frame, bool) or not isinstance(frame, int):
            raise InputError(
                f"frame_id must be an integer, got {frame!r}", path=path, location=where
            )
        videos[vid].frames.append(img)
    for video in videos.values():
        video.frames.sort(key=lambda img: int(img["frame_id"]))
    return videos


def video_item(key: str, video: Video, fps: float | None = None) -> Item:
    """An empty video item with its frames (instances are added by the caller).

    The frame rate is ``fps`` if given, else the video's own ``fps`` field; with one,
    frame timestamps are ``(frame_id - first frame_id) / fps``.
    """
    name = str(video.entry.get("name") or key)
    own: Any = video.entry.get("fps")
    fps = fps or (float(own) if is_number(own) and own > 0 else None)
    first = video.frames[0] if video.frames else {}
    width = video.entry.get("width") or first.get("width")
    height = video.entry.get("height") or first.get("height")
    start = int(video.frames[0]["frame_id"]) if video.frames else 0
    frames = [
        Frame(
            index=i,
            number=int(img["frame_id"]),
            timestamp=(int(img["frame_id"]) - start) / fps if fps else None,
            fields={"file_name": img.get("file_name"), "frame": img["frame_id"], "id": img["id"]},
        )
        for i, img in enumerate(video.frames)
    ]
    fields = {"id": video.entry.get("id", key), "name": name, "stem": name, "sequence": name}
    return Item(key=key, fields=fields, width=width, height=height, frames=frames, fps=fps)


def read_cocovid(
    path: str, data: Mapping[str, Any], opts: CocoRun, dropped: list[Dropped]
) -> Dataset:
    """A CocoVID / YouTube-VIS file -> one video item per video, tracks by ``instance_id``."""
    cats = dataset_categories(path, data, opts)
    videos = cocovid_videos(path, data)
    frame_of = {
        str(img["id"]): (vid, i) for vid, v in videos.items() for i, img in enumerate(v.frames)
    }
    anns = list_field(data, "annotations", path)
    groups = group_annotations(path, anns, frame_of, cats)
    used = {str(a["category_id"]) for a in anns}
    notes = [f"{path}: CocoVID / YouTube-VIS file, {len(videos)} videos, {len(anns)} annotations"]
    return Dataset(
        format="coco",
        items=_video_items(path, videos, frame_of, groups, anns, cats, dropped, opts.fps),
        labels=used_labels(cats, used, max(map(keypoint_count, anns), default=0)),
        notes=notes,
        kinds=annotation_kinds(anns),
    )


def _video_items(
    path: str,
    videos: dict[str, Video],
    frame_of: dict[str, tuple[str, int]],
    groups: dict[str, list[int]],
    anns: list[Any],
    cats: Mapping[str, Category],
    dropped: list[Dropped],
    fps: float | None,
) -> Iterator[Item]:
    for key, video in videos.items():
        item = video_item(key, video, fps)
        assert item.frames is not None
        sink = Sink(dropped)
        for img in video.frames:
            frame = item.frames[frame_of[str(img["id"])][1]]
            size = (img["height"], img["width"]) if img.get("height") and img.get("width") else None
            for i in groups.get(str(img["id"]), ()):
                for inst in annotation_instances(
                    anns[i], path, f"annotations[{i}]", i, size, cats, sink
                ):
                    track = anns[i].get("instance_id")
                    inst.track_id = str(track) if track is not None else None
                    frame.instances.append(inst)
        item.notes.extend(sink.notes)
        yield item


def read_track_results(
    path: str, data: Mapping[str, Any], opts: CocoRun, dropped: list[Dropped]
) -> Dataset:
    """mmtracking ``{"track_bboxes": [frame][class][[id, x1, y1, x2, y2, score]], "track_masks"}``."""
    boxes = data.get("track_bboxes")
    masks = data.get("track_masks")
    if not isinstance(boxes, list) or (masks is not None and not isinstance(masks, list)):
        raise InputError("track_bboxes (and track_masks) must be lists of frames", path=path)
    videos, cats, source = _track_videos(path, len(boxes), opts)
    names = [c.name for c in cats.values()]
    notes = [f"{path}: mmtracking results, {len(boxes)} frames; {source}"]
    if not names:
        notes.append(f"{path}: no category names given: labels are class indices (0-based)")
    kinds = {"mask"} if masks else {"box"}
    return Dataset(
        format="coco",
        items=_track_items(path, videos, boxes, masks, names, opts.fps),
        labels=used_labels(cats, cats),
        notes=notes,
        kinds=kinds,
    )


def _track_videos(
    path: str, frames: int, opts: CocoRun
) -> tuple[dict[str, Video], dict[str, Category], str]:
    if opts.images:
        ann = load_json(opts.images)
        if not isinstance(ann, Mapping) or "videos" not in ann:
            raise InputError("mmtracking results need --images the CocoVID file", path=opts.images)
        videos = cocovid_videos(opts.images, ann)
        count = sum(len(v.frames) for v in videos.values())
        if count != frames:
            raise InputError(
                f"{frames} result frames, but {opts.images} has {count} images", path=path
            )
        return videos, dataset_categories(opts.images, ann, opts), f"videos from {opts.images}"
    if opts.image_size:
        w, h = opts.image_size
        stem = Path(path).stem
        imgs: list[Mapping[str, Any]] = [
            {"id": i, "frame_id": i, "file_name": f"{i:06d}.jpg"} for i in range(frames)
        ]
        video = Video({"id": stem, "name": stem, "width": w, "height": h}, imgs)
        return {stem: video}, dict(opts.schema), f"one video of {frames} frames, {w}x{h}"
    raise InputError(
        "mmtracking results need --images (the CocoVID file the tracker ran on) or --image-size",
        path=path,
    )


def _track_items(
    path: str,
    videos: dict[str, Video],
    boxes: list[Any],
    masks: list[Any] | None,
    names: list[str],
    fps: float | None,
) -> Iterator[Item]:
    g = 0
    for key, video in videos.items():
        item = video_item(key, video, fps)
        assert item.frames is not None
        for frame in item.frames:
            frame_masks = masks[g] if masks is not None and g < len(masks) else None
            frame.instances.extend(_frame_tracks(path, g, boxes[g], frame_masks, names, item))
            g += 1
        yield item


def _frame_tracks(
    path: str, g: int, per_class: Any, masks: Any, names: list[str], item: Item
) -> list[Instance]:
    if not isinstance(per_class, list):
        raise InvalidAnnotationError(
            "a frame must be a list of classes", path=path, location=f"track_bboxes[{g}]"
        )
    out = []
    for c, rows in enumerate(per_class):
        for r, row in enumerate(rows):
            where = f"track_bboxes[{g}][{c}][{r}]"
            if not (isinstance(row, list) and len(row) == 6 and all(is_number(v) for v in row)):
                raise InvalidAnnotationError(
                    f"expected [track_id, x1, y1, x2, y2, score], got {row!r}",
                    path=path,
                    location=where,
                )
            if names and c >= len(names):
                raise InvalidAnnotationError(
                    f"class index {c} has no category", path=path, location=where
                )
            ref = SourceRef(path, where)
            check_coordinates(row[1:5], "box", ref)
            track_id, x1, y1, x2, y2, score = row
            geometry: Any = Box(x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1))
            if masks is not None:
                size = (item.height, item.width) if item.height and item.width else None
                geometry = rle_mask(
                    masks[c][r], ref=SourceRef(path, f"track_masks[{g}][{c}][{r}]"), size=size
                )
            tid = str(int(track_id))
            out.append(
                Instance(
                    names[c] if names else str(c),
                    geometry,
                    ref,
                    score=float(score),
                    track_id=tid,
                    instance_id=tid,
                )
            )
    return out
