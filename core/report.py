"""The conversion report: every input object ends up converted, fixed (how) or dropped (why).

``report.json`` holds the totals and one record per object; the invariant
``objects_in == objects_out + objects_dropped`` holds by construction (fixed objects count
among ``objects_out``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from .model import SourceRef

Outcome = Literal["converted", "fixed", "dropped"]


@dataclass(slots=True)
class ObjectRecord:
    """The fate of one input object."""

    source: SourceRef
    outcome: Outcome
    label: str | None = None
    task: str | None = None  # unique_id of the task it went to
    reason: str | None = None  # why it was dropped
    fixes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    iou: float | None = None
    annotations: int = 0  # how many Scale annotations it became

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": {"file": self.source.file, "location": self.source.location},
            "outcome": self.outcome,
        }
        for key in ("label", "task", "reason", "iou"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 6) if key == "iou" else value
        if self.fixes:
            out["fixes"] = self.fixes
        if self.flags:
            out["flags"] = self.flags
        if self.outcome != "dropped":
            out["annotations"] = self.annotations
        return out


@dataclass(slots=True)
class Report:
    """Collects object records, notes and task counts for one conversion."""

    format: str = ""
    task_type: str = ""
    records: list[ObjectRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tasks: int = 0
    artifacts: int = 0
    # one entry per task written: unique_id, item key, image size (validate needs the size)
    task_items: list[dict[str, Any]] = field(default_factory=list)

    def converted(
        self,
        source: SourceRef,
        *,
        label: str | None,
        task: str | None,
        fixes: list[str] | None = None,
        flags: list[str] | None = None,
        iou: float | None = None,
        annotations: int = 1,
    ) -> ObjectRecord:
        rec = ObjectRecord(
            source,
            "fixed" if fixes else "converted",
            label=label,
            task=task,
            fixes=list(fixes or []),
            flags=list(flags or []),
            iou=iou,
            annotations=annotations,
        )
        self.records.append(rec)
        return rec

    def dropped(
        self,
        source: SourceRef,
        reason: str,
        *,
        label: str | None = None,
        task: str | None = None,
        iou: float | None = None,
    ) -> ObjectRecord:
        rec = ObjectRecord(source, "dropped", label=label, task=task, reason=reason, iou=iou)
        self.records.append(rec)
        return rec

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # --- totals --------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        counts = Counter(r.outcome for r in self.records)
        out = counts["converted"] + counts["fixed"]
        return {
            "objects_in": len(self.records),
            "objects_out": out,
            "objects_fixed": counts["fixed"],
            "objects_dropped": counts["dropped"],
            "annotations_out": sum(r.annotations for r in self.records if r.outcome != "dropped"),
            "tasks": self.tasks,
            "artifacts": self.artifacts,
        }

    def reasons(self) -> dict[str, int]:
        """Dropped objects counted by reason (the part before any ':' detail)."""
        return dict(
            Counter(
                (r.reason or "").split(":")[0] for r in self.records if r.outcome == "dropped"
            ).most_common()
        )

    def fix_kinds(self) -> dict[str, int]:
        return dict(Counter(f.split(":")[0] for r in self.records for f in r.fixes).most_common())

    def iou_summary(self) -> dict[str, float] | None:
        ious = [r.iou for r in self.records if r.iou is not None]
        if not ious:
            return None
        return {"count": len(ious), "mean": sum(ious) / len(ious), "min": min(ious)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "task_type": self.task_type,
            "totals": self.totals(),
            "dropped_by_reason": self.reasons(),
            "fixes_by_kind": self.fix_kinds(),
            "iou": self.iou_summary(),
            "notes": self.notes,
            "tasks": self.task_items,
            "objects": [r.as_dict() for r in self.records],
        }

    def write(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2))

    def summary_lines(self) -> list[str]:
        """A few readable lines for stderr."""
        t = self.totals()
        lines = [
            f"{t['tasks']} task(s), {t['artifacts']} artifact(s); objects: {t['objects_in']} in, "
            f"{t['objects_out']} out ({t['objects_fixed']} fixed), {t['objects_dropped']} dropped"
        ]
        for reason, n in self.reasons().items():
            lines.append(f"  dropped {n}: {reason}")
        for kind, n in self.fix_kinds().items():
            lines.append(f"  fixed {n}: {kind}")
        iou = self.iou_summary()
        if iou:
            lines.append(
                f"  traced masks: {iou['count']}, IoU mean {iou['mean']:.4f}, min {iou['min']:.4f}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines
