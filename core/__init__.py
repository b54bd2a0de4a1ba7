"""prelabel: turn model outputs into prelabeled Scale AI tasks.

Library entry points (the CLI is a thin layer over these)::

    from prelabel import load_config, convert
    from prelabel.converters.coco.common import CocoOptions
    from prelabel.converters.coco.read import read_coco

    config = load_config("task.toml")
    dataset = read_coco(["results.json"], CocoOptions(images="instances.json"))
    report = convert(dataset, config, "out/")
"""

from __future__ import annotations

from prelabel.config.load import TaskConfig, load_config
from prelabel.config.options import PrelabelOptions
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
from prelabel.pipeline import convert, validate_dir

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
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
    "TaskConfig",
    "__version__",
    "convert",
    "load_config",
    "validate_dir",
]
