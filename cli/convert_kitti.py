"""``prelabel convert kitti FILE...``: KITTI tracking labels (17 columns) and results (18)."""

from __future__ import annotations

from typing import Any

import click

from prelabel.cli.convert import convert_options, run_convert
from prelabel.cli.convert_mot import tracking_options
from prelabel.converters.tracking.parse import large_frees_to_os


@click.command("kitti")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@tracking_options
@click.option(
    "--seq-length",
    type=click.IntRange(min=1),
    help="Number of frames of the sequence (frames 0..N-1).",
)
@convert_options
def kitti_command(inputs: tuple[str, ...], **kwargs: Any) -> None:
    """Convert KITTI tracking txt files (one video task per sequence file).

    \b
    Frames are 0-based; DontCare rows are ignore regions and are reported as dropped.
    """
    large_frees_to_os()  # the CLI process is ours: give big freed arrays back at once
    run_convert("kitti", list(inputs), kwargs)
