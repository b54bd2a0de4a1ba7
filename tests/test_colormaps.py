"""Colour maps: the built-in VOC and CamVid maps, files (dataset_meta.json, text, JSON),
and colour decoding with and without a tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from prelabel.converters.masks.colormaps import (
    camvid_colormap,
    decode_colors,
    load_colormap,
    voc_colormap,
    voc_palette,
)
from prelabel.errors import InputError

VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"


def test_voc_palette_matches_the_palette_inside_real_voc_pngs(shared: Path) -> None:
    with Image.open(VOC / "SegmentationClass/2011_000003.png") as im:
        raw = im.getpalette()
    assert raw is not None
    stored = [tuple(raw[i : i + 3]) for i in range(0, 768, 3)]
    assert voc_palette() == stored
    assert voc_palette()[255] == (224, 224, 192) and voc_palette()[15] == (192, 128, 128)


def test_builtin_maps() -> None:
    voc = voc_colormap()
    assert len(voc.colors) == 256 and voc.names[15] == "person"
    assert voc.void == (255,) and voc.colors[(224, 224, 192)] == 255  # background is a class
    camvid = camvid_colormap()
    assert len(camvid.colors) == 32 and camvid.names[camvid.colors[(128, 64, 128)]] == "Road"
    assert camvid.names[camvid.void[0]] == "Void"
    assert load_colormap("VOC").name == "voc"


def test_dataset_meta_json(shared: Path) -> None:
    meta = SHARED / "datumaro/common_semantic_segmentation_dataset/dataset/dataset_meta.json"
    cmap = load_colormap(str(meta))
    assert cmap.names == {
        0: "Void",
        1: "Animal",
        2: "Archway",
        3: "Bicyclist",
        4: "Child",
        5: "Road",
    }
    assert cmap.colors[(128, 64, 128)] == 5 and cmap.void == (0,)


def test_text_and_json_files(tmp_path: Path) -> None:
    text = tmp_path / "label_colors.txt"
    text.write_text("64 128 64\tAnimal\n\n192 0 128 Archway\n")
    assert load_colormap(str(text)).colors == {(64, 128, 64): 0, (192, 0, 128): 1}
    obj = tmp_path / "map.json"
    obj.write_text(json.dumps({"sky": "#8080ff", "road": [128, 64, 128]}))
    cmap = load_colormap(str(obj))
    assert cmap.colors == {(128, 128, 255): 0, (128, 64, 128): 1} and cmap.names[1] == "road"
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"name": "car", "color": [1, 2, 3], "id": 7}]))
    assert load_colormap(str(listed)).names == {7: "car"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 2\n", "line 1: expected 'R G B name', got '1 2'"),
        ('{"a": [1, 2, 300]}', "not a colour map: colour [1, 2, 300] is not three values 0..255"),
        ("{", "not valid JSON"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / ("m.json" if content.startswith("{") else "m.txt")
    path.write_text(content)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_colormap(str(path))


def test_missing_file_lists_builtins(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="built in: voc, cityscapes, camvid, ade20k"):
        load_colormap(str(tmp_path / "nope.json"))


@given(st.lists(st.integers(0, 255), min_size=1, max_size=40))
def test_decode_roundtrips_palette_indices(indices: list[int]) -> None:
    palette = voc_palette()
    rgb = np.array([[palette[i] for i in indices]], dtype=np.uint8)
    out = decode_colors(rgb, voc_colormap(), tolerance=None, path="x.png")
    assert out.values.tolist() == [indices] and out.nearest == 0


@given(st.integers(0, 20), st.integers(-3, 3), st.integers(-3, 3), st.integers(-3, 3))
def test_nearest_within_tolerance(index: int, dr: int, dg: int, db: int) -> None:
    r, g, b = voc_palette()[index]
    noisy = tuple(min(255, max(0, c + d)) for c, d in ((r, dr), (g, dg), (b, db)))
    rgb = np.array([[noisy, voc_palette()[index]]], dtype=np.uint8)
    out = decode_colors(rgb, voc_colormap(), tolerance=6, path="x.png")
    assert out.values.tolist() == [[index, index]]
    assert out.nearest == (0 if noisy == voc_palette()[index] else 1)


def test_cityscapes_and_ade20k_are_built_in() -> None:
    city = load_colormap("cityscapes")
    assert len(city.names) == 34 and city.names[26] == "car" and city.colors[(0, 0, 142)] == 26
    assert city.void == (0, 1, 2, 3, 4, 5, 6)  # the "void" category
    assert city.colors[(0, 0, 0)] == 0 and city.colors[(153, 153, 153)] == 17  # shared: lowest
    ade = load_colormap("ade20k")
    assert len(ade.names) == 151 and ade.names[0] == "other" and ade.void == (0,)
    assert ade.names[1] == "wall" and ade.names[150] == "flag" and ade.names[8] == "bed"
    assert ade.colors[(120, 120, 120)] == 1 and ade.colors[(92, 0, 255)] == 150
    assert len(ade.colors) == 150  # 151 values, road and skyscraper share one grey
    assert ade.colors[(140, 140, 140)] == 7 and ade.names[49] == "skyscraper"


def test_a_json_colour_map_marks_its_void_colour(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(
        json.dumps(
            [
                {"name": "unknown", "color": [0, 0, 0], "void": True},
                {"name": "road", "color": "#804080"},
                {"name": "car", "color": [0, 0, 142], "id": 7},
            ]
        )
    )
    cmap = load_colormap(str(path))
    assert cmap.names == {0: "unknown", 1: "road", 7: "car"} and cmap.void == (0,)
    assert cmap.colors == {(0, 0, 0): 0, (128, 64, 128): 1, (0, 0, 142): 7}
