"""Mask PNGs -> items with a lazy :class:`~prelabel.model.IndexRaster` each.

Kinds (``kind=``; detected from the file when not given):

* ``semantic``: pixel value = class value; 8-bit grey, palette (read as indices, never as
  colours) or 16-bit. The default for palette, grey and 16-bit files.
* ``color``: RGB pixels decoded through a colour map (``voc`` by default, ``camvid``, or a
  file: see :mod:`prelabel.converters.masks.colormaps`). Default for RGB files. The raster value
  is the class value + 1, since a colour map's value 0 may be a class (CamVid's Animal);
  the map's own void values (VOC background, CamVid Void, ``background_label``) become 0.
* ``instance1000``: 16-bit value = class * 1000 + instance (Cityscapes, MOTS); values under
  1000 are class ids without an instance.
* ``instance256``: 16-bit value = class * 256 + instance (KITTI).
* ``voc-object``: a class mask plus an instance-id PNG of the same stem in ``objects``
  (VOC ``SegmentationObject``); palette or VOC-coloured RGB.
* ``binary``: one binary PNG per instance, in one folder per image, named
  ``<label>[_<n>].png`` (label = class name, or class value looked up in ``classes``).
* ``panoptic`` (see :mod:`prelabel.converters.masks.panoptic`): COCO panoptic PNG, id = R + 256 G + 256^2 B, with ``panoptic`` = the JSON
  with ``segments_info`` and categories. Default for RGB files when ``panoptic`` is given.
* ``panoptic2ch``: panopticapi's 2-channel PNG, R = category id, G = instance id; category
  names and ``isthing`` from ``panoptic`` (any JSON with ``categories``).

Class value 0 of index masks is always unlabeled (a class file's line 0, e.g.
``_background_``, names the value but it is not a segment; fill it back with the writer's
``fill_unlabeled`` when a task needs every pixel); void values (``void``, 255 by default;
the class part for instance kinds) become 0 too. In a video, a semantic class is one track
across frames and an instance value is its own track. Nothing is decoded until an item's
``raster()`` is called; image sizes come from file headers (masks must match their images).

The reader is split by responsibility: :mod:`~prelabel.converters.masks.classes` (class
names), :mod:`~prelabel.converters.masks.pairing` (masks to images, manifests),
:mod:`~prelabel.converters.masks.decode` (headers and pixels),
:mod:`~prelabel.converters.masks.kinds` (one raster builder per kind) and
:mod:`~prelabel.converters.masks.items` (items, frames, keys); this module resolves the
options and keeps every name importable as ``prelabel.converters.masks.read``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prelabel.converters.masks.classes import load_classes
from prelabel.converters.masks.colormaps import load_colormap
from prelabel.converters.masks.items import _items
from prelabel.converters.masks.kinds import (
    Spec,
)
from prelabel.converters.masks.pairing import (
    build_pairing,
)
from prelabel.converters.masks.panoptic import load_panoptic
from prelabel.errors import InputError
from prelabel.model import Dataset

__all__ = [
    "KINDS",
    "read_masks",
]

KINDS = (
    "semantic",
    "color",
    "instance1000",
    "instance256",
    "voc-object",
    "binary",
    "panoptic",
    "panoptic2ch",
)


def _spec(
    kind: str | None,
    classes: str | None,
    colormap: str | None,
    tolerance: float | None,
    void: Sequence[int] | None,
    video: bool,
    fps: float | None,
    objects: str | None,
    panoptic: str | None,
) -> Spec:
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown mask kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if objects is not None and not Path(objects).is_dir():
        raise InputError("--objects is not a folder", path=objects)
    return Spec(
        kind=kind,
        classes=load_classes(classes) if classes else None,
        cmap=load_colormap(colormap) if colormap else None,
        tolerance=tolerance,
        void=tuple(int(v) for v in (void if void is not None else (255,))),
        video=video,
        fps=fps,
        objects=Path(objects) if objects else None,
        panoptic=load_panoptic(panoptic) if panoptic else None,
    )


def read_masks(
    paths: list[str],
    *,
    images: str | None = None,
    classes: str | None = None,
    kind: str | None = None,
    colormap: str | None = None,
    tolerance: float | None = None,
    void: Sequence[int] | None = None,
    manifest: str | None = None,
    video: bool = False,
    fps: float | None = None,
    objects: str | None = None,
    panoptic: str | None = None,
) -> Dataset:
    """Read mask PNGs (files or folders) into items with lazy rasters.

    Args:
        paths: mask files and/or folders (searched recursively for ``*.png``); with
            ``video`` each is a folder of per-frame masks; with ``kind="binary"`` a folder
            of per-image folders of binary PNGs.
        images: image folder; masks pair with images by stem (Cityscapes suffixes ignored),
            sizes are checked against the image headers and ``file_name`` is the image's.
        classes: class names, text (line N = value N) or JSON (values -> names).
        kind: one of :data:`KINDS`; detected from the file when None.
        colormap: ``voc``, ``camvid`` or a colour map file, for RGB colour masks.
        tolerance: match off-palette colours to the nearest within this RGB distance.
        void: values read as unlabeled (default ``[255]``; the class part for instances).
        manifest: CSV/JSON/text pairing masks with images (and attachment URLs).
        video: each folder of masks is one video item, frames in name order.
        fps: frames per second of such a video (frame timestamps; video attachments).
        objects: folder of VOC ``SegmentationObject`` instance-id PNGs (``voc-object``).
        panoptic: COCO panoptic JSON (``segments_info`` + categories) or, for
            ``panoptic2ch``, any JSON with ``categories``.

    Returns:
        A dataset whose items stream (consume once); each raster decodes on call.

    Raises:
        InputError: a bad file, option or value, naming the file (and pixel value).
    """
    spec = _spec(kind, classes, colormap, tolerance, void, video, fps, objects, panoptic)
    pairing = build_pairing(images, manifest)
    notes = []
    if spec.classes is not None and 0 in spec.classes.names and spec.cmap is None:
        notes.append(f"value 0 ({spec.classes.names[0]}) is read as unlabeled")
    dataset = Dataset(format="masks", items=[], labels=_labels(spec), notes=notes, kinds={"mask"})
    spec.dropped = dataset.dropped
    dataset.items = _items(paths, spec, pairing)
    return dataset


def _labels(spec: Spec) -> list[str]:
    names: dict[int, str] = {}
    void = set(spec.void)
    if spec.panoptic is not None:
        names = {k: n for k, (n, _) in spec.panoptic.categories.items()}
    elif spec.classes is not None:
        names = spec.classes.names
    if spec.cmap is not None:
        void |= set(spec.cmap.void)
        names = names or spec.cmap.names
    elif spec.classes is not None:
        void.add(0)
    return sorted({n for v, n in names.items() if v not in void})
