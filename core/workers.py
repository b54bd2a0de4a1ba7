"""Converting in worker processes: ``prelabel convert --workers N``.

The reading process reads the input once (a big file is parsed and grouped once, then split
by item) and sends the items, a few at a time, to N processes that each hold a copy of the
:class:`~prelabel.converter.Converter` (pickled once, when the process starts). The tasks
come back in item order and the reading process writes them, so the output directory is
byte for byte the one a single process writes: the same lines in the same order, the same
artifacts, the same report.

What travels to a worker is small and picklable:

* an :class:`~prelabel.model.Item` as the reader made it; a lazy raster travels as its
  recipe (the PNG's path and how to read it, :mod:`prelabel.converters.masks.items`), read
  in the worker;
* or, from a reader that groups a big file (``Dataset.recipes``: a COCO results list), an
  :class:`~prelabel.model.ItemRecipe`: the item's grouped records as bytes, built into an
  item in the worker, so the reading process does no per-object work.

What comes back is each task's tasks.jsonl line already encoded, its artifacts and its
share of the report with the records already report.json lines (:meth:`Converter.ship
<prelabel.converter.Converter.ship>`): the reading process appends bytes to both files and
decodes no body.

Memory: at most ``2 * N`` chunks are in flight (sent or finished but not yet written), a
chunk being a few items (up to :data:`CHUNK_ITEMS`, or :data:`CHUNK_OBJECTS` objects), so
the reading process holds a bounded window and each worker one chunk's share.

Errors: each worker returns the error an item raised together with its unique_id; the
reading process raises the first one in item order, after checking the unique_id as one
process would (two items sharing one is reported first, as it is without workers).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from prelabel.converter import Converter
from prelabel.errors import PrelabelError, pool_result
from prelabel.model import Item, ItemRecipe
from prelabel.output.directory import OutputDir
from prelabel.output.report import Report
from prelabel.output.tasks import task_line

# a chunk sent to a worker: this many items at most ...
CHUNK_ITEMS = 16
# ... or items holding about this many objects (a raster counts as RASTER_WEIGHT)
CHUNK_OBJECTS = 2000
RASTER_WEIGHT = 200

Unit = Item | ItemRecipe

__all__ = [
    "worker_count",
    "write_in_workers",
]


def worker_count(workers: int) -> int:
    """How many processes ``--workers N`` means: N, or one per core for 0."""
    if workers < 0:
        raise ValueError(f"workers must be 0 (one per core) or more, not {workers}")
    return workers or os.cpu_count() or 1


@dataclass(slots=True)
class _Outcome:
    """One task as the writing process needs it (its line already encoded, so no body is
    pickled), or the error its item raised, with what the reading process checks."""

    unique_id: str | None
    key: str
    line: bytes | None = None  # the tasks.jsonl line; None for a skipped task
    artifacts: dict[str, bytes] = field(default_factory=dict)
    report: Report | None = None
    labels: dict[str, list[str]] = field(default_factory=dict)
    error: PrelabelError | None = None


# --- in the worker ------------------------------------------------------------------------

_converter: Converter | None = None


def _start(converter: Converter) -> None:
    global _converter
    _converter = converter


def _convert_chunk(units: list[Unit]) -> list[_Outcome]:
    converter = _converter
    assert converter is not None, "worker not started"
    out: list[_Outcome] = []
    for unit in units:
        try:
            item = unit if isinstance(unit, Item) else unit()
            for task_item in converter.task_items([item]):
                out.append(_ship(converter, task_item))
                if out[-1].error is not None:  # the reading process stops at the first error
                    return out
        except PrelabelError as exc:  # building the item failed: it has no unique_id yet
            out.append(_Outcome(None, unit.key, error=exc))
            return out
    return out


def _ship(converter: Converter, item: Item) -> _Outcome:
    try:
        task = converter.ship(item)
    except PrelabelError as exc:
        try:
            unique_id: str | None = converter.unique_id(item)
        except PrelabelError:
            unique_id = None
        return _Outcome(unique_id, item.key, error=exc)
    line = None if task.skipped else task_line(task.task_type, task.body)
    return _Outcome(task.unique_id, item.key, line, task.artifacts, task.report, task.labels)


# --- in the reading process ---------------------------------------------------------------


def _weight(unit: Unit) -> int:
    if not isinstance(unit, Item):
        return max(1, unit.weight)
    weight = len(unit.instances) + (RASTER_WEIGHT if unit.raster is not None else 0)
    if unit.tracks is not None:
        weight += len(unit.tracks)
    for frame in unit.frames or ():
        weight += len(frame.instances) + (RASTER_WEIGHT if frame.raster is not None else 0)
    return max(1, weight)


def _chunks(units: Iterable[Unit]) -> Iterator[list[Unit]]:
    chunk: list[Unit] = []
    weight = 0
    for unit in units:
        chunk.append(unit)
        weight += _weight(unit)
        if len(chunk) >= CHUNK_ITEMS or weight >= CHUNK_OBJECTS:
            yield chunk
            chunk, weight = [], 0
    if chunk:
        yield chunk


def _accept(converter: Converter, out: OutputDir, outcomes: list[_Outcome]) -> Iterator[str]:
    """Write the tasks of one chunk, checked as one process checks them; raises the first
    error."""
    for outcome in outcomes:
        if outcome.unique_id is not None:
            converter.claim(outcome.unique_id, outcome.key)
        if outcome.error is not None:
            raise outcome.error
        report = outcome.report
        assert report is not None
        converter.report.merge(report, records=False)
        for kind, names in outcome.labels.items():
            converter.labels.setdefault(kind, set()).update(names)
        out.add_line(outcome.line, outcome.artifacts, report)
        yield outcome.unique_id or ""


def write_in_workers(
    converter: Converter, units: Iterable[Unit], workers: int, out: OutputDir
) -> Iterator[str]:
    """Write the tasks of ``units`` (items, or recipes of items), made in ``workers``
    processes, into ``out`` in order, yielding each one's unique_id once written; at most
    ``2 * workers`` chunks in flight.

    Raises:
        PrelabelError: the first error an item raised, in item order (the same error one
            process raises).
        EnvironmentFailure: a worker process died (killed, out of memory).
    """
    window = 2 * workers
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),  # a clean interpreter: no state forked from here
        initializer=_start,
        initargs=(converter,),
    )
    pending: deque[Future[list[_Outcome]]] = deque()
    try:
        for chunk in _chunks(units):
            pending.append(pool.submit(_convert_chunk, chunk))
            if len(pending) >= window:
                yield from _accept(converter, out, pool_result(pending.popleft()))
        while pending:
            yield from _accept(converter, out, pool_result(pending.popleft()))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
