"""``prelabel convert --workers N``: the same bytes as one process, in bounded memory.

Each case converts real inputs with ``--workers 1`` and ``--workers 2`` (real worker
processes, spawned) and compares the two directories file by file: tasks.jsonl (order
included), every artifact, report.json (records, IoU mean, notes, skipped tasks)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SHARED

from prelabel import workers
from prelabel.cli.main import cli
from prelabel.config.load import load_config
from prelabel.converter import Converter
from prelabel.converters.coco import grouping, stream
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import EnvironmentFailure, InputError, PrelabelError, pool_result
from prelabel.model import Item
from prelabel.output.directory import OutputDir

DEMO = FIXTURES / "demo"
VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"
PAN = SHARED / "panopticapi/sample_data"
MOT = SHARED / "motmetrics/data"
SEGMENT = """task_type = "segmentannotation"
[params]
project = "p"
allow_unlabeled = true
labels = LABELS
[prelabel]
attachment_url = "https://cdn/{file_name}"
"""
FRAMES = """task_type = "imageannotation"
[params]
project = "frames"
[params.geometries.box]
objects_to_annotate = ["person"]
[prelabel]
attachment_url = "https://cdn/{sequence}/{frame}.jpg"
"""


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run(args: list[str], out: Path, n: int) -> str:
    result = CliRunner().invoke(cli, [*args, "-o", str(out), "-q", "--workers", str(n)])
    assert result.exit_code == 0, result.output
    return result.output


def configs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "bus.toml").write_text(SEGMENT.replace("LABELS", '["bus"]'))
    (tmp_path / "people.toml").write_text(SEGMENT.replace("LABELS", '["person", "car"]'))
    (tmp_path / "frames.toml").write_text(FRAMES)
    return {name: tmp_path / f"{name}.toml" for name in ("bus", "people", "frames")}


CASES = {
    # masks traced to polygons (IoU in the report), boxes, dropped labels and scores
    "coco": lambda c: [
        "convert", "coco", str(DEMO / "instances_val2014_fakesegm100_results.json"),
        "--images", str(DEMO / "instances_val2014_100.json"), "-c", str(DEMO / "task.toml"),
    ],
    # indexed PNG artifacts; empty tasks left out (their artifacts removed), rasters read in
    # the workers from their recipes
    "masks": lambda c: [
        "convert", "masks", str(VOC / "SegmentationClass"), "--images", str(VOC / "JPEGImages"),
        "--classes", str(VOC / "class_names.txt"), "--allow-unmatched-labels", "--skip-empty",
        "-c", str(c["bus"]),
    ],
    # panoptic PNGs: each item ships the panoptic JSON cut down to its own PNG
    "panoptic": lambda c: [
        "convert", "masks", str(PAN / "panoptic_examples"), "--panoptic",
        str(PAN / "panoptic_examples.json"), "--images", str(PAN / "input_images"),
        "--allow-unmatched-labels", "-c", str(c["people"]),
    ],
    # two sequences, each one video task with a hosted hypothesis (artifact JSON)
    "mot-video": lambda c: [
        "convert", "mot", str(MOT / "TUD-Campus/gt.txt"), str(MOT / "TUD-Stadtmitte/gt.txt"),
        "--fps", "25", "--image-size", "640x480",
        "-c", str(FIXTURES / "configs/tracking_playback.toml"),
    ],
    # a video item split into one image task per frame, in the worker
    "mot-frames": lambda c: [
        "convert", "mot", str(MOT / "TUD-Campus/gt.txt"), "--image-size", "640x480",
        "-c", str(c["frames"]),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_workers_write_the_bytes_one_process_writes(
    case: str, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a results list, however small, grouped in the workers too, a few results a piece
    monkeypatch.setattr(grouping, "WORKER_BYTES", 0)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    args = CASES[case](configs(tmp_path))
    run(args, tmp_path / "one", 1)
    run(args, tmp_path / "two", 2)
    one, two = files(tmp_path / "one"), files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:
        assert one[name] == two[name], name
    report = json.loads(one["report.json"])
    assert report["totals"]["tasks"] == len(one["tasks.jsonl"].splitlines()) > 0
    if case == "masks":
        assert report["skipped_tasks"] and report["totals"]["artifacts"] == 1


def test_errors_are_the_ones_one_process_raises(tmp_path: Path) -> None:
    args = [
        "convert", "coco", str(DEMO / "instances_val2014_fakesegm100_results.json"),
        "--images", str(DEMO / "instances_val2014_100.json"),
    ]  # fmt: skip
    strict = tmp_path / "strict.toml"  # no allow_unmatched_labels: the first other label fails
    strict.write_text((DEMO / "task.toml").read_text().replace("allow_unmatched_labels = true", ""))
    same_id = tmp_path / "same.toml"  # every task gets the same unique_id
    same_id.write_text((DEMO / "task.toml").read_text() + 'unique_id = "all-the-same"\n')
    for config in (strict, same_id):
        outputs = []
        for n in (1, 2):
            out = tmp_path / f"o{n}"
            result = CliRunner().invoke(cli, [*args, "-c", str(config), "-o", str(out), "-q",
                                              "--workers", str(n)])  # fmt: skip
            assert result.exit_code == 3, result.output
            assert not (out / "tasks.jsonl").exists() and not (out / "report.json").exists()
            outputs.append(result.stderr.strip().splitlines()[-1])
        assert outputs[0] == outputs[1]
    assert "both get unique_id 'all-the-same'" in outputs[1]


def test_the_reading_process_stays_a_bounded_window_ahead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Items are pulled from the reader only as tasks are written: at most 2 x workers
    chunks ahead (memory grows by a worker's share per worker, not with the input)."""
    config = load_config(DEMO / "task.toml")
    dataset = read_coco(
        [str(DEMO / "instances_val2014_fakesegm100_results.json")],
        CocoOptions(images=str(DEMO / "instances_val2014_100.json")),
    )
    monkeypatch.setattr(workers, "CHUNK_ITEMS", 2)
    pulled = 0

    def counted(items: Iterator[Item]) -> Iterator[Item]:
        nonlocal pulled
        for item in items:
            pulled += 1
            yield item

    written, ahead = 0, []
    with OutputDir(tmp_path, format="coco", task_type=config.task_type) as out:
        tasks = workers.write_in_workers(Converter(config), counted(iter(dataset.items)), 2, out)
        for _ in tasks:
            written += 1
            ahead.append(pulled - written)
    assert written == 100
    assert len((tmp_path / "tasks.jsonl").read_bytes().splitlines()) == 100
    assert max(ahead) <= 2 * 2 * 2 + 2  # window chunks of 2 items, plus the chunk being filled


def test_worker_count_and_what_crosses_to_a_worker() -> None:
    assert workers.worker_count(3) == 3 and workers.worker_count(0) >= 1
    with pytest.raises(ValueError):
        workers.worker_count(-1)
    error = InputError("bad", path="f.json", location="results[3]")
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, InputError) and str(back) == "f.json, results[3]: bad"
    assert isinstance(back, PrelabelError) and back.exit_code == 3
    # a lazy raster travels as its recipe, with the panoptic JSON cut to its own PNG
    dataset = read_masks(
        [str(PAN / "panoptic_examples/000000439180.png")],
        MaskOptions(panoptic=str(PAN / "panoptic_examples.json")),
    )
    (item,) = list(dataset.items)
    shipped = pickle.loads(pickle.dumps(item))
    assert shipped.raster is not None and item.raster is not None
    assert (shipped.raster().values == item.raster().values).all()
    recipe = shipped.raster.args[2]  # type: ignore[attr-defined]
    assert list(recipe.panoptic.segments) == list(recipe.panoptic.images) == ["000000439180"]


def test_a_worker_that_died_is_the_environments_failure() -> None:
    """A killed worker (out of memory) ends the run with exit 6 and a line saying what to
    do, in pass 1 of a results list and in conversion alike."""
    future: Future[int] = Future()
    future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
    with pytest.raises(EnvironmentFailure, match="worker process died") as caught:
        pool_result(future)
    assert caught.value.exit_code == 6 and "--workers 1" in str(caught.value)
    done: Future[int] = Future()
    done.set_result(3)
    assert pool_result(done) == 3
