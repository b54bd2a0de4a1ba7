"""The ``prelabel`` command group and its one error boundary.

Exit codes (also in the README):
  0 ok · 1 internal error · 2 usage · 3 bad input or config · 4 limit violation ·
  5 submit failure · 6 environment (a path not writable) · 130 interrupted
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from prelabel import __version__
from prelabel.errors import EnvironmentFailure, PrelabelError
from prelabel.geometry.kernels import loader

# command name -> module under prelabel.cli exposing a click command of the same name
COMMANDS: dict[str, str] = {
    "convert": "convert",
    "validate": "validate",
    "submit": "submit",
    "sandbox": "sandbox",
    "preview": "preview",
    "report": "review",
    "formats": "formats",
    "import": "import_",
    "score": "score",
}


class PrelabelGroup(click.Group):
    """Lazily loads commands and turns every error into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._load(n) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"prelabel.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"prelabel.cli.{module_name}":
                return None  # command not built yet
            raise
        command: click.Command = getattr(module, name.replace("-", "_") + "_command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        verbose = bool(ctx.params.get("verbose"))
        try:
            return super().invoke(ctx)
        except PrelabelError as exc:
            fail(exc.message, exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:  # `prelabel formats | head`: the reader left, not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:  # the machine refused (library code names most of these itself)
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}", EnvironmentFailure.exit_code)
        except Exception as exc:  # a bug: one line, no traceback unless --verbose
            if verbose:
                raise
            fail(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)",
                1,
            )


def fail(message: str, code: int) -> None:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(cls=PrelabelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="prelabel")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks for internal errors.")
def cli(verbose: bool) -> None:
    """Turn model outputs into prelabeled Scale AI tasks.

    \b
    Typical run:
        prelabel convert coco results.json --images instances.json -c task.toml -o out/
        prelabel validate out/ -c task.toml
        prelabel submit out/ --sandbox
        prelabel import out/ -o final/
        prelabel score out/ final/
    """


def main() -> None:
    if sys.stderr.isatty():  # say why the first traced masks after an install run slower
        loader.on_status = lambda text: click.echo(f"note: {text}", err=True)
    cli(prog_name="prelabel")
