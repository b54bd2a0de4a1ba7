"""Exactly-once submission of a converted directory (``DIR/tasks.jsonl`` + ``DIR/artifacts/``).

:func:`submit_dir` reads and checks every line, opens the journal for the target, and hands
the tasks to :class:`~prelabel.scale.runner.Runner` (the per-task state machine: uploads,
journal, 409 adoption, the changed-body policy ``on_changed``, the stop on a refused key).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from prelabel.errors import InputError
from prelabel.scale.artifacts import artifact_refs
from prelabel.scale.client import DEFAULT_CONCURRENCY, ScaleClient
from prelabel.scale.journal import Journal
from prelabel.scale.runner import OnChanged, ProgressFn, Runner

__all__ = [
    "SubmitSummary",
    "TaskLine",
    "read_tasks",
    "submit_dir",
]


@dataclass(frozen=True, slots=True)
class TaskLine:
    """One line of ``tasks.jsonl``."""

    line: int
    task_type: str
    body: dict[str, Any]

    @property
    def unique_id(self) -> str:
        """The task's unique_id (validated present by :func:`read_tasks`)."""
        return str(self.body["unique_id"])

    @property
    def project(self) -> str | None:
        """The ``project`` of the body, if any."""
        value = self.body.get("project")
        return None if value is None else str(value)

    @property
    def batch(self) -> str | None:
        """The ``batch`` of the body, if any."""
        value = self.body.get("batch")
        return None if value is None else str(value)


def read_tasks(out_dir: str | os.PathLike[str]) -> list[TaskLine]:
    """Read and check ``DIR/tasks.jsonl``: JSON, task_type, body, unique_id, artifacts exist.

    Raises:
        InputError: naming the file, the line and what is wrong.
    """
    path = Path(out_dir) / "tasks.jsonl"
    if not path.is_file():
        raise InputError("no tasks.jsonl here (run `prelabel convert` first)", path=out_dir)
    tasks: list[TaskLine] = []
    seen: dict[str, int] = {}
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            task = _parse_line(path, number, raw)
            _check_artifacts(path, task)
            if task.unique_id in seen:
                raise InputError(
                    f"unique_id {task.unique_id!r} repeats line {seen[task.unique_id]}",
                    path=path,
                    location=f"line {number}",
                )
            seen[task.unique_id] = number
            tasks.append(task)
    return tasks


def _parse_line(path: Path, number: int, raw: bytes) -> TaskLine:
    where = f"line {number}"
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path, location=where) from None
    if not isinstance(doc, dict):
        raise InputError("expected an object {task_type, body}", path=path, location=where)
    task_type, body = doc.get("task_type"), doc.get("body")
    if not isinstance(task_type, str) or not task_type:
        raise InputError("missing task_type", path=path, location=where)
    if not isinstance(body, dict):
        raise InputError("missing body object", path=path, location=where)
    unique_id = body.get("unique_id")
    if not isinstance(unique_id, str) or not unique_id:
        raise InputError(
            "body has no unique_id (needed for exactly-once submit)", path=path, location=where
        )
    return TaskLine(number, task_type, body)


def _check_artifacts(path: Path, task: TaskLine) -> None:
    root = (path.parent / "artifacts").resolve()
    for where, name in artifact_refs(task.body):
        target = (root / name).resolve()
        if not name or root not in target.parents:
            raise InputError(
                f"{where}: artifact name {name!r} is outside artifacts/",
                path=path,
                location=f"line {task.line}",
            )
        if not target.is_file():
            raise InputError(
                f"{where}: artifact file artifacts/{name} is missing",
                path=path,
                location=f"line {task.line}",
            )


@dataclass(slots=True)
class SubmitSummary:
    """What a submit run did. ``ok`` only when every task exists holding its body."""

    total: int = 0
    created: int = 0
    adopted: int = 0
    skipped: int = 0
    replaced: int = 0
    kept: int = 0
    changed: int = 0
    failed: int = 0
    not_attempted: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    uploads: int = 0
    uploads_reused: int = 0
    batches_created: list[str] = field(default_factory=list)
    batches_finalized: list[str] = field(default_factory=list)
    api_url: str = ""
    journal: str = ""
    on_changed: str = "error"
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every task exists with its body (created, adopted, replaced, done before) or was
        kept on purpose (``on_changed = "skip"``)."""
        return self.failed == 0 and self.changed == 0 and self.not_attempted == 0

    @property
    def failed_by_reason(self) -> dict[str, int]:
        """Failure counts by kind (``HTTP 400``, ``transport error``, ``unique_id conflict``…)."""
        return dict(Counter(f["kind"] for f in self.failures))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no secrets: the API URL is scrubbed, the key never stored)."""
        counts = ("total", "created", "adopted", "skipped", "replaced", "kept", "changed",
                  "failed", "not_attempted")  # fmt: skip
        return {
            "ok": self.ok,
            **{name: getattr(self, name) for name in counts},
            "failed_by_reason": self.failed_by_reason,
            "failures": self.failures,
            "changes": self.changes,
            "on_changed": self.on_changed,
            "uploads": self.uploads,
            "uploads_reused": self.uploads_reused,
            "batches_created": self.batches_created,
            "batches_finalized": self.batches_finalized,
            "api_url": self.api_url,
            "journal": self.journal,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def submit_dir(
    out_dir: str | os.PathLike[str],
    *,
    client: ScaleClient,
    journal_path: str | os.PathLike[str] | None = None,
    target: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    create_batches: bool = False,
    finalize: bool = False,
    on_changed: OnChanged = "error",
    progress: ProgressFn | None = None,
) -> SubmitSummary:
    """Submit every task of ``out_dir`` exactly once; safe to rerun after any crash.

    Args:
        out_dir: A directory written by ``prelabel convert``.
        client: The API client.
        journal_path: SQLite journal; ``out_dir/journal.sqlite`` by default.
        target: What the journal keys its rows by (default: the client's API URL; give a
            stable name when the URL changes between runs, as a local sandbox's port does).
        concurrency: Tasks in flight at once (threads).
        create_batches: Create the batches the bodies name before submitting into them.
        finalize: Finalize each batch once all its tasks exist.
        on_changed: A task that exists with a different body: ``error`` (report it),
            ``skip`` (keep it) or ``replace`` (cancel and recreate while work has not started).
        progress: Called once per task with its outcome.

    Returns:
        The run's summary; ``summary.ok`` is False when any task failed or changed.

    Raises:
        InputError: tasks.jsonl is malformed or names a missing artifact (before any request),
            or the journal file is not a journal.
        EnvironmentFailure: the journal cannot be created or written.
        SubmitError: a batch could not be created.
    """
    started = time.perf_counter()
    tasks = read_tasks(out_dir)
    path = Path(journal_path) if journal_path else Path(out_dir) / "journal.sqlite"
    summary = SubmitSummary(total=len(tasks), api_url=client.api_url, journal=str(path))
    summary.on_changed = on_changed
    with Journal(path, target=target or client.api_url) as journal:
        runner = Runner(Path(out_dir), client, journal, summary, on_changed)
        if create_batches:
            runner.create_batches(tasks)
        runner.run(tasks, max(1, concurrency), progress)
        if finalize:
            runner.finalize_batches(tasks)
    summary.elapsed_s = time.perf_counter() - started
    return summary
