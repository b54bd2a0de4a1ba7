"""Mask PNGs -> items with a lazy :class:`~prelabel.model.IndexRaster` each.

Kinds (``kind=``; detected from the file when not given):

* ``semantic``: pixel value = class value; 8-bit grey, palette (read as indices, never as
  colours) or 16-bit. The default for palette, grey and 16-bit files.
* ``color``: RGB pixels decoded through a colour map (``voc`` by default, ``camvid``, or a
  file: see :mod:`prelabel.converters.colormaps`). Default for RGB files. The raster value
  is the class value + 1, since a colour map's value 0 may be a class (CamVid's Animal);
  the map's own void values (VOC background, CamVid Void, ``background_label``) become 0.
* ``instance1000``: 16-bit value = class * 1000 + instance (Cityscapes, MOTS); values under
  1000 are class ids without an instance.
* ``instance256``: 16-bit value = class * 256 + instance (KITTI).
* ``voc-object``: a class mask plus an instance-id PNG of the same stem in ``objects``
  (VOC ``SegmentationObject``); palette or VOC-coloured RGB.
* ``binary``: one binary PNG per instance, in one folder per image, named
  ``<label>[_<n>].png`` (label = class name, or class value looked up in ``classes``).
* ``panoptic`` (see :mod:`prelabel.converters.panoptic`): COCO panoptic PNG, id = R + 256 G + 256^2 B, with ``panoptic`` = the JSON
  with ``segments_info`` and categories. Default for RGB files when ``panoptic`` is given.
* ``panoptic2ch``: panopticapi's 2-channel PNG, R = category id, G = instance id; category
  names and ``isthing`` from ``panoptic`` (any JSON with ``categories``).

Class value 0 of index masks is always unlabeled (a class file's line 0, e.g.
``_background_``, names the value but it is not a segment; fill it back with the writer's
``fill_unlabeled`` when a task needs every pixel); void values (``void``, 255 by default;
the class part for instance kinds) become 0 too. In a video, a semantic class is one track
across frames and an instance value is its own track. Nothing is decoded until an item's
``raster()`` is called; image sizes come from file headers (masks must match their images).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import orjson
from PIL import Image

from prelabel.errors import InputError
from prelabel.model import Dataset, Dropped, Frame, IndexRaster, Item, Segment, SourceRef
from prelabel.raster import CountedRaster, histogram, lookup
from prelabel.timing import frame_timestamp

from .colormaps import ColorMap, decode_colors, load_colormap, voc_colormap
from .panoptic import Panoptic, load_panoptic, panoptic_raster, two_channel_raster

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
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
# file-name suffixes that differ between a mask and its image (Cityscapes)
PAIR_SUFFIXES = (
    "_gtFine_instanceIds",
    "_gtFine_labelIds",
    "_gtFine_color",
    "_gtCoarse_instanceIds",
    "_gtCoarse_labelIds",
    "_leftImg8bit",
)
Array = npt.NDArray[Any]


# --- class names -------------------------------------------------------------------------


@dataclass(slots=True)
class ClassNames:
    """Value -> class name, and how to explain a missing value."""

    names: dict[int, str]
    where: str  # "classes.txt has 21 lines"

    def name(self, value: int, path: Path, what: str = "value") -> str:
        try:
            return self.names[value]
        except KeyError:
            raise InputError(
                f"unknown {what} {value} in {path.name}: {self.where}",
                path=path,
                location=f"pixel value {value}",
            ) from None


def load_classes(path: str) -> ClassNames:
    """Class names from a text file (line N = value N) or JSON (values -> names).

    JSON may be ``{"0": "bg", ...}``, a list of names, a Datumaro ``dataset_meta.json``
    (``label_map``) or anything with COCO ``categories`` (``id``, ``name``).

    Raises:
        InputError: the file is missing or holds no names.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such classes file", path=path)
    if p.suffix.lower() != ".json":
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            raise InputError("classes file is empty", path=path)
        return ClassNames(dict(enumerate(lines)), f"{p.name} has {len(lines)} lines")
    try:
        names = _json_names(orjson.loads(p.read_bytes()))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a classes file: {exc}", path=path) from None
    return ClassNames(names, f"{p.name} names values {_ranges(names)}")


def _json_names(data: Any) -> dict[int, str]:
    if isinstance(data, dict) and "categories" in data:
        return {int(c["id"]): str(c["name"]) for c in data["categories"]}
    if isinstance(data, dict) and "label_map" in data:
        data = data["label_map"]
    if isinstance(data, list):
        return {i: str(n) for i, n in enumerate(data)}
    if isinstance(data, dict) and data:
        return {int(k): str(v) for k, v in data.items()}
    raise ValueError("expected names by value")


def _ranges(names: dict[int, str]) -> str:
    keys = sorted(names)
    if keys == list(range(keys[0], keys[-1] + 1)):
        return f"{keys[0]}..{keys[-1]}"
    shown = ", ".join(map(str, keys[:12]))
    return shown + (", ..." if len(keys) > 12 else "")


# --- pairing -------------------------------------------------------------------------------


def pair_key(stem: str) -> str:
    """The stem a mask and its image share (Cityscapes suffixes removed)."""
    for suffix in PAIR_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


@dataclass(slots=True)
class Pairing:
    """Mask -> image path (and attachment) from an image folder and/or a manifest."""

    folder: Path | None = None
    by_stem: dict[str, Path] = field(default_factory=dict)
    manifest: dict[str, tuple[Path | None, str | None]] = field(default_factory=dict)

    def scanned(self, path: Path) -> bool:
        """Whether a PNG found in a MASKS folder is a mask to read: with a manifest, only
        the masks it lists (the folder may hold the images too)."""
        return not self.manifest or str(path.resolve()) in self.manifest

    def lookup(self, mask: Path) -> tuple[Path | None, str | None]:
        for key in (str(mask.resolve()), mask.name, mask.stem):
            if key in self.manifest:
                return self.manifest[key]
        if self.folder is None:
            return None, None
        image = self.by_stem.get(pair_key(mask.stem))
        if image is None:
            raise InputError(
                f"no image with stem {pair_key(mask.stem)!r} in {self.folder}", path=mask
            )
        return image, None


def build_pairing(images: str | None, manifest: str | None) -> Pairing:
    """Index an image folder by stem and read a manifest (CSV, JSON or CamVid-style text)."""
    pairing = Pairing()
    if images is not None:
        folder = Path(images)
        if not folder.is_dir():
            raise InputError("--images is not a folder", path=images)
        pairing.folder = folder
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                pairing.by_stem.setdefault(pair_key(p.stem), p)
    if manifest is not None:
        pairing.manifest = read_manifest(Path(manifest))
    return pairing


def read_manifest(path: Path) -> dict[str, tuple[Path | None, str | None]]:
    """Mask -> (image, attachment) from a manifest.

    CSV with a header naming ``mask`` and ``image`` (optional ``attachment``/``url``);
    JSON ``{mask: image}`` or ``[{"mask", "image", "attachment"?}]``; or text lines
    ``IMAGE MASK`` (CamVid's train.txt, paths relative to the manifest's folder even when
    they start with ``/``).

    Raises:
        InputError: the manifest cannot be read; names the line or entry.
    """
    if not path.is_file():
        raise InputError("no such manifest file", path=path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix == ".json":
        rows = _json_rows(path)
    else:
        rows = _text_rows(path)
    out: dict[str, tuple[Path | None, str | None]] = {}
    for mask, image, attachment in rows:
        mask_path = _rel(path.parent, mask)
        image_path = _rel(path.parent, image) if image else None
        out[str(mask_path.resolve())] = (image_path, attachment)
        out.setdefault(mask_path.name, (image_path, attachment))
    return out


def _rel(base: Path, name: str) -> Path:
    p = Path(name)
    if p.is_absolute() and p.exists():
        return p
    return base / name.lstrip("/\\")


Row = tuple[str, str | None, str | None]


def _csv_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "mask" not in reader.fieldnames:
            raise InputError("CSV manifest needs a header with a 'mask' column", path=path)
        rows: list[Row] = []
        for n, rec in enumerate(reader, 2):
            if not rec.get("mask"):
                raise InputError("empty 'mask' column", path=path, location=f"line {n}")
            url = rec.get("attachment") or rec.get("url") or None
            rows.append((rec["mask"], rec.get("image") or None, url))
        return rows


def _json_rows(path: Path) -> list[Row]:
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None
    if isinstance(data, dict):
        return [(str(k), str(v), None) for k, v in data.items()]
    rows: list[Row] = []
    for i, rec in enumerate(data if isinstance(data, list) else []):
        if not isinstance(rec, dict) or not rec.get("mask"):
            raise InputError("entry has no 'mask'", path=path, location=f"[{i}]")
        url = rec.get("attachment") or rec.get("url")
        rows.append((str(rec["mask"]), rec.get("image"), url))
    return rows


def _text_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError(
                f"expected 'IMAGE MASK', got {line.strip()!r}", path=path, location=f"line {n}"
            )
        rows.append((parts[1], parts[0], None))
    return rows


# --- decoding ------------------------------------------------------------------------------


def header(path: Path) -> tuple[str, int, int]:
    """(PIL mode, width, height) from the file header, without decoding pixels."""
    try:
        with Image.open(path) as im:
            return im.mode, im.size[0], im.size[1]
    except (OSError, SyntaxError) as exc:
        raise InputError(f"not a readable image: {exc}", path=path) from None


def decode(path: Path) -> Array:
    """Pixels as stored: palette indices (not colours), grey 8/16-bit, or RGB (H, W, 3)."""
    mode = header(path)[0]
    if mode in ("L", "I;16", "I;16B", "RGB", "RGBA"):
        data = np.fromfile(path, dtype=np.uint8)
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if arr is not None:
            if arr.ndim == 3:
                arr = np.ascontiguousarray(arr[..., 2::-1])
            return arr
    with Image.open(path) as im:
        if im.mode in ("1", "LA", "PA", "I"):
            im = im.convert("L" if im.mode != "I" else "I")
        if im.mode == "RGBA":
            im = im.convert("RGB")
        return np.array(im)


def _index(path: Path, arr: Array) -> Array:
    """A single-channel index array; an RGB index mask is read through the VOC palette."""
    if arr.ndim == 2:
        return arr
    return decode_colors(arr, voc_colormap(), tolerance=None, path=str(path)).values


def present(values: Array, counts: Array | None = None) -> list[int]:
    """The distinct non-zero values of an integer array (``counts``: its histogram)."""
    if counts is None and values.dtype.itemsize <= 2:
        counts = histogram(values)
    if counts is not None:
        return [int(v) for v in np.flatnonzero(counts) if v]
    return [int(v) for v in np.unique(values) if v]


def zero_values(values: Array, drop: Sequence[int]) -> Array:
    """``values`` with every value in ``drop`` set to 0 (in place when writable)."""
    if drop and values.dtype == np.uint8:
        table = np.arange(256, dtype=np.uint8)
        table[[v for v in drop if 0 <= v < 256]] = 0
        return lookup(values, table)
    if drop:
        mask = np.isin(values, list(drop))
        if mask.any():
            if not values.flags.writeable:
                values = values.copy()
            values[mask] = 0
    return values


# --- options -------------------------------------------------------------------------------


@dataclass(slots=True)
class Spec:
    """The reader's resolved options."""

    kind: str | None
    classes: ClassNames | None
    cmap: ColorMap | None
    tolerance: float | None
    void: tuple[int, ...]
    video: bool
    fps: float | None = None
    objects: Path | None = None
    panoptic: Panoptic | None = None
    # the dataset's dropped list (panoptic segments listed but without pixels)
    dropped: list[Dropped] = field(default_factory=list)

    def names(self, path: Path) -> ClassNames:
        if self.classes is not None:
            return self.classes
        if self.cmap is not None:
            return ClassNames(
                self.cmap.names, f"colour map {self.cmap.name} names {len(self.cmap.names)} values"
            )
        raise InputError("no class names: give --classes FILE (line N = value N)", path=path)


# --- rasters per kind ----------------------------------------------------------------------


def detect_kind(mode: str, spec: Spec) -> str:
    """The kind a mask file says it is (``spec.kind`` wins)."""
    if spec.kind is not None:
        return spec.kind
    if spec.objects is not None:
        return "voc-object"
    if mode in ("RGB", "RGBA"):
        return "panoptic" if spec.panoptic is not None else "color"
    return "semantic"


def _semantic_segments(
    values: Array,
    path: Path,
    names: ClassNames,
    hint: str = "",
    counts: Array | None = None,
    video: bool = False,
) -> dict[int, Segment]:
    """One segment per class value; in a video each class is one track across frames."""
    out: dict[int, Segment] = {}
    for v in present(values, counts):
        if v not in names.names:
            where = names.where + hint
            raise InputError(
                f"unknown value {v} in {path.name}: {where}", path=path, location=f"pixel value {v}"
            )
        track = f"class {v}" if video else None
        out[v] = Segment(names.names[v], SourceRef(str(path), f"pixel value {v}"), track_id=track)
    return out


def raster_semantic(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """Class values straight from the file (palette indices, grey 8/16-bit)."""
    values = _index(path, decode(path))
    counts = histogram(values) if values.dtype.itemsize <= 2 else None
    void = [v for v in spec.void if counts is None or (0 <= v < len(counts) and counts[v])]
    values = zero_values(values, void)
    if counts is not None:
        counts[[v for v in void if 0 <= v < len(counts)]] = 0
    hint = ""
    if values.dtype == np.uint16:
        hint = " (16-bit instance masks need --kind instance1000 or instance256)"
    names = spec.names(path)
    segments = _semantic_segments(values, path, names, hint, counts, spec.video)
    return CountedRaster(values, segments, counts)


def raster_color(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """RGB through the colour map; raster value = class value + 1 (a colour map's value 0
    may be a class, e.g. CamVid's Animal); the map's void values and ``void`` become 0.
    Nearest-colour matches are counted in ``notes``."""
    arr = decode(path)
    cmap = spec.cmap or voc_colormap()
    if arr.ndim == 2:
        return raster_semantic(path, spec, notes)
    decoded = decode_colors(arr, cmap, tolerance=spec.tolerance, path=str(path))
    if decoded.nearest:
        notes.append(
            f"{path.name}: {decoded.nearest} px matched to the nearest colour of "
            f"{cmap.name} within tolerance {spec.tolerance:g}"
        )
    values = decoded.values + 1
    values = zero_values(values, [v + 1 for v in spec.void + cmap.void])
    names = spec.classes or ClassNames(cmap.names, f"colour map {cmap.name} has no name for it")
    colors = {v: c for c, v in reversed(list(cmap.colors.items()))}
    segments: dict[int, Segment] = {}
    for w in present(values):
        v = w - 1
        where = f"colour {colors.get(v)} (class value {v})"
        track = f"class {v}" if spec.video else None
        segments[w] = Segment(names.name(v, path), SourceRef(str(path), where), track_id=track)
    return IndexRaster(values, segments)


def raster_instances(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """16-bit class * base + instance (base 1000 or 256); void applies to the class part."""
    base = 256 if spec.kind == "instance256" else 1000
    values = _index(path, decode(path)).astype(np.int32)
    names = spec.names(path)
    segments: dict[int, Segment] = {}
    void: list[int] = []
    for v in present(values):
        cls, inst = divmod(v, base) if v >= base or base == 256 else (v, 0)
        if cls in spec.void or cls == 0:
            void.append(v)
            continue
        label = names.name(cls, path, "class")
        segments[v] = Segment(
            label,
            SourceRef(str(path), f"pixel value {v} (class {cls}, instance {inst})"),
            instance=inst > 0,
            track_id=(str(v) if inst > 0 else f"class {cls}") if spec.video else None,
        )
    return IndexRaster(zero_values(values, void), segments)


def raster_voc_object(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """Class mask + instance-id mask of the same stem; value = object * 256 + class."""
    assert spec.objects is not None
    obj_path = _object_mask(path, spec.objects)
    cls = _index(path, decode(path)).astype(np.int32)
    obj = _index(obj_path, decode(obj_path)).astype(np.int32)
    if cls.shape != obj.shape:
        raise InputError(
            f"object mask {obj_path} is {obj.shape[1]}x{obj.shape[0]} but the class mask is "
            f"{cls.shape[1]}x{cls.shape[0]}",
            path=path,
        )
    void = np.isin(cls, list(spec.void))
    disagree = int((void & (obj == 0)).sum())
    if disagree:
        notes.append(
            f"{path.name}: {disagree} px are void in the class mask but 0 in the object mask; "
            "read as unlabeled"
        )
    cls[void] = 0
    obj[np.isin(obj, list(spec.void)) | void] = 0
    values = np.where((obj > 0) & (cls > 0), obj * 256 + cls, cls)
    voc = voc_colormap()  # VOC object masks default to the VOC class names
    names = spec.classes or ClassNames(voc.names, "the VOC class names stop at 20 (give --classes)")
    segments: dict[int, Segment] = {}
    for v in present(values):
        o, c = divmod(v, 256)
        label = names.name(c, path, "class")
        where = (
            SourceRef(str(obj_path), f"pixel value {o}")
            if o
            else SourceRef(str(path), f"pixel value {c}")
        )
        segments[v] = Segment(
            label, where, instance=o > 0, track_id=str(o) if spec.video and o else None
        )
    return IndexRaster(values, segments)


def _object_mask(path: Path, folder: Path) -> Path:
    for candidate in (folder / path.name, folder / f"{path.stem}.png"):
        if candidate.is_file():
            return candidate
    raise InputError(f"no object mask {path.stem}.png in {folder}", path=path)


def raster_panoptic(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """COCO panoptic PNG: id = R + 256 G + 256^2 B, segments from ``segments_info``."""
    assert spec.panoptic is not None
    return panoptic_raster(path, decode(path), spec.panoptic, spec.dropped)


def raster_panoptic2ch(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """panopticapi 2-channel PNG: R = category id (0 = void), G = instance id."""
    assert spec.panoptic is not None
    return two_channel_raster(path, decode(path), spec.panoptic, spec.void)


def raster_binary(files: list[Path], spec: Spec, notes: list[str]) -> IndexRaster:
    """One binary PNG per instance; value = position in ``files`` + 1; earlier files win."""
    values: Array | None = None
    segments: dict[int, Segment] = {}
    for i, f in enumerate(files, 1):
        arr = _index(f, decode(f))
        if values is None:
            values = np.zeros(arr.shape, dtype=np.uint16)
        if arr.shape != values.shape:
            raise InputError(
                f"{arr.shape[1]}x{arr.shape[0]} but {files[0].name} is "
                f"{values.shape[1]}x{values.shape[0]}",
                path=f,
            )
        values[(arr > 0) & (values == 0)] = i
        segments[i] = Segment(
            _binary_label(f, spec), SourceRef(str(f), "pixels > 0"), instance=True
        )
    assert values is not None
    occurring = set(present(values))
    for i, f in enumerate(files, 1):
        if i not in occurring:
            del segments[i]
            notes.append(f"{f.name}: no pixels left (empty, or covered by earlier files)")
    return IndexRaster(values, segments)


def _binary_label(path: Path, spec: Spec) -> str:
    match = re.fullmatch(r"(.+?)(?:[_-]\d+)?", path.stem)
    label = match.group(1) if match else path.stem
    if label.isdigit():
        return spec.names(path).name(int(label), path, "class")
    return label


RASTERS: dict[str, Callable[[Path, Spec, list[str]], IndexRaster]] = {
    "semantic": raster_semantic,
    "color": raster_color,
    "instance1000": raster_instances,
    "instance256": raster_instances,
    "voc-object": raster_voc_object,
    "panoptic": raster_panoptic,
    "panoptic2ch": raster_panoptic2ch,
}


# --- items ---------------------------------------------------------------------------------


def _load(path: Path, kind: str, spec: Spec, notes: list[str]) -> IndexRaster:
    return RASTERS[kind](path, Spec(**{**_spec_dict(spec), "kind": kind}), notes)


def _spec_dict(spec: Spec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in Spec.__dataclass_fields__}


def _check_size(mask: Path, size: tuple[int, int], other: tuple[int, int], what: str) -> None:
    if size != other:
        raise InputError(
            f"mask is {size[0]}x{size[1]} but {what} is {other[0]}x{other[1]} (width x height)",
            path=mask,
        )


def _fields(mask: Path, spec: Spec, pairing: Pairing, size: tuple[int, int]) -> dict[str, Any]:
    image, attachment = pairing.lookup(mask)
    fields: dict[str, Any] = {"file_name": mask.name, "stem": mask.stem, "mask": str(mask)}
    if image is not None:
        if not image.is_file():
            raise InputError(f"image {image} does not exist", path=mask)
        _, iw, ih = header(image)
        _check_size(mask, size, (iw, ih), f"image {image}")
        fields.update(file_name=image.name, stem=image.stem, image=str(image))
    if spec.panoptic is not None and mask.stem in spec.panoptic.images:
        info = spec.panoptic.images[mask.stem]
        if "width" in info and "height" in info:
            where = f"image {info.get('file_name')} in {spec.panoptic.path.name}"
            _check_size(mask, size, (int(info["width"]), int(info["height"])), where)
        fields.update(
            {k: info[k] for k in ("file_name", "coco_url", "flickr_url", "id") if info.get(k)}
        )
    if attachment:
        fields["attachment"] = attachment
    return fields


def mask_item(mask: Path, spec: Spec, pairing: Pairing, key: str) -> Item:
    """One image item whose raster decodes ``mask`` when called."""
    mode, w, h = header(mask)
    kind = detect_kind(mode, spec)
    if kind in ("panoptic", "panoptic2ch") and spec.panoptic is None:
        raise InputError(f"--kind {kind} needs --panoptic JSON", path=mask)
    fields = _fields(mask, spec, pairing, (w, h))
    item = Item(key=key, fields=fields, width=w, height=h)
    item.raster = functools.partial(_load, mask, kind, spec, item.notes)
    return item


def binary_item(folder: Path, spec: Spec, pairing: Pairing) -> Item:
    """One image item from a folder of binary per-instance PNGs."""
    files = sorted(folder.glob("*.png"))
    sizes = {header(f)[1:] for f in files}
    if len(sizes) != 1:
        raise InputError(f"binary masks of one image differ in size: {sorted(sizes)}", path=folder)
    w, h = sizes.pop()
    probe = folder.with_suffix(".png")
    fields = _fields(probe, spec, pairing, (w, h))
    fields["mask"] = str(folder)
    item = Item(key=folder.name, fields=fields, width=w, height=h)
    item.raster = functools.partial(raster_binary, files, spec, item.notes)
    return item


def video_item(folder: Path, spec: Spec, pairing: Pairing) -> Item:
    """One video item: the folder's masks in name order are its frames."""
    masks = sorted(folder.glob("*.png"))
    if not masks:
        raise InputError("no PNG masks in the folder", path=folder)
    frames: list[Frame] = []
    size: tuple[int, int] | None = None
    for index, mask in enumerate(masks):
        frame_item = mask_item(mask, spec, pairing, mask.stem)
        this = (frame_item.width or 0, frame_item.height or 0)
        if size is not None:
            _check_size(mask, this, size, f"frame {masks[0].name}")
        size = this
        number = int(mask.stem) if mask.stem.isdigit() else index
        frames.append(
            Frame(
                index,
                number,
                fields=frame_item.fields,
                raster=frame_item.raster,
                timestamp=frame_timestamp(index, spec.fps),
            )
        )
    assert size is not None
    fields = {"sequence": folder.name, "stem": folder.name, "file_name": folder.name}
    return Item(
        key=folder.name,
        fields=fields,
        width=size[0],
        height=size[1],
        frames=frames,
        fps=spec.fps,
    )


def _mask_files(paths: Sequence[str], pairing: Pairing) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.png") if f.is_file())
            yield from (f for f in found if pairing.scanned(f))
        elif p.is_file():
            yield p
        else:
            raise InputError("no such mask file or folder", path=p)


def _unique_key(path: Path, seen: set[str]) -> str:
    key = path.stem
    if key in seen:
        key = f"{path.parent.name}/{path.stem}"
    seen.add(key)
    return key


def _items(paths: Sequence[str], spec: Spec, pairing: Pairing) -> Iterator[Item]:
    if spec.video:
        for p in map(Path, paths):
            if not p.is_dir():
                raise InputError(
                    "with --video each MASKS argument must be a folder of frames", path=p
                )
            yield video_item(p, spec, pairing)
        return
    if spec.kind == "binary":
        for p in map(Path, paths):
            subdirs = sorted(d for d in p.iterdir() if d.is_dir()) if p.is_dir() else []
            for d in subdirs or [p]:
                yield binary_item(d, spec, pairing)
        return
    seen: set[str] = set()
    for mask in _mask_files(paths, pairing):
        yield mask_item(mask, spec, pairing, _unique_key(mask, seen))


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
