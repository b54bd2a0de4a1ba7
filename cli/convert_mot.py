"""``prelabel convert mot FILE...``: MOTChallenge ground truth, tracker results, detections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from prelabel.cli.convert import convert_options, run_convert
from prelabel.converters.tracking.parse import large_frees_to_os

F = TypeVar("F", bound=Callable[..., Any])


def parse_size(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, int] | None:
    """``WxH`` -> ``(W, H)``, both positive integers."""
    if value is None:
        return None
    w, sep, h = value.lower().partition("x")
    try:
        size = (int(w), int(h))
        if not sep or min(size) <= 0:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"expected WxH with positive integers, got {value!r}") from None
    return size


def tracking_options(f: F) -> F:
    """Options every tracking format shares (frame rate, size, bad rows, untracked rows)."""
    f = click.option(
        "--bad-rows",
        type=click.Choice(["error", "drop", "fix"]),
        default="error",
        show_default=True,
        help="A row that cannot be used: stop, drop it (reported with its line), or repair "
        "what can be repaired (reversed corners, negative sizes) and drop the rest.",
    )(f)
    f = click.option(
        "--untracked",
        is_flag=True,
        help="Rows with track id -1 become one-frame objects (else an error).",
    )(f)
    f = click.option(
        "--image-size",
        callback=parse_size,
        metavar="WxH",
        help="Frame size when no seqinfo.ini says it (boxes are clipped to it).",
    )(f)
    f = click.option(
        "--fps",
        type=click.FloatRange(min=0, min_open=True),
        help="The video's frame rate (overrides seqinfo frameRate).",
    )(f)
    return f


@click.command("mot")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@tracking_options
@click.option(
    "--seqinfo",
    type=click.Path(exists=True, dir_okay=False),
    help="seqinfo.ini for the inputs (default: found beside each file or one up).",
)
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False),
    help="Local copy of the video: fps, frame count and size from its header.",
)
@click.option("--label", help="Label of every box when the file has no class column.")
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Class names, one a line: class c is line c (default: labels.txt beside).",
)
@convert_options
def mot_command(inputs: tuple[str, ...], **kwargs: Any) -> None:
    """Convert MOTChallenge txt files (one video task per file).

    \b
    Column meaning is decided by the column count (6-10) and said in the report.
    Frames are 1-based; every frame 1..seqLength becomes a task frame.
    """
    large_frees_to_os()  # the CLI process is ours: give big freed arrays back at once
    run_convert("mot", list(inputs), kwargs)
