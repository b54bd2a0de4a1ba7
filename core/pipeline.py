"""convert: read -> filter labels and scores -> write task bodies -> report.

The output contract (README "Output", :mod:`prelabel.output.layout`): ``DIR/tasks.jsonl`` (one
``{"task_type", "body"}`` a line, body exactly the JSON for ``POST /v1/task/{task_type}``),
``DIR/artifacts/`` (files the bodies reference) and ``DIR/report.json`` (totals and one record
per input object).
Items stream through one at a time; nothing holds the whole input.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from prelabel.config.declare import option
from prelabel.config.load import TaskConfig
from prelabel.config.task_types import get_task_type
from prelabel.errors import PayloadError
from prelabel.filters import LabelFilter
from prelabel.model import Dataset, Frame, Item
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.layout import (
    ARTIFACTS_DIR,
    PARTIAL,
    REPORT_FILE,
    TAXONOMY_FILE,
    reset_outputs,
    write_file,
)
from prelabel.output.report import Report
from prelabel.output.tasks import TasksWriter
from prelabel.writers.context import WriteContext, Writer

# why --skip-empty leaves a task out (report.json skipped_tasks)
EMPTY_REASON = "no prelabel: no object of the item became an annotation"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvertOptions:
    """Options of one conversion, whatever the reader (``prelabel convert`` flags)."""

    SECTION: ClassVar[str] = "Convert options (every reader)"

    emit_taxonomy: bool = option(
        False,
        help="Also write DIR/taxonomy.json: the labels/geometries block derived from the data.",
    )
    skip_empty: bool = option(
        False,
        help="Leave out tasks that carry no prelabel (each is named in report.json's "
        "skipped_tasks).",
    )


def _progress(items: Any, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return nullcontext(items)
    from tqdm import tqdm

    return tqdm(items, desc="items", unit="item", file=sys.stderr, leave=False)


def _expand_rasters(holder: Item | Frame, raster_task: bool, filt: LabelFilter, task: str) -> None:
    """Route a raster: filtered in place for raster (segment) tasks, traced to instances
    otherwise."""
    if holder.raster is None:
        return
    if raster_task:
        holder.raster = filt.raster(holder.raster, task)
        return
    from prelabel.geometry.raster import raster_to_instances

    holder.instances.extend(raster_to_instances(holder.raster()))
    holder.raster = None


def prepare_item(item: Item, config: TaskConfig, filt: LabelFilter, task: str) -> None:
    """Apply the format-neutral filters to an item (and its frames) in place."""
    raster_task = get_task_type(config.task_type).raster
    if item.tracks is not None:  # a tracking item: rows are in the table, frames are empty
        item.tracks = filt.table(item.tracks, task)
        return
    holders: list[Item | Frame] = [item] if item.frames is None else list(item.frames)
    for holder in holders:
        _expand_rasters(holder, raster_task, filt, task)
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


def _write_tasks(
    items: Iterator[Item],
    config: TaskConfig,
    ctx: WriteContext,
    filt: LabelFilter,
    sink: TasksWriter,
    skip_empty: bool = False,
) -> list[dict[str, Any]]:
    writer: Writer = get_task_type(config.task_type).load_writer()
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
        expected, before = pending_objects(item), ctx.report.totals()
        artifacts = len(ctx.artifacts.written)
        body = writer(item, ctx)
        after = ctx.report.totals()
        recorded = after["objects_in"] - before["objects_in"]
        if expected is not None and recorded < expected:
            raise PayloadError(
                f"the {config.task_type} writer accounted for {recorded} of the {expected} "
                f"objects of item {item.key!r}; nothing may be lost without a record "
                "(this is a bug: please report it)"
            )
        for note in item.notes:
            ctx.report.note(note)
        entry = {"unique_id": task, "key": item.key, "width": item.width, "height": item.height}
        if after["annotations_out"] == before["annotations_out"]:  # no prelabel object
            if skip_empty:
                ctx.artifacts.discard(artifacts)
                ctx.report.skipped(task, item.key, EMPTY_REASON)
                continue
            entry["empty"] = True
        sink.write(config.task_type, body)
        tasks.append(entry)
    return tasks


def convert(
    dataset: Dataset,
    config: TaskConfig,
    out_dir: str | os.PathLike[str],
    options: ConvertOptions | None = None,
    *,
    source: str = "",
    progress: bool = False,
) -> Report:
    """Write ``tasks.jsonl``, ``artifacts/`` and ``report.json`` for ``dataset`` into ``out_dir``.

    Args:
        dataset: what a reader returned (its items are consumed once).
        config: the loaded task config.
        out_dir: the output directory (created; outputs of an earlier run are replaced,
            a submit journal is kept).
        options: the run's options (:class:`ConvertOptions`); defaults if None.
        source: input file stem(s), available to templates as ``{source}``.
        progress: show a progress bar on stderr when it is a terminal.

    Returns:
        The report (also written as ``report.json``).

    Raises:
        InputError: bad input (the file and object are named).
        PayloadError: an item cannot become a task body.
        LimitViolation: a geometry breaks a limit under ``on_violation = "error"``.

    Example:
        >>> report = convert(read_coco(["r.json"], CocoOptions(images="i.json")), cfg, "out")
    """
    out = Path(out_dir)
    reset_outputs(out)
    report = Report(
        format=dataset.format, task_type=config.task_type, spool=out / (REPORT_FILE + PARTIAL)
    )
    store = ArtifactStore(out / ARTIFACTS_DIR, config.prelabel.artifact_url)
    ctx = WriteContext(config, report, store, source)
    filt = LabelFilter(config, report)
    try:
        source_items = dataset.items
        if not get_task_type(config.task_type).video:  # one task per image: split videos
            source_items = frame_items(source_items)
        with TasksWriter(out) as sink, _progress(source_items, progress) as items:
            skip = options is not None and options.skip_empty
            tasks = _write_tasks(iter(items), config, ctx, filt, sink, skip)
    except BaseException:
        report.close()
        raise
    for dropped in dataset.dropped:
        report.dropped(dropped.source, dropped.reason, label=dropped.label)
    for note in dataset.notes:
        report.note(note)
    report.tasks = len(tasks)
    report.artifacts = len(store.written)
    report.task_items = tasks
    report.write(out / REPORT_FILE)
    if options is not None and options.emit_taxonomy:
        write_taxonomy(filt.seen, dataset, config, out / TAXONOMY_FILE)
    return report


def taxonomy_block(seen: dict[str, set[str]], dataset: Dataset, task_type: str) -> dict[str, Any]:
    """The Scale ``labels`` (raster tasks) or ``geometries`` block for the labels seen."""
    if get_task_type(task_type).raster:
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
    write_file(path, orjson.dumps(block, option=orjson.OPT_INDENT_2))


def validate_dir(out_dir: str | os.PathLike[str], config: TaskConfig) -> list[str]:
    """Re-check a written directory against the config; one message per violation."""
    from prelabel.validate import validate_output

    return validate_output(Path(out_dir), config)
