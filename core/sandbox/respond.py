"""Scale-format responses the sandbox completes tasks with (scale-api.md §2.2, §3.4, §4).

``accept`` answers with the prelabels as they were sent; ``edit`` passes them through an
:class:`~prelabel.sandbox.edit.Editor` first. Per task type:

* image tasks (``imageannotation`` and the legacy single-geometry types):
  ``{"annotations": [...], "links": [...], "global_attributes"?}``, inline; an annotation
  sent without a ``uuid`` gets one (Scale generates one too);
* ``segmentannotation``: ``labelMapping`` (``index``, ``color``, ``numPixels`` per entry; a
  list for instance labels) and hosted PNGs: ``annotations.combined.indexedImage`` (8-bit,
  when every index fits), ``combined.extendedIndexedImage`` (RGBA, 24-bit index),
  ``combined.image`` (label colours, transparent = unlabeled), ``labeled`` (one mask PNG per
  label, a list per instance label) and ``unlabeled``;
* ``videoannotation``: ``annotations.url`` → the per-frame list
  ``[{"annotations": [...]}, ...]``;
* ``videoplaybackannotation``: ``annotations.url`` → the object keyed by uuid (``label``,
  ``geometry``, ``frames``) and ``events.url`` → ``{"events": []}``.

Hosted files are returned as bytes with names; the caller stores them and puts their URLs in
place of ``{RESULTS}<name>`` (see :mod:`prelabel.sandbox.complete`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.geometry.indexed import MAX_8BIT, MAX_24BIT, encode_index_png
from prelabel.sandbox.edit import Editor, Segment, shifted

RESULTS = "sandbox://results/"
IMAGE_TYPES = frozenset(
    {
        "imageannotation",
        "annotation",
        "polygonannotation",
        "lineannotation",
        "pointannotation",
        "cuboidannotation",
    }
)
Mint = Callable[[], str]


@dataclass(slots=True)
class Answer:
    """A task's response, the hosted files it names (``RESULTS + name``) and the edits."""

    response: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def prelabels(params: dict[str, Any]) -> dict[str, Any]:
    """The task's prelabels: ``hypothesis``, else ``base_annotations``, else nothing."""
    for key in ("hypothesis", "base_annotations"):
        if isinstance(params.get(key), dict):
            value: dict[str, Any] = params[key]
            return value
    return {}


def _with_uuid(a: dict[str, Any], mint: Mint) -> dict[str, Any]:
    return a if a.get("uuid") else {**a, "uuid": mint()}


def hosted(name: str, data: Any) -> tuple[str, bytes]:
    return RESULTS + name, orjson.dumps(data)


# --- image ------------------------------------------------------------------------------


def answer_image(hyp: dict[str, Any], editor: Editor | None, mint: Mint) -> Answer:
    """An image task's response: the annotations (edited), links and global attributes."""
    raw = hyp.get("annotations")
    items = (
        [_with_uuid(a, mint) for a in raw if isinstance(a, dict)] if isinstance(raw, list) else []
    )
    if editor is not None:
        items = editor.annotations(items)
    response: dict[str, Any] = {"annotations": items, "links": hyp.get("links") or []}
    if "global_attributes" in hyp:
        response["global_attributes"] = hyp["global_attributes"]
    return Answer(response)


# --- segmentation -----------------------------------------------------------------------


def parse_mapping(mapping: Any) -> list[Segment]:
    """labelMapping entries in index order (a dict per plain label, a list per instance label)."""
    out: list[Segment] = []
    for label, value in (mapping or {}).items() if isinstance(mapping, dict) else []:
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                rest = {k: v for k, v in entry.items() if k not in ("index", "numPixels")}
                out.append(Segment(entry["index"], str(label), isinstance(value, list), rest))
    return sorted(out, key=lambda s: s.index)


def colour_of(segment: Segment) -> str:
    colour = segment.fields.get("color")
    if isinstance(colour, str) and len(colour) == 7 and colour.startswith("#"):
        return colour
    return f"#{(segment.index * 2654435761) & 0xFFFFFF:06x}"


def label_mapping(entries: list[Segment], counts: npt.NDArray[np.int64]) -> dict[str, Any]:
    """The response labelMapping, ``numPixels`` counted from the final index array."""
    mapping: dict[str, Any] = {}
    for e in entries:
        pixels = int(counts[e.index]) if e.index < len(counts) else 0
        obj = {**e.fields, "index": e.index, "color": colour_of(e), "numPixels": pixels}
        if e.instance:
            mapping.setdefault(e.label, []).append(obj)
        else:
            mapping[e.label] = obj
    return mapping


def answer_segment(
    mapping: Any, index: npt.NDArray[np.int64], editor: Editor | None, *, extended: bool
) -> Answer:
    """A segmentation response: labelMapping and the hosted PNGs (see the module doc)."""
    entries = parse_mapping(mapping)
    if editor is not None:
        entries = editor.segments(entries, index, MAX_24BIT if extended else MAX_8BIT)
    counts = np.bincount(index.ravel()) if index.size else np.zeros(1, dtype=np.int64)
    if not index.size:  # no indexed image was sent: nothing to host
        return Answer({"annotations": {}, "labelMapping": label_mapping(entries, counts)})
    files = {"extended.png": encode_index_png(index, extended=True)}
    combined = {"extendedIndexedImage": RESULTS + "extended.png", "image": RESULTS + "combined.png"}
    if int(index.max(initial=0)) <= MAX_8BIT:
        files["indexed.png"] = encode_index_png(index, extended=False)
        combined["indexedImage"] = RESULTS + "indexed.png"
    files["combined.png"] = _colour_png(index, entries)
    labeled: dict[str, Any] = {}
    for e in entries:
        name = f"labeled/{e.index}.png"
        files[name] = _mask_png(index == e.index)
        if e.instance:
            labeled.setdefault(e.label, []).append(RESULTS + name)
        else:
            labeled[e.label] = RESULTS + name
    files["unlabeled.png"] = _mask_png(index == 0)
    annotations = {"combined": combined, "labeled": labeled, "unlabeled": RESULTS + "unlabeled.png"}
    return Answer(
        {"annotations": annotations, "labelMapping": label_mapping(entries, counts)}, files
    )


def _mask_png(mask: npt.NDArray[np.bool_]) -> bytes:
    return encode_index_png(mask.astype(np.int64) * 255, extended=False)


def _colour_png(index: npt.NDArray[np.int64], entries: list[Segment]) -> bytes:
    import cv2

    table = np.zeros((max([0, *(e.index for e in entries)]) + 1, 4), dtype=np.uint8)
    for e in entries:
        rgb = bytes.fromhex(colour_of(e)[1:])
        table[e.index] = (rgb[2], rgb[1], rgb[0], 255)  # BGRA for OpenCV
    lookup = np.where(index < len(table), index, 0)
    ok, buf = cv2.imencode(".png", table[lookup])
    return bytes(buf.tobytes()) if ok else b""


# --- video ------------------------------------------------------------------------------


def answer_video(frames: list[Any], editor: Editor | None, mint: Mint) -> Answer:
    """A videoannotation response: the per-frame list, hosted."""
    frames = [
        {**f, "annotations": [_with_uuid(a, mint) for a in f.get("annotations") or []]}
        for f in frames
        if isinstance(f, dict)
    ]
    if editor is not None:
        frames = edit_frames(frames, editor)
    url, data = hosted("annotations.json", frames)
    return Answer({"annotations": {"url": url}}, {"annotations.json": data})


def edit_frames(frames: list[dict[str, Any]], editor: Editor) -> list[dict[str, Any]]:
    """The per-frame list with each track (uuid) kept, deleted, relabelled or moved."""
    first: dict[str, dict[str, Any]] = {}
    for frame in frames:
        for a in frame["annotations"]:
            first.setdefault(str(a["uuid"]), a)
    fates = {u: editor.track(u, str(a.get("label", "")), a.get("type")) for u, a in first.items()}
    added = editor.new_track()
    out = []
    for pos, frame in enumerate(frames):
        kept = [_apply(a, fates[str(a["uuid"])]) for a in frame["annotations"]]
        anns = [a for a in kept if a is not None]
        if added is not None and pos < 3:
            uid, label, kind, shape = added
            anns.append({"uuid": uid, "type": kind, "label": label, **shape})
        out.append({**frame, "annotations": anns})
    return out


def _apply(
    obj: dict[str, Any], fate: tuple[str, str | None, tuple[int, int]]
) -> dict[str, Any] | None:
    what, label, (dx, dy) = fate
    if what == "deleted":
        return None
    if what == "relabelled":
        return {**obj, "label": label}
    return shifted(obj, dx, dy) if what == "moved" else obj


def answer_playback(objects: dict[str, Any], editor: Editor | None) -> Answer:
    """A videoplaybackannotation response: the uuid-keyed objects and an events file."""
    if editor is not None:
        objects = edit_playback(objects, editor)
    url, data = hosted("annotations.json", objects)
    events_url, events = hosted("events.json", {"events": []})
    response = {"annotations": {"url": url}, "events": {"url": events_url}}
    return Answer(response, {"annotations.json": data, "events.json": events})


def edit_playback(objects: dict[str, Any], editor: Editor) -> dict[str, Any]:
    """The uuid-keyed objects with each kept, deleted, relabelled or moved; maybe one added."""
    out: dict[str, Any] = {}
    keys: dict[int, Any] = {}
    for uid, obj in objects.items():
        frames = obj.get("frames") or []
        keys.update({f["key"]: f.get("timestamp") for f in frames if isinstance(f.get("key"), int)})
        what, label, shift = editor.track(uid, str(obj.get("label", "")), obj.get("geometry"))
        if what == "deleted":
            continue
        moved = [_apply(f, (what, label, shift)) if what == "moved" else f for f in frames]
        out[uid] = {**obj, "frames": moved, **({"label": label} if what == "relabelled" else {})}
    added = editor.new_track()
    if added is not None:
        uid, label, kind, shape = added
        first = sorted(keys.items())[:3] or [(k, None) for k in range(3)]
        frames = [{"key": k, "timestamp": t if t is not None else k, **shape} for k, t in first]
        out[uid] = {"label": label, "geometry": kind, "frames": frames}
    return out
