"""The library inside a model pipeline: config from a mapping, item-level conversion in
memory (the same bytes as the CLI), adapters from arrays and supervision, pickling."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, REPO
from pycocotools import mask as mask_utils

from prelabel import Converter, Task, adapters, load_config
from prelabel.config.load import read_config_file
from prelabel.errors import ConfigError, InputError, PayloadError
from prelabel.model import Item
from prelabel.output.directory import OutputDir

RESULTS = "cocoapi/results/instances_val2014_fakesegm100_results.json"
IMAGES = "faster_coco_eval/cocoapi/instances_val2014_100.json"
DEMO = FIXTURES / "demo" / "task.toml"


def strip_uuids(value: Any) -> Any:
    """A body without its uuids (they derive from where each object came from)."""
    if isinstance(value, dict):
        return {k: strip_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [strip_uuids(v) for v in value]
    return value


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def coco_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI on the 734 real COCO masks (the README's main job)."""
    out = tmp_path_factory.mktemp("coco") / "out"
    done = cli(
        "convert", "coco", str(shared / RESULTS), "--images", str(shared / IMAGES),
        "-c", str(DEMO), "-o", str(out), "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def coco_objects(shared: Path) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """The dataset's images, and each image's results in file order with category names."""
    dataset = json.loads((shared / IMAGES).read_text())
    names = {c["id"]: c["name"] for c in dataset["categories"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for result in json.loads((shared / RESULTS).read_text()):
        by_image.setdefault(result["image_id"], []).append(
            {**result, "label": names[result["category_id"]]}
        )
    return dataset["images"], by_image


def body_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]


def dense(results: list[dict[str, Any]], height: int, width: int) -> np.ndarray:
    """The results' masks decoded to a boolean (N, H, W) stack."""
    if not results:
        return np.zeros((0, height, width), dtype=bool)
    stack = mask_utils.decode([r["segmentation"] for r in results])
    return np.moveaxis(stack, -1, 0).astype(bool)


# --- the 734 masks, given as arrays ---------------------------------------------------------


@pytest.mark.parametrize("form", ["rle", "dense"])
def test_masks_as_arrays_make_the_clis_bodies_and_totals(
    coco_run: Path, coco_objects: Any, form: str
) -> None:
    images, by_image = coco_objects
    converter = Converter(DEMO)
    tasks = []
    for image in images:
        results = by_image.get(image["id"], [])
        h, w = image["height"], image["width"]
        masks = [r["segmentation"] for r in results] if form == "rle" else dense(results, h, w)
        item = adapters.from_arrays(
            str(image["id"]),
            w,
            h,
            masks=masks,
            labels=[r["label"] for r in results],
            scores=[r["score"] for r in results],
            fields={"coco_url": image["coco_url"]},
        )
        tasks.append(converter.convert(item))
    lines = body_lines(coco_run)
    assert [t.task_type for t in tasks] == [line["task_type"] for line in lines]
    assert [strip_uuids(t.body) for t in tasks] == [strip_uuids(x["body"]) for x in lines]
    report = json.loads((coco_run / "report.json").read_text())
    assert converter.report.totals() == report["totals"]
    assert report["totals"]["objects_in"] == 734
    assert converter.report.reasons() == report["dropped_by_reason"]
    assert converter.report.fix_kinds() == report["fixes_by_kind"]
    assert converter.report.iou_summary() == report["iou"]
    # every record reads <memory> with the caller's key and the object's index
    first = next(t for t in tasks if t.records)
    assert first.records[0].source.file == "<memory>"
    assert first.records[0].source.location == f"key {first.key}, index 0"
    assert sum(len(t.records) for t in tasks) == 734


def test_supervision_detections_from_real_masks_give_the_same_polygons(
    coco_run: Path, coco_objects: Any
) -> None:
    sv = pytest.importorskip("supervision")
    images, by_image = coco_objects
    converter = Converter(DEMO)
    bodies = []
    for image in images:
        results = by_image.get(image["id"], [])
        h, w = image["height"], image["width"]
        masks = dense(results, h, w)
        detections = sv.Detections(
            xyxy=sv.mask_to_xyxy(masks).astype(float) if len(masks) else np.zeros((0, 4)),
            mask=masks,
            confidence=np.array([r["score"] for r in results], dtype=float),
            class_id=np.array([r["category_id"] for r in results], dtype=int),
            data={"class_name": np.array([r["label"] for r in results], dtype=str)},
        )
        item = adapters.from_supervision(
            detections, str(image["id"]), w, h, fields={"coco_url": image["coco_url"]}
        )
        bodies.append(converter.convert(item).body)
    lines = body_lines(coco_run)
    assert [strip_uuids(b) for b in bodies] == [strip_uuids(x["body"]) for x in lines]
    polygons = [a for b in bodies for a in b["hypothesis"]["annotations"] if a["type"] == "polygon"]
    assert len(polygons) > 200


def test_supervision_frames_make_the_mot_readers_video(shared: Path, tmp_path: Path) -> None:
    """Per-frame Detections with tracker ids -> one video item: the body the MOT reader
    makes of the same rows (uuids aside), tracks and totals alike."""
    sv = pytest.importorskip("supervision")
    gt = shared / "motmetrics/data/TUD-Campus/gt.txt"
    config = FIXTURES / "configs" / "tracking_video.toml"
    done = cli(
        "convert", "mot", str(gt), "--image-size", "640x480", "--label", "person",
        "-c", str(config), "-o", str(tmp_path), "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = np.loadtxt(gt, delimiter=",")
    frames = []
    for number in range(1, int(rows[:, 0].max()) + 1):
        mine = rows[rows[:, 0] == number]
        xy, wh = mine[:, 2:4], mine[:, 4:6]
        detections = sv.Detections(
            xyxy=np.c_[xy, xy + wh],
            class_id=np.zeros(len(mine), dtype=int),
            tracker_id=mine[:, 1].astype(int),
        )
        frames.append(
            adapters.from_supervision(detections, f"f{number}", 640, 480, names=["person"])
        )
    video = adapters.from_frames(
        "TUD-Campus", frames, first_frame=1, fields={"sequence": "TUD-Campus"}
    )
    task = Converter(config).convert(video)
    (line,) = body_lines(tmp_path)
    assert strip_uuids(task.body) == strip_uuids(line["body"])
    report = json.loads((tmp_path / "report.json").read_text())
    assert task.report.totals() == report["totals"]
    tracks = task.report.header()["tasks"][0]["tracks"]
    assert sorted(t["track_id"] for t in tracks) == sorted(
        t["track_id"] for t in report["tasks"][0]["tracks"]
    )


# --- one path: memory, directory, pickled copies ----------------------------------------------


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


PANOPTIC = "panopticapi/sample_data/"
CASES: dict[str, tuple[str, list[str], dict[str, Any], str, dict[str, Any]]] = {
    # reader, inputs, reader options (as flags and as fields), config, [prelabel] overrides
    "coco": ("coco", [RESULTS], {"images": IMAGES}, "demo/task.toml", {}),
    "masks": (
        "masks",
        [PANOPTIC + "panoptic_examples"],
        {"panoptic": PANOPTIC + "panoptic_examples.json", "images": PANOPTIC + "input_images"},
        "configs/segmentannotation.toml",
        {"allow_unmatched_labels": True},
    ),
    "mot": (
        "mot",
        ["motmetrics/data/TUD-Campus/gt.txt"],
        {"image_size": (640, 480), "fps": 25.0, "label": "person"},
        "configs/tracking_playback.toml",
        {},
    ),
}


def _flags(options: dict[str, Any], overrides: dict[str, Any], shared: Path) -> list[str]:
    out: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, tuple):
            out += [flag, "x".join(map(str, value))]
        else:
            out += [flag, str(shared / value) if "/" in str(value) else str(value)]
    return out + ["--" + n.replace("_", "-") for n in overrides]


@pytest.mark.parametrize("case", sorted(CASES))
def test_tasks_made_in_memory_write_the_clis_directory(
    case: str, shared: Path, tmp_path: Path
) -> None:
    """The CLI's directory, byte for byte, from tasks made in memory by a pickled converter
    (what a worker process gets) and written by OutputDir.add."""
    from prelabel.converters.registry import reader_entry

    fmt, inputs, given, config_name, overrides = CASES[case]
    paths = [str(shared / p) for p in inputs]
    config_path = FIXTURES / config_name
    flags = _flags(given, overrides, shared)
    done = cli("convert", fmt, *paths, *flags, "-c", str(config_path), "-o", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    entry = reader_entry(fmt)
    fields = {
        k: str(shared / v) if isinstance(v, str) and "/" in v else v for k, v in given.items()
    }
    dataset = entry.reader()(paths, entry.options_class()(**fields))
    config = load_config(config_path, overrides)
    source = "+".join(Path(p).stem for p in paths)
    converter = Converter(config, format=dataset.format, source=source)
    shipped = pickle.loads(pickle.dumps(converter))
    with OutputDir(
        tmp_path / "mem",
        format=dataset.format,
        task_type=config.task_type,
        artifact_url=config.prelabel.artifact_url,
    ) as out:
        for task in shipped.convert_all(dataset.items):
            out.add(pickle.loads(pickle.dumps(task)))
    out.finish(dataset.dropped, dataset.notes)
    assert tree(tmp_path / "mem") == tree(tmp_path / "cli")
    assert len(tree(tmp_path / "cli")) >= 2


def test_a_converter_pickles_small_and_converts_the_same(tmp_path: Path) -> None:
    converter = Converter(DEMO)
    data = pickle.dumps(converter)
    assert len(data) < 20_000
    item = adapters.from_arrays(
        "7", 640, 480, boxes=[[10, 10, 60, 90]], labels=["person"], fields={"coco_url": "u.jpg"}
    )
    copy = pickle.loads(data)
    first, second = converter.convert(item), copy.convert(item)
    assert first.line() == second.line()
    assert first.body["hypothesis"]["annotations"][0]["type"] == "polygon"
    assert converter.report.totals()["objects_in"] == 1
    with pytest.raises(PayloadError, match="both get unique_id"):
        converter.convert(item)


def test_task_parts() -> None:
    converter = Converter(
        {
            "task_type": "imageannotation",
            "params": {"geometries": {"box": {"objects_to_annotate": ["car"]}}},
        }
    )
    item = adapters.from_arrays(
        "a b", 100, 50, boxes=[[-5, 10, 20, 30], [0, 0, 0, 0]], labels=["car", "car"],
        scores=[0.9, np.nan], attachment="https://x/a.jpg",
    )  # fmt: skip
    task = converter.convert(item)
    assert isinstance(task, Task)
    assert task.unique_id == "default/imageannotation/a b"
    assert task.artifacts == {}
    (box,) = task.body["hypothesis"]["annotations"]
    assert (box["left"], box["top"], box["width"], box["height"]) == (0, 10, 20, 20)
    outcomes = [(r.outcome, r.fixes, r.reason) for r in task.records]
    assert outcomes[0][0] == "fixed" and outcomes[1][0] == "dropped"
    assert converter.report.totals()["objects_dropped"] == 1


def test_a_video_item_for_an_image_task_is_split_by_convert_all() -> None:
    converter = Converter(DEMO)
    frames = [
        adapters.from_arrays(f"f{i}", 64, 48, boxes=[[1, 1, 20, 20]], labels=["traffic light"])
        for i in range(3)
    ]
    video = adapters.from_frames("clip", frames, fields={"coco_url": "https://x/c.jpg"})
    with pytest.raises(PayloadError, match="one task per frame"):
        converter.convert(video)
    tasks = list(converter.convert_all([video]))
    assert [t.key for t in tasks] == ["clip/0", "clip/1", "clip/2"]


# --- config from a mapping ----------------------------------------------------------------


def test_load_config_from_a_mapping_checks_the_same() -> None:
    data = read_config_file(DEMO)
    from_dict, from_file = load_config(data), load_config(DEMO)
    assert (from_dict.params, from_dict.prelabel, from_dict.limits) == (
        from_file.params,
        from_file.prelabel,
        from_file.limits,
    )
    assert from_dict.path == "<dict>"
    data["params"]["priority"] = 15
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    assert str(caught.value) == "<dict>, params.priority: must be one of 10, 20, 30 (got 15)"
    with pytest.raises(ConfigError, match=r"^<dict>, prelabel\.on_violation"):
        load_config({**read_config_file(DEMO), "prelabel": {"on_violation": "maybe"}})


def test_load_config_copies_the_mapping() -> None:
    data = read_config_file(DEMO)
    config = load_config(data)
    data["params"]["project"] = "changed"
    assert config.params["project"] == "coco-demo"


# --- adapters: errors name the key and what is wrong -------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boxes": [[0, 0, 1, 1]], "labels": ["a", "b"]}, "labels has 2 entries for 1 objects"),
        ({"boxes": [[0, 0, np.nan, 1]], "labels": ["a"]}, r"boxes\[0, 2\] is not a finite"),
        ({"boxes": [[5, 0, 1, 1]], "labels": ["a"]}, r"boxes\[0\] has a negative size"),
        ({"boxes": [[0, 0, 1, 1]], "class_ids": [3], "names": ["a"]}, "class_ids.0. is 3"),
        ({"boxes": [[0, 0, 1, 1]]}, "give labels, or class_ids"),
        ({"masks": np.zeros((1, 5, 5), bool), "labels": ["a"]}, r"shaped \(N, 48, 64\)"),
        ({"polygons": [[1, 2, 3, 4]], "labels": ["a"]}, "at least 3 points"),
        (
            {"boxes": [[0, 0, 1, 1]], "masks": np.zeros((2, 48, 64), bool), "labels": ["a"]},
            "disagree on the object count",
        ),
        ({"keypoints": np.zeros((1, 3, 4)), "labels": ["a"]}, r"shaped \(1, K, 2\)"),
    ],
)
def test_adapter_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        adapters.from_arrays("k1", 64, 48, **kwargs)
    assert str(caught.value).startswith("<memory>, key k1: ")


def test_adapter_geometries_and_keypoints() -> None:
    item = adapters.from_arrays(
        "k",
        64,
        48,
        boxes=np.array([[1, 2, 10, 20]], dtype=np.float32),
        box_format="xywh",
        keypoints=np.array([[[5, 6, 2], [7, 8, 0]]]),
        class_ids=np.array([1.0]),
        names={1: "person"},
        track_ids=np.array([7]),
    )
    box, point = item.instances
    assert (box.label, box.track_id, box.instance_id) == ("person", "7", "0")
    assert (box.geometry.left, box.geometry.width) == (1.0, 10.0)  # type: ignore[union-attr]
    assert (point.label, point.attributes["visibility"]) == ("keypoint_1", 2)
    (dropped,) = item.dropped
    assert dropped.reason == "keypoint not labelled (visibility 0)"
    assert dropped.source.location == "key k, index 0, keypoint keypoint_2"
    polygon = adapters.from_arrays(
        "p", 64, 48, polygons=[[np.array([[0, 0], [9, 0], [9, 9]]), [20, 20, 30, 20, 30, 30]]],
        labels=["a"],
    ).instances[0].geometry  # fmt: skip
    assert len(polygon.parts) == 2  # type: ignore[union-attr]


def test_class_names_keyed_by_the_ids_text_as_json_gives_them() -> None:
    names = json.loads('{"1": "person", "3": "car"}')
    boxes = np.array([[0, 0, 5, 5], [1, 1, 6, 6]])
    item = adapters.from_arrays("k", 64, 48, boxes=boxes, class_ids=np.array([3, 1]), names=names)
    assert [i.label for i in item.instances] == ["car", "person"]
    with pytest.raises(InputError, match=r"class_ids\[1\] is 2, which names does not have"):
        adapters.from_arrays("k", 64, 48, boxes=boxes, class_ids=[1, 2], names=names)


def test_an_item_dropped_list_reaches_the_tasks_records() -> None:
    config = {
        "task_type": "imageannotation",
        "params": {"geometries": {"point": {}}},
        "prelabel": {"attachment_url": "https://x/{key}.jpg"},
    }
    item = adapters.from_arrays("k", 64, 48, keypoints=[[[5, 6, 2], [7, 8, 0]]], labels=["person"])
    task = Converter(config).convert(item)
    assert [r.outcome for r in task.records] == ["dropped", "converted"]
    assert isinstance(item, Item)


def test_no_detections_in_any_form_is_an_empty_item() -> None:
    empties: list[dict[str, Any]] = [
        {"boxes": [], "labels": []},
        {"boxes": np.zeros((0, 4)), "class_ids": np.zeros(0), "names": ["a"]},
        {"masks": np.zeros((0, 48, 64), bool), "labels": []},
        {"masks": [], "polygons": None, "keypoints": [], "labels": []},
        {},
    ]
    for kwargs in empties:
        item = adapters.from_arrays("e", 64, 48, **kwargs)
        assert item.instances == [] and item.dropped == []


def test_an_item_that_failed_can_be_converted_again() -> None:
    strict = {**read_config_file(DEMO), "prelabel": {"attachment_url": "{coco_url}"}}
    converter = Converter(strict)  # unmatched labels are errors here
    bad = adapters.from_arrays("9", 64, 48, boxes=[[1, 1, 9, 9]], labels=["zebra"])
    with pytest.raises(InputError, match="label 'zebra' is not one of the task's labels"):
        converter.convert(bad)
    good = adapters.from_arrays(
        "9", 64, 48, boxes=[[1, 1, 9, 9]], labels=["person"], fields={"coco_url": "u"}
    )
    assert converter.convert(good).unique_id == "coco-demo/imageannotation/9"
    assert converter.report.totals()["tasks"] == 1
    assert converter.report.task_items == [] and converter.report.records == []
