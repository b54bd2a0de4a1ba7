"""Final segmentations → mask PNGs and a COCO panoptic-style JSON.

Per task (file stem = the item key):

* ``masks/<key>.png`` — class index per pixel (8-bit; 16-bit past 255 classes), 0 =
  unlabeled. Class ids follow the task's ``labels`` (leaf choices in order, then the legacy
  ``instance_labels`` list, then labels met outside them), 1-based; ``masks/classes.json``
  maps them back (``{"1": "road", ...}``, readable by ``prelabel convert masks --classes``).
* ``instances/<key>.png`` — 16-bit; each pixel of an instance label holds its segment id
  (the labelMapping ``index``), every other pixel 0.
* ``panoptic/<key>.png`` — COCO panoptic PNG, segment id = R + 256 G + 65536 B, every
  segment (instance and plain labels), 0 = unlabeled.
* ``panoptic.json`` — ``images``, ``annotations`` (``segments_info``: ``id`` = the
  segment id of both PNGs, ``category_id``, ``area``, ``bbox``, ``iscrowd`` 0, ``isthing``)
  and ``categories`` (``isthing`` 1 for instance labels).

Index values the labelMapping does not name become 0 and are noted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.output.layout import safe_name
from prelabel.output.tasks import TaskLine
from prelabel.responses.coco import Categories, file_name, taxonomy
from prelabel.responses.local import FAMILIES, LocalDir, SegmentEntry

Array = npt.NDArray[Any]


def encode_png(array: Array) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", array)
    if not ok:  # pragma: no cover - uint8/uint16 arrays always encode
        raise ValueError("PNG encoding failed")
    return bytes(buf.tobytes())


def class_raster(index: Array, entries: list[SegmentEntry], cats: Categories) -> Array:
    """Class id per pixel (lookup table over the index values)."""
    table = np.zeros(int(index.max(initial=0)) + 1, dtype=np.int64)
    for e in entries:
        if e.index < len(table):
            table[e.index] = cats(e.label)
    classes = table[index]
    return classes.astype(np.uint8 if len(cats.ids) <= 255 else np.uint16)


def panoptic_rgb(index: Array) -> Array:
    """COCO panoptic encoding, as BGR for OpenCV (R = least significant byte)."""
    out = np.empty((*index.shape, 3), dtype=np.uint8)
    out[..., 2] = index & 255
    out[..., 1] = (index >> 8) & 255
    out[..., 0] = (index >> 16) & 255
    return out


def segments_info(
    index: Array, entries: list[SegmentEntry], cats: Categories
) -> list[dict[str, Any]]:
    areas = np.bincount(index.ravel())
    out = []
    for e in entries:
        area = int(areas[e.index]) if e.index < len(areas) else 0
        if not area:
            continue
        ys, xs = np.nonzero(index == e.index)
        bbox = [
            int(xs.min()),
            int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        ]
        out.append({"id": e.index, "category_id": cats(e.label), "area": area, "bbox": bbox,
                    "iscrowd": 0, "isthing": int(e.instance)})  # fmt: skip
    return out


def write_masks(final: LocalDir, dest: Path) -> dict[str, Any] | None:
    """Write the mask PNGs and panoptic.json of every segment task; what was written."""
    tasks = [t for t in final.tasks if FAMILIES.get(t.task_type) == "segment"]
    if not tasks:
        return None
    cats, things = Categories(), set()
    images, annotations, notes = [], [], []
    for n, task in enumerate(tasks, 1):
        cats.extend(taxonomy(task.body))
        content = final.content(task)
        if content.index is None:
            notes.append(f"{task.unique_id}: no index PNG in the response")
            continue
        key = safe_name(str(final.info.get(task.unique_id, {}).get("key") or task.unique_id))
        index = _known(content.index, content.segments, task, notes)
        things |= {e.label for e in content.segments if e.instance}
        _write_pngs(dest, key, index, content.segments, cats)
        images.append(_image(task, key, n, index))
        annotations.append({"image_id": n, "file_name": f"{key}.png",
                            "segments_info": segments_info(index, content.segments, cats)})  # fmt: skip
    categories = [{**c, "isthing": int(c["name"] in things)} for c in cats.as_list()]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    (dest / "panoptic.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    (dest / "masks").mkdir(parents=True, exist_ok=True)
    classes = {str(i): name for name, i in cats.ids.items()}
    (dest / "masks" / "classes.json").write_bytes(orjson.dumps(classes, option=orjson.OPT_INDENT_2))
    return {"masks": len(images), "classes": len(cats.ids), "notes": notes}


def _known(index: Array, entries: list[SegmentEntry], task: TaskLine, notes: list[str]) -> Array:
    """The index array with values the labelMapping does not name set to 0 (noted)."""
    named = np.zeros(int(index.max(initial=0)) + 1, dtype=bool)
    named[0] = True
    named[[e.index for e in entries if e.index < len(named)]] = True
    unknown = ~named[index]
    if unknown.any():
        values = sorted(set(index[unknown].tolist()))[:10]
        notes.append(f"{task.unique_id}: index values {values} are not in labelMapping: unlabeled")
        index = np.where(unknown, 0, index)
    return index


def _write_pngs(
    dest: Path, key: str, index: Array, entries: list[SegmentEntry], cats: Categories
) -> None:
    instance = np.zeros(int(index.max(initial=0)) + 1, dtype=bool)
    instance[[e.index for e in entries if e.instance and e.index < len(instance)]] = True
    files = {
        "masks": class_raster(index, entries, cats),
        "instances": np.where(instance[index], index, 0).astype(np.uint16),
        "panoptic": panoptic_rgb(index),
    }
    for folder, array in files.items():
        (dest / folder).mkdir(parents=True, exist_ok=True)
        (dest / folder / f"{key}.png").write_bytes(encode_png(array))


def _image(task: TaskLine, key: str, image_id: int, index: Array) -> dict[str, Any]:
    return {"id": image_id, "file_name": file_name(task, key), "width": int(index.shape[1]),
            "height": int(index.shape[0]), "scale_unique_id": task.unique_id}  # fmt: skip
