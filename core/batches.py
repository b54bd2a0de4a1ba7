"""Columns of model outputs -> columns of tasks: a plain function over one batch.

A batch is a mapping of column name -> sequence, one entry per row (image): what Ray Data
hands a ``map_batches`` function (numpy arrays), a pandas DataFrame's ``to_dict("list")``,
a Dask partition or a Spark ``mapInPandas`` frame. Nothing here knows an engine
(:mod:`prelabel.ray` wraps it for Ray Data).

Input columns: ``key``, ``width``, ``height`` (required), ``attachment`` and ``fields``, and
any keyword of :func:`prelabel.adapters.from_arrays` (``boxes``, ``box_format``, ``masks``
as COCO RLE dicts or dense arrays, ``polygons``, ``keypoints``, ``labels``, ``class_ids``,
``names``, ``scores``, ``track_ids``, ``keypoint_names``). A row's missing value (None, or a
float NaN) means the column is not given for that row. Arrays an engine nests as object
arrays (a list of boxes per row, an RLE dict whose ``size`` is an array) are unnested first.

Or one column ``item``: items a prelabel reader made, pickled (:func:`item_rows`: any
reader's input split into rows, each converted exactly as ``prelabel convert`` does).

Output columns (:data:`TASK_COLUMNS`), one row per task: what
:meth:`prelabel.Task.to_row` makes (``body`` is the JSON text ``tasks.jsonl`` holds).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from prelabel.adapters import from_arrays
from prelabel.converter import Converter
from prelabel.errors import InputError
from prelabel.model import Dataset, Dropped, Item, ItemRecipe

# the columns of a task row, in order (prelabel.Task.to_row)
TASK_COLUMNS = (
    "unique_id",
    "task_type",
    "key",
    "skipped",
    "body",
    "artifacts",
    "records",
    "report",
)
# the keywords of from_arrays a row may carry, besides key, width and height
ARRAY_COLUMNS = (
    "boxes",
    "box_format",
    "masks",
    "polygons",
    "keypoints",
    "labels",
    "class_ids",
    "names",
    "scores",
    "track_ids",
    "attachment",
    "keypoint_names",
    "fields",
)
REQUIRED = ("key", "width", "height")


def plain(value: Any) -> Any:
    """``value`` with the nesting engines add undone: object arrays and arrow-made arrays
    inside lists and dicts become lists; numeric arrays stay arrays."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [plain(v) for v in value.tolist()]
        return value
    if isinstance(value, Mapping):
        return {k: _listed(plain(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _listed(value: Any) -> Any:
    """Inside a dict (an RLE's ``size``, ``counts``), arrays are lists as JSON has them."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def row_count(batch: Mapping[str, Sequence[Any]]) -> int:
    """How many rows a batch holds (every column must hold that many).

    Raises:
        InputError: a required column is missing, or columns differ in length.
    """
    for name in REQUIRED:
        if name not in batch:
            raise InputError(f"the batch has no {name!r} column (columns: {sorted(batch)})")
    lengths = {name: len(column) for name, column in batch.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"batch columns differ in length: {lengths}")
    return lengths["key"]


def batch_items(batch: Mapping[str, Sequence[Any]]) -> list[Item]:
    """One image item per row of ``batch`` (:func:`prelabel.adapters.from_arrays`).

    Raises:
        InputError: a missing column, or a row the adapter refuses (naming its key).
    """
    count = row_count(batch)
    given = [name for name in ARRAY_COLUMNS if name in batch]
    items = []
    for i in range(count):
        kwargs = {name: plain(batch[name][i]) for name in given}
        kwargs = {name: value for name, value in kwargs.items() if not _missing(value)}
        key, width, height = (batch[name][i] for name in REQUIRED)
        items.append(from_arrays(str(key), int(width), int(height), **kwargs))
    return items


def tasks_from_batch(
    converter: Converter, batch: Mapping[str, Sequence[Any]]
) -> dict[str, list[Any]]:
    """Rows of model outputs -> rows of tasks (:data:`TASK_COLUMNS`), in row order, through
    ``converter`` (its report keeps the running totals).

    Raises:
        InputError, PayloadError, LimitViolation: as :meth:`prelabel.Converter.convert`.
    """
    columns: dict[str, list[Any]] = {name: [] for name in TASK_COLUMNS}
    items = unpickled_items(batch) if "item" in batch else batch_items(batch)
    for task in converter.convert_all(items, ship=True):
        for name, value in task.to_row().items():
            columns[name].append(value)
    return columns


# --- items a prelabel reader made, as rows -------------------------------------------------


def item_rows(dataset: Dataset) -> Iterator[dict[str, Any]]:
    """A reader's dataset as rows ``{"key", "item"}``, ``item`` the pickled item or, from
    a reader that gives them, its recipe (a mask PNG's path and how to read it: the pixels
    are read where the row is converted). What the reader noted or dropped while reading
    rides with the item it read it for (the dataset's opening notes with the first, its
    closing ones with the last), so the tasks' reports hold every object.
    """
    units: Iterable[Item | ItemRecipe] = (
        dataset.recipes if dataset.recipes is not None else dataset.items
    )
    dropped = notes = 0
    held: Item | ItemRecipe | None = None
    for unit in units:
        if held is not None:
            yield _row(held)
        held, dropped, notes = _carry(unit, dataset, dropped, notes)
    if held is not None:
        held, _, _ = _carry(held, dataset, dropped, notes)
        yield _row(held)


def _carry(
    unit: Item | ItemRecipe, dataset: Dataset, dropped: int, notes: int
) -> tuple[Item | ItemRecipe, int, int]:
    """Move what the reader recorded since the last unit onto ``unit`` (an item; a recipe
    carries its own)."""
    new_dropped, new_notes = dataset.dropped[dropped:], dataset.notes[notes:]
    if isinstance(unit, Item):
        unit.dropped.extend(new_dropped)
        unit.notes.extend(n for n in new_notes if n not in unit.notes)
    elif new_dropped or new_notes:
        unit = Carried(unit, list(new_notes), list(new_dropped))
    return unit, len(dataset.dropped), len(dataset.notes)


@dataclass(slots=True)
class Carried:
    """A recipe with what the reader noted or dropped before it: its item holds them too."""

    recipe: ItemRecipe
    notes: list[str]
    dropped: list[Dropped]

    @property
    def key(self) -> str:
        return self.recipe.key

    @property
    def weight(self) -> int:
        return self.recipe.weight

    def __call__(self) -> Item:
        item = self.recipe()
        item.dropped.extend(self.dropped)
        item.notes.extend(n for n in self.notes if n not in item.notes)
        return item


def _row(unit: Item | ItemRecipe) -> dict[str, Any]:
    return {"key": unit.key, "item": pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL)}


def unpickled_items(batch: Mapping[str, Sequence[Any]]) -> list[Item]:
    """The items of rows :func:`item_rows` made (recipes built here)."""
    items = []
    for data in batch["item"]:
        unit = pickle.loads(bytes(data))  # rows this job made (item_rows), not outside data
        items.append(unit if isinstance(unit, Item) else unit())
    return items


def json_object(data: bytes, path: str) -> dict[str, Any]:
    """One per-image JSON file of model outputs (an object of batch columns).

    Raises:
        InputError: not JSON, or not an object (naming the file).
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path) from None
    if not isinstance(doc, dict):
        raise InputError(
            "expected one JSON object of columns (width, height, boxes, ...)", path=path
        )
    return doc
