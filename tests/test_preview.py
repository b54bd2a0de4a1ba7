"""Previews drawn from real converted outputs: golden images compared with a tolerance, real
photos and video frames from shared/, the image-finding rule, and the errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SHARED
from PIL import Image as PILImage

from prelabel.cli.main import cli
from prelabel.config.load import load_config
from prelabel.converters.registry import reader_entry
from prelabel.errors import InputError
from prelabel.pipeline import convert
from prelabel.review.draw import (
    Colours,
    annotation_points,
    draw_annotation,
    fixed_uuids,
    prelabels,
    taxonomy_labels,
)
from prelabel.review.load import ImageFinder, load_output
from prelabel.review.preview import preview_dir
from prelabel.review.segment import mapping_entries
from prelabel.review.video import sample_indices, video_frames

GOLDEN = FIXTURES / "preview"
MMPOSE = SHARED / "mmpose/coco"
PAN = SHARED / "panopticapi/sample_data"
COCOVID = SHARED / "mmtracking/demo_cocovid_data/ann.json"
LABELME_VIDEO = SHARED / "labelme/video_annotation/data_dataset_voc"

SEGMENT_CONFIG = """task_type = "segmentannotation"
[params]
project = "pan"
instruction = "paint"
attachment_type = "image"
allow_unlabeled = true
labels = [{ choice = "person", instance_label = true }, "grass-merged", "tree-merged", "sky-other-merged"]
[prelabel]
attachment_url = "https://cdn.example.com/val2017/{file_name}"
allow_unmatched_labels = true
"""
VIDEO_CONFIG = """task_type = "videoannotation"
[params]
project = "vid"
instruction = "track"
attachment_type = "image"
frame_rate = 2
[params.geometries.box]
objects_to_annotate = ["car", "person"]
[params.geometries.polygon]
objects_to_annotate = ["car", "track"]
[prelabel]
attachment_url = "https://cdn.example.com/{sequence}/{file_name}"
"""


def run_convert(tmp: Path, fmt: str, inputs: list[Path], config: str | Path, **reader: Any) -> Path:
    """Convert real files with the library pipeline into ``tmp/out``."""
    if isinstance(config, str):
        path = tmp / "config.toml"
        path.write_text(config)
        config = path
    entry = reader_entry(fmt)
    dataset = entry.reader()([str(p) for p in inputs], entry.options_class()(**reader))
    out = tmp / "out"
    convert(dataset, load_config(config), out)
    return out


class TextStandIn:
    """Stands in for OpenCV's text drawing while a golden is rendered.

    Glyphs differ between OpenCV builds (4.x Hershey vs 5.x fonts), so goldens hold the
    geometry only: ``putText`` records what would be written and draws nothing, and
    ``getTextSize`` measures every character as a fixed 8 x 12 box at scale 0.45, so label
    boxes keep a size that does not depend on the font. The recorded texts are checked
    separately (``texts``), and a real render is checked for ink in the legend rows.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []

    def put_text(self, img: Any, text: str, org: Any, *args: Any, **kwargs: Any) -> Any:
        self.texts.append(text)
        return img

    def text_size(self, text: str, font: int, scale: float, thickness: int) -> Any:
        return (round(len(text) * 8 * scale / 0.45), round(12 * scale / 0.45)), 3


@pytest.fixture
def text_stand_in(monkeypatch: pytest.MonkeyPatch) -> TextStandIn:
    stand_in = TextStandIn()
    monkeypatch.setattr(cv2, "putText", stand_in.put_text)
    monkeypatch.setattr(cv2, "getTextSize", stand_in.text_size)
    return stand_in


def assert_close(got_path: Path, name: str, update: bool) -> None:
    """Compare with the golden PNG (drawn without text, see :class:`TextStandIn`): same size,
    mean abs diff <= 1.5 and under 0.5% of the pixels off by more than 40 (anti-aliasing and
    encoder noise pass; a moved box, a missing outline or a changed colour does not)."""
    golden = GOLDEN / name
    if update:
        GOLDEN.mkdir(exist_ok=True)
        shutil.copyfile(got_path, golden)
    want = cv2.imread(str(golden), cv2.IMREAD_COLOR)
    got = cv2.imread(str(got_path), cv2.IMREAD_COLOR)
    assert want is not None, f"golden {golden} missing; run pytest --update-goldens"
    assert got.shape == want.shape, f"{name}: size {got.shape} != golden {want.shape}"
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    mean = float(diff.mean())
    off = float((diff.max(axis=2) > 40).mean())
    assert mean <= 1.5 and off <= 0.005, f"{name}: mean abs diff {mean:.3f}, {off:.2%} off"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's main job: COCO instance-mask results -> polygons, many of them fixed."""
    tmp = tmp_path_factory.mktemp("demo")
    return run_convert(
        tmp,
        "coco",
        [SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json"],
        FIXTURES / "demo/task.toml",
        images=str(SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"),
    )


# --- goldens --------------------------------------------------------------------------------


def test_keypoints_on_the_real_photo_match_golden(
    shared: Path, tmp_path: Path, update_goldens: bool, text_stand_in: TextStandIn
) -> None:
    out = run_convert(
        tmp_path,
        "coco",
        [MMPOSE / "test_coco.json"],
        FIXTURES / "configs/imageannotation_keypoints.json",
    )
    previews = preview_dir(out, MMPOSE, tmp_path / "pv", limit=None)
    assert [p.image_found for p in previews] == [True] * 4
    # 000000000785.jpg is CC BY 2.0 (fixtures/preview/README.md), so its preview may be a golden
    assert_close(tmp_path / "pv/pose_imageannotation_785.png", "pose_785.png", update_goldens)
    # every point is written with its keypoint label, and every label is in a legend
    task = next(t for t in load_output(out).tasks if t.unique_id.endswith("/785"))
    points = [a for a in prelabels(task.body) if a["type"] == "point"]
    assert len(points) > 10
    assert {a["label"] for a in points} <= set(text_stand_in.texts)
    legend = "\n".join(text_stand_in.texts)
    assert all(f"{label} (" in legend for label in {a["label"] for a in points})


def test_fixed_polygons_on_a_canvas_match_golden(
    demo: Path, tmp_path: Path, update_goldens: bool, text_stand_in: TextStandIn
) -> None:
    previews = preview_dir(demo, None, tmp_path / "pv")
    assert len(previews) == 100 and not any(p.image_found for p in previews)
    assert_close(
        tmp_path / "pv/coco-demo_imageannotation_257.png", "demo_257_canvas.png", update_goldens
    )
    out = load_output(demo)
    records = out.records("coco-demo/imageannotation/257")
    fixed = sum(r["outcome"] == "fixed" for r in records)
    assert f"fixed, dashed + '*': {fixed}" in text_stand_in.texts


def test_panoptic_segments_match_golden(
    shared: Path, tmp_path: Path, update_goldens: bool, text_stand_in: TextStandIn
) -> None:
    out = run_convert(
        tmp_path,
        "masks",
        [PAN / "panoptic_examples"],
        SEGMENT_CONFIG,
        panoptic=str(PAN / "panoptic_examples.json"),
    )
    preview_dir(out, None, tmp_path / "pv")
    assert_close(
        tmp_path / "pv/pan_segmentannotation_000000142238.png",
        "panoptic_142238_canvas.png",
        update_goldens,
    )
    body = load_output(out).tasks[0].body
    labels = {label for _, label in mapping_entries(body["hypothesis"]["labelMapping"])}
    assert labels and all(
        any(t.startswith(f"{label} (") for t in text_stand_in.texts) for label in labels
    )


def test_cocovid_contact_sheet_matches_golden(
    shared: Path, tmp_path: Path, update_goldens: bool, text_stand_in: TextStandIn
) -> None:
    out = run_convert(tmp_path, "coco", [COCOVID], VIDEO_CONFIG)
    (p,) = preview_dir(out, None, tmp_path / "pv")
    assert not p.image_found
    assert_close(p.path, "cocovid_sheet.png", update_goldens)
    # track numbers are written beside the boxes, one caption per tile
    assert any(t.startswith("#1 ") for t in text_stand_in.texts)
    captions = [t for t in text_stand_in.texts if re.fullmatch(r"frame \d+ \(no image\)", t)]
    assert len(captions) == 8


# --- what the pictures show -------------------------------------------------------------------


def test_fixed_annotations_are_found_by_their_uuid(demo: Path) -> None:
    out = load_output(demo)
    task = next(t for t in out.tasks if t.unique_id == "coco-demo/imageannotation/257")
    records = out.records(task.unique_id)
    fixed = fixed_uuids(records, task.unique_id)
    sent = {a["uuid"] for a in prelabels(task.body)}
    want = sum(r["annotations"] for r in records if r["outcome"] == "fixed")
    assert sum(r["outcome"] == "fixed" for r in records) == 11
    assert want >= 11  # a split object becomes several annotations
    assert len(fixed) == want and fixed <= sent


def test_segment_overlay_uses_the_photo_and_the_indexed_png(shared: Path, tmp_path: Path) -> None:
    out = run_convert(
        tmp_path,
        "masks",
        [PAN / "panoptic_examples"],
        SEGMENT_CONFIG,
        panoptic=str(PAN / "panoptic_examples.json"),
    )
    with_photo = preview_dir(out, PAN / "input_images", tmp_path / "a")
    canvas_only = preview_dir(out, None, tmp_path / "b")
    assert all(p.image_found for p in with_photo)
    a = cv2.imread(str(with_photo[0].path))
    b = cv2.imread(str(canvas_only[0].path))
    photo = cv2.imread(str(PAN / "input_images/000000142238.jpg"))
    h, w = photo.shape[:2]
    # pixels no segment covers show the photo itself; the canvas version does not
    body = load_output(out).tasks[0].body
    ref = body["hypothesis"]["annotations"]["combined"]["indexedImage"]
    with PILImage.open(out / "artifacts" / ref.removeprefix("artifact://")) as im:
        values = np.asarray(im)
    # away from segment borders (drawn white)
    free = cv2.erode((values == 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert free.sum() > 500
    assert np.abs(a[:h, :w][free].astype(int) - photo[free].astype(int)).mean() < 3
    assert np.abs(b[:h, :w][free].astype(int) - photo[free].astype(int)).mean() > 30
    # a person's interior is the photo blended 45/55 with the person colour
    entries = list(mapping_entries(body["hypothesis"]["labelMapping"]))
    inner = np.zeros(values.shape, dtype=bool)
    for index in (i for i, label in entries if label == "person"):  # each instance's interior
        inner |= cv2.erode((values == index).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    colour = np.array(Colours(body)("person"), dtype=float)
    expected = 0.45 * photo[inner].astype(float) + 0.55 * colour
    assert inner.sum() > 1000
    assert np.abs(a[:h, :w][inner].astype(float) - expected).mean() < 3
    # every labelMapping index that occurs in the PNG is painted with a label colour
    assert {i for i, _ in mapping_entries(body["hypothesis"]["labelMapping"])} >= set(
        np.unique(values)
    ) - {0}


def test_video_frames_come_from_images_and_mp4_is_readable(shared: Path, tmp_path: Path) -> None:
    out = run_convert(
        tmp_path,
        "masks",
        [LABELME_VIDEO / "SegmentationClassPNG"],
        VIDEO_CONFIG,
        classes=str(LABELME_VIDEO / "class_names.txt"),
        void=(0,),  # _background_: unlabeled
        video=True,
        images=str(LABELME_VIDEO / "JPEGImages"),
    )
    (p,) = preview_dir(out, LABELME_VIDEO / "JPEGImages", tmp_path / "pv", mp4=True)
    assert p.image_found and p.mp4 is not None
    sheet = cv2.imread(str(p.path))
    assert sheet.shape[1] > 4 * 320  # 5 frames: a grid of 4 columns plus the legend
    cap = cv2.VideoCapture(str(p.mp4))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = cap.read()
    cap.release()
    assert ok and frames == 5
    assert first.std() > 20  # a real photo, not the flat canvas


# --- finding images ---------------------------------------------------------------------------


def test_finder_prefers_the_longest_matching_path_tail(tmp_path: Path) -> None:
    for seq in ("a", "b"):
        (tmp_path / seq / "img1").mkdir(parents=True)
        (tmp_path / seq / "img1" / "000001.jpg").write_bytes(b"x")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "42.png").write_bytes(b"x")
    finder = ImageFinder(tmp_path)
    assert finder.find("https://cdn/b/img1/000001.jpg") == tmp_path / "b/img1/000001.jpg"
    assert finder.find("https://cdn/a/img1/000001.jpg?sig=1") == tmp_path / "a/img1/000001.jpg"
    assert finder.find("https://cdn/x%20y/nothing.jpg", key="42") == tmp_path / "c/42.png"
    assert finder.find("https://cdn/none.jpg") is None


def test_annotation_points_and_sampling() -> None:
    assert annotation_points({"type": "box", "left": 1, "top": 2, "width": 3, "height": 4}) == [
        (1, 2),
        (4, 2),
        (4, 6),
        (1, 6),
    ]
    assert annotation_points({"type": "point", "x": 5, "y": 6}) == [(5.0, 6.0)]
    assert sample_indices(100, 12)[0] == 0 and sample_indices(100, 12)[-1] == 99
    assert len(sample_indices(100, 12)) == 12 and sample_indices(3, 12) == [0, 1, 2]
    body = {
        "geometries": {
            "box": {"objects_to_annotate": [{"choice": "v", "subchoices": ["car"]}, "p"]}
        }
    }
    assert taxonomy_labels(body) == ["v", "car", "p"]


# --- errors -----------------------------------------------------------------------------------


def test_unknown_dir_and_bad_lines_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory"):
        load_output(tmp_path / "nope")
    with pytest.raises(InputError, match=r"no tasks\.jsonl"):
        load_output(tmp_path)
    (tmp_path / "tasks.jsonl").write_text('{"task_type": "imageannotation", "body": {}}\n{oops\n')
    with pytest.raises(InputError) as err:
        load_output(tmp_path)
    assert "tasks.jsonl, line 2: not valid JSON" in err.value.message


def test_cli_preview_json_summary_and_one_line_error(demo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli, ["preview", str(demo), "-o", str(tmp_path / "pv"), "-n", "2", "--json", "-q"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert len(summary["previews"]) == 2 and all(
        Path(p["path"]).is_file() for p in summary["previews"]
    )
    res = runner.invoke(cli, ["preview", str(tmp_path / "missing")])
    assert res.exit_code == 3
    assert res.stderr.strip().count("\n") == 0 and "no such directory" in res.stderr


@pytest.mark.parametrize(
    ("template", "needs_config"),
    [
        ("https://files.example.com/run1/{name}", False),
        ("https://files.example.com/{stem}-{sha256}.json", True),
    ],
)
def test_hosted_hypothesis_urls_resolve_back_to_artifacts(
    shared: Path, tmp_path: Path, template: str, needs_config: bool
) -> None:
    config = VIDEO_CONFIG.replace("[prelabel]\n", f'[prelabel]\nartifact_url = "{template}"\n')
    out = run_convert(tmp_path, "coco", [COCOVID], config)
    (task,) = load_output(out).tasks
    url = task.body["hypothesis"]["annotations"]["url"]
    assert url.startswith("https://files.example.com/")
    with_config = load_output(out, load_config(tmp_path / "config.toml"))
    assert with_config.artifact(url) is not None
    assert (load_output(out).artifact(url) is None) == needs_config
    frames = video_frames(with_config, with_config.tasks[0])
    assert len(frames) == 8 and sum(map(len, frames)) == 10


def test_every_annotation_type_is_drawn_where_it_is(tmp_path: Path) -> None:
    """A hand-made body with each Scale annotation type, on a 200x100 canvas (shown x2.4)."""
    anns = [
        {"type": "line", "label": "lane", "vertices": [{"x": 10, "y": 90}, {"x": 190, "y": 90}]},
        {"type": "box", "label": "car", "left": 20, "top": 20, "width": 40, "height": 30},
        {"type": "point", "label": "nose", "x": 150, "y": 30},
        {"type": "ellipse", "label": "ball", "vertices": [
            {"x": 100, "y": 50}, {"x": 110, "y": 40}, {"x": 120, "y": 50}, {"x": 110, "y": 60}]},
        {"type": "cuboid", "label": "odd"},  # no drawable fields: skipped, no crash
    ]  # fmt: skip
    body = {
        "geometries": {
            "line": {"objects_to_annotate": ["lane"]},
            "box": {"objects_to_annotate": ["car"]},
        },
        "attachment": "https://cdn/none.jpg",
        "unique_id": "t/1",
        "hypothesis": {"annotations": anns},
    }
    (tmp_path / "tasks.jsonl").write_text(
        json.dumps({"task_type": "imageannotation", "body": body}) + "\n"
    )
    (tmp_path / "report.json").write_text(
        json.dumps({"tasks": [{"unique_id": "t/1", "width": 200, "height": 100}]})
    )
    (p,) = preview_dir(tmp_path, None, tmp_path / "pv")
    img = cv2.imread(str(p.path))
    assert img.shape == (240, 480 + 300, 3)  # scaled canvas + legend panel
    colours = Colours(body)
    lane, car = colours("lane"), colours("car")
    assert lane != car  # taxonomy order: distinct palette entries

    def near(x: float, y: float, colour: tuple[int, int, int]) -> bool:
        patch = img[
            round(y * 2.4) - 2 : round(y * 2.4) + 3, round(x * 2.4) - 2 : round(x * 2.4) + 3
        ]
        return bool((np.abs(patch.astype(int) - colour).sum(axis=2) < 60).any())

    assert near(100, 90, lane)  # the line's middle
    assert near(40, 50, car) and near(60, 35, car)  # box bottom edge and right edge
    assert near(150, 30, colours("nose")) and near(110, 40, colours("ball"))
    assert not near(100, 20, car)  # empty canvas stays grey


def test_legend_rows_are_written_beside_their_swatches(tmp_path: Path) -> None:
    """With the real font: every legend row with a swatch has ink to its right, and the
    swatch holds the label colour (whatever glyphs this OpenCV build draws)."""
    body = {
        "geometries": {"box": {"objects_to_annotate": ["car", "person"]}},
        "attachment": "https://cdn/none.jpg",
        "unique_id": "t/1",
        "hypothesis": {"annotations": [
            {"type": "box", "label": "car", "left": 20, "top": 20, "width": 40, "height": 30},
            {"type": "box", "label": "person", "left": 100, "top": 20, "width": 20, "height": 50},
        ]},
    }  # fmt: skip
    (tmp_path / "tasks.jsonl").write_text(
        json.dumps({"task_type": "imageannotation", "body": body}) + "\n"
    )
    (tmp_path / "report.json").write_text(
        json.dumps({"tasks": [{"unique_id": "t/1", "width": 200, "height": 100}]})
    )
    (p,) = preview_dir(tmp_path, None, tmp_path / "pv")
    img = cv2.imread(str(p.path))
    x0 = 480 + 8  # the legend panel starts right of the 480-wide scaled canvas
    colours = Colours(body)
    title_rows = 1
    for n, label in enumerate(sorted(["car", "person"])):
        y = 18 + 16 * (title_rows + n)
        swatch = img[y - 8 : y, x0 + 2 : x0 + 10]
        assert (np.abs(swatch.astype(int) - colours(label)).sum(axis=2) < 30).all(), label
        ink = img[y - 10 : y + 3, x0 + 18 : x0 + 200]
        assert (ink.min(axis=2) < 128).sum() > 20, f"no text beside the {label} swatch"


def test_fixed_outlines_are_dashed_and_others_solid() -> None:
    """Along a fixed polygon's edge the label colour comes and goes; a plain one is solid."""
    square = [{"x": 20, "y": 20}, {"x": 80, "y": 20}, {"x": 80, "y": 80}, {"x": 20, "y": 80}]
    moved = [{"x": p["x"] + 100, "y": p["y"]} for p in square]
    body = {"geometries": {"polygon": {"objects_to_annotate": ["a"]}}}
    colours = Colours(body)
    img = np.full((240, 480, 3), 64, dtype=np.uint8)
    scale = 2.4
    draw_annotation(img, {"type": "polygon", "label": "a", "vertices": square}, scale, colours)
    draw_annotation(
        img, {"type": "polygon", "label": "a", "vertices": moved}, scale, colours, fixed=True
    )
    colour = colours("a")

    def changes(x0: float) -> int:
        y = round(80 * scale)  # the bottom edge, away from the label box on the top edge
        row = img[y, round((x0 + 5) * scale) : round((x0 + 55) * scale)].astype(int)
        on = (np.abs(row - colour).sum(axis=1) < 90).astype(int)
        return int(np.abs(np.diff(on)).sum())

    assert changes(20) == 0  # solid
    assert changes(120) >= 6  # dashed: several on/off changes along 50 px
