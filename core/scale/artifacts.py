"""``artifact://NAME`` references in task bodies: found, and replaced by uploaded URLs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prelabel.config.rules import ARTIFACT_SCHEME

__all__ = ["artifact_refs", "substitute"]


def artifact_refs(value: Any, where: str = "body") -> Iterator[tuple[str, str]]:
    """Yield ``(field path, artifact name)`` for every ``artifact://NAME`` string in ``value``."""
    if isinstance(value, str):
        if value.startswith(ARTIFACT_SCHEME):
            yield where, value[len(ARTIFACT_SCHEME) :]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from artifact_refs(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from artifact_refs(item, f"{where}[{i}]")


def substitute(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with each ``artifact://NAME`` replaced by ``urls[NAME]``."""
    if isinstance(value, str) and value.startswith(ARTIFACT_SCHEME):
        return urls[value[len(ARTIFACT_SCHEME) :]]
    if isinstance(value, dict):
        return {k: substitute(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, urls) for v in value]
    return value
