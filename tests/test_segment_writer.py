"""The segmentannotation writer: indexed PNG + labelMapping from rasters (real mask files)
and from instances (overlaps by score), overflow policies, unlabeled fill, the report."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import FIXTURES, SHARED
from PIL import Image

from prelabel.config.limits import TaskLimits
from prelabel.config.load import TaskConfig
from prelabel.config.options import PrelabelOptions
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import InputError, PayloadError
from prelabel.geometry.rle import encode_mask
from prelabel.model import Box, Frame, IndexRaster, Instance, Item, Polygon, Segment, SourceRef
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.report import Report
from prelabel.writers.context import WriteContext
from prelabel.writers.segment import EXTENDED_NOTE, color_for, write_segment_task

VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"
PAN = SHARED / "panopticapi/sample_data"
GOLDENS = FIXTURES / "masks/goldens"


def make_ctx(
    tmp_path: Path,
    labels: set[str],
    instance: set[str] = frozenset(),  # type: ignore[assignment]
    *,
    allow_unlabeled: bool = True,
    **options: Any,
) -> WriteContext:
    config = TaskConfig(
        task_type="segmentannotation",
        params={"project": "p", "labels": sorted(labels)},
        prelabel=PrelabelOptions(attachment_url="https://cdn/{key}.jpg", **options),
        limits=TaskLimits(
            task_type="segmentannotation",
            segment_labels=frozenset(labels),
            instance_labels=frozenset(instance),
            allow_unlabeled=allow_unlabeled,
        ),
    )
    return WriteContext(config, Report(), ArtifactStore(tmp_path / "artifacts"))


def png_of(body: dict[str, Any], ctx: WriteContext, key: str = "indexedImage") -> np.ndarray:
    ref = body["hypothesis"]["annotations"]["combined"][key]
    assert ref.startswith("artifact://")
    arr = cv2.imread(
        str(ctx.artifacts.root / ref.removeprefix("artifact://")), cv2.IMREAD_UNCHANGED
    )
    assert arr is not None
    return arr


def entries(mapping: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(label, e) for label, v in mapping.items() for e in (v if isinstance(v, list) else [v])]


def check_consistent(body: dict[str, Any], png: np.ndarray) -> None:
    """Indices 1..N unique; numPixels = pixel count; every non-zero pixel is mapped."""
    found = entries(body["hypothesis"]["labelMapping"])
    indices = [e["index"] for _, e in found]
    assert sorted(indices) == list(range(1, len(indices) + 1))
    for _, e in found:
        assert int((png == e["index"]).sum()) == e["numPixels"] > 0
    assert set(np.unique(png).tolist()) <= {0, *indices}


def check_golden(name: str, data: Any, update: bool) -> None:
    path = GOLDENS / f"{name}.json"
    if update or not path.exists():
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    assert json.loads(path.read_text()) == data


def test_labelme_voc_with_person_instances(
    shared: Path, tmp_path: Path, update_goldens: bool
) -> None:
    # class 0 (_background_) is a task label like the others: it is that label (issue 12)
    names = [x.strip() for x in (VOC / "class_names.txt").read_text().splitlines()]
    ctx = make_ctx(tmp_path, set(names), {"person"})
    ds = read_masks(
        [str(VOC / "SegmentationClass")],
        MaskOptions(
            images=str(VOC / "JPEGImages"),
            classes=str(VOC / "class_names.txt"),
            objects=str(VOC / "SegmentationObject"),
        ),
    )
    golden = {}
    for item in ds.items:
        body = write_segment_task(item, ctx)
        png = png_of(body, ctx)
        assert png.dtype == np.uint8 and png.shape == (item.height, item.width)
        check_consistent(body, png)
        assert body["attachment"] == f"https://cdn/{item.key}.jpg"
        assert body["unique_id"] == f"p/segmentannotation/{item.key}"
        golden[item.key] = {
            "labelMapping": body["hypothesis"]["labelMapping"],
            "png_sha256": hashlib.sha256(png.tobytes()).hexdigest()[:16],
        }
    mapping = golden["2011_000006"]["labelMapping"]
    assert [e["index"] for e in mapping["person"]] == [1, 2, 3, 5]  # a list: instance label
    assert isinstance(mapping["chair"], dict) and isinstance(mapping["sofa"], dict)
    assert isinstance(mapping["_background_"], dict)
    stored = np.array(Image.open(VOC / "SegmentationClass/2011_000006.png"))
    assert mapping["_background_"]["numPixels"] == int((stored == 0).sum()) > 0
    totals = ctx.report.totals()
    assert totals["objects_in"] == totals["objects_out"] == 15  # every segment exactly once
    check_golden("segment_labelme_voc", golden, update_goldens)


def test_plain_label_segments_share_one_index(tmp_path: Path) -> None:
    values = np.array([[1, 1, 2], [3, 0, 2]], dtype=np.uint8)
    segs = {
        v: Segment(lbl, SourceRef("m.png", f"pixel value {v}"))
        for v, lbl in [(1, "road"), (2, "road"), (3, "car")]
    }
    item = Item(
        "k",
        {"file_name": "k.jpg"},
        width=3,
        height=2,
        raster=lambda: IndexRaster(values.copy(), segs),
    )
    ctx = make_ctx(tmp_path, {"road", "car"}, {"car"})
    body = write_segment_task(item, ctx)
    mapping = body["hypothesis"]["labelMapping"]
    assert mapping["road"] == {"index": 1, "color": color_for(1), "numPixels": 4}
    assert mapping["car"] == [{"index": 2, "color": color_for(2), "numPixels": 1}]
    assert png_of(body, ctx).tolist() == [[1, 1, 1], [2, 0, 1]]
    assert len(ctx.report.records) == 3


def test_panoptic_golden_png(shared: Path, tmp_path: Path, update_goldens: bool) -> None:
    """panopticapi is BSD / CC BY: its indexed PNG may live in fixtures as a golden."""
    data = json.loads((PAN / "panoptic_examples.json").read_text())
    cats = {c["id"]: c for c in data["categories"]}
    used = {cats[s["category_id"]]["name"] for a in data["annotations"] for s in a["segments_info"]}
    things = {c["name"] for c in cats.values() if c["isthing"]}
    ctx = make_ctx(tmp_path, used, things & used)
    ds = read_masks(
        [str(PAN / "panoptic_examples/000000439180.png")],
        MaskOptions(panoptic=str(PAN / "panoptic_examples.json")),
    )
    (item,) = list(ds.items)
    body = write_segment_task(item, ctx)
    png = png_of(body, ctx)
    check_consistent(body, png)
    golden_png = GOLDENS / "panoptic_000000439180_indexed.png"
    golden_map = GOLDENS / "panoptic_000000439180_labelMapping.json"
    if update_goldens or not golden_png.exists():
        cv2.imwrite(str(golden_png), png)
        golden_map.write_text(json.dumps(body["hypothesis"]["labelMapping"], indent=1) + "\n")
    assert np.array_equal(cv2.imread(str(golden_png), cv2.IMREAD_UNCHANGED), png)
    assert json.loads(golden_map.read_text()) == body["hypothesis"]["labelMapping"]


# --- instances ----------------------------------------------------------------------------


def box_item(*instances: Instance) -> Item:
    return Item("img", {"file_name": "img.jpg"}, width=10, height=8, instances=list(instances))


def inst(
    label: str, geometry: Any, score: float | None, n: int, iid: str | None = None
) -> Instance:
    return Instance(
        label, geometry, SourceRef("r.json", f"results[{n}]"), score=score, instance_id=iid
    )


def test_overlaps_resolved_by_score_and_reported(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car", "person"}, {"car", "person"})
    low = inst("car", Box(0, 0, 6, 4), 0.5, 0)
    high = inst("person", Box(4, 2, 6, 6), 0.9, 1)
    hidden = inst("car", Box(5, 3, 2, 2), 0.3, 2)
    body = write_segment_task(box_item(low, high, hidden), ctx)
    png = png_of(body, ctx)
    check_consistent(body, png)
    assert body["hypothesis"]["labelMapping"] == {
        "person": [{"index": 1, "color": color_for(1), "numPixels": 36}],
        "car": [{"index": 2, "color": color_for(2), "numPixels": 24 - 4}],
    }
    recs = {r.source.location: r for r in ctx.report.records}
    assert recs["results[0]"].outcome == "fixed"
    assert recs["results[0]"].fixes == ["overlap: 4 px given to higher-scoring person"]
    assert recs["results[1]"].outcome == "converted"
    assert recs["results[2]"].outcome == "dropped"
    assert recs["results[2]"].reason == "occluded: fully covered by higher-scoring instances"
    assert len(ctx.report.records) == 3


def test_polygon_and_mask_instances_and_unknown_label(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"road", "car"}, {"car"})
    binary = np.zeros((8, 10), bool)
    binary[6:, :] = True
    road = inst("road", encode_mask(binary), None, 0)
    tri = inst("car", Polygon.from_ring([(0, 0), (4, 0), (0, 4)]), 0.8, 1)
    cat = inst("cat", Box(0, 0, 2, 2), 0.9, 2)
    empty = inst("car", Box(20, 20, 2, 2), 0.7, 3)
    body = write_segment_task(box_item(road, tri, cat, empty), ctx)
    png = png_of(body, ctx)
    check_consistent(body, png)
    mapping = body["hypothesis"]["labelMapping"]
    assert mapping["road"]["numPixels"] == 20 and len(mapping["car"]) == 1
    # pixel centres (j + .5, i + .5) inside the triangle x + y < 4: rows of 3, 2, 1
    assert mapping["car"][0]["numPixels"] == 6
    reasons = {r.source.location: r.reason for r in ctx.report.records if r.outcome == "dropped"}
    assert reasons == {
        "results[2]": "label not in the task's labels",
        "results[3]": "empty: no pixels inside the image",
    }


def test_same_instance_id_shares_an_index(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car"}, {"car"})
    a = inst("car", Box(0, 0, 2, 2), 0.9, 0, iid="7")
    b = inst("car", Box(5, 5, 2, 2), 0.8, 1, iid="7")
    body = write_segment_task(box_item(a, b), ctx)
    assert body["hypothesis"]["labelMapping"]["car"] == [
        {"index": 1, "color": color_for(1), "numPixels": 8}
    ]


def many_segments(n: int, width: int = 40) -> Item:
    """n instance segments of growing size on one row-major canvas."""
    values = np.zeros((n, width), dtype=np.uint16)
    for i in range(n):
        values[i, : 1 + (i % width)] = i + 1
    segs = {
        i + 1: Segment("car", SourceRef("m.png", f"pixel value {i + 1}"), instance=True)
        for i in range(n)
    }
    return Item(
        "many",
        {"file_name": "many.jpg"},
        width=width,
        height=n,
        raster=lambda: IndexRaster(values, segs),
    )


def test_overflow_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car"}, {"car"})
    with pytest.raises(PayloadError) as err:
        write_segment_task(many_segments(300), ctx)
    assert str(err.value).startswith("item many: 300 segments, but an 8-bit indexedImage holds 255")


def test_overflow_drop_smallest(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car"}, {"car"}, segment_overflow="drop-smallest")
    body = write_segment_task(many_segments(300), ctx)
    png = png_of(body, ctx)
    check_consistent(body, png)
    assert len(body["hypothesis"]["labelMapping"]["car"]) == 255
    dropped = [r for r in ctx.report.records if r.outcome == "dropped"]
    assert len(dropped) == 45 and len(ctx.report.records) == 300
    assert all(
        r.reason and r.reason.startswith("overflow: smallest of 300 segments") for r in dropped
    )
    assert max(int(r.reason.split("(")[1].split(" ")[0]) for r in dropped) <= min(  # type: ignore[union-attr]
        e["numPixels"] for e in body["hypothesis"]["labelMapping"]["car"]
    )


def test_overflow_extended(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car"}, {"car"}, segment_overflow="extended")
    item = many_segments(300)
    body = write_segment_task(item, ctx)
    bgra = png_of(body, ctx, "extendedIndexedImage")
    assert bgra.shape == (300, 40, 4) and (bgra[..., 3] == 255).all()
    b, g, r = (bgra[..., c].astype(np.int64) for c in range(3))
    index = r + 256 * g + 65536 * b
    check_consistent(body, index)
    assert ctx.report.notes == [EXTENDED_NOTE]


def test_unlabeled_pixels_error_or_fill(tmp_path: Path) -> None:
    item = box_item(inst("car", Box(0, 0, 5, 8), 0.9, 0))
    strict = make_ctx(tmp_path, {"car", "road"}, allow_unlabeled=False)
    with pytest.raises(
        PayloadError, match="item img: 40 px are unlabeled but the task has allow_unlabeled false"
    ):
        write_segment_task(item, strict)
    fill = make_ctx(tmp_path, {"car", "road"}, allow_unlabeled=False, fill_unlabeled="road")
    body = write_segment_task(item, fill)
    png = png_of(body, fill)
    assert (png > 0).all()
    assert body["hypothesis"]["labelMapping"]["road"]["numPixels"] == 40
    assert fill.report.notes == ["item img: 40 unlabeled px filled with road"]


def test_video_items_and_size_mismatch_are_payload_errors(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"car"})
    with pytest.raises(PayloadError, match="takes images, not videos"):
        write_segment_task(Item("v", frames=[Frame(0, 0)]), ctx)
    raster = IndexRaster(np.zeros((4, 4), np.uint8), {})
    item = Item("s", {"file_name": "s.jpg"}, width=5, height=4, raster=lambda: raster)
    with pytest.raises(PayloadError, match="mask is 4x4 but the image is 5x4"):
        write_segment_task(item, ctx)


def test_large_ids_use_the_unique_path(tmp_path: Path) -> None:
    """Panoptic-style ids above 2^16 still map to compact indices."""
    values = np.array([[16757838, 0], [70, 16757838]], dtype=np.int64)
    segs = {
        v: Segment("car", SourceRef("p.png", f"pixel value {v}"), instance=True)
        for v in (70, 16757838)
    }
    item = Item(
        "p", {"file_name": "p.jpg"}, width=2, height=2, raster=lambda: IndexRaster(values, segs)
    )
    ctx = make_ctx(tmp_path, {"car"}, {"car"})
    body = write_segment_task(item, ctx)
    assert png_of(body, ctx).tolist() == [[2, 0], [1, 2]]


def test_colors_are_distinct_and_deterministic() -> None:
    colors = [color_for(i) for i in range(1, 256)]
    assert colors == [color_for(i) for i in range(1, 256)]
    assert len(set(colors[:64])) == 64


def test_plain_label_fully_covered_by_another_label_is_occluded(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"road", "car"})
    road = inst("road", Box(0, 0, 10, 8), 0.9, 0)
    car_a = inst("car", Box(4, 4, 2, 2), 0.5, 1)  # under the road: occluded
    car_b = inst("car", Box(0, 0, 2, 2), 0.95, 2)
    car_c = inst("car", Box(0, 0, 1, 1), 0.4, 3)  # inside car_b's pixels: same entry, kept
    body = write_segment_task(box_item(road, car_a, car_b, car_c), ctx)
    assert body["hypothesis"]["labelMapping"]["car"]["numPixels"] == 4
    outcome = {r.source.location: (r.outcome, r.reason, r.fixes) for r in ctx.report.records}
    assert outcome == {
        "results[2]": ("converted", None, []),
        "results[0]": ("fixed", None, ["overlap: 4 px given to higher-scoring car"]),
        "results[1]": ("dropped", "occluded: fully covered by higher-scoring instances", []),
        "results[3]": ("converted", None, []),
    }


def test_manifest_csv_and_json_pairing(shared: Path, tmp_path: Path) -> None:
    mask = VOC / "SegmentationClass/2011_000025.png"
    image = VOC / "JPEGImages/2011_000025.jpg"
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(f"mask,image,attachment\n{mask},{image},https://x/a.jpg\n")
    (item,) = list(
        read_masks(
            [str(mask)], MaskOptions(manifest=str(csv_path), classes=str(VOC / "class_names.txt"))
        ).items
    )
    assert item.fields["attachment"] == "https://x/a.jpg" and item.fields["image"] == str(image)
    ctx = make_ctx(tmp_path, {"bus", "car"})
    ctx.config.prelabel.attachment_url = None
    assert write_segment_task(item, ctx)["attachment"] == "https://x/a.jpg"
    json_path = tmp_path / "pairs.json"
    json_path.write_text(json.dumps({str(mask): str(VOC / "JPEGImages/2011_000003.jpg")}))
    with pytest.raises(InputError, match=r"mask is 500x375 but image .*2011_000003.jpg is 500x338"):
        list(read_masks([str(mask)], MaskOptions(manifest=str(json_path))).items)


@pytest.mark.parametrize("drop", [None, 15])
def test_reader_counts_reused_only_while_valid(
    shared: Path, tmp_path: Path, drop: int | None
) -> None:
    """Semantic rasters carry their histogram; a segment removed by the label filter (its
    values zeroed) makes the writer count again."""
    names = [x.strip() for x in (VOC / "class_names.txt").read_text().splitlines()[1:]]
    ds = read_masks(
        [str(VOC / "SegmentationClass/2011_000006.png")],
        MaskOptions(classes=str(VOC / "class_names.txt")),
    )
    (item,) = list(ds.items)
    assert item.raster is not None
    raster = item.raster()
    assert getattr(raster, "counts", None) is not None
    if drop is not None:  # what prelabel.filters does to a dropped segment
        del raster.segments[drop]
        raster.values[raster.values == drop] = 0
    item.raster = lambda: raster
    ctx = make_ctx(tmp_path, set(names))
    body = write_segment_task(item, ctx)
    png = png_of(body, ctx)
    check_consistent(body, png)
    assert ("person" in body["hypothesis"]["labelMapping"]) == (drop is None)


def test_cli_coco_results_to_segmentannotation(shared: Path, tmp_path: Path) -> None:
    """The COCO reader feeds this writer: 734 overlapping RLE results on 99 images."""
    results = SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json"
    dataset = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
    names = {c["id"]: c["name"] for c in json.loads(dataset.read_text())["categories"]}
    used = sorted({names[r["category_id"]] for r in json.loads(results.read_text())})
    labels = used[:50]  # a segmentannotation task takes at most 50 labels
    parts = [
        json.dumps(x) if x != "person" else '{choice = "person", instance_label = true}'
        for x in labels
    ]
    config = tmp_path / "seg.toml"
    config.write_text(
        f'task_type = "segmentannotation"\n[params]\nproject = "coco"\nallow_unlabeled = true\n'
        f"labels = [{', '.join(parts)}]\n[prelabel]\n"
        'attachment_url = "https://cdn/{file_name}"\nallow_unmatched_labels = true\n'
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "prelabel.cli",
            "convert",
            "coco",
            str(results),
            "--images",
            str(dataset),
            "--only-with-results",
            "-c",
            str(config),
            "-o",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    totals = report["totals"]
    assert totals["objects_in"] == 734 and totals["tasks"] == 99 == totals["artifacts"]
    assert totals["objects_in"] == totals["objects_out"] + totals["objects_dropped"]
    reasons = set(report["dropped_by_reason"])
    assert reasons <= {"unmatched label", "occluded", "empty"}
    fixes = {f for o in report["objects"] for f in o.get("fixes", [])}
    assert fixes and all(
        f.startswith("overlap: ") and " px given to higher-scoring " in f for f in fixes
    )
    for line in (out / "tasks.jsonl").read_text().splitlines():
        body = json.loads(line)["body"]
        ref = body["hypothesis"]["annotations"]["combined"]["indexedImage"]
        png = cv2.imread(
            str(out / "artifacts" / ref.removeprefix("artifact://")), cv2.IMREAD_UNCHANGED
        )
        check_consistent(body, png)
        assert isinstance(body["hypothesis"]["labelMapping"].get("person", []), list)
