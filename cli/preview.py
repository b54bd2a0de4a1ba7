"""``prelabel preview DIR --images FOLDER``: draw each task's prelabels as a PNG."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
import orjson

from prelabel.cli.options import output_options
from prelabel.config.load import TaskConfig, load_config
from prelabel.output.layout import PREVIEW_DIR
from prelabel.review.preview import preview_dir


def progress_factory(quiet: bool, what: str = "tasks") -> Callable[[Iterable[Any]], Any] | None:
    """A tqdm wrapper on stderr (counts, rate, ETA) when stderr is a terminal and not quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def wrap(items: Iterable[Any]) -> Any:
        return tqdm(items, desc=what, unit="task", file=sys.stderr, leave=False)

    return wrap


def images_option(f: Any) -> Any:
    return click.option(
        "--images",
        "-i",
        type=click.Path(exists=True, file_okay=False),
        help="Folder with the images/frames (searched recursively by attachment file name, "
        "then by item key). Missing: plain canvases.",
    )(f)


def max_option(f: Any) -> Any:
    return click.option(
        "--max", "-n", "limit", type=click.IntRange(min=1), help="Draw at most N tasks."
    )(f)


def optional_config_option(f: Any) -> Any:
    return click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(exists=True, dir_okay=False),
        help="Task config used for `convert` (maps hosted artifact_url URLs back to files).",
    )(f)


def load_optional_config(path: str | None) -> TaskConfig | None:
    return load_config(path) if path else None


@click.command("preview")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@images_option
@click.option(
    "--out",
    "-o",
    "dest",
    type=click.Path(file_okay=False),
    help="Folder for the PNGs (default DIR/preview).",
)
@max_option
@optional_config_option
@click.option("--mp4", is_flag=True, help="Also write an annotated MP4 per video task.")
@output_options
def preview_command(
    out_dir: str,
    images: str | None,
    dest: str | None,
    limit: int | None,
    config_path: str | None,
    mp4: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Draw each task of DIR on its image: one PNG per task.

    DIR is the --out folder of `convert`. Boxes, polygons, lines, keypoints with
    names, segment masks as translucent fills; one colour per label with a legend;
    fixed objects dashed with '*'; dropped objects listed with their reasons.
    Video tasks become a contact sheet of sampled frames with track numbers.

    An image is found under --images by the file name of the task's attachment
    URL (video: of each frame URL), else by the item key as file stem; with
    several matches the longest matching path tail wins. Not found: a plain
    canvas of the task's size, with a note.

    \b
    Example:
        prelabel preview out/ --images val2017/ -o out/preview
    """
    target = Path(dest) if dest else Path(out_dir) / PREVIEW_DIR
    previews = preview_dir(
        out_dir,
        images,
        dest,
        limit=limit,
        mp4=mp4,
        progress=progress_factory(quiet),
        config=load_optional_config(config_path),
    )
    missing = [p.unique_id for p in previews if not p.image_found]
    if not quiet:
        click.echo(f"wrote {len(previews)} preview(s) to {target}", err=True)
        if missing:
            click.echo(f"  {len(missing)} without a local image (plain canvas)", err=True)
    if as_json:
        summary = {
            "out": str(target),
            "previews": [
                {
                    "unique_id": p.unique_id,
                    "path": str(p.path),
                    "image_found": p.image_found,
                    **({"mp4": str(p.mp4)} if p.mp4 else {}),
                }
                for p in previews
            ],
        }
        click.echo(orjson.dumps(summary).decode())
