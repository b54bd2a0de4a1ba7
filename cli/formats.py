"""``prelabel formats``: the readers, the task types they write and what each supports."""

from __future__ import annotations

import click
import orjson

from prelabel.converters.registry import READERS

TARGETS = ("imageannotation", "segmentannotation", "videoannotation", "videoplaybackannotation")

# reader -> target -> what the reader's data becomes there (absent: not supported)
SUPPORT: dict[str, dict[str, str]] = {
    "coco": {
        "imageannotation": "box, polygon, point (keypoints)",
        "segmentannotation": "indexed PNG + labelMapping",
        "videoannotation": "per-frame list",
        "videoplaybackannotation": "hosted JSON keyed by uuid",
    },
    "masks": {
        "imageannotation": "polygon (holes kept)",
        "segmentannotation": "indexed PNG + labelMapping",
        "videoannotation": "polygon per frame",
        "videoplaybackannotation": "polygon per frame",
    },
    "mot": {
        "imageannotation": "box per frame",
        "videoannotation": "per-frame list",
        "videoplaybackannotation": "hosted JSON keyed by uuid",
    },
    "kitti": {
        "imageannotation": "box per frame",
        "videoannotation": "per-frame list",
        "videoplaybackannotation": "hosted JSON keyed by uuid",
    },
}


def formats_table() -> list[dict[str, object]]:
    """One entry per registered reader: name, description and per-target support."""
    return [
        {"reader": name, "reads": desc, "targets": SUPPORT.get(name, {})}
        for name, (_, _, desc) in sorted(READERS.items())
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
