"""A conversion the machine cuts short never passes for a finished one, and what the machine
refuses is exit 6 naming the path, never a traceback (issue 17).

The full disk is a file-size limit (RLIMIT_FSIZE) on a real CLI run in a subprocess: a write
past it fails with EFBIG, as a full disk fails one with ENOSPC.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from conftest import FIXTURES, SHARED

BBOX = SHARED / "cocoapi" / "results" / "instances_val2014_fakebbox100_results.json"
IMAGES = FIXTURES / "demo" / "instances_val2014_100.json"
# boxes of one label: nearly every object is dropped, so report.json outgrows tasks.jsonl
CONFIG = """
task_type = "imageannotation"
[params]
project = "p"
instruction = "x"
[params.geometries.box]
objects_to_annotate = ["traffic light"]
[prelabel]
attachment_url = "https://cdn.example.com/{file_name}"
allow_unmatched_labels = true
"""


def prelabel(*args: str, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    limit: Callable[[], None] | None = None
    if fsize is not None:

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *args],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, path: Path) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith(f"Error: {path}"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "task.toml"
    path.write_text(CONFIG)
    return path


def convert(out: Path, config: Path, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    return prelabel(
        "convert", "coco", str(BBOX), "--images", str(IMAGES), "-c", str(config), "-o", str(out),
        "-q", fsize=fsize,
    )  # fmt: skip


def test_a_disk_full_at_the_report_leaves_no_report_and_nothing_submits(
    tmp_path: Path, config: Path
) -> None:
    """The limit lets tasks.jsonl and the report's record spool through but not report.json:
    convert exits 6 naming it, no part of it is left, and `submit --dry-run` and `validate`
    refuse the directory (exit 3) instead of passing it."""
    whole = tmp_path / "whole"
    assert convert(whole, config).returncode == 0
    records = orjson.loads((whole / "report.json").read_bytes())["objects"]
    spool = sum(len(orjson.dumps(r)) + 1 for r in records)
    report = (whole / "report.json").stat().st_size
    assert (whole / "tasks.jsonl").stat().st_size < spool < report
    out = tmp_path / "out"
    proc = convert(out, config, fsize=(spool + report) // 2)
    one_line_error(proc, 6, out / "report.json")
    assert "File too large" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tasks.jsonl"]  # no report, no part
    dry = prelabel("submit", str(out), "--dry-run")
    one_line_error(dry, 3, out / "report.json")
    assert "the conversion did not finish" in dry.stderr
    one_line_error(prelabel("validate", str(out), "-c", str(config)), 3, out / "report.json")


@pytest.mark.parametrize("cut", ["truncated", "other run"])
def test_submit_and_validate_refuse_a_report_that_does_not_belong(
    tmp_path: Path, config: Path, cut: str
) -> None:
    out = tmp_path / "out"
    assert convert(out, config).returncode == 0
    report = out / "report.json"
    if cut == "truncated":
        report.write_bytes(report.read_bytes()[: report.stat().st_size // 2])
        why = "not valid JSON"
    else:
        doc = orjson.loads(report.read_bytes())
        tasks = len(doc["tasks"])
        doc["tasks"] = doc["tasks"][:-1]
        report.write_bytes(orjson.dumps(doc))
        why = f"lists {tasks - 1} task(s) but tasks.jsonl holds {tasks}: they come from different"
    for args in (["submit", str(out), "--dry-run"], ["validate", str(out), "-c", str(config)]):
        proc = prelabel(*args)
        one_line_error(proc, 3, report)
        assert why in proc.stderr


@pytest.mark.parametrize("fsize", [1, 4096, 40000])
def test_a_file_size_limit_anywhere_is_exit_6_naming_the_file(
    tmp_path: Path, config: Path, fsize: int
) -> None:
    """Wherever the limit strikes (the reader's spill file, tasks.jsonl, the report spool),
    one line names the file and says why; nothing half written is left as an output."""
    out = tmp_path / "out"
    proc = convert(out, config, fsize=fsize)
    assert proc.returncode == 6, proc.stderr
    assert proc.stderr.startswith("Error: /") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "tasks.jsonl").exists() and not (out / "report.json").exists()


@pytest.mark.parametrize(
    "where", ["{tmp}/a-file/out", "/proc/self/prelabel-out"], ids=["under a file", "unwritable"]
)
def test_an_output_folder_that_cannot_be_made_is_exit_6(
    tmp_path: Path, config: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    out = Path(where.format(tmp=tmp_path))
    proc = convert(out, config)
    one_line_error(proc, 6, out)
    assert "cannot create the folder" in proc.stderr


def test_preview_into_a_folder_that_cannot_be_made_is_exit_6(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "out"
    assert convert(out, config).returncode == 0
    (tmp_path / "a-file").write_text("not a folder")
    dest = tmp_path / "a-file" / "pv"
    one_line_error(prelabel("preview", str(out), "-o", str(dest), "-n", "1"), 6, dest)
    page = Path("/proc/self/review.html")
    one_line_error(prelabel("report", str(out), "-o", str(page), "-n", "1"), 6, page.parent)
