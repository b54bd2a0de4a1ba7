"""The submit journal: a SQLite file that remembers, per target API, what each task became.

States of a task (keyed by target URL and unique_id):

    pending   the create request may have gone out (written BEFORE sending)
    created   the server answered with a task_id
    adopted   the unique_id already existed with a matching task; we took its task_id
    failed    a final error; ``reason`` says which

A rerun skips ``created``/``adopted`` tasks and, for ``pending``/``failed`` ones, asks the server
by unique_id before creating anything. Uploads are remembered by content hash. Each write is its
own committed transaction (WAL), so a SIGKILL loses at most the request in flight — which the
pending row already covers. The API key is never written here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TaskState = Literal["pending", "created", "adopted", "failed"]
DONE_STATES: tuple[TaskState, ...] = ("created", "adopted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    target TEXT NOT NULL,
    unique_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (target, unique_id)
);
CREATE TABLE IF NOT EXISTS uploads (
    target TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    file_id TEXT,
    uploaded_at REAL NOT NULL,
    PRIMARY KEY (target, sha256)
);
CREATE TABLE IF NOT EXISTS batches (
    target TEXT NOT NULL,
    name TEXT NOT NULL,
    project TEXT,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (target, name)
);
"""


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task's journal entry."""

    unique_id: str
    task_type: str
    state: TaskState
    task_id: str | None
    reason: str | None
    attempts: int

    @property
    def done(self) -> bool:
        """Whether the task is known to exist on the server."""
        return self.state in DONE_STATES


class Journal:
    """Thread-safe access to one journal file for one target API URL."""

    def __init__(self, path: str | os.PathLike[str], *, target: str) -> None:
        self.path = Path(path)
        self.target = target
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, target={self.target!r})"

    def task(self, unique_id: str) -> TaskRow | None:
        """The journal entry for ``unique_id`` at this target, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT unique_id, task_type, state, task_id, reason, attempts FROM tasks"
                " WHERE target = ? AND unique_id = ?",
                (self.target, unique_id),
            ).fetchone()
        return TaskRow(*row) if row else None

    def tasks(self) -> dict[str, TaskRow]:
        """Every task entry at this target, by unique_id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT unique_id, task_type, state, task_id, reason, attempts FROM tasks"
                " WHERE target = ?",
                (self.target,),
            ).fetchall()
        return {r[0]: TaskRow(*r) for r in rows}

    def mark_pending(self, unique_id: str, task_type: str) -> None:
        """Record that a create request is about to go out (call BEFORE sending)."""
        self._write(
            "INSERT INTO tasks (target, unique_id, task_type, state, attempts, updated_at)"
            " VALUES (?, ?, ?, 'pending', 1, ?)"
            " ON CONFLICT (target, unique_id) DO UPDATE SET state = 'pending',"
            " reason = NULL, attempts = attempts + 1, task_type = excluded.task_type,"
            " updated_at = excluded.updated_at",
            (self.target, unique_id, task_type, time.time()),
        )

    def mark_done(self, unique_id: str, task_type: str, state: TaskState, task_id: str) -> None:
        """Record that the task exists with ``task_id`` (``created`` or ``adopted``)."""
        self._finish(unique_id, task_type, state, task_id, None)

    def mark_failed(self, unique_id: str, task_type: str, reason: str) -> None:
        """Record a final failure with its reason (must not contain secrets)."""
        self._finish(unique_id, task_type, "failed", None, reason)

    def _finish(
        self,
        unique_id: str,
        task_type: str,
        state: TaskState,
        task_id: str | None,
        reason: str | None,
    ) -> None:
        self._write(
            "INSERT INTO tasks (target, unique_id, task_type, state, task_id, reason, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (target, unique_id) DO UPDATE SET state = excluded.state,"
            " task_id = excluded.task_id, reason = excluded.reason,"
            " updated_at = excluded.updated_at",
            (self.target, unique_id, task_type, state, task_id, reason, time.time()),
        )

    def upload(self, sha256: str) -> str | None:
        """The URL an earlier upload of this content got at this target, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT url FROM uploads WHERE target = ? AND sha256 = ?", (self.target, sha256)
            ).fetchone()
        return str(row[0]) if row else None

    def record_upload(self, sha256: str, name: str, url: str, file_id: str | None) -> None:
        """Remember an upload so reruns reuse its URL."""
        self._write(
            "INSERT OR REPLACE INTO uploads (target, sha256, name, url, file_id, uploaded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self.target, sha256, name, url, file_id, time.time()),
        )

    def batch_state(self, name: str) -> str | None:
        """``created`` or ``finalized`` for a batch this journal handled, else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM batches WHERE target = ? AND name = ?", (self.target, name)
            ).fetchone()
        return str(row[0]) if row else None

    def record_batch(self, name: str, project: str | None, state: str) -> None:
        """Remember that a batch was created or finalized."""
        self._write(
            "INSERT OR REPLACE INTO batches (target, name, project, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.target, name, project, state, time.time()),
        )

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)
