"""``prelabel convert coco INPUT...``: COCO dataset files, results lists and COCO-video."""

from __future__ import annotations

from typing import Any

import click

from prelabel.cli.convert import convert_options, run_convert
from prelabel.converters.coco.read import parse_image_size
from prelabel.errors import InputError


def _image_size(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        return parse_image_size(value)
    except InputError as exc:
        raise click.BadParameter(exc.reason) from None


@click.command("coco")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--images",
    "-i",
    type=click.Path(exists=True),
    help="Image source for a results list: the COCO dataset file, or a folder of images "
    "(id = last digits of the file name; sizes from file headers).",
)
@click.option(
    "--image-size",
    callback=_image_size,
    metavar="WxH",
    help="Size of every image when a results list has no image source.",
)
@click.option(
    "--keypoint-threshold",
    type=click.FloatRange(0, 1),
    help="Drop predicted keypoints whose confidence is below this.",
)
@click.option(
    "--keypoint-schema",
    type=click.Path(exists=True, dir_okay=False),
    help="A COCO file whose categories name the keypoints (e.g. person_keypoints_val2017.json).",
)
@click.option(
    "--only-with-results",
    is_flag=True,
    help="With --images a dataset file: emit only images that have results.",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    help="Frame rate of COCO-video input (frame timestamps; videoplaybackannotation needs it).",
)
@convert_options
def coco_command(inputs: tuple[str, ...], **kwargs: Any) -> None:
    """Convert COCO json: dataset files, results lists, CocoVID / YouTube-VIS, mmtracking.

    \b
    A results list needs --images or --image-size. Masks (RLE) go to
    segmentannotation as they are, or are traced to polygons for imageannotation.
    """
    run_convert("coco", list(inputs), kwargs)
