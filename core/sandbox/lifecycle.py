"""Task lifecycle endpoints of the sandbox: ``POST /v1/task/{task_id}/cancel``.

Scale cancels a task only "if work has not started on the task" (scaleapi-python-client
README, Cancel Task): a completed, started or already canceled task gets a 400 and is left as
it is. ``?clear_unique_id=true`` also frees the task's unique_id, so a new task can take it.
"""

from __future__ import annotations

from aiohttp import web

from prelabel.sandbox.faults import STATE, error_response
from prelabel.sandbox.handlers import json_response, now_iso


def _refusal(doc: dict[str, object]) -> str | None:
    task = doc["task_id"]
    if doc["status"] == "completed":
        return f"Task {task} is completed; only a task whose work has not started can be canceled."
    if doc["status"] == "canceled":
        return f"Task {task} is already canceled."
    if doc.get("work_started"):
        return f"Work has started on task {task}; it can no longer be canceled."
    return None


async def cancel_task(request: web.Request) -> web.StreamResponse:
    store = request.app[STATE].store
    task_id = request.match_info["task_id"]
    doc = store.task(task_id)
    if doc is None:
        return error_response(404, f"No task with id {task_id!r}.")
    refusal = _refusal(doc)
    if refusal is not None:
        return error_response(400, refusal)
    doc = {**doc, "status": "canceled", "updated_at": now_iso()}
    if request.query.get("clear_unique_id", "").lower() == "true":
        doc.pop("unique_id", None)
    store.update_task(doc)
    request.app[STATE].stats["canceled"] += 1
    return json_response(doc)
