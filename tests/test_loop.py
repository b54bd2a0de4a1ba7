"""The loop end to end through the CLI: convert -> submit (the sandbox completes the tasks) ->
import -> score, on real inputs.

`accept` round trips give back the model's own output — COCO boxes and polygons, mask PNGs
pixel for pixel, MOT rows per track per frame with the tracker's ids — except where the
limits engine changed a geometry, which the report says and the tests recompute here from
the inputs. `edit` runs: `score` finds exactly the edits the sandbox wrote to edits.jsonl.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import REPO
from pycocotools import mask as mask_utils

from prelabel.cli.main import cli
from prelabel.geometry.indexed import decode_index_png
from prelabel.model import SourceRef, stable_uuid
from prelabel.output.report import expand_record

DEMO = REPO / "fixtures/demo"


def run(*args: Any) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, (args, res.output)
    return res.stdout


def loop(
    tmp: Path, convert: list[Any], mode: str = "accept", **import_opts: Any
) -> tuple[Path, Path, dict[str, Any]]:
    out, final = tmp / "out", tmp / "final"
    run("convert", *convert, "-o", out, "-q")
    run("submit", out, "--sandbox", "--create-batch", "--complete", mode, "-q")
    extra = [x for k, v in import_opts.items() for x in (f"--{k.replace('_', '-')}", v)]
    run("import", out, "-o", final, "--sandbox", "-q", *extra)
    summary = json.loads(run("score", out, final, "--json", "-q", "--no-html"))
    return out, final, summary


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def sent_tasks(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]


def records(out: Path) -> list[dict[str, Any]]:
    """The report's records of objects sent, one per object (run records expanded)."""
    objects = load(out / "report.json")["objects"]
    return [r for rec in objects for r in expand_record(rec) if r["outcome"] != "dropped"]


def nothing_changed(summary: dict[str, Any], sent: int) -> None:
    assert summary["counts"] == {"kept": sent, "edited": 0, "deleted": 0, "added": 0}
    assert summary["tasks_missing"] == [] and summary["objects"] == []


# --- COCO -> imageannotation -> COCO ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_loop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    convert = ["coco", DEMO / "instances_val2014_fakesegm100_results.json", "--images",
               DEMO / "instances_val2014_100.json", "-c", DEMO / "task.toml"]  # fmt: skip
    return loop(tmp_path_factory.mktemp("demo"), convert)


def pixel_centres(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Pixels whose centre lies inside the union of the polygons (shapely, not prelabel)."""
    shapes = [shapely.make_valid(shapely.Polygon(np.reshape(p, (-1, 2)))) for p in polygons]
    area = shapely.union_all(shapes)
    ys, xs = np.mgrid[0:height, 0:width]
    return shapely.contains_xy(area, xs.ravel() + 0.5, ys.ravel() + 0.5).reshape(height, width)


def test_coco_round_trip_gives_back_what_was_sent(
    demo_loop: tuple[Path, Path, dict[str, Any]],
) -> None:
    out, final, summary = demo_loop
    coco = load(final / "coco.json")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_uuid = {a["scale_uuid"]: a for a in coco["annotations"]}
    sent = 0
    for line in sent_tasks(out):
        image_id = int(line["body"]["unique_id"].rsplit("/", 1)[1])
        for a in line["body"]["hypothesis"]["annotations"]:
            got = by_uuid[a["uuid"]]
            sent += 1
            assert names[got["category_id"]] == a["label"] and got["image_id"] == image_id
            if a["type"] == "polygon":
                assert got["segmentation"] == [[c for v in a["vertices"] for c in (v["x"], v["y"])]]
            else:
                assert got["bbox"] == [a["left"], a["top"], a["width"], a["height"]]
    assert (
        len(coco["annotations"]) == sent == load(out / "report.json")["totals"]["annotations_out"]
    )
    nothing_changed(summary, sent)


def test_coco_round_trip_matches_the_model_masks_as_the_report_says(
    demo_loop: tuple[Path, Path, dict[str, Any]],
) -> None:
    out, final, _ = demo_loop
    results = load(DEMO / "instances_val2014_fakesegm100_results.json")
    coco = load(final / "coco.json")
    by_uuid = {a["scale_uuid"]: a for a in coco["annotations"]}
    checked = Counter()
    for rec in records(out):
        index = int(rec["source"]["location"].removeprefix("results[").removesuffix("]"))
        source = SourceRef(rec["source"]["file"], rec["source"]["location"])
        anns = [by_uuid[stable_uuid(rec["task"], source, n)] for n in range(rec["annotations"])]
        polygons = [p for a in anns for p in a["segmentation"]]
        if not polygons:
            continue  # a box target (traffic light): not a mask comparison
        model = mask_utils.decode(results[index]["segmentation"]).astype(bool)
        drawn = pixel_centres(polygons, *model.shape)
        iou = (drawn & model).sum() / (drawn | model).sum()
        if rec["outcome"] == "converted":
            assert (drawn == model).all(), rec["source"]  # traced exactly: pixel for pixel
        else:
            assert iou == pytest.approx(rec["iou"], abs=0.02), (rec["source"], rec["fixes"])
        checked[rec["outcome"]] += 1
    assert checked["converted"] > 50 and checked["fixed"] > 100


def test_coco_boxes_round_trip_to_the_model_boxes(shared: Path, tmp_path: Path) -> None:
    results_file = shared / "cocoapi/results/instances_val2014_fakebbox100_results.json"
    convert = ["coco", results_file, "--images", shared / "faster_coco_eval/cocoapi/instances_val2014_100.json",
               "-c", REPO / "fixtures/configs/imageannotation.toml"]  # fmt: skip
    out, final, summary = loop(tmp_path, convert)
    results = load(results_file)
    by_uuid = {a["scale_uuid"]: a for a in load(final / "coco.json")["annotations"]}
    kinds = Counter()
    for rec in records(out):
        index = int(rec["source"]["location"].removeprefix("results[").removesuffix("]"))
        got = by_uuid[
            stable_uuid(rec["task"], SourceRef(rec["source"]["file"], rec["source"]["location"]), 0)
        ]
        x, y, w, h = results[index]["bbox"]
        if rec["outcome"] == "converted":
            assert got["bbox"] == [x, y, w, h]
        else:  # integer_pixels: rounded outwards, as the report's fix says
            assert rec["fixes"] == ["rounded: integer_pixels"]
            left, top = math.floor(x), math.floor(y)
            assert got["bbox"] == [left, top, math.ceil(x + w) - left, math.ceil(y + h) - top]
        kinds[rec["outcome"]] += 1
    assert kinds["fixed"] == 132
    nothing_changed(summary, 132)


# --- masks -> segmentannotation -> masks --------------------------------------------------------

PANOPTIC = "panopticapi/sample_data"


def test_masks_round_trip_pixel_exact(shared: Path, tmp_path: Path) -> None:
    data = shared / PANOPTIC
    meta = load(data / "panoptic_examples.json")
    cats = {c["id"]: c for c in meta["categories"]}
    used = {s["category_id"] for a in meta["annotations"] for s in a["segments_info"]}
    labels = [
        {"choice": cats[c]["name"], "instance_label": bool(cats[c]["isthing"])}
        for c in sorted(used)
    ]
    config = tmp_path / "seg.json"
    config.write_text(json.dumps({
        "task_type": "segmentannotation",
        "params": {"project": "loop", "labels": labels, "allow_unlabeled": True},
        "prelabel": {"attachment_url": "https://cdn.example.com/{file_name}"},
    }))  # fmt: skip
    convert = ["masks", data / "panoptic_examples", "--panoptic", data / "panoptic_examples.json",
               "--images", data / "input_images", "-c", config]  # fmt: skip
    _, final, summary = loop(tmp_path, convert)
    classes = {int(k): v for k, v in load(final / "masks/classes.json").items()}
    segments = 0
    for ann in meta["annotations"]:
        key = Path(ann["file_name"]).stem
        bgr = cv2.imread(str(data / "panoptic_examples" / ann["file_name"]), cv2.IMREAD_COLOR)
        rgb = bgr[..., ::-1].astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        name_of = {s["id"]: cats[s["category_id"]]["name"] for s in ann["segments_info"]}
        expected = np.vectorize(name_of.get)(ids, "")
        got = decode_index_png((final / f"masks/{key}.png").read_bytes())
        assert (np.vectorize(lambda c: classes.get(c, ""))(got) == expected).all()  # pixel-exact
        instances = decode_index_png((final / f"instances/{key}.png").read_bytes())
        for s in ann["segments_info"]:
            if cats[s["category_id"]]["isthing"]:
                pixels = ids == s["id"]
                (value,) = np.unique(instances[pixels])
                assert value and ((instances == value) == pixels).all()
                segments += 1
    panoptic = load(final / "panoptic.json")
    assert (
        sum(s["isthing"] for a in panoptic["annotations"] for s in a["segments_info"]) == segments
    )
    nothing_changed(summary, summary["counts"]["kept"])
    assert summary["segmentation"]["pixel_accuracy"] == 1.0


# --- MOT -> video -> MOT --------------------------------------------------------------------------


def clipped(box: list[float], width: float, height: float) -> list[float]:
    x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
    x1, y1 = min(box[0] + box[2], width), min(box[1] + box[3], height)
    return [x0, y0, x1 - x0, y1 - y0]


def mot_input(path: Path) -> dict[int, tuple[int, int, list[float]]]:
    """line number -> (frame, track id, box) of a MOTChallenge file."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        v = [float(x) for x in line.split(",")]
        out[n] = (int(v[0]), int(v[1]), v[2:6])
    return out


def kitti_input(path: Path) -> dict[int, tuple[int, int, list[float]]]:
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        v = line.split()
        x0, y0, x1, y1 = (float(c) for c in v[6:10])
        out[n] = (int(v[0]), int(v[1]), [x0, y0, x1 - x0, y1 - y0])
    return out


def mot_output(path: Path) -> dict[tuple[int, int], list[float]]:
    out = {}
    for line in path.read_text().splitlines():
        v = [float(x) for x in line.split(",")]
        assert (int(v[0]), int(v[1])) not in out
        out[int(v[0]), int(v[1])] = v[2:6]
    return out


@pytest.mark.parametrize(
    ("kind", "first_frame"),
    [("mot", 1), ("kitti", 0)],
    ids=["mot-videoplayback", "kitti-videoannotation"],
)
def test_tracks_round_trip_per_track_per_frame(
    shared: Path, tmp_path: Path, kind: str, first_frame: int
) -> None:
    if kind == "mot":
        source = shared / "motmetrics/data/TUD-Campus/gt.txt"
        size, rows = (640, 480), mot_input(source)
        convert = ["mot", source, "--image-size", "640x480", "--label", "person", "--fps", "25",
                   "-c", REPO / "fixtures/configs/tracking_playback.toml"]  # fmt: skip
    else:
        source = REPO / "fixtures/kitti/label_02/0000.txt"
        size, rows = (1242, 375), kitti_input(source)
        convert = ["kitti", source, "--image-size", "1242x375", "--fps", "10",
                   "-c", REPO / "fixtures/configs/tracking_video.toml"]  # fmt: skip
    out, final, summary = loop(tmp_path, convert, first_frame=first_frame)
    (got_file,) = (final / "mot").iterdir()
    got = mot_output(got_file)
    report = records(out)
    for rec in report:
        frame, track, box = rows[int(rec["source"]["location"].removeprefix("line "))]
        expected = (
            clipped(box, *size)
            if any(f.startswith("clipped") for f in rec.get("fixes", []))
            else box
        )
        assert got.pop((frame, track)) == pytest.approx(expected, abs=5e-4), rec
    assert got == {}  # nothing else came back
    assert summary["counts"]["kept"] == len(
        {rows[int(r["source"]["location"][5:])][1] for r in report}
    )
    nothing_changed(summary, summary["counts"]["kept"])
    assert summary["video"]["id_switches"] == 0


# --- edit: score recovers the sandbox's edits -----------------------------------------------------


def edit_counts(
    path: Path,
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str | None, str | None]]]:
    edits = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = Counter((e["kind"], e["label"]) for e in edits)
    details = Counter(
        (e.get("uuid") or str(e.get("index")), e.get("detail"))
        for e in edits
        if e["kind"] == "edited"
    )
    return kinds, details


def score_counts(
    summary: dict[str, Any],
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str | None, str | None]]]:
    kinds = Counter({(k, label): n for label, c in summary["by_label"].items() for k, n in c.items()
                     if k != "kept" and n})  # fmt: skip
    details = Counter((o.get("uuid") or str(o.get("index")), o.get("detail"))
                      for o in summary["objects"] if o["kind"] == "edited")  # fmt: skip
    return kinds, details


def test_score_recovers_the_sandbox_edits_exactly(shared: Path, tmp_path: Path) -> None:
    data = shared / PANOPTIC
    cases = {
        "image": ["coco", DEMO / "instances_val2014_fakesegm100_results.json", "--images",
                  DEMO / "instances_val2014_100.json", "-c", DEMO / "task.toml"],
        "segment": ["masks", data / "panoptic_examples", "--panoptic", data / "panoptic_examples.json",
                    "-c", REPO / "fixtures/configs/segmentannotation.toml", "--allow-unmatched-labels"],
        "video": ["mot", shared / "motmetrics/data/TUD-Campus/gt.txt", "--image-size", "640x480",
                  "--label", "person", "--fps", "25", "-c", REPO / "fixtures/configs/tracking_playback.toml"],
    }  # fmt: skip
    seen: set[str] = set()
    for name, convert in cases.items():
        out, _, summary = loop(tmp_path / name, convert, mode="edit")
        kinds, details = edit_counts(out / "sandbox/edits.jsonl")
        assert kinds, name  # the seeded run edits something in every case
        assert score_counts(summary) == (kinds, details), name
        seen |= {k for k, _ in kinds}
    assert seen == {"edited", "deleted", "added"}
