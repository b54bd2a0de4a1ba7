"""The segmentannotation writer: one indexed PNG artifact + ``labelMapping`` per image.

The hypothesis (scale-api.md §2.3): ``{"labelMapping": {...}, "annotations": {"combined":
{"indexedImage": URL}}}``. The PNG is 8-bit single-channel, the image's size, 0 =
unlabeled, indices 1..N unique across labels and instances. A plain label is ONE entry
``{"index", "color", "numPixels"}`` (all its pixels share one index); an instance label
(``instance_label: true``) is a LIST with one entry per instance.

Sources: ``item.raster()`` when present (fast path: a value -> index lookup table applied
with one ``numpy.take``), else ``item.instances`` rasterised with overlaps resolved by score
(the higher score keeps the pixels; the loser records the overlap as a fix).

Unlabeled pixels (index 0) are an error when the task has ``allow_unlabeled`` false, unless
``fill_unlabeled`` names the label to fill them with; pixels the reader read as void
(``--void``, a colour map's void colour) are never filled, so with ``allow_unlabeled``
false they are an error.

More than 255 indices follow ``[prelabel] segment_overflow``: ``error``, ``drop-smallest``,
or ``extended`` — an ``extendedIndexedImage`` (4-channel PNG, index = R + 256 G + 65536 B,
alpha 255) beside the mandatory ``indexedImage``, which then holds the 255 largest segments
(indices are given largest first). Scale documents ``extendedIndexedImage`` in the RESPONSE
format only, not in the hypothesis; whether a hypothesis may carry it is unknown, and the
report says so.
"""

from __future__ import annotations

import colorsys
import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.errors import PayloadError
from prelabel.geometry.primitives import rasterize as geometry_rasterize
from prelabel.geometry.raster import histogram, lookup, valid_counts, void_mask
from prelabel.model import Geometry, IndexRaster, Instance, Item, SourceRef
from prelabel.writers.context import WriteContext

MAX_INDEX = 255
EXTENDED_NOTE = (
    "extendedIndexedImage written for items over 255 segments: Scale documents it in the "
    "response format only, not in the segmentation hypothesis"
)
Array = npt.NDArray[Any]


@dataclass(slots=True)
class Entry:
    """One index of the output PNG and the input objects merged into it."""

    label: str
    instance: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    pixels: int = 0
    # (source, fixes) of each input object that became this entry
    objects: list[tuple[SourceRef, list[str]]] = field(default_factory=list)


@dataclass(slots=True)
class Canvas:
    """The index image being built (0 = unlabeled, i = entries[i - 1])."""

    index: Array
    entries: list[Entry]
    # entry pixel counts already known (from the reader's histogram)
    counted: bool = False
    # the raster it was built from: where the reader's void pixels are (never filled)
    source: IndexRaster | None = None


# --- entry point ---------------------------------------------------------------------------


def write_segment_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The segmentannotation task body for one image item.

    Args:
        item: an image item with a ``raster`` or ``instances`` (Mask, Polygon or Box).
        ctx: the write context (config, report, artifact store).

    Returns:
        The body: params + ``attachment``, ``unique_id`` and the prelabels placed under
        ``hypothesis`` or ``base_annotations``.

    Raises:
        PayloadError: a video item, an unknown image size, over 255 segments under
            ``segment_overflow = "error"``, or unlabeled pixels with ``allow_unlabeled``
            false and no ``fill_unlabeled`` label.
    """
    if item.is_video:
        raise PayloadError(
            "segmentannotation takes images, not videos", location=f"item {item.key}"
        )
    body = _base_body(ctx)
    uid = ctx.unique_id(item)
    body["attachment"] = ctx.attachment(item)
    body["unique_id"] = uid
    if item.raster is not None:
        canvas = canvas_from_raster(item.raster(), item, ctx, uid)
    else:
        canvas = canvas_from_instances(item, ctx, uid)
    canvas = _compact(canvas, ctx, uid)
    canvas, extended = _overflow(canvas, item, ctx, uid)
    _fill_unlabeled(canvas, item, ctx)
    _record(canvas, ctx, uid)
    combined = {"indexedImage": ctx.artifacts.add(f"{item.key}.png", _indexed_png(canvas))}
    if extended:  # never instead of the mandatory indexedImage: beside it
        data = encode_index_png(canvas.index, extended=True)
        combined["extendedIndexedImage"] = ctx.artifacts.add(f"{item.key}.extended.png", data)
    prelabels = {
        "labelMapping": label_mapping(canvas.entries),
        "annotations": {"combined": combined},
    }
    ctx.place(body, prelabels)
    return body


def _base_body(ctx: WriteContext) -> dict[str, Any]:
    body_params = getattr(ctx.config, "body_params", None)
    if callable(body_params):
        return dict(body_params())
    return copy.deepcopy(ctx.config.params)


def _allowed(label: str, ctx: WriteContext) -> bool:
    labels = ctx.config.limits.segment_labels
    return not labels or label in labels


NOT_IN_TASK = "label not in the task's labels"


# --- raster source (fast path) -------------------------------------------------------------


def canvas_from_raster(raster: IndexRaster, item: Item, ctx: WriteContext, uid: str) -> Canvas:
    """Map raster values to output indices with one lookup-table take."""
    _check_size(item, raster.height, raster.width)
    instance_labels = ctx.config.limits.instance_labels
    entries: list[Entry] = []
    by_label: dict[str, int] = {}
    mapping: dict[int, int] = {}
    for value in sorted(raster.segments):
        seg = raster.segments[value]
        if not _allowed(seg.label, ctx):
            ctx.report.dropped(seg.source, NOT_IN_TASK, label=seg.label, task=uid)
            continue
        if seg.label in instance_labels or seg.label not in by_label:
            instance = seg.label in instance_labels
            attributes = ctx.attributes(seg.attributes) if instance else {}
            entries.append(Entry(seg.label, instance, attributes))
            by_label.setdefault(seg.label, len(entries))
            idx = len(entries)
        else:
            idx = by_label[seg.label]
        mapping[value] = idx
        entries[idx - 1].objects.append((seg.source, []))
    counts = valid_counts(raster)
    if counts is not None:
        for value, idx in mapping.items():
            entries[idx - 1].pixels += int(counts[value]) if value < len(counts) else 0
    identity = len(mapping) == len(raster.segments) and all(v == i for v, i in mapping.items())
    if identity and raster.values.dtype == np.uint8:
        # every non-zero value has a segment (the raster contract) and maps to itself
        return Canvas(raster.values, entries, counts is not None, raster)
    index = apply_lookup(raster.values, mapping, len(entries))
    return Canvas(index, entries, counts is not None, raster)


def apply_lookup(values: Array, mapping: dict[int, int], count: int) -> Array:
    """``values`` mapped through ``mapping`` (others -> 0) as uint8 (uint32 over 255)."""
    dtype = np.uint8 if count <= MAX_INDEX else np.uint32
    if values.dtype in (np.uint8, np.uint16) or (
        values.size and 0 <= int(values.min()) and int(values.max()) < 1 << 16
    ):
        size = 256 if values.dtype == np.uint8 else 1 << 16
        lut = np.zeros(size, dtype=dtype)
        for value, idx in mapping.items():
            if 0 <= value < size:
                lut[value] = idx
        out: Array = lookup(values, lut)
        return out
    uniq, inverse = np.unique(values, return_inverse=True)
    small = np.array([mapping.get(int(v), 0) for v in uniq], dtype=dtype)
    result: Array = small[inverse].reshape(values.shape)
    return result


def _check_size(item: Item, height: int, width: int) -> None:
    if (
        item.width is not None
        and item.height is not None
        and (width, height)
        != (
            item.width,
            item.height,
        )
    ):
        raise PayloadError(
            f"mask is {width}x{height} but the image is {item.width}x{item.height}",
            location=f"item {item.key}",
        )


# --- instance source -----------------------------------------------------------------------


def _by_score(instances: Iterable[Instance]) -> list[Instance]:
    """Highest score first; unscored instances after the scored ones, in input order."""
    return sorted(instances, key=lambda i: (i.score is None, -(i.score or 0.0)))


def canvas_from_instances(item: Item, ctx: WriteContext, uid: str) -> Canvas:
    """Paint instances from the highest score down; painted pixels are never repainted."""
    if item.width is None or item.height is None:
        raise PayloadError(
            "image size unknown: segmentation needs the image width and height",
            location=f"item {item.key}",
        )
    height, width = item.height, item.width
    canvas = Canvas(np.zeros((height, width), dtype=np.uint32), [])
    keys: dict[tuple[str, str], int] = {}
    for n, inst in enumerate(_by_score(item.instances)):
        if not _allowed(inst.label, ctx):
            ctx.report.dropped(inst.source, NOT_IN_TASK, label=inst.label, task=uid)
            continue
        try:
            binary = rasterize(inst.geometry, height, width)
        except PayloadError as exc:
            raise PayloadError(
                exc.reason, path=inst.source.file, location=inst.source.location
            ) from None
        _paint(canvas, inst, binary, _entry_key(inst, n, ctx), keys, ctx, uid)
    return canvas


def _entry_key(inst: Instance, n: int, ctx: WriteContext) -> tuple[str, str]:
    if inst.label not in ctx.config.limits.instance_labels:
        return (inst.label, "")
    return (inst.label, inst.instance_id if inst.instance_id is not None else f"#{n}")


def _paint(
    canvas: Canvas,
    inst: Instance,
    binary: Array,
    key: tuple[str, str],
    keys: dict[tuple[str, str], int],
    ctx: WriteContext,
    uid: str,
) -> None:
    total = int(binary.sum())
    if total == 0:
        ctx.report.dropped(
            inst.source, "empty: no pixels inside the image", label=inst.label, task=uid
        )
        return
    idx = keys.get(key, len(canvas.entries) + 1)
    owners = canvas.index[binary]
    lost = owners[(owners != 0) & (owners != idx)]
    free = binary & (canvas.index == 0)
    if lost.size == total:  # every pixel already belongs to another entry
        ctx.report.dropped(
            inst.source,
            "occluded: fully covered by higher-scoring instances",
            label=inst.label,
            task=uid,
        )
        return
    if idx > len(canvas.entries):
        keys[key] = idx
        instance = key[1] != ""
        canvas.entries.append(
            Entry(inst.label, instance, ctx.attributes(inst.attributes) if instance else {})
        )
    canvas.index[free] = idx
    fixes = []
    if lost.size:
        winner = canvas.entries[int(np.bincount(lost).argmax()) - 1].label
        fixes.append(f"overlap: {lost.size} px given to higher-scoring {winner}")
    canvas.entries[idx - 1].objects.append((inst.source, fixes))


def rasterize(geometry: Geometry, height: int, width: int) -> Array:
    """A boolean (H, W) array: pixels whose centre lies inside ``geometry``
    (``prelabel.geometry.primitives.rasterize``; a geometry with no area is a PayloadError)."""
    try:
        binary: Array = geometry_rasterize(geometry, height, width)
        return binary
    except ValueError as exc:
        raise PayloadError(f"cannot be a segmentation mask: {exc}") from None


# --- compaction, overflow, fill ------------------------------------------------------------


def _remap(canvas: Canvas, keep: list[int]) -> Canvas:
    """Keep entries ``keep`` (1-based, in order), renumbered 1..len(keep); others -> 0."""
    count = len(keep)
    lut = np.zeros(len(canvas.entries) + 1, dtype=np.uint8 if count <= MAX_INDEX else np.uint32)
    for new, old in enumerate(keep, 1):
        lut[old] = new
    entries = [canvas.entries[k - 1] for k in keep]
    return Canvas(lookup(canvas.index, lut), entries, source=canvas.source)


def _compact(canvas: Canvas, ctx: WriteContext, uid: str) -> Canvas:
    """Count pixels per entry; entries with none are dropped and the rest renumbered."""
    if not canvas.counted:
        counts = histogram(canvas.index)
        for i, entry in enumerate(canvas.entries, 1):
            entry.pixels = int(counts[i]) if i < len(counts) else 0
    keep = [i for i, e in enumerate(canvas.entries, 1) if e.pixels > 0]
    for entry in canvas.entries:
        if entry.pixels == 0:
            for source, _ in entry.objects:
                ctx.report.dropped(
                    source, "empty: no pixels in the mask", label=entry.label, task=uid
                )
            entry.objects.clear()
    if len(keep) == len(canvas.entries) and (
        len(keep) > MAX_INDEX or canvas.index.dtype == np.uint8
    ):
        return canvas
    return _remap(canvas, keep)


def _overflow(canvas: Canvas, item: Item, ctx: WriteContext, uid: str) -> tuple[Canvas, bool]:
    count = len(canvas.entries)
    if count <= MAX_INDEX:
        return canvas, False
    policy = ctx.config.prelabel.segment_overflow
    if policy == "extended":
        ctx.report.note(EXTENDED_NOTE)
        order = sorted(range(1, count + 1), key=lambda i: (-canvas.entries[i - 1].pixels, i))
        return _remap(canvas, order), True
    if policy == "drop-smallest":
        order = sorted(range(1, count + 1), key=lambda i: (-canvas.entries[i - 1].pixels, i))
        keep, drop = sorted(order[:MAX_INDEX]), order[MAX_INDEX:]
        for i in drop:
            entry = canvas.entries[i - 1]
            reason = f"overflow: smallest of {count} segments ({entry.pixels} px); an indexedImage holds {MAX_INDEX}"
            for source, _ in entry.objects:
                ctx.report.dropped(source, reason, label=entry.label, task=uid)
            entry.objects.clear()
        return _remap(canvas, keep), False
    raise PayloadError(
        f"{count} segments, but an 8-bit indexedImage holds {MAX_INDEX}; set "
        "segment_overflow to 'drop-smallest' or 'extended'",
        location=f"item {item.key}",
    )


def _fill_unlabeled(canvas: Canvas, item: Item, ctx: WriteContext) -> None:
    if ctx.config.limits.allow_unlabeled:
        return
    void = void_mask(canvas.source) if canvas.source is not None else None
    if void is not None and void.any():
        raise PayloadError(
            f"{int(np.count_nonzero(void))} px are void (--void values or the colour "
            "map's void colour) and stay unlabeled (fill_unlabeled never covers them), but "
            "the task has allow_unlabeled false; set params.allow_unlabeled = true",
            location=f"item {item.key}",
        )
    empty = canvas.index == 0
    unlabeled = int(empty.sum())
    if unlabeled == 0:
        return
    label = ctx.config.prelabel.fill_unlabeled
    if label is None:
        raise PayloadError(
            f"{unlabeled} px are unlabeled but the task has allow_unlabeled false; set "
            "fill_unlabeled to a label to fill them with",
            location=f"item {item.key}",
        )
    if not _allowed(label, ctx):
        raise PayloadError(f"fill_unlabeled label {label!r} is not one of the task's labels")
    idx = _fill_index(canvas, label, item, ctx)
    canvas.index[empty] = idx
    canvas.entries[idx - 1].pixels += unlabeled
    ctx.report.note(f"item {item.key}: {unlabeled} unlabeled px filled with {label}")


def _fill_index(canvas: Canvas, label: str, item: Item, ctx: WriteContext) -> int:
    instance = label in ctx.config.limits.instance_labels
    for i, entry in enumerate(canvas.entries, 1):
        if entry.label == label and not instance:
            return i
    limit = MAX_INDEX if canvas.index.dtype == np.uint8 else (1 << 24) - 1
    if len(canvas.entries) >= limit:
        raise PayloadError(
            f"no index left to fill unlabeled pixels with {label}", location=f"item {item.key}"
        )
    canvas.entries.append(Entry(label, instance))
    return len(canvas.entries)


# --- output --------------------------------------------------------------------------------


def _record(canvas: Canvas, ctx: WriteContext, uid: str) -> None:
    for entry in canvas.entries:
        for source, fixes in entry.objects:
            ctx.report.converted(source, label=entry.label, task=uid, fixes=fixes, annotations=1)


def color_for(index: int) -> str:
    """A deterministic hex colour for an index; neighbouring indices differ strongly."""
    hue = (index * 0.618033988749895) % 1.0
    sat = (0.9, 0.65, 0.45)[index % 3]
    val = (0.95, 0.75)[(index // 3) % 2]
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def label_mapping(entries: list[Entry]) -> dict[str, Any]:
    """Plain labels -> one entry; instance labels -> a list with one entry per instance."""
    mapping: dict[str, Any] = {}
    used: set[str] = set()
    for i, entry in enumerate(entries, 1):
        color = color_for(i)
        step = 0
        while color in used:  # colours need not be unique for Scale; keep them so anyway
            step += 1
            color = color_for(i + 997 * step)
        used.add(color)
        obj: dict[str, Any] = {"index": i, "color": color, "numPixels": entry.pixels}
        if entry.instance:
            if entry.attributes:
                obj["attributes"] = entry.attributes
            mapping.setdefault(entry.label, []).append(obj)
        else:
            mapping[entry.label] = obj
    return mapping


def _indexed_png(canvas: Canvas) -> bytes:
    """The 8-bit indexedImage: over 255 segments it holds the 255 largest (indices 1..255
    after the extended remap) and leaves the rest unlabeled."""
    index = canvas.index
    if index.dtype != np.uint8:
        index = np.where(index <= MAX_INDEX, index, 0).astype(np.uint8)
    return encode_index_png(index)


def encode_index_png(index: Array, *, extended: bool = False) -> bytes:
    """PNG bytes: 8-bit single channel, or (extended) RGBA with index = R + 256 G + 65536 B."""
    if extended:
        idx = index.astype(np.uint32)
        bgra = np.empty((*index.shape, 4), dtype=np.uint8)
        bgra[..., 0] = (idx >> 16) & 255
        bgra[..., 1] = (idx >> 8) & 255
        bgra[..., 2] = idx & 255
        bgra[..., 3] = 255
        image: Array = bgra
    else:
        image = index.astype(np.uint8, copy=False)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise PayloadError("PNG encoding failed")
    return bytes(buf.tobytes())
