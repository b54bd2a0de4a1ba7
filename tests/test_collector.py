"""When the cyclic garbage collector runs: paused for bulk parsing, full collections rarer
for a whole conversion, and the collector's settings as they were after either; freed heap
memory handed back to the system."""

from __future__ import annotations

import ctypes
import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES

from prelabel.collector import FULL_RARER, paused_gc, rare_full_collections
from prelabel.config.load import load_config
from prelabel.model import Box, Dataset, Instance, Item, SourceRef
from prelabel.pipeline import convert


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    """A failing test leaves the collector as it found it."""
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()


def test_paused_gc_stops_collection_and_restores_it_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_rare_full_collections_raises_only_the_full_threshold_and_restores_it() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(ValueError), rare_full_collections():
        assert gc.get_threshold() == (700, 10, 10 * FULL_RARER)
        raise ValueError
    assert gc.get_threshold() == (700, 10, 10)


def test_young_collections_go_on_and_find_a_dropped_cycle() -> None:
    class Node:
        other: Node

    gc.set_threshold(700, 10, 10)
    gc.collect()
    young = gc.get_stats()[0]["collections"]
    with rare_full_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        keep = [[n] for n in range(20_000)]  # allocations that trigger young collections
        assert ref() is None
        assert gc.get_stats()[0]["collections"] > young
    del keep


def test_convert_runs_with_rare_full_collections_and_restores_the_collector(
    tmp_path: Path,
) -> None:
    config = load_config(FIXTURES / "configs" / "imageannotation.toml")
    seen: list[tuple[int, int, int]] = []

    def items() -> Iterator[Item]:
        for n in range(3):
            seen.append(gc.get_threshold())
            box = Instance("car", Box(10, 10, 20, 10), SourceRef("dets.json", f"results[{n}]"))
            fields = {"file_name": f"{n}.jpg"}
            yield Item(key=str(n), fields=fields, width=100, height=80, instances=[box])

    gc.set_threshold(700, 10, 10)
    report = convert(Dataset(format="test", items=items()), config, tmp_path / "out")
    assert report.totals()["objects_out"] == 3
    assert seen == [(700, 10, 10 * FULL_RARER)] * 3
    assert gc.get_threshold() == (700, 10, 10)


def _has_malloc_trim() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "malloc_trim")
    except OSError:
        return False


# In a fresh interpreter (a long test process may have had its allocator tuned by a
# library). glibc's free() itself gives back a free top of the heap above its trim
# threshold, and where the small blocks land depends on the holes imports left (which vary
# with hash randomization): the threshold is set out of reach first, so only malloc_trim
# can hand the freed blocks back, and the blocks are checked to be resident before it.
FREED_THEN_TRIMMED = """
import ctypes

libc = ctypes.CDLL("libc.so.6")
libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free() never trims
libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: 100 kB blocks come from the heap

from prelabel.collector import trim_heap

def resident_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

freed, kept = [], []
for _ in range(600):
    freed.append(bytearray(100_000))
    kept.append(bytearray(1000))
held = resident_mb()
del freed
before = resident_mb()
trim_heap()
print(held - before, before - resident_mb(), len(kept))
"""


@pytest.mark.skipif(not _has_malloc_trim(), reason="glibc's malloc_trim only")
def test_trim_heap_hands_freed_heap_memory_back() -> None:
    """60 MB of blocks freed in the heap stay resident until the heap is trimmed."""
    run = subprocess.run(
        [sys.executable, "-c", FREED_THEN_TRIMMED], capture_output=True, text=True, check=True
    )
    on_free, on_trim, kept = run.stdout.split()
    assert float(on_free) < 5  # free() kept them
    assert float(on_trim) > 30  # of the 60 MB freed
    assert kept == "600"
