"""``prelabel convert FORMAT INPUT... --config FILE --out DIR``.

Each format is one subcommand in its own module ``prelabel.cli.convert_<format>``; they all
share the options of :func:`convert_options` and end in :func:`run_convert`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from prelabel.cli.options import (
    config_option,
    declared_options,
    given,
    out_option,
    output_options,
)
from prelabel.config.load import load_config
from prelabel.config.options import PrelabelOptions
from prelabel.converters.registry import READERS, get_reader
from prelabel.pipeline import convert

F = TypeVar("F", bound=Callable[..., Any])


class ConvertGroup(click.Group):
    """Loads ``convert_<format>`` modules lazily; a format not built yet is not listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in sorted(READERS) if self.get_command(ctx, n) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in READERS:
            return None
        try:
            module = importlib.import_module(f"prelabel.cli.convert_{cmd_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"prelabel.cli.convert_{cmd_name}":
                return None
            raise
        command: click.Command = getattr(module, f"{cmd_name}_command")
        return command


@click.group("convert", cls=ConvertGroup)
def convert_command() -> None:
    """Convert model outputs into Scale task bodies.

    \b
    Writes DIR/tasks.jsonl (one {"task_type", "body"} per line), DIR/artifacts/
    (mask PNGs, hosted hypothesis JSON) and DIR/report.json (every input object:
    converted, fixed or dropped, with the reason).
    """


def convert_options(f: F) -> F:
    """The options every ``convert FORMAT`` command takes."""
    f = output_options(f)
    f = click.option(
        "--emit-taxonomy",
        is_flag=True,
        help="Also write DIR/taxonomy.json: the labels/geometries block derived from the data.",
    )(f)
    f = declared_options(PrelabelOptions, unset_default=True)(f)
    f = out_option(f)
    f = config_option(f)
    return f


def run_convert(format_name: str, inputs: list[str], kwargs: dict[str, Any]) -> None:
    """Shared body of every ``convert FORMAT`` command: config, read, write, summarise.

    ``kwargs`` holds the command's click parameters; what is not a shared option is passed
    to the reader as keyword arguments.
    """
    overrides = given(PrelabelOptions, kwargs)
    config_path = kwargs.pop("config_path")
    out_dir = Path(kwargs.pop("out_dir"))
    quiet = kwargs.pop("quiet")
    as_json = kwargs.pop("as_json")
    taxonomy = kwargs.pop("emit_taxonomy")
    config = load_config(config_path, overrides)
    reader = get_reader(format_name)
    dataset = reader(inputs, **kwargs)
    source = "+".join(Path(p).stem for p in inputs)
    report = convert(
        dataset,
        config,
        out_dir,
        source=source,
        progress=not quiet,
        taxonomy=out_dir / "taxonomy.json" if taxonomy else None,
    )
    if not quiet:
        for line in report.summary_lines():
            click.echo(line, err=True)
        click.echo(f"wrote {out_dir}/tasks.jsonl and {out_dir}/report.json", err=True)
    if as_json:
        summary = {
            "out": str(out_dir),
            "totals": report.totals(),
            "dropped_by_reason": report.reasons(),
        }
        click.echo(orjson.dumps(summary).decode())
