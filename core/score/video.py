"""Scoring a video task: tracks (uuids) kept, edited, deleted, added; frames; id switches.

A track is every annotation with one uuid (``videoannotation``: the same uuid on several
frames of the per-frame list, keyed by list position; ``videoplaybackannotation``: one
object, keyed by frame ``key``). A sent track whose uuid comes back is kept when every frame
is unchanged, else edited: ``relabelled`` (any label changed), ``moved`` (a frame's geometry
changed), ``retimed`` (frames added or removed), ``attributes``. Frames are tallied the
same way. Continuity: along each sent track, the final annotation matching it best on each
frame (IoU >= 0.5) is noted; each change of that final uuid between consecutive matched
frames is an id switch the labelers introduced.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prelabel.responses.local import Content
from prelabel.score.compare import compare, iou
from prelabel.score.results import KINDS, Matches, ObjectResult, match_shapes

SWITCH_IOU = 0.5


@dataclass(slots=True)
class Track:
    """One object across frames."""

    uuid: str
    label: str
    frames: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class VideoTally:
    """Frame outcomes and id switches summed over tasks."""

    frames: Counter[str] = field(default_factory=Counter)
    id_switches: int = 0

    def add(self, other: VideoTally) -> None:
        self.frames.update(other.frames)
        self.id_switches += other.id_switches

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": {k: self.frames.get(k, 0) for k in KINDS},
            "id_switches": self.id_switches,
        }


def tracks_of(content: Content) -> dict[str, Track]:
    """The tracks of a video task's labels, by uuid, in first-appearance order."""
    out: dict[str, Track] = {}
    if content.family == "video":
        for pos, annotations in enumerate(content.frames):
            for a in annotations:
                uid = str(a.get("uuid"))
                out.setdefault(uid, Track(uid, str(a.get("label", "")))).frames[pos] = a
        return out
    for uid, obj in content.objects.items():
        track = out.setdefault(uid, Track(uid, str(obj.get("label", ""))))
        for f in obj.get("frames") or []:
            if isinstance(f, dict) and isinstance(f.get("key"), (int, float)):
                track.frames[int(f["key"])] = {
                    "type": obj.get("geometry"),
                    "label": track.label,
                    **f,
                }
    return out


def score_tracks(
    sent: Content, final: Content, matches: Matches
) -> tuple[list[ObjectResult], VideoTally, list[str]]:
    """Object results (one per track), frame tallies and id switches of one video task."""
    s_tracks, f_tracks = tracks_of(sent), tracks_of(final)
    tally = VideoTally()
    results = []
    for uid, track in s_tracks.items():
        other = f_tracks.get(uid)
        if other is None:
            tally.frames["deleted"] += len(track.frames)
            results.append(ObjectResult("deleted", track.label, uid))
        else:
            results.append(_paired(track, other, tally))
    for uid, track in f_tracks.items():
        if uid not in s_tracks:
            tally.frames["added"] += len(track.frames)
            results.append(ObjectResult("added", track.label, uid))
    _match_frames(s_tracks, f_tracks, matches)
    tally.id_switches = id_switches(s_tracks, f_tracks)
    common = bool(s_tracks.keys() & f_tracks.keys())
    notes = [] if common or not s_tracks or not f_tracks else ["no track uuid came back"]
    return results, tally, notes


def _paired(a: Track, b: Track, tally: VideoTally) -> ObjectResult:
    details: set[str] = set()
    ious = []
    if a.label != b.label:
        details.add("relabelled")
    for key, sa in a.frames.items():
        fb = b.frames.get(key)
        if fb is None:
            tally.frames["deleted"] += 1
            continue
        change = compare(sa, fb)
        tally.frames["kept" if change.kept else "edited"] += 1
        details |= set(change.details)
        if change.iou is not None:
            ious.append(change.iou)
    added = len(set(b.frames) - set(a.frames))
    tally.frames["added"] += added
    if added or len(set(a.frames) - set(b.frames)):
        details.add("retimed")
    if "moved" in details:
        details.discard("reshaped")
    if not details:
        return ObjectResult("kept", a.label, a.uuid)
    order: list[str] = [
        d for d in ("relabelled", "moved", "reshaped", "retimed", "attributes") if d in details
    ]
    mean = sum(ious) / len(ious) if ious else None
    new = b.label if "relabelled" in details else None
    return ObjectResult("edited", a.label, a.uuid, order, mean, None, new)


def _by_frame(tracks: dict[str, Track]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for track in tracks.values():
        for key, a in track.frames.items():
            out.setdefault(key, []).append({**a, "uuid": track.uuid})
    return out


def _match_frames(sent: dict[str, Track], final: dict[str, Track], matches: Matches) -> None:
    s, f = _by_frame(sent), _by_frame(final)
    for key in sorted(set(s) | set(f)):
        match_shapes(s.get(key, []), f.get(key, []), matches)


def id_switches(sent: dict[str, Track], final: dict[str, Track]) -> int:
    """Changes of the best-matching final uuid along each sent track (IoU >= 0.5).

    A final object that still overlaps the object sent on its frame under its own uuid
    belongs to that one and is no other track's match: identical boxes of different tracks,
    one of them deleted on a frame, make no switch; swapped ids still do."""
    by_frame = _by_frame(final)
    sent_at = {k: {str(a["uuid"]): a for a in shapes} for k, shapes in _by_frame(sent).items()}
    switches = 0
    for track in sent.values():
        previous = None
        for key in sorted(track.frames):
            own = sent_at.get(key, {})
            free = [
                b
                for b in by_frame.get(key, [])
                if str(b["uuid"]) == str(track.uuid)
                or str(b["uuid"]) not in own
                or (iou(own[str(b["uuid"])], b) or 0.0) < SWITCH_IOU
            ]
            best = _best({**track.frames[key], "uuid": track.uuid}, free)
            if best is not None and previous is not None and best != previous:
                switches += 1
            previous = best if best is not None else previous
    return switches


def _best(a: dict[str, Any], candidates: list[dict[str, Any]]) -> str | None:
    """The final uuid matching ``a`` on its frame: its own when that still overlaps it
    (IoU >= 0.5), else the best-overlapping one."""
    scored = [(iou(a, b) or 0.0, str(b["uuid"])) for b in candidates]
    good = [s for s in scored if s[0] >= SWITCH_IOU]
    if any(uid == a.get("uuid") for _, uid in good):
        return str(a["uuid"])
    return max(good)[1] if good else None
