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


# in a fresh interpreter: a long test process may have had its allocator tuned by a library
FREED_THEN_TRIMMED = """
from prelabel.collector import trim_heap

def resident_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

freed, kept = [], []
for _ in range(600):
    freed.append(bytearray(100_000))  # under glibc's mmap threshold: from the heap
    kept.append(bytearray(1000))  # over Python's small-object size: from the heap too
del freed
before = resident_mb()
trim_heap()
print(before - resident_mb(), len(kept))
"""


@pytest.mark.skipif(not _has_malloc_trim(), reason="glibc's malloc_trim only")
def test_trim_heap_hands_freed_heap_memory_back() -> None:
    """Blocks freed in the middle of the heap (a small one kept above each) stay resident
    until the heap is trimmed."""
    run = subprocess.run(
        [sys.executable, "-c", FREED_THEN_TRIMMED], capture_output=True, text=True, check=True
    )
    released, kept = run.stdout.split()
    assert float(released) > 30  # of the 60 MB freed
    assert kept == "600"
