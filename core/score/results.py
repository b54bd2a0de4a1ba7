"""What ``score`` finds per object, and the precision / recall of the prelabels.

Each sent object ends ``kept``, ``edited`` (with details) or ``deleted``; each final object
nobody sent is ``added``. An edited or deleted object counts under the label that was sent
(a relabel's new label is ``new_label``); an added one under its own.

Precision and recall treat the prelabels as detections of the final labels: per label,
sent and final shapes are matched greedily by IoU (highest first, one-to-one); at a threshold
``t`` the matches with IoU >= t are true positives, precision = TP / sent and recall =
TP / final. Only shapes with an area count (boxes, polygons, ellipses; segments by pixels);
video tasks match frame by frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prelabel.score.compare import area_iou, shape

Kind = Literal["kept", "edited", "deleted", "added"]
KINDS: tuple[Kind, ...] = ("kept", "edited", "deleted", "added")
THRESHOLDS = (0.5, 0.75, 0.9)


@dataclass(slots=True)
class ObjectResult:
    """The fate of one object (an annotation, a segment or a video track)."""

    kind: Kind
    label: str
    uuid: str | None = None
    details: list[str] = field(default_factory=list)
    iou: float | None = None
    moves: float | None = None
    new_label: str | None = None
    index: int | None = None  # segmentation: the sent (or, when added, final) index

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.uuid is not None:
            out["uuid"] = self.uuid
        if self.index is not None:
            out["index"] = self.index
        if self.details:
            out["detail"] = "+".join(self.details)
        for key in ("new_label", "iou", "moves"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 4) if isinstance(value, float) else value
        return out


@dataclass(slots=True)
class Matches:
    """Per label: how many shapes were sent and came back, and the IoU of each match."""

    sent: dict[str, int] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)
    ious: dict[str, list[float]] = field(default_factory=dict)

    def add(self, label: str, sent: int, final: int, ious: list[float]) -> None:
        self.sent[label] = self.sent.get(label, 0) + sent
        self.final[label] = self.final.get(label, 0) + final
        self.ious.setdefault(label, []).extend(ious)

    def merge(self, other: Matches) -> None:
        for label in set(other.sent) | set(other.final):
            self.add(label, other.sent.get(label, 0), other.final.get(label, 0),
                     other.ious.get(label, []))  # fmt: skip

    def table(self, thresholds: Sequence[float] = THRESHOLDS) -> dict[str, Any]:
        """``{"overall": {t: {...}}, "by_label": {label: {t: {...}}}}``."""
        labels = sorted(set(self.sent) | set(self.final))
        total = Matches()
        total.add("", sum(self.sent.values()), sum(self.final.values()),
                  [v for x in self.ious.values() for v in x])  # fmt: skip
        return {
            "overall": {str(t): total.at("", t) for t in thresholds},
            "by_label": {lb: {str(t): self.at(lb, t) for t in thresholds} for lb in labels},
        }

    def at(self, label: str, t: float) -> dict[str, Any]:
        tp = sum(v >= t for v in self.ious.get(label, []))
        sent, final = self.sent.get(label, 0), self.final.get(label, 0)
        return {"tp": tp, "sent": sent, "final": final,
                "precision": round(tp / sent, 4) if sent else None,
                "recall": round(tp / final, 4) if final else None}  # fmt: skip


def greedy(pairs: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """One-to-one matches of ``(iou, i, j)`` pairs, highest IoU first (IoU > 0 only)."""
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = []
    for value, i, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if value > 0 and i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((value, i, j))
    return out


def match_shapes(sent: list[dict[str, Any]], final: list[dict[str, Any]], into: Matches) -> None:
    """Add one image's (or frame's) area shapes to ``into``, matched per label."""
    shaped = [(str(a.get("label", "")), shape(a), side) for side, items in ((0, sent), (1, final))
              for a in items]  # fmt: skip
    for label in {lb for lb, geom, _ in shaped if geom is not None}:
        s = [g for lb, g, side in shaped if lb == label and g is not None and side == 0]
        f = [g for lb, g, side in shaped if lb == label and g is not None and side == 1]
        pairs = [(area_iou(a, b), i, j) for i, a in enumerate(s) for j, b in enumerate(f)]
        into.add(label, len(s), len(f), [v for v, _, _ in greedy(pairs)])
