"""prelabel: turn model outputs into prelabeled Scale AI tasks.

Library entry points (the CLI is a thin layer over these)::

    from prelabel import Converter, adapters, convert, load_config, submit_tasks
    from prelabel.converters.coco.common import CocoOptions
    from prelabel.converters.coco.read import read_coco

    config = load_config("task.toml")                       # or a dict
    dataset = read_coco(["results.json"], CocoOptions(images="instances.json"))
    report = convert(dataset, config, "out/")                # a directory, as the CLI

    converter = Converter(config)                            # in memory, item by item
    task = converter.convert(adapters.from_arrays("img1", 640, 480, boxes=xyxy, labels=names))
    submit_tasks([task], api_url=URL, journal="journal.sqlite")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prelabel.config.load import TaskConfig, load_config
from prelabel.config.options import PrelabelOptions
from prelabel.converter import Converter
from prelabel.errors import (
    ConfigError,
    InputError,
    InvalidAnnotationError,
    LimitViolation,
    PayloadError,
    PrelabelError,
    SubmitError,
)
from prelabel.model import Dataset, Frame, Instance, Item, SourceRef
from prelabel.output.report import Report
from prelabel.output.task import Task
from prelabel.pipeline import convert, validate_dir

if TYPE_CHECKING:  # loaded on first use: the HTTP client is not every command's cost
    from prelabel.scale.tasks import submit_tasks

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Converter",
    "Dataset",
    "Frame",
    "InputError",
    "Instance",
    "InvalidAnnotationError",
    "Item",
    "LimitViolation",
    "PayloadError",
    "PrelabelError",
    "PrelabelOptions",
    "Report",
    "SourceRef",
    "SubmitError",
    "Task",
    "TaskConfig",
    "__version__",
    "convert",
    "load_config",
    "submit_tasks",
    "validate_dir",
]


def __getattr__(name: str) -> Any:
    if name == "submit_tasks":
        from prelabel.scale.tasks import submit_tasks

        return submit_tasks
    raise AttributeError(f"module 'prelabel' has no attribute {name!r}")
