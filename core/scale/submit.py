"""Exactly-once submission of a converted directory (``DIR/tasks.jsonl`` + ``DIR/artifacts/``).

:func:`submit_dir` reads and checks every line, opens the journal for the target, and hands
the tasks to :class:`~prelabel.scale.runner.Runner` (the per-task state machine: uploads,
journal, 409 adoption, the changed-body policy ``on_changed``, the stop on a refused key).
:func:`submit_lines` is that hand-over for lines read from anywhere, with the artifacts given
by a reader function (:func:`prelabel.scale.tasks.submit_tasks` submits tasks in memory).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel.output.layout import ARTIFACTS_DIR, JOURNAL_FILE
from prelabel.output.tasks import TaskLine, read_tasks
from prelabel.scale.client import DEFAULT_CONCURRENCY, ScaleClient
from prelabel.scale.journal import Journal
from prelabel.scale.runner import OnChanged, ProgressFn, Runner

__all__ = [
    "SubmitSummary",
    "submit_dir",
    "submit_lines",
]


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
    root = Path(out_dir) / ARTIFACTS_DIR
    summary = submit_lines(
        tasks,
        lambda name: (root / name).read_bytes(),
        client=client,
        journal_path=Path(journal_path) if journal_path else Path(out_dir) / JOURNAL_FILE,
        target=target,
        concurrency=concurrency,
        create_batches=create_batches,
        finalize=finalize,
        on_changed=on_changed,
        progress=progress,
    )
    summary.elapsed_s = time.perf_counter() - started
    return summary


def submit_lines(
    tasks: list[TaskLine],
    artifact: Callable[[str], bytes],
    *,
    client: ScaleClient,
    journal_path: str | os.PathLike[str],
    target: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    create_batches: bool = False,
    finalize: bool = False,
    on_changed: OnChanged = "error",
    progress: ProgressFn | None = None,
) -> SubmitSummary:
    """Submit checked task lines exactly once (what :func:`submit_dir` does once it has
    read the directory); ``artifact(NAME)`` gives the bytes of ``artifact://NAME``."""
    path = Path(journal_path)
    summary = SubmitSummary(total=len(tasks), api_url=client.api_url, journal=str(path))
    summary.on_changed = on_changed
    with Journal(path, target=target or client.api_url) as journal:
        runner = Runner(artifact, client, journal, summary, on_changed)
        if create_batches:
            runner.create_batches(tasks)
        runner.run(tasks, max(1, concurrency), progress)
        if finalize:
            runner.finalize_batches(tasks)
    return summary
