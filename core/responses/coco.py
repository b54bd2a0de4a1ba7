"""Final image labels → one COCO dataset JSON (``FINAL/coco.json``).

What maps to what (COCO has types for boxes and polygons only; the rest stay annotations
without keypoints and keep their geometry in an extra field):

=========  ===============================================================================
Scale      COCO annotation
=========  ===============================================================================
box        ``bbox = [left, top, width, height]``, ``area = width * height``,
           ``segmentation = []`` (``rotation`` kept when rotated)
polygon    ``segmentation = [[x1, y1, x2, y2, ...]]`` (one list per fragment of an
           undocumented ``multiple_polygon_vertices``), ``bbox`` of the vertices,
           ``area`` by the shoelace formula
point      ``point = [x, y]``, ``bbox = [x, y, 0, 0]``, ``area = 0``
line       ``line = [x1, y1, ...]``, ``bbox`` of the vertices, ``area = 0``
ellipse    ``ellipse = [x1, y1, ...]`` (the 4 extremal points), ``bbox`` of them, ``area = 0``
cuboid     ``cuboid = {vertices, edges, ...}`` as Scale sent it, ``bbox`` of the vertices
=========  ===============================================================================

Every annotation also carries ``scale_type``, ``scale_uuid`` and ``attributes`` (when any);
every image ``scale_unique_id`` and ``scale_task_id``. Coordinates are copied as Scale
returned them (pixels, top-left origin: COCO's own convention). Image ids are the item keys
when every key is an integer (COCO image ids round-trip), else 1..N; ``file_name`` is the
attachment's file name; categories are numbered 1..N in the order the task's
``objects_to_annotate`` list them, then labels met outside it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from prelabel.config.taxonomy import TaxonomyError, parse_labels
from prelabel.output.tasks import TaskLine
from prelabel.responses.local import FAMILIES, LocalDir

MAPPING = {
    "box": "bbox",
    "polygon": "segmentation polygon + bbox",
    "point": "bbox [x, y, 0, 0] + point",
    "line": "bbox + line",
    "ellipse": "bbox + ellipse",
    "cuboid": "bbox + cuboid",
}


def taxonomy(body: dict[str, Any]) -> list[str]:
    """Leaf labels in the order the body's geometries (or ``labels``) list them."""
    names: list[str] = []
    geometries = body.get("geometries") if isinstance(body.get("geometries"), dict) else {}
    lists = [
        g.get("objects_to_annotate") for g in (geometries or {}).values() if isinstance(g, dict)
    ]
    lists += [body.get("labels"), body.get("objects_to_annotate"), body.get("instance_labels")]
    for entries in lists:
        try:
            names += [n.choice for n in parse_labels(entries).leaf_nodes()] if entries else []
        except TaxonomyError:
            names += [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else []
    return list(dict.fromkeys(names))


class Categories:
    """Label → category id, taxonomy order first."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def extend(self, labels: list[str]) -> None:
        for label in labels:
            self.ids.setdefault(label, len(self.ids) + 1)

    def __call__(self, label: str) -> int:
        self.extend([label])
        return self.ids[label]

    def as_list(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n, "supercategory": ""} for n, i in self.ids.items()]


def points(a: dict[str, Any]) -> list[tuple[float, float]]:
    """The points an annotation's bbox is taken over."""
    if isinstance(a.get("vertices"), list):
        return [(float(v["x"]), float(v["y"])) for v in a["vertices"] if "x" in v and "y" in v]
    if "left" in a:
        x, y, w, h = (float(a.get(k, 0)) for k in ("left", "top", "width", "height"))
        return [(x, y), (x + w, y + h)]
    if "x" in a and "y" in a:
        return [(float(a["x"]), float(a["y"]))]
    return []


def bbox_of(pts: list[tuple[float, float]]) -> list[float]:
    if not pts:
        return [0, 0, 0, 0]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def flat(vertices: Any) -> list[Any]:
    return [c for v in vertices or [] if "x" in v and "y" in v for c in (v["x"], v["y"])]


def shoelace(ring: list[Any]) -> float:
    xs, ys = ring[0::2], ring[1::2]
    n = len(xs)
    return float(abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n)))) / 2


def geometry(a: dict[str, Any]) -> dict[str, Any]:
    """The COCO fields of one Scale annotation (see the module table)."""
    kind = a.get("type")
    out: dict[str, Any] = {"segmentation": [], "area": 0, "bbox": bbox_of(points(a))}
    if kind == "box":
        out["bbox"] = [a.get("left", 0), a.get("top", 0), a.get("width", 0), a.get("height", 0)]
        out["area"] = float(a.get("width", 0)) * float(a.get("height", 0))
        if a.get("rotation"):
            out["rotation"] = a["rotation"]
    elif kind == "polygon":
        rings = [flat(a.get("vertices"))]
        rings += [flat(f.get("vertices")) for f in a.get("multiple_polygon_vertices") or []]
        out["segmentation"] = [r for r in rings if r]
        out["area"] = sum(shoelace(r) for r in out["segmentation"])
    elif kind == "point":
        out["point"] = [a.get("x"), a.get("y")]
    elif kind in ("line", "ellipse"):
        out[str(kind)] = flat(a.get("vertices"))
    elif kind == "cuboid":
        keep = {k: v for k, v in a.items() if k not in ("type", "label", "uuid", "attributes")}
        out["cuboid"] = keep
    return out


def image_id_map(keys: list[str]) -> dict[str, int]:
    """Item keys as COCO image ids when all are integers (and distinct), else 1..N."""
    if keys and all(k.isdigit() for k in keys) and len(set(keys)) == len(keys):
        return {k: int(k) for k in keys}
    return {k: n for n, k in enumerate(keys, 1)}


def file_name(task: TaskLine, key: str) -> str:
    url = task.body.get("attachment")
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1] if isinstance(url, str) else ""
    return name or key


def coco_dataset(final: LocalDir) -> dict[str, Any] | None:
    """The COCO dataset of every image task in ``final`` (None when there is none)."""
    tasks = [t for t in final.tasks if FAMILIES.get(t.task_type) == "image"]
    if not tasks:
        return None
    keys = [str(final.info.get(t.unique_id, {}).get("key") or t.unique_id) for t in tasks]
    ids = image_id_map(keys)
    cats = Categories()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for task, key in zip(tasks, keys, strict=True):
        cats.extend(taxonomy(task.body))
        images.append(_image(task, key, ids[key], final.info.get(task.unique_id, {})))
        for a in final.content(task).annotations:
            ann = {"id": len(annotations) + 1, "image_id": ids[key], **_annotation(a, cats)}
            annotations.append(ann)
    return {"images": images, "annotations": annotations, "categories": cats.as_list()}


def _image(task: TaskLine, key: str, image_id: int, info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": image_id, "file_name": file_name(task, key)}
    for k in ("width", "height"):
        if info.get(k) is not None:
            out[k] = info[k]
    out["scale_unique_id"] = task.unique_id
    if info.get("task_id"):
        out["scale_task_id"] = info["task_id"]
    return out


def _annotation(a: dict[str, Any], cats: Categories) -> dict[str, Any]:
    out: dict[str, Any] = {"category_id": cats(str(a.get("label", ""))), "iscrowd": 0}
    out.update(geometry(a))
    out["scale_type"] = a.get("type")
    out["scale_uuid"] = a.get("uuid")
    if a.get("attributes"):
        out["attributes"] = a["attributes"]
    return out
