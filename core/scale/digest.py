"""The digest of a task body, kept in the journal and in the task's ``metadata`` so a rerun
tells a task that holds the same body from one that holds another (a changed conversion).

The digest covers the task type, the body as written in ``tasks.jsonl`` (keys sorted, without
the digest itself) and the content of every artifact it names, so a new mask PNG under the same
name is a change while a new upload URL for the same file is not. It is the first
:data:`~prelabel.config.rules.DIGEST_HEX_CHARS` hex characters of a SHA-256, stored as
``metadata.prelabel_digest`` (the config check keeps room for it in the 10 kB budget).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from prelabel.config import rules
from prelabel.errors import SubmitError

__all__ = ["body_digest", "sent_digest", "with_digest"]


def body_digest(task_type: str, body: Mapping[str, Any], artifacts: Mapping[str, str]) -> str:
    """The digest of one task.

    Args:
        task_type: the task's type.
        body: the body from ``tasks.jsonl`` (``artifact://`` references not yet replaced).
        artifacts: SHA-256 of each artifact the body names, by name.
    """
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and rules.METADATA_DIGEST_KEY in metadata:
        kept = {k: v for k, v in metadata.items() if k != rules.METADATA_DIGEST_KEY}
        body = {**body, "metadata": kept}
    h = hashlib.sha256(orjson.dumps([task_type, body], option=orjson.OPT_SORT_KEYS))
    for name in sorted(artifacts):
        h.update(f"\0{name}\0{artifacts[name]}".encode())
    return h.hexdigest()[: rules.DIGEST_HEX_CHARS]


def with_digest(body: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """``body`` with the digest added to its ``metadata``.

    Raises:
        SubmitError: the metadata is not an object, or would exceed Scale's 10 kB with it.
    """
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise SubmitError(f"metadata must be an object, got {type(metadata).__name__}")
    metadata = {**metadata, rules.METADATA_DIGEST_KEY: digest}
    size = len(orjson.dumps(metadata, default=str))
    if size > rules.METADATA_MAX_BYTES:
        raise SubmitError(
            f"metadata is {size} bytes with prelabel's body digest; Scale allows "
            f"{rules.METADATA_MAX_BYTES}"
        )
    return {**body, "metadata": metadata}


def sent_digest(doc: Mapping[str, Any]) -> str | None:
    """The digest a task on the server was created with (None: not sent by prelabel)."""
    metadata = doc.get("metadata")
    value = metadata.get(rules.METADATA_DIGEST_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None
