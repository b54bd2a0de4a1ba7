"""The reader registry: format name -> module and function, imported lazily."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from prelabel.errors import UnknownFormatError
from prelabel.model import Dataset

# format name -> (module under prelabel.converters, reader function, one-line description)
READERS: dict[str, tuple[str, str, str]] = {
    "coco": (
        "coco.read",
        "read_coco",
        "COCO dataset files and results lists, CocoVID / YouTube-VIS",
    ),
    "masks": ("masks.read", "read_masks", "mask PNGs: index, palette, colour, instance, panoptic"),
    "mot": (
        "tracking.mot",
        "read_mot",
        "MOTChallenge txt: ground truth, tracker results, detections",
    ),
    "kitti": ("tracking.kitti", "read_kitti", "KITTI tracking labels and results"),
}


def get_reader(name: str) -> Callable[..., Dataset]:
    """The reader function for ``name``; unknown names list the choices."""
    try:
        module_name, func, _ = READERS[name]
    except KeyError:
        raise UnknownFormatError(name, choices=sorted(READERS)) from None
    module: Any = importlib.import_module(f"prelabel.converters.{module_name}")
    reader: Callable[..., Dataset] = getattr(module, func)
    return reader
