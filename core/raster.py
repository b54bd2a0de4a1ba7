"""Whole-image label rasters -> one :class:`~.model.Mask` instance per segment.

Used by the pipeline when an item or frame has a ``raster`` and the task is not
segmentannotation (polygon and box targets go through the limits engine from these).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from .model import IndexRaster, Instance, Mask


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


def encode_mask(binary: npt.NDArray[Any]) -> Mask:
    """A full-frame compressed-RLE :class:`Mask` from an (H, W) boolean array."""
    fortran = np.asfortranarray(binary.astype(np.uint8))
    rle = mask_utils.encode(fortran)
    height, width = binary.shape
    return Mask(counts=rle["counts"], height=int(height), width=int(width))


def decode_mask(mask: Mask) -> npt.NDArray[np.bool_]:
    """The (H, W) boolean array of a :class:`Mask`."""
    decoded = mask_utils.decode(mask.rle())
    return np.asarray(decoded, dtype=bool)
