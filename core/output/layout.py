"""What a prelabel output directory holds, by name: the contract between convert and the rest.

``prelabel convert`` writes ``DIR/tasks.jsonl`` (one ``{"task_type", "body"}`` a line, the
body exactly the JSON of ``POST /v1/task/{task_type}``), ``DIR/artifacts/`` (files the
bodies reference), ``DIR/report.json`` (every input object's outcome) and, when asked,
``DIR/taxonomy.json``. ``validate``, ``preview``, ``report`` and ``submit`` read only these.

A **sharded** directory (what a cluster writes, :mod:`prelabel.ray`) holds the same things
split by writer: ``DIR/shards/NAME/tasks.jsonl`` and ``DIR/shards/NAME/report.json`` per
shard, one ``DIR/artifacts/``, and ``DIR/shards.json`` (the manifest: the shards in order),
written last. A plain directory is the one-shard case; :func:`output_shards` lists the
shards of either, so every reader handles both. A ``shards/`` folder without a manifest is a
job that did not finish, and is refused.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson

from prelabel.errors import InputError

TASKS_FILE = "tasks.jsonl"
REPORT_FILE = "report.json"
ARTIFACTS_DIR = "artifacts"
TAXONOMY_FILE = "taxonomy.json"
JOURNAL_FILE = "journal.sqlite"  # written by `submit`, never removed by `convert`
PARTIAL = ".partial"  # suffix of a file being written; renamed into place when complete
SHARDS_DIR = "shards"  # a sharded directory: one folder per shard under it
MANIFEST_FILE = "shards.json"  # ... and its manifest, written when every shard is complete
MANIFEST_KIND = "prelabel shards"


def reset_outputs(out: Path) -> None:
    """Remove the outputs of an earlier conversion, plain or sharded (never a journal)."""
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # first: the rest no longer looks complete
    shutil.rmtree(out / SHARDS_DIR, ignore_errors=True)
    shutil.rmtree(out / ARTIFACTS_DIR, ignore_errors=True)
    for name in (TASKS_FILE, REPORT_FILE, TAXONOMY_FILE):
        (out / name).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard of an output directory: its ``tasks.jsonl`` and ``report.json``."""

    root: Path  # the output directory
    name: str  # "" for a plain directory's one shard

    @property
    def tasks(self) -> Path:
        return self.folder / TASKS_FILE

    @property
    def report(self) -> Path:
        return self.folder / REPORT_FILE

    @property
    def folder(self) -> Path:
        return self.root / SHARDS_DIR / self.name if self.name else self.root

    def relative(self, path: Path) -> str:
        """``path`` as messages name it: relative to the output directory."""
        return path.relative_to(self.root).as_posix()


def output_shards(directory: str | os.PathLike[str]) -> list[Shard]:
    """The shards of an output directory, in order: a plain directory is one shard.

    Raises:
        InputError: no such directory, no tasks in it, a sharded directory whose job did
            not finish (no manifest), or a manifest naming a shard that is not there.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError("no such directory (expected the --out folder of convert)", path=root)
    manifest = root / MANIFEST_FILE
    if manifest.is_file():
        return _manifest_shards(root, manifest)
    if (root / TASKS_FILE).is_file():
        return [Shard(root, "")]
    if (root / SHARDS_DIR).is_dir():
        raise InputError(
            f"{SHARDS_DIR}/ but no {MANIFEST_FILE}: the job writing this directory did not "
            "finish (or is still running); its shards are not all there",
            path=root,
        )
    raise InputError(f"no {TASKS_FILE} here: not an output folder of `prelabel convert`", path=root)


def _manifest_shards(root: Path, manifest: Path) -> list[Shard]:
    try:
        doc = orjson.loads(manifest.read_bytes())
        names = [str(entry["name"]) for entry in doc["shards"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"not a shard manifest ({exc})", path=manifest) from None
    shards = [Shard(root, name) for name in names]
    for shard in shards:
        if "/" in shard.name or shard.name in ("", ".", "..") or not shard.tasks.is_file():
            raise InputError(f"shard {shard.name!r} is missing", path=manifest)
    return shards


def write_manifest(root: Path, shards: list[dict[str, object]], **info: object) -> None:
    """Commit a sharded directory: write ``shards.json`` (``shards`` in order, each with its
    ``name``), atomically, once every shard is complete."""
    doc = {"kind": MANIFEST_KIND, **info, "shards": shards}
    partial = root / (MANIFEST_FILE + PARTIAL)
    partial.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    partial.replace(root / MANIFEST_FILE)


def tasks_file(directory: str | os.PathLike[str]) -> Path:
    """``DIR/tasks.jsonl`` of a plain output directory.

    Raises:
        InputError: the directory or its ``tasks.jsonl`` does not exist.
    """
    root = Path(directory)
    output_shards(root)
    path = root / TASKS_FILE
    if not path.is_file():
        raise InputError(f"a sharded directory, not one {TASKS_FILE}", path=root)
    return path
