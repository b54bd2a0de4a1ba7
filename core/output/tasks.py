"""``DIR/tasks.jsonl``: the one writer and the one reader of the task lines.

A line is ``{"task_type": "...", "body": {...}}``, the body exactly the JSON of
``POST /v1/task/{task_type}``. :class:`TasksWriter` writes the file a line at a time (to a
``.partial`` file renamed into place when complete, so a failed run leaves no half file);
:func:`iter_tasks` reads it line by line and :func:`read_tasks` reads it for submitting
(every body with a unique ``unique_id`` and its artifact files present). Errors name the
file and the line. A sharded directory (:func:`~prelabel.output.layout.output_shards`) reads
as its shards' lines one after the other; each line knows its file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from prelabel.errors import InputError
from prelabel.output.artifacts import artifact_refs
from prelabel.output.layout import (
    ARTIFACTS_DIR,
    PARTIAL,
    TASKS_FILE,
    environment_failure,
    open_new,
    output_shards,
)
from prelabel.output.report import complete_report


@dataclass(frozen=True, slots=True)
class TaskLine:
    """One line of ``tasks.jsonl``."""

    line: int
    task_type: str
    body: dict[str, Any]
    # the tasks file it was read from, relative to the output directory
    file: str = TASKS_FILE

    @property
    def unique_id(self) -> str:
        """The task's unique_id ("" when the body has none; :func:`read_tasks` requires it)."""
        return str(self.body.get("unique_id") or "")

    @property
    def where(self) -> str:
        """``line N`` of a plain directory, ``shards/NAME/tasks.jsonl, line N`` of a shard."""
        return f"line {self.line}" if self.file == TASKS_FILE else f"{self.file}, line {self.line}"

    @property
    def project(self) -> str | None:
        """The ``project`` of the body, if any."""
        value = self.body.get("project")
        return None if value is None else str(value)

    @property
    def batch(self) -> str | None:
        """The ``batch`` of the body, if any."""
        value = self.body.get("batch")
        return None if value is None else str(value)


def task_line(task_type: str, body: dict[str, Any]) -> bytes:
    """One line of ``tasks.jsonl``, newline included."""
    return orjson.dumps({"task_type": task_type, "body": body}) + b"\n"


class TasksWriter:
    """Writes ``DIR/tasks.jsonl`` in a ``with`` block; kept only when the block succeeds."""

    def __init__(self, out: Path) -> None:
        self.path = out / TASKS_FILE
        self.partial = out / (TASKS_FILE + PARTIAL)
        self._sink: IO[bytes] | None = None

    def __enter__(self) -> TasksWriter:
        self._sink = open_new(self.partial)  # never through a link planted there
        return self

    def write(self, task_type: str, body: dict[str, Any]) -> None:
        """Append one task line."""
        self.write_line(task_line(task_type, body))

    def write_line(self, line: bytes) -> None:
        """Append one task line already encoded (:func:`task_line`)."""
        assert self._sink is not None, "TasksWriter.write_line outside its with block"
        try:
            self._sink.write(line)
        except OSError as exc:
            raise environment_failure(exc, self.partial, "write the file") from None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._sink is not None:
                self._sink.close()
            if kind is None:
                self.partial.replace(self.path)
        except OSError as error:
            raise environment_failure(error, self.path, "write the file") from None
        finally:
            self.partial.unlink(missing_ok=True)


def iter_tasks(
    directory: str | os.PathLike[str], on_error: Callable[[InputError], None] | None = None
) -> Iterator[TaskLine]:
    """The task lines of ``DIR/tasks.jsonl`` in file order (blank lines skipped); of a
    sharded directory, each shard's in manifest order.

    Args:
        directory: an output directory of ``prelabel convert`` (plain or sharded).
        on_error: called with the error of each malformed line, which is then skipped;
            None: the first malformed line raises it.

    Raises:
        InputError: the directory or file is missing, or (without ``on_error``) a line is
            not JSON, not an object, or lacks ``task_type`` or the ``body`` object.
    """
    for shard in output_shards(directory):
        path, name = shard.tasks, shard.relative(shard.tasks)
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    yield parse_task_line(path, number, raw, name)
                except InputError as exc:
                    if on_error is None:
                        raise
                    on_error(exc)


def parse_task_line(path: Path, number: int, raw: bytes, name: str = TASKS_FILE) -> TaskLine:
    """One line of ``tasks.jsonl``; an InputError names the file, the line and the fault."""
    where = f"line {number}"
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path, location=where) from None
    if not isinstance(doc, dict):
        raise InputError('expected an object {"task_type", "body"}', path=path, location=where)
    task_type, body = doc.get("task_type"), doc.get("body")
    if not isinstance(task_type, str) or not task_type:
        raise InputError("missing task_type", path=path, location=where)
    if not isinstance(body, dict):
        raise InputError("missing body object", path=path, location=where)
    return TaskLine(number, task_type, body, name)


def read_tasks(directory: str | os.PathLike[str]) -> list[TaskLine]:
    """Every task of ``DIR/tasks.jsonl`` (of every shard of a sharded directory), checked for
    submitting: each body has a ``unique_id`` no other line repeats, every
    ``artifact://NAME`` it holds names a file under ``DIR/artifacts``, and each report is
    complete and lists as many tasks as its tasks file
    (:func:`~prelabel.output.report.complete_report`: a conversion that did not finish is
    never submitted).

    Raises:
        InputError: naming the file, the line and what is wrong.
    """
    root = Path(directory)
    tasks: list[TaskLine] = []
    seen: dict[str, TaskLine] = {}
    for task in iter_tasks(root):
        path, where = root / task.file, f"line {task.line}"
        uid = task.body.get("unique_id")
        if not isinstance(uid, str) or not uid:
            raise InputError(
                "body has no unique_id (needed for exactly-once submit)", path=path, location=where
            )
        _check_artifacts(root, task)
        if task.unique_id in seen:
            first = seen[task.unique_id]
            other = first.where if first.file != task.file else f"line {first.line}"
            raise InputError(
                f"unique_id {task.unique_id!r} repeats {other}", path=path, location=where
            )
        seen[task.unique_id] = task
        tasks.append(task)
    complete_report(directory)
    return tasks


def _check_artifacts(root: Path, task: TaskLine) -> None:
    """Every ``artifact://NAME`` of the task names an existing file under ``artifacts/``."""
    files = (root / ARTIFACTS_DIR).resolve()
    path, line = root / task.file, f"line {task.line}"
    for where, name in artifact_refs(task.body):
        target = (files / name).resolve()
        if not name or files not in target.parents:
            raise InputError(
                f"{where}: artifact name {name!r} is outside artifacts/", path=path, location=line
            )
        if not target.is_file():
            raise InputError(
                f"{where}: artifact file artifacts/{name} is missing", path=path, location=line
            )
