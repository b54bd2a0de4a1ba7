"""A local Scale-compatible server (aiohttp) for tests, benchmarks and dry rehearsals.

Serves ``/v1``: create/get/list tasks (unique_id, project, batch, type, status filters;
Scale's paging fields; every created body checked against the rule book, see
:mod:`~prelabel.sandbox.rules`), cancel (with ``clear_unique_id``), file upload (multipart → ``{id, attachment_url, …}``), batches
(create/get/finalize/status), HTTP Basic auth (401 like Scale), Scale's 409 body for a reused
unique_id. Everything received is stored in SQLite (``STORE/sandbox.sqlite``; uploaded files
under ``STORE/files/``) so it can be inspected.

Faults (seeded RNG, drawn per request): added latency, 500s that do and do not do the work,
429 with Retry-After, dropped connections, and responses slower than a client timeout.

Library use::

    with run_sandbox(port=0, faults=Faults(latency_ms=50)) as sb:
        ...  # sb.url, sb.tasks(), sb.stats

The server is split by responsibility: :mod:`~prelabel.sandbox.store` (SQLite store),
:mod:`~prelabel.sandbox.faults` (fault injection, auth, app state) and
:mod:`~prelabel.sandbox.handlers` (the ``/v1`` routes); this module builds the app,
runs it in a background thread and keeps those names importable as
``prelabel.sandbox.server``.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from prelabel.sandbox.complete import Completion, completing, install, results_urls, serve_result
from prelabel.sandbox.faults import (
    PUBLIC_PREFIX,
    STATE,
    Faults,
    SandboxState,
    auth_middleware,
    fault_middleware,
)
from prelabel.sandbox.handlers import (
    batch_status,
    create_batch,
    create_task,
    finalize_batch,
    get_batch,
    get_task,
    list_tasks,
    upload_file,
)
from prelabel.sandbox.lifecycle import cancel_task
from prelabel.sandbox.store import SandboxStore

__all__ = [
    "Sandbox",
    "make_app",
    "run_sandbox",
    "serve_forever",
]


def make_app(
    store: SandboxStore,
    *,
    faults: Faults | None = None,
    api_key: str | None = None,
    complete: Completion | None = None,
    lenient: frozenset[str] = frozenset(),
) -> web.Application:
    """The aiohttp application serving ``/v1``.

    Args:
        store: Where received tasks, files and batches go.
        faults: Fault injection; none by default.
        api_key: Accept only this key; None accepts any non-empty Basic-auth username.
        complete: Complete each created task (:mod:`prelabel.sandbox.complete`); None
            leaves tasks pending.
        lenient: Rules of :data:`prelabel.config.rules.RELAXABLE` not to enforce.
    """
    faults = faults or Faults()
    app = web.Application(
        middlewares=[fault_middleware, auth_middleware, results_urls],
        client_max_size=200 * 1024**2,
    )
    state = SandboxState(store, faults, api_key, random.Random(faults.seed), lenient=lenient)
    app[STATE] = state
    app.add_routes(
        [
            web.post(
                "/v1/task/{task_type}",
                create_task if complete is None else completing(create_task),
            ),
            web.post("/v1/task/{task_id}/cancel", cancel_task),
            web.get("/v1/task/{task_id}", get_task),
            web.get("/v1/tasks", list_tasks),
            web.post("/v1/files/upload", upload_file),
            web.post("/v1/batches", create_batch),
            web.get("/v1/batches/{name}", get_batch),
            web.post("/v1/batches/{name}/finalize", finalize_batch),
            web.get("/v1/batches/{name}/status", batch_status),
            web.get(PUBLIC_PREFIX + "{path:.+}", serve_result),
        ]
    )
    if complete is not None:
        install(app, store, complete)
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
        return dict(self.app[STATE].stats)

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
    complete: Completion | None = None,
    lenient: frozenset[str] = frozenset(),
) -> Iterator[Sandbox]:
    """Run a sandbox on 127.0.0.1 in a background thread for the ``with`` block.

    Args:
        port: TCP port; 0 picks a free one (see ``sandbox.url``).
        store: Directory for ``sandbox.sqlite`` and ``files/``; a temporary one by default.
        faults: Fault injection.
        api_key: Accept only this key (default: any non-empty key).
        complete: Complete each created task (accept or seeded edits); None: stay pending.
        lenient: Undocumented rules not to enforce (``prelabel sandbox --lenient``).

    Yields:
        The running :class:`Sandbox`.
    """
    with tempfile.TemporaryDirectory(prefix="prelabel-sandbox-") as tmp:
        db = SandboxStore(store if store is not None else tmp)
        app = make_app(db, faults=faults, api_key=api_key, complete=complete, lenient=lenient)
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
    complete: Completion | None = None,
    lenient: frozenset[str] = frozenset(),
) -> None:
    """Run a sandbox in the foreground until interrupted (the ``prelabel sandbox`` command)."""
    with run_sandbox(
        port=port,
        store=store,
        faults=faults,
        api_key=api_key,
        complete=complete,
        lenient=lenient,
    ) as sandbox:
        if on_ready is not None:
            on_ready(sandbox)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return
