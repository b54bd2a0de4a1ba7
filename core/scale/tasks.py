"""Submitting tasks held in memory, with the guarantees of ``prelabel submit``.

:func:`submit_tasks` takes tasks as :class:`~prelabel.output.task.Task` objects (what
:class:`prelabel.Converter` returns) or as mappings ``{"task_type", "body", "artifacts"?}``,
checks every one before any request (a unique_id each, no two alike, every
``artifact://NAME`` among the task's artifacts) and hands them to the same machinery as a
directory (:func:`~prelabel.scale.submit.submit_lines`): the SQLite journal at the path the
caller gives (a rerun skips what exists and never creates a duplicate), artifact uploads
remembered by content, the token-bucket rate and the retries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from prelabel.errors import InputError
from prelabel.output.artifacts import artifact_refs
from prelabel.output.task import Task
from prelabel.output.tasks import TaskLine
from prelabel.scale.client import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    RetryPolicy,
    ScaleClient,
    load_api_key,
)
from prelabel.scale.runner import OnChanged, ProgressFn
from prelabel.scale.submit import SubmitSummary, submit_lines

MEMORY = "<memory>"  # what errors name as the file of tasks given in memory


def submit_tasks(
    tasks: Iterable[Task | Mapping[str, Any]],
    *,
    api_url: str,
    journal: str | os.PathLike[str],
    api_key: str | None = None,
    rate: float = DEFAULT_RATE,
    concurrency: int = DEFAULT_CONCURRENCY,
    retries: int = 5,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
    create_batches: bool = False,
    finalize: bool = False,
    on_changed: OnChanged = "error",
    progress: ProgressFn | None = None,
) -> SubmitSummary:
    """Create each task on Scale exactly once; safe to rerun with the same journal.

    Args:
        tasks: :class:`~prelabel.Task` objects (skipped ones are not sent), or mappings
            with ``task_type``, ``body`` and optionally ``artifacts`` (name -> bytes).
        api_url: the API's base URL (``https://api.scale.com/v1``, or a sandbox's URL).
        journal: the SQLite journal file (created if missing; keep it for reruns).
        api_key: the key; the ``SCALE_API_KEY`` environment variable when None.
        rate: task creations per second (token bucket; 0 = unpaced).
        concurrency: tasks in flight at once.
        retries: retries per request after the first try (429, 5xx, connection errors).
        retry: the whole retry policy (backoff, cap), instead of ``retries``.
        timeout: seconds to wait for each response.
        create_batches: create the batches the bodies name first.
        finalize: finalize each batch once all its tasks exist.
        on_changed: a task that exists with a different body: ``error``, ``skip`` or
            ``replace`` (as ``prelabel submit --on-changed``).
        progress: called once per task with its outcome and its line (``line`` is the
            task's 1-based position in ``tasks``).

    Returns:
        The summary; ``summary.ok`` is False when a task failed (rerun to retry it).

    Raises:
        InputError: a task without a unique_id, two alike, or an ``artifact://NAME`` the
            task does not carry (before any request); no API key.
        SubmitError: a batch could not be created.
    """
    started = time.perf_counter()
    lines, files = _lines(tasks)
    key = api_key if api_key is not None else load_api_key()
    with ScaleClient(
        key,
        api_url=api_url,
        rate=rate,
        max_connections=concurrency,
        read_timeout=timeout,
        retry=retry or RetryPolicy(attempts=retries + 1),
    ) as client:
        summary = submit_lines(
            lines,
            files.__getitem__,
            client=client,
            journal_path=Path(journal),
            concurrency=concurrency,
            create_batches=create_batches,
            finalize=finalize,
            on_changed=on_changed,
            progress=progress,
        )
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _lines(tasks: Iterable[Task | Mapping[str, Any]]) -> tuple[list[TaskLine], dict[str, bytes]]:
    """The tasks as checked lines, and every artifact by name."""
    lines: list[TaskLine] = []
    files: dict[str, bytes] = {}
    owner: dict[str, str] = {}
    seen: dict[str, int] = {}
    for number, task in enumerate(tasks, start=1):
        if isinstance(task, Task) and task.skipped:  # left out by skip_empty: nothing to send
            continue
        line, artifacts = _line(number, task)
        uid = line.unique_id
        if uid in seen:
            raise _fail(number, f"unique_id {uid!r} repeats task {seen[uid]}")
        seen[uid] = number
        for where, name in artifact_refs(line.body):
            if name not in artifacts:
                raise _fail(number, f"{where}: artifact {name!r} is not among the task's artifacts")
            if name in files and files[name] != artifacts[name]:
                raise _fail(number, f"artifact {name!r} differs from task {owner[name]}'s")
            files[name], owner[name] = artifacts[name], uid
        lines.append(line)
    return lines, files


def _line(number: int, task: Task | Mapping[str, Any]) -> tuple[TaskLine, Mapping[str, bytes]]:
    task_type: Any
    body: Any
    artifacts: Mapping[str, bytes]
    if isinstance(task, Task):
        task_type, body, artifacts = task.task_type, task.body, task.artifacts
    elif isinstance(task, Mapping):
        task_type, body = task.get("task_type"), task.get("body")
        artifacts = task.get("artifacts") or {}
    else:
        raise _fail(number, f"expected a prelabel.Task or a mapping, got {type(task).__name__}")
    if not isinstance(task_type, str) or not task_type:
        raise _fail(number, "missing task_type")
    if not isinstance(body, dict):
        raise _fail(number, "missing body object")
    uid = body.get("unique_id")
    if not isinstance(uid, str) or not uid:
        raise _fail(number, "body has no unique_id (needed for exactly-once submit)")
    return TaskLine(number, task_type, body), artifacts


def _fail(number: int, reason: str) -> InputError:
    return InputError(reason, path=MEMORY, location=f"task {number}")
