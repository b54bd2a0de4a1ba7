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
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import numpy.typing as npt
import orjson

from .config import TaskConfig
from .errors import InputError
from .model import SourceRef
from .validate import Artifacts
from .writers.context import ARTIFACT_SCHEME, stable_uuid

Image = npt.NDArray[np.uint8]
Pts = list[tuple[float, float]]

TASKS_FILE = "tasks.jsonl"
REPORT_FILE = "report.json"
LEGEND_WIDTH = 300
FONT = cv2.FONT_HERSHEY_SIMPLEX
CANVAS_GREY = (64, 64, 64)
SCORE_KEYS = ("score", "confidence")
TILE_WIDTH = 320
SHEET_COLUMNS = 4


# --- reading a converted directory ------------------------------------------------------


@dataclass(slots=True)
class Task:
    """One line of ``tasks.jsonl`` plus what ``report.json`` says about it."""

    line: int
    task_type: str
    body: dict[str, Any]
    unique_id: str
    key: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(slots=True)
class OutputDir:
    """A directory written by ``prelabel convert``."""

    root: Path
    tasks: list[Task]
    report: dict[str, Any]
    # resolves hosted artifact URLs exactly when the task config is known
    hosted: Artifacts | None = None
    _by_task: dict[str, list[dict[str, Any]]] | None = None
    _artifacts: list[tuple[str, Path]] | None = None

    def records(self, unique_id: str) -> list[dict[str, Any]]:
        """The report's object records that went to (or were dropped from) one task."""
        if self._by_task is None:
            self._by_task = {}
            for rec in self.report.get("objects", []):
                if isinstance(rec, dict):
                    self._by_task.setdefault(str(rec.get("task")), []).append(rec)
        return self._by_task.get(unique_id, [])

    def artifact(self, ref: Any) -> Path | None:
        """The file under ``artifacts/`` a body reference points at (``artifact://NAME`` or a
        hosted URL whose path ends with the file's relative name; the longest such wins)."""
        if not isinstance(ref, str):
            return None
        base = self.root / "artifacts"
        if ref.startswith(ARTIFACT_SCHEME):
            path = base / ref[len(ARTIFACT_SCHEME) :]
            return path if path.is_file() else None
        found = self.hosted.path(ref) if self.hosted is not None else None
        if found is not None:
            return found
        if self._artifacts is None:
            files = [p for p in base.rglob("*") if p.is_file()] if base.is_dir() else []
            named = [(p.relative_to(base).as_posix(), p) for p in files]
            self._artifacts = sorted(named, key=lambda np_: -len(np_[0]))
        url_path = unquote(urlsplit(ref).path)
        return next((p for name, p in self._artifacts if url_path.endswith("/" + name)), None)

    def load_json(self, ref: Any) -> Any:
        path = self.artifact(ref)
        return None if path is None else orjson.loads(path.read_bytes())


def _read_report(root: Path) -> dict[str, Any]:
    path = root / REPORT_FILE
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path)
    return data


def _parse_task(path: Path, n: int, raw: bytes, info: dict[str, dict[str, Any]]) -> Task:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path, location=f"line {n}") from None
    if not isinstance(line, dict) or not isinstance(line.get("body"), dict):
        raise InputError('expected {"task_type", "body"}', path=path, location=f"line {n}")
    body = line["body"]
    uid = str(body.get("unique_id") or f"line-{n}")
    meta = info.get(uid, {})
    return Task(
        n,
        str(line.get("task_type", "")),
        body,
        uid,
        key=meta.get("key"),
        width=meta.get("width"),
        height=meta.get("height"),
    )


def load_output(directory: str | Path, config: TaskConfig | None = None) -> OutputDir:
    """Read ``tasks.jsonl`` and ``report.json`` of a converted directory.

    Args:
        directory: the ``--out`` directory of ``prelabel convert``.
        config: the task config used for the conversion; with ``artifact_url`` set it maps
            hosted URLs back to ``artifacts/`` exactly (without it, by URL path suffix).

    Returns:
        The tasks in file order and the report (empty when ``report.json`` is missing).

    Raises:
        InputError: the directory or its ``tasks.jsonl`` is missing or malformed.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError("no such directory (expected the --out folder of convert)", path=root)
    path = root / TASKS_FILE
    if not path.is_file():
        raise InputError(f"no {TASKS_FILE}: not an output folder of `prelabel convert`", path=root)
    report = _read_report(root)
    info = {str(t.get("unique_id")): t for t in report.get("tasks", []) if isinstance(t, dict)}
    tasks = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                tasks.append(_parse_task(path, n, raw, info))
    hosted = Artifacts(root, config) if config is not None else None
    return OutputDir(root, tasks, report, hosted)


# --- finding images -----------------------------------------------------------------------


class ImageFinder:
    """Finds the local file of an attachment URL under one folder (see the module doc)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._by_name: dict[str, list[Path]] | None = None
        self._by_stem: dict[str, list[Path]] = {}

    def _index(self) -> dict[str, list[Path]]:
        if self._by_name is None:
            self._by_name = {}
            if self.folder is not None and self.folder.is_dir():
                for path in sorted(self.folder.rglob("*")):
                    if path.is_file():
                        self._by_name.setdefault(path.name, []).append(path)
                        self._by_stem.setdefault(path.stem, []).append(path)
        return self._by_name

    def find(self, url: Any, key: str | None = None) -> Path | None:
        """The local file for ``url`` (or, failing that, for the item ``key``)."""
        index = self._index()
        url_path = unquote(urlsplit(url).path) if isinstance(url, str) else ""
        name = url_path.rsplit("/", 1)[-1]
        candidates = index.get(name, []) if name else []
        if not candidates and key is not None:
            candidates = self._by_stem.get(str(key), [])
        if not candidates:
            return None
        return max(candidates, key=lambda p: _shared_tail(p, url_path))

    def frames(self, urls: list[Any]) -> list[Path | None]:
        return [self.find(u) for u in urls]


def _shared_tail(path: Path, url_path: str) -> int:
    a, b = path.parts[::-1], [p for p in url_path.split("/") if p][::-1]
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def read_image(path: Path | None) -> Image | None:
    """A BGR image, or None when there is no file or it cannot be decoded."""
    if path is None:
        return None
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if img is None else np.asarray(img, dtype=np.uint8)


# --- colours and primitives ---------------------------------------------------------------


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


# --- legend and canvas --------------------------------------------------------------------


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
    if image is None:
        w, h = width or 640, height or 480
        base = np.full((h, w, 3), CANVAS_GREY, dtype=np.uint8)
        notes.append(note)
    else:
        base = image
        h, w = base.shape[:2]
        if width and height and (width, height) != (w, h):
            notes.append(f"image is {w}x{h}, task says {width}x{height}")
    s = display_scale(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_NEAREST if s > 2 else cv2.INTER_AREA
    out = cv2.resize(base, size, interpolation=interp) if s != 1 else base.copy()
    if image is None and note:
        cv2.putText(out, note[:70], (8, 20), FONT, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
    return np.asarray(out, dtype=np.uint8), s, notes


def missing_note(url: Any) -> str:
    """The note on a plain canvas: which file was looked for."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1] if isinstance(url, str) else ""
    return f"image not found: {name or url}"


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


# --- segmentation -------------------------------------------------------------------------


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


def read_indexed(path: Path) -> npt.NDArray[np.int64] | None:
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        return np.asarray(im, dtype=np.int64) if im.mode in ("L", "P", "I", "I;16") else None


def paint_segments(
    img: Image, values: npt.NDArray[np.int64], entries: list[tuple[int, str]], legend: Legend
) -> None:
    """Translucent label colours over the picture, instance borders in white."""
    h, w = img.shape[:2]
    grid = cv2.resize(values.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
    values = np.asarray(grid, dtype=np.int64)
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
            legend.notes.append(f"indexed image not found: {ref}")
        else:
            paint_segments(img, values, entries, legend)
    return with_legend(img, legend, task.unique_id), path is not None


# --- video --------------------------------------------------------------------------------


def video_frames(out: OutputDir, task: Task) -> list[list[dict[str, Any]]]:
    """Per task frame, the annotations on it (each with its object's ``uuid``)."""
    annotations = prelabels(task.body)
    if isinstance(annotations, dict) and "url" in annotations:
        annotations = out.load_json(annotations["url"])
    if isinstance(annotations, list):  # videoannotation: one {"annotations": [...]} a frame
        return [list(f.get("annotations", [])) if isinstance(f, dict) else [] for f in annotations]
    frames: dict[int, list[dict[str, Any]]] = {}
    if isinstance(annotations, dict):  # videoplayback: {uuid: {label, geometry, frames}}
        for uuid, obj in annotations.items():
            for fr in obj.get("frames", []) if isinstance(obj, dict) else []:
                a = {
                    **fr,
                    "type": obj.get("geometry", "box"),
                    "label": obj.get("label"),
                    "uuid": uuid,
                }
                frames.setdefault(int(fr.get("key", 0)), []).append(a)
    count = max(frames, default=-1) + 1
    return [frames.get(i, []) for i in range(count)]


def track_numbers(frames: list[list[dict[str, Any]]]) -> dict[str, int]:
    """A short number per object uuid, in order of first appearance."""
    out: dict[str, int] = {}
    for frame in frames:
        for a in frame:
            out.setdefault(str(a.get("uuid")), len(out) + 1)
    return out


def sample_indices(count: int, wanted: int) -> list[int]:
    """Up to ``wanted`` frame indices spread evenly over ``count`` frames."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def draw_frame(
    image: Image | None,
    anns: list[dict[str, Any]],
    numbers: dict[str, int],
    size: tuple[int | None, int | None],
    colours: Colours,
) -> tuple[Image, float]:
    """One video frame at full display scale with its annotations and track numbers."""
    img, scale, _ = canvas(image, size[0], size[1], "")
    for a in anns:
        draw_annotation(img, a, scale, colours, prefix=f"#{numbers.get(str(a.get('uuid')), 0)} ")
    return img, scale


def _tile(img: Image, caption: str) -> Image:
    h = max(1, round(img.shape[0] * TILE_WIDTH / img.shape[1]))
    tile = cv2.resize(img, (TILE_WIDTH, h), interpolation=cv2.INTER_AREA)
    out = np.full((h + 18, TILE_WIDTH, 3), 255, dtype=np.uint8)
    out[18:] = tile
    cv2.putText(out, caption, (4, 13), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _grid(tiles: list[Image]) -> Image:
    h = max(t.shape[0] for t in tiles)
    cols = min(SHEET_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    sheet = np.full((rows * (h + 4), cols * (TILE_WIDTH + 4), 3), 255, dtype=np.uint8)
    for n, t in enumerate(tiles):
        r, c = divmod(n, cols)
        sheet[
            r * (h + 4) : r * (h + 4) + t.shape[0],
            c * (TILE_WIDTH + 4) : c * (TILE_WIDTH + 4) + TILE_WIDTH,
        ] = t
    return sheet


def frame_urls(task: Task, count: int) -> list[Any]:
    urls = task.body.get("attachments")
    if isinstance(urls, list):
        return urls + [None] * max(0, count - len(urls))
    return [None] * count


def render_video_task(
    out: OutputDir, task: Task, finder: ImageFinder, *, samples: int = 12
) -> tuple[Image, bool]:
    """A contact sheet: up to ``samples`` frames in a grid, objects numbered by track."""
    frames = video_frames(out, task)
    urls = frame_urls(task, len(frames))
    frames += [[] for _ in range(len(urls) - len(frames))]
    numbers = track_numbers(frames)
    legend = Legend(Colours(task.body))
    legend.add_records(out.records(task.unique_id))
    tiles, found = [], 0
    for i in sample_indices(len(frames), samples):
        path = finder.find(urls[i])
        found += path is not None
        size = (task.width, task.height)
        img, _ = draw_frame(read_image(path), frames[i], numbers, size, legend.colours)
        tiles.append(_tile(img, f"frame {i}" + ("" if path else " (no image)")))
    for frame in frames:
        legend.labels.update(str(a.get("label", "?")) for a in frame)
    legend.notes.append(f"{len(numbers)} track(s), {len(frames)} frame(s), {len(tiles)} shown")
    if tiles and not found:
        legend.notes.append("frame images not found under --images")
    sheet = _grid(tiles) if tiles else np.full((240, TILE_WIDTH, 3), CANVAS_GREY, dtype=np.uint8)
    return with_legend(sheet, legend, task.unique_id), found > 0


def write_mp4(out: OutputDir, task: Task, finder: ImageFinder, path: Path) -> Path:
    """An annotated MP4 of every frame of a video task (OpenCV ``mp4v``)."""
    frames = video_frames(out, task)
    urls = frame_urls(task, len(frames))
    frames += [[] for _ in range(len(urls) - len(frames))]
    numbers = track_numbers(frames)
    colours = Colours(task.body)
    fps = float(task.body.get("frame_rate") or 5)
    writer: Any = None
    try:
        for i, anns in enumerate(frames):
            image = read_image(finder.find(urls[i]))
            img, _ = draw_frame(image, anns, numbers, (task.width, task.height), colours)
            if writer is None:
                size = (img.shape[1] - img.shape[1] % 2, img.shape[0] - img.shape[0] % 2)
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
            writer.write(np.ascontiguousarray(img[: size[1], : size[0]]))
    finally:
        if writer is not None:
            writer.release()
    return path


# --- whole directory ----------------------------------------------------------------------


@dataclass(slots=True)
class Preview:
    """One written preview."""

    unique_id: str
    task_type: str
    path: Path
    image_found: bool
    mp4: Path | None = None


def safe_name(unique_id: str) -> str:
    """A file name for a task's preview (``project/type/key`` -> ``project_type_key``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", unique_id).strip("_") or "task"


def render_task(out: OutputDir, task: Task, finder: ImageFinder) -> tuple[Image, bool]:
    """The preview picture of any task type, and whether its image(s) were found."""
    if task.task_type == "segmentannotation":
        return render_segment_task(out, task, finder)
    if (
        task.task_type in ("videoannotation", "videoplaybackannotation")
        or "attachments" in task.body
    ):
        return render_video_task(out, task, finder)
    return render_image_task(out, task, finder)


def write_png(path: Path, img: Image) -> None:
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise InputError("could not encode the preview PNG", path=path)
    path.write_bytes(data.tobytes())


def preview_task(
    out: OutputDir, task: Task, finder: ImageFinder, dest: Path, *, mp4: bool = False
) -> Preview:
    """Render one task to ``dest/<safe unique_id>.png`` (and ``.mp4`` for video if asked)."""
    img, found = render_task(out, task, finder)
    path = dest / f"{safe_name(task.unique_id)}.png"
    write_png(path, img)
    video = None
    if mp4 and task.task_type in ("videoannotation", "videoplaybackannotation"):
        video = write_mp4(out, task, finder, dest / f"{safe_name(task.unique_id)}.mp4")
    return Preview(task.unique_id, task.task_type, path, found, video)


def preview_dir(
    directory: str | Path,
    images: str | Path | None,
    dest: str | Path,
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
        dest: folder for the PNGs (created).
        limit: at most this many tasks, in file order.
        mp4: also write an annotated MP4 per video task.
        progress: optional callable wrapping the task iterable (e.g. a tqdm factory).
        config: the conversion's task config (exact hosted-artifact lookup), or None.

    Returns:
        One :class:`Preview` per task drawn.
    """
    out = load_output(directory, config)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    finder = ImageFinder(images)
    tasks = out.tasks[:limit] if limit is not None else out.tasks
    iterable = progress(tasks) if progress is not None else tasks
    return [preview_task(out, t, finder, dest, mp4=mp4) for t in iterable]
