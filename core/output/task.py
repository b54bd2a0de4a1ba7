"""One converted task in memory: what a line of ``tasks.jsonl``, its files under
``artifacts/`` and its share of ``report.json`` hold.

:class:`prelabel.converter.Converter` makes them; :class:`prelabel.output.directory.OutputDir`
writes them; :func:`prelabel.scale.tasks.submit_tasks` submits them. A task pickles (numpy
arrays and bytes only), so it can come back from a worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from prelabel.output.report import ObjectRecord, Report


@dataclass(slots=True)
class Task:
    """One Scale task made from one item.

    Attributes:
        task_type: the Scale task type (``POST /v1/task/{task_type}``).
        body: exactly the JSON body of the create request, as ``tasks.jsonl`` holds it.
        artifacts: the files the body references, name -> bytes; the body holds
            ``artifact://NAME`` for each (or its final URL when ``artifact_url`` is set).
        report: this task's share of the report: its object records, notes, totals, its
            entry (unique_id, key, size) and its tracker-id -> uuid maps.
        labels: the labels kept, by model geometry kind (what ``--emit-taxonomy`` lists).
    """

    task_type: str
    body: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unique_id(self) -> str:
        """The body's unique_id ("" when it has none)."""
        return str(self.body.get("unique_id") or "")

    @property
    def skipped(self) -> bool:
        """True when the task is left out (``skip_empty`` and no prelabel): no line is
        written or submitted for it; its objects keep their records."""
        return bool(self.report.skipped_tasks)

    @property
    def records(self) -> list[ObjectRecord]:
        """One record per input object of the item: converted, fixed (how) or dropped (why)."""
        if self.report.lines is not None:  # made to be shipped: kept as report.json lines
            return [ObjectRecord.from_dict(r) for r in self.report.iter_records()]
        return self.report.records

    @property
    def notes(self) -> list[str]:
        """Facts the report notes about this task (once each)."""
        return self.report.notes

    @property
    def key(self) -> str:
        """The item's key."""
        return str(self.report.task_items[0]["key"]) if self.report.task_items else ""

    def line(self) -> bytes:
        """The task's line of ``tasks.jsonl`` (with its newline)."""
        return orjson.dumps({"task_type": self.task_type, "body": self.body}) + b"\n"
