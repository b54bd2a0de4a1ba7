"""The batch function outside Ray: a Dask bag of model-output rows, converted in worker
processes by ``prelabel.batches.tasks_from_batch`` and written with the engine-neutral shard
pieces, gives the directory ``prelabel convert`` writes for the same detections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, without_uuids

from prelabel.batches import TASK_COLUMNS, tasks_from_batch
from prelabel.cli.main import cli
from prelabel.converter import Converter
from prelabel.output.directory import commit_shards, start_shards, write_shard
from prelabel.output.report import read_report
from prelabel.output.tasks import iter_tasks

dask_bag = pytest.importorskip("dask.bag", reason="dask is not installed (the test extra has it)")
import dask  # noqa: E402

DEMO = FIXTURES / "demo"
RESULTS = DEMO / "instances_val2014_fakesegm100_results.json"
IMAGES = DEMO / "instances_val2014_100.json"
CONFIG = DEMO / "task.toml"


def model_rows() -> list[dict[str, Any]]:
    """The demo detections as a model hands them over: one row per image, its masks as
    COCO RLE dicts with class ids, the category names and scores."""
    images = json.loads(IMAGES.read_text())
    names = {c["id"]: c["name"] for c in images["categories"]}
    found: dict[int, list[dict[str, Any]]] = {}
    for result in json.loads(RESULTS.read_text()):
        found.setdefault(result["image_id"], []).append(result)
    rows = []
    for image in images["images"]:
        objects = found.get(image["id"], [])
        rows.append({
            "key": str(image["id"]), "width": image["width"], "height": image["height"],
            "fields": {**image, "stem": Path(image["file_name"]).stem},
            "masks": [o["segmentation"] for o in objects],
            "class_ids": [o["category_id"] for o in objects], "names": names,
            "scores": [o["score"] for o in objects],
        })  # fmt: skip
    return rows


def convert_partition(rows: list[dict[str, Any]], config: str) -> list[dict[str, Any]]:
    """What a Dask worker runs on one partition: rows -> columns -> task rows."""
    converter = Converter(config, format="coco")
    batch = {name: [row[name] for row in rows] for name in rows[0]}
    columns = tasks_from_batch(converter, batch)
    count = len(columns["unique_id"])
    return [{name: columns[name][n] for name in TASK_COLUMNS} for n in range(count)]


def test_a_dask_bag_in_worker_processes_writes_what_the_cli_writes(tmp_path: Path) -> None:
    out, plain = tmp_path / "dask", tmp_path / "cli"
    bag = dask_bag.from_sequence(model_rows(), npartitions=3)
    parts = bag.map_partitions(convert_partition, str(CONFIG)).to_delayed()
    start_shards(out)
    writes = [
        dask.delayed(write_shard)(out, f"part-{n}", part, format="coco", order=n)
        for n, part in enumerate(parts)
    ]
    # the converter and its rows cross process boundaries: nothing in them is Ray's
    written = dask.compute(*writes, scheduler="processes", num_workers=2)
    commit_shards(out, written)
    manifest = json.loads((out / "shards.json").read_text())
    assert [s["name"] for s in manifest["shards"]] == ["part-0", "part-1", "part-2"]
    assert all(s["tasks"] for s in manifest["shards"])

    result = CliRunner().invoke(cli, ["convert", "coco", str(RESULTS), "--images", str(IMAGES),
                                      "-c", str(CONFIG), "-o", str(plain), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    ours, theirs = list(iter_tasks(out)), list(iter_tasks(plain))
    assert len(ours) == 100
    assert [t.body["unique_id"] for t in ours] == [t.body["unique_id"] for t in theirs]
    # the same bodies; annotation uuids derive from each object's source (memory vs file)
    assert [without_uuids(t.body) for t in ours] == [without_uuids(t.body) for t in theirs]
    assert sum(len(t.body["hypothesis"]["annotations"]) for t in ours) > 100
    assert read_report(out)["totals"] == read_report(plain)["totals"]
    validated = CliRunner().invoke(cli, ["validate", str(out), "-c", str(CONFIG)])
    assert validated.exit_code == 0, validated.output
