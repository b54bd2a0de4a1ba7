"""prelabel.ray on a local Ray (two CPUs, started here): the README's batch-inference
pipeline, the sharded directory it writes against what the CLI writes for the same model
outputs, a failed job, and a folder of mask PNGs read through Ray against the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO, SHARED, without_uuids
from PIL import Image

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")

import prelabel.ray  # noqa: E402
from prelabel.cli.main import cli  # noqa: E402
from prelabel.converters.masks.read import MaskOptions  # noqa: E402
from prelabel.output.report import read_report  # noqa: E402
from prelabel.output.tasks import iter_tasks  # noqa: E402

# Ray's own modules warn about their own deprecated settings as they copy their context
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
SHAPES = SHARED / "faster_coco_eval/dataset"
VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"


def block(name: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(
        rf"<!-- {name}:start -->\n```python\n(.*?)```\n<!-- {name}:end -->", text, re.S
    )
    assert found, f"README has no {name} block"
    return found.group(1)


def cli_run(*args: Any) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    yield
    ray.shutdown()


def test_the_readme_pipeline_writes_what_the_cli_writes(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for n in (1, 2, 3):
        shutil.copy(SHAPES / f"img_{n}.jpg", images)
    code = block("ray-example")
    script = tmp_path / "pipeline.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, check=False, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "shards.json").is_file() and not (out / "tasks.jsonl").exists()

    # the same model, outside Ray, its outputs saved as a COCO results list for the CLI
    namespace: dict[str, Any] = {}
    exec(code.split("ray.init(")[0], namespace)  # the imports, CONFIG and the model
    paths = sorted(images.glob("*.jpg"))
    batch = {"path": np.array([str(p) for p in paths], dtype=object),
             "image": [np.asarray(Image.open(p).convert("RGB")) for p in paths]}  # fmt: skip
    rows = namespace["model"](batch)
    results = [
        {"image_id": int(key.split("_")[1]), "category_id": 1, "segmentation": mask, "score": score}
        for key, masks, scores in zip(rows["key"], rows["masks"], rows["scores"], strict=True)
        for mask, score in zip(masks, scores, strict=True)
    ]
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "config.json").write_text(json.dumps(namespace["CONFIG"]))
    (tmp_path / "names.json").write_text(json.dumps({"1": "dark"}))
    cli_run("convert", "coco", tmp_path / "results.json", "--images", images, "-c",
            tmp_path / "config.json", "--label-map", tmp_path / "names.json", "-o",
            tmp_path / "cli", "-q")  # fmt: skip

    ours, theirs = list(iter_tasks(out)), list(iter_tasks(tmp_path / "cli"))
    assert [t.body["unique_id"] for t in ours] == [t.body["unique_id"] for t in theirs]
    assert [t.body["unique_id"] for t in ours] == ["shapes/img_1", "shapes/img_2", "shapes/img_3"]
    # the same bodies; annotation uuids derive from each object's source (memory vs file)
    assert [without_uuids(t.body) for t in ours] == [without_uuids(t.body) for t in theirs]
    assert all(t.body["hypothesis"]["annotations"] for t in ours)
    assert read_report(out)["totals"] == read_report(tmp_path / "cli")["totals"]
    cli_run("validate", out, "-c", tmp_path / "config.json")
    summary = json.loads(cli_run("submit", out, "--sandbox", "--json", "-q"))
    assert summary["created"] == 3 and summary["ok"]


def test_mask_pngs_read_through_ray_give_the_clis_bytes(local_ray: None, tmp_path: Path) -> None:
    config = tmp_path / "seg.toml"
    config.write_text(
        'task_type = "segmentannotation"\n[params]\nproject = "p"\nallow_unlabeled = true\n'
        'labels = ["person", "car", "bus"]\n[prelabel]\n'
        'attachment_url = "https://cdn/{file_name}"\nallow_unmatched_labels = true\n'
    )
    options = MaskOptions(images=str(VOC / "JPEGImages"), classes=str(VOC / "class_names.txt"))
    ds = prelabel.ray.read_mask_pngs(str(VOC / "SegmentationClass"), options)
    ds = ds.map_batches(prelabel.ray.ToTasks, fn_constructor_kwargs={"config": str(config)},
                        concurrency=2, batch_size=1)  # fmt: skip
    ds.write_datasink(prelabel.ray.TaskSink(tmp_path / "ray", rows_per_shard=2, format="masks"))
    cli_run("convert", "masks", VOC / "SegmentationClass", "--images", VOC / "JPEGImages",
            "--classes", VOC / "class_names.txt", "-c", config, "-o", tmp_path / "cli", "-q")  # fmt: skip
    ours = [t.body for t in iter_tasks(tmp_path / "ray")]
    assert ours == [t.body for t in iter_tasks(tmp_path / "cli")]  # the same reader: same uuids
    for name in (p.name for p in (tmp_path / "cli/artifacts").iterdir()):
        assert (tmp_path / "ray/artifacts" / name).read_bytes() == (
            tmp_path / "cli/artifacts" / name
        ).read_bytes()
    mine, cli_report = read_report(tmp_path / "ray"), read_report(tmp_path / "cli")
    assert mine["totals"] == cli_report["totals"] and mine["objects"] == cli_report["objects"]
    assert len(json.loads((tmp_path / "ray/shards.json").read_text())["shards"]) >= 2


def test_a_failed_job_leaves_nothing_that_looks_complete(local_ray: None, tmp_path: Path) -> None:
    config = {"task_type": "imageannotation", "params": {"geometries": {"box": {}}},
              "prelabel": {"attachment_url": "https://cdn/{key}.jpg"}}  # fmt: skip
    good = [{"key": f"k{n}", "width": 64, "height": 48, "boxes": [[1.0, 2.0, 30.0, 40.0]],
             "labels": ["car"]} for n in range(6)]  # fmt: skip
    out = tmp_path / "out"
    sink = prelabel.ray.TaskSink(out, rows_per_shard=2)
    ds = ray.data.from_items(good).map_batches(prelabel.ray.ToTasks,
                                               fn_constructor_kwargs={"config": config})  # fmt: skip
    ds.write_datasink(sink)
    assert len(list(iter_tasks(out))) == 6
    bad = [*good[:3], {**good[3], "boxes": [[1.0, 2.0, float("nan"), 4.0]]}, *good[4:]]
    ds = ray.data.from_items(bad).map_batches(prelabel.ray.ToTasks,
                                              fn_constructor_kwargs={"config": config})  # fmt: skip
    with pytest.raises(Exception, match="k3"):
        ds.write_datasink(sink)
    assert not (out / "shards.json").exists()  # the earlier run's manifest went first
    assert not (out / "tasks.jsonl").exists()
    (tmp_path / "task.json").write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["validate", str(out), "-c", str(tmp_path / "task.json")])
    assert result.exit_code == 3, result.output
