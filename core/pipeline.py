"""convert: read -> filter labels and scores -> write task bodies -> report.

The output contract (README "Output"): ``DIR/tasks.jsonl`` (one ``{"task_type", "body"}`` a
line, body exactly the JSON for ``POST /v1/task/{task_type}``), ``DIR/artifacts/`` (files the
bodies reference) and ``DIR/report.json`` (totals and one record per input object).
Items stream through one at a time; nothing holds the whole input.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

import orjson

from prelabel.config.load import TaskConfig
from prelabel.errors import PayloadError
from prelabel.filters import LabelFilter
from prelabel.model import Dataset, Frame, Item
from prelabel.output.report import Report
from prelabel.writers import get_writer
from prelabel.writers.context import ArtifactStore, WriteContext

TASKS_FILE = "tasks.jsonl"
REPORT_FILE = "report.json"
ARTIFACTS_DIR = "artifacts"
# task types whose tasks show one image: a video item becomes one task per frame
IMAGE_TASK_TYPES = ("imageannotation", "segmentannotation")
# what each model geometry kind becomes in a task taxonomy
TAXONOMY_KIND = {
    "mask": "polygon",
    "polygon": "polygon",
    "box": "box",
    "line": "line",
    "point": "point",
    "ellipse": "ellipse",
    "cuboid": "cuboid",
}


def _progress(items: Any, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return nullcontext(items)
    from tqdm import tqdm

    return tqdm(items, desc="items", unit="item", file=sys.stderr, leave=False)


def _expand_rasters(holder: Item | Frame, segment_task: bool, filt: LabelFilter, task: str) -> None:
    """Route a raster: filtered in place for segment tasks, traced to instances otherwise."""
    if holder.raster is None:
        return
    if segment_task:
        holder.raster = filt.raster(holder.raster, task)
        return
    from prelabel.geometry.raster import raster_to_instances

    holder.instances.extend(raster_to_instances(holder.raster()))
    holder.raster = None


def prepare_item(item: Item, config: TaskConfig, filt: LabelFilter, task: str) -> None:
    """Apply the format-neutral filters to an item (and its frames) in place."""
    segment_task = config.task_type == "segmentannotation"
    if item.tracks is not None:  # a tracking item: rows are in the table, frames are empty
        item.tracks = filt.table(item.tracks, task)
        return
    holders: list[Item | Frame] = [item] if item.frames is None else list(item.frames)
    for holder in holders:
        _expand_rasters(holder, segment_task, filt, task)
        holder.instances = filt.instances(holder.instances, task)


def pending_objects(item: Item) -> int | None:
    """How many objects the writer must account for (None when rasters hold them)."""
    if item.tracks is not None:
        return len(item.tracks.line)
    holders: list[Item | Frame] = [item] if item.frames is None else list(item.frames)
    if any(h.raster is not None for h in holders):
        return None
    return sum(len(h.instances) for h in holders)


def frame_items(items: Iterable[Item]) -> Iterator[Item]:
    """Image tasks from video items: one item per frame (key ``<video key>/<frame number>``,
    fields ``frame`` and the frame's own), so tracker output can feed per-image tasks."""
    for item in items:
        frames = item.frames
        if frames is None:
            yield item
            continue
        rows = None
        if item.tracks is not None:
            from prelabel.tracks.rows import frame_instances

            rows = frame_instances(item.tracks, len(frames))
        for frame in frames:
            yield Item(
                key=f"{item.key}/{frame.number}",
                fields={**item.fields, **frame.fields, "frame": frame.number},
                width=item.width,
                height=item.height,
                instances=frame.instances if rows is None else rows[frame.index],
                raster=frame.raster,
                notes=item.notes,
            )


def _reset_outputs(out: Path) -> None:
    """Remove outputs of an earlier conversion (never the submit journal)."""
    shutil.rmtree(out / ARTIFACTS_DIR, ignore_errors=True)
    for name in (TASKS_FILE, REPORT_FILE, "taxonomy.json"):
        (out / name).unlink(missing_ok=True)


def _write_tasks(
    items: Iterator[Item], config: TaskConfig, ctx: WriteContext, filt: LabelFilter, sink: IO[bytes]
) -> list[dict[str, Any]]:
    writer = get_writer(config.task_type)
    seen: dict[str, str] = {}
    tasks: list[dict[str, Any]] = []
    for item in items:
        task = ctx.unique_id(item)
        if task in seen:
            raise PayloadError(
                f"items {seen[task]!r} and {item.key!r} both get unique_id {task!r}; "
                "make the unique_id template include a field that tells them apart"
            )
        seen[task] = item.key
        prepare_item(item, config, filt, task)
        expected, before = pending_objects(item), ctx.report.totals()["objects_in"]
        body = writer(item, ctx)
        recorded = ctx.report.totals()["objects_in"] - before
        if expected is not None and recorded < expected:
            raise PayloadError(
                f"the {config.task_type} writer accounted for {recorded} of the {expected} "
                f"objects of item {item.key!r}; nothing may be lost without a record "
                "(this is a bug: please report it)"
            )
        sink.write(orjson.dumps({"task_type": config.task_type, "body": body}) + b"\n")
        for note in item.notes:
            ctx.report.note(note)
        tasks.append(
            {"unique_id": task, "key": item.key, "width": item.width, "height": item.height}
        )
    return tasks


def convert(
    dataset: Dataset,
    config: TaskConfig,
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    progress: bool = False,
    taxonomy: str | os.PathLike[str] | None = None,
) -> Report:
    """Write ``tasks.jsonl``, ``artifacts/`` and ``report.json`` for ``dataset`` into ``out_dir``.

    Args:
        dataset: what a reader returned (its items are consumed once).
        config: the loaded task config.
        out_dir: the output directory (created; outputs of an earlier run are replaced,
            a submit journal is kept).
        source: input file stem(s), available to templates as ``{source}``.
        progress: show a progress bar on stderr when it is a terminal.
        taxonomy: also write the labels / geometries block derived from the data here.

    Returns:
        The report (also written as ``report.json``).

    Raises:
        InputError: bad input (the file and object are named).
        PayloadError: an item cannot become a task body.
        LimitViolation: a geometry breaks a limit under ``on_violation = "error"``.

    Example:
        >>> report = convert(get_reader("coco")(["r.json"], images="i.json"), cfg, "out")
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _reset_outputs(out)
    report = Report(
        format=dataset.format, task_type=config.task_type, spool=out / (REPORT_FILE + ".partial")
    )
    store = ArtifactStore(out / ARTIFACTS_DIR, config.prelabel.artifact_url)
    ctx = WriteContext(config, report, store, source)
    filt = LabelFilter(config, report)
    partial = out / (TASKS_FILE + ".partial")
    try:
        source_items = dataset.items
        if config.task_type in IMAGE_TASK_TYPES:
            source_items = frame_items(source_items)
        with partial.open("wb") as sink, _progress(source_items, progress) as items:
            tasks = _write_tasks(iter(items), config, ctx, filt, sink)
        partial.replace(out / TASKS_FILE)
    except BaseException:
        report.close()
        raise
    finally:
        partial.unlink(missing_ok=True)
    for dropped in dataset.dropped:
        report.dropped(dropped.source, dropped.reason, label=dropped.label)
    for note in dataset.notes:
        report.note(note)
    report.tasks = len(tasks)
    report.artifacts = len(store.written)
    report.task_items = tasks
    report.write(out / REPORT_FILE)
    if taxonomy is not None:
        write_taxonomy(filt.seen, dataset, config, Path(taxonomy))
    return report


def taxonomy_block(seen: dict[str, set[str]], dataset: Dataset, task_type: str) -> dict[str, Any]:
    """The Scale ``labels`` (segmentation) or ``geometries`` block for the labels seen."""
    if task_type == "segmentannotation":
        seen_labels: set[str] = set().union(*seen.values()) if seen else set(dataset.labels)
        return {"labels": sorted(seen_labels)}
    by_kind: dict[str, set[str]] = {}
    for kind, labels in seen.items():
        by_kind.setdefault(TAXONOMY_KIND.get(kind, kind), set()).update(labels)
    if not by_kind:
        for kind in dataset.kinds or {"box"}:
            by_kind.setdefault(TAXONOMY_KIND.get(kind, kind), set()).update(dataset.labels)
    geometries = {k: {"objects_to_annotate": sorted(v)} for k, v in sorted(by_kind.items())}
    return {"geometries": geometries}


def write_taxonomy(
    seen: dict[str, set[str]], dataset: Dataset, config: TaskConfig, path: Path
) -> None:
    """Write the taxonomy block as JSON, ready to paste into ``[params]`` or a project."""
    block = taxonomy_block(seen, dataset, config.task_type)
    path.write_bytes(orjson.dumps(block, option=orjson.OPT_INDENT_2))


def validate_dir(out_dir: str | os.PathLike[str], config: TaskConfig) -> list[str]:
    """Re-check a written directory against the config; one message per violation."""
    from prelabel.validate import validate_output

    return validate_output(Path(out_dir), config)
