"""What a prelabel output directory holds, by name: the contract between convert and the rest.

``prelabel convert`` writes ``DIR/tasks.jsonl`` (one ``{"task_type", "body"}`` a line, the
body exactly the JSON of ``POST /v1/task/{task_type}``), ``DIR/artifacts/`` (files the
bodies reference), ``DIR/report.json`` (every input object's outcome) and, when asked,
``DIR/taxonomy.json``. ``validate``, ``preview``, ``report`` and ``submit`` read only these.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prelabel.errors import InputError

TASKS_FILE = "tasks.jsonl"
REPORT_FILE = "report.json"
ARTIFACTS_DIR = "artifacts"
TAXONOMY_FILE = "taxonomy.json"
JOURNAL_FILE = "journal.sqlite"  # written by `submit`, never removed by `convert`
PARTIAL = ".partial"  # suffix of a file being written; renamed into place when complete


def reset_outputs(out: Path) -> None:
    """Remove the outputs of an earlier conversion (never a submit journal)."""
    shutil.rmtree(out / ARTIFACTS_DIR, ignore_errors=True)
    for name in (TASKS_FILE, REPORT_FILE, TAXONOMY_FILE):
        (out / name).unlink(missing_ok=True)


def tasks_file(directory: str | os.PathLike[str]) -> Path:
    """``DIR/tasks.jsonl`` of an output directory.

    Raises:
        InputError: the directory or its ``tasks.jsonl`` does not exist.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError("no such directory (expected the --out folder of convert)", path=root)
    path = root / TASKS_FILE
    if not path.is_file():
        raise InputError(
            f"no {TASKS_FILE} here: not an output folder of `prelabel convert`", path=root
        )
    return path
