"""The frame around every preview picture: scaled background and legend panel.

:func:`canvas` scales the task image so its longer side is readable (or paints a grey canvas
of the task's size, with a note, when the image was not found); :class:`Legend` collects the
labels with counts, the fixed and dropped objects with their reasons and any notes, and
:func:`with_legend` draws that list in a white panel right of the picture. Used by the image,
segment and video renderers of :mod:`prelabel.review.preview`. Split out of ``preview.py``; the
names stay importable from there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np

from prelabel.review.draw import FONT, Colours
from prelabel.review.load import Image

LEGEND_WIDTH = 300


CANVAS_GREY = (64, 64, 64)


@dataclass(slots=True)
class Legend:
    """What the legend panel lists: labels with counts, fixed and dropped objects."""

    colours: Colours
    labels: Counter[str] = field(default_factory=Counter)
    fixed: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def add_records(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if rec.get("outcome") == "fixed":
                self.fixed += 1
            elif rec.get("outcome") == "dropped":
                label = rec.get("label") or "?"
                reason = str(rec.get("reason") or "").split(":")[0]
                self.dropped[f"{label}: {reason}"] += 1

    def lines(self) -> Iterator[tuple[str, tuple[int, int, int] | None]]:
        for label, n in sorted(self.labels.items()):
            yield f"{label} ({n})", self.colours(label)
        yield f"fixed, dashed + '*': {self.fixed}", None
        yield f"dropped: {sum(self.dropped.values())}", None
        for text, n in self.dropped.most_common(12):
            yield f"  {n} x {text}", None
        if len(self.dropped) > 12:
            yield f"  ... {len(self.dropped) - 12} more reasons", None
        for note in self.notes:
            yield note, None


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, max(len(text), 1), width)]


def with_legend(img: Image, legend: Legend, title: str) -> Image:
    """The picture with a white legend panel on its right."""
    rows: list[tuple[str, tuple[int, int, int] | None]] = [(t, None) for t in _wrap(title, 38)]
    for text, colour in legend.lines():
        rows.extend((t, colour if i == 0 else None) for i, t in enumerate(_wrap(text, 38)))
    height = max(img.shape[0], 16 * len(rows) + 16)
    out = np.full((height, img.shape[1] + LEGEND_WIDTH, 3), 255, dtype=np.uint8)
    out[: img.shape[0], : img.shape[1]] = img
    x0 = img.shape[1] + 8
    for n, (text, colour) in enumerate(rows):
        y = 18 + 16 * n
        if colour is not None:
            cv2.rectangle(out, (x0, y - 10), (x0 + 12, y + 2), colour, -1)
        cv2.putText(
            out, text, (x0 + (18 if colour else 0), y), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA
        )
    return out


def display_scale(width: int, height: int) -> float:
    """Scale so the longer side lies in [480, 1280] px (tiny test images get readable)."""
    side = max(width, height, 1)
    if side < 480:
        return 480 / side
    return min(1.0, 1280 / side)


def canvas(
    image: Image | None, width: int | None, height: int | None, note: str
) -> tuple[Image, float, list[str]]:
    """The scaled background picture, the scale, and notes (a plain canvas if no image)."""
    notes = []
    if image is None:  # a plain canvas, made at display size whatever size the task says
        w, h = width or 640, height or 480
        s = display_scale(w, h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        out: Image = np.full((size[1], size[0], 3), CANVAS_GREY, dtype=np.uint8)
        notes.append(note)
    else:
        h, w = image.shape[:2]
        if width and height and (width, height) != (w, h):
            notes.append(f"image is {w}x{h}, task says {width}x{height}")
        s = display_scale(w, h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        interp = cv2.INTER_NEAREST if s > 2 else cv2.INTER_AREA
        out = np.asarray(
            cv2.resize(image, size, interpolation=interp) if s != 1 else image.copy(),
            dtype=np.uint8,
        )
    if image is None and note:
        cv2.putText(out, note[:70], (8, 20), FONT, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
    return np.asarray(out, dtype=np.uint8), s, notes


def missing_note(url: Any) -> str:
    """The note on a plain canvas: which file was looked for."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1] if isinstance(url, str) else ""
    return f"image not found: {name or url}"
