"""Sharded output directories (what a cluster writes): every command reads one like a plain
directory, report totals add up across shards, and one whose job did not finish is refused.

The shards here are written with the engine-neutral pieces (task rows, ``write_shard``,
``commit_shards``) that :class:`prelabel.ray.TaskSink` runs inside Ray's write tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from prelabel.batches import item_rows, unpickled_items
from prelabel.cli.main import cli
from prelabel.config.load import load_config
from prelabel.converter import Converter
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco
from prelabel.errors import InputError, PayloadError
from prelabel.output.directory import commit_shards, start_shards, write_shard
from prelabel.output.report import read_report
from prelabel.output.tasks import iter_tasks, read_tasks

DEMO = FIXTURES / "demo"
RESULTS = str(DEMO / "instances_val2014_fakesegm100_results.json")
IMAGES = str(DEMO / "instances_val2014_100.json")


def cli_run(*args: Any, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (args, result.output)
    return result


def sharded(out: Path, parts: int = 3, skip_empty: bool = False) -> list[dict[str, Any]]:
    """The demo conversion written as ``parts`` shards; returns the task rows."""
    converter = Converter(load_config(DEMO / "task.toml"), format="coco", skip_empty=skip_empty)
    dataset = read_coco([RESULTS], CocoOptions(images=IMAGES))
    items = unpickled_items({"item": [row["item"] for row in item_rows(dataset)]})
    rows = [task.to_row() for task in converter.convert_all(items, ship=True)]
    start_shards(out)
    size = -(-len(rows) // parts)
    written = [
        write_shard(out, f"part-{n}", rows[n * size : (n + 1) * size], format="coco", order=n)
        for n in range(parts)
    ]
    commit_shards(out, reversed(written))  # the manifest orders them, whatever the arrival
    return rows


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("shards")
    plain, shards = root / "plain", root / "sharded"
    cli_run("convert", "coco", RESULTS, "--images", IMAGES, "-c", DEMO / "task.toml", "-o",
            plain, "-q")  # fmt: skip
    sharded(shards)
    return plain, shards


def test_a_sharded_directory_reads_as_the_plain_one(dirs: tuple[Path, Path]) -> None:
    plain, shards = dirs
    manifest = json.loads((shards / "shards.json").read_text())
    assert [s["name"] for s in manifest["shards"]] == ["part-0", "part-1", "part-2"]
    assert manifest["tasks"] == 100 == sum(s["tasks"] for s in manifest["shards"])
    assert not (shards / "tasks.jsonl").exists()
    assert [t.body for t in iter_tasks(shards)] == [t.body for t in iter_tasks(plain)]
    files = {t.file for t in read_tasks(shards)}
    assert files == {f"shards/part-{n}/tasks.jsonl" for n in range(3)}
    one, many = read_report(plain), read_report(shards)
    assert many["totals"] == one["totals"]  # added up across shards
    for key in ("dropped_by_reason", "fixes_by_kind", "tasks", "objects"):
        assert many[key] == one[key], key
    assert sorted(many["notes"]) == sorted(one["notes"])  # the reader's travel with its items
    assert many["iou"]["count"] == one["iou"]["count"] and many["iou"]["min"] == one["iou"]["min"]
    assert many["iou"]["mean"] == pytest.approx(one["iou"]["mean"], rel=1e-12)
    shard_totals = [
        json.loads((shards / f"shards/part-{n}/report.json").read_text())["totals"]
        for n in range(3)
    ]
    assert sum(t["objects_in"] for t in shard_totals) == one["totals"]["objects_in"] == 734


def test_every_command_takes_a_sharded_directory(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    plain, shards = dirs
    for out in (plain, shards):
        assert (
            "within the config's limits"
            in cli_run("validate", out, "-c", DEMO / "task.toml").output
        )
    summary = json.loads(cli_run("report", shards, "-o", tmp_path / "r.html", "--json").stdout)
    assert len(summary["previews"]) == 100
    page = (tmp_path / "r.html").read_text()
    assert (
        "734" in page
        and page.count("results[")
        == read_report(plain)["totals"]["objects_dropped"]
        + read_report(plain)["totals"]["objects_fixed"]
    )
    cli_run("preview", shards, "-o", tmp_path / "p", "-n", "3", "-q")
    assert len(list((tmp_path / "p").glob("*.png"))) == 3


def test_submit_import_and_score_a_sharded_directory(tmp_path: Path) -> None:
    out, final = tmp_path / "out", tmp_path / "final"
    sharded(out, parts=4)
    cli_run("submit", out, "--sandbox", "--create-batch", "--complete", "accept", "-q")
    assert (out / "journal.sqlite").is_file()
    cli_run("import", out, "-o", final, "--sandbox", "-q")
    summary = json.loads(cli_run("score", out, final, "--json", "-q", "--no-html").stdout)
    sent = read_report(out)["totals"]["annotations_out"]
    assert summary["counts"] == {"kept": sent, "edited": 0, "deleted": 0, "added": 0}
    again = json.loads(cli_run("submit", out, "--sandbox", "--json", "-q").stdout)
    assert again["skipped"] == 100 and again["created"] == 0  # the journal: exactly once


def test_a_job_that_did_not_finish_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sharded(out)
    (out / "shards.json").unlink()
    for args in (["validate", out, "-c", DEMO / "task.toml"], ["submit", out, "--sandbox"],
                 ["preview", out, "-o", tmp_path / "p"]):  # fmt: skip
        result = cli_run(*args, code=3)
        assert "did not finish" in result.stderr
    sharded(out)
    manifest = json.loads((out / "shards.json").read_text())
    manifest["shards"].append({"name": "part-9", "tasks": 1})
    (out / "shards.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="shard 'part-9' is missing"):
        list(iter_tasks(out))


def test_shards_sharing_a_unique_id_are_not_committed(tmp_path: Path) -> None:
    rows = sharded(tmp_path / "first")
    out = start_shards(tmp_path / "out")
    parts = [write_shard(out, f"p{n}", rows[:2], order=n) for n in range(2)]
    with pytest.raises(PayloadError, match="shards 'p0' and 'p1' both hold unique_id"):
        commit_shards(out, parts)
    assert not (out / "shards.json").exists()
    with pytest.raises(InputError, match="did not finish"):
        read_tasks(out)


def test_skipped_tasks_and_converting_over_a_sharded_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sharded(out, skip_empty=True)
    report = read_report(out)
    assert report["totals"]["tasks"] == 59 == len(list(iter_tasks(out)))
    assert len(report["skipped_tasks"]) == 41
    cli_run("convert", "coco", RESULTS, "--images", IMAGES, "-c", DEMO / "task.toml", "-o",
            out, "-q")  # fmt: skip
    assert not (out / "shards").exists() and not (out / "shards.json").exists()
    assert len(list(iter_tasks(out))) == 100
