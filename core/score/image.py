"""Scoring an image task: each sent annotation kept, edited or deleted; final ones added.

Sent and final annotations are paired by ``uuid`` (prelabel sends stable uuids and Scale
keeps a hypothesis's uuids). When no final uuid matches any sent one — a project that
issues its own — they are paired by IoU >= 0.5 (same geometry type, greedily) instead,
and the task is noted.
"""

from __future__ import annotations

from typing import Any

from prelabel.score.compare import compare, iou
from prelabel.score.results import Matches, ObjectResult, greedy, match_shapes

Annotation = dict[str, Any]
FALLBACK_IOU = 0.5


def pair(
    sent: list[Annotation], final: list[Annotation]
) -> tuple[list[tuple[Annotation, Annotation]], bool]:
    """(sent, final) pairs, and whether they were paired by IoU (no uuid in common)."""
    by_uuid = {str(a.get("uuid")): a for a in final if a.get("uuid")}
    pairs = [
        (a, by_uuid[str(a["uuid"])]) for a in sent if a.get("uuid") and str(a["uuid"]) in by_uuid
    ]
    if pairs or not sent or not final:
        return pairs, False
    candidates = []
    for i, a in enumerate(sent):
        for j, b in enumerate(final):
            value = iou(a, b) if a.get("type") == b.get("type") else None
            if value is not None and value >= FALLBACK_IOU:
                candidates.append((value, i, j))
    return [(sent[i], final[j]) for _, i, j in greedy(candidates)], True


def score_annotations(
    sent: list[Annotation], final: list[Annotation], matches: Matches
) -> tuple[list[ObjectResult], list[str]]:
    """Object results of one image (and its shapes added to ``matches``); notes."""
    pairs, by_iou = pair(sent, final)
    paired_sent = {id(a) for a, _ in pairs}
    paired_final = {id(b) for _, b in pairs}
    results = [_paired(a, b) for a, b in pairs]
    results += [
        ObjectResult("deleted", _label(a), _uuid(a)) for a in sent if id(a) not in paired_sent
    ]
    results += [
        ObjectResult("added", _label(b), _uuid(b)) for b in final if id(b) not in paired_final
    ]
    match_shapes(sent, final, matches)
    return results, ["no uuid came back: objects paired by IoU"] if by_iou else []


def _paired(a: Annotation, b: Annotation) -> ObjectResult:
    change = compare(a, b)
    if change.kept:
        return ObjectResult("kept", _label(a), _uuid(a))
    new = _label(b) if "relabelled" in change.details else None
    return ObjectResult(
        "edited", _label(a), _uuid(a), change.details, change.iou, change.moves, new
    )


def _label(a: Annotation) -> str:
    return str(a.get("label", ""))


def _uuid(a: Annotation) -> str | None:
    return str(a["uuid"]) if a.get("uuid") else None
