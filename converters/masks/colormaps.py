"""Colour maps for colour-coded RGB masks: colour -> class value (and the class names).

Built in (tables in :mod:`.palettes`, with their sources): ``voc`` (the 256-entry PASCAL VOC
palette with the 21 VOC class names, 0 = background; entry 255, drawn (224, 224, 192), is
void), ``cityscapes`` (label ids 0..33; the void category 0..6 is void), ``camvid`` (the 32
CamVid classes; Void is void) and ``ade20k`` (150 classes as values 1..150; 0 = "other",
black, is void). A map's names also name the values of index masks. From a file (the
docs/formats.md, "Colour maps", says the same):

* Datumaro ``dataset_meta.json``: ``label_map`` (id -> name) and ``segmentation_colors``
  (list of RGB, list index = id);
* CamVid ``label_colors.txt`` style text: ``R G B name`` per line, line N = value N;
* JSON ``{"name": [r, g, b], ...}`` (value = position, 0-based) or
  ``[{"name": ..., "color": [r, g, b] | "#rrggbb", "id": 3?, "void": true?}, ...]``
  (value = ``id``, else position; ``void`` marks the map's void colour).

:func:`decode_colors` turns an (H, W, 3) RGB array into class values, exactly or to the
nearest colour within a tolerance (Euclidean RGB distance).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.converters.masks.palettes import (
    ADE20K,
    ADE20K_OTHER,
    CAMVID,
    CAMVID_VOID,
    CITYSCAPES,
    CITYSCAPES_VOID,
    Row,
)
from prelabel.converters.text import read_text
from prelabel.errors import InputError

RGB = tuple[int, int, int]

VOC_NAMES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
# VOC's void value: boundaries and "difficult" regions, drawn (224, 224, 192)
VOC_VOID = 255


@dataclass(frozen=True, slots=True)
class ColorMap:
    """Colours and the class value each stands for; ``names`` maps values to class names.

    ``void`` lists the values the map marks as void (VOC's (224, 224, 192), CamVid's Void,
    Cityscapes' void category, ADE20K's "other", ``background_label`` of a Datumaro meta
    file): the reader reads them as unlabeled, as it does ``--void`` values.
    """

    name: str
    colors: dict[RGB, int]
    names: dict[int, str]
    void: tuple[int, ...] = ()


def voc_palette() -> list[RGB]:
    """The 256-entry PASCAL VOC palette (bit-interleaved value -> colour)."""
    out: list[RGB] = []
    for value in range(256):
        r = g = b = 0
        v = value
        for shift in range(7, -1, -1):
            r |= (v & 1) << shift
            g |= ((v >> 1) & 1) << shift
            b |= ((v >> 2) & 1) << shift
            v >>= 3
        out.append((r, g, b))
    return out


def voc_colormap() -> ColorMap:
    """The VOC colour map: 256 colours, names for 0..20 (0 = background, a class like the
    others); 255, drawn (224, 224, 192), is void."""
    colors = {c: i for i, c in enumerate(voc_palette())}
    return ColorMap("voc", colors, dict(enumerate(VOC_NAMES)), void=(VOC_VOID,))


def _from_rows(name: str, rows: Sequence[Row], void: tuple[int, ...], first: int = 0) -> ColorMap:
    """A map from ``(R, G, B, name)`` rows, row k = value ``first + k``; a colour shared
    by several rows reads as the first of them."""
    colors: dict[RGB, int] = {}
    for value, (r, g, b, _) in enumerate(rows, first):
        colors.setdefault((r, g, b), value)
    names = {value: row[3] for value, row in enumerate(rows, first)}
    return ColorMap(name, colors, names, void)


def camvid_colormap() -> ColorMap:
    """The CamVid 32-class colour map (``Void`` = (0, 0, 0) is value 30, void)."""
    return _from_rows("camvid", CAMVID, CAMVID_VOID)


def cityscapes_colormap() -> ColorMap:
    """The Cityscapes label ids 0..33 and their colours; the void category (0..6) is void."""
    return _from_rows("cityscapes", CITYSCAPES, CITYSCAPES_VOID)


def ade20k_colormap() -> ColorMap:
    """The ADE20K 150 classes, values 1..150; 0 = "other" (black) is void."""
    rows = _from_rows("ade20k", ADE20K, (0,), first=1)
    colors = {(0, 0, 0): 0, **rows.colors}
    return ColorMap("ade20k", colors, {0: ADE20K_OTHER, **rows.names}, rows.void)


BUILTIN: dict[str, Callable[[], ColorMap]] = {
    "voc": voc_colormap,
    "cityscapes": cityscapes_colormap,
    "camvid": camvid_colormap,
    "ade20k": ade20k_colormap,
}
BUILTIN_NAMES = ", ".join(BUILTIN)


def load_colormap(spec: str) -> ColorMap:
    """A built-in map by name (``voc``, ``cityscapes``, ``camvid``, ``ade20k``) or a colour
    map file (the formats are in the module docstring and docs/formats.md).

    Raises:
        InputError: the file is missing or not a colour map.
    """
    if spec.lower() in BUILTIN:
        return BUILTIN[spec.lower()]()
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"no such colour map file (built in: {BUILTIN_NAMES})", path=spec)
    if path.suffix.lower() == ".json":
        return _from_json(path)
    return _from_text(path)


def _from_text(path: Path) -> ColorMap:
    colors: dict[RGB, int] = {}
    names: dict[int, str] = {}
    lines = read_text(path).splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=3)
        try:
            rgb = _rgb([int(p) for p in parts[:3]])
            name = parts[3].strip()
        except (ValueError, IndexError):
            raise InputError(
                f"expected 'R G B name', got {line.strip()!r}", path=path, location=f"line {n}"
            ) from None
        value = len(names)
        colors.setdefault(rgb, value)
        names[value] = name
    if not names:
        raise InputError("colour map file is empty", path=path)
    return ColorMap(path.name, colors, names)


def _from_json(path: Path) -> ColorMap:
    try:
        data = orjson.loads(path.read_bytes().removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None
    try:
        if isinstance(data, dict) and "segmentation_colors" in data:
            return _from_meta(path, data)
        if isinstance(data, dict):
            entries = [{"name": k, "color": v} for k, v in data.items()]
        elif isinstance(data, list):
            entries = data
        else:
            raise ValueError("expected an object or a list")
        return _from_entries(path, entries)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a colour map: {exc}", path=path) from None


def _from_meta(path: Path, data: dict[str, Any]) -> ColorMap:
    label_map = {int(k): str(v) for k, v in data.get("label_map", {}).items()}
    colors: dict[RGB, int] = {}
    names: dict[int, str] = {}
    for value, color in enumerate(data["segmentation_colors"]):
        colors.setdefault(_rgb(color), value)
        names[value] = label_map.get(value, str(value))
    void: tuple[int, ...] = ()
    if data.get("background_label") is not None:
        void = (int(data["background_label"]),)
    return ColorMap(path.name, colors, names, void)


def _from_entries(path: Path, entries: list[Any]) -> ColorMap:
    colors: dict[RGB, int] = {}
    names: dict[int, str] = {}
    void: list[int] = []
    for pos, entry in enumerate(entries):
        value = int(entry.get("id", pos))
        colors.setdefault(_rgb(entry["color"]), value)
        names[value] = str(entry["name"])
        if entry.get("void") is True:
            void.append(value)
    if not names:
        raise ValueError("no colours")
    return ColorMap(path.name, colors, names, tuple(void))


def _rgb(color: Any) -> RGB:
    if isinstance(color, str):
        text = color.lstrip("#")
        if len(text) != 6:
            raise ValueError(f"colour {color!r} is not #rrggbb")
        color = [int(text[i : i + 2], 16) for i in (0, 2, 4)]
    values = [int(c) for c in color]
    if len(values) != 3 or not all(0 <= c <= 255 for c in values):
        raise ValueError(f"colour {color!r} is not three values 0..255")
    return (values[0], values[1], values[2])


@dataclass(slots=True)
class Decoded:
    """Class values of a colour mask; ``nearest`` counts pixels matched within tolerance."""

    values: npt.NDArray[np.int32]
    nearest: int = 0


def decode_colors(
    rgb: npt.NDArray[np.uint8],
    cmap: ColorMap,
    *,
    tolerance: float | None,
    path: str,
) -> Decoded:
    """Map an (H, W, 3) RGB array to class values through ``cmap``.

    Args:
        rgb: the mask pixels, RGB order.
        cmap: the colour map.
        tolerance: None = off-palette pixels are an error; else match the nearest colour
            within this Euclidean RGB distance (pixels further away are still an error).
        path: the mask file, for error messages.

    Raises:
        InputError: a pixel colour is not in the map (within the tolerance).
    """
    packed = _pack(rgb)
    keys = np.array([(r << 16) | (g << 8) | b for (r, g, b) in cmap.colors], dtype=np.int64)
    vals = np.array(list(cmap.colors.values()), dtype=np.int32)
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    uniq, inverse = np.unique(packed, return_inverse=True)
    pos = np.clip(np.searchsorted(keys, uniq), 0, len(keys) - 1)
    exact = keys[pos] == uniq
    out_vals = vals[pos]
    nearest = 0
    if not exact.all():
        out_vals, nearest = _nearest(uniq, exact, out_vals, keys, vals, inverse, tolerance, path)
    values = out_vals[inverse].reshape(rgb.shape[:2]).astype(np.int32)
    return Decoded(values, nearest)


def _pack(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    a = rgb.astype(np.int64)
    packed: npt.NDArray[np.int64] = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    return packed.ravel()


def _unpack(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    return np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1).astype(float)


def _nearest(
    uniq: npt.NDArray[np.int64],
    exact: npt.NDArray[np.bool_],
    out_vals: npt.NDArray[np.int32],
    keys: npt.NDArray[np.int64],
    vals: npt.NDArray[np.int32],
    inverse: npt.NDArray[np.intp],
    tolerance: float | None,
    path: str,
) -> tuple[npt.NDArray[np.int32], int]:
    missing = np.flatnonzero(~exact)
    counts = np.bincount(inverse.ravel(), minlength=len(uniq))
    dist = np.linalg.norm(_unpack(uniq[missing])[:, None, :] - _unpack(keys)[None], axis=2)
    best = dist.argmin(axis=1)
    best_d = dist[np.arange(len(missing)), best]
    bad = best_d > (tolerance if tolerance is not None else -1)
    if bad.any():
        i = missing[np.flatnonzero(bad)[0]]
        c = int(uniq[i])
        color = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
        total = int(counts[missing[bad]].sum())
        hint = "" if tolerance is not None else "; use --tolerance to match the nearest colour"
        raise InputError(
            f"off-palette colour {color} ({int(counts[i])} px; {total} px in "
            f"{int(bad.sum())} colour(s) off the colour map){hint}",
            path=path,
        )
    out = out_vals.copy()
    out[missing] = vals[best]
    return out, int(counts[missing].sum())
