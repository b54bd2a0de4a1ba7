"""``prelabel sandbox --complete accept|edit``: the sandbox finishes every task it creates.

Right after a create succeeds, the task is completed with a response in Scale's format for
its type (:mod:`~prelabel.sandbox.respond`): ``accept`` answers with the prelabels as sent,
``edit`` applies the seeded, documented edits of :mod:`~prelabel.sandbox.edit` and appends
one JSON line per edit to ``STORE/edits.jsonl``::

    {"unique_id": ..., "task_id": ..., "task_type": ..., "uuid": ..., "kind": "edited",
     "detail": "moved", "label": "person"}

Hosted prelabels are read from the sandbox's own uploads (``scaledata://sandbox/ID``) or
fetched over http(s) from this machine (127.0.0.1, localhost, ::1: the sandbox never reaches
the network); a task whose prelabels cannot be read ends in ``status: "error"`` with Scale's
error message. Result files are stored under ``STORE/results/TASK_ID/`` and
served without authentication at ``/results/TASK_ID/NAME`` (like Scale's unguessable S3
links); the stored task holds ``sandbox://results/...`` and every ``GET`` answer names the
server that answers it, so a store served again on another port still links correctly.
When the task's ``callback_url`` is an http(s) URL on this machine, Scale's callback body
``{"task", "response", "task_id"}`` is POSTed to it (3 tries) and ``callback_succeeded``
recorded; other callback URLs (e-mail addresses, remote hosts) are not called.
"""

from __future__ import annotations

import asyncio
import random
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
import orjson
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from prelabel.errors import InputError
from prelabel.geometry.indexed import decode_index_png
from prelabel.sandbox.edit import Edit, Editor
from prelabel.sandbox.faults import PUBLIC_PREFIX, STATE, Handler
from prelabel.sandbox.handlers import now_iso
from prelabel.sandbox.respond import (
    IMAGE_TYPES,
    RESULTS,
    Answer,
    answer_image,
    answer_playback,
    answer_segment,
    answer_video,
    prelabels,
)
from prelabel.sandbox.store import SandboxStore

Mode = Literal["accept", "edit"]
EDITS_FILE = "edits.jsonl"
RESULTS_DIR = "results"
UPLOAD_PREFIX = "scaledata://sandbox/"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Completion:
    """How the sandbox completes tasks.

    Attributes:
        mode: ``accept`` (response = prelabels) or ``edit`` (seeded edits).
        rate: Probability that an object is edited, and that one object is added per task.
        seed: Seed of the per-task RNG (``random.Random(f"{seed}:{unique_id}")``).
    """

    mode: Mode = "accept"
    rate: float = 0.3
    seed: int = 0


class Unresolved(Exception):
    """The task's prelabels cannot be read (the task ends in ``error``)."""


class Completer:
    """Completes tasks in one store; holds the callbacks still in flight."""

    def __init__(self, store: SandboxStore, completion: Completion) -> None:
        self.store = store
        self.completion = completion
        self.results = store.root / RESULTS_DIR
        self.results.mkdir(parents=True, exist_ok=True)
        self.edits_path = store.root / EDITS_FILE
        self.callbacks: set[asyncio.Task[None]] = set()

    async def complete(self, doc: dict[str, Any], base: str) -> None:
        """Complete one freshly created task (``base`` = this server's results URL)."""
        try:
            answer, edits = await self.answer(doc)
        except (Unresolved, InputError) as exc:
            self.fail(doc, str(exc), base)
            return
        except Exception as exc:  # malformed prelabels: the task errs, the server stays up
            self.fail(
                doc, f"the sandbox could not complete this task: {type(exc).__name__}: {exc}", base
            )
            return
        self.finish(doc, answer, edits, base)

    def fail(self, doc: dict[str, Any], message: str, base: str) -> None:
        """End a task in ``error`` (Scale's state for tasks it cannot work on) and call back."""
        doc.update(status="error", updated_at=now_iso(), error=message)
        self.store.update_task(doc)
        self.callback(doc, {"error": message}, base)

    def finish(self, doc: dict[str, Any], answer: Answer, edits: list[Edit], base: str) -> None:
        """Store the result files and the completed task, log the edits, call back."""
        task_id = str(doc["task_id"])
        for name, data in answer.files.items():
            path = self.results / task_id / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        response = _relocate(answer.response, task_id)
        now = now_iso()
        doc.update(status="completed", completed_at=now, updated_at=now, response=response)
        self.store.update_task(doc)
        self.write_edits(doc, edits)
        self.callback(doc, response, base)

    async def answer(self, doc: dict[str, Any]) -> tuple[Answer, list[Edit]]:
        """The response for ``doc`` and the edits made (none in ``accept`` mode)."""
        params, kind = doc.get("params") or {}, str(doc.get("type"))
        hyp = prelabels(params)
        rng = random.Random(f"{self.completion.seed}:{doc.get('unique_id') or doc['task_id']}")
        editor = (
            Editor(rng, self.completion.rate, params) if self.completion.mode == "edit" else None
        )

        def mint() -> str:
            return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))

        if kind == "segmentannotation":
            answer = await self.segment(hyp, editor)
        elif kind == "videoannotation":
            answer = answer_video(await self.frames(hyp), editor, mint)
        elif kind == "videoplaybackannotation":
            answer = answer_playback(await self.objects(hyp), editor)
        elif kind in IMAGE_TYPES:
            answer = answer_image(hyp, editor, mint)
        else:
            raise Unresolved(f"the sandbox cannot complete {kind} tasks")
        return answer, editor.edits if editor is not None else []

    async def segment(self, hyp: dict[str, Any], editor: Editor | None) -> Answer:
        combined = (hyp.get("annotations") or {}).get("combined") or {}
        ref = combined.get("extendedIndexedImage") or combined.get("indexedImage")
        if ref is None:
            return answer_segment({}, np.zeros((0, 0), dtype=np.int64), editor, extended=False)
        index = decode_index_png(await self.fetch(ref), where=str(ref))
        extended = "extendedIndexedImage" in combined
        return answer_segment(hyp.get("labelMapping"), index, editor, extended=extended)

    async def frames(self, hyp: dict[str, Any]) -> list[Any]:
        value = hyp.get("annotations")
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            value = orjson.loads(await self.fetch(value["url"]))
        if isinstance(value, dict) and isinstance(value.get("annotations"), list):
            value = value["annotations"]
        return value if isinstance(value, list) else []

    async def objects(self, hyp: dict[str, Any]) -> dict[str, Any]:
        value = hyp.get("annotations")
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            value = orjson.loads(await self.fetch(value["url"]))
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict) and isinstance(value.get("annotations"), dict):
            value = value["annotations"]
        return value if isinstance(value, dict) else {}

    async def fetch(self, ref: Any) -> bytes:
        """The bytes a prelabel reference names (an upload of this sandbox, or http(s))."""
        if isinstance(ref, str) and ref.startswith(UPLOAD_PREFIX):
            path = self.store.root / "files" / ref[len(UPLOAD_PREFIX) :]
            if path.is_file() and path.parent == self.store.root / "files":
                return path.read_bytes()
        elif isinstance(ref, str) and on_this_machine(ref):
            try:
                async with ClientSession(timeout=ClientTimeout(total=30)) as session:
                    async with session.get(ref) as resp:
                        if resp.status == 200:
                            return await resp.read()
            except (ClientError, asyncio.TimeoutError):
                pass
        raise Unresolved(f"One or more attachments could not be downloaded: {ref!r}")

    def write_edits(self, doc: dict[str, Any], edits: list[Edit]) -> None:
        if self.completion.mode != "edit":
            return
        head = {
            "unique_id": doc.get("unique_id"),
            "task_id": doc["task_id"],
            "task_type": doc["type"],
        }
        with self.edits_path.open("ab") as fh:
            for edit in edits:
                fh.write(orjson.dumps({**head, **edit.as_dict()}) + b"\n")

    def callback(self, doc: dict[str, Any], response: dict[str, Any], base: str) -> None:
        url = doc.get("callback_url")
        if not isinstance(url, str) or not on_this_machine(url):
            return
        body = {"task": doc, "response": response, "task_id": doc["task_id"]}
        data = orjson.dumps(body).replace(RESULTS.encode(), base.encode())
        task = asyncio.get_running_loop().create_task(self.post(url, data, str(doc["task_id"])))
        self.callbacks.add(task)
        task.add_done_callback(self.callbacks.discard)

    async def post(self, url: str, data: bytes, task_id: str) -> None:
        ok = False
        for attempt in range(3):
            try:
                async with ClientSession(timeout=ClientTimeout(total=10)) as session:
                    headers = {"Content-Type": "application/json"}
                    async with session.post(url, data=data, headers=headers) as resp:
                        ok = 200 <= resp.status < 300
            except (ClientError, asyncio.TimeoutError):
                ok = False
            if ok:
                break
            await asyncio.sleep(0.2 * 2**attempt)
        doc = self.store.task(task_id)
        if doc is not None:
            self.store.update_task({**doc, "callback_succeeded": ok})


def on_this_machine(url: str) -> bool:
    """Whether ``url`` is http(s) on a loopback host (the only ones the sandbox calls)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK


def _relocate(response: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Result names → ``sandbox://results/TASK_ID/NAME`` (resolved per request later)."""
    data = orjson.dumps(response).replace(RESULTS.encode(), f"{RESULTS}{task_id}/".encode())
    out: dict[str, Any] = orjson.loads(data)
    return out


# --- the app hooks --------------------------------------------------------------------------

_COMPLETER = web.AppKey("completer", Completer)


def results_base(request: web.Request) -> str:
    """This server's results URL as the client reached it."""
    return f"{request.scheme}://{request.host}{PUBLIC_PREFIX}"


def completing(create: Handler) -> Handler:
    """Wrap the create handler: a task created with 200 is completed before the answer."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = await create(request)
        if response.status == 200 and isinstance(response, web.Response):
            body = response.body
            if isinstance(body, bytes):
                completer = request.app[_COMPLETER]
                await completer.complete(orjson.loads(body), results_base(request))
        return response

    return handler


@web.middleware
async def results_urls(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``GET`` answers name this server in result links (``sandbox://results/`` stored)."""
    response = await handler(request)
    if request.method == "GET" and isinstance(response, web.Response):
        body = response.body
        if isinstance(body, bytes) and RESULTS.encode() in body:
            response.body = body.replace(RESULTS.encode(), results_base(request).encode())
    return response


async def serve_result(request: web.Request) -> web.StreamResponse:
    """``GET /results/TASK_ID/NAME``: a stored result file (no authentication)."""
    root = (request.app[STATE].store.root / RESULTS_DIR).resolve()
    path = (root / request.match_info["path"]).resolve()
    if root not in path.parents or not path.is_file():
        raise web.HTTPNotFound()
    kind = "application/json" if path.suffix == ".json" else "image/png"
    return web.Response(body=path.read_bytes(), content_type=kind)


def install(app: web.Application, store: SandboxStore, completion: Completion) -> None:
    """Complete the tasks an app built by ``make_app`` creates (before it starts).

    Serving results (:func:`serve_result`, :func:`results_urls`) is always on, so a store
    served again without ``--complete`` still hands out its results.
    """
    app[_COMPLETER] = Completer(store, completion)


def edits_path(root: str | Path) -> Path:
    """Where a store's edits are written."""
    return Path(root) / EDITS_FILE
