"""``prelabel import [DIR] -o FINAL``: bring completed tasks back as COCO, masks or MOT."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from prelabel.cli.options import output_options
from prelabel.errors import InputError
from prelabel.responses.mot import Frames
from prelabel.responses.run import ImportRequest, ImportSummary, import_tasks
from prelabel.scale.client import DEFAULT_API_URL, RetryPolicy, ScaleClient, load_api_key

SANDBOX_KEY = "test_sandbox"
# a client with no key still downloads hosted results (sent without credentials elsewhere)
NO_KEY = "no-key"


@click.command("import")
@click.argument(
    "out_dir", metavar="[DIR]", required=False, type=click.Path(exists=True, file_okay=False)
)
@click.option("--out", "-o", "final", required=True, type=click.Path(file_okay=False),
              help="Folder for the final labels (FINAL): tasks.jsonl, report.json, exports.")  # fmt: skip
@click.option("--api-url", envvar="SCALE_API_URL", default=DEFAULT_API_URL, show_default=True,
              help="Scale v1 base URL (env SCALE_API_URL).")  # fmt: skip
@click.option("--api-key-file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the API key (default: env SCALE_API_KEY).")  # fmt: skip
@click.option("--sandbox", is_flag=True,
              help="Serve DIR/sandbox again (what `submit --sandbox` stored) and import from it.")  # fmt: skip
@click.option("--project", help="Import the completed tasks of this project (GET /v1/tasks).")
@click.option("--batch", help="Import the completed tasks of this batch (GET /v1/tasks).")
@click.option("--unique-id", "unique_ids", multiple=True,
              help="Import the task with this unique_id (repeatable).")  # fmt: skip
@click.option("--from-export", "export", type=click.Path(exists=True),
              help="A Scale export JSON (task list) or a folder of callback payloads, instead of the API.")  # fmt: skip
@click.option("--journal", type=click.Path(dir_okay=False),
              help="Submit journal naming DIR's task ids [default: DIR/journal.sqlite].")  # fmt: skip
@click.option("--first-frame", type=int, default=1, show_default=True,
              help="MOT export: the source's number of the first video frame (KITTI: 0).")  # fmt: skip
@click.option("--frame-key-base", type=click.IntRange(0, 1), default=0, show_default=True,
              help="MOT export: the videoplayback `key` of the first frame (as convert wrote it).")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Requests in flight at once.")  # fmt: skip
@click.option("--rate", type=click.FloatRange(min=0), default=25.0, show_default=True,
              help="API requests per second (token bucket); 0 = no limit. Downloads are not paced.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Read timeout per request, seconds (connect timeout is 10 s).")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True,
              help="Retries per request on connection errors, 408, 429 and 5xx (jittered backoff).")  # fmt: skip
@output_options
def import_command(out_dir: str | None, final: str, **kwargs: Any) -> None:
    """Fetch completed tasks and write their final labels as COCO, masks or MOT.

    \b
    Which tasks: DIR's (the unique_ids of DIR/tasks.jsonl, task ids from its
    submit journal), or --project / --batch / --unique-id (GET /v1/tasks, every
    page, completed only), or --from-export. Writes FINAL/tasks.jsonl (final
    labels in the shape prelabels are sent), report.json, coco.json (image
    tasks), masks/ instances/ panoptic/ panoptic.json (segmentation), mot/ and
    frames/ (video: tracker ids joined back through DIR's report). Task objects
    and hosted files already in FINAL are not fetched again.

    \b
    Example:
        prelabel import out/ -o final/
        prelabel score out/ final/
    """
    if kwargs["sandbox"] and out_dir is None:
        raise click.UsageError("--sandbox serves DIR/sandbox: give DIR")
    request = ImportRequest(
        final=final,
        out_dir=out_dir,
        project=kwargs["project"],
        batch=kwargs["batch"],
        unique_ids=tuple(kwargs["unique_ids"]),
        export=kwargs["export"],
        journal=kwargs["journal"],
        frames=Frames(kwargs["first_frame"], kwargs["frame_key_base"]),
        concurrency=kwargs["concurrency"],
    )
    with _client(out_dir, request, kwargs) as client:
        summary = import_tasks(request, client)
    _report(summary, kwargs)


@contextlib.contextmanager
def _client(
    out_dir: str | None, request: ImportRequest, kwargs: dict[str, Any]
) -> Iterator[ScaleClient]:
    options = {
        "max_connections": kwargs["concurrency"],
        "rate": kwargs["rate"],
        "read_timeout": kwargs["timeout"],
        "retry": RetryPolicy(attempts=kwargs["retries"] + 1),
    }
    if kwargs["sandbox"]:
        from prelabel.sandbox.server import run_sandbox

        store = Path(str(out_dir)) / "sandbox"
        if not (store / "sandbox.sqlite").is_file():
            raise InputError(
                "no sandbox store here (run `prelabel submit DIR --sandbox` first)", path=store
            )
        with (
            run_sandbox(store=store) as sandbox,
            ScaleClient(SANDBOX_KEY, api_url=sandbox.url, **options) as client,
        ):
            yield client
        return
    try:
        key = load_api_key(kwargs["api_key_file"])
    except InputError:
        if request.source != "export":
            raise
        key = NO_KEY
    with ScaleClient(key, api_url=kwargs["api_url"], **options) as client:
        yield client


def _report(summary: ImportSummary, kwargs: dict[str, Any]) -> None:
    data = summary.as_dict()
    if not kwargs["quiet"]:
        types = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_type.items())) or "none"
        click.echo(f"imported {summary.imported} task(s) ({types}) into {summary.final}", err=True)
        for reason, n in sorted(data["skipped_by_reason"].items()):
            click.echo(f"  skipped {n}: {reason}", err=True)
        click.echo(f"  fetched {summary.downloads} file(s), {summary.downloads_reused} already here;"
                   f" {summary.cached} task(s) from FINAL/responses", err=True)  # fmt: skip
        for line in _export_lines(summary.exports):
            click.echo(f"  wrote {line}", err=True)
        for note in summary.notes[:20]:
            click.echo(f"  note: {note}", err=True)
    if kwargs["as_json"]:
        click.echo(orjson.dumps(data).decode())


def _export_lines(exports: dict[str, Any]) -> list[str]:
    out = []
    if "coco" in exports:
        c = exports["coco"]
        out.append(f"coco.json: {c['images']} image(s), {c['annotations']} annotation(s)")
    if "masks" in exports:
        m = exports["masks"]
        out.append(
            f"masks/, instances/, panoptic/, panoptic.json: {m['masks']} image(s), {m['classes']} class(es)"
        )
    if "mot" in exports:
        out.append(f"mot/ and frames/: {', '.join(exports['mot']['sequences'])}")
    return out
