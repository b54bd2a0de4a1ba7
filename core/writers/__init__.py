"""Writers: one per Scale task type, each turning an :class:`~prelabel.model.Item` into a task body.

A writer is ``write(item, ctx) -> dict`` (the exact JSON for ``POST /v1/task/{task_type}``).
Writers read only the model, the config and the limits; they never know the input format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from prelabel.errors import UnknownFormatError
from prelabel.model import Item
from prelabel.writers.context import WriteContext

Writer: TypeAlias = Callable[[Item, WriteContext], dict[str, Any]]


def get_writer(task_type: str) -> Writer:
    """The writer for a task type (imported lazily so one broken writer can't break all)."""
    if task_type == "imageannotation":
        from prelabel.writers.image import write_image_task

        return write_image_task
    if task_type == "segmentannotation":
        from prelabel.writers.segment import write_segment_task

        return write_segment_task
    if task_type == "videoannotation":
        from prelabel.writers.video import write_video_task

        return write_video_task
    if task_type == "videoplaybackannotation":
        from prelabel.writers.video import write_videoplayback_task

        return write_videoplayback_task
    raise UnknownFormatError(
        task_type,
        choices=[
            "imageannotation",
            "segmentannotation",
            "videoannotation",
            "videoplaybackannotation",
        ],
        kind="task type",
    )


__all__ = [
    "Writer",
    "get_writer",
]
