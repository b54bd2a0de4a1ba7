"""The sandbox's rule checks: every created task goes through the rule book like Scale's
API would take it (:func:`prelabel.rulebook.body.check_body`, the same checks as
``prelabel validate``).

An unknown task type is a 404; a broken rule a 400 with Scale's error body
``{"status_code": 400, "error": "<field>: <what is wrong> [<rule>]"}``. Files the body names
are read from the sandbox's own uploads (``scaledata://sandbox/<id>``); an ``artifact://``
placeholder never resolves; other URLs are not fetched. ``--lenient RULE`` turns off one of
the rules Scale does not document (:data:`prelabel.config.rules.RELAXABLE`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from prelabel.config import rules
from prelabel.config.task_types import TASK_TYPES
from prelabel.output.artifacts import ARTIFACT_SCHEME
from prelabel.rulebook.body import check_body
from prelabel.rulebook.findings import Missing
from prelabel.sandbox.faults import error_response
from prelabel.sandbox.store import SandboxStore

UPLOAD_PREFIX = rules.SCALEDATA_SCHEME + "sandbox/"


class StoreFiles:
    """Resolves ``scaledata://sandbox/<id>`` to the bytes uploaded to this sandbox."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def fetch(self, url: str) -> bytes | Missing | None:
        if url.startswith(ARTIFACT_SCHEME):
            return Missing(
                f"{url} is prelabel's placeholder, not a URL: `prelabel submit` uploads the "
                "file and puts its attachment_url here"
            )
        if not url.startswith(rules.SCALEDATA_SCHEME):
            return None  # http(s): the sandbox fetches nothing from the network
        content = self.store.file_bytes(url.removeprefix(UPLOAD_PREFIX))
        return Missing(f"no uploaded file {url}") if content is None else content


def check_create(
    store: SandboxStore, lenient: frozenset[str], task_type: str, body: dict[str, Any]
) -> web.Response | None:
    """The error response for a task Scale would not create, or None when it is fine."""
    if task_type not in TASK_TYPES:
        served = ", ".join(TASK_TYPES)
        return error_response(404, f"No task type {task_type!r} (this sandbox serves {served}).")
    found = check_body(task_type, body, StoreFiles(store), relaxed=lenient)
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return error_response(400, f"{found[0]}{more}")
