"""The mask PNG reader on the real files in shared/data: palette, RGB colour, 16-bit instance,
VOC class + object, COCO panoptic (RGB and 2-channel), video frames; errors; the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import FIXTURES, REPO, SHARED
from PIL import Image

from prelabel.converters.masks import decode
from prelabel.converters.masks import kinds as mask_kinds
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import InputError
from prelabel.geometry.raster import raster_to_instances, void_mask
from prelabel.geometry.rle import decode_mask
from prelabel.model import Dataset, IndexRaster, Item, Mask

VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"
VIDEO = SHARED / "labelme/video_annotation/data_dataset_voc"
DM = SHARED / "datumaro"
PAN = SHARED / "panopticapi/sample_data"
GOLDENS = FIXTURES / "masks/goldens"
CITYSCAPES_NAMES = str(FIXTURES / "masks/cityscapes_classes.json")


def items(ds: Dataset) -> list[Item]:
    return list(ds.items)


def load(item: Item) -> IndexRaster:
    assert item.raster is not None
    return item.raster()


def summary(ds: Dataset) -> dict[str, Any]:
    """Raster values, segments and pixel counts of every item: what goldens hold."""
    out: dict[str, Any] = {}
    for item in items(ds):
        r = load(item)
        vals, counts = np.unique(r.values, return_counts=True)
        out[item.key] = {
            "size": [item.width, item.height],
            "file_name": item.fields.get("file_name"),
            "pixels": {str(int(v)): int(c) for v, c in zip(vals, counts, strict=True)},
            "segments": {
                str(v): [s.label, s.instance, s.source.location, s.attributes]
                for v, s in sorted(r.segments.items())
            },
            "notes": item.notes,
            "values_sha256": hashlib.sha256(r.values.astype("<i4").tobytes()).hexdigest()[:16],
        }
    return out


def check_golden(name: str, data: Any, update: bool) -> None:
    path = GOLDENS / f"{name}.json"
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    assert json.loads(path.read_text()) == json.loads(json.dumps(data))


# --- palette (labelme VOC) -------------------------------------------------------------------


def test_palette_masks_read_as_indices_not_colours(shared: Path) -> None:
    path = VOC / "SegmentationClass/2011_000003.png"
    raw = decode.decode(path)
    assert raw.ndim == 2 and set(np.unique(raw).tolist()) == {0, 5, 15, 255}
    expanded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # OpenCV expands the palette
    assert expanded.ndim == 3  # the trap the reader avoids
    ignore_bgr = expanded[raw == 255][0].tolist()
    assert ignore_bgr == [192, 224, 224]  # VOC's (224, 224, 192) void colour
    (item,) = items(read_masks([str(path)], MaskOptions(classes=str(VOC / "class_names.txt"))))
    r = load(item)
    # 255 = void -> 0; class 0 (_background_) is named, so it is a segment at an unused value
    assert {v: s.label for v, s in r.segments.items()} == {
        1: "_background_",
        5: "bottle",
        15: "person",
    }
    assert set(np.unique(r.values).tolist()) == {0, 1, 5, 15}
    assert int((r.values == 1).sum()) == int((raw == 0).sum())
    assert np.array_equal(void_mask(r), raw == 255)


def test_labelme_voc_class_masks(shared: Path, update_goldens: bool) -> None:
    ds = read_masks(
        [str(VOC / "SegmentationClass")],
        MaskOptions(images=str(VOC / "JPEGImages"), classes=str(VOC / "class_names.txt")),
    )
    got = summary(ds)
    assert got["2011_000003"]["file_name"] == "2011_000003.jpg"
    assert got["2011_000003"]["size"] == [500, 338]
    assert "255" not in got["2011_000003"]["pixels"]  # void -> unlabeled
    assert got["2011_000003"]["segments"]["15"][0] == "person"
    assert got["2011_000003"]["segments"]["1"][:3] == ["_background_", False, "pixel value 0"]
    assert ds.notes == []
    check_golden("labelme_voc_class", got, update_goldens)


def test_voc_class_plus_object_masks_and_void_disagreement(
    shared: Path, update_goldens: bool
) -> None:
    ds = read_masks(
        [str(VOC / "SegmentationClass")],
        MaskOptions(classes=str(VOC / "class_names.txt"), objects=str(VOC / "SegmentationObject")),
    )
    got = summary(ds)
    first = got["2011_000003"]
    assert first["notes"] == [
        "2011_000003.png: 9460 px are void in the class mask but 0 in the object mask; "
        "read as unlabeled"
    ]
    six = got["2011_000006"]["segments"]
    background = [v for v, s in six.items() if s[0] == "_background_"]
    assert len(background) == 1 and not six.pop(background[0])[1]  # class 0: not an instance
    # instances 1,2,3,4,5,7 (a gap at 6), each its own instance segment
    assert sorted(int(v) // 256 for v in six) == [1, 2, 3, 4, 5, 7]
    assert all(s[1] for s in six.values())
    assert {s[2] for s in six.values()} == {f"pixel value {o}" for o in (1, 2, 3, 4, 5, 7)}
    check_golden("labelme_voc_object", got, update_goldens)


def test_labelme_video_frames(shared: Path) -> None:
    ds = read_masks(
        [str(VIDEO / "SegmentationClassPNG")],
        MaskOptions(
            images=str(VIDEO / "JPEGImages"), classes=str(VIDEO / "class_names.txt"), video=True
        ),
    )
    (video,) = items(ds)
    frames = video.frames or []
    assert video.is_video and (video.width, video.height) == (1000, 563)
    assert [f.number for f in frames] == [100, 101, 102, 103, 104]
    for frame in frames:
        assert frame.raster is not None
        r = frame.raster()
        assert {s.label for s in r.segments.values()} == {"_background_", "car", "track"}
        assert int((r.values == 1).sum()) == 8942  # the static car region of every frame
        assert frame.fields["file_name"] == f"{frame.number:08d}.jpg"


# --- RGB colour masks (datumaro) ---------------------------------------------------------------


def test_datumaro_voc_rgb_masks_use_the_builtin_voc_map(shared: Path) -> None:
    root = DM / "voc_dataset/voc_dataset1"
    ds = read_masks(
        [str(root / "SegmentationClass")],
        MaskOptions(images=str(root / "JPEGImages"), colormap="voc"),
    )
    (item,) = items(ds)
    r = load(item)
    assert (item.width, item.height) == (20, 10)
    # raster value = class value + 1 for colour masks; (0, 128, 0) is VOC class 2
    assert {v: (s.label, s.source.location) for v, s in r.segments.items()} == {
        3: ("bicycle", "colour (0, 128, 0) (class value 2)")
    }


def test_camvid_masks_paired_by_manifest(shared: Path, update_goldens: bool) -> None:
    root = DM / "camvid_dataset"
    got = {}
    for split in ("train", "val", "test"):
        ds = read_masks(
            [str(root)], MaskOptions(manifest=str(root / f"{split}.txt"), colormap="camvid")
        )
        got.update(summary(ds))
    assert set(got) == {"0001TP_006690", "0016E5_07959", "0001TP_008550", "0001TP_008580"}
    # the manifest pairs /trainannot/X.png with /train/X.png (leading / = dataset root)
    assert got["0001TP_006690"]["file_name"] == "0001TP_006690.png"
    labels = {s[0] for g in got.values() for s in g["segments"].values()}
    assert {"Road", "Sky", "Animal", "Bicyclist"} <= labels
    check_golden("camvid", got, update_goldens)


def test_common_semantic_segmentation_with_dataset_meta(shared: Path) -> None:
    root = DM / "common_semantic_segmentation_dataset/dataset"
    ds = read_masks(
        [str(root / "masks")],
        MaskOptions(images=str(root / "images"), colormap=str(root / "dataset_meta.json")),
    )
    got = {i.key: {v: s.label for v, s in load(i).segments.items()} for i in items(ds)}
    assert got == {"0001": {4: "Bicyclist", 6: "Road"}, "0002": {2: "Animal", 5: "Child"}}
    assert ds.labels == ["Animal", "Archway", "Bicyclist", "Child", "Road"]  # Void = background


def write_rgb(path: Path, pixels: list[list[tuple[int, int, int]]]) -> Path:
    Image.fromarray(np.array(pixels, dtype=np.uint8), "RGB").save(path)
    return path


def test_off_palette_colour_is_an_error_or_nearest_within_tolerance(tmp_path: Path) -> None:
    mask = write_rgb(tmp_path / "m.png", [[(64, 128, 64), (66, 126, 65), (0, 0, 0)]])
    with pytest.raises(InputError) as err:
        items(read_masks([str(mask)], MaskOptions(colormap="camvid")))[0].raster()  # type: ignore[misc]
    assert "off-palette colour (66, 126, 65) (1 px" in str(err.value)
    assert str(err.value).startswith(str(mask))
    (item,) = items(read_masks([str(mask)], MaskOptions(colormap="camvid", tolerance=4)))
    r = load(item)
    assert r.values.tolist() == [[1, 1, 0]]  # Animal twice, Void (background) -> 0
    assert item.notes == ["m.png: 1 px matched to the nearest colour of camvid within tolerance 4"]
    with pytest.raises(InputError, match=r"off-palette colour \(66, 126, 65\)"):
        items(read_masks([str(mask)], MaskOptions(colormap="camvid", tolerance=2)))[0].raster()  # type: ignore[misc]


# --- 16-bit instance masks ----------------------------------------------------------------------


def test_kitti_class_times_256(shared: Path) -> None:
    root = DM / "kitti_dataset/kitti_segmentation/training"
    ds = read_masks(
        [str(root / "instance")],
        MaskOptions(kind="instance256", classes=CITYSCAPES_NAMES, images=str(root / "image_2")),
    )
    first = load(items(ds)[0])
    assert first.values.dtype == np.int32
    got = {v: (s.label, s.instance) for v, s in first.segments.items()}
    # 6913 = class 27 (truck) instance 1; 768 = class 3 with instance 0 (stuff)
    assert got == {768: ("out of roi", False), 6913: ("truck", True), 6914: ("truck", True)}


def test_mots_class_times_1000(shared: Path) -> None:
    path = DM / "mots_dataset/train/instances/1.png"
    ds = read_masks(
        [str(path)],
        MaskOptions(kind="instance1000", classes=str(FIXTURES / "masks/mots_classes.json")),
    )
    r = load(items(ds)[0])
    assert {v: (s.label, s.instance) for v, s in r.segments.items()} == {
        3002: ("c", True),
        4001: ("d", True),
        4003: ("d", True),
    }


def test_mots_labels_txt_is_zero_based_so_class_4_is_unknown(shared: Path) -> None:
    root = DM / "mots_dataset/train/instances"
    ds = read_masks(
        [str(root / "1.png")], MaskOptions(kind="instance1000", classes=str(root / "labels.txt"))
    )
    with pytest.raises(InputError) as err:
        load(items(ds)[0])
    assert "unknown class 4 in 1.png: labels.txt has 4 lines" in str(err.value)


def test_mots_mask_and_image_sizes_differ(shared: Path) -> None:
    root = DM / "mots_dataset/train"
    with pytest.raises(InputError) as err:
        items(
            read_masks(
                [str(root / "instances/1.png")],
                MaskOptions(
                    kind="instance1000", images=str(root / "images"), classes=CITYSCAPES_NAMES
                ),
            )
        )
    assert "mask is 5x1 but image" in str(err.value) and "1.jpg is 1x5" in str(err.value)


def test_cityscapes_8bit_class_ids_and_16bit_instances(shared: Path, tmp_path: Path) -> None:
    root = DM / "cityscapes_dataset/dataset"
    ds = read_masks(
        [str(root / "gtFine")],
        MaskOptions(
            kind="instance1000", classes=CITYSCAPES_NAMES, images=str(root / "leftImg8bit")
        ),
    )
    got = {
        i.key: (i.fields["file_name"], {s.label for s in load(i).segments.values()})
        for i in items(ds)
    }
    key = "defaultcity_000001_000031_gtFine_instanceIds"
    assert got[key] == ("defaultcity_000001_000031_leftImg8bit.png", {"out of roi", "truck"})
    # real Cityscapes instanceIds are 16-bit id*1000+instance for things
    arr = np.array([[26001, 26001, 26002, 7, 0]], dtype=np.uint16)
    path = tmp_path / "x_gtFine_instanceIds.png"
    assert cv2.imwrite(str(path), arr)
    (item,) = items(
        read_masks([str(path)], MaskOptions(kind="instance1000", classes=CITYSCAPES_NAMES))
    )
    r = load(item)
    assert {v: (s.label, s.instance) for v, s in r.segments.items()} == {
        7: ("road", False),
        26001: ("car", True),
        26002: ("car", True),
        26003: ("unlabeled", False),  # class 0 is named: a segment at an unused value
    }


def test_16bit_without_kind_hints_at_instance_kinds(shared: Path) -> None:
    path = DM / "mots_dataset/val/instances/3.png"
    with pytest.raises(InputError, match="need --kind instance1000 or instance256"):
        load(items(read_masks([str(path)], MaskOptions(classes=CITYSCAPES_NAMES)))[0])


# --- COCO panoptic ----------------------------------------------------------------------------


def panoptic(shared: Path) -> Dataset:
    return read_masks(
        [str(PAN / "panoptic_examples")],
        MaskOptions(panoptic=str(PAN / "panoptic_examples.json"), images=str(PAN / "input_images")),
    )


def test_panoptic_segments_match_segments_info(shared: Path, update_goldens: bool) -> None:
    info = json.loads((PAN / "panoptic_examples.json").read_text())
    areas = {  # ids repeat across images (2330219 is in both): key by image
        (a["file_name"][:-4], s["id"]): s["area"]
        for a in info["annotations"]
        for s in a["segments_info"]
    }
    crowd = {s["id"] for a in info["annotations"] for s in a["segments_info"] if s["iscrowd"]}
    ds = panoptic(shared)
    got = summary(ds)
    for key, entry in got.items():
        assert entry["file_name"] == f"{key}.jpg"
        for value, count in entry["pixels"].items():
            if value != "0":
                assert areas[key, int(value)] == count  # area = pixel count, exactly
        assert {int(v) for v, s in entry["segments"].items() if s[3]} <= crowd
    assert got["000000142238"]["pixels"]["0"] == 2712 and got["000000439180"]["pixels"]["0"] == 7189
    assert {int(v) for e in got.values() for v, s in e["segments"].items() if s[3]} == crowd
    assert not ds.dropped
    check_golden("panoptic", got, update_goldens)


def test_panoptic_two_channel_form_is_the_same_partition(shared: Path) -> None:
    rgb = {i.key: load(i) for i in items(panoptic(shared))}
    two = read_masks(
        [str(PAN / "panoptic_examples_2ch_format")],
        MaskOptions(panoptic=str(PAN / "images_info_examples.json"), kind="panoptic2ch"),
    )
    for item in items(two):
        r2, r1 = load(item), rgb[item.key]
        pairs = set(zip(r1.values.ravel().tolist(), r2.values.ravel().tolist(), strict=True))
        assert len(pairs) == len(r1.segments) + 1 == len(r2.segments) + 1  # a bijection
        for a, b in pairs:
            if a:
                assert r1.segments[a].label == r2.segments[b].label
                assert r1.segments[a].instance == r2.segments[b].instance


def test_datumaro_panoptic_size_mismatch_is_a_clear_error(shared: Path) -> None:
    root = DM / "coco_dataset/coco_panoptic/annotations"
    with pytest.raises(InputError) as err:
        items(
            read_masks(
                [str(root / "panoptic_train")],
                MaskOptions(panoptic=str(root / "panoptic_train.json")),
            )
        )
    assert str(err.value) == (
        f"{root / 'panoptic_train/a.png'}: mask is 5x5 but image a.jpg in "
        "panoptic_train.json is 10x5 (width x height)"
    )
    (ok,) = items(
        read_masks(
            [str(root / "panoptic_val")], MaskOptions(panoptic=str(root / "panoptic_val.json"))
        )
    )
    assert {v: (s.label, s.attributes) for v, s in load(ok).segments.items()} == {
        7: ("a", {}),
        20: ("b", {"iscrowd": 1}),
    }


# --- other kinds, errors, laziness ------------------------------------------------------------


def test_binary_per_instance_masks(tmp_path: Path) -> None:
    folder = tmp_path / "masks/img1"
    folder.mkdir(parents=True)
    a = np.zeros((4, 6), np.uint8)
    a[0:2, 0:3] = 255
    b = np.zeros((4, 6), np.uint8)
    b[1:4, 2:6] = 1
    Image.fromarray(a).save(folder / "car_1.png")
    Image.fromarray(b).save(folder / "person_2.png")
    (item,) = items(read_masks([str(tmp_path / "masks")], MaskOptions(kind="binary")))
    r = load(item)
    assert item.key == "img1" and (item.width, item.height) == (6, 4)
    assert {v: (s.label, s.instance) for v, s in r.segments.items()} == {
        1: ("car", True),
        2: ("person", True),
    }
    assert int((r.values == 1).sum()) == 6 and int((r.values == 2).sum()) == 12 - 1


def test_unknown_value_names_file_and_class_file(tmp_path: Path) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(f"c{i}" for i in range(21)) + "\n")
    mask = tmp_path / "m.png"
    Image.fromarray(np.array([[0, 3, 37]], dtype=np.uint8)).save(mask)
    (item,) = items(read_masks([str(mask)], MaskOptions(classes=str(classes))))
    with pytest.raises(InputError) as err:
        load(item)
    assert str(err.value) == (
        f"{mask}, pixel value 37: unknown value 37 in m.png: classes.txt has 21 lines"
    )


def test_no_image_for_a_mask(shared: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no image with stem '2011_000003'"):
        items(read_masks([str(VOC / "SegmentationClass")], MaskOptions(images=str(tmp_path))))


def test_nothing_is_decoded_until_raster_is_called(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real: Callable[[Path], Any] = decode.decode

    def counting(path: Path) -> Any:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(mask_kinds, "decode", counting)  # where the raster builders look it up
    ds = read_masks(
        [str(VOC / "SegmentationClass")], MaskOptions(classes=str(VOC / "class_names.txt"))
    )
    all_items = items(ds)
    assert len(all_items) == 3 and calls == []
    load(all_items[1])
    assert calls == [VOC / "SegmentationClass/2011_000006.png"]


def test_raster_to_instances_gives_one_mask_per_segment(shared: Path) -> None:
    ds = read_masks(
        [str(VOC / "SegmentationClass/2011_000006.png")],
        MaskOptions(classes=str(VOC / "class_names.txt"), objects=str(VOC / "SegmentationObject")),
    )
    r = load(items(ds)[0])
    instances = raster_to_instances(r)
    assert len(instances) == len(r.segments) == 7  # 6 objects and class 0
    assert [i.label for i in instances if i.instance_id is None] == ["_background_"]
    for inst in instances:
        assert isinstance(inst.geometry, Mask)
        value = int(inst.instance_id) if inst.instance_id is not None else max(r.segments)
        assert np.array_equal(decode_mask(inst.geometry), r.values == value)
        assert inst.label == r.segments[value].label


# --- CLI ------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


SEG_CONFIG = """task_type = "segmentannotation"
[params]
project = "masks"
allow_unlabeled = true
labels = [{labels}]
[prelabel]
attachment_url = "https://cdn.example.com/{{stem}}.jpg"
"""


def seg_config(tmp_path: Path, labels: list[str], instance: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    parts = [
        f'{{choice = "{x}", instance_label = true}}' if x in instance else json.dumps(x)
        for x in labels
    ]
    path = tmp_path / "seg.toml"
    path.write_text(SEG_CONFIG.format(labels=", ".join(parts)))
    return str(path)


def test_cli_wrong_size_error(shared: Path, tmp_path: Path) -> None:
    root = DM / "mots_dataset/train"
    proc = run_cli(
        "convert",
        "masks",
        str(root / "instances/1.png"),
        "--kind",
        "instance1000",
        "--classes",
        CITYSCAPES_NAMES,
        "--images",
        str(root / "images"),
        "-c",
        seg_config(tmp_path, ["car"]),
        "-o",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip() == (
        f"Error: {root / 'instances/1.png'}: mask is 5x1 but image "
        f"{root / 'images/1.jpg'} is 1x5 (width x height)"
    )


def test_cli_off_palette_error(tmp_path: Path) -> None:
    mask = write_rgb(tmp_path / "m.png", [[(64, 128, 64), (1, 2, 3)]])
    proc = run_cli(
        "convert",
        "masks",
        str(mask),
        "--colormap",
        "camvid",
        "-c",
        seg_config(tmp_path, ["Animal"]),
        "-o",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"Error: {mask}: off-palette colour (1, 2, 3) (1 px;")
    assert "use --tolerance" in proc.stderr


def test_cli_unknown_value_error(shared: Path, tmp_path: Path) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("_background_\naeroplane\n")
    mask = VOC / "SegmentationClass/2011_000025.png"
    proc = run_cli(
        "convert",
        "masks",
        str(mask),
        "--classes",
        str(classes),
        "-c",
        seg_config(tmp_path, ["bus"]),
        "-o",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        f"Error: {mask}, pixel value 6: unknown value 6 in 2011_000025.png: classes.txt has 2 lines"
    )


def test_cli_panoptic_to_segmentannotation(shared: Path, tmp_path: Path) -> None:
    data = json.loads((PAN / "panoptic_examples.json").read_text())
    used = {s["category_id"] for a in data["annotations"] for s in a["segments_info"]}
    cats = [c for c in data["categories"] if c["id"] in used]
    names = [c["name"] for c in cats]
    things = {c["name"] for c in cats if c["isthing"]}
    out = tmp_path / "out"
    proc = run_cli(
        "convert",
        "masks",
        str(PAN / "panoptic_examples"),
        "--panoptic",
        str(PAN / "panoptic_examples.json"),
        "-c",
        seg_config(tmp_path, names, things),
        "-o",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary_out = json.loads(proc.stdout)
    lines = [json.loads(x) for x in (out / "tasks.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and summary_out["totals"]["objects_dropped"] == 0
    body = lines[0]["body"]
    assert body["attachment"] == "https://cdn.example.com/000000142238.jpg"  # panoptic JSON
    ref = body["hypothesis"]["annotations"]["combined"]["indexedImage"]
    png = cv2.imread(str(out / "artifacts" / ref.removeprefix("artifact://")), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape == (427, 640)
    entries = [
        e
        for v in body["hypothesis"]["labelMapping"].values()
        for e in (v if isinstance(v, list) else [v])
    ]
    for e in entries:
        assert int((png == e["index"]).sum()) == e["numPixels"]
    assert int((png == 0).sum()) == 2712
    assert isinstance(body["hypothesis"]["labelMapping"]["person"], list)


def test_cli_masks_to_polygons(shared: Path, tmp_path: Path) -> None:
    config = tmp_path / "poly.toml"
    config.write_text(
        'task_type = "imageannotation"\n[params]\nproject = "p"\n'
        '[params.geometries.polygon]\nobjects_to_annotate = ["person", "bottle"]\n'
        "max_vertices = 100\n[prelabel]\n"
        'attachment_url = "https://cdn.example.com/{stem}.jpg"\n'
    )
    out = tmp_path / "out"
    proc = run_cli(
        "convert",
        "masks",
        str(VOC / "SegmentationClass/2011_000003.png"),
        "--classes",
        str(VOC / "class_names.txt"),
        "--objects",
        str(VOC / "SegmentationObject"),
        "--void",
        "0",
        "--void",
        "255",
        "-c",
        str(config),
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    objects = report["objects"]
    assert len(objects) == 3 and all(o["outcome"] != "dropped" for o in objects)
    assert all(o["iou"] > 0.9 for o in objects)
    body = json.loads((out / "tasks.jsonl").read_text())["body"]
    polygons = body["hypothesis"]["annotations"]
    assert {a["label"] for a in polygons} == {"person", "bottle"}
    assert all(3 <= len(a["vertices"]) <= 100 for a in polygons)


def test_panoptic_segment_without_pixels_is_dropped_with_reason(
    shared: Path, tmp_path: Path
) -> None:
    data = json.loads((PAN / "panoptic_examples.json").read_text())
    ann = next(a for a in data["annotations"] if a["file_name"] == "000000439180.png")
    ann["segments_info"].append(
        {"id": 42, "category_id": 1, "iscrowd": 0, "area": 9, "bbox": [0, 0, 3, 3]}
    )
    doctored = tmp_path / "panoptic.json"
    doctored.write_text(json.dumps(data))
    ds = read_masks(
        [str(PAN / "panoptic_examples/000000439180.png")], MaskOptions(panoptic=str(doctored))
    )
    (item,) = items(ds)
    assert 42 not in load(item).segments
    # the item's own list: recorded in its task, in whichever process read the PNG
    assert [(d.source.location, d.reason, d.label) for d in item.dropped] == [
        ("pixel value 42", "empty: listed in segments_info, no pixels", "person")
    ]
    assert ds.dropped == []


def test_cli_video_masks_to_videoplayback_tracks_per_class(shared: Path, tmp_path: Path) -> None:
    config = tmp_path / "vid.toml"
    config.write_text(
        'task_type = "videoplaybackannotation"\n[params]\nproject = "vid"\n'
        'attachment_type = "video"\n[params.geometries.polygon]\n'
        'objects_to_annotate = ["car", "track"]\nmax_vertices = 100\n[prelabel]\n'
        'attachment_url = "https://cdn.example.com/{sequence}.mp4"\n'
    )
    out = tmp_path / "out"
    proc = run_cli(
        "convert",
        "masks",
        str(VIDEO / "SegmentationClassPNG"),
        "--video",
        "--fps",
        "5",
        "--classes",
        str(VIDEO / "class_names.txt"),
        "--void",
        "0",
        "--images",
        str(VIDEO / "JPEGImages"),
        "-c",
        str(config),
        "-o",
        str(out),
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    (hosted,) = (out / "artifacts/hypothesis").glob("*.json")
    tracks = json.loads(hosted.read_text())
    # semantic video masks: each class is one track over the 5 frames
    assert sorted((t["label"], len(t["frames"])) for t in tracks.values()) == [
        ("car", 5),
        ("track", 5),
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["objects_in"] == 10 and report["iou"]["min"] > 0.99


def test_datumaro_rgb_class_and_object_masks(shared: Path) -> None:
    """VOC masks stored as RGB: both decode through the VOC palette; names default to VOC's."""
    root = DM / "voc_dataset/voc_dataset1"
    ds = read_masks(
        [str(root / "SegmentationClass")],
        MaskOptions(objects=str(root / "SegmentationObject"), void=(0, 255)),
    )
    r = load(items(ds)[0])
    (seg,) = r.segments.values()
    assert (seg.label, seg.instance, seg.source.location) == ("bicycle", True, "pixel value 1")
    assert seg.source.file.endswith("SegmentationObject/2007_000001.png")
    assert (r.values == 1 * 256 + 2).all()  # object 1 (128, 0, 0) of class 2 (0, 128, 0)


def test_mots_folder_as_video_instance_values_are_tracks(shared: Path) -> None:
    root = DM / "mots_dataset/train/instances"
    ds = read_masks(
        [str(root)],
        MaskOptions(
            kind="instance1000",
            classes=str(FIXTURES / "masks/mots_classes.json"),
            video=True,
            fps=10,
        ),
    )
    (video,) = items(ds)
    frames = video.frames or []
    assert [(f.number, f.timestamp) for f in frames] == [(1, 0.0), (2, 0.1)]
    tracks = [
        sorted((s.track_id, s.label) for s in f.raster().segments.values())  # type: ignore[misc]
        for f in frames
    ]
    assert tracks == [[("3002", "c"), ("4001", "d"), ("4003", "d")], [("4002", "d")]]
