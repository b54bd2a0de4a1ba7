"""Final video labels → MOTChallenge txt and a per-frame JSON, with the tracker's own ids.

Per task (file stem = the item key, e.g. the sequence name):

* ``mot/<key>.txt`` — ``frame,id,left,top,width,height,1,-1,-1,-1`` a row (MOT15 ground-truth
  columns; confidence 1: these are final labels), sorted by frame then id. A non-box geometry
  writes its bounding box.
* ``frames/<key>.json`` — ``[{"frame", "objects": [{"track_id", "uuid", "label", "left",
  "top", "width", "height", "type", "attributes"?}]}]``, every frame with an object.

Track ids: each uuid is joined back to the tracker's id through the map ``convert`` keeps in
``report.json`` (``tasks[].tracks``: source, track_id, uuid, run); a track split at gaps
(several uuids) gets its one id back. Objects the labelers added have no tracker id: they
get the next free integers, in order of first appearance (noted).

Frame numbers: ``videoannotation`` task frame ``p`` (0-based position in the list) is frame
``first_frame + p``; a ``videoplaybackannotation`` frame ``key`` is frame ``first_frame +
key - frame_key_base``. The defaults (``first_frame`` 1, ``frame_key_base`` 0) are MOT's
1-based numbering and ``convert``'s default key base; KITTI sequences start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from prelabel.output.layout import safe_name
from prelabel.responses.coco import bbox_of, points
from prelabel.responses.local import FAMILIES, Content, LocalDir


@dataclass(frozen=True, slots=True)
class Frames:
    """How task frames map to the source's frame numbers."""

    first_frame: int = 1
    frame_key_base: int = 0


@dataclass(slots=True)
class Row:
    frame: int
    uuid: str
    label: str
    annotation: dict[str, Any]


def rows_of(content: Content, frames: Frames) -> list[Row]:
    """Every (frame number, object) of a video task's final labels."""
    out: list[Row] = []
    if content.family == "video":
        for pos, annotations in enumerate(content.frames):
            for a in annotations:
                out.append(
                    Row(frames.first_frame + pos, str(a.get("uuid")), str(a.get("label", "")), a)
                )
        return out
    for uid, obj in content.objects.items():
        geometry = obj.get("geometry")
        for f in obj.get("frames") or []:
            if isinstance(f, dict) and isinstance(f.get("key"), (int, float)):
                number = frames.first_frame + int(f["key"]) - frames.frame_key_base
                a = {"type": geometry, **f}
                out.append(Row(number, uid, str(obj.get("label", "")), a))
    return out


def track_ids(
    rows: list[Row], tracks: list[dict[str, Any]], notes: list[str], where: str
) -> dict[str, int]:
    """uuid → MOT id: the tracker's id where the map has the uuid, else the next free ints."""
    known = {str(t.get("uuid")): str(t.get("track_id")) for t in tracks if isinstance(t, dict)}
    ids: dict[str, int] = {}
    for uid, tid in known.items():
        if tid.lstrip("-").isdigit():
            ids[uid] = int(tid)
    new = [r.uuid for r in rows if r.uuid not in ids]
    next_id = max(ids.values(), default=0) + 1
    for uid in dict.fromkeys(new):
        ids[uid] = next_id
        next_id += 1
    added = len(dict.fromkeys(new))
    if added:
        notes.append(
            f"{where}: {added} track(s) without a tracker id (added by labelers) got ids from {next_id - added}"
        )
    return ids


def number(value: Any) -> str:
    """A coordinate as text: whole numbers without a decimal point, others as Python writes them."""
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


def box_of(a: dict[str, Any]) -> list[Any]:
    if "left" in a and "width" in a:
        return [a["left"], a["top"], a["width"], a["height"]]
    return bbox_of(points(a))


def mot_text(rows: list[Row], ids: dict[str, int]) -> str:
    lines = []
    for r in sorted(rows, key=lambda r: (r.frame, ids[r.uuid])):
        box = ",".join(number(v) for v in box_of(r.annotation))
        lines.append(f"{r.frame},{ids[r.uuid]},{box},1,-1,-1,-1")
    return "".join(line + "\n" for line in lines)


def frames_json(rows: list[Row], ids: dict[str, int]) -> list[dict[str, Any]]:
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: (r.frame, ids[r.uuid])):
        left, top, width, height = box_of(r.annotation)
        obj = {"track_id": ids[r.uuid], "uuid": r.uuid, "label": r.label, "left": left,
               "top": top, "width": width, "height": height, "type": r.annotation.get("type")}  # fmt: skip
        if r.annotation.get("attributes"):
            obj["attributes"] = r.annotation["attributes"]
        by_frame.setdefault(r.frame, []).append(obj)
    return [{"frame": f, "objects": objs} for f, objs in sorted(by_frame.items())]


def write_mot(final: LocalDir, dest: Path, frames: Frames) -> dict[str, Any] | None:
    """Write ``mot/<key>.txt`` and ``frames/<key>.json`` for every video task."""
    tasks = [t for t in final.tasks if FAMILIES.get(t.task_type) in ("video", "playback")]
    if not tasks:
        return None
    notes: list[str] = []
    written = []
    for task in tasks:
        info = final.info.get(task.unique_id, {})
        key = safe_name(str(info.get("key") or task.unique_id))
        rows = rows_of(final.content(task), frames)
        ids = track_ids(rows, info.get("tracks") or [], notes, task.unique_id)
        for folder, data in (("mot", mot_text(rows, ids).encode()),
                             ("frames", orjson.dumps(frames_json(rows, ids)))):  # fmt: skip
            (dest / folder).mkdir(parents=True, exist_ok=True)
            (dest / folder / f"{key}{'.txt' if folder == 'mot' else '.json'}").write_bytes(data)
        written.append(key)
    return {"sequences": written, "notes": notes}
