"""``prelabel formats``: the readers, the task types they write and what each supports."""

from __future__ import annotations

import click
import orjson

from prelabel.config.task_types import TASK_TYPES
from prelabel.converters.registry import READERS

# the task types a reader can write, in name order
TARGETS = sorted(TASK_TYPES)


def formats_table() -> list[dict[str, object]]:
    """One entry per registered reader: name, description and per-target support."""
    return [
        {"reader": name, "reads": entry.reads, "targets": dict(entry.targets)}
        for name, entry in sorted(READERS.items())
    ]


@click.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON on stdout.")
def formats_command(as_json: bool) -> None:
    """List the readers, the task types and what each reader supports."""
    table = formats_table()
    if as_json:
        click.echo(orjson.dumps({"readers": table, "targets": list(TARGETS)}).decode())
        return
    for entry in table:
        click.echo(f"{entry['reader']}: {entry['reads']}")
        targets = entry["targets"]
        assert isinstance(targets, dict)
        for target in TARGETS:
            click.echo(f"  {target:<24} {targets.get(target, '-')}")
