"""Void values and class 0 in an index array, for the raster builders of :mod:`.kinds`.

A raster's value 0 means unlabeled. Two kinds of mask value meet it:

* **void** values (``--void``, 255 by default; a colour map's void colour) become 0, and
  :class:`Prepared` keeps where they were, so the segment writer never fills them;
* **class 0**, when the class names name it (``background``, ``_background_``), is a class
  like any other: its pixels move to a value no pixel uses, which gets its segment. A value
  0 nobody names stays unlabeled.

uint8 and uint16 arrays are done with a histogram and one lookup table (no sort); other
integer arrays with masks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from prelabel.geometry.raster import histogram, lookup

Array = npt.NDArray[Any]
BoolArray = npt.NDArray[np.bool_]
# the void pixels, or how to find them when asked (only a fill needs them)
Void = BoolArray | Callable[[], BoolArray]


@dataclass(slots=True)
class Prepared:
    """``values`` with void set to 0 and class 0 moved to ``zero`` (None: not moved).

    ``counts`` is the histogram of the new values (uint8 / uint16 input), ``void`` the
    pixels that were void, or a function that finds them (None when there were none).
    """

    values: Array
    counts: npt.NDArray[np.int64] | None = None
    void: Void | None = None
    zero: int | None = None


def prepare(values: Array, void: Sequence[int], keep_zero: bool) -> Prepared:
    """Zero the ``void`` values (remembering where) and, with ``keep_zero``, move the pixels
    of value 0 to an unused value.

    Args:
        values: a 2-D array of non-negative integers (not modified).
        void: the values read as void.
        keep_zero: whether value 0 is a class (its name is known and it is not void).
    """
    if values.dtype in (np.uint8, np.uint16) and values.ndim == 2 and values.size:
        return _by_histogram(values, void, keep_zero)
    return _by_masks(values, void, keep_zero)


def _by_histogram(values: Array, void: Sequence[int], keep_zero: bool) -> Prepared:
    counts = histogram(values)
    hit = sorted({v for v in void if 0 <= v < len(counts) and counts[v]})
    keep_zero = keep_zero and bool(counts[0]) and 0 not in void
    if not hit and not keep_zero:
        return Prepared(values, counts)
    remap = [v for v in hit if v]  # void values other than 0 (which is 0 already)
    if not remap and not keep_zero:  # only value 0 is void: nothing moves
        return Prepared(values, counts, values == 0)
    unused = np.flatnonzero(counts[1:] == 0)  # void values occur, so none of them is unused
    if keep_zero and not unused.size:  # every value occurs: leave the dtype's range
        return _by_masks(values, void, keep_zero)
    table = np.arange(len(counts), dtype=values.dtype)
    table[remap] = 0
    zero = int(unused[0]) + 1 if keep_zero else None
    new_counts = counts.copy()
    new_counts[remap] = 0
    new_counts[0] = int(counts[remap].sum()) + (0 if keep_zero else int(counts[0]))
    if zero is not None:
        table[0] = zero
        new_counts[zero] = counts[0]
    # the values as read stay untouched (a new array is made), so the mask can wait
    mask = functools.partial(_void_pixels, values, hit) if hit else None
    return Prepared(lookup(values, table), new_counts, mask, zero)


def _void_pixels(values: Array, hit: list[int]) -> BoolArray:
    """Where ``values`` (as read, before void became 0) holds a void value."""
    if values.dtype == np.uint8:
        table = np.zeros(256, dtype=np.uint8)
        table[hit] = 1
        flags: BoolArray = lookup(values, table).view(np.bool_)
        return flags
    return np.isin(values, hit)


def _by_masks(values: Array, void: Sequence[int], keep_zero: bool) -> Prepared:
    mask = np.isin(values, list(void)) if void else None
    if mask is not None and not mask.any():
        mask = None
    zeros = values == 0 if keep_zero and 0 not in void else None
    if zeros is not None and not zeros.any():
        zeros = None
    if mask is None and zeros is None:
        return Prepared(values)
    out = values.astype(np.int32 if values.dtype.itemsize <= 2 else values.dtype)
    zero = None
    if zeros is not None:
        zero = int(out.max()) + 1
        out[zeros] = zero
    if mask is not None:
        out[mask] = 0
    return Prepared(out, None, mask, zero)
