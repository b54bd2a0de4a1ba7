"""An output directory being written: ``tasks.jsonl``, ``artifacts/`` and ``report.json``.

Tasks arrive one at a time, either made in memory elsewhere (:meth:`OutputDir.add` of a
:class:`~prelabel.output.task.Task`, e.g. from a worker process) or written straight in by
the converter (:meth:`prelabel.converter.Converter.write`: records and artifacts go to disk
as they are made). Both leave the same bytes. ``tasks.jsonl`` and ``report.json`` appear
only when the run succeeds (see :class:`~prelabel.output.tasks.TasksWriter`).

One shard of a sharded directory (``shard=NAME``) is written the same way into
``DIR/shards/NAME/``, its artifacts into the shared ``DIR/artifacts/``; several writers
write theirs at once, and :func:`commit_shards` makes the directory complete.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from prelabel.errors import PayloadError
from prelabel.model import Dropped
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.layout import (
    ARTIFACTS_DIR,
    PARTIAL,
    REPORT_FILE,
    SHARDS_DIR,
    Shard,
    own_dir,
    reset_outputs,
    write_manifest,
)
from prelabel.output.report import Report
from prelabel.output.task import Task
from prelabel.output.tasks import TasksWriter, task_line


class OutputDir:
    """The outputs of one conversion, written in a ``with`` block.

    Args:
        path: the directory (created; outputs of an earlier run are replaced, a submit
            journal is kept).
        format: the reader's format name (the report's ``format``).
        task_type: the Scale task type.
        artifact_url: the ``artifact_url`` template (None: bodies hold ``artifact://NAME``).
        shard: write one shard of a sharded directory, ``DIR/shards/NAME/`` (the directory
            is not reset: :func:`start_shards` did that once for every writer).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str,
        task_type: str,
        artifact_url: str | None = None,
        shard: str | None = None,
    ) -> None:
        root = Path(path)
        self.shard = Shard(root, shard or "")
        self.path = self.shard.folder
        if shard is None:
            reset_outputs(self.path)  # creates it too
        else:  # never through a link planted in the directory
            own_dir(own_dir(root / SHARDS_DIR) / self.shard.name)
        spool = self.path / (REPORT_FILE + PARTIAL)
        self.report = Report(format=format, task_type=task_type, spool=spool)
        self.artifacts = ArtifactStore(root / ARTIFACTS_DIR, artifact_url)
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
        line = None if task.skipped else task_line(task.task_type, task.body)
        self.add_line(line, task.artifacts, task.report)

    def add_line(self, line: bytes | None, artifacts: Mapping[str, bytes], report: Report) -> None:
        """:meth:`add` of a task whose line was encoded where it was made (:func:`task_line`;
        None for a skipped task): a worker process ships bytes, not the body."""
        for name, data in artifacts.items():
            self.artifacts.add(name, data)
        if line is not None:
            self._tasks.write_line(line)
        self.report.merge(report)

    def finish(self, dropped: Iterable[Dropped] = (), notes: Iterable[str] = ()) -> Report:
        """After the ``with`` block: add what the reader dropped and noted, write
        ``report.json`` and return the report."""
        for item in dropped:
            self.report.dropped(item.source, item.reason, label=item.label)
        for note in notes:
            self.report.note(note)
        self.report.write(self.path / REPORT_FILE)
        return self.report


def start_shards(path: str | os.PathLike[str]) -> Path:
    """Before the writers of a sharded directory start: create it, remove what an earlier
    run wrote there (plain or sharded; a submit journal stays)."""
    root = Path(path)
    reset_outputs(root)  # creates it too
    return root


def commit_shards(path: str | os.PathLike[str], shards: Iterable[dict[str, Any]]) -> None:
    """After every writer finished: check no unique_id is in two shards, then write the
    manifest (the shards in order) that makes the directory complete.

    ``shards``: per shard ``name``, ``order`` (its place: the position of its first task in
    the whole job) and ``unique_ids``; only ``name`` and the task count are kept.

    Raises:
        PayloadError: two shards hold a task with the same unique_id (no manifest is
            written: the directory stays incomplete).
    """
    ordered = sorted(shards, key=lambda s: (s["order"], s["name"]))
    seen: dict[str, str] = {}
    for shard in ordered:
        for uid in shard["unique_ids"]:
            if uid in seen:
                raise PayloadError(
                    f"shards {seen[uid]!r} and {shard['name']!r} both hold unique_id {uid!r}; "
                    "make the unique_id template include a field that tells them apart"
                )
            seen[uid] = shard["name"]
    entries = [{"name": s["name"], "tasks": len(s["unique_ids"])} for s in ordered]
    write_manifest(Path(path), entries, tasks=len(seen))


def write_shard(
    path: str | os.PathLike[str],
    name: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    format: str = "memory",
    order: int = 0,
) -> dict[str, Any]:
    """Write task rows (:meth:`Task.to_row <prelabel.output.task.Task.to_row>`) as shard
    ``name`` of the sharded directory ``path`` (one writer's share of a job); returns what
    :func:`commit_shards` needs (nothing for no rows: no shard)."""
    tasks = (Task.from_row(row) for row in rows)
    first = next(tasks, None)
    if first is None:
        return {}
    unique_ids: list[str] = []
    with OutputDir(path, format=format, task_type=first.task_type, shard=name) as out:
        for task in itertools.chain([first], tasks):
            out.add(task)
            if not task.skipped:
                unique_ids.append(task.unique_id)
    out.finish()
    return {"name": name, "order": order, "unique_ids": unique_ids}
