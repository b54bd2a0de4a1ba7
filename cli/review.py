"""``prelabel report DIR``: one self-contained HTML page to review a conversion."""

from __future__ import annotations

import click
import orjson

from prelabel.cli.options import output_options
from prelabel.cli.preview import (
    images_option,
    load_optional_config,
    optional_config_option,
    progress_factory,
)
from prelabel.review.page import write_review

# the page embeds every thumbnail (~15 kB each): keep a 100k-task run's page openable
DEFAULT_THUMBNAILS = 500


@click.command("report")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@images_option
@click.option(
    "--out",
    "-o",
    "page",
    type=click.Path(dir_okay=False),
    help="HTML file to write (default DIR/review.html); previews go beside it.",
)
@click.option(
    "--max",
    "-n",
    "limit",
    type=click.IntRange(min=1),
    default=DEFAULT_THUMBNAILS,
    show_default=True,
    help="Thumbnails for at most N tasks (the table and totals cover all).",
)
@optional_config_option
@output_options
def report_command(
    out_dir: str,
    images: str | None,
    page: str | None,
    limit: int | None,
    config_path: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Write one HTML page to review DIR before submitting.

    The page opens from disk (no server, no network): totals from report.json,
    the fixed and dropped objects with reasons (filter by reason, label, outcome),
    an IoU histogram of traced masks, and a thumbnail per task that opens its full
    preview (written to <page>_previews/ beside the page). Images are found as for
    `preview`.

    \b
    Example:
        prelabel report out/ --images val2017/ && xdg-open out/review.html
    """
    config = load_optional_config(config_path)
    progress = progress_factory(quiet)
    result = write_review(out_dir, images, page, limit=limit, progress=progress, config=config)
    if not quiet:
        click.echo(f"wrote {result.path} ({len(result.previews)} preview(s))", err=True)
    if as_json:
        summary = {
            "page": str(result.path),
            "previews": [str(p.path) for p in result.previews],
            "images_found": sum(p.image_found for p in result.previews),
        }
        click.echo(orjson.dumps(summary).decode())
