"""CLI habits: every command has help and is in the CLI reference (docs/cli.md), the same option
means the same thing everywhere, --json/--quiet/--version behave, errors stay one line and
--verbose never shows the API key."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import REPO, SHARED

from prelabel import __version__
from prelabel.cli.main import cli
from prelabel.converters.registry import READERS

README = REPO / "README.md"
CLI_REFERENCE = REPO / "docs/cli.md"
# long option -> the short form users expect wherever the long one exists
EXPECTED_SHORT = {
    "--config": "-c",
    "--out": "-o",
    "--label-map": "-m",
    "--score-threshold": "-t",
    "--attachment-url": "-a",
    "--quiet": "-q",
    "--help": "-h",
}


def commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    """(path, command, context) for the group, every command and every subcommand."""

    def walk(
        cmd: click.Command, name: str, parent: click.Context | None
    ) -> Iterator[tuple[str, click.Command, click.Context]]:
        ctx = click.Context(cmd, info_name=name, parent=parent, **cmd.context_settings)
        yield ctx.command_path, cmd, ctx
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                found = cmd.get_command(ctx, sub)
                assert found is not None, sub
                yield from walk(found, sub, ctx)

    yield from walk(cli, "prelabel", None)


CONTEXTS = {path: ctx for path, _, ctx in commands()}
ALL = {path: ctx.command for path, ctx in CONTEXTS.items()}


def cli_reference() -> str:
    return CLI_REFERENCE.read_text()


def test_every_command_and_option_has_help() -> None:
    assert {
        "prelabel preview",
        "prelabel report",
        "prelabel formats",
        "prelabel convert coco",
    } <= set(ALL)
    for path, cmd in ALL.items():
        assert (cmd.help or "").strip(), f"{path} has no help text"
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"{path} {param.opts} has no help"


def test_every_command_is_in_the_cli_reference() -> None:
    ref = cli_reference()
    for path in ALL:
        assert f"### `{path}`" in ref, f"{path} missing from the CLI reference"
        assert f"Usage: {path} " in ref, f"{path}: the CLI reference shows no usage line"


def test_every_option_is_in_the_cli_reference_once() -> None:
    """Shared option groups are written once, not once per convert command."""
    ref = cli_reference()
    # --bad-rows: the tracking options' section once, and the yolo reader's own option
    assert ref.count("--attachment-url TEXT") == 1 and ref.count("--bad-rows [") == 2
    for path, cmd in ALL.items():
        for param in cmd.get_params(CONTEXTS[path]):
            if isinstance(param, click.Option):
                assert any(f"{o} " in ref or f"{o}\n" in ref for o in param.opts), (
                    path,
                    param.opts,
                )


def test_cli_reference_is_current() -> None:
    cog = Path(sys.executable).parent / "cog"
    proc = subprocess.run(
        [str(cog), "--check", str(CLI_REFERENCE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, (
        "docs/cli.md is stale: run .venv/bin/cog -r docs/cli.md\n" + proc.stderr
    )


def test_the_same_short_option_means_the_same_long_option_everywhere() -> None:
    owner: dict[str, tuple[str, str]] = {}
    for path, cmd in ALL.items():
        for param in cmd.get_params(CONTEXTS[path]):
            if not isinstance(param, click.Option):
                continue
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            shorts = [o for o in param.opts if re.fullmatch(r"-\w", o)]
            for long in longs:
                if long in EXPECTED_SHORT:
                    assert EXPECTED_SHORT[long] in shorts, (
                        f"{path}: {long} lacks {EXPECTED_SHORT[long]}"
                    )
            for short in shorts:
                seen = owner.setdefault(short, (longs[0], path))
                assert seen[0] == longs[0], (
                    f"{short} is {longs[0]} in {path} but {seen[0]} in {seen[1]}"
                )


def test_version_and_help_aliases() -> None:
    runner = CliRunner()
    for flag in ("--version", "-V"):
        res = runner.invoke(cli, [flag])
        assert res.exit_code == 0 and res.stdout.strip() == f"prelabel, version {__version__}"
    assert runner.invoke(cli, ["formats", "-h"], prog_name="prelabel").stdout.startswith(
        "Usage: prelabel formats"
    )


def test_formats_lists_every_reader_in_text_and_json() -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["formats", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert [r["reader"] for r in data["readers"]] == sorted(READERS)
    assert data["targets"] == [
        "imageannotation",
        "segmentannotation",
        "videoannotation",
        "videoplaybackannotation",
    ]
    coco = next(r for r in data["readers"] if r["reader"] == "coco")
    assert coco["targets"]["segmentannotation"] == "indexed PNG + labelMapping"
    mot = next(r for r in data["readers"] if r["reader"] == "mot")
    assert "segmentannotation" not in mot["targets"]
    text = runner.invoke(cli, ["formats"]).stdout
    for name, entry in READERS.items():
        assert f"{name}: {entry.reads}" in text


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real conversion through the CLI, quiet and with a JSON summary."""
    out = tmp_path_factory.mktemp("habits") / "out"
    res = CliRunner().invoke(
        cli,
        [
            "convert", "coco", str(SHARED / "mmpose/coco/test_coco.json"),
            "-c", str(REPO / "fixtures/configs/imageannotation_keypoints.json"),
            "-o", str(out), "-t", "0.5", "--json", "-q",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["totals"]["tasks"] == 4 and res.stderr == ""
    return out


@pytest.mark.parametrize("command", ["preview", "report"])
def test_quiet_json_and_not_a_terminal(converted: Path, tmp_path: Path, command: str) -> None:
    runner = CliRunner()
    target = tmp_path / ("pv" if command == "preview" else "page.html")
    args = [command, str(converted), "-i", str(SHARED / "mmpose/coco"), "-o", str(target)]
    quiet = runner.invoke(cli, [*args, "-q", "--json"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""  # -q: nothing on stderr
    summary = json.loads(quiet.stdout)  # --json: one JSON document on stdout
    assert summary
    loud = runner.invoke(cli, args)
    assert loud.exit_code == 0 and loud.stdout == ""
    assert "\r" not in loud.stderr  # not a terminal: no progress bar, just the summary line
    assert loud.stderr.startswith("wrote ")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["report", "{tmp}/nope"], "no such directory"),
        (["preview", "{tmp}"], "no tasks.jsonl"),
        (["preview", "{tmp}", "-i", "{tmp}/missing"], "does not exist"),
    ],
)
def test_errors_stay_one_line(tmp_path: Path, args: list[str], text: str) -> None:
    res = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code in (2, 3)
    assert text in res.stderr
    if res.exit_code == 3:
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ")


def test_verbose_never_prints_the_api_key(converted: Path, tmp_path: Path) -> None:
    secret = "live_0123456789abcdefSECRET"
    key_file = tmp_path / "key"
    key_file.write_text(secret)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALE_")}
    proc = subprocess.run(
        [
            sys.executable, "-m", "prelabel.cli", "-v", "submit", str(converted),
            "--api-url", f"http://127.0.0.1:{port}/v1", "--api-key-file", str(key_file),
            "--retries", "0", "--timeout", "2", "-y", "--journal", str(tmp_path / "j.sqlite"),
        ],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 5, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    assert secret[-10:] not in proc.stdout + proc.stderr


def quickstart_runs() -> list[tuple[str, list[str]]]:
    """(command, printed lines) from the README's quickstart console blocks."""
    text = README.read_text()
    part = text[text.index("<!-- quickstart:start -->") : text.index("<!-- quickstart:end -->")]
    runs: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", part, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                runs.append((line[2:], []))
            elif runs and runs[-1][0].endswith("\\"):
                runs[-1] = (runs[-1][0][:-1] + " " + line.strip(), [])
            elif runs:
                runs[-1][1].append(line)
    return runs


@pytest.mark.slow
def test_readme_quickstart_prints_what_the_readme_shows(shared: Path, tmp_path: Path) -> None:
    runs = quickstart_runs()
    assert len(runs) >= 6
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command, printed in runs:
        command = command.replace(" out/", f" {tmp_path}/")
        proc = subprocess.run(
            command, shell=True, cwd=REPO, capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, (command, proc.stderr)
        output = (proc.stderr + proc.stdout).replace(f"{tmp_path}/", "out/")
        lines = coarse(output).splitlines()
        for line in printed:
            assert coarse(line) in lines, f"{command!r} no longer prints {line!r}"


def coarse(text: str) -> str:
    """Decimals cut to two places: a mean IoU's 4th decimal may move with the geometry engine's
    rounding, the README need not follow it."""
    return re.sub(r"(\d+\.\d\d)\d+", r"\1", text)
