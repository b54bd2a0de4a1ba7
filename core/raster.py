"""Whole-image label rasters -> one :class:`~.model.Mask` instance per segment.

Used by the pipeline when an item or frame has a ``raster`` and the task is not
segmentannotation (polygon and box targets go through the limits engine from these).
"""

from __future__ import annotations

import numpy as np

from .geometry import encode_mask
from .model import IndexRaster, Instance


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
