"""Re-check a written output directory against the task config and the rule book.

Independent of the writers: it reads ``tasks.jsonl`` (every shard's, in a sharded
directory), resolves artifact references to the
files under ``DIR/artifacts``, and runs every body through the rule book
(:func:`prelabel.rulebook.body.check_body`, the same checks the sandbox runs on what it
receives), plus what only a directory can say: the body follows its config, unique_ids are
unique, and geometry stays inside the image (sizes from ``report.json``). One message per
violation, naming task, field and rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prelabel.config.load import TaskConfig
from prelabel.errors import InputError
from prelabel.output.artifacts import ARTIFACT_SCHEME, ArtifactFiles
from prelabel.output.layout import ARTIFACTS_DIR, output_shards
from prelabel.output.report import complete_report, task_entries
from prelabel.output.tasks import TaskLine, iter_tasks
from prelabel.rulebook.body import PER_TASK, check_body
from prelabel.rulebook.findings import Missing

# body keys prelabel fills per task, so they may differ from the config's params
PER_TASK_KEYS = PER_TASK | {"attachment", "attachments", "metadata"}


class _Files:
    """The rule book's resolver over ``DIR/artifacts``: bytes, Missing, or None (not ours)."""

    def __init__(self, files: ArtifactFiles) -> None:
        self.files = files

    def fetch(self, url: str) -> bytes | Missing | None:
        path = self.files.path(url)
        if path is not None:
            return path.read_bytes()
        if url.startswith(ARTIFACT_SCHEME):
            return Missing(f"artifacts/{url[len(ARTIFACT_SCHEME) :]} is missing")
        return None


def _directory_checks(
    task: TaskLine, where: str, config: TaskConfig, seen: set[str]
) -> Iterator[str]:
    """What only a directory written from ``config`` can be held to."""
    body = task.body
    uid = body.get("unique_id")
    if task.task_type != config.task_type:
        yield f"{where}: task_type {task.task_type!r}, config says {config.task_type!r}"
    if not uid:
        yield f"{where}: no unique_id"
    elif uid in seen:
        yield f"{where}: unique_id repeated"
    seen.add(str(uid))
    for key, value in config.params.items():
        if key not in PER_TASK_KEYS and body.get(key) != value:
            yield f"{where}: params.{key} differs from the config"


def _check_task(
    task: TaskLine,
    config: TaskConfig,
    sizes: dict[str, tuple[int, int]],
    seen: set[str],
    art: _Files,
) -> Iterator[str]:
    uid = task.body.get("unique_id")
    where = f"task {uid}" if uid else f"{task.file}, line {task.line}"
    yield from _directory_checks(task, where, config, seen)
    size = sizes.get(str(uid))
    for violation in check_body(task.task_type, task.body, art, with_digest=True, image_size=size):
        yield f"{where}: {violation}"


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_output(out: Path, config: TaskConfig) -> list[str]:
    """Every violation in ``out``, plain or sharded (empty when it is all good)."""
    output_shards(out)  # the directory is an output folder of convert
    report = complete_report(out)  # of the run that wrote these tasks
    sizes = {
        uid: (int(t["width"]), int(t["height"]))
        for uid, t in task_entries(report).items()
        if _is_size(t.get("width")) and _is_size(t.get("height"))
    }
    art = _Files(ArtifactFiles(out / ARTIFACTS_DIR, config.prelabel.artifact_url))
    problems: list[str] = []
    seen: set[str] = set()

    def bad_line(exc: InputError) -> None:
        name = Path(exc.path or "").relative_to(out).as_posix()
        problems.append(f"{name}, {exc.location}: {exc.reason}")

    for task in iter_tasks(out, on_error=bad_line):
        problems.extend(_check_task(task, config, sizes, seen, art))
    return problems
