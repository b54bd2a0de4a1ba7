"""Re-check a written output directory against the task config and every limit.

Independent of the writers: it reads ``tasks.jsonl``, resolves artifact references, and checks
each annotation as Scale would see it. One message per violation, naming task and annotation.
Each task type's prelabels are checked by the ``check_<type>_prelabels`` function its
registry entry names (:mod:`prelabel.config.task_types`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import shapely

from prelabel.config.limits import Bounds, GeometryLimits, TaskLimits
from prelabel.config.load import TaskConfig
from prelabel.config.task_types import get_task_type
from prelabel.errors import InputError
from prelabel.output.artifacts import ArtifactFiles
from prelabel.output.layout import ARTIFACTS_DIR, TASKS_FILE, tasks_file
from prelabel.output.report import read_report, task_entries
from prelabel.output.tasks import TaskLine, iter_tasks

EPS = 1e-6
# body keys prelabel fills per task, so they may differ from the config's params
PER_TASK_KEYS = frozenset(
    {"attachment", "attachments", "unique_id", "hypothesis", "base_annotations", "metadata"}
)


def _inside(xs: list[float], ys: list[float], bounds: Bounds | None) -> bool:
    if bounds is None or not xs:
        return True
    return (
        min(xs) >= bounds.x0 - EPS
        and max(xs) <= bounds.x1 + EPS
        and min(ys) >= bounds.y0 - EPS
        and max(ys) <= bounds.y1 + EPS
    )


def weakly_simple(poly: shapely.Polygon) -> bool:
    """True for a ring that only touches itself, as a keyhole bridge does (the bridge is one
    segment walked there and back): it never crosses itself, so no region is counted twice
    or cancelled, and the repaired shape covers exactly the ring's own (shoelace) area. A
    crossing ring (bow tie) or a self-overlapping one fails that test."""
    reason = shapely.is_valid_reason(poly)
    if not reason.startswith(("Ring Self-intersection", "Self-intersection")):
        return False
    repaired = shapely.make_valid(poly)
    return abs(float(shapely.area(repaired)) - poly.area) <= 1e-6 * max(poly.area, 1.0)


def _check_box(a: dict[str, Any], g: GeometryLimits, bounds: Bounds | None) -> Iterator[str]:
    try:
        left, top, w, h = (float(a[k]) for k in ("left", "top", "width", "height"))
    except (KeyError, TypeError, ValueError):
        yield "box needs numeric left, top, width, height"
        return
    if w < g.min_width - EPS or h < g.min_height - EPS:
        yield f"box {w:g}x{h:g} under min size {g.min_width:g}x{g.min_height:g}"
    if g.integer_pixels and not all(
        isinstance(a[k], int) for k in ("left", "top", "width", "height")
    ):
        yield "integer_pixels is set but box fields are not integers"
    if a.get("rotation") and not g.can_rotate:
        yield "box is rotated but can_rotate is false"
    if not a.get("rotation") and not _inside([left, left + w], [top, top + h], bounds):
        yield "box extends outside the padded image"


def _check_vertices(
    a: dict[str, Any], g: GeometryLimits, bounds: Bounds | None, closed: bool
) -> Iterator[str]:
    try:
        pts = [(float(v["x"]), float(v["y"])) for v in a["vertices"]]
    except (KeyError, TypeError, ValueError):
        yield f"{a['type']} needs vertices [{{x, y}}, ...]"
        return
    least = max(3 if closed else 2, g.min_vertices)
    if len(pts) < least:
        yield f"{len(pts)} vertices, needs at least {least}"
    if g.max_vertices is not None and len(pts) > g.max_vertices:
        yield f"{len(pts)} vertices, max_vertices is {g.max_vertices}"
    if closed and len(set(pts)) < 3:
        yield "polygon has fewer than 3 distinct vertices"
    elif closed and len(pts) >= 3:
        poly = shapely.Polygon(pts)
        if poly.area <= 0:
            yield "polygon has zero area"
        elif not shapely.is_valid(poly) and not weakly_simple(poly):
            yield f"polygon is not valid ({shapely.is_valid_reason(poly)})"
    if not _inside([p[0] for p in pts], [p[1] for p in pts], bounds):
        yield f"{a['type']} extends outside the padded image"


def check_annotation(
    a: Any, limits: TaskLimits, bounds: Bounds | None, kind: str | None = None
) -> list[str]:
    """Every reason ``a`` (one annotation object) breaks the task's limits."""
    if not isinstance(a, dict):
        return ["not an annotation object"]
    kind = kind or a.get("type")
    g = limits.geometries.get(kind)  # type: ignore[arg-type]
    if g is None:
        return [
            f"type {kind!r} is not one of the task's geometries ({', '.join(limits.geometries)})"
        ]
    out: list[str] = []
    label = a.get("label")
    if not isinstance(label, str) or not g.accepts_label(label):
        out.append(f"label {label!r} is not in {kind}.objects_to_annotate")
    a = {**a, "type": kind}
    if kind in ("box", "cuboid") and "left" in a:
        out.extend(_check_box(a, g, bounds))
    elif kind in ("polygon", "line", "ellipse"):
        out.extend(_check_vertices(a, g, bounds, closed=kind != "line"))
    elif kind == "point":
        try:
            x, y = float(a["x"]), float(a["y"])
        except (KeyError, TypeError, ValueError):
            return [*out, "point needs numeric x, y"]
        if not _inside([x], [y], bounds):
            out.append("point lies outside the padded image")
    return out


def _check_annotations(
    annotations: Any, where: str, limits: TaskLimits, bounds: Bounds | None
) -> Iterator[str]:
    if not isinstance(annotations, list):
        yield f"{where}: annotations must be a list"
        return
    uuids: set[str] = set()
    for n, a in enumerate(annotations):
        for reason in check_annotation(a, limits, bounds):
            yield f"{where}, annotation {n} ({a.get('uuid', '-') if isinstance(a, dict) else '-'}): {reason}"
        uid = a.get("uuid") if isinstance(a, dict) else None
        if uid is not None:
            if uid in uuids:
                yield f"{where}, annotation {n}: uuid {uid} repeated"
            uuids.add(uid)


def check_image_prelabels(
    pre: dict[str, Any],
    where: str,
    limits: TaskLimits,
    size: tuple[int, int] | None,
    art: ArtifactFiles,
) -> Iterator[str]:
    """imageannotation: every annotation of ``{"annotations": [...]}``."""
    bounds = limits.bounds(*size) if size else None
    yield from _check_annotations(pre.get("annotations"), where, limits, bounds)


def check_segment_prelabels(
    pre: dict[str, Any],
    where: str,
    limits: TaskLimits,
    size: tuple[int, int] | None,
    art: ArtifactFiles,
) -> Iterator[str]:
    """segmentannotation: the indexed PNG and its labelMapping."""
    mapping = pre.get("labelMapping")
    ref = (pre.get("annotations") or {}).get("combined", {}).get("indexedImage")
    path = art.path(ref)
    if not isinstance(mapping, dict) or path is None:
        yield f"{where}: needs labelMapping and annotations.combined.indexedImage (found {ref!r})"
        return
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2 or image.dtype != np.uint8:
        yield f"{where}: {path.name} is not an 8-bit single-channel PNG"
        return
    if size and (image.shape[1], image.shape[0]) != size:
        yield f"{where}: mask is {image.shape[1]}x{image.shape[0]}, image is {size[0]}x{size[1]}"
    counts = np.bincount(image.ravel(), minlength=256)
    indices: set[int] = set()
    for label, entry in mapping.items():
        entries = entry if isinstance(entry, list) else [entry]
        if limits.segment_labels and label not in limits.segment_labels:
            yield f"{where}: label {label!r} is not one of the task's labels"
        if isinstance(entry, list) != (label in limits.instance_labels):
            yield f"{where}: label {label!r} must map to a list exactly when it is an instance label"
        for e in entries:
            index = e.get("index") if isinstance(e, dict) else None
            if not isinstance(index, int) or not 1 <= index <= 255 or index in indices:
                yield f"{where}: label {label!r} has a missing, out-of-range or repeated index {index!r}"
                continue
            indices.add(index)
            if "numPixels" in e and e["numPixels"] != int(counts[index]):
                yield f"{where}: {label!r} index {index} numPixels {e['numPixels']} != {counts[index]}"
    stray = sorted(set(np.flatnonzero(counts[1:]) + 1) - indices)
    if stray:
        yield f"{where}: indices {stray[:10]} occur in the mask but not in labelMapping"
    if not limits.allow_unlabeled and counts[0]:
        yield f"{where}: {counts[0]} unlabeled pixels but allow_unlabeled is false"


def _hosted_or_inline(pre: dict[str, Any], art: ArtifactFiles) -> Any:
    """Video prelabels: inline, or hosted as ``{"url": ...}`` and read from the artifact."""
    annotations = pre.get("annotations")
    return art.load_json(annotations.get("url")) if isinstance(annotations, dict) else annotations


def check_video_prelabels(
    pre: dict[str, Any],
    where: str,
    limits: TaskLimits,
    size: tuple[int, int] | None,
    art: ArtifactFiles,
) -> Iterator[str]:
    """videoannotation: the per-frame list of annotations."""
    data = _hosted_or_inline(pre, art)
    if data is None:
        yield f"{where}: annotations must be inline or a resolvable artifact url"
        return
    bounds = limits.bounds(*size) if size else None
    frames = data.get("annotations", data) if isinstance(data, dict) else data
    for n, frame in enumerate(frames if isinstance(frames, list) else []):
        yield from _check_annotations(
            frame.get("annotations"), f"{where}, frame {n}", limits, bounds
        )


def check_playback_prelabels(
    pre: dict[str, Any],
    where: str,
    limits: TaskLimits,
    size: tuple[int, int] | None,
    art: ArtifactFiles,
) -> Iterator[str]:
    """videoplaybackannotation: the tracks keyed by uuid, each frame as an annotation."""
    data = _hosted_or_inline(pre, art)
    if data is None:
        yield f"{where}: annotations must be inline or a resolvable artifact url"
        return
    bounds = limits.bounds(*size) if size else None
    for uid, track in data.items() if isinstance(data, dict) else []:
        kind = track.get("geometry")
        for n, frame in enumerate(track.get("frames") or []):
            a = {"label": track.get("label"), **frame}
            for reason in check_annotation(a, limits, bounds, kind):
                yield f"{where}, object {uid}, frame {n} (key {frame.get('key')}): {reason}"


def _check_body(
    task: TaskLine,
    config: TaskConfig,
    sizes: dict[str, tuple[int, int]],
    seen: set[str],
    art: ArtifactFiles,
) -> Iterator[str]:
    body = task.body
    uid = body.get("unique_id")
    where = f"task {uid}" if uid else f"{TASKS_FILE}, line {task.line}"
    if task.task_type != config.task_type:
        yield f"{where}: task_type {task.task_type!r}, config says {config.task_type!r}"
    if not uid:
        yield f"{where}: no unique_id"
    elif uid in seen:
        yield f"{where}: unique_id repeated"
    seen.add(str(uid))
    if not (body.get("attachment") or body.get("attachments")):
        yield f"{where}: no attachment"
    for key, value in config.params.items():
        if key not in PER_TASK_KEYS and body.get(key) != value:
            yield f"{where}: params.{key} differs from the config"
    pre = body.get(config.prelabel.prelabel_as)
    if pre is None:
        return
    check = get_task_type(config.task_type).load_check()
    yield from check(pre, where, config.limits, sizes.get(str(uid)), art)


def validate_output(out: Path, config: TaskConfig) -> list[str]:
    """Every violation in ``out`` (empty when it is all good)."""
    tasks_file(out)  # the directory is an output folder of convert
    sizes = {
        uid: (int(t["width"]), int(t["height"]))
        for uid, t in task_entries(read_report(out)).items()
        if t.get("width") and t.get("height")
    }
    art = ArtifactFiles(out / ARTIFACTS_DIR, config.prelabel.artifact_url)
    problems: list[str] = []
    seen: set[str] = set()

    def bad_line(exc: InputError) -> None:
        problems.append(f"{TASKS_FILE}, {exc.location}: {exc.reason}")

    for task in iter_tasks(out, on_error=bad_line):
        problems.extend(_check_body(task, config, sizes, seen, art))
    return problems
