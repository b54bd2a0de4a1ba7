"""Colours and drawing of Scale annotation objects, for :mod:`prelabel.review.preview`.

Labels take colours from a fixed palette in the order the task's taxonomy lists them
(:class:`Colours`), so every picture of one directory agrees; labels outside the taxonomy get
a colour hashed from their name. :func:`draw_annotation` draws one box, polygon, line, point,
ellipse or cuboid annotation with its label (and score), dashed with a ``*`` when the limits
engine fixed it (:func:`fixed_uuids` recomputes which uuids those are from the report).
Split out of ``preview.py``; the names stay importable from there.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.model import SourceRef, stable_uuid
from prelabel.review.load import Image

Pts = list[tuple[float, float]]


FONT = cv2.FONT_HERSHEY_SIMPLEX


SCORE_KEYS = ("score", "confidence")


# distinct BGR colours, given to labels in taxonomy order
PALETTE: tuple[tuple[int, int, int], ...] = (
    (40, 40, 230),
    (60, 180, 60),
    (230, 120, 30),
    (0, 200, 255),
    (200, 60, 200),
    (200, 200, 0),
    (30, 110, 240),
    (150, 80, 20),
    (120, 220, 160),
    (90, 40, 160),
    (170, 170, 255),
    (0, 128, 128),
    (255, 160, 200),
    (40, 180, 190),
    (130, 0, 90),
    (110, 200, 255),
    (60, 90, 60),
    (255, 200, 120),
    (0, 80, 200),
    (180, 140, 220),
)


def label_colour(label: str) -> tuple[int, int, int]:
    """A stable palette colour for a label outside any taxonomy (hash of the name)."""
    return PALETTE[int(hashlib.sha1(label.encode()).hexdigest()[:8], 16) % len(PALETTE)]


def _choice_names(entry: Any) -> Iterator[str]:
    if isinstance(entry, str):
        yield entry
    elif isinstance(entry, dict):
        if isinstance(entry.get("choice"), str):
            yield entry["choice"]
        for sub in entry.get("subchoices") or []:
            yield from _choice_names(sub)


def taxonomy_labels(body: dict[str, Any]) -> list[str]:
    """Label names in the order the body's params list them (geometries, then labels)."""
    names: list[str] = []
    geometries = body.get("geometries") if isinstance(body.get("geometries"), dict) else {}
    for spec in (geometries or {}).values():
        if isinstance(spec, dict):
            for entry in spec.get("objects_to_annotate") or []:
                names.extend(_choice_names(entry))
    for entry in body.get("labels") or []:
        names.extend(_choice_names(entry))
    return list(dict.fromkeys(names))


class Colours:
    """One colour per label: the task taxonomy's labels take palette colours in order, so
    every picture of one directory agrees; other labels get a colour from their name."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.known = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(taxonomy_labels(body))}

    def __call__(self, label: str) -> tuple[int, int, int]:
        return self.known.get(label) or label_colour(label)


def _ipts(pts: Pts, scale: float) -> npt.NDArray[np.int32]:
    return np.array([[round(x * scale), round(y * scale)] for x, y in pts], dtype=np.int32)


def _dashed(img: Image, pts: npt.NDArray[np.int32], colour: Any, closed: bool) -> None:
    ring = list(pts) + ([pts[0]] if closed and len(pts) else [])
    for a, b in itertools.pairwise(ring):
        length = float(np.hypot(*(b - a)))
        steps = max(1, int(length // 6))
        for s in range(0, steps, 2):
            p = a + (b - a) * (s / steps)
            q = a + (b - a) * (min(s + 1, steps) / steps)
            cv2.line(
                img, tuple(int(v) for v in p), tuple(int(v) for v in q), colour, 2, cv2.LINE_AA
            )


def _outline(
    img: Image, pts: npt.NDArray[np.int32], colour: Any, closed: bool, fixed: bool
) -> None:
    if fixed:
        _dashed(img, pts, colour, closed)
    else:
        cv2.polylines(img, [pts], closed, colour, 2, cv2.LINE_AA)


def put_label(img: Image, text: str, org: tuple[int, int], colour: Any) -> None:
    """Text on a filled box of the label colour, kept inside the picture."""
    (w, h), base = cv2.getTextSize(text, FONT, 0.45, 1)
    x = min(max(org[0], 0), max(img.shape[1] - w - 4, 0))
    y = min(max(org[1], h + 4), img.shape[0] - 2)
    cv2.rectangle(img, (x, y - h - 4), (x + w + 4, y + base - 2), colour, -1)
    dark = sum(colour) > 380
    cv2.putText(
        img,
        text,
        (x + 2, y - 2),
        FONT,
        0.45,
        (0, 0, 0) if dark else (255, 255, 255),
        1,
        cv2.LINE_AA,
    )


# --- annotations --------------------------------------------------------------------------


def annotation_points(a: dict[str, Any]) -> Pts:
    """The outline points of one Scale annotation (box corners, vertices, or the point)."""
    if isinstance(a.get("vertices"), list):
        return [(float(v["x"]), float(v["y"])) for v in a["vertices"] if "x" in v and "y" in v]
    if a.get("type") == "box" or "left" in a:
        x, y, w, h = (float(a.get(k, 0)) for k in ("left", "top", "width", "height"))
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if "x" in a and "y" in a:
        return [(float(a["x"]), float(a["y"]))]
    return []


def annotation_text(a: dict[str, Any], prefix: str = "") -> str:
    """``label`` (+ `` 0.87`` score) (+ ``*`` when fixed) for drawing beside an object."""
    text = prefix + str(a.get("label", "?"))
    attrs = a.get("attributes") if isinstance(a.get("attributes"), dict) else {}
    for key in SCORE_KEYS:
        score = attrs.get(key) if attrs else None
        if isinstance(score, (int, float)):
            text += f" {score / 100 if score > 1 else score:.2f}"
            break
    return text


def draw_annotation(
    img: Image,
    a: dict[str, Any],
    scale: float,
    colours: Colours,
    *,
    fixed: bool = False,
    prefix: str = "",
) -> None:
    """Draw one Scale annotation object (box, polygon, line, point, ellipse, cuboid)."""
    pts = annotation_points(a)
    if not pts:
        return
    colour = colours(str(a.get("label", "?")))
    kind = a.get("type")
    ipts = _ipts(pts, scale)
    text = annotation_text(a, prefix) + ("*" if fixed else "")
    if kind == "point" or len(pts) == 1:
        centre = (int(ipts[0][0]), int(ipts[0][1]))
        cv2.circle(img, centre, 4, colour, -1 if not fixed else 2, cv2.LINE_AA)
        org = (centre[0] + 5, centre[1] - 4)
        cv2.putText(img, text, org, FONT, 0.38, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, org, FONT, 0.38, colour, 1, cv2.LINE_AA)
        return
    closed = kind != "line"
    if kind == "polygon":
        overlay = img.copy()
        cv2.fillPoly(overlay, [ipts], colour, cv2.LINE_AA)
        cv2.addWeighted(overlay, 0.3, img, 0.7, 0, dst=img)
    _outline(img, ipts, colour, closed, fixed)
    top = ipts[np.argmin(ipts[:, 1])]
    put_label(img, text, (int(ipts[:, 0].min()), int(top[1]) - 2), colour)


def fixed_uuids(records: list[dict[str, Any]], task: str) -> set[str]:
    """uuids of the annotations the limits engine changed, recomputed the way the image
    writer derives them (``stable_uuid(task, source, n)``)."""
    out: set[str] = set()
    for rec in records:
        if rec.get("outcome") == "fixed":
            src = rec.get("source", {})
            ref = SourceRef(str(src.get("file")), str(src.get("location")))
            out.update(stable_uuid(task, ref, n) for n in range(int(rec.get("annotations", 1))))
    return out


def prelabels(body: dict[str, Any]) -> Any:
    """What the body carries as prelabels (``hypothesis`` or ``base_annotations``)."""
    for key in ("hypothesis", "base_annotations"):
        if isinstance(body.get(key), dict):
            return body[key].get("annotations")
    return None
