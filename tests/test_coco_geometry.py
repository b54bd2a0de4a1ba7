"""Property tests for COCO geometry parsing: boxes, polygons, uncompressed RLE."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from prelabel.converters.coco.geometry import Sink, box_from_coco, polygon_from_coco, rle_mask
from prelabel.model import Box, SourceRef

REF = SourceRef("f.json", "annotations[0]")
coord = st.floats(-1e4, 1e4, allow_nan=False)


@given(coord, coord, st.floats(0, 1e4), st.floats(0, 1e4))
def test_bbox_is_a_box_without_shift(x: float, y: float, w: float, h: float) -> None:
    assert box_from_coco([x, y, w, h], REF) == Box(x, y, w, h)


@given(st.lists(st.lists(coord, min_size=6, max_size=40), min_size=1, max_size=5))
def test_polygon_parts_keep_every_point(parts: list[list[float]]) -> None:
    sink = Sink([])
    polygon, problem = polygon_from_coco(parts, ref=REF, sink=sink)
    assert polygon is not None and problem is None
    assert len(polygon.parts) == len(parts)
    for part, raw in zip(polygon.parts, parts, strict=True):
        even = raw[: len(raw) // 2 * 2]
        assert [c for xy in part.exterior for c in xy] == even
    assert len(sink.notes) == sum(len(p) % 2 for p in parts)


@given(st.lists(coord, max_size=5))
def test_short_polygons_are_never_boxes(part: list[float]) -> None:
    polygon, problem = polygon_from_coco([part], ref=REF, sink=Sink([]))
    assert polygon is None and problem


def runs(pixels: np.ndarray) -> list[int]:
    flat = pixels.T.reshape(-1)  # column-major, as COCO
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    lengths = np.diff(bounds).tolist()
    return ([0] if flat[0] else []) + lengths


@settings(max_examples=60)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 1))
)
def test_uncompressed_rle_round_trips(pixels: np.ndarray) -> None:
    h, w = pixels.shape
    mask = rle_mask({"size": [h, w], "counts": runs(pixels)}, ref=REF, size=(h, w))
    assert (mask_utils.decode(mask.rle()) == pixels).all()
    again = rle_mask({"size": [h, w], "counts": mask.counts.decode()}, ref=REF, size=None)
    assert again == mask
