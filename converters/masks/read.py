"""Mask PNGs -> items with a lazy :class:`~prelabel.model.IndexRaster` each.

Kinds (``kind``; detected from the file when not given):

* ``semantic``: pixel value = class value; 8-bit grey, palette (read as indices, never as
  colours) or 16-bit. The default for palette, grey and 16-bit files.
* ``color``: RGB pixels decoded through a colour map (``colormap``: ``voc``,
  ``cityscapes``, ``camvid``, ``ade20k``, or a file: see
  :mod:`prelabel.converters.masks.colormaps`; required, there is no default). Default for
  RGB files. The raster value is the class value + 1, since a colour map's value 0 may be a
  class (CamVid's Animal, VOC's background); the map's own void values (VOC's (224, 224,
  192), CamVid's Void, Cityscapes' void category, ``background_label``) become 0.
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

Class values: a value whose class name (``classes``, or the colour map's names) the task
has is that label, class 0 included (``background``, ``_background_``); void values
(``void``, 255 by default, and the colour map's void values; the class part for instance
kinds) are unlabeled and never filled; a value 0 nobody names is unlabeled. Any other value
is a segment whose label the pipeline checks like every label (an unmatched label is an
error, or dropped and reported). In a video, a semantic class is one track across frames
and an instance value is its own track. Nothing is decoded until an item's ``raster()`` is
called; image sizes come from file headers (masks must match their images).

The reader is split by responsibility: :mod:`~prelabel.converters.masks.classes` (class
names), :mod:`~prelabel.converters.masks.pairing` (masks to images, manifests),
:mod:`~prelabel.converters.masks.decode` (headers and pixels),
:mod:`~prelabel.converters.masks.kinds` (one raster builder per kind) and
:mod:`~prelabel.converters.masks.items` (items, frames, keys); this module declares the
options (:class:`MaskOptions`) and resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from prelabel.config.declare import option
from prelabel.converters.masks.classes import load_classes
from prelabel.converters.masks.colormaps import load_colormap
from prelabel.converters.masks.items import mask_items
from prelabel.converters.masks.kinds import Spec
from prelabel.converters.masks.pairing import build_pairing
from prelabel.converters.masks.panoptic import load_panoptic
from prelabel.converters.options import fps, images
from prelabel.errors import InputError
from prelabel.model import Dataset

MaskKind = Literal[
    "semantic",
    "color",
    "instance1000",
    "instance256",
    "voc-object",
    "binary",
    "panoptic",
    "panoptic2ch",
]
KINDS: tuple[str, ...] = get_args(MaskKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskOptions:
    """Options of the mask reader (``prelabel convert masks``)."""

    images: str | None = images(
        "Image folder: pair masks by stem; sizes and file_name come from the images."
    )
    mask_suffix: str | None = option(
        None, help="Strip this from mask stems before pairing (114_pred.png: _pred)."
    )
    image_suffix: str | None = option(
        None, help="Strip this from image stems before pairing (114_image.jpg: _image)."
    )
    classes: str | None = option(
        None, path="file", help="Class names: text (line N = value N) or JSON {value: name}."
    )
    kind: MaskKind | None = option(
        None,
        help="Mask kind; detected from the file when omitted (palette/grey/16-bit: semantic, "
        "RGB: color).",
    )
    colormap: str | None = option(
        None,
        help="Colour map for RGB masks (required for them): voc, cityscapes, camvid, ade20k, "
        "or a dataset_meta.json/JSON/text file; also names index values.",
    )
    tolerance: float | None = option(
        None,
        low=0,
        help="Match off-palette colours to the nearest within this RGB distance (counted in "
        "the report).",
    )
    void: tuple[int, ...] = option(
        (255,),
        help="Value read as unlabeled, never filled (repeatable, replaces the default 255: "
        "--void 0 --void 255).",
    )
    manifest: str | None = option(
        None,
        path="file",
        help="Mask/image pairs: CSV (mask,image,attachment), JSON, or 'IMAGE MASK' lines; "
        "without MASKS, the masks it lists.",
    )
    video: bool = option(False, help="Each MASKS folder is one video; files are frames.")
    fps: float | None = fps("Frames per second of --video masks (needed for video attachments).")
    objects: str | None = option(
        None,
        path="dir",
        help="Folder of VOC SegmentationObject instance PNGs beside the class masks.",
    )
    panoptic: str | None = option(
        None,
        path="file",
        help="COCO panoptic JSON (segments_info + categories) for panoptic PNGs.",
    )


def _spec(opts: MaskOptions) -> Spec:
    if opts.kind is not None and opts.kind not in KINDS:
        raise InputError(f"unknown mask kind {opts.kind!r}; choose one of: {', '.join(KINDS)}")
    if opts.objects is not None and not Path(opts.objects).is_dir():
        raise InputError("--objects is not a folder", path=opts.objects)
    return Spec(
        kind=opts.kind,
        classes=load_classes(opts.classes) if opts.classes else None,
        cmap=load_colormap(opts.colormap) if opts.colormap else None,
        tolerance=opts.tolerance,
        void=tuple(int(v) for v in opts.void),
        video=opts.video,
        fps=opts.fps,
        objects=Path(opts.objects) if opts.objects else None,
        panoptic=load_panoptic(opts.panoptic) if opts.panoptic else None,
    )


def read_masks(paths: list[str], options: MaskOptions | None = None) -> Dataset:
    """Read mask PNGs (files or folders) into items with lazy rasters.

    Args:
        paths: mask files and/or folders (searched recursively for ``*.png``); with
            ``video`` each is a folder of per-frame masks; with ``kind="binary"`` a folder
            of per-image folders of binary PNGs; empty with a ``manifest``: the masks it
            lists.
        options: the reader's options (:class:`MaskOptions`); defaults if None. ``images``
            pairs masks with images by stem (``mask_suffix`` / ``image_suffix`` and
            Cityscapes suffixes stripped), checks sizes against the image headers and takes
            ``file_name`` from the image; ``classes``
            names values (text: line N = value N; JSON: values -> names); ``kind`` is one
            of :data:`KINDS`, detected from the file when None; ``colormap`` (a built-in
            name or a file) and ``tolerance`` decode RGB colour masks; ``void`` values
            read as unlabeled (the class part for instances); ``manifest`` pairs masks with
            images (and attachment URLs); ``video`` reads each folder as one video item,
            frames in name order, at ``fps``; ``objects`` holds VOC ``SegmentationObject``
            PNGs (``voc-object``); ``panoptic`` is the COCO panoptic JSON (or, for
            ``panoptic2ch``, any JSON with ``categories``).

    Returns:
        A dataset whose items stream (consume once); each raster decodes on call.

    Raises:
        InputError: a bad file, option or value, naming the file (and pixel value); a
            folder without PNG masks; no ``paths`` and no ``manifest``.

    Example:
        >>> read_masks(["SegmentationClass/"], MaskOptions(classes="names.txt"))  # doctest: +SKIP
    """
    opts = options or MaskOptions()
    if not paths and opts.manifest is None:
        raise InputError("no masks: give mask files or folders, or --manifest")
    if not paths and (opts.video or opts.kind == "binary"):
        raise InputError("--video and --kind binary read folders: give MASKS")
    spec = _spec(opts)
    pairing = build_pairing(
        opts.images, opts.manifest, mask_suffix=opts.mask_suffix, image_suffix=opts.image_suffix
    )
    return Dataset(
        format="masks", items=mask_items(paths, spec, pairing), labels=_labels(spec), kinds={"mask"}
    )


def _labels(spec: Spec) -> list[str]:
    names: dict[int, str] = {}
    if spec.panoptic is not None:
        names = {k: n for k, (n, _) in spec.panoptic.categories.items()}
    elif spec.classes is not None:
        names = spec.classes.names
    if spec.cmap is not None:
        names = names or spec.cmap.names
    void = set(spec.void_values())
    return sorted({n for v, n in names.items() if v not in void})
