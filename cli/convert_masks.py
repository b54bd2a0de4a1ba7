"""``prelabel convert masks MASKS... --config FILE --out DIR``: mask PNGs to Scale tasks."""

from __future__ import annotations

from typing import Any

import click

from prelabel.cli.convert import convert_options, run_convert
from prelabel.converters.masks.read import KINDS


@click.command("masks")
@click.argument("masks", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--images",
    "-i",
    type=click.Path(exists=True, file_okay=False),
    help="Image folder: pair masks by stem; sizes and file_name come from the images.",
)
@click.option(
    "--classes",
    type=click.Path(exists=True, dir_okay=False),
    help="Class names: text (line N = value N) or JSON {value: name}.",
)
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    help="Mask kind; detected from the file when omitted (palette/grey/16-bit: semantic, RGB: color).",
)
@click.option(
    "--colormap",
    help="Colour map for RGB masks: voc, camvid, or a dataset_meta.json/JSON/text file.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    help="Match off-palette colours to the nearest within this RGB distance (counted in the report).",
)
@click.option(
    "--void",
    type=int,
    multiple=True,
    help="Value read as unlabeled (repeatable; default 255).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False),
    help="Mask/image pairs: CSV (mask,image,attachment), JSON, or 'IMAGE MASK' lines.",
)
@click.option("--video", is_flag=True, help="Each MASKS folder is one video; files are frames.")
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    help="Frames per second of --video masks (needed for video attachments).",
)
@click.option(
    "--objects",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of VOC SegmentationObject instance PNGs beside the class masks.",
)
@click.option(
    "--panoptic",
    type=click.Path(exists=True, dir_okay=False),
    help="COCO panoptic JSON (segments_info + categories) for panoptic PNGs.",
)
@convert_options
def masks_command(masks: tuple[str, ...], **kwargs: Any) -> None:
    """Convert mask PNGs (files or folders): semantic, palette, colour, instance, panoptic.

    \b
    Examples:
        prelabel convert masks SegmentationClass/ --images JPEGImages/ \\
            --classes class_names.txt -c seg.toml -o out/
        prelabel convert masks panoptic/ --panoptic panoptic.json -c seg.toml -o out/
    """
    kwargs["void"] = list(kwargs["void"]) or None
    run_convert("masks", list(masks), kwargs)
