"""The YOLO reader on the real files in ../shared/data/yolo: every file converts (or a DOTA
file is refused), coordinates against a computation of their own, pairing, bad rows."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from prelabel.converters.yolo.read import YoloOptions, read_yolo
from prelabel.converters.yolo.rows import rectangle
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.geometry.primitives import rotated_box_vertices
from prelabel.model import Box, Dataset, Item, Point, Polygon

CVAT = "yolo/cvat_datumaro/"
STUDIO = "yolo/label_studio_converter/test_import_yolo_data"
# the image sizes the data's README lists for the label-studio photos
STUDIO_SIZES = {
    "img_1": (640, 329),
    "img_2": (640, 427),
    "img_3": (1280, 720),
    "img_4": (640, 494),
    "img_5": (640, 425),
    "img_6": (1280, 720),
    "img_7": (640, 427),
}


def items(dataset: Dataset) -> list[Item]:
    return list(dataset.items)


def rows_of(path: Path) -> np.ndarray:
    """The file's rows as numbers (CRLF, no final newline and all), by numpy alone."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return np.array([[float(v) for v in line] for line in lines])


def boxes(item: Item) -> list[Box]:
    return [i.geometry for i in item.instances if isinstance(i.geometry, Box)]


# --- every real file -------------------------------------------------------------------------

RUNS: dict[str, tuple[str, dict[str, Any], int, int]] = {
    # folder, options, tasks, objects (instances incl. keypoints)
    "detect": (CVAT + "yolov8_detection", {"names": CVAT + "yolov8_detection/data.yaml"}, 1, 2),
    "names list": (
        CVAT + "yolov8_detection_with_list_of_names",
        {"names": CVAT + "yolov8_detection_with_list_of_names/data.yaml"},
        1,
        2,
    ),
    "subset txt": (
        CVAT + "yolov8_detection_with_subset_txt",
        {"names": CVAT + "yolov8_detection_with_subset_txt/data.yaml"},
        1,
        2,
    ),
    "obb": (
        CVAT + "yolov8_oriented_boxes",
        {"names": CVAT + "yolov8_oriented_boxes/data.yaml", "kind": "obb"},
        1,
        2,
    ),
    "pose": (CVAT + "yolov8_pose", {"names": CVAT + "yolov8_pose/data.yaml"}, 1, 4),
    "pose xy": (
        CVAT + "yolov8_pose_two_values_per_point",
        {"names": CVAT + "yolov8_pose_two_values_per_point/data.yaml"},
        1,
        4,
    ),
    "segment": (
        CVAT + "yolov8_segmentation",
        {"names": CVAT + "yolov8_segmentation/data.yaml"},
        1,
        2,
    ),
    "roboflow": (
        "yolo/openvino_datumaro_roboflow/yolo",
        {"names": "yolo/openvino_datumaro_roboflow/yolo/data.yaml"},
        3,
        4,
    ),
    "label studio": (STUDIO, {"names": STUDIO + "/classes.txt"}, 7, 25),
    "predict": ("yolo/labautosig_predictions/runs/detect/predict", {}, 1, 5),
    "predict2": ("yolo/labautosig_predictions/runs/detect/predict2", {}, 1, None),  # type: ignore[dict-item]
    "predict3": ("yolo/labautosig_predictions/runs/detect/predict3", {}, 1, None),  # type: ignore[dict-item]
    "predict4": ("yolo/labautosig_predictions/runs/detect/predict4", {}, 1, None),  # type: ignore[dict-item]
    "nothing detected": (
        "yolo/labautosig_predictions/alt/display_detection/runs/detect/predict370",
        {},
        1,
        0,
    ),
    "camina conf": (
        "yolo/camina_val_predictions/runs/detect/val6/labels",
        {
            "image_size": (640, 640),
            "names": "yolo/camina_val_predictions/custom_model_train/all_camina_classes/data.yaml",
        },
        2,
        None,  # type: ignore[dict-item]
    ),
    "birdeep conf": (
        "yolo/birdeep_predictions/runs/detect",
        {
            "image_size": (1000, 500),
            "names": "yolo/birdeep_predictions/BIRDeep Song Detector/Detector Scripts/birdeep.yaml",
        },
        2,
        None,  # type: ignore[dict-item]
    ),
    "class names": (
        "yolo/nkotani_yolov5_names_variant/yolov5/runs/detect/exp/labels",
        {"image_size": (810, 1080)},
        2,
        11,
    ),
}


def run(shared: Path, folder: str, given: dict[str, Any]) -> Dataset:
    options = {k: str(shared / v) if k == "names" else v for k, v in given.items()}
    return read_yolo([str(shared / folder)], YoloOptions(**options))


def label_rows(shared: Path, folder: str) -> int:
    return sum(
        len([x for x in p.read_text().splitlines() if x.strip()])
        for p in (shared / folder).rglob("*.txt")
        if p.name != "classes.txt" and "labels" in p.parts
    )


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_real_file_converts(name: str, shared: Path) -> None:
    folder, given, tasks, objects = RUNS[name]
    dataset = run(shared, folder, given)
    got = items(dataset)
    assert len(got) == tasks
    count = sum(len(i.instances) for i in got) + len(dataset.dropped)
    assert count == (objects if objects is not None else label_rows(shared, folder))
    assert all(i.width and i.height for i in got)


def test_dota_files_are_refused_not_misread(shared: Path) -> None:
    folder = shared / "yolo/openvino_datumaro_roboflow/yolo_obb"
    for options in (YoloOptions(), YoloOptions(kind="obb", bad_rows="drop", image_size=(10, 5))):
        with pytest.raises(InvalidAnnotationError, match="a DOTA row") as caught:
            items(read_yolo([str(folder)], options))
        assert caught.value.location == "line 1"
        assert caught.value.path is not None and caught.value.path.endswith("train_001.txt")


# --- coordinates against an independent computation ---------------------------------------


def test_detect_boxes_are_the_normalised_rows_in_pixels(shared: Path) -> None:
    dataset = run(shared, STUDIO, {"names": STUDIO + "/classes.txt"})
    names = (shared / STUDIO / "classes.txt").read_text().split()
    for item in items(dataset):
        width, height = STUDIO_SIZES[item.key]
        assert (item.width, item.height) == (width, height)
        rows = rows_of(shared / STUDIO / "labels" / f"{item.key}.txt")
        expected = np.c_[
            (rows[:, 1] - rows[:, 3] / 2) * width,
            (rows[:, 2] - rows[:, 4] / 2) * height,
            rows[:, 3] * width,
            rows[:, 4] * height,
        ]
        got = np.array([[b.left, b.top, b.width, b.height] for b in boxes(item)])
        np.testing.assert_allclose(got, expected, atol=1e-9)
        assert [i.label for i in item.instances] == [names[int(c)] for c in rows[:, 0]]
        assert all(i.score is None for i in item.instances)


@pytest.mark.parametrize("name", ["camina conf", "birdeep conf"])
def test_a_trailing_confidence_is_the_score(name: str, shared: Path) -> None:
    folder, given, _, _ = RUNS[name]
    width = given["image_size"][0]
    for item in items(run(shared, folder, given)):
        path = next((shared / folder).rglob(f"{Path(item.key).name}.txt"))
        rows = rows_of(path)
        assert [i.score for i in item.instances] == pytest.approx(rows[:, 5].tolist())
        lefts = [b.left for b in boxes(item)]
        np.testing.assert_allclose(lefts, (rows[:, 1] - rows[:, 3] / 2) * width)
    conf0 = "AM10_20230509_073000.txt"
    rows = rows_of(next((shared / "yolo/birdeep_predictions").rglob(conf0)))
    assert rows[:, 5].min() == pytest.approx(2.83552e-10)  # scientific notation read


def test_zero_width_predictions_are_kept_for_the_limits_engine(shared: Path) -> None:
    folder, given, _, _ = RUNS["camina conf"]
    found = [b for item in items(run(shared, folder, given)) for b in boxes(item) if b.width == 0]
    assert found and all(b.left == pytest.approx(640.0) for b in found)


def test_segment_polygons_pose_keypoints_and_oriented_boxes(shared: Path) -> None:
    (item,) = items(run(shared, *RUNS["segment"][:2]))
    rows = [r.split() for r in (shared / CVAT / "yolov8_segmentation/labels/train/1.txt").read_text().splitlines()]  # fmt: skip
    for inst, row in zip(item.instances, rows, strict=True):
        assert isinstance(inst.geometry, Polygon)
        xy = np.array(row[1:], dtype=float).reshape(-1, 2) * [15, 10]  # the image is 15x10
        np.testing.assert_allclose(inst.geometry.parts[0].exterior, xy)
    (pose,) = items(run(shared, *RUNS["pose"][:2]))
    points = [i for i in pose.instances if isinstance(i.geometry, Point)]
    got = [(p.geometry.x, p.geometry.y, p.attributes["visibility"]) for p in points]  # type: ignore[union-attr]
    np.testing.assert_allclose(got, [(1.5, 2.0, 2), (4.5, 4.0, 2), (7.5, 6.0, 2)])
    assert [p.label for p in points] == ["keypoint_1", "keypoint_2", "keypoint_3"]
    (obb,) = items(run(shared, *RUNS["obb"][:2]))
    lines = (shared / CVAT / "yolov8_oriented_boxes/labels/train/1.txt").read_text().splitlines()
    for inst, line in zip(obb.instances, lines, strict=True):
        corners = np.array(line.split()[1:], dtype=float).reshape(4, 2) * [15, 10]
        assert isinstance(inst.geometry, Box) and inst.geometry.rotation != 0
        same_corners(rotated_box_vertices(inst.geometry), corners, 1e-3)


def same_corners(got: Any, expected: np.ndarray, tolerance: float) -> None:
    got = np.asarray(got)
    for corner in expected:
        assert np.hypot(*(got - corner).T).min() < tolerance, (got, expected)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0.5, 50),
    st.floats(0.5, 50),
    st.floats(-math.pi, math.pi),
    st.booleans(),
)
def test_four_rectangle_corners_round_trip(
    cx: float, cy: float, w: float, h: float, angle: float, reverse: bool
) -> None:
    box = Box(cx - w / 2, cy - h / 2, w, h, angle)
    corners = np.asarray(rotated_box_vertices(box))
    found = rectangle(corners[::-1] if reverse else corners)
    assert found is not None
    same_corners(rotated_box_vertices(found), corners, 1e-6)
    assert found.width * found.height == pytest.approx(w * h)


@pytest.mark.parametrize("can_rotate", [True, False])
def test_obb_is_a_rotated_box_where_the_task_allows_it_else_its_bounding_box(
    can_rotate: bool, shared: Path, tmp_path: Path
) -> None:
    folder, given, _, _ = RUNS["obb"]
    config = tmp_path / "task.json"
    box = {"objects_to_annotate": ["label_2", "label_4"], "can_rotate": can_rotate}
    config.write_text(
        json.dumps(
            {
                "task_type": "imageannotation",
                "params": {"project": "obb", "geometries": {"box": box}},
                "prelabel": {"attachment_url": "https://cdn.example.com/{file_name}"},
            }
        )
    )
    done = cli(
        "convert", "yolo", str(shared / folder), "--kind", "obb", "--names",
        str(shared / given["names"]), "-c", str(config), "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = (tmp_path / "o/tasks.jsonl").read_text().splitlines()
    annotations = json.loads(line)["body"]["hypothesis"]["annotations"]
    report = json.loads((tmp_path / "o/report.json").read_text())
    fixes = [f for r in report["objects"] for f in r.get("fixes", [])]
    assert len(annotations) == 2
    if can_rotate:
        assert all(a["rotation"] != 0 and len(a["vertices"]) == 4 for a in annotations)
        assert not any(f.startswith("rotated") for f in fixes)
    else:
        assert all("rotation" not in a for a in annotations)
        assert fixes.count("rotated: replaced by the axis-aligned bounding box") == 2


# --- pairing ---------------------------------------------------------------------------------


def test_images_and_labels_pair_by_path_names_with_spaces_and_dots(tmp_path: Path) -> None:
    names = ["a b.c.d", "000000001053_jpg.rf.07079145a5cc3a104425edb556c7591b", "x"]
    (tmp_path / "images" / "val").mkdir(parents=True)
    for n, name in enumerate(names):
        Image.new("RGB", (20 + n, 10 + n)).save(tmp_path / "images" / "val" / f"{name}.jpg")
    (tmp_path / "labels" / "val").mkdir(parents=True)
    for name in names[:2]:
        (tmp_path / "labels" / "val" / f"{name}.txt").write_text("0 0.5 0.5 0.5 0.5\r\n")
    got = items(read_yolo([str(tmp_path)], YoloOptions()))
    assert [(i.key, i.width, i.height, len(i.instances)) for i in got] == [
        ("val/000000001053_jpg.rf.07079145a5cc3a104425edb556c7591b", 21, 11, 1),
        ("val/a b.c.d", 20, 10, 1),
        ("val/x", 22, 12, 0),
    ]
    assert got[1].fields["file_name"] == "val/a b.c.d.jpg"
    # the labels folder alone pairs by the Ultralytics rule (labels -> images)
    alone = items(read_yolo([str(tmp_path / "labels" / "val")], YoloOptions()))
    assert [(i.key, i.width) for i in alone] == [(got[0].key[4:], 21), ("a b.c.d", 20)]
    # --images mirrors the labels folder
    mirrored = items(
        read_yolo([str(tmp_path / "labels")], YoloOptions(images=str(tmp_path / "images")))
    )
    assert [i.key for i in mirrored] == [i.key for i in got]


def test_a_label_file_without_an_image_needs_an_image_size(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(InputError, match="pass --images DIR or --image-size WxH"):
        items(read_yolo([str(tmp_path)], YoloOptions()))
    (item,) = items(read_yolo([str(tmp_path)], YoloOptions(image_size=(100, 50))))
    assert boxes(item)[0] == Box(25, 12.5, 50, 25)


# --- bad rows --------------------------------------------------------------------------------

MALFORMED = """0 0.5 0.5 0.2 0.2
0 0.5 0.5 -0.2 0.2
person 0.5 0.5 0.2
0 0.5 nan 0.2 0.2
1.5 0.5 0.5 0.2 0.2
7 0.5 0.5 0.1 0.1
0 0.5 0.5 zero 0.1
0 0.1 0.1 0.2 0.2 0.3 0.3 0.9
"""


def test_bad_rows_error_drop_fix(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text(MALFORMED)
    (tmp_path / "names.txt").write_text("person\ncar\n")
    common = {"image_size": (100, 100), "names": str(tmp_path / "names.txt")}
    with pytest.raises(InvalidAnnotationError) as caught:
        items(read_yolo([str(tmp_path)], YoloOptions(**common)))
    assert "bad.txt, line 2: negative box size -0.2 x 0.2; --bad-rows" in str(caught.value)
    dataset = read_yolo([str(tmp_path)], YoloOptions(**common, bad_rows="drop"))
    (item,) = items(dataset)
    reasons = {d.source.location: d.reason for d in dataset.dropped}
    assert reasons == {
        "line 2": "negative box size -0.2 x 0.2",
        "line 3": "4 values; a detect row is class cx cy w h [conf]",
        "line 4": "'nan' is not a finite number",
        "line 5": "class '1.5' is not a whole number >= 0",
        "line 6": f"class 7 has no name in {tmp_path / 'names.txt'} (2 classes)",
        "line 7": "'zero' is not a number",
    }
    assert [i.source.location for i in item.instances] == ["line 1", "line 8"]
    assert isinstance(item.instances[1].geometry, Polygon) and item.instances[1].score == 0.9
    fixed = read_yolo([str(tmp_path)], YoloOptions(**common, bad_rows="fix"))
    (item,) = items(fixed)
    assert boxes(item)[1] == Box(40, 40, 20, 20)
    assert "line 2" not in {d.source.location for d in fixed.dropped}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_cli_dota_exit_code_and_one_line(shared: Path, tmp_path: Path) -> None:
    done = cli(
        "convert", "yolo", str(shared / "yolo/openvino_datumaro_roboflow/yolo_obb"),
        "-c", str(FIXTURES / "configs/imageannotation.toml"), "-o", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert "train_001.txt, line 1: a DOTA row" in line


def test_cli_converts_a_predict_run_with_the_images_beside(shared: Path, tmp_path: Path) -> None:
    config = tmp_path / "task.json"
    config.write_text(
        json.dumps(
            {
                "task_type": "imageannotation",
                "params": {"project": "digits", "geometries": {"box": {}}},
                "prelabel": {"attachment_url": "https://cdn.example.com/{file_name}"},
            }
        )
    )
    run_dir = shared / "yolo/labautosig_predictions/runs/detect/predict"
    done = cli("convert", "yolo", str(run_dir), "-c", str(config), "-o", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    (line,) = (tmp_path / "o/tasks.jsonl").read_text().splitlines()
    body = json.loads(line)["body"]
    assert body["attachment"] == "https://cdn.example.com/image0.jpg"
    rows = rows_of(run_dir / "labels/image0.txt")
    lefts = sorted(a["left"] for a in body["hypothesis"]["annotations"])
    with Image.open(run_dir / "image0.jpg") as image:
        width = image.size[0]
    expected = sorted(max(0.0, round(v, 3)) for v in (rows[:, 1] - rows[:, 3] / 2) * width)
    assert lefts == pytest.approx(expected, abs=1e-3)
