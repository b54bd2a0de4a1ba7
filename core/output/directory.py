"""An output directory being written: ``tasks.jsonl``, ``artifacts/`` and ``report.json``.

Tasks arrive one at a time, either made in memory elsewhere (:meth:`OutputDir.add` of a
:class:`~prelabel.output.task.Task`, e.g. from a worker process) or written straight in by
the converter (:meth:`prelabel.converter.Converter.write`: records and artifacts go to disk
as they are made). Both leave the same bytes. ``tasks.jsonl`` and ``report.json`` appear
only when the run succeeds (see :class:`~prelabel.output.tasks.TasksWriter`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from prelabel.model import Dropped
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.layout import ARTIFACTS_DIR, PARTIAL, REPORT_FILE, reset_outputs
from prelabel.output.report import Report
from prelabel.output.task import Task
from prelabel.output.tasks import TasksWriter


class OutputDir:
    """The outputs of one conversion, written in a ``with`` block.

    Args:
        path: the directory (created; outputs of an earlier run are replaced, a submit
            journal is kept).
        format: the reader's format name (the report's ``format``).
        task_type: the Scale task type.
        artifact_url: the ``artifact_url`` template (None: bodies hold ``artifact://NAME``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str,
        task_type: str,
        artifact_url: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        reset_outputs(self.path)
        spool = self.path / (REPORT_FILE + PARTIAL)
        self.report = Report(format=format, task_type=task_type, spool=spool)
        self.artifacts = ArtifactStore(self.path / ARTIFACTS_DIR, artifact_url)
        self._tasks = TasksWriter(self.path)

    def __enter__(self) -> OutputDir:
        self._tasks.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tasks.__exit__(kind, exc, tb)
        if kind is not None:
            self.report.close()

    def write_body(self, task_type: str, body: dict[str, Any]) -> None:
        """Append one task line (its artifacts and records are already in)."""
        self._tasks.write(task_type, body)

    def add(self, task: Task) -> None:
        """Write a task made in memory: its artifacts, its line (none for a skipped task)
        and its share of the report."""
        for name, data in task.artifacts.items():
            self.artifacts.add(name, data)
        if not task.skipped:
            self._tasks.write(task.task_type, task.body)
        self.report.merge(task.report)

    def finish(self, dropped: Iterable[Dropped] = (), notes: Iterable[str] = ()) -> Report:
        """After the ``with`` block: add what the reader dropped and noted, write
        ``report.json`` and return the report."""
        for item in dropped:
            self.report.dropped(item.source, item.reason, label=item.label)
        for note in notes:
            self.report.note(note)
        self.report.write(self.path / REPORT_FILE)
        return self.report
