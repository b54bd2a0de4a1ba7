"""Request handlers of the sandbox's ``/v1`` API, for :mod:`prelabel.sandbox.server`.

Create, get and list tasks (filters on unique_id, project, batch, type and status; Scale's
``limit`` / ``next_token`` paging), multipart file upload answering ``{id, attachment_url,
...}``, and batches (create, get, finalize, status counts). A reused ``unique_id`` gets
Scale's 409 body naming the task that holds it; malformed bodies get a 400 with Scale's error
shape. Each handler reads and writes the :class:`~prelabel.sandbox.store.SandboxStore`
in the app's state. Split out of ``sandbox.py``; the names stay importable from there.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from prelabel.sandbox.faults import STATE, error_response
from prelabel.sandbox.rules import check_create


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")


async def _read_json(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return error_response(400, "Request body is not valid JSON.")
    if not isinstance(doc, dict):
        return error_response(400, "Request body must be a JSON object.")
    return doc


async def create_task(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await _read_json(request)
    if isinstance(body, web.Response):
        return body
    task_type = request.match_info["task_type"]
    rejected = check_create(state.store, state.lenient, task_type, body)
    if rejected is not None:
        state.stats[str(rejected.status)] += 1
        return rejected
    if body.get("batch") is not None:
        batch = state.store.batch(str(body["batch"]))
        if batch is None:
            return error_response(400, f"batch: Batch {body['batch']!r} does not exist.")
        body = {**body, "project": body.get("project") or batch.get("project")}
    doc = _task_doc(task_type, body)
    existing = state.store.insert_task(doc)
    if existing is not None:
        state.stats["409"] += 1
        uid = body["unique_id"]
        return error_response(
            409,
            f'The unique_id ("{uid}") is already used for a different task ({existing}).',
        )
    state.stats["tasks_created"] += 1
    return json_response(doc)


_TOP_LEVEL = ("project", "batch", "unique_id", "callback_url", "instruction", "tags", "priority")


def _task_doc(task_type: str, body: dict[str, Any]) -> dict[str, Any]:
    now = now_iso()
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


async def get_task(request: web.Request) -> web.StreamResponse:
    doc = request.app[STATE].store.task(request.match_info["task_id"])
    if doc is None:
        return error_response(404, f"No task with id {request.match_info['task_id']!r}.")
    return json_response(doc)


_LIST_FILTERS = {"unique_id": "unique_id", "project": "project", "batch": "batch",
                 "type": "type", "status": "status"}  # fmt: skip


async def list_tasks(request: web.Request) -> web.StreamResponse:
    query = request.query
    filters = {col: query.getall(name) for name, col in _LIST_FILTERS.items() if name in query}
    try:
        limit = min(100, max(1, int(query.get("limit", "100"))))
        offset = int(query.get("next_token") or query.get("offset") or 0)
    except ValueError:
        return error_response(400, "limit and next_token must be integers.")
    total, docs = request.app[STATE].store.query_tasks(filters, limit, offset)
    has_more = offset + len(docs) < total
    return json_response(
        {
            "docs": docs,
            "total": total,
            "limit": limit,
            "offset": offset,
            "has_more": has_more,
            "next_token": str(offset + len(docs)) if has_more else None,
        }
    )


async def upload_file(request: web.Request) -> web.StreamResponse:
    if not request.content_type.startswith("multipart/"):
        return error_response(400, "Expected a multipart/form-data upload with a `file` part.")
    form = await request.post()
    part = form.get("file")
    if not isinstance(part, web.FileField):
        return error_response(400, "Missing the `file` part.")
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
        "created_at": now_iso(),
    }  # fmt: skip
    request.app[STATE].store.insert_file(doc, content)
    request.app[STATE].stats["files"] += 1
    return json_response(doc)


async def create_batch(request: web.Request) -> web.StreamResponse:
    store = request.app[STATE].store
    body = await _read_json(request)
    if isinstance(body, web.Response):
        return body
    name, project = body.get("name"), body.get("project")
    if not isinstance(name, str) or not name or not isinstance(project, str):
        return error_response(400, "Batch needs a `name` and a `project`.")
    if store.batch(name) is not None:
        return error_response(409, f"A batch named {name!r} already exists.")
    doc = {
        "name": name,
        "project": project,
        "status": "staging",
        "created_at": now_iso(),
        "callback": body.get("callback") or "",
        "metadata": body.get("metadata") or {},
    }
    store.put_batch(doc)
    return json_response(doc)


async def get_batch(request: web.Request) -> web.StreamResponse:
    doc = request.app[STATE].store.batch(request.match_info["name"])
    if doc is None:
        return error_response(404, f"No batch named {request.match_info['name']!r}.")
    return json_response(doc)


async def finalize_batch(request: web.Request) -> web.StreamResponse:
    store = request.app[STATE].store
    doc = store.batch(request.match_info["name"])
    if doc is None:
        return error_response(404, f"No batch named {request.match_info['name']!r}.")
    if doc["status"] == "staging":
        doc = {**doc, "status": "in_progress"}
        store.put_batch(doc)
    return json_response(doc)


async def batch_status(request: web.Request) -> web.StreamResponse:
    store = request.app[STATE].store
    doc = store.batch(request.match_info["name"])
    if doc is None:
        return error_response(404, f"No batch named {request.match_info['name']!r}.")
    return json_response({"status": doc["status"], **store.batch_counts(doc["name"])})
