"""convert: read -> filter labels and scores -> write task bodies -> report.

The output contract (docs/output.md, :mod:`prelabel.output.layout`): ``DIR/tasks.jsonl`` (one
``{"task_type", "body"}`` a line, body exactly the JSON for ``POST /v1/task/{task_type}``),
``DIR/artifacts/`` (files the bodies reference) and ``DIR/report.json`` (totals and one record
per input object).
Items stream through one at a time (:class:`prelabel.converter.Converter`, the same object the
library converts with in memory); nothing holds the whole input. With ``workers`` above 1
(``--workers N``) they are converted in N processes and written here in the same order
(:mod:`prelabel.workers`): the same bytes.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from prelabel.collector import rare_full_collections
from prelabel.config.declare import option
from prelabel.config.load import TaskConfig
from prelabel.config.task_types import get_task_type
from prelabel.converter import Converter
from prelabel.model import Dataset
from prelabel.output.directory import OutputDir
from prelabel.output.layout import TAXONOMY_FILE, write_file
from prelabel.output.report import Report
from prelabel.workers import worker_count, write_in_workers

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
    workers: int = option(
        1,
        low=0,
        metavar="N",
        help="Convert in N processes (0: one per core). The output is byte for byte the "
        "one of --workers 1.",
    )


def _progress(items: Any, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return nullcontext(items)
    from tqdm import tqdm

    return tqdm(items, desc="items", unit="item", file=sys.stderr, leave=False)


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
    options = options or ConvertOptions()
    converter = Converter(
        config, format=dataset.format, source=source, skip_empty=options.skip_empty
    )
    with (
        rare_full_collections(),
        OutputDir(
            out_dir,
            format=dataset.format,
            task_type=config.task_type,
            artifact_url=config.prelabel.artifact_url,
        ) as out,
    ):
        workers = worker_count(options.workers)
        if workers == 1:
            # a recipe's item may keep plain objects as columns (the writers read them)
            made = dataset.items if dataset.recipes is None else (r() for r in dataset.recipes)
            with _progress(converter.task_items(made), progress) as items:
                for item in items:
                    converter.write(item, out)
        else:
            units = dataset.recipes if dataset.recipes is not None else dataset.items
            with _progress(units, progress) as sent:
                for _ in write_in_workers(converter, sent, workers, out):
                    pass
    report = out.finish(dataset.dropped, dataset.notes)
    if options.emit_taxonomy:
        write_taxonomy(converter.labels, dataset, config, Path(out_dir) / TAXONOMY_FILE)
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
