"""Getting completed tasks and their hosted files, through :class:`~prelabel.scale.client.ScaleClient`
(one pooled connection set, retries with backoff, Retry-After honoured, the key scrubbed
from every error and sent only to the API's own host).

Three sources of task objects:

* :func:`journal_tasks` — the tasks of a converted directory, listed by unique_id 100 at a
  time (a task whose id is not the one the submit journal holds is fetched by id);
* :func:`list_tasks` — ``GET /v1/tasks`` with Scale's filters (``project``, ``batch``,
  ``unique_id``, ``status``) page by page (``limit`` / ``next_token``; the legacy
  ``offset`` / ``has_more`` pages too);
* :func:`read_export` — a Scale export (a JSON list of tasks, a task-list page, one task)
  or callback payloads (``{"task", "response", "task_id"}``), as a file or a folder of them.

Nothing is fetched twice: a completed task is kept as ``FINAL/responses/TASK_ID.json`` and
reused, and a hosted file as ``FINAL/artifacts/downloads/<hash of host and path>``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from prelabel.errors import InputError
from prelabel.scale.client import ScaleClient
from prelabel.scale.errors import NotFoundError
from prelabel.scale.journal import Journal

PAGE = 100  # Scale's largest page (scale-api.md §6.2)
DOWNLOADS = "downloads"


class TaskCache:
    """Task objects kept as ``responses/TASK_ID.json``; completed ones are never refetched."""

    def __init__(self, root: Path) -> None:
        self.root = root / "responses"
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0

    def path(self, task_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task_id)
        return self.root / f"{safe or 'task'}.json"

    def get(self, task_id: str) -> dict[str, Any] | None:
        path = self.path(task_id)
        if not path.is_file():
            return None
        doc = orjson.loads(path.read_bytes())
        if isinstance(doc, dict) and doc.get("status") == "completed":
            self.hits += 1
            return doc
        return None

    def put(self, doc: dict[str, Any]) -> None:
        task_id = str(doc.get("task_id") or "")
        if task_id:
            self.path(task_id).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


class Downloads:
    """Hosted files fetched once into ``artifacts/downloads/`` (thread-safe)."""

    def __init__(self, client: ScaleClient | None, artifacts: Path) -> None:
        self.client = client
        self.root = artifacts / DOWNLOADS
        self.fetched = 0
        self.reused = 0
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def name(self, url: str, suffix: str) -> str:
        """The artifact name of ``url`` (hash of host and path: re-signed links share it)."""
        parts = urlsplit(url)
        digest = hashlib.sha256(f"{parts.netloc}{parts.path}".encode()).hexdigest()[:32]
        return f"{DOWNLOADS}/{digest}{suffix}"

    def get(self, url: str, suffix: str) -> str:
        """Fetch ``url`` unless it is here already; returns its name under ``artifacts/``."""
        name = self.name(url, suffix)
        path = self.root.parent / name
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if path.is_file():
                self.reused += 1
                return name
            if self.client is None:
                raise InputError(f"{url} is not downloaded yet and no API client is configured")
            data = self.client.download(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".partial")
            tmp.write_bytes(data)
            tmp.replace(path)
            self.fetched += 1
        return name


# --- task objects -----------------------------------------------------------------------


def list_tasks(client: ScaleClient, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every task ``GET /tasks`` returns for ``filters``, following the pages."""
    query: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
    query["limit"] = PAGE
    while True:
        page = client.request("GET", "tasks", params=query, paced=True)
        docs = [d for d in page.get("docs") or [] if isinstance(d, dict)]
        yield from docs
        if not page.get("has_more") or not docs:
            return
        token = page.get("next_token")
        if token:
            query["next_token"] = token
        else:  # legacy pages: offset / has_more
            query["offset"] = int(page.get("offset") or 0) + len(docs)


def get_task(client: ScaleClient, cache: TaskCache, task_id: str) -> dict[str, Any] | None:
    """A task by id (the cache first); None when the server has no such task."""
    doc = cache.get(task_id)
    if doc is not None:
        return doc
    try:
        doc = client.request("GET", f"task/{quote(task_id, safe='')}", paced=True)
    except NotFoundError:
        return None
    return doc if isinstance(doc, dict) else None


def journal_ids(
    out_dir: Path, api_url: str, journal_path: str | os.PathLike[str] | None
) -> dict[str, str]:
    """unique_id → task_id of the tasks the submit journal holds as existing at ``api_url``."""
    path = Path(journal_path) if journal_path else out_dir / "journal.sqlite"
    if not path.is_file():
        return {}
    with Journal(path, target=api_url) as journal:
        return {
            uid: row.task_id for uid, row in journal.tasks().items() if row.done and row.task_id
        }


def journal_tasks(
    client: ScaleClient,
    cache: TaskCache,
    unique_ids: list[str],
    ids: dict[str, str],
    *,
    concurrency: int = 8,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The task objects of ``unique_ids`` and the unique_ids the server does not know.

    ``ids`` maps unique_ids to the task ids the journal (or an earlier import) knows: those
    found completed in the cache are not fetched. The rest are listed 100 unique_ids per
    ``GET /tasks``; a task whose listed id is not the one the journal holds (the unique_id
    was reused) and a known id the list did not return are fetched by id.
    """
    found: dict[str, dict[str, Any]] = {}
    for uid in unique_ids:
        doc = cache.get(ids[uid]) if uid in ids else None
        if doc is not None:
            found[uid] = doc
    rest = [uid for uid in unique_ids if uid not in found]
    for chunk in (rest[i : i + PAGE] for i in range(0, len(rest), PAGE)):
        wanted = set(chunk)
        for doc in list_tasks(client, unique_id=chunk):
            uid = str(doc.get("unique_id"))
            if uid in wanted and (uid not in found or doc.get("task_id") == ids.get(uid)):
                found[uid] = doc  # the journal's task wins when a unique_id was reused
    by_id = [u for u in rest if u in ids and found.get(u, {}).get("task_id") != ids[u]]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for uid, doc in zip(
            by_id, pool.map(lambda u: get_task(client, cache, ids[u]), by_id), strict=True
        ):
            if doc is not None:
                found[uid] = doc
    return [found[u] for u in unique_ids if u in found], [u for u in unique_ids if u not in found]


# --- exports and callbacks --------------------------------------------------------------


def read_export(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Task objects from an export file or a folder of ``*.json`` exports / callbacks.

    Raises:
        InputError: a file is not JSON or holds no task object (file and position named).
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.json") if p.is_file())
        if not files:
            raise InputError("no *.json files here (expected callbacks or an export)", path=root)
    elif root.is_file():
        files = [root]
    else:
        raise InputError("no such file or folder", path=root)
    out: list[dict[str, Any]] = []
    for file in files:
        out.extend(_tasks_in(file))
    return out


def _tasks_in(file: Path) -> Iterable[dict[str, Any]]:
    try:
        doc = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=file) from None
    items = doc.get("docs") if isinstance(doc, dict) and "docs" in doc else doc
    items = items if isinstance(items, list) else [items]
    for n, item in enumerate(items):
        where = f"[{n}]" if len(items) > 1 else None
        yield _as_task(item, file, where)


def _as_task(item: Any, file: Path, where: str | None) -> dict[str, Any]:
    if not isinstance(item, dict) or not ({"task_id", "response"} & set(item)):
        raise InputError(
            "expected a Scale task object or callback payload", path=file, location=where
        )
    if isinstance(item.get("task"), dict):  # a callback: {"task", "response", "task_id"}
        task = {**item["task"], "response": item.get("response")}
        task.setdefault("status", "completed")
        item = {**task, "task_id": item.get("task_id") or task.get("task_id")}
    out: dict[str, Any] = dict(item)
    if not out.get("task_id"):
        out["task_id"] = f"{file.stem}{where or ''}"
    return out
