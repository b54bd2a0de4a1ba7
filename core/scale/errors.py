"""Status-specific submit errors, and the scrubbing that keeps an API key out of every message.

SubmitError (prelabel.errors)
├── SubmitTransportError       no HTTP answer: refused, reset, timed out
└── SubmitRejectedError        an HTTP error status with Scale's own ``error`` message
    ├── BadRequestError        400
    ├── UnauthorizedError      401
    │   └── ForbiddenError     403
    ├── NotEnabledError        402
    ├── NotFoundError          404
    ├── DuplicateError         409 (unique_id, batch or file reference already used)
    │   └── UniqueIdConflictError  the unique_id belongs to a task that is not ours
    ├── TooManyRequestsError   429 (``retry_after`` seconds when the server said)
    └── ServerError            5xx (408 too: the server gave up waiting)
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from prelabel.errors import SubmitRejectedError

__all__ = [
    "BadRequestError",
    "DuplicateError",
    "ForbiddenError",
    "NotEnabledError",
    "NotFoundError",
    "ServerError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UniqueIdConflictError",
    "error_for_status",
    "scrub",
]


class BadRequestError(SubmitRejectedError):
    """400: a missing or invalid parameter."""


class UnauthorizedError(SubmitRejectedError):
    """401: no valid API key."""


class ForbiddenError(UnauthorizedError):
    """403: the key may not do this."""


class NotEnabledError(SubmitRejectedError):
    """402: the task type is not enabled for the account."""


class NotFoundError(SubmitRejectedError):
    """404: no such task, batch or project."""


class DuplicateError(SubmitRejectedError):
    """409: the unique_id (or batch name, or file reference) is already used."""


class UniqueIdConflictError(DuplicateError):
    """The unique_id is taken by a task of another type or project: it is not ours to adopt."""


class RetryableError(SubmitRejectedError):
    """An answer worth retrying (429, 5xx, 408); ``retry_after`` is the server's Retry-After
    in seconds, if any."""

    def __init__(
        self,
        reason: str,
        *,
        status: int,
        retry_after: float | None = None,
        path: str | None = None,
        location: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(reason, status=status, path=path, location=location)


class TooManyRequestsError(RetryableError):
    """429: slow down."""


class ServerError(RetryableError):
    """5xx (or 408): the server failed."""


_BY_STATUS: dict[int, type[SubmitRejectedError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    402: NotEnabledError,
    403: ForbiddenError,
    404: NotFoundError,
    409: DuplicateError,
}


def error_for_status(
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    location: str | None = None,
) -> SubmitRejectedError:
    """Build the typed error for an HTTP error status.

    Args:
        status: The HTTP status code.
        message: Scale's ``error`` message (already scrubbed).
        retry_after: Seconds from a Retry-After header, if present.
        location: What was being requested, e.g. ``POST /task/imageannotation``.

    Returns:
        The most specific ``SubmitRejectedError`` subclass for ``status``.
    """
    reason = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 429:
        return TooManyRequestsError(
            reason, status=status, retry_after=retry_after, location=location
        )
    if status == 408 or status >= 500:
        return ServerError(reason, status=status, retry_after=retry_after, location=location)
    cls = _BY_STATUS.get(status, SubmitRejectedError)
    return cls(reason, status=status, location=location)


def secret_forms(secret: str) -> list[str]:
    """Every form in which a key could show up in text: raw, Basic-auth base64, URL-quoted."""
    if not secret:
        return []
    forms = {secret, base64.b64encode(f"{secret}:".encode()).decode()}
    forms.add(base64.b64encode(f"{secret}:".encode()).decode().rstrip("="))
    forms.add(quote(secret, safe=""))
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every form of every secret in ``text``, and every fragment of one, with ``***``.

    Scrub whole texts, then cut them: a cut made first can split a key into a fragment the
    whole-key replace no longer sees.

    Args:
        text: Any text that may have passed near the key (messages, URLs, headers).
        secrets: The keys to hide.

    Returns:
        ``text`` with each secret (raw, base64 Basic-auth, URL-quoted) replaced, and any run of
        :data:`FRAGMENT` or more characters of one, and a key's prefix of 4 or more characters
        ending the text (a server's own cut).
    """
    for secret in secrets:
        for form in secret_forms(secret):
            text = _scrub_fragments(text.replace(form, "***"), form)
    return _USERINFO.sub(r"\1***@", text)


FRAGMENT = 8


def _scrub_fragments(text: str, form: str) -> str:
    merged: list[list[int]] = []
    for start, stop in sorted(_fragment_spans(text, form)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    for start, stop in reversed(merged):
        text = text[:start] + "***" + text[stop:]
    return text


def _fragment_spans(text: str, form: str) -> Iterator[tuple[int, int]]:
    """Where runs of :data:`FRAGMENT` characters of ``form`` (and a prefix of 4 or more
    ending the text) occur in ``text``."""
    size = min(FRAGMENT, len(form))
    for window in {form[i : i + size] for i in range(len(form) - size + 1)}:
        found = text.find(window)
        while found != -1:
            yield found, found + size
            found = text.find(window, found + 1)
    for length in range(min(len(form), len(text)), 3, -1):
        if text.endswith(form[:length]):
            yield len(text) - length, len(text)
            break


def cut(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters (call after :func:`scrub`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{0,30}://)[^/@\s]{1,2000}@")
