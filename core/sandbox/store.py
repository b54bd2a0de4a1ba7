"""The sandbox's SQLite store, for :mod:`prelabel.sandbox.server`.

Everything the local Scale-compatible server receives is kept in ``STORE/sandbox.sqlite``
(tables ``tasks``, ``files`` and ``batches``, each row holding the JSON document the server
returned) and uploaded bytes under ``STORE/files/``, so tests, benchmarks and people can
inspect what a run sent. The server writes through one WAL connection; the listing methods
read through a fresh connection so any thread may call them. Split out of ``sandbox.py``; the
names stay importable from there.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    unique_id TEXT UNIQUE,
    type TEXT NOT NULL,
    project TEXT,
    batch TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    filename TEXT,
    mimetype TEXT,
    size INTEGER,
    project_name TEXT,
    path TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    name TEXT PRIMARY KEY,
    project TEXT,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""


class SandboxStore:
    """The sandbox's SQLite store; safe to read from other threads."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        (self.root / "files").mkdir(parents=True, exist_ok=True)
        self.path = self.root / "sandbox.sqlite"
        self._db = self._connect()
        self._db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        return db

    def close(self) -> None:
        """Close the writer connection."""
        self._db.close()

    def insert_task(self, doc: dict[str, Any]) -> str | None:
        """Store a task; returns the task_id already holding its unique_id, if any."""
        uid = doc.get("unique_id")
        if uid is not None:
            row = self._db.execute("SELECT task_id FROM tasks WHERE unique_id = ?", (uid,))
            found = row.fetchone()
            if found:
                return str(found[0])
        self._db.execute(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc["task_id"], uid, doc["type"], doc.get("project"), doc.get("batch"),
                doc["status"], doc["created_at"], orjson.dumps(doc).decode(),
            ),
        )  # fmt: skip
        return None

    def task(self, task_id: str) -> dict[str, Any] | None:
        """One task by id."""
        row = self._db.execute("SELECT doc FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def query_tasks(self, filters: dict[str, list[str]], limit: int, offset: int) -> Any:
        """Tasks matching ``filters`` (column → allowed values), in creation order."""
        where, params = [], []
        for column, values in filters.items():
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        db = self._db
        total = db.execute(f"SELECT COUNT(*) FROM tasks{clause}", params).fetchone()[0]
        rows = db.execute(
            f"SELECT doc FROM tasks{clause} ORDER BY rowid LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return total, [orjson.loads(r[0]) for r in rows]

    def tasks(self) -> list[dict[str, Any]]:
        """Every stored task (reads through a fresh connection: any thread)."""
        with sqlite3.connect(self.path, timeout=30) as db:
            rows = db.execute("SELECT doc FROM tasks ORDER BY rowid").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def files(self) -> list[dict[str, Any]]:
        """Every stored upload record."""
        with sqlite3.connect(self.path, timeout=30) as db:
            rows = db.execute("SELECT doc FROM files ORDER BY rowid").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def batches(self) -> list[dict[str, Any]]:
        """Every stored batch."""
        with sqlite3.connect(self.path, timeout=30) as db:
            rows = db.execute("SELECT doc FROM batches ORDER BY rowid").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def insert_file(self, doc: dict[str, Any], content: bytes) -> None:
        """Save an upload's bytes and record."""
        path = self.root / "files" / doc["id"]
        path.write_bytes(content)
        self._db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                doc["id"], doc["filename"], doc["mimetype"], doc["size"],
                doc.get("project_name"), str(path), orjson.dumps(doc).decode(),
            ),
        )  # fmt: skip

    def batch(self, name: str) -> dict[str, Any] | None:
        """One batch by name."""
        row = self._db.execute("SELECT doc FROM batches WHERE name = ?", (name,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put_batch(self, doc: dict[str, Any]) -> None:
        """Insert or replace a batch."""
        self._db.execute(
            "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?)",
            (doc["name"], doc.get("project"), doc["status"], orjson.dumps(doc).decode()),
        )

    def batch_counts(self, name: str) -> dict[str, int]:
        """Task counts by status within a batch."""
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM tasks WHERE batch = ? GROUP BY status", (name,)
        ).fetchall()
        return {str(s): int(n) for s, n in rows}

    def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes of an upload by id, or None when there is no such upload."""
        row = self._db.execute("SELECT path FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None or not Path(row[0]).is_file():
            return None
        return Path(row[0]).read_bytes()

    def update_task(self, doc: dict[str, Any]) -> None:
        """Write back a changed task (status, unique_id, work_started, response, ...)."""
        self._db.execute(
            "UPDATE tasks SET unique_id = ?, status = ?, doc = ? WHERE task_id = ?",
            (doc.get("unique_id"), doc["status"], orjson.dumps(doc).decode(), doc["task_id"]),
        )

    def set_task_state(self, task_id: str, status: str, *, work_started: bool) -> None:
        """Move a task on (tests: a task in progress or completed)."""
        doc = self.task(task_id)
        if doc is None:
            raise KeyError(task_id)
        self.update_task({**doc, "status": status, "work_started": work_started})
