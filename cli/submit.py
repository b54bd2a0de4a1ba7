"""``prelabel submit DIR``: create every task of a converted directory exactly once."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from tqdm import tqdm

from prelabel.cli.options import output_options
from prelabel.errors import SubmitError
from prelabel.output.artifacts import artifact_refs
from prelabel.output.layout import ARTIFACTS_DIR
from prelabel.output.tasks import TaskLine, read_tasks
from prelabel.scale.client import (
    DEFAULT_API_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    RetryPolicy,
    ScaleClient,
    load_api_key,
)
from prelabel.scale.runner import ON_CHANGED, Outcome, ProgressFn
from prelabel.scale.submit import SubmitSummary, submit_dir

SANDBOX_KEY = "test_sandbox"


@click.command("submit")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--api-url",
    envvar="SCALE_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="Scale v1 base URL (env SCALE_API_URL).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Start a local sandbox and submit there (no key, no network); store in DIR/sandbox/.",
)
@click.option(
    "--complete",
    type=click.Choice(["accept", "edit"]),
    default=None,
    help="With --sandbox: it completes each task (accept as sent, or seeded edits to"
    " DIR/sandbox/edits.jsonl), ready for `prelabel import DIR --sandbox`.",
)
@click.option("--dry-run", is_flag=True, help="Validate and show what would be sent; no network.")
@click.option("--yes", "-y", is_flag=True, help="Allow a live (billed) API key without asking.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=DEFAULT_RATE,
    show_default=True,
    help="Task creations per second (token bucket); 0 = no limit.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Read timeout per request, seconds (connect timeout is 10 s).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries per request on connection errors, 408, 429 and 5xx (jittered backoff).",
)
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the API key (default: env SCALE_API_KEY).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    help="SQLite journal of what was created [default: DIR/journal.sqlite].",
)
@click.option("--create-batch", is_flag=True, help="Create the batches the task bodies name.")
@click.option("--finalize", is_flag=True, help="Finalize each batch once all its tasks exist.")
@click.option(
    "--on-changed",
    type=click.Choice(ON_CHANGED),
    metavar="POLICY",
    default="error",
    show_default=True,
    help="A task that exists with a different body: error (report it, exit 5), skip (keep "
    "it), or replace (cancel it with clear_unique_id, create the new one; only before work "
    "starts).",
)
@output_options
def submit_command(out_dir: str, **kwargs: Any) -> None:  # fmt: skip
    """Create the tasks in DIR/tasks.jsonl on Scale, exactly once.

    \b
    Uploads DIR/artifacts/ files the bodies name (artifact://NAME) and substitutes
    the returned URLs; records every task and a digest of its body in a SQLite
    journal (and the digest in the task's metadata), so a rerun after a crash
    skips finished work, never creates a duplicate, and tells a task holding the
    same body (adopted) from one holding another (--on-changed). Stops at the
    first 401/403. Exit 0 only when every task exists with its body, else 5.
    """
    if kwargs["complete"] and not kwargs["sandbox"]:
        raise click.UsageError("--complete needs --sandbox (a real Scale project completes tasks)")
    tasks = read_tasks(out_dir)
    if kwargs["dry_run"]:
        _dry_run(out_dir, tasks, kwargs)
        return
    with _client(out_dir, kwargs) as client:
        _confirm_live(client, kwargs["yes"])
        with _progress(len(tasks), kwargs["quiet"]) as progress:
            summary = submit_dir(
                out_dir,
                client=client,
                journal_path=kwargs["journal_path"],
                target=kwargs.get("target"),
                concurrency=kwargs["concurrency"],
                create_batches=kwargs["create_batch"],
                finalize=kwargs["finalize"],
                on_changed=kwargs["on_changed"],
                progress=progress,
            )
    _report(summary, kwargs)
    if not summary.ok:
        raise SubmitError(_failure(summary), path=out_dir)


def _failure(summary: SubmitSummary) -> str:
    """The one error line of a run that did not bring every task about."""
    if summary.not_attempted:
        refused = next((f for f in summary.failures if f["kind"] in ("HTTP 401", "HTTP 403")), None)
        why = refused["reason"] if refused else "the API key was refused"
        return (
            f"the server refused the API key ({why}); stopped: {summary.not_attempted} of "
            f"{summary.total} tasks not attempted"
        )
    parts = []
    if summary.changed:
        parts.append(
            f"{summary.changed} task(s) already exist with a different body (listed above); "
            "--on-changed skip keeps them, --on-changed replace replaces them"
        )
    if summary.failed:
        parts.append(f"{summary.failed} of {summary.total} tasks failed; rerun to retry them")
    return "; ".join(parts) + f" (journal {summary.journal})"


@contextlib.contextmanager
def _client(out_dir: str, kwargs: dict[str, Any]) -> Iterator[ScaleClient]:
    options = {
        "max_connections": kwargs["concurrency"],
        "rate": kwargs["rate"],
        "read_timeout": kwargs["timeout"],
        "retry": RetryPolicy(attempts=kwargs["retries"] + 1),
    }
    if not kwargs["sandbox"]:
        key = load_api_key(kwargs["api_key_file"])
        with ScaleClient(key, api_url=kwargs["api_url"], **options) as client:
            yield client
        return
    from prelabel.cli.sandbox import completion_of
    from prelabel.sandbox.server import run_sandbox

    store = Path(out_dir) / "sandbox"
    kwargs["target"] = f"sandbox:{store.resolve()}"  # the port changes every run; the store not
    with run_sandbox(store=store, complete=completion_of(kwargs["complete"])) as sandbox:
        if not kwargs["quiet"]:
            click.echo(f"sandbox at {sandbox.url}, storing what it receives in {store}", err=True)
        with ScaleClient(SANDBOX_KEY, api_url=sandbox.url, **options) as client:
            yield client
        if not kwargs["quiet"]:
            click.echo(
                f"sandbox stored {len(sandbox.tasks())} tasks in {sandbox.store.path}"
                f" (uploads in {store / 'files'})",
                err=True,
            )


def _confirm_live(client: ScaleClient, yes: bool) -> None:
    if client.is_test_key or yes:
        return
    prompt = f"This is a LIVE key: tasks created at {client.api_url} are billed. Continue?"
    if sys.stdin.isatty() and sys.stderr.isatty():
        click.confirm(prompt, abort=True, err=True)
        return
    raise click.UsageError("a live API key creates billed tasks; pass --yes to confirm")


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[ProgressFn | None]:
    if quiet:
        yield None
        return
    counts: Counter[str] = Counter()
    if sys.stderr.isatty():
        with tqdm(total=total, unit="task", file=sys.stderr, desc="submit") as bar:

            def tick(outcome: Outcome, task: TaskLine) -> None:
                counts[outcome] += 1
                bar.update(1)
                bar.set_postfix(counts, refresh=False)

            yield tick
        return
    step = max(1, total // 10)

    def line(outcome: Outcome, task: TaskLine) -> None:
        counts[outcome] += 1
        done = sum(counts.values())
        if done % step == 0 or done == total:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            click.echo(f"submit: {done}/{total} ({parts})", err=True)

    yield line


def _report(summary: SubmitSummary, kwargs: dict[str, Any]) -> None:
    if not kwargs["quiet"]:
        for text in _summary_lines(summary):
            click.echo(text, err=True)
    if kwargs["as_json"]:
        click.echo(orjson.dumps(summary.as_dict()).decode())


def _summary_lines(summary: SubmitSummary) -> list[str]:
    extra = [
        f"{n} {name}"
        for name, n in (("replaced", summary.replaced), ("kept although changed", summary.kept),
                        ("changed", summary.changed), ("not attempted", summary.not_attempted))
        if n
    ]  # fmt: skip
    lines = [
        f"{summary.total} tasks: {summary.created} created, {summary.adopted} adopted,"
        f" {summary.skipped} already done, {summary.failed} failed"
        + "".join(f", {e}" for e in extra)
        + f" ({summary.elapsed_s:.1f} s, {summary.api_url})",
        f"uploads: {summary.uploads} sent, {summary.uploads_reused} reused from the journal",
    ]
    lines += [f"  failed: {n} × {kind}" for kind, n in sorted(summary.failed_by_reason.items())]
    lines += [
        f"  {f['unique_id']} (line {f['line']}): {f['reason']}" for f in summary.failures[:10]
    ]
    lines += [_change_line(c) for c in summary.changes[:20]]
    if len(summary.changes) > 20:
        lines.append(f"  ... and {len(summary.changes) - 20} more changed")
    if summary.batches_created or summary.batches_finalized:
        lines.append(
            f"batches created: {', '.join(summary.batches_created) or '-'};"
            f" finalized: {', '.join(summary.batches_finalized) or '-'}"
        )
    lines.append(f"journal: {summary.journal}")
    return lines


def _dry_run(out_dir: str, tasks: list[TaskLine], kwargs: dict[str, Any]) -> None:
    url = "<sandbox>" if kwargs["sandbox"] else kwargs["api_url"].rstrip("/")
    artifacts = sorted({name for t in tasks for _, name in artifact_refs(t.body)})
    size = sum((Path(out_dir) / ARTIFACTS_DIR / n).stat().st_size for n in artifacts)
    by_type = Counter(t.task_type for t in tasks)
    batches = sorted({t.batch for t in tasks if t.batch is not None})
    if not kwargs["quiet"]:
        for task in tasks[:20]:
            refs = [name for _, name in artifact_refs(task.body)]
            extra = f", uploads {', '.join(refs)}" if refs else ""
            click.echo(f"would POST {url}/task/{task.task_type} unique_id={task.unique_id}{extra}",
                       err=True)  # fmt: skip
        if len(tasks) > 20:
            click.echo(f"... and {len(tasks) - 20} more", err=True)
        click.echo(
            f"dry run: {len(tasks)} tasks ({', '.join(f'{k} {v}' for k, v in by_type.items())}),"
            f" {len(artifacts)} artifacts to upload ({size} bytes), batches: {batches or '-'};"
            " nothing sent",
            err=True,
        )
    if kwargs["as_json"]:
        doc = {"dry_run": True, "api_url": url, "tasks": len(tasks), "by_type": dict(by_type),
               "artifacts": len(artifacts), "artifact_bytes": size, "batches": batches}  # fmt: skip
        click.echo(orjson.dumps(doc).decode())


def _change_line(change: dict[str, Any]) -> str:
    state = "work started" if change["work_started"] else change["status"]
    return (
        f"  changed: {change['unique_id']} (line {change['line']}): task {change['task_id']}"
        f" ({state}) holds a different body; {change['action']}"
    )
