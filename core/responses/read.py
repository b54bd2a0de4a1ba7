"""A completed Scale task object → the line ``prelabel import`` writes to ``FINAL/tasks.jsonl``.

The final line has the shape of a converted one, ``{"task_type", "body", "task_id",
"status"}``, with the final labels in ``body.hypothesis`` in the very shape prelabels are sent
(a task's hypothesis mirrors its response), so previews, the review page and ``score`` read
both sides the same way. Hosted files are downloaded once into ``artifacts/downloads/`` and
named ``artifact://downloads/...``. Per family (scale-api.md §2.2, §3.4, §4):

* image tasks: ``response.annotations`` inline. Legacy single-geometry tasks
  (``annotation``, ``polygonannotation``, ``lineannotation``, ``pointannotation``,
  ``cuboidannotation``) carry no ``type``: it is set from the task type; an annotation with
  no ``uuid`` gets a uuid5 of the task_id and its position (noted);
* ``segmentannotation``: ``labelMapping`` plus ``combined.indexedImage`` (or
  ``combined.extendedIndexedImage`` when an index exceeds 255 or there is no 8-bit one),
  downloaded;
* ``videoannotation`` / ``videoplaybackannotation``: ``annotations.url`` downloaded (and
  ``events.url`` when present).

A completed task without ``response`` imports with no labels (noted). A task whose type
is unknown (a callback with an empty ``task``) gets it from its response: ``labelMapping`` →
segmentation, an ``annotations`` list → image, a hosted file holding a list → video, an
object → videoplayback.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from prelabel.geometry.indexed import MAX_8BIT
from prelabel.output.artifacts import ARTIFACT_SCHEME
from prelabel.output.layout import safe_name
from prelabel.output.tasks import TaskLine
from prelabel.responses.fetch import Downloads
from prelabel.responses.local import FAMILIES, LEGACY_TYPES, segment_entries

PRELABEL_KEYS = ("hypothesis", "base_annotations")
TOP_LEVEL = ("project", "batch", "instruction", "callback_url", "metadata", "tags", "priority")


class Unsupported(Exception):
    """This task cannot be imported (its type carries no labels prelabel reads)."""


@dataclass(slots=True)
class FinalTask:
    """One imported task."""

    task_id: str
    unique_id: str
    task_type: str
    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def line(self) -> dict[str, Any]:
        return {"task_type": self.task_type, "body": self.body, "task_id": self.task_id,
                "status": "completed"}  # fmt: skip


def final_task(task: dict[str, Any], sent: TaskLine | None, downloads: Downloads) -> FinalTask:
    """The final line of one completed task (``sent``: the converted line it came from).

    Raises:
        Unsupported: a task type with nothing to import (e.g. categorization).
        SubmitError: a hosted file could not be downloaded.
    """
    task_id = str(task.get("task_id") or "")
    response = task.get("response")
    notes = [] if isinstance(response, dict) else ["completed without a response: no labels"]
    response = response if isinstance(response, dict) else {}
    task_type = sent.task_type if sent is not None else task_type_of(task, response, downloads)
    family = FAMILIES.get(task_type)
    if family is None:
        raise Unsupported(f"task type {task_type!r} has no labels to import")
    if family == "image":
        hyp = image_prelabels(task, response, notes)
    elif family == "segment":
        hyp = segment_prelabels(response, downloads, notes)
    else:
        hyp = video_prelabels(response, downloads, task_id)
    body = base_body(task, sent)
    body["hypothesis"] = hyp
    out_type = "imageannotation" if family == "image" else task_type
    if task.get("type") in LEGACY_TYPES:
        notes.append(
            f"legacy {task['type']} task read as imageannotation {LEGACY_TYPES[task['type']]}s"
        )
    return FinalTask(task_id, str(body["unique_id"]), out_type, body, notes)


def task_type_of(task: dict[str, Any], response: dict[str, Any], downloads: Downloads) -> str:
    """The task's type, from the task object or (callbacks without one) from the response."""
    kind = task.get("type")
    if isinstance(kind, str) and kind:
        return kind
    if "labelMapping" in response:
        return "segmentannotation"
    value = response.get("annotations")
    if isinstance(value, list):
        return "imageannotation"
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        name = downloads.get(value["url"], ".json")
        data = orjson.loads((downloads.root.parent / name).read_bytes())
        return "videoannotation" if _is_frame_list(data) else "videoplaybackannotation"
    raise Unsupported("cannot tell the task type from the response")


def _is_frame_list(data: Any) -> bool:
    return isinstance(data, list) and (
        not data or not isinstance(data[0], dict) or isinstance(data[0].get("annotations"), list)
    )


def base_body(task: dict[str, Any], sent: TaskLine | None) -> dict[str, Any]:
    """The body without prelabels: the sent one, else the task's params and fields."""
    if sent is not None:
        return {k: v for k, v in sent.body.items() if k not in PRELABEL_KEYS}
    params = task.get("params") if isinstance(task.get("params"), dict) else {}
    body = {k: v for k, v in (params or {}).items() if k not in PRELABEL_KEYS}
    body.update({k: task[k] for k in TOP_LEVEL if task.get(k) is not None})
    body["unique_id"] = str(task.get("unique_id") or task.get("task_id") or "task")
    return body


# --- per family -------------------------------------------------------------------------


def image_prelabels(
    task: dict[str, Any], response: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    """``{"annotations": [...]}`` with ``type`` and ``uuid`` on every annotation."""
    legacy = LEGACY_TYPES.get(str(task.get("type")))
    out: list[dict[str, Any]] = []
    minted = 0
    for n, item in enumerate(response.get("annotations") or []):
        if not isinstance(item, dict):
            continue
        a = dict(item)
        a.setdefault("type", legacy or guess_type(a))
        if not a.get("uuid"):
            a["uuid"] = str(
                uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"scale-task:{task.get('task_id')}/{n}")
            )
            minted += 1
        out.append(a)
    if minted:
        notes.append(f"{minted} annotation(s) had no uuid: given uuid5(task_id, position)")
    hyp: dict[str, Any] = {"annotations": out}
    for key in ("global_attributes", "links"):
        if key in response:
            hyp[key] = response[key]
    return hyp


def guess_type(a: dict[str, Any]) -> str:
    """The geometry of an annotation without ``type``, from its fields."""
    if "left" in a:
        return "box"
    if "vertices" in a:
        return "polygon"
    return "point" if "x" in a else "unknown"


def segment_prelabels(
    response: dict[str, Any], downloads: Downloads, notes: list[str]
) -> dict[str, Any]:
    """``labelMapping`` and the downloaded index PNG."""
    combined = (response.get("annotations") or {}).get("combined") or {}
    top = max((e.index for e in segment_entries(response.get("labelMapping"))), default=0)
    wide = top > MAX_8BIT or not combined.get("indexedImage")
    key = (
        "extendedIndexedImage" if wide and combined.get("extendedIndexedImage") else "indexedImage"
    )
    hyp: dict[str, Any] = {"labelMapping": response.get("labelMapping") or {}, "annotations": {}}
    url = combined.get(key)
    if not isinstance(url, str):
        notes.append("no indexedImage in the response: no mask")
        return hyp
    name = downloads.get(url, ".png")
    hyp["annotations"] = {"combined": {key: ARTIFACT_SCHEME + name}}
    return hyp


def video_prelabels(response: dict[str, Any], downloads: Downloads, task_id: str) -> dict[str, Any]:
    """``{"annotations": {"url": artifact}}`` (and ``events``) for either video type."""
    hyp: dict[str, Any] = {}
    for key in ("annotations", "events"):
        value = response.get(key)
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            hyp[key] = {"url": ARTIFACT_SCHEME + downloads.get(value["url"], ".json")}
        elif isinstance(value, (list, dict)):  # inline: kept as a file like a hosted one
            name = f"inline/{safe_name(task_id)}.{key}.json"
            path = downloads.root.parent / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(value))
            hyp[key] = {"url": ARTIFACT_SCHEME + name}
    hyp.setdefault("annotations", {})
    return hyp


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG header, None when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError):
        return None
