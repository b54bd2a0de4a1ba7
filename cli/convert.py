"""``prelabel convert FORMAT INPUT... --config FILE --out DIR``.

One subcommand per entry of the reader registry (:mod:`prelabel.converters.registry`),
generated from it: the entry's input argument, one flag per declared field of its options
class, then the options every conversion takes (``--config``, ``--out``,
:class:`~prelabel.pipeline.ConvertOptions`, the ``[prelabel]`` flags, ``--json``, ``-q``).
No format has a hand-written command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from prelabel.cli.options import (
    SectionedCommand,
    config_option,
    declared_options,
    given,
    out_option,
    output_options,
)
from prelabel.config.load import load_config
from prelabel.config.options import PrelabelOptions
from prelabel.converters.registry import READERS, ReaderEntry
from prelabel.output.layout import REPORT_FILE, TASKS_FILE
from prelabel.pipeline import ConvertOptions, convert
from prelabel.workers import worker_count


class ConvertGroup(click.Group):
    """One subcommand per registered reader, built when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(READERS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = READERS.get(cmd_name)
        return None if entry is None else reader_command(entry)


@click.group("convert", cls=ConvertGroup)
def convert_command() -> None:
    """Convert model outputs into Scale task bodies.

    \b
    Writes DIR/tasks.jsonl (one {"task_type", "body"} per line), DIR/artifacts/
    (mask PNGs, hosted hypothesis JSON) and DIR/report.json (every input object:
    converted, fixed or dropped, with the reason).
    """


def reader_command(entry: ReaderEntry) -> click.Command:
    """The ``convert <entry.name>`` command: the entry's argument and options, then the
    options every conversion takes."""
    options_class = entry.options_class()

    def run(**values: Any) -> None:
        given_inputs = values.pop(entry.inputs.name)
        inputs = list(given_inputs) if entry.inputs.many else [given_inputs]
        options = options_class(**given(options_class, values))
        run_convert(entry, inputs, options, values)

    kind = entry.inputs.kind
    f: Any = convert_options(run)
    f = declared_options(options_class)(f)
    f = click.argument(
        entry.inputs.name,
        nargs=-1 if entry.inputs.many else 1,
        required=entry.inputs.required,
        type=click.Path(exists=True, file_okay=kind != "dir", dir_okay=kind != "file"),
    )(f)
    command: click.Command = click.command(entry.name, cls=SectionedCommand, help=entry.help)(f)
    return command


def convert_options(f: Any) -> Any:
    """The options every ``convert FORMAT`` command takes, in the order --help lists them."""
    section = ConvertOptions.SECTION
    f = declared_options(PrelabelOptions, unset_default=True)(f)
    f = output_options(f, section)
    f = declared_options(ConvertOptions)(f)
    f = out_option(f, section)
    return config_option(f, section)


def run_convert(
    entry: ReaderEntry, inputs: list[str], options: Any, values: dict[str, Any]
) -> None:
    """Shared body of every ``convert FORMAT`` command: config, read, write, summarise.

    ``values`` holds the command's click parameters other than the reader's own.
    """
    overrides = given(PrelabelOptions, values)
    run = ConvertOptions(**given(ConvertOptions, values))
    out_dir = Path(values["out_dir"])
    quiet, as_json = values["quiet"], values["as_json"]
    config = load_config(values["config_path"], overrides)
    if entry.reads_in_workers:  # --workers N reads in N processes too
        dataset = entry.reader()(inputs, options, workers=worker_count(run.workers))
    else:
        dataset = entry.reader()(inputs, options)
    source = "+".join(Path(p).stem for p in inputs)
    report = convert(dataset, config, out_dir, run, source=source, progress=not quiet)
    if not quiet:
        for line in report.summary_lines():
            click.echo(line, err=True)
        click.echo(f"wrote {out_dir}/{TASKS_FILE} and {out_dir}/{REPORT_FILE}", err=True)
    if as_json:
        summary = {
            "out": str(out_dir),
            "totals": report.totals(),
            "dropped_by_reason": report.reasons(),
            "tasks_empty": report.empty_tasks(),
            "tasks_skipped": len(report.skipped_tasks),
        }
        click.echo(orjson.dumps(summary).decode())
