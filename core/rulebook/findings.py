"""What a rule check finds, and how checks reach the files a body names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from prelabel.config import rules
from prelabel.config.limits import Bounds, TaskLimits
from prelabel.config.task_types import get_task_type


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the rule book's id, the body field, what is wrong."""

    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


@dataclass(frozen=True, slots=True)
class Missing:
    """A reference that should resolve and does not; ``reason`` says why."""

    reason: str


class Resolver(Protocol):
    """Reads the files a body names (hosted JSON, indexed PNGs)."""

    def fetch(self, url: str) -> bytes | Missing | None:
        """The file's bytes; :class:`Missing` when it should exist and does not; None when
        the URL is not one this resolver can read (then it is not checked further)."""


class NoFiles:
    """A resolver that reads nothing (every reference unchecked)."""

    def fetch(self, url: str) -> bytes | Missing | None:
        return None


def load_json(data: bytes) -> tuple[Any, str | None]:
    """Parsed JSON and None, or None and why it is not JSON."""
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON ({exc})"


@dataclass(frozen=True, slots=True)
class Scope:
    """What the prelabel checks of one body need to know."""

    task_type: str
    body: dict[str, Any]
    limits: TaskLimits
    attributes: dict[str, Any]
    resolver: Resolver
    bounds: Bounds | None = None
    image_size: tuple[int, int] | None = None


def required_attachment(task_type: str, body: dict[str, Any]) -> str:
    """``attachment`` or ``attachments``: which one the body's task type and attachment_type
    need."""
    kind = body.get("attachment_type", rules.DEFAULT_ATTACHMENT_TYPE[task_type])
    video_type = get_task_type(task_type).video
    return "attachments" if video_type and kind == "image" else "attachment"
