"""Exactly-once submission of a converted directory (``DIR/tasks.jsonl`` + ``DIR/artifacts/``).

For each task: skip it when the journal says it exists; upload the artifacts its body names
(``artifact://NAME`` → ``DIR/artifacts/NAME``, remembered by content hash) and substitute the
returned URLs; if an earlier run may have sent it, look it up by unique_id first; write
``pending`` to the journal BEFORE the create request; on 409 look the task up and adopt it
when type and project match, else record a conflict naming both tasks.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prelabel.errors import InputError, SubmitError, SubmitRejectedError, SubmitTransportError
from prelabel.output.artifacts import ARTIFACT_SCHEME, artifact_refs
from prelabel.output.layout import ARTIFACTS_DIR
from prelabel.output.tasks import TaskLine, read_tasks
from prelabel.scale.client import DEFAULT_CONCURRENCY, ScaleClient
from prelabel.scale.errors import DuplicateError, UniqueIdConflictError
from prelabel.scale.journal import Journal, TaskRow

Outcome = Literal["created", "adopted", "skipped", "failed"]

__all__ = [
    "SubmitSummary",
    "submit_dir",
    "submit_lines",
]


def _substitute(value: Any, urls: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(ARTIFACT_SCHEME):
        return urls[value[len(ARTIFACT_SCHEME) :]]
    if isinstance(value, dict):
        return {k: _substitute(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, urls) for v in value]
    return value


@dataclass(slots=True)
class SubmitSummary:
    """What a submit run did. ``ok`` only when every task exists on the server."""

    total: int = 0
    created: int = 0
    adopted: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    uploads: int = 0
    uploads_reused: int = 0
    batches_created: list[str] = field(default_factory=list)
    batches_finalized: list[str] = field(default_factory=list)
    api_url: str = ""
    journal: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every task exists (created now, adopted, or done in an earlier run)."""
        return self.failed == 0

    @property
    def failed_by_reason(self) -> dict[str, int]:
        """Failure counts by kind (``HTTP 400``, ``transport error``, ``unique_id conflict``…)."""
        return dict(Counter(f["kind"] for f in self.failures))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no secrets: the API URL is scrubbed, the key never stored)."""
        return {
            "ok": self.ok,
            "total": self.total,
            "created": self.created,
            "adopted": self.adopted,
            "skipped": self.skipped,
            "failed": self.failed,
            "failed_by_reason": self.failed_by_reason,
            "failures": self.failures,
            "uploads": self.uploads,
            "uploads_reused": self.uploads_reused,
            "batches_created": self.batches_created,
            "batches_finalized": self.batches_finalized,
            "api_url": self.api_url,
            "journal": self.journal,
            "elapsed_s": round(self.elapsed_s, 3),
        }


ProgressFn = Callable[[Outcome, TaskLine], None]


def submit_dir(
    out_dir: str | os.PathLike[str],
    *,
    client: ScaleClient,
    journal_path: str | os.PathLike[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    create_batches: bool = False,
    finalize: bool = False,
    progress: ProgressFn | None = None,
) -> SubmitSummary:
    """Submit every task of ``out_dir`` exactly once; safe to rerun after any crash.

    Args:
        out_dir: A directory written by ``prelabel convert``.
        client: The API client (its URL is the journal's target).
        journal_path: SQLite journal; ``out_dir/journal.sqlite`` by default.
        concurrency: Tasks in flight at once (threads).
        create_batches: Create the batches the bodies name before submitting into them.
        finalize: Finalize each batch once all its tasks exist.
        progress: Called once per task with its outcome.

    Returns:
        The run's summary; ``summary.ok`` is False when any task failed.

    Raises:
        InputError: tasks.jsonl is malformed or names a missing artifact (before any request).
        SubmitError: a batch could not be created.
    """
    started = time.perf_counter()
    tasks = read_tasks(out_dir)
    root = Path(out_dir) / ARTIFACTS_DIR
    summary = submit_lines(
        tasks,
        lambda name: (root / name).read_bytes(),
        client=client,
        journal_path=Path(journal_path) if journal_path else Path(out_dir) / "journal.sqlite",
        concurrency=concurrency,
        create_batches=create_batches,
        finalize=finalize,
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
    concurrency: int = DEFAULT_CONCURRENCY,
    create_batches: bool = False,
    finalize: bool = False,
    progress: ProgressFn | None = None,
) -> SubmitSummary:
    """Submit checked task lines exactly once (what :func:`submit_dir` does once it has
    read the directory); ``artifact(NAME)`` gives the bytes of ``artifact://NAME``."""
    path = Path(journal_path)
    with Journal(path, target=client.api_url) as journal:
        runner = _Runner(artifact, client, journal)
        summary = runner.summary
        summary.total, summary.api_url, summary.journal = len(tasks), client.api_url, str(path)
        if create_batches:
            runner.create_batches(tasks)
        runner.run(tasks, max(1, concurrency), progress)
        if finalize:
            runner.finalize_batches(tasks)
    return summary


def _failure_kind(exc: SubmitError) -> str:
    if isinstance(exc, UniqueIdConflictError):
        return "unique_id conflict"
    if isinstance(exc, SubmitRejectedError):
        return f"HTTP {exc.status}"
    if isinstance(exc, SubmitTransportError):
        return "transport error"
    return "error"


class _Runner:
    """One submit run: per-task state machine, upload cache, counters."""

    def __init__(
        self, artifact: Callable[[str], bytes], client: ScaleClient, journal: Journal
    ) -> None:
        self.artifact = artifact
        self.client = client
        self.journal = journal
        self.summary = SubmitSummary()
        self._lock = threading.Lock()
        self._upload_locks: dict[str, threading.Lock] = {}
        self._urls: dict[str, str] = {}
        self._done: set[str] = set()

    def run(self, tasks: list[TaskLine], concurrency: int, progress: ProgressFn | None) -> None:
        known = self.journal.tasks()  # one read for the whole run, not one per task
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="submit") as pool:
            futures = {
                pool.submit(self.submit_one, task, known.get(task.unique_id)): task
                for task in tasks
            }
            try:
                for future in as_completed(futures):
                    outcome = future.result()
                    if progress is not None:
                        progress(outcome, futures[future])
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def submit_one(self, task: TaskLine, row: TaskRow | None) -> Outcome:
        """Bring one task to created/adopted/skipped, or record why it failed.

        ``row`` is the task's journal entry when the run started (None: never tried).
        """
        if row is not None and row.done:
            return self._count("skipped", task)
        try:
            body = self._resolve_artifacts(task)
            if row is not None:  # an earlier run may have sent it: ask before creating
                existing = self.client.find_task(task.unique_id)
                if existing is not None:
                    return self._adopt(task, existing)
            return self._create(task, body)
        except SubmitError as exc:
            return self._fail(task, exc)

    def _create(self, task: TaskLine, body: dict[str, Any]) -> Outcome:
        self.journal.mark_pending(task.unique_id, task.task_type)
        try:
            doc = self.client.create_task(task.task_type, body)
        except DuplicateError:
            existing = self.client.find_task(task.unique_id)
            if existing is None:
                raise
            return self._adopt(task, existing)
        self.journal.mark_done(task.unique_id, task.task_type, "created", _task_id(doc))
        return self._count("created", task)

    def _adopt(self, task: TaskLine, doc: dict[str, Any]) -> Outcome:
        theirs = (doc.get("type"), doc.get("project"), doc.get("batch"))
        same_type = theirs[0] == task.task_type
        same_project = task.project is None or theirs[1] == task.project
        same_batch = task.project is not None or task.batch is None or theirs[2] == task.batch
        if not (same_type and same_project and same_batch):
            raise UniqueIdConflictError(
                f"unique_id {task.unique_id!r} is already used by task {doc.get('task_id')}"
                f" (type {theirs[0]}, project {theirs[1]!r}); this task is type"
                f" {task.task_type}, project {task.project!r}",
                status=409,
                location=f"line {task.line}",
            )
        self.journal.mark_done(task.unique_id, task.task_type, "adopted", _task_id(doc))
        return self._count("adopted", task)

    def _fail(self, task: TaskLine, exc: SubmitError) -> Outcome:
        reason = self.client.scrub(exc.message)
        self.journal.mark_failed(task.unique_id, task.task_type, reason)
        with self._lock:
            self.summary.failures.append(
                {
                    "unique_id": task.unique_id,
                    "line": task.line,
                    "kind": _failure_kind(exc),
                    "reason": reason,
                }
            )
        return self._count("failed", task)

    def _count(self, outcome: Outcome, task: TaskLine) -> Outcome:
        with self._lock:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
            if outcome != "failed":
                self._done.add(task.unique_id)
        return outcome

    # -- artifacts -------------------------------------------------------------------

    def _resolve_artifacts(self, task: TaskLine) -> dict[str, Any]:
        names = {name for _, name in artifact_refs(task.body)}
        if not names:
            return task.body
        urls = {name: self._upload(name, task.project) for name in sorted(names)}
        substituted: dict[str, Any] = _substitute(task.body, urls)
        return substituted

    def _upload(self, name: str, project: str | None) -> str:
        content = self.artifact(name)
        digest = hashlib.sha256(content).hexdigest()
        with self._lock:
            lock = self._upload_locks.setdefault(digest, threading.Lock())
        with lock:
            if digest in self._urls:
                return self._urls[digest]
            url = self.journal.upload(digest)
            if url is None:
                url = self._send_upload(name, content, digest, project)
            else:
                with self._lock:
                    self.summary.uploads_reused += 1
            self._urls[digest] = url
            return url

    def _send_upload(self, name: str, content: bytes, digest: str, project: str | None) -> str:
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        doc = self.client.upload_file(
            Path(name).name, content, mimetype=mimetype, project_name=project
        )
        url = str(doc["attachment_url"])
        self.journal.record_upload(digest, name, url, str(doc.get("id") or "") or None)
        with self._lock:
            self.summary.uploads += 1
        return url

    # -- batches ---------------------------------------------------------------------

    def create_batches(self, tasks: list[TaskLine]) -> None:
        """Create every batch the bodies name (a 409 means it exists already)."""
        for name, project in _batches(tasks).items():
            if self.journal.batch_state(name) is not None:
                continue
            if project is None:
                raise InputError(f"batch {name!r}: no task names its project; cannot create it")
            try:
                self.client.create_batch(project, name)
                self.summary.batches_created.append(name)
            except DuplicateError:
                pass
            self.journal.record_batch(name, project, "created")

    def finalize_batches(self, tasks: list[TaskLine]) -> None:
        """Finalize each batch whose tasks all exist now."""
        members: dict[str, list[str]] = {}
        for task in tasks:
            if task.batch is not None:
                members.setdefault(task.batch, []).append(task.unique_id)
        for name, uids in members.items():
            if self.journal.batch_state(name) == "finalized":
                continue
            if all(uid in self._done for uid in uids):
                self.client.finalize_batch(name)
                self.journal.record_batch(name, None, "finalized")
                self.summary.batches_finalized.append(name)


def _task_id(doc: dict[str, Any]) -> str:
    task_id = doc.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise SubmitRejectedError("the server's task object has no task_id", status=200)
    return task_id


def _batches(tasks: list[TaskLine]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for task in tasks:
        if task.batch is not None:
            out[task.batch] = out.get(task.batch) or task.project
    return out
