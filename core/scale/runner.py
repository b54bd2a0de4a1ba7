"""One submit run: the per-task state machine behind :func:`prelabel.scale.submit.submit_dir`.

For each task: skip it when the journal says it exists with the same body (digest); upload the
artifacts its body names (remembered by content hash) and substitute the returned URLs; add
the body digest to ``metadata``; if an earlier run may have sent it, look it up by unique_id
first; write ``pending`` to the journal BEFORE the create request. A task that already exists
(the lookup, or a 409) is adopted when it holds the same body; when it holds another, the
``on_changed`` policy decides:

    error    report it (the run fails, exit 5) and touch nothing          (default)
    skip     keep the existing task, and say so
    replace  cancel it with clear_unique_id=true and create the new one — only while its work
             has not started (Scale allows no more); a started or completed task is reported

The first 401 or 403 stops the run: no further request is sent with a key the server refused.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prelabel.errors import InputError, SubmitError, SubmitRejectedError, SubmitTransportError
from prelabel.output.artifacts import artifact_refs, substitute
from prelabel.output.tasks import TaskLine
from prelabel.scale.client import ScaleClient
from prelabel.scale.digest import body_digest, sent_digest, with_digest
from prelabel.scale.errors import (
    BadRequestError,
    DuplicateError,
    UnauthorizedError,
    UniqueIdConflictError,
)
from prelabel.scale.journal import Journal, TaskRow

if TYPE_CHECKING:
    from prelabel.scale.submit import SubmitSummary

OnChanged = Literal["error", "skip", "replace"]
ON_CHANGED: tuple[OnChanged, ...] = ("error", "skip", "replace")
Outcome = Literal[
    "created", "adopted", "skipped", "replaced", "kept", "changed", "failed", "not attempted"
]
ProgressFn = Callable[[Outcome, "TaskLine"], None]
COUNTED: dict[Outcome, str] = {"not attempted": "not_attempted"}


def failure_kind(exc: SubmitError) -> str:
    """A short name for a failure, for counts (``HTTP 400``, ``transport error``, ...)."""
    if isinstance(exc, UniqueIdConflictError):
        return "unique_id conflict"
    if isinstance(exc, SubmitRejectedError):
        return f"HTTP {exc.status}"
    if isinstance(exc, SubmitTransportError):
        return "transport error"
    return "error"


class Runner:
    """One submit run: per-task state machine, upload cache, counters."""

    def __init__(
        self,
        artifact: Callable[[str], bytes],
        client: ScaleClient,
        journal: Journal,
        summary: SubmitSummary,
        on_changed: OnChanged = "error",
    ) -> None:
        self.artifact = artifact  # NAME -> the bytes of artifact://NAME
        self.client = client
        self.journal = journal
        self.summary = summary
        self.on_changed = on_changed
        self._lock = threading.Lock()
        self._upload_locks: dict[str, threading.Lock] = {}
        self._urls: dict[str, str] = {}
        self._sha: dict[str, str] = {}
        self._done: set[str] = set()  # unique_ids in a batch that exist now
        self._stop = threading.Event()

    def run(self, tasks: list[TaskLine], concurrency: int, progress: ProgressFn | None) -> None:
        """Submit ``tasks`` with ``concurrency`` in flight; at most that many are queued."""
        known = self.journal.tasks()  # one read for the whole run, not one per task
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="submit") as pool:
            try:
                self._drive(pool, tasks, known, concurrency, progress)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def _drive(
        self,
        pool: ThreadPoolExecutor,
        tasks: Iterable[TaskLine],
        known: dict[str, TaskRow],
        window: int,
        progress: ProgressFn | None,
    ) -> None:
        pending: dict[Future[Outcome], TaskLine] = {}
        for task in tasks:
            if len(pending) >= 2 * window:
                self._collect(pending, progress)
            pending[pool.submit(self.submit_one, task, known.get(task.unique_id))] = task
        while pending:
            self._collect(pending, progress)

    def _collect(
        self, pending: dict[Future[Outcome], TaskLine], progress: ProgressFn | None
    ) -> None:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            task = pending.pop(future)
            outcome = future.result()
            if progress is not None:
                progress(outcome, task)

    # -- one task --------------------------------------------------------------------

    def submit_one(self, task: TaskLine, row: TaskRow | None) -> Outcome:
        """Bring one task to created/adopted/skipped/replaced/kept, or record why not.

        ``row`` is the task's journal entry when the run started (None: never tried).
        """
        if self._stop.is_set():
            return self._count("not attempted", task)
        try:
            digest = self._digest(task)
            if row is not None and row.done and row.digest in (None, digest):
                return self._count("skipped", task)
            body = with_digest(self._resolve_artifacts(task), digest)
            if row is not None:  # an earlier run may have sent it: ask before creating
                existing = self.client.find_task(task.unique_id)
                if existing is not None:
                    return self._existing(task, existing, body, digest)
            return self._create(task, body, digest)
        except SubmitError as exc:
            if isinstance(exc, UnauthorizedError):
                self._stop.set()
            return self._fail(task, exc)

    def _create(
        self, task: TaskLine, body: dict[str, Any], digest: str, outcome: Outcome = "created"
    ) -> Outcome:
        self.journal.mark_pending(task.unique_id, task.task_type, digest)
        try:
            doc = self.client.create_task(task.task_type, body)
        except DuplicateError:
            existing = self.client.find_task(task.unique_id)
            if existing is None:
                raise
            return self._existing(task, existing, body, digest)
        self.journal.mark_done(task.unique_id, task.task_type, "created", _task_id(doc), digest)
        return self._count(outcome, task)

    def _existing(
        self, task: TaskLine, doc: dict[str, Any], body: dict[str, Any], digest: str
    ) -> Outcome:
        """The unique_id is taken by ``doc``: adopt it, or apply the changed-body policy."""
        _check_same_kind(task, doc)
        if sent_digest(doc) == digest:
            self.journal.mark_done(task.unique_id, task.task_type, "adopted", _task_id(doc), digest)
            return self._count("adopted", task)
        return self._changed(task, doc, body, digest)

    def _changed(
        self, task: TaskLine, doc: dict[str, Any], body: dict[str, Any], digest: str
    ) -> Outcome:
        started = doc.get("status") != "pending" or bool(doc.get("work_started"))
        task_id = _task_id(doc)
        if self.on_changed == "skip":
            self._note_change(task, doc, "kept (on-changed skip)")
            self.journal.mark_done(
                task.unique_id, task.task_type, "adopted", task_id, sent_digest(doc)
            )
            return self._count("kept", task)
        if self.on_changed == "replace" and not started:
            self._cancel(task, task_id)
            self._note_change(task, doc, "replaced: canceled with clear_unique_id, created anew")
            return self._create(task, body, digest, "replaced")
        action = "left as is: its work has started" if self.on_changed == "replace" else "reported"
        self._note_change(task, doc, action)
        reason = f"task {task_id} holds a different body ({action})"
        self.journal.mark_failed(task.unique_id, task.task_type, reason)
        return self._count("changed", task)

    def _cancel(self, task: TaskLine, task_id: str) -> None:
        try:
            self.client.cancel_task(task_id, clear_unique_id=True)
        except BadRequestError:  # a retried cancel whose first answer was lost
            fresh = self.client.get_task(task_id)
            if fresh.get("status") != "canceled" or fresh.get("unique_id") == task.unique_id:
                raise

    def _note_change(self, task: TaskLine, doc: dict[str, Any], action: str) -> None:
        entry = {
            "unique_id": task.unique_id,
            "line": task.line,
            "task_id": doc.get("task_id"),
            "status": doc.get("status"),
            "work_started": bool(doc.get("work_started")),
            "action": action,
        }
        with self._lock:
            self.summary.changes.append(entry)

    def _fail(self, task: TaskLine, exc: SubmitError) -> Outcome:
        reason = self.client.scrub(exc.message)
        if not isinstance(exc, UnauthorizedError):
            self.journal.mark_failed(task.unique_id, task.task_type, reason)
        with self._lock:
            self.summary.failures.append(
                {
                    "unique_id": task.unique_id,
                    "line": task.line,
                    "kind": failure_kind(exc),
                    "reason": reason,
                }
            )
        return self._count("failed", task)

    def _count(self, outcome: Outcome, task: TaskLine) -> Outcome:
        name = COUNTED.get(outcome, outcome)
        with self._lock:
            setattr(self.summary, name, getattr(self.summary, name) + 1)
            done = outcome in ("created", "adopted", "skipped", "replaced", "kept")
            if done and task.batch is not None:  # only batches need it (finalize): no growth
                self._done.add(task.unique_id)
        return outcome

    # -- artifacts -------------------------------------------------------------------

    def _digest(self, task: TaskLine) -> str:
        names = {name for _, name in artifact_refs(task.body)}
        return body_digest(task.task_type, task.body, {n: self._content_sha(n) for n in names})

    def _content_sha(self, name: str) -> str:
        with self._lock:
            known = self._sha.get(name)
        if known is None:
            known = hashlib.sha256(self.artifact(name)).hexdigest()
            with self._lock:
                self._sha[name] = known
        return known

    def _resolve_artifacts(self, task: TaskLine) -> dict[str, Any]:
        names = {name for _, name in artifact_refs(task.body)}
        if not names:
            return task.body
        urls = {name: self._upload(name, task.project) for name in sorted(names)}
        substituted: dict[str, Any] = substitute(task.body, urls)
        return substituted

    def _upload(self, name: str, project: str | None) -> str:
        digest = self._content_sha(name)
        with self._lock:
            lock = self._upload_locks.setdefault(digest, threading.Lock())
        with lock:
            if digest in self._urls:
                return self._urls[digest]
            url = self.journal.upload(digest)
            if url is None:
                url = self._send_upload(name, digest, project)
            else:
                with self._lock:
                    self.summary.uploads_reused += 1
            self._urls[digest] = url
            return url

    def _send_upload(self, name: str, digest: str, project: str | None) -> str:
        content = self.artifact(name)
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


def _check_same_kind(task: TaskLine, doc: dict[str, Any]) -> None:
    """A unique_id held by a task of another type, project or batch is not ours."""
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
