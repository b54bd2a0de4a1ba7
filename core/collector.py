"""When Python's cyclic garbage collector runs during bulk work, and when the C heap hands
freed memory back to the system.

Reading a big input makes millions of small containers (parsed results, frames, strings)
that hold no reference cycles: reference counting frees every one of them. While many of
them are alive at once (a chunk of parsed results waiting to be grouped), the collector
rescans them over and over, each full collection walking everything alive; pausing it for
such a stretch frees nothing later and costs nothing but that rescanning.

Column work over a million rows frees arrays of a few MB as it goes. glibc keeps them in its
heap for the next ones (reused without a page fault), so its resident size grows by what the
stage freed; :func:`trim_heap` gives that back once such a stage is over.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored as it was after it).

    For code that builds many acyclic objects: measured, pass 1 of a COCO results list
    spends about 45% less CPU time, building a video's frames about 3x less."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# a full collection is this many times rarer inside :func:`rare_full_collections`
FULL_RARER = 100


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """Young collections as usual, full ones :data:`FULL_RARER` times rarer, inside the
    block (the thresholds restored after it).

    For a long stretch that keeps more and more objects alive (a conversion's report, its
    claimed ids): each full collection walks all of them, and on a 300 MB COCO results
    file about 10 of them cost 5% of the CPU time. A cycle made and dropped inside the
    block is still found by the young collections; only one that lived long enough to be
    promoted waits longer."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, full * FULL_RARER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, full)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None


def trim_heap() -> None:
    """Give the free memory of the C heap back to the system (glibc's ``malloc_trim``; a
    no-op elsewhere): after the numpy stages of a million-row track table, before the
    stage that writes its text, so the two do not add up (about 50 MB on the MOT
    benchmark, whose peak stays under 300 MB).

    The alternative, having glibc map every large array on its own so ``del`` returns it
    at once, made each new array fault in fresh zeroed pages: the MOT benchmark spent a
    third of its time in the kernel doing that, 1.6-2.1 s against 1.1-1.5 s with this."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
