"""prelabel on a Ray cluster (``pip install "prelabel[ray]"``), on Ray Data's public API.

* :class:`ToTasks`, for ``Dataset.map_batches``: rows of model outputs in, rows of tasks out
  (:mod:`prelabel.batches` does the work; this class only holds one converter per worker,
  built once from a config path or mapping, and gives the rows a fixed Arrow schema);
* :class:`TaskSink`, for ``Dataset.write_datasink``: a **sharded** output directory, one
  shard per write task (``DIR/shards/NAME/tasks.jsonl`` and ``report.json``, artifacts in
  ``DIR/artifacts/``), committed in ``on_write_complete`` by writing ``DIR/shards.json``:
  a job that fails leaves no directory that looks complete (every prelabel command refuses
  a ``shards/`` folder without its manifest);
* readers for inputs that shard naturally: :func:`read_mask_pngs` and :func:`read_yolo_txt`
  (a folder read as ``prelabel convert`` reads it, one row per item, pixels decoded by the
  worker that converts it), :func:`read_json_files` (per-image JSON files of model outputs,
  read in parallel), and :func:`read_items` for any prelabel reader's dataset.

Example::

    ds = ray.data.read_images("s3://bucket/images", include_paths=True)
    ds = ds.map_batches(Model, concurrency=2)      # rows: key, width, height, boxes, ...
    ds = ds.map_batches(prelabel.ray.ToTasks, fn_constructor_kwargs={"config": CONFIG},
                        concurrency=2)
    ds.write_datasink(prelabel.ray.TaskSink("out/"))
    # then, in one process: prelabel submit out/

Submitting stays in one process (``prelabel submit DIR`` reads a sharded directory like a
plain one): the journal that makes it exactly-once and the token bucket that paces it are
one SQLite file and one clock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
from ray.data import Dataset
from ray.data.datasource import Datasink

from prelabel.batches import item_rows, json_object, tasks_from_batch
from prelabel.config.load import TaskConfig
from prelabel.converter import Converter
from prelabel.converters.masks.read import MaskOptions
from prelabel.converters.yolo.read import YoloOptions
from prelabel.model import Dataset as PrelabelDataset
from prelabel.output.directory import commit_shards, start_shards, write_shard

# the Arrow schema of task rows: bodies and reports as JSON text (a struct column would
# merge keys across rows and change the bytes), artifacts as name + bytes
TASK_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("task_type", pa.string()),
        ("key", pa.string()),
        ("skipped", pa.bool_()),
        ("body", pa.large_string()),
        ("artifacts", pa.list_(pa.struct([("name", pa.string()), ("data", pa.large_binary())]))),
        ("records", pa.large_string()),
        ("report", pa.large_string()),
    ]
)


class ToTasks:
    """A ``map_batches`` callable: rows of model outputs -> rows of tasks.

    Args:
        config: the task config: a path, a mapping, or a loaded ``TaskConfig``.
        skip_empty: leave out tasks that carry no prelabel (rows still come back, with
            ``skipped`` true, so their objects stay in the report).
        source: what ``{source}`` means in templates.

    Ray constructs it once per worker (``fn_constructor_kwargs={"config": CONFIG}``) and
    calls it with each batch in Ray's default format (a dict of numpy arrays). Input
    columns: ``key``, ``width``, ``height``, and ``attachment``, ``boxes``, ``masks`` (COCO
    RLE dicts), ``labels``, ``scores``... (:mod:`prelabel.batches`). Output columns:
    ``unique_id``, ``task_type``, ``key``, ``skipped``, ``body`` (JSON text), ``artifacts``,
    ``records`` (report.json lines), ``report`` (JSON: the task's share of the report).
    """

    def __init__(
        self,
        config: TaskConfig | str | os.PathLike[str] | Mapping[str, Any],
        *,
        skip_empty: bool = False,
        source: str = "",
    ) -> None:
        self.converter = Converter(config, source=source, skip_empty=skip_empty)

    def __call__(self, batch: Mapping[str, Sequence[Any]]) -> pa.Table:
        return pa.Table.from_pydict(tasks_from_batch(self.converter, batch), schema=TASK_SCHEMA)


class TaskSink(Datasink[dict[str, Any]]):  # type: ignore[misc]
    """A ``write_datasink`` target: a sharded prelabel output directory.

    Args:
        path: the output directory (created; what an earlier run wrote there is removed
            when the job starts, a submit journal is kept).
        format: what the report names as the input format.

        rows_per_shard: about how many tasks one write task (one shard) gets.

    Each write task writes one shard; ``on_write_complete`` checks that no unique_id is in
    two shards and writes ``shards.json``; ``on_write_failed`` removes the shards.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, format: str = "memory", rows_per_shard: int = 1000
    ) -> None:
        self.path = os.fspath(path)
        self.format = format
        self.rows_per_shard = rows_per_shard

    def get_name(self) -> str:
        return "PrelabelTasks"

    @property
    def min_rows_per_write(self) -> int:
        """Tasks per shard, about (Ray bundles blocks up to this many rows per write)."""
        return self.rows_per_shard

    def on_write_start(self, schema: Any = None) -> None:
        start_shards(self.path)

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        name = f"{int(getattr(ctx, 'task_idx', 0)):06d}-{uuid.uuid4().hex[:8]}"  # unique per try
        rows = (row for block in blocks for row in _rows(block))
        order = int(getattr(ctx, "task_idx", 0))
        return write_shard(self.path, name, rows, format=self.format, order=order)

    def on_write_complete(self, write_result: Any) -> None:
        returns = getattr(write_result, "write_returns", write_result)  # Ray < 2.39: a list
        commit_shards(self.path, [r for r in returns if r])

    def on_write_failed(self, error: Exception) -> None:
        start_shards(self.path)  # nothing half-written is left to look at


def _rows(block: Any) -> Iterable[Mapping[str, Any]]:
    table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)
    return table.to_pylist()  # type: ignore[no-any-return]


# --- readers for inputs that shard naturally -----------------------------------------------


def read_items(dataset: PrelabelDataset, **kwargs: Any) -> Dataset:
    """Any prelabel reader's dataset as a Ray dataset, one row per item (``key``, ``item``:
    the pickled item, or its recipe): :class:`ToTasks` converts the rows exactly as
    ``prelabel convert`` converts the items (:func:`prelabel.batches.item_rows`)."""
    return ray.data.from_items(list(item_rows(dataset)), **kwargs)


def read_mask_pngs(
    paths: str | Sequence[str], options: MaskOptions | None = None, **kwargs: Any
) -> Dataset:
    """A folder (or files) of mask PNGs, as ``prelabel convert masks`` reads them, one row
    per item. The reading here looks at PNG headers only; each row carries its PNG's path
    and how to read it, and the pixels are decoded by the worker that converts the row."""
    from prelabel.converters.masks.read import read_masks

    return read_items(read_masks(_listed(paths), options), **kwargs)


def read_yolo_txt(
    paths: str | Sequence[str], options: YoloOptions | None = None, **kwargs: Any
) -> Dataset:
    """A folder of YOLO txt files, as ``prelabel convert yolo`` reads it, one row per
    image."""
    from prelabel.converters.yolo.read import read_yolo

    return read_items(read_yolo(_listed(paths), options), **kwargs)


def read_json_files(paths: str | Sequence[str], **kwargs: Any) -> Dataset:
    """Per-image JSON files of model outputs, read in parallel: each file is one object
    with the columns :class:`ToTasks` takes (``width``, ``height``, ``boxes``, ``masks``,
    ``labels``, ``scores``, ...; ``key`` defaults to the file's stem)."""
    files = ray.data.read_binary_files(
        _listed(paths), include_paths=True, file_extensions=["json"], **kwargs
    )
    return files.map(_json_row)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    doc = json_object(bytes(row["bytes"]), row["path"])
    return {"key": Path(row["path"]).stem, **doc}


def _listed(paths: str | Sequence[str]) -> list[str]:
    return [paths] if isinstance(paths, str) else list(paths)
