"""Task config: what tasks to build. Mirrors Scale's request body.

(Interface fixed by the foundation; implementation in progress.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .limits import TaskLimits
from .options import PrelabelOptions

TASK_TYPES = ("segmentannotation", "imageannotation", "videoannotation", "videoplaybackannotation")


@dataclass(slots=True)
class TaskConfig:
    """A loaded, validated task config.

    ``params`` is exactly what goes into every task body (Scale's parameter names), before
    the per-item fields (attachment, unique_id, hypothesis/base_annotations) are added.
    """

    task_type: str
    params: dict[str, Any]
    prelabel: PrelabelOptions = field(default_factory=PrelabelOptions)
    limits: TaskLimits = field(default_factory=lambda: TaskLimits(task_type="imageannotation"))
    path: str | None = None


def load_config(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> TaskConfig:
    """Load and validate a TOML/YAML/JSON task config; ``overrides`` are CLI values."""
    raise NotImplementedError
