"""Output directories the submit benchmarks write by hand (no `prelabel convert`).

``submit`` refuses a ``tasks.jsonl`` without the ``report.json`` of the run that wrote it
(a conversion that did not finish); :func:`write_tasks` writes both, the report listing
each task as ``convert`` would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson


def write_tasks(directory: Path, tasks: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """Write ``(task_type, body)`` pairs as ``DIR/tasks.jsonl`` with a matching
    ``DIR/report.json``; return the unique_ids in order."""
    lines = [orjson.dumps({"task_type": kind, "body": body}) for kind, body in tasks]
    (directory / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    uids = [str(body["unique_id"]) for _, body in tasks]
    entries = [{"unique_id": uid, "key": uid} for uid in uids]
    (directory / "report.json").write_bytes(orjson.dumps({"tasks": entries, "objects": []}))
    return uids
