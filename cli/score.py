"""``prelabel score DIR FINAL``: compare the prelabels sent with the labels that came back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from prelabel.cli.options import output_options
from prelabel.cli.preview import images_option, progress_factory
from prelabel.score.run import score_dirs

SCORE_FILE = "score.json"


@click.command("score")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.argument("final", metavar="FINAL", type=click.Path(exists=True, file_okay=False))
@images_option
@click.option("--out", "-o", "page", type=click.Path(dir_okay=False),
              help="Review page to write with the score section [default: FINAL/review.html].")  # fmt: skip
@click.option("--no-html", is_flag=True, help="Write FINAL/score.json only, no page.")
@click.option("--worst", type=click.IntRange(min=0), default=8, show_default=True,
              help="Worst tasks shown on the page, sent beside final.")  # fmt: skip
@click.option("--max", "-n", "limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Task thumbnails on the page (the scores cover all tasks).")  # fmt: skip
@click.option("--match", type=click.Choice(["uuid", "iou"]), default="uuid", show_default=True,
              help="Pair sent and final image objects by uuid, or by IoU >= 0.5 (projects that issue new uuids).")  # fmt: skip
@output_options
def score_command(out_dir: str, final: str, **kwargs: Any) -> None:
    """Score the prelabels of DIR against the final labels in FINAL.

    \b
    Per task and per label: prelabels kept unchanged, edited (relabelled, moved,
    reshaped, retimed; with IoU and vertex moves), deleted, and objects labelers
    added; precision/recall of the prelabels at IoU 0.5/0.75/0.9; pixel accuracy
    and per-class IoU (segmentation); frames and id switches (video). Writes
    FINAL/score.json and the review page of DIR with a score section (per-label
    bars, worst tasks sent vs final).

    \b
    Example:
        prelabel score out/ final/ --images val2017/ --json
    """
    summary = score_dirs(out_dir, final, by_iou=kwargs["match"] == "iou")
    data = summary.as_dict()
    (Path(final) / SCORE_FILE).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    page = None
    if not kwargs["no_html"]:
        page = _page(out_dir, final, data, kwargs)
    if not kwargs["quiet"]:
        for line in _lines(data):
            click.echo(line, err=True)
        click.echo(f"wrote {Path(final) / SCORE_FILE}" + (f" and {page}" if page else ""), err=True)
    if kwargs["as_json"]:
        click.echo(orjson.dumps(data).decode())


def _page(out_dir: str, final: str, data: dict[str, Any], kwargs: dict[str, Any]) -> Path:
    from prelabel.review.page import write_review
    from prelabel.review.scores import score_section

    page = Path(kwargs["page"]) if kwargs["page"] else Path(final) / "review.html"

    def section(dest: Path, finder: Any) -> str:
        return score_section(data, dest, finder, page.parent, worst=kwargs["worst"])

    progress = progress_factory(kwargs["quiet"])
    result = write_review(out_dir, kwargs["images"], page, limit=kwargs["limit"], progress=progress,
                          sections=section)  # fmt: skip
    return result.path


def _lines(data: dict[str, Any]) -> list[str]:
    c = data["counts"]
    total = sum(c.values())
    share = f"{100 * c['kept'] / total:.1f}%" if total else "-"
    lines = [
        f"scored {data['tasks']} task(s): {c['kept']} kept, {c['edited']} edited, {c['deleted']}"
        f" deleted, {c['added']} added ({share} kept as sent)"
    ]
    for label, n in data["by_label"].items():
        lines.append(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in n.items()))
    at = data["precision_recall"]["overall"].get("0.5")
    if at:
        lines.append(f"  precision / recall at IoU 0.5: {at['precision']} / {at['recall']}")
    if data.get("segmentation"):
        lines.append(f"  pixel accuracy: {data['segmentation']['pixel_accuracy']}")
    if data.get("video"):
        lines.append(
            f"  video frames: {data['video']['frames']}; id switches: {data['video']['id_switches']}"
        )
    if data["tasks_missing"]:
        lines.append(
            f"  {len(data['tasks_missing'])} task(s) of DIR have no final labels (not imported)"
        )
    return lines
