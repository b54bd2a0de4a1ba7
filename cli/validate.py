"""``prelabel validate DIR --config FILE``: re-check a written directory against every limit."""

from __future__ import annotations

import click
import orjson

from prelabel.cli.options import config_option, output_options
from prelabel.config.load import load_config
from prelabel.errors import LimitViolation
from prelabel.pipeline import validate_dir


@click.command("validate")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@config_option
@output_options
def validate_command(out_dir: str, config_path: str, quiet: bool, as_json: bool) -> None:
    """Re-check DIR (written by `convert`) against the config and the rule book.

    Every body goes through the same rules the sandbox enforces (see docs/rules.md,
    the rule book). Exits 4 on any violation, naming the task, the field and the rule.

    \b
    Example:
        prelabel validate out/ -c task.toml
    """
    config = load_config(config_path)
    problems = validate_dir(out_dir, config)
    if as_json:
        click.echo(orjson.dumps({"dir": out_dir, "violations": problems}).decode())
    if not quiet:
        for line in problems:
            click.echo(line, err=True)
    if problems:
        raise LimitViolation(f"{len(problems)} violation(s)", path=out_dir)
    if not quiet:
        click.echo(f"{out_dir}: all tasks within the config's limits", err=True)
