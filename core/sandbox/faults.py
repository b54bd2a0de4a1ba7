"""Fault injection and authentication middlewares of the sandbox server.

:class:`Faults` sets per-request probabilities (drawn from a seeded RNG, so a run can be
replayed) for added latency, 500s returned before or after the work is done, 429s with
``Retry-After``, dropped connections and responses slower than a client timeout. The fault
middleware draws one per request and counts it in the app's stats; the auth middleware
answers 401 like Scale when the HTTP Basic username is missing or not the expected key.
Also holds the per-app state (store, faults, key, RNG, counters) and Scale's JSON error body,
shared with the request handlers. Split out of ``sandbox.py``; the names stay importable from
there.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from prelabel.sandbox.store import SandboxStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def error_response(status: int, message: str, **headers: str) -> web.Response:
    body = orjson.dumps({"status_code": status, "error": message})
    return web.Response(
        status=status, body=body, content_type="application/json", headers=headers or None
    )


@dataclass
class SandboxState:
    store: SandboxStore
    faults: Faults
    api_key: str | None
    rng: random.Random
    stats: Counter[str] = field(default_factory=Counter)
    lenient: frozenset[str] = frozenset()  # rules --lenient turned off (see sandbox.rules)


# -- middlewares -------------------------------------------------------------------------

STATE = web.AppKey("state", SandboxState)
# served without authentication: result files (like Scale's unguessable S3 result links)
PUBLIC_PREFIX = "/results/"


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
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if not request.path.startswith(PUBLIC_PREFIX) and not _check_auth(request, state.api_key):
        state.stats["401"] += 1
        return error_response(
            401, "Please provide a valid API key. (HTTP Basic auth: key as username)"
        )
    return await handler(request)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    faults = state.faults
    state.stats["requests"] += 1
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    kind = _draw_fault(state)
    if kind == "throttle":
        return error_response(
            429, "Too many requests", **{"Retry-After": f"{faults.retry_after:g}"}
        )
    if kind == "error_before":
        return error_response(500, "Internal server error (injected, nothing done)")
    if kind == "drop_before":
        return await _drop(request)
    response = await handler(request)
    if kind == "error_after":
        return error_response(500, "Internal server error (injected, after the work was done)")
    if kind == "drop_after":
        return await _drop(request)
    if kind == "slow":
        await asyncio.sleep(faults.slow_s)
    return response


def _draw_fault(state: SandboxState) -> str | None:
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
    """Hang up without an answer, after reading the whole request: closing with request
    bytes unread makes the kernel reset the connection instead, at random (the client saw a
    reset where it should see the server close)."""
    await request.read()
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # nothing more to send on a closed connection
