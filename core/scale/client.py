"""A thin, safe client for Scale's v1 task API (and the local sandbox).

One pooled ``httpx.Client`` shared by all threads, explicit timeouts, a token-bucket pace for
task creations, tenacity retries (connection errors, 408, 429, 5xx; jittered exponential
backoff; Retry-After honoured) and typed errors carrying Scale's message. The API key lives
only inside the httpx auth object: it is scrubbed from every error and never in a repr.
"""

from __future__ import annotations

import email.utils
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from prelabel.errors import InputError, SubmitRejectedError, SubmitTransportError
from prelabel.scale.errors import RetryableError, cut, error_for_status, scrub
from prelabel.scale.ratelimit import TokenBucket

DEFAULT_API_URL = "https://api.scale.com/v1"
DEFAULT_RATE = 25.0
DEFAULT_CONCURRENCY = 32  # 25 creations/s at the default rate still flow with 1.2 s responses
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE",
    "RetryPolicy",
    "ScaleClient",
    "is_test_key",
    "load_api_key",
]


def is_test_key(key: str) -> bool:
    """Whether ``key`` is a Scale test-mode key (``test_…`` or ``…|test``)."""
    return key.startswith("test_") or key.endswith("|test")


def load_api_key(api_key_file: str | os.PathLike[str] | None = None) -> str:
    """Read the API key from ``api_key_file`` or the ``SCALE_API_KEY`` environment variable.

    Raises:
        InputError: No key found, or the file is unreadable or empty (the message never
            contains the key).
    """
    if api_key_file is not None:
        try:
            key = Path(api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"cannot read API key file: {exc.strerror}", path=api_key_file
            ) from None
        except UnicodeDecodeError:  # never echo the bytes: they may be the key
            raise InputError(
                "API key file is not UTF-8 text (an API key is ASCII)", path=api_key_file
            ) from None
        if not key:
            raise InputError("API key file is empty", path=api_key_file)
        return key
    key = os.environ.get("SCALE_API_KEY", "").strip()
    if not key:
        raise InputError("no API key: set SCALE_API_KEY or pass --api-key-file")
    return key


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a request that may succeed later.

    Attributes:
        attempts: Total tries per request, the first included.
        initial: Scale of the jittered exponential backoff, seconds.
        max_wait: Cap on any single wait (also on a server's Retry-After), seconds.
        sleep: Injected for tests.
    """

    attempts: int = 6
    initial: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SubmitTransportError | RetryableError)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def _error_message(response: httpx.Response, secrets: tuple[str, ...]) -> str:
    """Scale's ``error`` message (or the body's text), scrubbed, THEN cut to 500 characters:
    cutting first could leave a fragment of a key the scrub no longer recognises."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        text = str(payload["error"])
    else:
        text = response.text.strip()
    return cut(scrub(text, secrets), 500)


class ScaleClient:
    """Scale v1 API client: pooled, paced, retried, typed errors, key never shown.

    Args:
        api_key: The API key (username of HTTP Basic auth, empty password).
        api_url: Base URL, ``https://api.scale.com/v1`` by default.
        connect_timeout: Seconds to establish a connection.
        read_timeout: Seconds to wait for a response (and to send the body).
        max_connections: Size of the connection pool; match the submit concurrency.
        rate: Task creations per second (token bucket); 0 turns it off.
        retry: Retry policy; ``RetryPolicy()`` by default.
        transport: An httpx transport, e.g. ``httpx.MockTransport`` in tests.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_connections: int = DEFAULT_CONCURRENCY,
        rate: float = DEFAULT_RATE,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise InputError("no API key: set SCALE_API_KEY or pass --api-key-file")
        self._secrets = (api_key,)
        self.is_test_key = is_test_key(api_key)
        self.api_url = scrub(api_url.rstrip("/"), self._secrets)
        self.limiter = TokenBucket(rate)
        self.retry = retry or RetryPolicy()
        self.read_timeout = read_timeout
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if transport is None:  # h11 writes headers and body apart: no Nagle delay between them
            transport = httpx.HTTPTransport(limits=limits, socket_options=_NODELAY)
        self._http = httpx.Client(
            base_url=api_url.rstrip("/") + "/",
            auth=httpx.BasicAuth(api_key, ""),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=None),
            headers={"User-Agent": "prelabel-submit"},
            transport=transport,
        )

    def __repr__(self) -> str:
        kind = "test" if self.is_test_key else "live"
        return f"ScaleClient(api_url={self.api_url!r}, api_key=<{kind} key hidden>)"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ScaleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scrub(self, text: str) -> str:
        """``text`` with this client's key (in any form) replaced by ``***``."""
        return scrub(text, self._secrets)

    # -- endpoints -----------------------------------------------------------------------

    def create_task(self, task_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /task/{task_type}``; paced by the rate limit; returns Scale's task object.

        Raises:
            DuplicateError: 409, the unique_id is already used (not retried).
            SubmitError: any other failure after retries.
        """
        doc = self.request("POST", f"task/{quote(task_type, safe='')}", json=body, paced=True)
        return _as_dict(doc, "task")

    def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /task/{task_id}``."""
        return _as_dict(self.request("GET", f"task/{quote(task_id, safe='')}"), "task")

    def cancel_task(self, task_id: str, *, clear_unique_id: bool = False) -> dict[str, Any]:
        """``POST /task/{task_id}/cancel[?clear_unique_id=true]``: Scale cancels only a task
        whose work has not started (a 400 otherwise)."""
        params = {"clear_unique_id": "true"} if clear_unique_id else None
        path = f"task/{quote(task_id, safe='')}/cancel"
        return _as_dict(self.request("POST", path, params=params), "task")

    def list_tasks(self, **params: Any) -> dict[str, Any]:
        """``GET /tasks`` with Scale's filters (unique_id, project, batch, type, status, …)."""
        return _as_dict(self.request("GET", "tasks", params=params), "task list")

    def find_task(self, unique_id: str) -> dict[str, Any] | None:
        """The task holding ``unique_id``, or None when there is none."""
        docs = self.list_tasks(unique_id=unique_id).get("docs") or []
        mine = [d for d in docs if isinstance(d, dict) and d.get("unique_id") == unique_id]
        return dict(mine[0]) if mine else None

    def upload_file(
        self,
        name: str,
        content: bytes,
        *,
        mimetype: str = "application/octet-stream",
        project_name: str | None = None,
    ) -> dict[str, Any]:
        """``POST /files/upload`` (multipart ``file``); returns ``{id, attachment_url, …}``."""
        data = {"project_name": project_name} if project_name else None
        doc = self.request(
            "POST", "files/upload", files={"file": (name, content, mimetype)}, data=data
        )
        return _as_dict(doc, "file")

    def create_batch(self, project: str, name: str, **extra: Any) -> dict[str, Any]:
        """``POST /batches``; 409 (name exists) raises :class:`DuplicateError`."""
        doc = self.request("POST", "batches", json={"project": project, "name": name, **extra})
        return _as_dict(doc, "batch")

    def get_batch(self, name: str) -> dict[str, Any]:
        """``GET /batches/{name}``."""
        return _as_dict(self.request("GET", f"batches/{quote(name, safe='')}"), "batch")

    def finalize_batch(self, name: str) -> dict[str, Any]:
        """``POST /batches/{name}/finalize``: staging → in_progress."""
        doc = self.request("POST", f"batches/{quote(name, safe='')}/finalize")
        return _as_dict(doc, "batch")

    def download(self, url: str) -> bytes:
        """``GET`` a hosted file (a response's result URL) through the same pool and retries.

        The key is sent only to URLs under this client's API URL (e.g. the sandbox's results);
        any other host (Scale's S3 result links) gets the request without credentials.

        Raises:
            InputError: ``url`` is not an http(s) URL.
            SubmitError: the file could not be fetched after retries.
        """
        if not url.startswith(("http://", "https://")):
            raise InputError(f"cannot fetch {self.scrub(url)!r}: not an http(s) URL")
        own = url.startswith(str(self._http.base_url))
        options: dict[str, Any] = {} if own else {"auth": None}
        for attempt in self._retrying():
            with attempt:
                return self._checked("GET", url, False, options).content
        raise AssertionError("unreachable")  # pragma: no cover

    # -- transport -----------------------------------------------------------------------

    def request(self, method: str, path: str, *, paced: bool = False, **kwargs: Any) -> Any:
        """Send one request with retries; returns the decoded JSON body.

        Args:
            method: HTTP method.
            path: Path relative to the API URL, e.g. ``tasks``.
            paced: Take a rate-limit token before every attempt (task creations).
            **kwargs: Passed to ``httpx.Client.request`` (json, params, files, data).

        Raises:
            SubmitTransportError: No answer after the last retry.
            SubmitRejectedError: An error status (typed by status) after retries.
        """
        for attempt in self._retrying():
            with attempt:
                return self._send(method, path, paced, kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.retry.attempts),
            sleep=self.retry.sleep,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, RetryableError) else None
        if after is not None:
            return float(min(after, self.retry.max_wait))
        backoff = wait_random_exponential(multiplier=self.retry.initial, max=self.retry.max_wait)
        return float(backoff(state))

    def _send(self, method: str, path: str, paced: bool, kwargs: dict[str, Any]) -> Any:
        response = self._checked(method, path, paced, kwargs)
        try:
            return response.json()
        except ValueError:
            return {"text": self.scrub(response.text)}

    def _checked(
        self, method: str, path: str, paced: bool, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """One attempt: the response when its status is below 400, else a typed error."""
        where = f"{method} {path if '://' in path else f'{self.api_url}/{path}'}"
        where = self.scrub(where)
        if paced:
            self.limiter.acquire()
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            detail = self.scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            raise SubmitTransportError(detail, location=where) from None
        if response.status_code >= 400:
            message = _error_message(response, self._secrets)
            raise error_for_status(
                response.status_code,
                message,
                retry_after=_retry_after(response),
                location=where,
            ) from None
        return response


def _as_dict(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise SubmitRejectedError(f"expected a {what} object, got {type(doc).__name__}", status=200)
    return doc
