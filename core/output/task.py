"""One converted task in memory: what a line of ``tasks.jsonl``, its files under
``artifacts/`` and its share of ``report.json`` hold.

:class:`prelabel.converter.Converter` makes them; :class:`prelabel.output.directory.OutputDir`
writes them; :func:`prelabel.scale.tasks.submit_tasks` submits them. A task pickles (numpy
arrays and bytes only), so it can come back from a worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        entries = self.report.task_items or self.report.skipped_tasks
        return str(entries[0]["key"]) if entries else ""

    def to_row(self) -> dict[str, Any]:
        """The task as a row of plain columns (what a dataframe or a Ray dataset holds):
        ``unique_id``, ``task_type``, ``key``, ``skipped``; ``body`` (the JSON text
        tasks.jsonl holds), ``artifacts`` (``[{"name", "data"}]``, data as bytes),
        ``records`` (the report.json lines of its objects) and ``report`` (the rest of its
        share of the report, JSON: counts, notes, its entry). :meth:`from_row` inverts it,
        to the same bytes."""
        report = self.report
        if report.lines is None:  # records kept as objects: make them lines
            report = Report.from_share(report.share(), _record_lines(report))
        share = {**report.share(), "labels": self.labels}
        return {
            "unique_id": self.unique_id,
            "task_type": self.task_type,
            "key": self.key,
            "skipped": self.skipped,
            "body": orjson.dumps(self.body).decode(),
            "artifacts": [{"name": n, "data": d} for n, d in self.artifacts.items()],
            "records": bytes(report.lines or b"").decode(),
            "report": orjson.dumps(share).decode(),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Task:
        """The task :meth:`to_row` made this row of."""
        share = orjson.loads(row["report"])
        records = row["records"]
        lines = records.encode() if isinstance(records, str) else bytes(records)
        artifacts = {str(a["name"]): bytes(a["data"]) for a in row["artifacts"] or ()}
        return cls(
            str(row["task_type"]),
            orjson.loads(row["body"]),
            artifacts,
            Report.from_share(share, lines, task_type=str(row["task_type"])),
            {str(k): list(v) for k, v in share.get("labels", {}).items()},
        )

    def line(self) -> bytes:
        """The task's line of ``tasks.jsonl`` (with its newline)."""
        return orjson.dumps({"task_type": self.task_type, "body": self.body}) + b"\n"


def _record_lines(report: Report) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in report.iter_records())
