"""COCO reader on the real files in shared/data: every kind, RLE form, id hazard and keypoint rule."""

from __future__ import annotations

import json
import types
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import FIXTURES, SHARED
from pycocotools import mask as mask_utils

from prelabel.converters.coco.common import CocoOptions, dump_dataset
from prelabel.converters.coco.read import read_coco
from prelabel.errors import InputError, InvalidAnnotationError
from prelabel.model import Box, Dataset, Dropped, Instance, Item, Mask, Point, Polygon

GT100 = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
RESULTS = SHARED / "cocoapi/results"
BBOX = RESULTS / "instances_val2014_fakebbox100_results.json"
SEGM = RESULTS / "instances_val2014_fakesegm100_results.json"
KPTS = RESULTS / "person_keypoints_val2014_fakekeypoints100_results.json"
MMPOSE = SHARED / "mmpose/coco"
MMTRACK = SHARED / "mmtracking"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def runs_to_mask(rle: dict[str, Any]) -> Any:
    """Independent decode of uncompressed COCO RLE: alternating runs, column-major."""
    h, w = rle["size"]
    flat = np.repeat(np.arange(len(rle["counts"])) % 2, rle["counts"]).astype(np.uint8)
    return flat.reshape((w, h)).T


def items_of(dataset: Dataset) -> list[Item]:
    return list(dataset.items)


def instances(items: list[Item]) -> list[Instance]:
    return [inst for item in items for inst in item.iter_instances()]


def dropped_of(dataset: Dataset, items: list[Item]) -> list[Dropped]:
    """What the reader dropped: a results list's objects ride with their image's item."""
    return [*dataset.dropped, *(d for item in items for d in item.dropped)]


def check_golden(name: str, dataset: Dataset, update: bool) -> None:
    dump = dump_dataset(dataset, strip=str(SHARED))
    text = orjson.dumps(dump, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    golden = FIXTURES / "coco" / f"{name}.json"
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing golden {golden}; run pytest --update-goldens"
    assert text == golden.read_text()


# --- dataset files ----------------------------------------------------------------------


def test_val2014_dataset_file(shared: Path) -> None:
    ds = read_coco([str(GT100)])
    items = items_of(ds)
    gt = load(GT100)
    assert [it.key for it in items] == [str(img["id"]) for img in gt["images"]]
    insts = instances(items)
    assert len(insts) == 839
    assert Counter(i.geometry.kind for i in insts) == {"polygon": 830, "mask": 9}
    assert "COCO dataset file" in ds.notes[0]
    assert ds.kinds == {"polygon", "mask"}
    crowd = {i.instance_id: i for i in insts if i.attributes.get("iscrowd")}
    assert len(crowd) == 9 and "905500000715" in crowd  # > 32-bit id kept exactly
    by_id = {str(a["id"]): a for a in gt["annotations"]}
    for inst in crowd.values():
        # uncompressed list counts -> compressed RLE with the same pixels
        assert isinstance(inst.geometry, Mask)
        seg = by_id[inst.instance_id]["segmentation"]
        assert (mask_utils.decode(inst.geometry.rle()) == runs_to_mask(seg)).all()
    multi = [i for i in insts if isinstance(i.geometry, Polygon) and len(i.geometry.parts) > 1]
    assert max(len(i.geometry.parts) for i in multi) == 7  # parts kept together
    item = items[0]
    assert item.fields["file_name"].startswith("COCO_val2014_")
    assert item.fields["coco_url"] and item.width and item.height


def test_labelme_export_zero_ids(shared: Path) -> None:
    path = shared / "labelme/instance_segmentation/data_dataset_coco/annotations.json"
    ds = read_coco([str(path)])
    items = items_of(ds)
    assert sorted(it.key for it in items) == ["0", "1", "2"]
    assert items[[it.key for it in items].index("0")].fields["id"] == 0
    insts = instances(items)
    assert len(insts) == 12 and "0" in {i.instance_id for i in insts}
    assert "_background_" not in ds.labels  # listed category 0, never used
    assert max(len(i.geometry.parts) for i in insts if isinstance(i.geometry, Polygon)) == 4
    assert items[0].fields["stem"] == Path(items[0].fields["file_name"]).stem


def test_datumaro_golden(shared: Path, update_goldens: bool) -> None:
    base = shared / "datumaro/coco_dataset/coco_instances/annotations"
    paths = [str(base / "instances_val.json"), str(base / "instances_train.json")]
    check_golden("datumaro_instances", read_coco(paths), update_goldens)


def test_datumaro_rle_starting_with_zero_and_empty_segmentation(shared: Path) -> None:
    base = shared / "datumaro/coco_dataset/coco_instances/annotations"
    val = instances(items_of(read_coco([str(base / "instances_val.json")])))
    mask = next(i.geometry for i in val if isinstance(i.geometry, Mask))
    pixels = mask_utils.decode(mask.rle())
    assert pixels.shape == (10, 5) and pixels.sum() == 20 and pixels[0, 0] == 1
    assert val[0].attributes["y"] == "hello"  # Datumaro's own attributes dict is kept
    train = instances(items_of(read_coco([str(base / "instances_train.json")])))
    assert [type(i.geometry) for i in train] == [Box]  # "segmentation": [] is no mask


def test_panoptic_detection_format_rle(shared: Path) -> None:
    path = shared / "panopticapi/sample_data/panoptic_coco_detection_format.json"
    insts = instances(items_of(read_coco([str(path)])))
    anns = {str(a["id"]): a for a in load(path)["annotations"]}
    assert len(insts) == 50 and "0" in {i.instance_id for i in insts}
    for inst in insts:
        assert isinstance(inst.geometry, Mask)
        assert mask_utils.area(inst.geometry.rle()) == anns[inst.instance_id]["area"]
    assert sum(bool(i.attributes.get("iscrowd")) for i in insts) == 3


# --- results lists ----------------------------------------------------------------------


def test_bbox_results_with_dataset_file(shared: Path) -> None:
    ds = read_coco([str(BBOX)], CocoOptions(images=str(GT100)))
    assert isinstance(ds.items, types.GeneratorType)
    items = items_of(ds)
    assert len(items) == 100  # every image of the dataset file, even without results
    assert sum(1 for it in items if not it.instances) == 1
    insts = instances(items)
    raw = load(BBOX)
    assert len(insts) == len(raw) == 734
    for inst in insts:
        rec = raw[int(inst.instance_id or -1)]
        assert inst.source.location == f"results[{inst.instance_id}]"
        assert inst.geometry == Box(*map(float, rec["bbox"]))
        assert inst.score == rec["score"]
    assert "COCO results list" in ds.notes[0] and "734 results on 99 images" in ds.notes[0]
    only = items_of(read_coco([str(BBOX)], CocoOptions(images=str(GT100), only_with_results=True)))
    assert len(only) == 99


def test_segm_results_masks_with_backslashes(shared: Path) -> None:
    insts = instances(items_of(read_coco([str(SEGM)], CocoOptions(images=str(GT100)))))
    raw = load(SEGM)
    assert len(insts) == 734
    slashed = 0
    for inst in insts:
        rec = raw[int(inst.instance_id or -1)]
        assert isinstance(inst.geometry, Mask)
        assert inst.geometry.counts == rec["segmentation"]["counts"].encode()
        assert [inst.geometry.height, inst.geometry.width] == rec["segmentation"]["size"]
        slashed += b"\\" in inst.geometry.counts
    assert slashed == 334
    pixels = mask_utils.decode(insts[0].geometry.rle())  # type: ignore[union-attr]
    assert pixels.any()


def test_results_from_image_folder(shared: Path) -> None:
    path = MMPOSE / "test_coco_det_AP_H_56.json"
    ds = read_coco([str(path)], CocoOptions(images=str(MMPOSE)))
    items = items_of(ds)
    sizes = {
        str(i["id"]): (i["width"], i["height"]) for i in load(MMPOSE / "test_coco.json")["images"]
    }
    assert {it.key: (it.width, it.height) for it in items} == sizes  # read from jpg headers
    assert len(instances(items)) == 118 and ds.labels == ["1"]
    assert any("labels are category ids" in n for n in ds.notes)


def test_results_with_image_size_only(shared: Path) -> None:
    items = items_of(read_coco([str(BBOX)], CocoOptions(image_size=(640, 480))))
    assert len(items) == 99 and {(it.width, it.height) for it in items} == {(640, 480)}
    assert isinstance(items[0].fields["id"], int)


def test_results_with_polygons(shared: Path) -> None:
    base = shared / "faster_coco_eval/dataset"
    insts = instances(
        items_of(
            read_coco(
                [str(base / "dt_dataset.json")], CocoOptions(images=str(base / "gt_dataset.json"))
            )
        )
    )
    assert len(insts) == 9 and all(isinstance(i.geometry, Polygon) for i in insts)
    assert all(i.score is not None for i in insts)


# --- keypoints --------------------------------------------------------------------------


def test_fake_keypoints_visibility_flags(shared: Path) -> None:
    ds = read_coco(
        [str(KPTS)], CocoOptions(images=str(GT100), keypoint_schema=str(MMPOSE / "test_coco.json"))
    )
    items = items_of(ds)
    points = instances(items)
    assert len(points) == 1314 + 162 and all(isinstance(p.geometry, Point) for p in points)
    assert len(dropped_of(ds, items)) == 649 and ds.dropped == []
    assert {d.reason for d in dropped_of(ds, items)} == {"keypoint not labelled (visibility 0)"}
    assert Counter(p.attributes["visibility"] for p in points) == {2: 1314, 1: 162}
    first = points[0]
    assert first.label == "nose" and first.source.location.startswith("results[")
    assert first.source.location == f"results[{first.attributes['instance']}], keypoint nose"
    assert first.attributes["category"] == "person" and ds.kinds == {"point"}
    assert "left_ankle" in ds.labels


def test_keypoints_without_schema_are_numbered(shared: Path) -> None:
    ds = read_coco([str(KPTS)], CocoOptions(images=str(GT100)))
    points = instances(items_of(ds))
    assert {p.label for p in points} <= {f"keypoint_{k}" for k in range(1, 18)}
    assert ds.labels == ["person"] + [f"keypoint_{k}" for k in range(1, 18)]


def test_predicted_keypoint_confidences(shared: Path) -> None:
    base = shared / "faster_coco_eval/keypoints_dataset"
    paths, gt = [str(base / "dt_dataset.json")], str(base / "gt_dataset.json")
    raw = load(base / "dt_dataset.json")
    confs = [v for r in raw for v in r["keypoints"][2::3]]
    ds = read_coco(paths, CocoOptions(images=gt, keypoint_threshold=0.3))
    items = items_of(ds)
    insts = instances(items)
    points = [i for i in insts if isinstance(i.geometry, Point)]
    assert len(points) == sum(c >= 0.3 for c in confs)
    assert len(dropped_of(ds, items)) == sum(c < 0.3 for c in confs)
    assert all(p.geometry.confidence >= 0.3 for p in points)  # type: ignore[union-attr,operator]
    assert sum(isinstance(i.geometry, Box) for i in insts) == 128
    everything = instances(items_of(read_coco(paths, CocoOptions(images=gt))))
    assert len(everything) == 128 + len(confs)


def test_mmpose_keypoints_golden(shared: Path, update_goldens: bool) -> None:
    ds = read_coco([str(MMPOSE / "test_coco.json")])
    gt = load(MMPOSE / "test_coco.json")
    check_golden("mmpose_test_coco", ds, update_goldens)
    ds = read_coco([str(MMPOSE / "test_coco.json")])
    points = [i for i in instances(items_of(ds)) if isinstance(i.geometry, Point)]
    assert len(points) == sum(a["num_keypoints"] for a in gt["annotations"])
    assert len(ds.dropped) == 17 * 14 - len(points)


def test_crowdpose_schema(shared: Path) -> None:
    base = shared / "faster_coco_eval/dataset"
    ds = read_coco(
        [str(base / "example_crowdpose_preds.json")],
        CocoOptions(images=str(base / "example_crowdpose_val.json")),
    )
    labels = {i.label for i in instances(items_of(ds))}
    assert {"head", "neck", "left_shoulder"} <= labels and "nose" not in labels


# --- video ------------------------------------------------------------------------------


def test_cocovid_golden(shared: Path, update_goldens: bool) -> None:
    path = MMTRACK / "demo_cocovid_data/ann.json"
    check_golden("cocovid_demo", read_coco([str(path)]), update_goldens)
    (item,) = items_of(read_coco([str(path)]))
    assert item.frames is not None and [f.number for f in item.frames] == list(range(8))
    assert sum(len(f.instances) for f in item.frames) == 10
    assert len({i.track_id for i in item.iter_instances()}) == 5
    assert any(not f.instances for f in item.frames)
    assert item.fields["name"] == "dummy_video" and item.width == 512


def test_youtube_vis_ground_truth_and_results(shared: Path, update_goldens: bool) -> None:
    ann = MMTRACK / "demo_vis_data/ann.json"
    (gt,) = items_of(read_coco([str(ann)]))
    (mask,) = [i.geometry for i in gt.iter_instances()]
    assert isinstance(mask, Mask) and (mask.height, mask.width) == (720, 1280)
    results = read_coco([str(MMTRACK / "demo_vis_data/results.json")], CocoOptions(images=str(ann)))
    assert "mmtracking results" in results.notes[0]
    check_golden("vis_results", results, update_goldens)
    (item,) = items_of(
        read_coco([str(MMTRACK / "demo_vis_data/results.json")], CocoOptions(images=str(ann)))
    )
    (inst,) = list(item.iter_instances())
    assert inst.track_id == "3" and inst.label == "sedan" and isinstance(inst.geometry, Mask)
    # the tracked mask overlaps the ground-truth mask of the same car
    iou = mask_utils.iou([inst.geometry.rle()], [mask.rle()], [0])[0][0]
    assert iou > 0.5


# --- errors and fixes -------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return str(path)


def tiny_dataset(annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images": [{"id": 0, "file_name": "a.jpg", "width": 20, "height": 10}],
        "categories": [{"id": 3, "name": "cat"}],
        "annotations": [
            {"id": i, "image_id": 0, "category_id": 3, **a} for i, a in enumerate(annotations)
        ],
    }


def test_result_id_without_image(shared: Path, tmp_path: Path) -> None:
    raw = load(BBOX)[:3]
    raw[2]["image_id"] = 987654321
    path = write(tmp_path, "res.json", raw)
    with pytest.raises(InvalidAnnotationError) as err:
        read_coco([path], CocoOptions(images=str(GT100)))
    assert str(err.value).startswith(f"{path}, results[2]: image_id 987654321 has no image")


def test_results_need_an_image_source(tmp_path: Path) -> None:
    path = write(tmp_path, "res.json", load(BBOX)[:2])
    with pytest.raises(InputError, match="give --images"):
        read_coco([path])


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]},\n {"image_id": 2,, }]',
            "line 2, column 17",
        ),
        (b'{"images": [}', "line 1, column 13"),
    ],
)
def test_bad_json_has_a_position(tmp_path: Path, text: bytes, where: str) -> None:
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(InputError, match="invalid JSON") as err:
        read_coco([path], CocoOptions(image_size=(4, 4)))
    assert err.value.location == where


def test_polygon_fixes_and_drops(tmp_path: Path) -> None:
    anns = [
        {"segmentation": [[0, 0, 5, 0, 5, 5, 9]], "bbox": [0, 0, 5, 5]},  # odd: last number dropped
        {"segmentation": [[1, 1, 4, 4]], "bbox": [1, 1, 3, 3]},  # 2 points: bbox used, noted
        {"segmentation": [[1, 1, 4, 4]]},  # 2 points and no bbox: dropped with the reason
        {"segmentation": [[0, 0, 4, 0, 4, 4], [1, 1]], "bbox": [0, 0, 4, 4]},  # bad part dropped
    ]
    ds = read_coco([write(tmp_path, "d.json", tiny_dataset(anns))])
    (item,) = items_of(ds)
    geoms = [i.geometry for i in item.instances]
    assert geoms[0] == Polygon.from_ring([(0.0, 0.0), (5.0, 0.0), (5.0, 5.0)])
    assert geoms[1] == Box(1, 1, 3, 3)
    assert isinstance(geoms[2], Polygon) and len(geoms[2].parts) == 1
    assert len(item.notes) == 3 and "odd number of coordinates" in item.notes[0]
    (dropped,) = ds.dropped
    assert dropped.source.location == "annotations[2]" and "at least 3" in dropped.reason


@pytest.mark.parametrize(
    ("ann", "message"),
    [
        ({"segmentation": [["a", 1, 2, 3, 4, 5]]}, r"segmentation\[0\] must be a flat list"),
        ({"bbox": [1, 2, 3]}, "bbox must be"),
        ({"segmentation": {"size": [10, 20], "counts": [5, 5]}}, "RLE counts sum to 10"),
        ({"segmentation": {"size": [11, 20], "counts": "PPYo0"}}, "differs from the image size"),
        ({"keypoints": [1, 2]}, "keypoints must be a flat list"),
    ],
)
def test_bad_objects_name_file_and_object(
    tmp_path: Path, ann: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, "d.json", tiny_dataset([{"bbox": [0, 0, 1, 1]}, ann]))
    with pytest.raises(InvalidAnnotationError, match=message) as err:
        items_of(read_coco([path]))
    assert err.value.path == path and err.value.location == "annotations[1]"


def test_unknown_kind_and_unknown_ids(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a COCO file"):
        read_coco([write(tmp_path, "x.json", {"foo": 1})])
    data = tiny_dataset([{"bbox": [0, 0, 1, 1]}])
    data["annotations"][0]["category_id"] = 0
    with pytest.raises(InvalidAnnotationError, match="category_id 0 is not in categories"):
        read_coco([write(tmp_path, "y.json", data)])


def test_spill_is_removed_after_streaming(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ds = read_coco([str(BBOX)], CocoOptions(images=str(GT100)))
    assert list(tmp_path.glob("prelabel-coco-*"))
    assert len(instances(items_of(ds))) == 734
    assert not list(tmp_path.glob("prelabel-coco-*"))


def test_mask_decode_matches_numpy_reference(tmp_path: Path) -> None:
    pixels = np.zeros((10, 20), dtype=np.uint8)
    pixels[2:5, 3:9] = 1
    counts = mask_utils.encode(np.asfortranarray(pixels))["counts"].decode()
    path = write(
        tmp_path, "d.json", tiny_dataset([{"segmentation": {"size": [10, 20], "counts": counts}}])
    )
    (inst,) = instances(items_of(read_coco([path])))
    assert isinstance(inst.geometry, Mask)
    assert (mask_utils.decode(inst.geometry.rle()) == pixels).all()


def test_cocovid_fps_gives_timestamps(shared: Path) -> None:
    path = MMTRACK / "demo_cocovid_data/ann.json"
    (item,) = items_of(read_coco([str(path)], CocoOptions(fps=4)))
    assert item.fps == 4 and item.frames is not None
    assert [f.timestamp for f in item.frames] == [n / 4 for n in range(8)]


def test_mmtracking_results_with_image_size(shared: Path) -> None:
    path = MMTRACK / "demo_vis_data/results.json"
    ds = read_coco([str(path)], CocoOptions(image_size=(1280, 720)))
    (item,) = items_of(ds)
    (inst,) = list(item.iter_instances())
    assert inst.label == "0" and inst.track_id == "3" and (item.width, item.height) == (1280, 720)


def test_json_error_in_a_large_file_names_the_last_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prelabel.converters.coco import stream as coco_stream

    monkeypatch.setattr(coco_stream, "_LOCATE_LIMIT", 0)  # as if the file were too big to re-parse
    text = b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}, {"image_id": }]'
    with pytest.raises(InputError, match="invalid JSON") as err:
        read_coco([write(tmp_path, "big.json", text)], CocoOptions(image_size=(4, 4)))
    assert err.value.location == "after results[0]"
