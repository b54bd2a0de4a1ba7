"""``prelabel sandbox``: a local Scale-compatible server with fault injection."""

from __future__ import annotations

from pathlib import Path

import click

from prelabel.config.rules import RELAXABLE
from prelabel.sandbox.complete import Completion
from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import Sandbox, serve_forever

_RATE = click.FloatRange(0, 1)

complete_option = click.option(
    "--complete",
    type=click.Choice(["accept", "edit"]),
    default=None,
    help="Complete each created task: accept the prelabels, or edit them (seeded).",
)


def completion_of(mode: str | None, rate: float = 0.3, seed: int = 0) -> Completion | None:
    """The sandbox's completion settings for ``--complete`` (None: tasks stay pending)."""
    if mode is None:
        return None
    return Completion("edit" if mode == "edit" else "accept", rate, seed)


@click.command("sandbox")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0 = any free port).",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False),
    default="prelabel-sandbox",
    show_default=True,
    help="Directory for sandbox.sqlite and uploaded files/.",
)
@click.option(
    "--require-key", default=None, help="Accept only this API key (default: any non-empty key)."
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Added latency per request, milliseconds.",
)
@click.option(
    "--error-after",
    type=_RATE,
    default=0,
    show_default=True,
    help="Rate of 500s returned AFTER the work is done (the task exists).",
)
@click.option(
    "--error-before",
    type=_RATE,
    default=0,
    show_default=True,
    help="Rate of 500s returned without doing anything.",
)
@click.option(
    "--throttle",
    type=_RATE,
    default=0,
    show_default=True,
    help="Rate of 429 responses carrying Retry-After.",
)
@click.option(
    "--retry-after",
    type=click.FloatRange(min=0),
    default=1,
    show_default=True,
    help="Seconds in the 429's Retry-After header.",
)
@click.option(
    "--drop",
    type=_RATE,
    default=0,
    show_default=True,
    help="Rate of connections closed without a response (half after the work).",
)
@click.option(
    "--slow",
    type=_RATE,
    default=0,
    show_default=True,
    help="Rate of responses delayed by --slow-seconds (after the work is done).",
)
@click.option(
    "--slow-seconds",
    type=click.FloatRange(min=0),
    default=90,
    show_default=True,
    help="Delay of a slow response; longer than the client's read timeout.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the fault and edit RNGs."
)
@complete_option
@click.option(
    "--edit-rate",
    type=_RATE,
    default=0.3,
    show_default=True,
    help="With --complete edit: chance that an object is edited, and that one is added.",
)
@click.option(
    "--lenient",
    "lenient",
    multiple=True,
    type=click.Choice(RELAXABLE),
    metavar="RULE",
    help=f"Do not enforce RULE, one Scale does not document (repeatable): {', '.join(RELAXABLE)}.",
)
def sandbox_command(port: int, store: str, require_key: str | None, latency_ms: float,
                    error_after: float, error_before: float, throttle: float, retry_after: float,
                    drop: float, slow: float, slow_seconds: float, seed: int,
                    complete: str | None, edit_rate: float,
                    lenient: tuple[str, ...]) -> None:  # fmt: skip
    """Run a local Scale-compatible API on 127.0.0.1 until Ctrl-C.

    \b
    Serves /v1: task create/get/list (unique_id, project, batch, status
    filters; limit/next_token paging; 409 on reuse), cancel (clear_unique_id),
    file upload, batches, Basic auth. Every task body is checked against the
    rule book like Scale would (404 unknown task type, 400 naming the field
    and rule); undocumented rules are strict unless --lenient. Stores
    everything it receives in STORE.
    --complete accept finishes each task with the prelabels as sent;
    --complete edit applies seeded edits (moves, deletions, additions, label
    changes) and writes each to STORE/edits.jsonl. Results are served at
    /results/...; a callback_url on this machine gets Scale's callback (the
    sandbox never calls or fetches from other hosts).
    Point a client at it:  SCALE_API_URL=http://127.0.0.1:PORT/v1
    """
    completion = completion_of(complete, edit_rate, seed)
    faults = Faults(
        latency_ms=latency_ms, error_after=error_after, error_before=error_before,
        throttle=throttle, retry_after=retry_after, drop=drop, slow=slow,
        slow_s=slow_seconds, seed=seed,
    )  # fmt: skip

    def ready(sandbox: Sandbox) -> None:
        click.echo(f"sandbox listening on {sandbox.url}", err=True)
        click.echo(f"storing what it receives in {Path(store).resolve()}", err=True)
        click.echo(f"try: SCALE_API_URL={sandbox.url} SCALE_API_KEY=test_x prelabel submit DIR",
                   err=True)  # fmt: skip
        click.echo("Ctrl-C to stop", err=True)

    serve_forever(
        port=port,
        store=store,
        faults=faults,
        api_key=require_key,
        on_ready=ready,
        complete=completion,
        lenient=frozenset(lenient),
    )
