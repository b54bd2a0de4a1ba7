"""The CLI as users run it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import FIXTURES, REPO

BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALE_API_KEY"}
    return subprocess.run(
        [str(BIN / "prelabel"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_help_lists_the_commands() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("convert", "validate", "submit", "sandbox"):
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.M), command


def readme_main_job(out: Path) -> list[list[str]]:
    """The README's first set-up command, minus the venv creation and install steps."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set up.*?```sh\n(.*?)\n```", text, re.S)
    assert block, "README has no set-up command"
    steps = [shlex.split(s) for s in block.group(1).split("&&")]
    assert steps[0][:3] == ["python3", "-m", "venv"] and steps[1][1:3] == ["install", "."]
    commands = []
    for step in steps[2:]:
        assert step[0] == ".venv/bin/prelabel", step
        commands.append([str(out) if a == "out/demo" else a for a in step[1:]])
    return commands


def test_readme_main_job_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    commands = readme_main_job(out)
    assert [c[0] for c in commands] == ["convert", "validate", "submit"]
    for command in commands:
        proc = run(*command)
        assert proc.returncode == 0, (command, proc.stderr[-2000:])
    report = orjson.loads((out / "report.json").read_bytes())
    totals = report["totals"]
    assert totals["objects_in"] == 734
    assert totals["objects_in"] == totals["objects_out"] + totals["objects_dropped"]
    assert report["iou"]["mean"] >= 0.97
    lines = (out / "tasks.jsonl").read_bytes().splitlines()
    assert len(lines) == totals["tasks"] == 100


def test_config_error_is_one_line_with_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "task.toml"
    config.write_text('task_type = "imageannotation"\n[params]\npriority = 15\n')
    proc = run(
        "convert",
        "coco",
        str(FIXTURES / "demo" / "instances_val2014_fakesegm100_results.json"),
        "-c",
        str(config),
        "-o",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"Error: {config}, params.")
    assert "Traceback" not in proc.stderr


def test_validate_names_task_and_annotation_and_exits_4(tmp_path: Path) -> None:
    config = FIXTURES / "demo" / "task.toml"
    out = tmp_path / "out"
    proc = run(
        "convert",
        "coco",
        str(FIXTURES / "demo" / "instances_val2014_fakesegm100_results.json"),
        "--images",
        str(FIXTURES / "demo" / "instances_val2014_100.json"),
        "-c",
        str(config),
        "-o",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    assert run("validate", str(out), "-c", str(config)).returncode == 0
    tasks = [orjson.loads(line) for line in (out / "tasks.jsonl").read_bytes().splitlines()]
    victim = next(t for t in tasks if t["body"]["hypothesis"]["annotations"])
    victim["body"]["hypothesis"]["annotations"][0]["label"] = "giraffe"
    (out / "tasks.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tasks))
    proc = run("validate", str(out), "-c", str(config), "--json")
    assert proc.returncode == 4
    uid = victim["body"]["unique_id"]
    violations = orjson.loads(proc.stdout)["violations"]
    assert violations == [
        f"task {uid}: hypothesis.annotations[0].label: 'giraffe' is not a leaf of "
        "geometries.polygon.objects_to_annotate [prelabel-label]"
    ]
    assert proc.stderr.splitlines()[-1] == f"Error: {out}: 1 violation(s)"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["convert", "nosuchformat"], 2, "No such command"),
        (["validate", "/nonexistent", "-c", "x.toml"], 2, "does not exist"),
    ],
)
def test_usage_errors_exit_2(args: list[str], code: int, needle: str) -> None:
    proc = run(*args)
    assert proc.returncode == code
    assert needle in proc.stderr
