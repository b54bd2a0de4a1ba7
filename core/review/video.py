"""Previews of video tasks: contact sheets and annotated MP4s, for :mod:`prelabel.review.preview`.

:func:`video_frames` turns a ``videoannotation`` body (one annotation list a frame) or a
``videoplaybackannotation`` body (objects with keyframes, possibly in a hosted JSON
artifact) into per-frame annotation lists; objects are numbered by first appearance
(:func:`track_numbers`). :func:`render_video_task` draws up to a dozen evenly sampled frames
as captioned tiles in a grid with the legend, and :func:`write_mp4` writes every frame to an
``mp4v`` video. Split out of ``preview.py``; the names stay importable from there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from prelabel.review.draw import FONT, Colours, draw_annotation, prelabels
from prelabel.review.legend import CANVAS_GREY, Legend, canvas, with_legend
from prelabel.review.load import Image, ImageFinder, OutputDir, Task, read_image

TILE_WIDTH = 320
SHEET_COLUMNS = 4


def video_frames(out: OutputDir, task: Task) -> list[list[dict[str, Any]]]:
    """Per task frame, the annotations on it (each with its object's ``uuid``)."""
    annotations = prelabels(task.body)
    if isinstance(annotations, dict) and "url" in annotations:
        annotations = out.load_json(annotations["url"])
    if isinstance(annotations, list):  # videoannotation: one {"annotations": [...]} a frame
        return [list(f.get("annotations", [])) if isinstance(f, dict) else [] for f in annotations]
    frames: dict[int, list[dict[str, Any]]] = {}
    if isinstance(annotations, dict):  # videoplayback: {uuid: {label, geometry, frames}}
        for uuid, obj in annotations.items():
            for fr in obj.get("frames", []) if isinstance(obj, dict) else []:
                a = {
                    **fr,
                    "type": obj.get("geometry", "box"),
                    "label": obj.get("label"),
                    "uuid": uuid,
                }
                frames.setdefault(int(fr.get("key", 0)), []).append(a)
    count = max(frames, default=-1) + 1
    return [frames.get(i, []) for i in range(count)]


def track_numbers(frames: list[list[dict[str, Any]]]) -> dict[str, int]:
    """A short number per object uuid, in order of first appearance."""
    out: dict[str, int] = {}
    for frame in frames:
        for a in frame:
            out.setdefault(str(a.get("uuid")), len(out) + 1)
    return out


def sample_indices(count: int, wanted: int) -> list[int]:
    """Up to ``wanted`` frame indices spread evenly over ``count`` frames."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def draw_frame(
    image: Image | None,
    anns: list[dict[str, Any]],
    numbers: dict[str, int],
    size: tuple[int | None, int | None],
    colours: Colours,
) -> tuple[Image, float]:
    """One video frame at full display scale with its annotations and track numbers."""
    img, scale, _ = canvas(image, size[0], size[1], "")
    for a in anns:
        draw_annotation(img, a, scale, colours, prefix=f"#{numbers.get(str(a.get('uuid')), 0)} ")
    return img, scale


def _tile(img: Image, caption: str) -> Image:
    h = max(1, round(img.shape[0] * TILE_WIDTH / img.shape[1]))
    tile = cv2.resize(img, (TILE_WIDTH, h), interpolation=cv2.INTER_AREA)
    out = np.full((h + 18, TILE_WIDTH, 3), 255, dtype=np.uint8)
    out[18:] = tile
    cv2.putText(out, caption, (4, 13), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _grid(tiles: list[Image]) -> Image:
    h = max(t.shape[0] for t in tiles)
    cols = min(SHEET_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.full((rows * (h + 4), cols * (TILE_WIDTH + 4), 3), 255, dtype=np.uint8)
    for n, t in enumerate(tiles):
        r, c = divmod(n, cols)
        sheet[
            r * (h + 4) : r * (h + 4) + t.shape[0],
            c * (TILE_WIDTH + 4) : c * (TILE_WIDTH + 4) + TILE_WIDTH,
        ] = t
    return sheet


def frame_urls(task: Task, count: int) -> list[Any]:
    urls = task.body.get("attachments")
    if isinstance(urls, list):
        return urls + [None] * max(0, count - len(urls))
    return [None] * count


def render_video_task(
    out: OutputDir, task: Task, finder: ImageFinder, *, samples: int = 12
) -> tuple[Image, bool]:
    """A contact sheet: up to ``samples`` frames in a grid, objects numbered by track."""
    frames = video_frames(out, task)
    urls = frame_urls(task, len(frames))
    frames += [[] for _ in range(len(urls) - len(frames))]
    numbers = track_numbers(frames)
    legend = Legend(Colours(task.body))
    legend.add_records(out.records(task.unique_id))
    tiles, found = [], 0
    for i in sample_indices(len(frames), samples):
        path = finder.find(urls[i])
        found += path is not None
        size = (task.width, task.height)
        img, _ = draw_frame(read_image(path), frames[i], numbers, size, legend.colours)
        tiles.append(_tile(img, f"frame {i}" + ("" if path else " (no image)")))
    for frame in frames:
        legend.labels.update(str(a.get("label", "?")) for a in frame)
    legend.notes.append(f"{len(numbers)} track(s), {len(frames)} frame(s), {len(tiles)} shown")
    if tiles and not found:
        legend.notes.append("frame images not found under --images")
    sheet = _grid(tiles) if tiles else np.full((240, TILE_WIDTH, 3), CANVAS_GREY, dtype=np.uint8)
    return with_legend(sheet, legend, task.unique_id), found > 0


def write_mp4(out: OutputDir, task: Task, finder: ImageFinder, path: Path) -> Path:
    """An annotated MP4 of every frame of a video task (OpenCV ``mp4v``)."""
    frames = video_frames(out, task)
    urls = frame_urls(task, len(frames))
    frames += [[] for _ in range(len(urls) - len(frames))]
    numbers = track_numbers(frames)
    colours = Colours(task.body)
    fps = float(task.body.get("frame_rate") or 5)
    writer: Any = None
    try:
        for i, anns in enumerate(frames):
            image = read_image(finder.find(urls[i]))
            img, _ = draw_frame(image, anns, numbers, (task.width, task.height), colours)
            if writer is None:
                size = (img.shape[1] - img.shape[1] % 2, img.shape[0] - img.shape[0] % 2)
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
            writer.write(np.ascontiguousarray(img[: size[1], : size[0]]))
    finally:
        if writer is not None:
            writer.release()
    return path
