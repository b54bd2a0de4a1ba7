"""Segmentation prelabels: ``labelMapping`` against the task's labels, and the indexed PNG
against ``labelMapping`` (https://docs.scale.com/reference/image-segmentation-hypothesis).

``annotations.combined.indexedImage`` (8-bit, single channel, 0 = unlabeled) is mandatory; an
``extendedIndexedImage`` (RGBA, index = R + 256 G + 65536 B) may come with it, never instead,
and then ``labelMapping`` indexes refer to the extended image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.config import rules
from prelabel.rulebook.attributes import attribute_problems
from prelabel.rulebook.findings import Missing, Scope, Violation

MAX_EXTENDED_INDEX = 2**24 - 1
Array = npt.NDArray[Any]


@dataclass(slots=True)
class Mapping:
    """labelMapping read: index -> (label, entry) and what was wrong with it."""

    entries: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    found: list[Violation] = field(default_factory=list)


def check_segment(pre: dict[str, Any], where: str, scope: Scope) -> Iterator[Violation]:
    """Every rule a segmentannotation prelabel breaks."""
    mapping = pre.get("labelMapping")
    annotations = pre.get("annotations")
    combined = annotations.get("combined") if isinstance(annotations, dict) else None
    if not isinstance(mapping, dict):
        yield Violation(
            "prelabel-shape", f"{where}.labelMapping", "must be an object keyed by label"
        )
    if not isinstance(combined, dict):
        message = "must be an object holding indexedImage"
        yield Violation("prelabel-shape", f"{where}.annotations.combined", message)
    if not isinstance(mapping, dict) or not isinstance(combined, dict):
        return
    at = f"{where}.annotations.combined"
    extended = combined.get("extendedIndexedImage")
    if not isinstance(combined.get("indexedImage"), str):
        message = "missing (mandatory; an extendedIndexedImage never replaces it)"
        yield Violation("indexed-image", f"{at}.indexedImage", message)
        return
    read = _mapping(mapping, f"{where}.labelMapping", scope, isinstance(extended, str))
    yield from read.found
    yield from _pixels(combined, at, read, scope)


def _mapping(mapping: dict[str, Any], where: str, scope: Scope, extended: bool) -> Mapping:
    out = Mapping()
    limits = scope.limits
    top = MAX_EXTENDED_INDEX if extended else rules.MAX_SEGMENT_INDEX
    for label, value in mapping.items():
        at = f"{where}.{label}"
        if label not in limits.segment_labels:
            out.found.append(Violation("label-mapping", at, "not a leaf of the task's labels"))
        if isinstance(value, list) != (label in limits.instance_labels):
            message = "an instance label maps to a list of entries, any other label to one"
            out.found.append(Violation("label-mapping", at, message))
        for n, entry in enumerate(value if isinstance(value, list) else [value]):
            _entry(entry, f"{at}[{n}]" if isinstance(value, list) else at, label, top, out, scope)
    return out


def _entry(entry: Any, where: str, label: str, top: int, out: Mapping, scope: Scope) -> None:
    index = entry.get("index") if isinstance(entry, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= top:
        message = f"needs a whole index 1-{top}, got {index!r}"
        out.found.append(Violation("label-mapping", f"{where}.index", message))
        return
    if index in out.entries:
        message = f"index {index} is also {out.entries[index][0]!r}'s"
        out.found.append(Violation("label-mapping", f"{where}.index", message))
        return
    out.entries[index] = (label, entry)
    for name, problem in attribute_problems(entry.get("attributes", {}), scope.attributes):
        out.found.append(Violation("attribute-values", f"{where}.attributes.{name}", problem))


# --- the PNGs -------------------------------------------------------------------------------


def _fetch_png(url: Any, where: str, scope: Scope, channels: int) -> Array | Violation | None:
    data = scope.resolver.fetch(url) if isinstance(url, str) else None
    if isinstance(data, Missing):
        return Violation("hosted-file", where, data.reason)
    if data is None:
        return None
    image: Array | None = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    kind = "an 8-bit single-channel" if channels == 1 else "an 8-bit RGBA"
    if image is None:
        return Violation("indexed-image", where, f"must be {kind} PNG, got undecodable bytes")
    shape = (image.ndim == 2) if channels == 1 else (image.ndim == 3 and image.shape[2] == 4)
    if not shape or image.dtype != np.uint8:
        got = f"{image.dtype} with shape {image.shape}"
        return Violation("indexed-image", where, f"must be {kind} PNG, got {got}")
    return image


def _pixels(
    combined: dict[str, Any], where: str, read: Mapping, scope: Scope
) -> Iterator[Violation]:
    indexed = _fetch_png(combined["indexedImage"], f"{where}.indexedImage", scope, 1)
    if isinstance(indexed, Violation):
        yield indexed
    extended = None
    if "extendedIndexedImage" in combined:
        extended = _fetch_png(combined["extendedIndexedImage"],
                              f"{where}.extendedIndexedImage", scope, 4)  # fmt: skip
        if isinstance(extended, Violation):
            yield extended
            extended = None
    if isinstance(extended, np.ndarray):
        channels = [extended[..., c].astype(np.uint32) for c in range(3)]
        index: Array = channels[2] | (channels[1] << 8) | (channels[0] << 16)
        yield from _consistency(index, f"{where}.extendedIndexedImage", read, scope)

    elif isinstance(indexed, np.ndarray):
        yield from _consistency(indexed, f"{where}.indexedImage", read, scope)


def _consistency(index: Array, where: str, read: Mapping, scope: Scope) -> Iterator[Violation]:
    values, counts = np.unique(index, return_counts=True)
    count = dict(zip(values.tolist(), counts.tolist(), strict=True))
    stray = sorted(set(count) - set(read.entries) - {0})
    if stray:
        yield Violation("mask-pixels", where, f"indices {stray[:10]} are not in labelMapping")
    for value, (label, entry) in read.entries.items():
        pixels = entry.get("numPixels")
        if pixels is not None and pixels != count.get(value, 0):
            message = (
                f"{label!r} index {value}: numPixels {pixels}, the PNG has {count.get(value, 0)}"
            )
            yield Violation("mask-pixels", where, message)
    if count.get(0) and not scope.limits.allow_unlabeled:
        message = f"{count[0]} unlabeled pixels but allow_unlabeled is false"
        yield Violation("mask-pixels", where, message)
    size = (index.shape[1], index.shape[0])
    if scope.image_size and size != scope.image_size:
        image = f"{scope.image_size[0]}x{scope.image_size[1]}"
        yield Violation("mask-pixels", where, f"the PNG is {size[0]}x{size[1]}, the image {image}")
