"""Video prelabels: the videoannotation per-frame list (inline or hosted) and the hosted
videoplayback file (https://docs.scale.com/reference/video-playback-annotation-hypothesis).

videoannotation: a list with one ``{"annotations": [...]}`` per task frame (the documented
response format; no hypothesis page exists), inline or as ``{"url": ...}`` of a hosted copy.
videoplayback: ``{"annotations": {"url": ...}}`` naming a JSON object keyed by uuid, each
``{"label", "geometry", "frames": [{"key", "timestamp", <geometry fields>, "attributes"?}]}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prelabel.rulebook.annotations import check_annotation, check_annotation_list
from prelabel.rulebook.findings import Missing, Scope, Violation, load_json, required_attachment


def _hosted(ref: Any, where: str, scope: Scope, rule: str) -> Any | Violation | None:
    """The parsed JSON a hosted reference names; a Violation when it does not resolve or is
    not JSON; None when this resolver cannot read it (not checked)."""
    data = scope.resolver.fetch(ref) if isinstance(ref, str) else None
    if isinstance(data, Missing):
        return Violation("hosted-file", where, data.reason)
    if data is None:
        return None
    parsed, problem = load_json(data)
    return Violation(rule, where, problem) if problem else parsed


def check_video(pre: dict[str, Any], where: str, scope: Scope) -> Iterator[Violation]:
    """Every rule a videoannotation prelabel breaks."""
    annotations = pre.get("annotations")
    at = f"{where}.annotations"
    if isinstance(annotations, dict) and isinstance(annotations.get("url"), str):
        at = f"{at}.url"
        annotations = _hosted(annotations["url"], at, scope, "prelabel-shape")
        if annotations is None or isinstance(annotations, Violation):
            yield from [annotations] if annotations else []
            return
        if isinstance(annotations, dict):
            annotations = annotations.get("annotations")
    if not isinstance(annotations, list):
        message = "must be a per-frame array [{annotations: [...]}, ...] or {url} of one"
        yield Violation("prelabel-shape", at, message)
        return
    yield from _frame_count(len(annotations), at, scope)
    for n, frame in enumerate(annotations):
        items = frame.get("annotations") if isinstance(frame, dict) else None
        if not isinstance(items, list):
            yield Violation("prelabel-shape", f"{at}[{n}]", "must be {annotations: [...]}")
            continue
        yield from check_annotation_list(items, f"{at}[{n}].annotations", scope)


def _frame_count(count: int, where: str, scope: Scope) -> Iterator[Violation]:
    body = scope.body
    if required_attachment(scope.task_type, body) != "attachments":
        return  # a video attachment: the task's frame count depends on the video
    frames = body.get("attachments")
    if isinstance(frames, list) and count != len(frames):
        message = f"{count} frame entries for {len(frames)} attachments"
        yield Violation("video-frames", where, message)


def check_playback(pre: dict[str, Any], where: str, scope: Scope) -> Iterator[Violation]:
    """Every rule a videoplaybackannotation prelabel breaks."""
    annotations = pre.get("annotations")
    if not (isinstance(annotations, dict) and isinstance(annotations.get("url"), str)):
        message = "must be {url} of the hosted file (the documented, mandatory form)"
        yield Violation("prelabel-shape", f"{where}.annotations", message)
        return
    at = f"{where}.annotations.url"
    data = _hosted(annotations["url"], at, scope, "playback-file")
    if data is None or isinstance(data, Violation):
        yield from [data] if data else []
        return
    if not isinstance(data, dict):
        yield Violation("playback-file", at, "must be an object keyed by annotation uuid")
        return
    for uid, track in data.items():
        yield from _track(track, f"{at} -> {uid}", scope)


def _track(track: Any, where: str, scope: Scope) -> Iterator[Violation]:
    frames = track.get("frames") if isinstance(track, dict) else None
    if not isinstance(frames, list) or not isinstance(track.get("geometry"), str):
        yield Violation("playback-file", where, "must be {label, geometry, frames: [...]}")
        return
    keys: set[Any] = set()
    for n, frame in enumerate(frames):
        at = f"{where}.frames[{n}]"
        if not isinstance(frame, dict):
            yield Violation("playback-file", at, "must be a frame object")
            continue
        yield from _key_and_time(frame, at, keys)
        annotation = {"label": track.get("label"), **frame}
        yield from check_annotation(annotation, at, scope, track["geometry"])


def _key_and_time(frame: dict[str, Any], where: str, keys: set[Any]) -> Iterator[Violation]:
    key, stamp = frame.get("key"), frame.get("timestamp")
    if not (isinstance(key, int) and not isinstance(key, bool) and key >= 0):
        yield Violation(
            "playback-keys", f"{where}.key", f"must be a whole number >= 0, got {key!r}"
        )
    elif key in keys:
        yield Violation("playback-keys", f"{where}.key", f"key {key} repeats an earlier frame")
    keys.add(key)
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or stamp < 0:
        message = f"must be seconds >= 0, got {stamp!r}"
        yield Violation("playback-keys", f"{where}.timestamp", message)
