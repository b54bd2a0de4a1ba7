"""Re-check a written output directory against the task config and the rule book.

Independent of the writers: it reads ``tasks.jsonl``, resolves artifact references to the
files under ``DIR/artifacts``, and runs every body through the rule book
(:func:`prelabel.rulebook.body.check_body`, the same checks the sandbox runs on what it
receives), plus what only a directory can say: the body follows its config, unique_ids are
unique, and geometry stays inside the image (sizes from ``report.json``). One message per
violation, naming task, field and rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from prelabel.config.load import TaskConfig
from prelabel.config.rules import ARTIFACT_SCHEME
from prelabel.errors import InputError
from prelabel.rulebook.body import PER_TASK, check_body
from prelabel.rulebook.findings import Missing
from prelabel.writers.context import ArtifactStore

# body keys prelabel fills per task, so they may differ from the config's params
PER_TASK_KEYS = PER_TASK | {"attachment", "attachments", "metadata"}


class Artifacts:
    """Resolves the references bodies hold back to files under ``DIR/artifacts``."""

    def __init__(self, out: Path, config: TaskConfig) -> None:
        self.root = out / "artifacts"
        self.by_url: dict[str, Path] = {}
        if config.prelabel.artifact_url and self.root.is_dir():
            store = ArtifactStore(self.root, config.prelabel.artifact_url)
            for path in self.root.rglob("*"):
                if path.is_file():
                    name = path.relative_to(self.root).as_posix()
                    self.by_url[store.reference(name)] = path

    def path(self, ref: Any) -> Path | None:
        """The file ``ref`` names (``artifact://NAME`` or a hosted artifact URL), if present."""
        if not isinstance(ref, str):
            return None
        if ref.startswith(ARTIFACT_SCHEME):
            path = self.root / ref[len(ARTIFACT_SCHEME) :]
            return path if path.is_file() else None
        return self.by_url.get(ref)

    def fetch(self, url: str) -> bytes | Missing | None:
        """The rule book's resolver: an artifact's bytes, Missing, or None (not ours)."""
        path = self.path(url)
        if path is not None:
            return path.read_bytes()
        if url.startswith(ARTIFACT_SCHEME):
            return Missing(f"artifacts/{url[len(ARTIFACT_SCHEME) :]} is missing")
        return None

    def load_json(self, ref: Any) -> Any:
        path = self.path(ref)
        return None if path is None else orjson.loads(path.read_bytes())


def _sizes(out: Path) -> dict[str, tuple[int, int]]:
    """Image sizes by unique_id, from ``report.json``."""
    sizes: dict[str, tuple[int, int]] = {}
    report = out / "report.json"
    if report.is_file():
        for t in orjson.loads(report.read_bytes()).get("tasks", []):
            if t.get("width") and t.get("height"):
                sizes[t["unique_id"]] = (int(t["width"]), int(t["height"]))
    return sizes


def _directory_checks(
    obj: dict[str, Any], where: str, config: TaskConfig, seen: set[str]
) -> Iterator[str]:
    """What only a directory written from ``config`` can be held to."""
    body = obj["body"]
    uid = body.get("unique_id")
    if obj.get("task_type") != config.task_type:
        yield f"{where}: task_type {obj.get('task_type')!r}, config says {config.task_type!r}"
    if not uid:
        yield f"{where}: no unique_id"
    elif uid in seen:
        yield f"{where}: unique_id repeated"
    seen.add(str(uid))
    for key, value in config.params.items():
        if key not in PER_TASK_KEYS and body.get(key) != value:
            yield f"{where}: params.{key} differs from the config"


def _check_line(
    obj: Any,
    lineno: int,
    config: TaskConfig,
    sizes: dict[str, tuple[int, int]],
    seen: set[str],
    art: Artifacts,
) -> Iterator[str]:
    if not isinstance(obj, dict) or not isinstance(obj.get("body"), dict):
        yield f'tasks.jsonl, line {lineno}: expected {{"task_type", "body"}}'
        return
    body = obj["body"]
    uid = body.get("unique_id")
    where = f"task {uid}" if uid else f"tasks.jsonl, line {lineno}"
    yield from _directory_checks(obj, where, config, seen)
    task_type = str(obj.get("task_type"))
    size = sizes.get(str(uid))
    for violation in check_body(task_type, body, art, with_digest=True, image_size=size):
        yield f"{where}: {violation}"


def validate_output(out: Path, config: TaskConfig) -> list[str]:
    """Every violation in ``out`` (empty when it is all good)."""
    tasks = out / "tasks.jsonl"
    if not tasks.is_file():
        raise InputError("no tasks.jsonl here: not a prelabel output directory", path=out)
    sizes = _sizes(out)
    art = Artifacts(out, config)
    problems: list[str] = []
    seen: set[str] = set()
    with tasks.open("rb") as f:
        for lineno, line in enumerate(f, 1):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(f"tasks.jsonl, line {lineno}: not JSON ({exc})")
                continue
            problems.extend(_check_line(obj, lineno, config, sizes, seen, art))
    return problems
