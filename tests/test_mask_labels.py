"""What a mask value becomes (issue 12, "Masks"), on the real VOC-style masks in shared/data.

The rule: a value whose class name is a task label is that label, class 0 included
(``background`` for DeepLabV3+ VOC predictions, ``_background_`` for labelme); void values
(``--void``, a colour map's void colour) are unlabeled and never filled; nothing else is
silently unlabeled. ``--fill-unlabeled`` with ``allow_unlabeled = true`` is an error. Colour
masks need a colour map (no silent VOC default); Cityscapes and ADE20K are built in. A label
that differs from a task label by case or spelling gets a "did you mean" hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import SHARED
from PIL import Image

from prelabel.cli.main import cli
from prelabel.converters.masks.colormaps import cityscapes_colormap
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import InputError
from prelabel.filters import label_hint
from prelabel.geometry.raster import void_mask
from prelabel.model import IndexRaster

VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"
CLASS_NAMES = str(VOC / "class_names.txt")
MASK_3 = VOC / "SegmentationClass/2011_000003.png"  # values 0, 5 (bottle), 15 (person), 255
CITY = SHARED / "datumaro/cityscapes_dataset/dataset"
DM_VOC = SHARED / "datumaro/voc_dataset/voc_dataset1"


def stored(path: Path) -> np.ndarray:
    """The values a palette PNG stores (Pillow reads palette PNGs as indices)."""
    return np.array(Image.open(path))


def config(
    tmp_path: Path, labels: list[str], *, allow_unlabeled: bool = True, extra: str = ""
) -> str:
    path = tmp_path / "seg.toml"
    path.write_text(
        'task_type = "segmentannotation"\n[params]\nproject = "p"\n'
        f"allow_unlabeled = {str(allow_unlabeled).lower()}\nlabels = {json.dumps(labels)}\n"
        f'[prelabel]\nattachment_url = "https://cdn.example.com/{{stem}}.jpg"\n{extra}'
    )
    return str(path)


def convert(*args: str) -> Result:
    return CliRunner().invoke(cli, ["convert", "masks", *args])


def mapping(out: Path) -> dict[str, dict[str, Any]]:
    """labelMapping of each task, by unique_id's last part."""
    lines = [json.loads(x)["body"] for x in (out / "tasks.jsonl").read_text().splitlines()]
    return {b["unique_id"].rsplit("/", 1)[1]: b["hypothesis"]["labelMapping"] for b in lines}


# --- class 0 ---------------------------------------------------------------------------------


def test_labelme_background_is_a_label_when_the_task_has_it(tmp_path: Path) -> None:
    labels = ["_background_", "bottle", "person"]
    out = tmp_path / "out"
    result = convert(
        str(MASK_3), "--classes", CLASS_NAMES, "-c", config(tmp_path, labels), "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    (got,) = mapping(out).values()
    raw = stored(MASK_3)
    assert got["_background_"]["numPixels"] == int((raw == 0).sum()) == 125787
    assert got["person"]["numPixels"] == int((raw == 15).sum())
    report = json.loads((out / "report.json").read_text())
    assert {o["label"] for o in report["objects"]} == set(labels)  # background is reported too


def test_voc_background_named_by_the_builtin_map_on_palette_masks(tmp_path: Path) -> None:
    """DeepLabV3+ writes VOC palette PNGs (0 = background .. 20); --colormap voc names them."""
    ds = read_masks([str(MASK_3)], MaskOptions(colormap="voc"))
    (item,) = list(ds.items)
    assert item.raster is not None
    r = item.raster()
    assert sorted(s.label for s in r.segments.values()) == ["background", "bottle", "person"]
    raw = stored(MASK_3)
    (bg,) = [v for v, s in r.segments.items() if s.label == "background"]
    assert np.array_equal(r.values == bg, raw == 0)
    assert np.array_equal(void_mask(r), raw == 255)  # (224, 224, 192): void, not background


def test_an_unnamed_task_label_class_0_is_an_error_with_a_hint(tmp_path: Path) -> None:
    """Nothing is silently unlabeled: _background_ is not a task label, and it is close to
    one, so the error says which."""
    labels = ["background", "bottle", "person"]
    result = convert(
        str(MASK_3),
        "--classes",
        CLASS_NAMES,
        "-c",
        config(tmp_path, labels),
        "-o",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"Error: {MASK_3}, pixel value 0: label '_background_' is not one of the task's labels "
        "(background, bottle, person); map it with --label-map, or pass "
        "--allow-unmatched-labels to drop such objects; did you mean background?"
    )


def test_void_0_reads_class_0_as_unlabeled(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = convert(
        str(MASK_3), "--classes", CLASS_NAMES, "--void", "0", "--void", "255",
        "-c", config(tmp_path, ["bottle", "person"]), "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert set(next(iter(mapping(out).values()))) == {"bottle", "person"}


@pytest.mark.parametrize(
    ("label", "task", "hint"),
    [
        ("Person", ["person", "car"], "; did you mean person?"),
        ("PERSON", ["person", "car"], "; did you mean person?"),
        ("tv/monitor", ["tvmonitor", "car"], "; did you mean tvmonitor?"),
        ("_background_", ["background"], "; did you mean background?"),
        ("zebra", ["person", "car"], ""),
    ],
)
def test_label_hint(label: str, task: list[str], hint: str) -> None:
    assert label_hint(label, task) == hint


def test_a_label_differing_by_case_gets_the_hint_in_the_error(tmp_path: Path) -> None:
    labels = ["_background_", "Bottle", "person"]
    result = convert(
        str(MASK_3),
        "--classes",
        CLASS_NAMES,
        "-c",
        config(tmp_path, labels),
        "-o",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 3
    assert result.stderr.rstrip().endswith("; did you mean Bottle?")
    assert "pixel value 5: label 'bottle'" in result.stderr


# --- void and fill_unlabeled -----------------------------------------------------------------


def test_fill_unlabeled_with_allow_unlabeled_true_is_an_error(tmp_path: Path) -> None:
    cfg = config(tmp_path, ["_background_", "bottle", "person"])
    result = convert(
        str(MASK_3), "--classes", CLASS_NAMES, "--fill-unlabeled", "_background_",
        "-c", cfg, "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert result.exit_code == 3
    assert "prelabel.fill_unlabeled (from the command line): params.allow_unlabeled is true" in (
        result.stderr
    )


def test_void_is_never_swallowed_by_fill_unlabeled(tmp_path: Path) -> None:
    """VOC's void value (255, drawn (224, 224, 192)) stays unlabeled: with allow_unlabeled
    false that is an error, not a silent fill with background."""
    cfg = config(tmp_path, ["_background_", "bottle", "person"], allow_unlabeled=False)
    result = convert(
        str(MASK_3), "--classes", CLASS_NAMES, "--fill-unlabeled", "_background_",
        "-c", cfg, "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert result.exit_code == 3
    void = int((stored(MASK_3) == 255).sum())
    assert result.stderr.startswith(f"Error: item 2011_000003: {void} px are void")


def test_fill_covers_unlabeled_pixels_but_never_void(tmp_path: Path) -> None:
    """Pixels of a dropped segment and an unnamed value 0 are unlabeled, and filled; with
    255 read as a class (not void), nothing stays void."""
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"5": "bottle", "15": "person", "255": "person"}))
    out = tmp_path / "out"
    cfg = config(tmp_path, ["background", "person"], allow_unlabeled=False)
    result = convert(
        str(MASK_3), "--classes", str(names), "--void", "7", "--fill-unlabeled", "background",
        "--allow-unmatched-labels", "-c", cfg, "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (got,) = mapping(out).values()
    raw = stored(MASK_3)
    assert got["background"]["numPixels"] == int(((raw == 0) | (raw == 5)).sum())
    assert got["person"]["numPixels"] == int(((raw == 15) | (raw == 255)).sum())


def colour_of(path: Path, out: Path) -> Path:
    """The real palette PNG drawn in its own colours (an RGB "colour mask")."""
    Image.open(path).convert("RGB").save(out)
    return out


def test_voc_colour_masks_keep_void_apart(tmp_path: Path) -> None:
    rgb = colour_of(MASK_3, tmp_path / "2011_000003.png")
    (item,) = list(read_masks([str(rgb)], MaskOptions(colormap="voc")).items)
    assert item.raster is not None
    r = item.raster()
    raw = stored(MASK_3)
    assert np.array_equal(void_mask(r), raw == 255)
    assert {s.label: int((r.values == v).sum()) for v, s in r.segments.items()} == {
        "background": int((raw == 0).sum()),
        "bottle": int((raw == 5).sum()),
        "person": int((raw == 15).sum()),
    }


# --- colour maps -------------------------------------------------------------------------------


def test_a_colour_png_without_a_colour_map_is_an_error_listing_the_builtins() -> None:
    """Datumaro's VOC masks are RGB: they used to be read as VOC without a word."""
    mask = DM_VOC / "SegmentationClass/2007_000001.png"
    with pytest.raises(InputError) as err:
        next(iter(read_masks([str(mask)], MaskOptions()).items)).raster()  # type: ignore[misc]
    assert str(err.value) == (
        f"{mask}: a colour (RGB) mask needs --colormap: built in are voc, cityscapes, camvid, "
        "ade20k, or give a colour map file (docs/formats.md, 'Colour maps')"
    )


def test_cityscapes_builtin_names_label_ids_and_voids_its_void_category() -> None:
    ds = read_masks(
        [str(CITY / "gtFine")],
        MaskOptions(kind="instance1000", colormap="cityscapes", images=str(CITY / "leftImg8bit")),
    )
    got: dict[str, set[str]] = {}
    for item in ds.items:
        assert item.raster is not None
        r: IndexRaster = item.raster()
        got[item.fields["file_name"]] = {s.label for s in r.segments.values()}
    # ids 1 (ego vehicle) and 3 (out of roi) are Cityscapes' void category; 27 = truck
    assert got["defaultcity_000001_000031_leftImg8bit.png"] == {"truck"}
    assert got["defaultcity_000001_000019_leftImg8bit.png"] == set()
    assert ds.labels[:3] == ["bicycle", "bridge", "building"] and "ground" not in ds.labels


def test_cityscapes_colour_masks_pair_with_left_images(tmp_path: Path) -> None:
    """gtFine_color PNGs drawn from the real label ids with the Cityscapes colours."""
    colours = {v: c for c, v in cityscapes_colormap().colors.items()}
    masks = tmp_path / "gtFine"
    masks.mkdir()
    for path in sorted((CITY / "gtFine").rglob("*_instanceIds.png")):
        ids = stored(path)
        rgb = np.array([[colours.get(int(v), (0, 0, 0)) for v in row] for row in ids], np.uint8)
        name = path.name.replace("_gtFine_instanceIds", "_gtFine_color")
        Image.fromarray(rgb, "RGB").save(masks / name)
    ds = read_masks(
        [str(masks)], MaskOptions(colormap="cityscapes", images=str(CITY / "leftImg8bit"))
    )
    got = {}
    for item in ds.items:
        assert item.raster is not None
        got[item.fields["file_name"]] = sorted(s.label for s in item.raster().segments.values())
    assert got == {  # the label ids: [3 3 27 27 27], [31 31 12 3 3], [3 3 24 3 3], [3 1 1 3 3]
        "defaultcity_000001_000031_leftImg8bit.png": ["truck"],
        "defaultcity_000001_000032_leftImg8bit.png": ["train", "wall"],
        "defaultcity_000002_000045_leftImg8bit.png": ["person"],
        "defaultcity_000001_000019_leftImg8bit.png": [],
    }


def test_ade20k_colour_mask(tmp_path: Path) -> None:
    # wall (120, 120, 120) = 1, person (150, 5, 61) = 13, other (0, 0, 0) = void
    pixels = [[(120, 120, 120), (150, 5, 61), (0, 0, 0), (140, 140, 140)]]
    path = tmp_path / "ade.png"
    Image.fromarray(np.array(pixels, np.uint8), "RGB").save(path)
    (item,) = list(read_masks([str(path)], MaskOptions(colormap="ade20k")).items)
    assert item.raster is not None
    r = item.raster()
    assert {s.source.location: s.label for s in r.segments.values()} == {
        "colour (120, 120, 120) (class value 1)": "wall",
        "colour (150, 5, 61) (class value 13)": "person",
        "colour (140, 140, 140) (class value 7)": "road",  # road and skyscraper share it
    }
    assert r.values[0, 2] == 0 and void_mask(r) is not None
