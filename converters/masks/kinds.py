"""One raster builder per mask kind, for :mod:`prelabel.converters.masks.read`.

:class:`Spec` holds the reader's resolved options; :func:`detect_kind` picks a kind from the
file's mode when ``--kind`` is not given; each ``raster_<kind>`` function decodes one mask
file (or, for ``binary``, one folder of per-instance files) into an
:class:`~prelabel.model.IndexRaster` whose segments carry the class name, a source
reference to the pixel value and, in a video, the track id. :data:`RASTERS` maps kind names
to builders. These run only when an item's ``raster()`` is called. Split out of
``masks.py``; the names stay importable from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prelabel.converters.masks.classes import ClassNames
from prelabel.converters.masks.colormaps import ColorMap, decode_colors, voc_colormap
from prelabel.converters.masks.decode import Array, decode, index_values, no_colormap, present
from prelabel.converters.masks.panoptic import Panoptic, panoptic_raster, two_channel_raster
from prelabel.converters.masks.values import Prepared, prepare
from prelabel.errors import InputError
from prelabel.geometry.raster import CountedRaster
from prelabel.model import Dropped, IndexRaster, Segment, SourceRef


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
    # where a raster puts what it cannot use (panoptic segments listed but without pixels):
    # the item's own list, bound when its raster is built
    dropped: list[Dropped] = field(default_factory=list)

    def names(self, path: Path) -> ClassNames:
        if self.classes is not None:
            return self.classes
        if self.cmap is not None:
            return ClassNames(
                self.cmap.names, f"colour map {self.cmap.name} names {len(self.cmap.names)} values"
            )
        raise InputError("no class names: give --classes FILE (line N = value N)", path=path)

    def void_values(self) -> tuple[int, ...]:
        """The values read as void: ``--void`` and the colour map's void values."""
        return self.void + (self.cmap.void if self.cmap is not None else ())

    def keeps_zero(self, names: ClassNames) -> bool:
        """Whether class value 0 is a class: it has a name and is not void."""
        return 0 in names.names and 0 not in self.void_values()


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


def _raster(prepared: Prepared, segments: dict[int, Segment]) -> CountedRaster:
    return CountedRaster(prepared.values, segments, prepared.counts, prepared.void)


def _semantic_segments(
    prepared: Prepared, path: Path, names: ClassNames, hint: str = "", video: bool = False
) -> dict[int, Segment]:
    """One segment per class value; in a video each class is one track across frames."""
    out: dict[int, Segment] = {}
    for v in present(prepared.values, prepared.counts):
        cls = 0 if v == prepared.zero else v
        if cls not in names.names:
            where = names.where + hint
            raise InputError(
                f"unknown value {cls} in {path.name}: {where}",
                path=path,
                location=f"pixel value {cls}",
            )
        track = f"class {cls}" if video else None
        source = SourceRef(str(path), f"pixel value {cls}")
        out[v] = Segment(names.names[cls], source, track_id=track)
    return out


def raster_semantic(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """Class values straight from the file (palette indices, grey 8/16-bit); void values
    become 0, class 0 is a segment when it has a name."""
    values = index_values(path, decode(path), spec.cmap)
    names = spec.names(path)
    prepared = prepare(values, spec.void_values(), spec.keeps_zero(names))
    hint = ""
    if values.dtype == np.uint16:
        hint = " (16-bit instance masks need --kind instance1000 or instance256)"
    return _raster(prepared, _semantic_segments(prepared, path, names, hint, spec.video))


def raster_color(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """RGB through the colour map; raster value = class value + 1 (a colour map's value 0
    may be a class, e.g. CamVid's Animal or VOC's background); void values become 0.
    Nearest-colour matches are counted in ``notes``."""
    arr = decode(path)
    if arr.ndim == 2:
        return raster_semantic(path, spec, notes)
    cmap = spec.cmap
    if cmap is None:
        raise no_colormap(path)
    decoded = decode_colors(arr, cmap, tolerance=spec.tolerance, path=str(path))
    if decoded.nearest:
        notes.append(
            f"{path.name}: {decoded.nearest} px matched to the nearest colour of "
            f"{cmap.name} within tolerance {spec.tolerance:g}"
        )
    prepared = prepare(decoded.values + 1, [v + 1 for v in spec.void_values()], False)
    names = spec.classes or ClassNames(cmap.names, f"colour map {cmap.name} has no name for it")
    colors = {v: c for c, v in reversed(list(cmap.colors.items()))}
    segments: dict[int, Segment] = {}
    for w in present(prepared.values):
        v = w - 1
        where = f"colour {colors.get(v)} (class value {v})"
        track = f"class {v}" if spec.video else None
        segments[w] = Segment(names.name(v, path), SourceRef(str(path), where), track_id=track)
    return _raster(prepared, segments)


def raster_instances(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """16-bit class * base + instance (base 1000 or 256); void applies to the class part;
    class 0 is a class when it has a name."""
    base = 256 if spec.kind == "instance256" else 1000
    values = index_values(path, decode(path), spec.cmap).astype(np.int32)
    names = spec.names(path)
    segments: dict[int, Segment] = {}
    void: list[int] = []
    for v in present(values):
        cls, inst = divmod(v, base) if v >= base or base == 256 else (v, 0)
        if cls in spec.void_values():
            void.append(v)
            continue
        segments[v] = _instance_segment(path, spec, names.name(cls, path, "class"), v, cls, inst)
    prepared = prepare(values, void, spec.keeps_zero(names))
    if prepared.zero is not None:
        segments[prepared.zero] = _instance_segment(path, spec, names.names[0], 0, 0, 0)
    return _raster(prepared, segments)


def _instance_segment(path: Path, spec: Spec, label: str, v: int, cls: int, inst: int) -> Segment:
    return Segment(
        label,
        SourceRef(str(path), f"pixel value {v} (class {cls}, instance {inst})"),
        instance=inst > 0,
        track_id=(str(v) if inst > 0 else f"class {cls}") if spec.video else None,
    )


def raster_voc_object(path: Path, spec: Spec, notes: list[str]) -> IndexRaster:
    """Class mask + instance-id mask of the same stem; value = object * 256 + class.
    RGB masks read through ``--colormap``, VOC's by default."""
    assert spec.objects is not None
    obj_path = _object_mask(path, spec.objects)
    cmap = spec.cmap or voc_colormap()
    cls = index_values(path, decode(path), cmap).astype(np.int32)
    obj = index_values(obj_path, decode(obj_path), cmap).astype(np.int32)
    if cls.shape != obj.shape:
        raise InputError(
            f"object mask {obj_path} is {obj.shape[1]}x{obj.shape[0]} but the class mask is "
            f"{cls.shape[1]}x{cls.shape[0]}",
            path=path,
        )
    void_values = list(spec.void_values())
    void = np.isin(cls, void_values)
    disagree = int((void & (obj == 0)).sum())
    if disagree:
        notes.append(
            f"{path.name}: {disagree} px are void in the class mask but 0 in the object mask; "
            "read as unlabeled"
        )
    obj[np.isin(obj, void_values) | void] = 0
    values = np.where((obj > 0) & (cls > 0), obj * 256 + cls, cls)  # void pixels keep cls
    voc = voc_colormap()  # VOC object masks default to the VOC class names
    names = spec.classes or ClassNames(voc.names, "the VOC class names stop at 20 (give --classes)")
    prepared = prepare(values, void_values, spec.keeps_zero(names))
    segments: dict[int, Segment] = {}
    for v in present(prepared.values):
        o, c = (0, 0) if v == prepared.zero else divmod(v, 256)
        label = names.name(c, path, "class")
        where = (
            SourceRef(str(obj_path), f"pixel value {o}")
            if o
            else SourceRef(str(path), f"pixel value {c}")
        )
        segments[v] = Segment(
            label, where, instance=o > 0, track_id=str(o) if spec.video and o else None
        )
    return _raster(prepared, segments)


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
    return two_channel_raster(path, decode(path), spec.panoptic, spec.void_values())


def raster_binary(files: list[Path], spec: Spec, notes: list[str]) -> IndexRaster:
    """One binary PNG per instance; value = position in ``files`` + 1; earlier files win."""
    values: Array | None = None
    segments: dict[int, Segment] = {}
    for i, f in enumerate(files, 1):
        arr = decode(f)
        if arr.ndim == 3:  # a colour binary mask: any colour but black is the object
            arr = np.any(arr, axis=2, keepdims=False).astype(np.uint8)
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
