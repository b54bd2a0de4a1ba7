"""`prelabel convert coco` end to end in a subprocess: every target, and the error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, SHARED
from PIL import Image

GT100 = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
RESULTS = SHARED / "cocoapi/results"
VIS = SHARED / "mmtracking/demo_vis_data"

IMAGE_CONFIG = """task_type = "imageannotation"
[params]
project = "p"
instruction = "fix"
[params.geometries.box]
objects_to_annotate = ["person", "car", "dog"]
[prelabel]
attachment_url = "https://cdn/{file_name}"
"""
SEGMENT_CONFIG = """task_type = "segmentannotation"
[params]
project = "p"
instruction = "paint"
attachment_type = "image"
allow_unlabeled = true
labels = [{ choice = "person", instance_label = true }, "dog"]
[prelabel]
attachment_url = "https://cdn/{file_name}"
allow_unmatched_labels = true
"""
VIDEO_CONFIG = """task_type = "videoannotation"
[params]
project = "p"
instruction = "track"
attachment_type = "image"
frame_rate = 1
[params.geometries.box]
objects_to_annotate = ["car", "person"]
[prelabel]
attachment_url = "https://cdn/{file_name}"
"""
PLAYBACK_CONFIG = """task_type = "videoplaybackannotation"
[params]
project = "p"
instruction = "track"
attachment_type = "video"
frame_rate = 5
[params.geometries.polygon]
objects_to_annotate = ["sedan"]
[prelabel]
attachment_url = "https://cdn/{name}.mp4"
"""


def run(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config)
    cmd = [sys.executable, "-m", "prelabel.cli", "convert", "coco", *args]
    cmd += ["--config", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def tasks(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "out" / "tasks.jsonl").read_text().splitlines()
    return [json.loads(line)["body"] for line in lines]


def report(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "out" / "report.json").read_text())
    return data


def artifact(tmp_path: Path, ref: str) -> Path:
    return tmp_path / "out" / "artifacts" / ref.removeprefix("artifact://")


def test_bbox_results_to_imageannotation(shared: Path, tmp_path: Path) -> None:
    bbox = RESULTS / "instances_val2014_fakebbox100_results.json"
    done = run(
        tmp_path, IMAGE_CONFIG, str(bbox), "--images", str(GT100), "--allow-unmatched-labels"
    )
    assert done.returncode == 0, done.stderr
    bodies = tasks(tmp_path)
    assert len(bodies) == 100  # every image of the dataset file
    assert bodies[0]["attachment"].startswith("https://cdn/COCO_val2014_")
    annotations = [a for b in bodies for a in b["hypothesis"]["annotations"]]
    raw = json.loads(bbox.read_text())
    kept = sum(1 for r in raw if r["category_id"] in (1, 3, 18))  # person, car, dog
    assert len(annotations) == kept and {a["type"] for a in annotations} == {"box"}
    assert report(tmp_path)["totals"]["objects_in"] == 734


def test_segm_results_to_segmentannotation(shared: Path, tmp_path: Path) -> None:
    segm = RESULTS / "instances_val2014_fakesegm100_results.json"
    args = [str(segm), "--images", str(GT100), "--only-with-results"]
    done = run(tmp_path, SEGMENT_CONFIG, *args)
    assert done.returncode == 0, done.stderr
    bodies = tasks(tmp_path)
    assert len(bodies) == 99
    body = next(b for b in bodies if b["hypothesis"]["labelMapping"])
    png = artifact(tmp_path, body["hypothesis"]["annotations"]["combined"]["indexedImage"])
    with Image.open(png) as im:
        assert im.mode in ("L", "P")
        values = np.asarray(im)
    mapping = body["hypothesis"]["labelMapping"]
    entries = [e for v in mapping.values() for e in (v if isinstance(v, list) else [v])]
    for entry in entries:
        assert (values == entry["index"]).sum() == entry["numPixels"]


def test_keypoint_results_to_points(shared: Path, tmp_path: Path) -> None:
    kpts = RESULTS / "person_keypoints_val2014_fakekeypoints100_results.json"
    cfg = (FIXTURES / "configs" / "imageannotation_keypoints.json").read_text()
    path = tmp_path / "kp.json"
    path.write_text(cfg)
    cmd = [
        sys.executable,
        "-m",
        "prelabel.cli",
        "convert",
        "coco",
        str(kpts),
        "--images",
        str(GT100),
    ]
    cmd += ["--keypoint-schema", str(SHARED / "mmpose/coco/test_coco.json"), "--only-with-results"]
    cmd += ["--config", str(path), "--out", str(tmp_path / "out"), "-q", "-t", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    points = [a for b in tasks(tmp_path) for a in b["hypothesis"]["annotations"]]
    assert len(points) == 1314 + 162 and {p["type"] for p in points} == {"point"}
    assert report(tmp_path)["dropped_by_reason"] == {"keypoint not labelled (visibility 0)": 649}


def test_cocovid_to_videoannotation(shared: Path, tmp_path: Path) -> None:
    done = run(tmp_path, VIDEO_CONFIG, str(SHARED / "mmtracking/demo_cocovid_data/ann.json"))
    assert done.returncode == 0, done.stderr
    (body,) = tasks(tmp_path)
    assert len(body["attachments"]) == 8 and body["attachments"][0] == "https://cdn/image_1.jpg"
    hypothesis = json.loads(
        artifact(tmp_path, body["hypothesis"]["annotations"]["url"]).read_text()
    )
    assert report(tmp_path)["totals"]["objects_in"] == 10 and hypothesis


def test_mmtracking_results_to_videoplayback(shared: Path, tmp_path: Path) -> None:
    args = [str(VIS / "results.json"), "--images", str(VIS / "ann.json"), "--fps", "5"]
    done = run(tmp_path, PLAYBACK_CONFIG, *args)
    assert done.returncode == 0, done.stderr
    (body,) = tasks(tmp_path)
    assert body["attachment"] == "https://cdn/0043f083b5.mp4"
    hypothesis = json.loads(
        artifact(tmp_path, body["hypothesis"]["annotations"]["url"]).read_text()
    )
    (track,) = hypothesis.values()
    assert track["label"] == "sedan" and track["frames"][0]["timestamp"] == 0


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no_image", "results[1]: image_id 123456789 has no image in images and categories from"),
        ("bad_polygon", "annotations[0]: segmentation[0] must be a flat list of numbers"),
        ("bad_json", "line 3, column 11: invalid JSON"),
        ("no_source", "a COCO results list has no image sizes or file names: give --images"),
    ],
)
def test_error_lines(shared: Path, tmp_path: Path, case: str, expected: str) -> None:
    raw = json.loads((RESULTS / "instances_val2014_fakebbox100_results.json").read_text())[:2]
    path = tmp_path / f"{case}.json"
    args = [str(path), "--images", str(GT100)]
    if case == "no_image":
        raw[1]["image_id"] = 123456789
        path.write_text(json.dumps(raw))
    elif case == "bad_polygon":
        gt = {
            "images": [{"id": 0, "width": 4, "height": 4}],
            "categories": [{"id": 1, "name": "dog"}],
        }
        gt["annotations"] = [
            {"id": 0, "image_id": 0, "category_id": 1, "segmentation": [[1, "2", 3]]}
        ]
        path.write_text(json.dumps(gt))
        args = [str(path)]
    elif case == "bad_json":
        path.write_text(
            '[{"image_id": 42, "category_id": 1, "bbox": [1, 2, 3, 4]},\n\n {"bbox": }]'
        )
    else:
        path.write_text(json.dumps(raw))
        args = [str(path)]
    done = run(tmp_path, IMAGE_CONFIG, *args)
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: {path}") and expected in line
