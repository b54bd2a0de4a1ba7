"""The task-type registry: one entry per Scale task type prelabel writes.

An entry says what kind of task it is (one task per video or per image; prelabels as an
indexed image or as geometries) and where its code is: the writer that makes its bodies, the
check ``prelabel validate`` runs on its prelabels, and the renderer of its preview. The code
is named as ``"module:function"`` under ``prelabel`` and imported only when used, so this
module imports nothing but the rule book and the config room can use it. What Scale
documents about each type (accepted and required params, where prelabels may go, attachment
types) is in the rule book, :mod:`prelabel.config.rules`, with its sources.

Nothing else branches on a task type's name: pipeline, validate, review and the CLI ask
the entry. Adding a task type is one entry here, its writer module and its rules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from prelabel.config import rules
from prelabel.errors import UnknownFormatError


@dataclass(frozen=True, slots=True)
class TaskType:
    """One Scale task type: its traits and where its code is."""

    name: str  # Scale's name, the path of POST /v1/task/{name}
    video: bool  # one task per video (frames); else one per image (video items are split)
    raster: bool  # prelabels are an indexed image + labelMapping; the taxonomy is ``labels``
    writer: str  # write(item, ctx) -> body: the exact JSON of the create request
    check: str  # check(prelabels, where, scope) -> rule-book violations (validate, sandbox)
    preview: str  # render(output_dir, task, finder) -> (picture, image found), for preview
    # the writer reads an image item's object columns (``Item.columns``); for the others
    # the converter makes them instances first
    reads_columns: bool = False

    @property
    def taxonomy_key(self) -> str:
        """The params key that holds the task's taxonomy."""
        return "labels" if self.raster else "geometries"

    def load_writer(self) -> Any:
        return _load(self.writer)

    def load_check(self) -> Any:
        return _load(self.check)

    def load_preview(self) -> Any:
        return _load(self.preview)


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(f"prelabel.{module}"), name)


ENTRIES = (
    TaskType(
        name=rules.SEGMENT,
        video=False,
        raster=True,
        writer="writers.segment:write_segment_task",
        check="rulebook.segment:check_segment",
        preview="review.segment:render_segment_task",
    ),
    TaskType(
        name=rules.IMAGE,
        video=False,
        raster=False,
        writer="writers.image:write_image_task",
        check="rulebook.annotations:check_image",
        preview="review.preview:render_image_task",
        reads_columns=True,
    ),
    TaskType(
        name=rules.VIDEO,
        video=True,
        raster=False,
        writer="writers.video:write_video_task",
        check="rulebook.video:check_video",
        preview="review.video:render_video_task",
    ),
    TaskType(
        name=rules.PLAYBACK,
        video=True,
        raster=False,
        writer="writers.video:write_videoplayback_task",
        check="rulebook.video:check_playback",
        preview="review.video:render_video_task",
    ),
)
TASK_TYPES: dict[str, TaskType] = {entry.name: entry for entry in ENTRIES}


def get_task_type(name: str) -> TaskType:
    """The entry of task type ``name``; an unknown name lists the choices."""
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise UnknownFormatError(name, choices=list(TASK_TYPES), kind="task type") from None
