"""Previews of ``segmentannotation`` tasks, for :mod:`prelabel.review.preview`.

A segment body's hypothesis points at an indexed PNG under ``artifacts/`` and names its
values in a ``labelMapping`` (entries, lists or nested choices: :func:`mapping_entries`).
:func:`render_segment_task` reads that PNG, paints each mapped value in its label colour over
the task image (instance borders in white) and adds the legend; an indexed image that cannot
be found becomes a legend note. Split out of ``preview.py``; the names stay importable from
there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.review.draw import Colours
from prelabel.review.legend import Legend, canvas, missing_note, with_legend
from prelabel.review.load import (
    Image,
    ImageFinder,
    OutputDir,
    Task,
    fits_a_task,
    header_size,
    read_image,
)


def mapping_entries(mapping: Any, label: str | None = None) -> Iterator[tuple[int, str]]:
    """(index, label) for every entry of a labelMapping (entries, lists, nested choices)."""
    if isinstance(mapping, list):
        for entry in mapping:
            yield from mapping_entries(entry, label)
    elif isinstance(mapping, dict) and "index" in mapping and label is not None:
        yield int(mapping["index"]), label
    elif isinstance(mapping, dict):
        for key, value in mapping.items():
            yield from mapping_entries(value, str(key))


def indexed_images(annotations: Any) -> list[Any]:
    """The indexedImage references of a segment body's ``annotations``."""
    if not isinstance(annotations, dict):
        return []
    return [
        v["indexedImage"]
        for v in annotations.values()
        if isinstance(v, dict) and "indexedImage" in v
    ]


def read_indexed(path: Path) -> npt.NDArray[Any] | None:
    """The values of an indexed PNG in their own type; None when it is not a one-channel
    image, cannot be read, or is larger than a task image may be (never decoded then)."""
    from PIL import Image as PILImage

    if not fits_a_task(header_size(path)):
        return None
    try:
        with PILImage.open(path) as im:
            return np.asarray(im) if im.mode in ("L", "P", "I", "I;16") else None
    except (OSError, ValueError):
        return None


def nearest(values: npt.NDArray[Any], width: int, height: int) -> npt.NDArray[np.int64]:
    """``values`` resampled to ``width`` x ``height`` by nearest pixel (any integer type;
    only the result's pixels are made)."""
    rows = (np.arange(height) * values.shape[0]) // height
    cols = (np.arange(width) * values.shape[1]) // width
    return np.asarray(values[rows[:, None], cols], dtype=np.int64)


def paint_segments(
    img: Image, values: npt.NDArray[Any], entries: list[tuple[int, str]], legend: Legend
) -> None:
    """Translucent label colours over the picture, instance borders in white."""
    h, w = img.shape[:2]
    values = nearest(values, w, h)
    colours = np.zeros((*values.shape, 3), dtype=np.uint8)
    painted = np.zeros(values.shape, dtype=bool)
    for index, label in entries:
        sel = values == index
        if sel.any():
            colours[sel] = legend.colours(label)
            painted |= sel
            legend.labels[label] += 1
    blend = cv2.addWeighted(img, 0.45, colours, 0.55, 0)
    img[painted] = blend[painted]
    edges = cv2.morphologyEx(
        values.astype(np.float32), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)
    )
    img[edges > 0] = (255, 255, 255)


def render_segment_task(out: OutputDir, task: Task, finder: ImageFinder) -> tuple[Image, bool]:
    """A segmentannotation task: its indexed PNG through labelMapping over the image."""
    url = task.body.get("attachment")
    path = finder.find(url, task.key)
    img, _, notes = canvas(read_image(path), task.width, task.height, missing_note(url))
    legend = Legend(Colours(task.body), notes=notes)
    legend.add_records(out.records(task.unique_id))
    hyp: dict[str, Any] = next(
        (
            task.body[k]
            for k in ("hypothesis", "base_annotations")
            if isinstance(task.body.get(k), dict)
        ),
        {},
    )
    entries = list(mapping_entries(hyp.get("labelMapping")))
    for ref in indexed_images(hyp.get("annotations")):
        png = out.artifact(ref)
        values = read_indexed(png) if png is not None else None
        if values is None:
            why = "not found" if png is None else "not a readable task-sized index PNG"
            legend.notes.append(f"indexed image {why}: {ref}")
        else:
            paint_segments(img, values, entries, legend)
    return with_legend(img, legend, task.unique_id), path is not None
