"""The submit journal: a SQLite file that remembers, per target API, what each task became.

States of a task (keyed by target URL and unique_id):

    pending   the create request may have gone out (written BEFORE sending)
    created   the server answered with a task_id
    adopted   the unique_id already existed with a matching task; we took its task_id
    failed    a final error; ``reason`` says which

A rerun skips ``created``/``adopted`` tasks whose body digest (``digest``, also kept in the
task's metadata) is unchanged and, for ``pending``/``failed`` ones, asks the server by unique_id
before creating anything. Uploads are remembered by content hash. Each write is its own
committed transaction (WAL), so a SIGKILL loses at most the request in flight — which the
pending row already covers. The API key is never written here.

A file that is not a journal (not SQLite, corrupt, another program's database) is an
:class:`~prelabel.errors.InputError` naming it; a location that cannot be created or written
an :class:`~prelabel.errors.EnvironmentFailure`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prelabel.errors import EnvironmentFailure, InputError, PrelabelError

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
    digest TEXT,
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
    digest: str | None = None

    @property
    def done(self) -> bool:
        """Whether the task is known to exist on the server."""
        return self.state in DONE_STATES


class Journal:
    """Thread-safe access to one journal file for one target API URL."""

    def __init__(self, path: str | os.PathLike[str], *, target: str) -> None:
        self.path = Path(path)
        self.target = target
        self._lock = threading.Lock()
        self._db = _open(self.path)

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
        rows = self._read(
            f"SELECT {_ROW} FROM tasks WHERE target = ? AND unique_id = ?",
            (self.target, unique_id),
        )
        return TaskRow(*rows[0]) if rows else None

    def tasks(self) -> dict[str, TaskRow]:
        """Every task entry at this target, by unique_id."""
        rows = self._read(f"SELECT {_ROW} FROM tasks WHERE target = ?", (self.target,))
        return {r[0]: TaskRow(*r) for r in rows}

    def mark_pending(self, unique_id: str, task_type: str, digest: str | None = None) -> None:
        """Record that a create request is about to go out (call BEFORE sending)."""
        self._write(
            "INSERT INTO tasks (target, unique_id, task_type, state, attempts, updated_at,"
            " digest) VALUES (?, ?, ?, 'pending', 1, ?, ?)"
            " ON CONFLICT (target, unique_id) DO UPDATE SET state = 'pending',"
            " reason = NULL, attempts = attempts + 1, task_type = excluded.task_type,"
            " updated_at = excluded.updated_at, digest = excluded.digest",
            (self.target, unique_id, task_type, time.time(), digest),
        )

    def mark_done(
        self,
        unique_id: str,
        task_type: str,
        state: TaskState,
        task_id: str,
        digest: str | None = None,
    ) -> None:
        """Record that the task exists with ``task_id`` (``created`` or ``adopted``) holding
        the body whose digest is ``digest``."""
        self._finish(unique_id, task_type, state, task_id, None, digest)

    def mark_failed(self, unique_id: str, task_type: str, reason: str) -> None:
        """Record a final failure with its reason (must not contain secrets)."""
        self._finish(unique_id, task_type, "failed", None, reason, None)

    def _finish(
        self,
        unique_id: str,
        task_type: str,
        state: TaskState,
        task_id: str | None,
        reason: str | None,
        digest: str | None,
    ) -> None:
        self._write(
            "INSERT INTO tasks (target, unique_id, task_type, state, task_id, reason,"
            " updated_at, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (target, unique_id) DO UPDATE SET state = excluded.state,"
            " task_id = excluded.task_id, reason = excluded.reason,"
            " updated_at = excluded.updated_at, digest = excluded.digest",
            (self.target, unique_id, task_type, state, task_id, reason, time.time(), digest),
        )

    def upload(self, sha256: str) -> str | None:
        """The URL an earlier upload of this content got at this target, if any."""
        rows = self._read(
            "SELECT url FROM uploads WHERE target = ? AND sha256 = ?", (self.target, sha256)
        )
        return str(rows[0][0]) if rows else None

    def record_upload(self, sha256: str, name: str, url: str, file_id: str | None) -> None:
        """Remember an upload so reruns reuse its URL."""
        self._write(
            "INSERT OR REPLACE INTO uploads (target, sha256, name, url, file_id, uploaded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self.target, sha256, name, url, file_id, time.time()),
        )

    def batch_state(self, name: str) -> str | None:
        """``created`` or ``finalized`` for a batch this journal handled, else None."""
        rows = self._read(
            "SELECT state FROM batches WHERE target = ? AND name = ?", (self.target, name)
        )
        return str(rows[0][0]) if rows else None

    def record_batch(self, name: str, project: str | None, state: str) -> None:
        """Remember that a batch was created or finalized."""
        self._write(
            "INSERT OR REPLACE INTO batches (target, name, project, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.target, name, project, state, time.time()),
        )

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _journal_error(exc, self.path) from None

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        with self._lock:
            try:
                self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise _journal_error(exc, self.path) from None


_ROW = "unique_id, task_type, state, task_id, reason, attempts, digest"
# the columns of each table; an older journal may lack ``digest`` (added on open)
_COLUMNS = {
    "tasks": {"target", "unique_id", "task_type", "state", "task_id", "reason", "attempts",
              "updated_at", "digest"},
    "uploads": {"target", "sha256", "name", "url", "file_id", "uploaded_at"},
    "batches": {"target", "name", "project", "state", "updated_at"},
}  # fmt: skip
_ENVIRONMENT = ("unable to open", "readonly", "disk i/o", "disk is full", "locked", "permission")


def _open(path: Path) -> sqlite3.Connection:
    """Open (or create) the journal at ``path``; refuse what is not one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentFailure(
            f"cannot create the journal's folder: {exc.strerror}", path=path
        ) from None
    if path.is_dir():
        raise InputError("is a folder, not a journal file; pass --journal FILE", path=path)
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        _prepare(db, path)
    except sqlite3.Error as exc:
        raise _journal_error(exc, path) from None
    return db


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not tables & set(_COLUMNS):
        raise _foreign(path, f"it holds tables {', '.join(sorted(tables)[:5])}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    for table, wanted in _COLUMNS.items():
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if wanted - have == {"digest"}:
            db.execute("ALTER TABLE tasks ADD COLUMN digest TEXT")
        elif wanted - have:
            missing = sorted(wanted - have)[0]
            raise _foreign(path, f"its {table} table has no {missing} column")


def _foreign(path: Path, why: str) -> InputError:
    reason = f"not a prelabel journal ({why}); move it away or give --journal another file"
    return InputError(reason, path=path)


def _journal_error(exc: sqlite3.Error, path: Path) -> PrelabelError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and any(w in text.lower() for w in _ENVIRONMENT):
        return EnvironmentFailure(f"cannot use the journal: {text}", path=path)
    return _foreign(path, text)
