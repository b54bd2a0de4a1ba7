"""A directory of tasks on disk — what ``convert`` wrote (the prelabels sent) or what
``import`` wrote (the final labels) — read into plain content per task.

Both directories have the same contract: ``tasks.jsonl`` (``{"task_type", "body"}`` a line),
``artifacts/`` (files the bodies reference as ``artifact://NAME`` or by a hosted URL whose
path ends with the file's name) and ``report.json`` (``tasks[]``: unique_id, item key, image
size, tracker-id → uuid map). :meth:`LocalDir.content` reads a task's prelabels (``hypothesis``
or ``base_annotations``) into a :class:`Content`: image annotations, segments and their index
array, per-frame video annotations, or videoplayback objects keyed by uuid.

The Scale file shapes the documentation disagrees on are all read: a videoplayback file as
the uuid-keyed object, wrapped in ``{"annotations": ...}``, or in a one-element list of that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.errors import InputError
from prelabel.geometry.indexed import decode_index_png
from prelabel.output.artifacts import ARTIFACT_SCHEME
from prelabel.output.report import read_report
from prelabel.output.tasks import TaskLine, read_tasks

# task types by the content family they share
FAMILIES: dict[str, str] = {
    "imageannotation": "image",
    "annotation": "image",
    "polygonannotation": "image",
    "lineannotation": "image",
    "pointannotation": "image",
    "cuboidannotation": "image",
    "segmentannotation": "segment",
    "videoannotation": "video",
    "videoplaybackannotation": "playback",
}
# the geometry a legacy single-geometry task type's annotations have (no ``type`` field)
LEGACY_TYPES: dict[str, str] = {
    "annotation": "box",
    "polygonannotation": "polygon",
    "lineannotation": "line",
    "pointannotation": "point",
    "cuboidannotation": "cuboid",
}


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """One labelMapping entry."""

    index: int
    label: str
    instance: bool


@dataclass(slots=True)
class Content:
    """A task's labels, by family (only the fields of its family are filled)."""

    family: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    segments: list[SegmentEntry] = field(default_factory=list)
    index: npt.NDArray[np.int64] | None = None
    frames: list[list[dict[str, Any]]] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def prelabel_field(body: dict[str, Any]) -> dict[str, Any]:
    """The body's prelabels: ``hypothesis``, else ``base_annotations``, else empty."""
    for key in ("hypothesis", "base_annotations"):
        if isinstance(body.get(key), dict):
            value: dict[str, Any] = body[key]
            return value
    return {}


def segment_entries(mapping: Any) -> list[SegmentEntry]:
    """labelMapping entries in index order (a dict per plain label, a list per instance label)."""
    out: list[SegmentEntry] = []
    for label, value in mapping.items() if isinstance(mapping, dict) else []:
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                out.append(SegmentEntry(entry["index"], str(label), isinstance(value, list)))
    return sorted(out, key=lambda e: e.index)


def playback_objects(value: Any) -> dict[str, dict[str, Any]]:
    """A videoplayback annotations file as ``{uuid: {label, geometry, frames}}``."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and isinstance(value.get("annotations"), dict):
        value = value["annotations"]
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def video_frames(value: Any) -> list[list[dict[str, Any]]]:
    """A videoannotation per-frame list as one annotation list per task frame."""
    if isinstance(value, dict) and isinstance(value.get("annotations"), list):
        value = value["annotations"]
    if not isinstance(value, list):
        return []
    return [
        [a for a in f.get("annotations") or [] if isinstance(a, dict)]
        for f in value
        if isinstance(f, dict)
    ]


class LocalDir:
    """A directory written by ``prelabel convert`` or ``prelabel import``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError("no such directory", path=self.root)
        self.tasks: list[TaskLine] = read_tasks(self.root)
        self.by_uid = {t.unique_id: t for t in self.tasks}
        self.report = read_report(self.root)  # a sharded directory's shards as one
        entries = self.report.get("tasks") if isinstance(self.report, dict) else None
        self.info: dict[str, dict[str, Any]] = {
            str(t.get("unique_id")): t for t in entries or [] if isinstance(t, dict)
        }
        self._files: list[tuple[str, Path]] | None = None

    def artifact(self, ref: Any) -> Path | None:
        """The file under ``artifacts/`` a reference names (``artifact://NAME``, or a hosted
        URL whose path ends with the file's relative name; the longest such wins)."""
        if not isinstance(ref, str):
            return None
        base = self.root / "artifacts"
        if ref.startswith(ARTIFACT_SCHEME):
            path = base / ref[len(ARTIFACT_SCHEME) :]
            return path if path.is_file() else None
        if self._files is None:
            found = [p for p in base.rglob("*") if p.is_file()] if base.is_dir() else []
            named = [(p.relative_to(base).as_posix(), p) for p in found]
            self._files = sorted(named, key=lambda item: -len(item[0]))
        url_path = unquote(urlsplit(ref).path)
        return next((p for name, p in self._files if url_path.endswith("/" + name)), None)

    def read(self, ref: Any, task: TaskLine) -> bytes:
        """The bytes of a referenced artifact, or an error naming the task."""
        path = self.artifact(ref)
        if path is None:
            raise InputError(
                f"task {task.unique_id}: {ref!r} is not a file under artifacts/",
                path=self.root / task.file,
                location=f"line {task.line}",
            )
        return path.read_bytes()

    def content(self, task: TaskLine) -> Content:
        """A task's prelabels (or final labels) as plain content."""
        family = FAMILIES.get(task.task_type, "image")
        hyp = prelabel_field(task.body)
        out = Content(family)
        if family == "image":
            out.annotations = [a for a in hyp.get("annotations") or [] if isinstance(a, dict)]
        elif family == "segment":
            self._segment(task, hyp, out)
        else:
            value = hyp.get("annotations")
            if isinstance(value, dict) and "url" in value:
                value = orjson.loads(self.read(value["url"], task))
            if family == "video":
                out.frames = video_frames(value)
            else:
                out.objects = playback_objects(value)
        return out

    def _segment(self, task: TaskLine, hyp: dict[str, Any], out: Content) -> None:
        out.segments = segment_entries(hyp.get("labelMapping"))
        combined = (hyp.get("annotations") or {}).get("combined") or {}
        ref = combined.get("extendedIndexedImage") or combined.get("indexedImage")
        if ref is not None:
            out.index = decode_index_png(self.read(ref, task), where=str(ref))
