"""Tasks that carry no prelabel (issue 12, "Smaller"): the README's main job sends 41 of its
100 demo tasks with empty hypotheses. The summary counts them and report.json flags them;
``--skip-empty`` (a convert-wide option) leaves them out, each named in ``skipped_tasks``,
and removes the artifacts written for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner
from conftest import FIXTURES, SHARED

from prelabel.cli.main import cli
from prelabel.config.load import load_config
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco
from prelabel.pipeline import ConvertOptions, convert

DEMO = FIXTURES / "demo"
RESULTS = str(DEMO / "instances_val2014_fakesegm100_results.json")
IMAGES = str(DEMO / "instances_val2014_100.json")
VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"


def lines(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x)["body"] for x in (out / "tasks.jsonl").read_bytes().splitlines()]


def test_demo_summary_counts_the_tasks_without_prelabels(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["convert", "coco", RESULTS, "--images", IMAGES, "-c", str(DEMO / "task.toml")]
    result = CliRunner().invoke(cli, [*args, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "  41 task(s) carry no prelabel (--skip-empty leaves them out)" in result.stderr
    assert json.loads(result.stdout)["tasks_empty"] == 41
    report = json.loads((out / "report.json").read_text())
    flagged = {t["unique_id"] for t in report["tasks"] if t.get("empty")}
    empty = {b["unique_id"] for b in lines(out) if not b["hypothesis"]["annotations"]}
    assert len(lines(out)) == 100 and flagged == empty and len(empty) == 41
    assert report["skipped_tasks"] == []


def test_skip_empty_leaves_them_out_and_names_each(tmp_path: Path) -> None:
    config = load_config(str(DEMO / "task.toml"))
    full = convert(read_coco([RESULTS], CocoOptions(images=IMAGES)), config, tmp_path / "all")
    report = convert(
        read_coco([RESULTS], CocoOptions(images=IMAGES)),
        config,
        tmp_path / "kept",
        ConvertOptions(skip_empty=True),
    )
    kept = lines(tmp_path / "kept")
    assert len(kept) == 59 and all(b["hypothesis"]["annotations"] for b in kept)
    empty = [t for t in full.task_items if t.get("empty")]
    assert [s["unique_id"] for s in report.skipped_tasks] == [t["unique_id"] for t in empty]
    assert {s["reason"] for s in report.skipped_tasks} == {
        "no prelabel: no object of the item became an annotation"
    }
    written = json.loads((tmp_path / "kept/report.json").read_text())
    assert written["skipped_tasks"] == report.skipped_tasks and written["totals"]["tasks"] == 59
    assert written["totals"]["objects_in"] == full.totals()["objects_in"]  # every object still
    assert "left out 41 task(s) with no prelabel" in report.summary_lines()[1]


def test_skipped_segment_tasks_leave_no_artifact(tmp_path: Path) -> None:
    config = tmp_path / "seg.toml"
    config.write_text(
        'task_type = "segmentannotation"\n[params]\nproject = "p"\nallow_unlabeled = true\n'
        'labels = ["bus"]\n[prelabel]\nattachment_url = "https://cdn/{file_name}"\n'
    )
    out = tmp_path / "out"
    args = ["convert", "masks", str(VOC / "SegmentationClass"), "--images", str(VOC / "JPEGImages")]
    args += ["--classes", str(VOC / "class_names.txt"), "--allow-unmatched-labels"]
    result = CliRunner().invoke(cli, [*args, "-c", str(config), "-o", str(out), "--skip-empty"])
    assert result.exit_code == 0, result.output
    (body,) = lines(out)  # only 2011_000025 shows a bus
    assert body["unique_id"] == "p/segmentannotation/2011_000025"
    assert sorted(p.name for p in (out / "artifacts").iterdir()) == ["2011_000025.png"]
    report = json.loads((out / "report.json").read_text())
    assert [s["key"] for s in report["skipped_tasks"]] == ["2011_000003", "2011_000006"]
    assert report["totals"]["artifacts"] == 1
