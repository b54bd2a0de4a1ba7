"""Whole-image label rasters -> one :class:`~.model.Mask` instance per segment.

Used by the pipeline when an item or frame has a ``raster`` and the task is not
segmentannotation (polygon and box targets go through the limits engine from these).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.geometry.rle import encode_mask
from prelabel.model import IndexRaster, Instance


def raster_to_instances(raster: IndexRaster) -> list[Instance]:
    """One ``Mask`` instance per segment of ``raster``, in segment-value order.

    Each instance keeps the segment's label, source, score, track id and attributes;
    instance segments get ``instance_id = str(value)``. Segments with no pixels are skipped
    (a reader only lists values that occur).

    Example:
        >>> r = IndexRaster(np.array([[0, 3], [3, 3]]), {3: Segment("car", src)})
        >>> [i.label for i in raster_to_instances(r)]
        ['car']
    """
    values = np.asarray(raster.values)
    out: list[Instance] = []
    for value in sorted(raster.segments):
        segment = raster.segments[value]
        binary = values == value
        if not binary.any():
            continue
        out.append(
            Instance(
                label=segment.label,
                geometry=encode_mask(binary),
                source=segment.source,
                score=segment.score,
                track_id=segment.track_id,
                attributes=dict(segment.attributes),
                instance_id=str(value) if segment.instance else None,
            )
        )
    return out


# float32 histogram bins count exactly up to 2^24; larger images fall back to bincount
_EXACT_FLOAT32 = 1 << 24


def histogram(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Pixel count per value of a non-negative integer array (index = value).

    uint8 and uint16 arrays use OpenCV's histogram (several times faster than
    ``np.bincount``); other integer arrays use ``np.bincount`` (values must be small).
    """
    if (
        values.dtype in (np.uint8, np.uint16)
        and 0 < values.size < _EXACT_FLOAT32
        and values.ndim == 2
    ):
        bins = 256 if values.dtype == np.uint8 else 1 << 16
        arr = np.ascontiguousarray(values)
        hist = cv2.calcHist([arr], [0], None, [bins], [0, bins])
        return hist.ravel().astype(np.int64)
    return np.bincount(values.ravel(), minlength=1).astype(np.int64)


def lookup(values: npt.NDArray[Any], table: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``table[values]``: OpenCV's LUT for uint8 -> uint8, else ``numpy.take``."""
    if values.dtype == np.uint8 and table.dtype == np.uint8 and table.size == 256:
        out: npt.NDArray[Any] = cv2.LUT(values, table)
        return out
    return np.take(table, values)


@dataclass(slots=True)
class CountedRaster(IndexRaster):
    """An :class:`IndexRaster` with what its reader knew at load time.

    ``counts`` is its histogram: readers that already counted the values (to find which
    occur) pass the counts on, so the segment writer need not count again. They stay valid
    only while every counted non-zero value still has a segment (the pipeline's label filter
    zeroes the values of the segments it removes): :func:`valid_counts` checks that.

    ``void`` marks the pixels read as void (``--void`` values, a colour map's void colour):
    unlabeled like every value 0, but never filled with a label. A reader may give a
    function that finds them instead (only a fill needs them): :func:`void_mask` calls it
    once.
    """

    counts: npt.NDArray[np.int64] | None = None
    void: npt.NDArray[np.bool_] | Callable[[], npt.NDArray[np.bool_]] | None = None


def valid_counts(raster: IndexRaster) -> npt.NDArray[np.int64] | None:
    """The raster's load-time histogram if it still describes ``values``, else None."""
    counts = getattr(raster, "counts", None)
    if counts is None:
        return None
    present = np.flatnonzero(counts)
    if all(int(v) == 0 or int(v) in raster.segments for v in present):
        result: npt.NDArray[np.int64] = counts
        return result
    return None


def void_mask(raster: IndexRaster) -> npt.NDArray[np.bool_] | None:
    """The pixels the reader read as void (all of them 0 in ``values``), or None: none."""
    void = getattr(raster, "void", None)
    if callable(void):
        void = void()
        setattr(raster, "void", void)  # noqa: B010 (found once)
    mask: npt.NDArray[np.bool_] | None = void
    return mask
