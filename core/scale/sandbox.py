"""A local Scale-compatible server (aiohttp) for tests, benchmarks and dry rehearsals.

Serves ``/v1``: create/get/list tasks (unique_id, project, batch, type, status filters;
Scale's paging fields), file upload (multipart → ``{id, attachment_url, …}``), batches
(create/get/finalize/status), HTTP Basic auth (401 like Scale), Scale's 409 body for a reused
unique_id. Everything received is stored in SQLite (``STORE/sandbox.sqlite``; uploaded files
under ``STORE/files/``) so it can be inspected.

Faults (seeded RNG, drawn per request): added latency, 500s that do and do not do the work,
429 with Retry-After, dropped connections, and responses slower than a client timeout.

Library use::

    with run_sandbox(port=0, faults=Faults(latency_ms=50)) as sb:
        ...  # sb.url, sb.tasks(), sb.stats
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import random
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

__all__ = ["Faults", "Sandbox", "SandboxStore", "make_app", "run_sandbox", "serve_forever"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

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


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault injection; each rate is a probability per request (0..1).

    Attributes:
        latency_ms: Added to every request before it is handled.
        error_after: 500 returned AFTER the work was done (e.g. the task exists).
        error_before: 500 returned without doing anything.
        throttle: 429 with ``Retry-After: retry_after`` and nothing done.
        retry_after: Seconds in the 429's Retry-After header.
        drop: Connection closed without a response (after the work, half of the time).
        slow: Work done, response delayed by ``slow_s`` (longer than the client's timeout).
        slow_s: Delay of a slow response, seconds.
        seed: RNG seed, so a run's faults can be replayed.
    """

    latency_ms: float = 0.0
    error_after: float = 0.0
    error_before: float = 0.0
    throttle: float = 0.0
    retry_after: float = 1.0
    drop: float = 0.0
    slow: float = 0.0
    slow_s: float = 5.0
    seed: int = 0

    @property
    def any_faults(self) -> bool:
        """Whether any failure is injected (latency alone is not a failure)."""
        return any((self.error_after, self.error_before, self.throttle, self.drop, self.slow))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _error(status: int, message: str, **headers: str) -> web.Response:
    body = orjson.dumps({"status_code": status, "error": message})
    return web.Response(
        status=status, body=body, content_type="application/json", headers=headers or None
    )


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")


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


@dataclass
class _State:
    store: SandboxStore
    faults: Faults
    api_key: str | None
    rng: random.Random
    stats: Counter[str] = field(default_factory=Counter)


# -- middlewares -------------------------------------------------------------------------

_STATE = web.AppKey("state", _State)


def _check_auth(request: web.Request, api_key: str | None) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user = base64.b64decode(token, validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return False
    return bool(user) and (api_key is None or user == api_key)


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[_STATE]
    if not _check_auth(request, state.api_key):
        state.stats["401"] += 1
        return _error(401, "Please provide a valid API key. (HTTP Basic auth: key as username)")
    return await handler(request)


@web.middleware
async def _fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[_STATE]
    faults = state.faults
    state.stats["requests"] += 1
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    kind = _draw_fault(state)
    if kind == "throttle":
        return _error(429, "Too many requests", **{"Retry-After": f"{faults.retry_after:g}"})
    if kind == "error_before":
        return _error(500, "Internal server error (injected, nothing done)")
    if kind == "drop_before":
        return await _drop(request)
    response = await handler(request)
    if kind == "error_after":
        return _error(500, "Internal server error (injected, after the work was done)")
    if kind == "drop_after":
        return await _drop(request)
    if kind == "slow":
        await asyncio.sleep(faults.slow_s)
    return response


def _draw_fault(state: _State) -> str | None:
    faults = state.faults
    if not faults.any_faults:
        return None
    roll = state.rng.random()
    for kind, rate in (
        ("throttle", faults.throttle),
        ("error_before", faults.error_before),
        ("error_after", faults.error_after),
        ("drop", faults.drop),
        ("slow", faults.slow),
    ):
        if roll < rate:
            if kind == "drop":
                kind = "drop_after" if state.rng.random() < 0.5 else "drop_before"
            state.stats[f"fault_{kind}"] += 1
            return kind
        roll -= rate
    return None


async def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # nothing more to send on a closed connection


# -- handlers ----------------------------------------------------------------------------


async def _read_json(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "Request body is not valid JSON.")
    if not isinstance(doc, dict):
        return _error(400, "Request body must be a JSON object.")
    return doc


async def _create_task(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    body = await _read_json(request)
    if isinstance(body, web.Response):
        return body
    task_type = request.match_info["task_type"]
    if body.get("batch") is not None and body.get("project") is None:
        batch = state.store.batch(str(body["batch"]))
        if batch is None:
            return _error(400, f"Batch {body['batch']!r} does not exist.")
        body = {**body, "project": batch.get("project")}
    doc = _task_doc(task_type, body)
    existing = state.store.insert_task(doc)
    if existing is not None:
        state.stats["409"] += 1
        uid = body["unique_id"]
        return _error(
            409,
            f'The unique_id ("{uid}") is already used for a different task ({existing}).',
        )
    state.stats["tasks_created"] += 1
    return _json(doc)


_TOP_LEVEL = ("project", "batch", "unique_id", "callback_url", "instruction", "tags", "priority")


def _task_doc(task_type: str, body: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    params = {k: v for k, v in body.items() if k not in (*_TOP_LEVEL, "metadata")}
    doc: dict[str, Any] = {
        "task_id": uuid.uuid4().hex[:24],
        "created_at": now,
        "updated_at": now,
        "type": task_type,
        "status": "pending",
        "is_test": True,
        "callback_url": body.get("callback_url"),
        "instruction": body.get("instruction"),
        "params": params,
        "metadata": body.get("metadata") or {},
        "work_started": False,
        "tags": body.get("tags") or [],
    }
    for key in ("project", "batch", "unique_id", "priority"):
        if body.get(key) is not None:
            doc[key] = body[key]
    return doc


async def _get_task(request: web.Request) -> web.StreamResponse:
    doc = request.app[_STATE].store.task(request.match_info["task_id"])
    if doc is None:
        return _error(404, f"No task with id {request.match_info['task_id']!r}.")
    return _json(doc)


_LIST_FILTERS = {"unique_id": "unique_id", "project": "project", "batch": "batch",
                 "type": "type", "status": "status"}  # fmt: skip


async def _list_tasks(request: web.Request) -> web.StreamResponse:
    query = request.query
    filters = {col: query.getall(name) for name, col in _LIST_FILTERS.items() if name in query}
    try:
        limit = min(100, max(1, int(query.get("limit", "100"))))
        offset = int(query.get("next_token") or query.get("offset") or 0)
    except ValueError:
        return _error(400, "limit and next_token must be integers.")
    total, docs = request.app[_STATE].store.query_tasks(filters, limit, offset)
    has_more = offset + len(docs) < total
    return _json(
        {
            "docs": docs,
            "total": total,
            "limit": limit,
            "offset": offset,
            "has_more": has_more,
            "next_token": str(offset + len(docs)) if has_more else None,
        }
    )


async def _upload_file(request: web.Request) -> web.StreamResponse:
    if not request.content_type.startswith("multipart/"):
        return _error(400, "Expected a multipart/form-data upload with a `file` part.")
    form = await request.post()
    part = form.get("file")
    if not isinstance(part, web.FileField):
        return _error(400, "Missing the `file` part.")
    content = part.file.read()
    file_id = uuid.uuid4().hex[:24]
    doc = {
        "id": file_id,
        "attachment_url": f"scaledata://sandbox/{file_id}",
        "filename": part.filename,
        "mimetype": part.content_type,
        "size": len(content),
        "project_name": form.get("project_name") if isinstance(form.get("project_name"), str)
        else None,
        "created_at": _now(),
    }  # fmt: skip
    request.app[_STATE].store.insert_file(doc, content)
    request.app[_STATE].stats["files"] += 1
    return _json(doc)


async def _create_batch(request: web.Request) -> web.StreamResponse:
    store = request.app[_STATE].store
    body = await _read_json(request)
    if isinstance(body, web.Response):
        return body
    name, project = body.get("name"), body.get("project")
    if not isinstance(name, str) or not name or not isinstance(project, str):
        return _error(400, "Batch needs a `name` and a `project`.")
    if store.batch(name) is not None:
        return _error(409, f"A batch named {name!r} already exists.")
    doc = {
        "name": name,
        "project": project,
        "status": "staging",
        "created_at": _now(),
        "callback": body.get("callback") or "",
        "metadata": body.get("metadata") or {},
    }
    store.put_batch(doc)
    return _json(doc)


async def _get_batch(request: web.Request) -> web.StreamResponse:
    doc = request.app[_STATE].store.batch(request.match_info["name"])
    if doc is None:
        return _error(404, f"No batch named {request.match_info['name']!r}.")
    return _json(doc)


async def _finalize_batch(request: web.Request) -> web.StreamResponse:
    store = request.app[_STATE].store
    doc = store.batch(request.match_info["name"])
    if doc is None:
        return _error(404, f"No batch named {request.match_info['name']!r}.")
    if doc["status"] == "staging":
        doc = {**doc, "status": "in_progress"}
        store.put_batch(doc)
    return _json(doc)


async def _batch_status(request: web.Request) -> web.StreamResponse:
    store = request.app[_STATE].store
    doc = store.batch(request.match_info["name"])
    if doc is None:
        return _error(404, f"No batch named {request.match_info['name']!r}.")
    return _json({"status": doc["status"], **store.batch_counts(doc["name"])})


def make_app(
    store: SandboxStore, *, faults: Faults | None = None, api_key: str | None = None
) -> web.Application:
    """The aiohttp application serving ``/v1``.

    Args:
        store: Where received tasks, files and batches go.
        faults: Fault injection; none by default.
        api_key: Accept only this key; None accepts any non-empty Basic-auth username.
    """
    faults = faults or Faults()
    app = web.Application(
        middlewares=[_fault_middleware, _auth_middleware], client_max_size=200 * 1024**2
    )
    app[_STATE] = _State(store, faults, api_key, random.Random(faults.seed))
    app.add_routes(
        [
            web.post("/v1/task/{task_type}", _create_task),
            web.get("/v1/task/{task_id}", _get_task),
            web.get("/v1/tasks", _list_tasks),
            web.post("/v1/files/upload", _upload_file),
            web.post("/v1/batches", _create_batch),
            web.get("/v1/batches/{name}", _get_batch),
            web.post("/v1/batches/{name}/finalize", _finalize_batch),
            web.get("/v1/batches/{name}/status", _batch_status),
        ]
    )
    return app


class Sandbox:
    """A running sandbox (see :func:`run_sandbox`)."""

    def __init__(self, store: SandboxStore, app: web.Application, port: int) -> None:
        self.store = store
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"

    @property
    def stats(self) -> dict[str, int]:
        """Counters: requests, tasks_created, 409, 401, files, fault_<kind>."""
        return dict(self.app[_STATE].stats)

    def tasks(self) -> list[dict[str, Any]]:
        """Every task the sandbox holds."""
        return self.store.tasks()

    def files(self) -> list[dict[str, Any]]:
        """Every upload record."""
        return self.store.files()

    def batches(self) -> list[dict[str, Any]]:
        """Every batch."""
        return self.store.batches()

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r}, store={str(self.store.root)!r})"


@contextmanager
def run_sandbox(
    *,
    port: int = 0,
    store: str | os.PathLike[str] | None = None,
    faults: Faults | None = None,
    api_key: str | None = None,
) -> Iterator[Sandbox]:
    """Run a sandbox on 127.0.0.1 in a background thread for the ``with`` block.

    Args:
        port: TCP port; 0 picks a free one (see ``sandbox.url``).
        store: Directory for ``sandbox.sqlite`` and ``files/``; a temporary one by default.
        faults: Fault injection.
        api_key: Accept only this key (default: any non-empty key).

    Yields:
        The running :class:`Sandbox`.
    """
    with tempfile.TemporaryDirectory(prefix="prelabel-sandbox-") as tmp:
        db = SandboxStore(store if store is not None else tmp)
        app = make_app(db, faults=faults, api_key=api_key)
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        ready = threading.Event()
        bound: list[int] = []
        errors: list[BaseException] = []
        thread = threading.Thread(
            target=_serve, args=(loop, runner, port, ready, bound, errors), daemon=True
        )
        thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        try:
            yield Sandbox(db, app, bound[0])
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()
            db.close()


def _serve(
    loop: asyncio.AbstractEventLoop,
    runner: web.AppRunner,
    port: int,
    ready: threading.Event,
    bound: list[int],
    errors: list[BaseException],
) -> None:
    asyncio.set_event_loop(loop)
    try:
        bound.append(loop.run_until_complete(_start(runner, port)))
    except BaseException as exc:  # reported to the caller's thread
        errors.append(exc)
        ready.set()
        return
    ready.set()
    loop.run_forever()


async def _start(runner: web.AppRunner, port: int) -> int:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host_port = runner.addresses[0]
    return int(host_port[1])


def serve_forever(
    *,
    port: int,
    store: str | os.PathLike[str],
    faults: Faults | None = None,
    api_key: str | None = None,
    on_ready: Callable[[Sandbox], None] | None = None,
) -> None:
    """Run a sandbox in the foreground until interrupted (the ``prelabel sandbox`` command)."""
    with run_sandbox(port=port, store=store, faults=faults, api_key=api_key) as sandbox:
        if on_ready is not None:
            on_ready(sandbox)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return
