"""``prelabel score DIR FINAL``: what the prelabels were worth, from what came back.

Library use::

    from prelabel.score.run import score_dirs

    summary = score_dirs("out/", "final/")
    print(summary.as_dict()["counts"])  # {"kept": ..., "edited": ..., "deleted": ..., "added": ...}

Every task of DIR (what ``convert`` wrote) is compared with its namesake (same unique_id)
in FINAL (what ``import`` wrote): image annotations (:mod:`~prelabel.score.image`),
segments (:mod:`~prelabel.score.segment`) or video tracks (:mod:`~prelabel.score.video`).
A task with no final version is listed as missing, not scored. The summary counts objects
by kind overall, per label and per edit detail, gives precision / recall at IoU thresholds,
pixel accuracy and per-class IoU for segmentation, frame outcomes and id switches for video,
one entry per task (``kept_share`` = kept / (sent + added)) and every object that changed.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prelabel.output.tasks import TaskLine
from prelabel.responses.local import FAMILIES, LocalDir
from prelabel.score.image import score_annotations
from prelabel.score.results import KINDS, THRESHOLDS, Matches, ObjectResult
from prelabel.score.segment import Pixels, score_segments
from prelabel.score.video import VideoTally, score_tracks


@dataclass(slots=True)
class TaskScore:
    """One task's object results."""

    unique_id: str
    task_type: str
    results: list[ObjectResult]
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.kind for r in self.results)
        return {k: found.get(k, 0) for k in KINDS}

    @property
    def kept_share(self) -> float:
        """Kept objects over everything the task ended up needing (sent + added); 1 when empty."""
        total = len(self.results)
        return self.counts["kept"] / total if total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"unique_id": self.unique_id, "task_type": self.task_type, "counts": self.counts,
                "kept_share": round(self.kept_share, 4), "notes": self.notes}  # fmt: skip


@dataclass(slots=True)
class ScoreSummary:
    """Everything ``score`` found."""

    sent_dir: str
    final_dir: str
    tasks: list[TaskScore] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: int = 0
    matches: Matches = field(default_factory=Matches)
    pixels: Pixels | None = None
    video: VideoTally | None = None
    thresholds: Sequence[float] = THRESHOLDS
    by_iou: bool = False  # pair image annotations by IoU, not uuid (``--match iou``)

    def results(self) -> list[tuple[str, ObjectResult]]:
        return [(t.unique_id, r) for t in self.tasks for r in t.results]

    def counts(self) -> dict[str, int]:
        found = Counter(r.kind for _, r in self.results())
        return {k: found.get(k, 0) for k in KINDS}

    def by_label(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for _, r in self.results():
            out.setdefault(r.label, dict.fromkeys(KINDS, 0))[r.kind] += 1
        return dict(sorted(out.items()))

    def edited(self) -> dict[str, Any]:
        edits = [r for _, r in self.results() if r.kind == "edited"]
        details = Counter(d for r in edits for d in r.details)
        ious = [r.iou for r in edits if r.iou is not None]
        moves = [r.moves for r in edits if r.moves is not None]
        return {
            "by_detail": dict(sorted(details.items())),
            "iou_mean": round(sum(ious) / len(ious), 4) if ious else None,
            "vertex_move_mean_px": round(sum(moves) / len(moves), 4) if moves else None,
        }

    def worst(self, n: int = 10) -> list[TaskScore]:
        """The tasks whose prelabels were kept least (most changes first on ties)."""
        ranked = sorted(self.tasks, key=lambda t: (t.kept_share, -len(t.results), t.unique_id))
        return [t for t in ranked if t.kept_share < 1.0][:n]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dir": self.sent_dir,
            "final": self.final_dir,
            "tasks": len(self.tasks),
            "tasks_missing": self.missing,
            "tasks_not_in_dir": self.extra,
            "counts": self.counts(),
            "by_label": self.by_label(),
            "edited": self.edited(),
            "precision_recall": self.matches.table(self.thresholds),
        }
        if self.pixels is not None:
            out["segmentation"] = self.pixels.as_dict()
        if self.video is not None:
            out["video"] = self.video.as_dict()
        out["worst_tasks"] = [t.unique_id for t in self.worst()]
        out["per_task"] = [t.as_dict() for t in self.tasks]
        out["objects"] = [
            {"unique_id": uid, **r.as_dict()} for uid, r in self.results() if r.kind != "kept"
        ]
        return out


def score_dirs(
    sent_dir: str | os.PathLike[str],
    final_dir: str | os.PathLike[str],
    *,
    thresholds: Sequence[float] = THRESHOLDS,
    by_iou: bool = False,
) -> ScoreSummary:
    """Compare every task of ``sent_dir`` with its final version in ``final_dir``
    (``by_iou``: pair image annotations by IoU >= 0.5, for projects that issue new uuids).

    Raises:
        InputError: either directory is not a converted / imported one.
    """
    sent, final = LocalDir(sent_dir), LocalDir(final_dir)
    summary = ScoreSummary(str(sent.root), str(final.root), thresholds=thresholds, by_iou=by_iou)
    for task in sent.tasks:
        other = final.by_uid.get(task.unique_id)
        if other is None:
            summary.missing.append(task.unique_id)
            continue
        summary.tasks.append(score_task(sent, task, final, other, summary))
    summary.extra = sum(uid not in sent.by_uid for uid in final.by_uid)
    return summary


def score_task(
    sent: LocalDir, task: TaskLine, final: LocalDir, other: TaskLine, summary: ScoreSummary
) -> TaskScore:
    """One task's score (its shapes, pixels and frames added to ``summary``)."""
    family = FAMILIES.get(task.task_type, "image")
    a, b = sent.content(task), final.content(other)
    if family == "image":
        results, notes = score_annotations(
            a.annotations, b.annotations, summary.matches, by_iou=summary.by_iou
        )
    elif family == "segment":
        results, pixels, notes = score_segments(a, b, summary.matches)
        summary.pixels = summary.pixels or Pixels()
        summary.pixels.add(pixels)
    else:
        results, tally, notes = score_tracks(a, b, summary.matches)
        summary.video = summary.video or VideoTally()
        summary.video.add(tally)
    return TaskScore(task.unique_id, task.task_type, results, notes)
