"""Scoring an image task: each sent annotation kept, edited or deleted; final ones added.

Sent and final annotations are paired by ``uuid``: prelabel sends stable uuids and Scale
keeps a hypothesis's uuids. For a project that issues its own, ``by_iou`` (``score --match
iou``) pairs them by IoU >= 0.5 instead (same geometry type, greedily) — never by default,
since a labeler who deletes a box and draws another in its place did not edit it. A task
where no sent uuid came back is noted.
"""

from __future__ import annotations

from typing import Any

from prelabel.score.compare import compare, iou
from prelabel.score.results import Matches, ObjectResult, greedy, match_shapes

Annotation = dict[str, Any]
PAIR_IOU = 0.5
LOST_NOTE = "no sent uuid came back (if the project issues its own uuids, score with --match iou)"


def pair(
    sent: list[Annotation], final: list[Annotation], *, by_iou: bool = False
) -> list[tuple[Annotation, Annotation]]:
    """(sent, final) pairs: the same uuid, or (``by_iou``) IoU >= 0.5 and the same type."""
    if not by_iou:
        by_uuid = {str(a.get("uuid")): a for a in final if a.get("uuid")}
        return [(a, by_uuid[str(a["uuid"])]) for a in sent if str(a.get("uuid")) in by_uuid]
    candidates = []
    for i, a in enumerate(sent):
        for j, b in enumerate(final):
            value = iou(a, b) if a.get("type") == b.get("type") else None
            if value is not None and value >= PAIR_IOU:
                candidates.append((value, i, j))
    return [(sent[i], final[j]) for _, i, j in greedy(candidates)]


def score_annotations(
    sent: list[Annotation], final: list[Annotation], matches: Matches, *, by_iou: bool = False
) -> tuple[list[ObjectResult], list[str]]:
    """Object results of one image (and its shapes added to ``matches``); notes."""
    pairs = pair(sent, final, by_iou=by_iou)
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
    lost = not by_iou and bool(sent) and bool(final) and not pairs
    return results, [LOST_NOTE] if lost else []


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
