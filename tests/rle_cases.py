"""Masks whose runs hide pycocotools' quirks, for the tests of mask boxes and run checks."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from pycocotools import mask as cocomask


@st.composite
def odd_runs(draw: Any) -> tuple[int, int, list[list[int]]]:
    """A small frame and uncompressed runs over it: runs of length zero (first, inside,
    last), an odd number of runs, runs crossing columns; with the masks of no pixels
    written three ways (one run, a last empty run of pixels, a first empty run)."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    area = h * w
    points = sorted(min(c, area) for c in draw(st.lists(st.integers(0, 30), max_size=16)))
    runs = [b - a for a, b in zip([0, *points], [*points, area], strict=True)]
    if draw(st.booleans()) and len(runs) % 2:
        runs.append(0)  # the last run of pixels is empty
    return h, w, [runs, [area], [area, 0], [0, area]]


def compressed(runs: list[int], h: int, w: int) -> bytes:
    """pycocotools' compressed string of uncompressed runs (zero-length runs kept)."""
    return bytes(cocomask.frPyObjects({"size": [h, w], "counts": runs}, h, w)["counts"])
