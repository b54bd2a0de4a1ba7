"""Item-level conversion: one object that holds a loaded config and turns items into tasks.

:class:`Converter` is what every path runs: the library (``convert(item) -> Task``, in
memory), the CLI and :func:`prelabel.pipeline.convert` (``write(item, out)``, straight into
an output directory), and processes it is shipped to (it pickles, and is cheap to make). For
one item, in order: the item's unique_id (no two items may share one), the format-neutral
filters (label map, score thresholds, label set, top-k; rasters traced or filtered), the
task type's writer (named by the task-type registry) and a check that every object the
filters passed reached the report. The same item gives the same bytes whichever path runs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prelabel.config.load import TaskConfig, load_config
from prelabel.config.task_types import get_task_type
from prelabel.errors import PayloadError
from prelabel.filters import LabelFilter
from prelabel.model import Dropped, Frame, Item
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.directory import OutputDir
from prelabel.output.report import Report
from prelabel.output.task import Task
from prelabel.writers.context import WriteContext, Writer

# attributes rebuilt on first use in each process (not pickled)
_CACHES = ("_filter", "_writer")
# the artifact store of a context that only renders templates
_NO_FILES = ArtifactStore(None)
# why skip_empty (--skip-empty) leaves a task out (report.json skipped_tasks)
EMPTY_REASON = "no prelabel: no object of the item became an annotation"


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
    task_type = get_task_type(config.task_type)
    if item.tracks is not None:  # a tracking item: rows are in the table, frames are empty
        item.tracks = filt.table(item.tracks, task)
        return
    if item.columns is not None and not task_type.reads_columns:
        item.materialize()
    raster_task = task_type.raster
    holders: list[Item | Frame] = [item] if item.frames is None else list(item.frames)
    for holder in holders:
        _expand_rasters(holder, raster_task, filt, task)
        holder.instances = filt.instances(holder.instances, task)
    if item.columns is not None:
        item.columns = filt.columns(item.columns, task)


def pending_objects(item: Item) -> int | None:
    """How many objects the writer must account for (None when rasters hold them)."""
    if item.tracks is not None:
        return len(item.tracks.line)
    holders: list[Item | Frame] = [item] if item.frames is None else list(item.frames)
    if any(h.raster is not None for h in holders):
        return None
    return sum(len(h.instances) for h in holders) + len(item.columns or ())


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
        for n, frame in enumerate(frames):
            yield Item(
                key=f"{item.key}/{frame.number}",
                fields={**item.fields, **frame.fields, "frame": frame.number},
                width=item.width,
                height=item.height,
                instances=frame.instances if rows is None else rows[frame.index],
                raster=frame.raster,
                notes=item.notes,
                dropped=[] if n else item.dropped,  # recorded once, in the first frame's task
            )


class Converter:
    """Turns items into Scale tasks one at a time, with no output directory.

    Args:
        config: a loaded :class:`~prelabel.config.load.TaskConfig`, or what
            :func:`~prelabel.config.load.load_config` takes (a config file path or a mapping).
        format: what the report names as the input format (a reader's name, or ``memory``).
        source: input file stem(s), available to templates as ``{source}``.
        skip_empty: leave out tasks that carry no prelabel (``--skip-empty``): such a task
            comes back with :attr:`~prelabel.Task.skipped` set, no artifacts, and its entry in
            the report's ``skipped_tasks``; an output directory writes no line for it.

    ``report`` holds the totals of the tasks :meth:`convert` has returned so far (records are
    kept by each task, not here). A converter pickles with its config and running state; the
    label map and writer it loads on first use are loaded again where it is unpickled.

    Example:
        >>> converter = Converter({"task_type": "imageannotation", "params": {...}})
        >>> task = converter.convert(adapters.from_arrays("img1", 640, 480, boxes=xyxy,
        ...                                               labels=["car"]))
        >>> task.body["hypothesis"]["annotations"][0]["type"]
        'box'
    """

    def __init__(
        self,
        config: TaskConfig | str | os.PathLike[str] | Mapping[str, Any],
        *,
        format: str = "memory",
        source: str = "",
        skip_empty: bool = False,
    ) -> None:
        self.config = config if isinstance(config, TaskConfig) else load_config(config)
        self.format = format
        self.source = source
        self.skip_empty = skip_empty
        self.report = Report(format=format, task_type=self.config.task_type)
        # labels kept by model geometry kind, over every item so far (--emit-taxonomy)
        self.labels: dict[str, set[str]] = {}
        self._unique_ids: dict[str, str] = {}
        self._filter: LabelFilter | None = None
        self._writer: Writer | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _CACHES}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._filter, self._writer = None, None

    @property
    def task_type(self) -> str:
        """The Scale task type every task gets."""
        return self.config.task_type

    def task_items(self, items: Iterable[Item]) -> Iterator[Item]:
        """The items that become one task each: for an image task type a video item
        becomes one item per frame (key ``<video key>/<frame number>``)."""
        if get_task_type(self.task_type).video:
            return iter(items)
        return frame_items(items)

    def convert(self, item: Item) -> Task:
        """One item -> one task, in memory: body, artifacts as bytes, the item's records.

        The item is consumed: the filters work on it in place (labels mapped, objects
        dropped), so convert each item once.

        Raises:
            InputError: a label the task lacks (without ``allow_unmatched_labels``).
            PayloadError: the item cannot become a body (no attachment URL, a unique_id an
                earlier item got, a video item for an image task type: see
                :meth:`convert_all`).
            LimitViolation: a geometry breaks a limit under ``on_violation = "error"``.
        """
        return self._task(item, Report(format=self.format, task_type=self.task_type))

    def ship(self, item: Item) -> Task:
        """:meth:`convert` for a task that goes to another process: its records are kept
        as report.json lines (``task.report.lines``), so the receiving side adds them to
        its report with no per-record work (:meth:`OutputDir.add
        <prelabel.output.directory.OutputDir.add>`)."""
        report = Report(format=self.format, task_type=self.task_type, lines=bytearray())
        return self._task(item, report)

    def _task(self, item: Item, report: Report) -> Task:
        store = ArtifactStore(None, self.config.prelabel.artifact_url)
        body, labels, _ = self._run(item, report, store)
        self.report.merge(report, records=False)
        kept = {kind: sorted(names) for kind, names in labels.items()}
        return Task(self.task_type, body, store.files, report, kept)

    def convert_all(self, items: Iterable[Item], *, ship: bool = False) -> Iterator[Task]:
        """:meth:`convert` (or with ``ship``, :meth:`ship`) over :meth:`task_items` (video
        items split for image tasks)."""
        make = self.ship if ship else self.convert
        for item in self.task_items(items):
            yield make(item)

    def write(self, item: Item, out: OutputDir) -> str:
        """Convert ``item`` straight into ``out``: the bytes ``out.add(convert(item))``
        writes, with records and artifacts written as they are made (a million-row track
        table is never held as one task). Totals go to ``out.report``; returns the unique_id.
        """
        body, _, kept = self._run(item, out.report, out.artifacts)
        if kept:
            out.write_body(self.task_type, body)
        return str(body.get("unique_id", ""))

    def unique_id(self, item: Item) -> str:
        """The unique_id ``item``'s task gets (the ``unique_id`` template over its fields).

        Raises:
            PayloadError: the template names a field the item lacks.
        """
        return WriteContext(self.config, self.report, _NO_FILES, self.source).unique_id(item)

    def claim(self, unique_id: str, key: str) -> None:
        """Note that item ``key`` made the task ``unique_id`` (tasks made elsewhere, e.g. by
        worker processes, are checked here: no two items may share a unique_id).

        Raises:
            PayloadError: an earlier item made a task with this unique_id.
        """
        self._unique_ids[self._unclaimed(unique_id, key)] = key

    # --- one item ---------------------------------------------------------------------

    def _run(
        self, item: Item, report: Report, store: ArtifactStore
    ) -> tuple[dict[str, Any], dict[str, set[str]], bool]:
        """Filter and write one item, recording into ``report`` and ``store``; False when
        the task is left out (``skip_empty`` and no prelabel)."""
        if item.frames is not None and not get_task_type(self.task_type).video:
            raise PayloadError(
                f"{self.task_type} makes one task per frame of a video item: "
                "use Converter.convert_all (or task_items) to split it",
                location=f"item {item.key}",
            )
        ctx = WriteContext(self.config, report, store, self.source)
        task = self._unclaimed(ctx.unique_id(item), item.key)
        filt = self._label_filter()
        filt.report, filt.seen = report, {}
        given = len(item.dropped)  # what the item's maker could not use, first
        self._record_dropped(item.dropped[:given], report, task)
        prepare_item(item, self.config, filt, task)
        expected, before = pending_objects(item), report.totals()
        written = len(store.written)
        body = self._load_writer()(item, ctx)
        after = report.totals()
        self._check_accounted(item, expected, after["objects_in"] - before["objects_in"])
        self._record_dropped(item.dropped[given:], report, task)  # its raster's, read just now
        for note in item.notes:
            report.note(note)
        for kind, names in filt.seen.items():
            self.labels.setdefault(kind, set()).update(names)
        self._unique_ids[task] = item.key  # claimed once the item made its task
        empty = after["annotations_out"] == before["annotations_out"]
        if empty and self.skip_empty:
            store.discard(written)
            report.skipped(task, item.key, EMPTY_REASON)
            return body, filt.seen, False
        entry = {"unique_id": task, "key": item.key, "width": item.width, "height": item.height}
        report.task_items.append({**entry, "empty": True} if empty else entry)
        report.tasks += 1
        report.artifacts += len(store.written) - written
        return body, filt.seen, True

    @staticmethod
    def _record_dropped(dropped: list[Dropped], report: Report, task: str) -> None:
        for d in dropped:
            report.dropped(d.source, d.reason, label=d.label, task=task)

    def _unclaimed(self, task: str, key: str) -> str:
        """``task``, which no earlier item may have made (an item that failed claimed none)."""
        if task in self._unique_ids:
            raise PayloadError(
                f"items {self._unique_ids[task]!r} and {key!r} both get unique_id {task!r}; "
                "make the unique_id template include a field that tells them apart"
            )
        return task

    def _check_accounted(self, item: Item, expected: int | None, recorded: int) -> None:
        if expected is not None and recorded < expected:
            raise PayloadError(
                f"the {self.task_type} writer accounted for {recorded} of the {expected} "
                f"objects of item {item.key!r}; nothing may be lost without a record "
                "(this is a bug: please report it)"
            )

    def _label_filter(self) -> LabelFilter:
        if self._filter is None:
            self._filter = LabelFilter(self.config, self.report)
        return self._filter

    def _load_writer(self) -> Writer:
        if self._writer is None:
            self._writer = get_task_type(self.task_type).load_writer()
        return self._writer
