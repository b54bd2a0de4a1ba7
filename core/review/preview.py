"""Preview pictures of a converted directory: each task's prelabels drawn on its local image.

Reads only the output contract of ``convert``: ``DIR/tasks.jsonl``, ``DIR/artifacts/`` and
``DIR/report.json``. Image tasks become one PNG each; video tasks a contact sheet (a grid of
sampled frames with track numbers); segment tasks the indexed PNG rendered through its
``labelMapping`` over the image. Every picture has a legend (one colour per label, counts,
fixed and dropped objects with reasons).

Finding the local image of a task (``--images FOLDER``)
    1. the basename of the attachment URL (query and fragment removed, %-escapes decoded),
       for video tasks of each entry of ``attachments``;
    2. else a file whose stem is the task's item key (``report.json`` ``tasks[].key``).
    Files are looked up anywhere under FOLDER; when several share a name, the one whose
    relative path shares the longest tail with the URL path wins (``seq1/img1/000001.jpg``).
    A task whose image is not found is drawn on a plain canvas of its size, with a note.

Fixed objects (the limits engine changed them) are drawn dashed with a ``*`` after the label;
dropped objects are not in the body, so they are listed in the legend with their reasons.

The drawing is split by responsibility: :mod:`~prelabel.review.load` (reading the directory,
finding images), :mod:`~prelabel.review.draw` (colours and annotation objects),
:mod:`~prelabel.review.legend` (canvas and legend panel), :mod:`~prelabel.review.segment`
and :mod:`~prelabel.review.video` (those task types); this module draws image tasks, writes
the previews and keeps every name importable as ``prelabel.review.preview``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from prelabel.config.load import TaskConfig
from prelabel.config.task_types import TASK_TYPES
from prelabel.errors import InputError
from prelabel.output.layout import (
    PREVIEW_DIR,
    make_dir,
    own_dir,
    remove_output,
    safe_name,
    write_file,
)
from prelabel.review.draw import (
    Colours,
    draw_annotation,
    fixed_uuids,
    prelabels,
)
from prelabel.review.legend import (
    Legend,
    canvas,
    missing_note,
    with_legend,
)
from prelabel.review.load import (
    Image,
    ImageFinder,
    OutputDir,
    Task,
    load_output,
    read_image,
)
from prelabel.review.video import (
    render_video_task,
    write_mp4,
)

__all__ = [
    "Preview",
    "preview_dir",
    "preview_task",
    "render_image_task",
    "render_task",
    "write_png",
]


# a task type's preview: (output dir, task, image finder) -> (picture, image found)
Renderer = Callable[[OutputDir, Task, ImageFinder], tuple[Image, bool]]


def render_image_task(out: OutputDir, task: Task, finder: ImageFinder) -> tuple[Image, bool]:
    """An imageannotation task drawn on its image; returns the picture and whether the
    image was found."""
    url = task.body.get("attachment")
    path = finder.find(url, task.key)
    img, scale, notes = canvas(read_image(path), task.width, task.height, missing_note(url))
    records = out.records(task.unique_id)
    fixed = fixed_uuids(records, task.unique_id)
    legend = Legend(Colours(task.body), notes=notes)
    legend.add_records(records)
    annotations = prelabels(task.body)
    for a in annotations if isinstance(annotations, list) else []:
        if isinstance(a, dict):
            draw_annotation(img, a, scale, legend.colours, fixed=a.get("uuid") in fixed)
            legend.labels[str(a.get("label", "?"))] += 1
    return with_legend(img, legend, task.unique_id), path is not None


@dataclass(slots=True)
class Preview:
    """One written preview."""

    unique_id: str
    task_type: str
    path: Path
    image_found: bool
    mp4: Path | None = None


def render_task(out: OutputDir, task: Task, finder: ImageFinder) -> tuple[Image, bool]:
    """The preview picture of any task type (the renderer its registry entry names), and
    whether its image(s) were found. A task type prelabel does not write is drawn by the
    shape of its body: frames when it has ``attachments``, else one image."""
    entry = TASK_TYPES.get(task.task_type)
    if entry is not None:
        render: Renderer = entry.load_preview()
        return render(out, task, finder)
    if "attachments" in task.body:
        return render_video_task(out, task, finder)
    return render_image_task(out, task, finder)


def write_png(path: Path, img: Image) -> None:
    """Write ``img`` as a new PNG at ``path`` (never through a link planted there)."""
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise InputError("could not encode the preview PNG", path=path)
    write_file(path, data.tobytes())


def preview_task(
    out: OutputDir, task: Task, finder: ImageFinder, dest: Path, *, mp4: bool = False
) -> Preview:
    """Render one task to ``dest/<safe unique_id>.png`` (and ``.mp4`` for video if asked)."""
    img, found = render_task(out, task, finder)
    path = dest / f"{safe_name(task.unique_id)}.png"
    write_png(path, img)
    video = None
    entry = TASK_TYPES.get(task.task_type)
    if mp4 and entry is not None and entry.video:
        clip = dest / f"{safe_name(task.unique_id)}.mp4"
        remove_output(clip)  # OpenCV opens the path as it is: no link may stand there
        video = write_mp4(out, task, finder, clip)
    return Preview(task.unique_id, task.task_type, path, found, video)


def preview_dir(
    directory: str | Path,
    images: str | Path | None,
    dest: str | Path | None,
    *,
    limit: int | None = None,
    mp4: bool = False,
    progress: Any = None,
    config: TaskConfig | None = None,
) -> list[Preview]:
    """Write a preview PNG per task of a converted directory.

    Args:
        directory: the ``--out`` folder of ``prelabel convert``.
        images: folder holding the images / frames (searched recursively); None: plain canvases.
        dest: folder for the PNGs (created); None: ``DIR/preview``, which prelabel owns (a
            link in its place is replaced by a folder, never followed).
        limit: at most this many tasks, in file order.
        mp4: also write an annotated MP4 per video task.
        progress: optional callable wrapping the task iterable (e.g. a tqdm factory).
        config: the conversion's task config (exact hosted-artifact lookup), or None.

    Returns:
        One :class:`Preview` per task drawn.
    """
    out = load_output(directory, config)
    folder = own_dir(out.root / PREVIEW_DIR) if dest is None else make_dir(Path(dest))
    finder = ImageFinder(images)
    tasks = out.tasks[:limit] if limit is not None else out.tasks
    iterable = progress(tasks) if progress is not None else tasks
    return [preview_task(out, t, finder, folder, mp4=mp4) for t in iterable]
