"""convert: read -> filter labels and scores -> write task bodies -> report. validate: re-check.

(Interface fixed by the foundation; implementation in progress.)
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import TaskConfig
from .model import Dataset
from .report import Report


def convert(
    dataset: Dataset,
    config: TaskConfig,
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    progress: bool = False,
) -> Report:
    """Write ``tasks.jsonl``, ``artifacts/`` and ``report.json`` for ``dataset`` into ``out_dir``."""
    raise NotImplementedError


def emit_taxonomy(dataset: Dataset, config: TaskConfig, path: Path) -> None:
    """Write the labels / geometries block derived from the data."""
    raise NotImplementedError


def validate_dir(out_dir: str | os.PathLike[str], config: TaskConfig) -> list[str]:
    """Re-check a written directory against the config; one message per violation."""
    raise NotImplementedError
