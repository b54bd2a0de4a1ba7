"""A UTF-8 byte order mark (as Windows editors write one) is read as no mark by every reader
and every file a reader or the config takes (issue 17: COCO refused one, MOT and KITTI took
it): each real file below gives the same result with a BOM in front."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, SHARED

from prelabel.config.labelmap import load_label_map
from prelabel.config.load import load_config
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco
from prelabel.converters.masks.classes import load_classes
from prelabel.converters.masks.colormaps import load_colormap
from prelabel.converters.masks.panoptic import load_panoptic
from prelabel.converters.tracking.kitti import read_kitti
from prelabel.converters.tracking.mot import MotOptions, read_mot
from prelabel.model import Dataset

GT100 = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
RESULTS = SHARED / "cocoapi/results/instances_val2014_fakebbox100_results.json"
META = SHARED / "datumaro/common_semantic_segmentation_dataset/dataset/dataset_meta.json"
PANOPTIC = SHARED / "panopticapi/sample_data/panoptic_examples.json"


def summary(ds: Dataset) -> list[tuple[str, int, list[str]]]:
    """Each item's key, object count and labels (what a BOM could change)."""
    out = []
    for it in ds.items:
        if it.tracks is not None:  # a tracking file's rows
            labels = [it.tracks.labels[c] for c in it.tracks.label.tolist()]
        else:
            labels = [i.label for i in it.iter_instances()]
        out.append((it.key, len(labels), sorted(labels)))
    return out


def results(path: Path) -> Any:
    return summary(read_coco([str(path)], CocoOptions(images=str(GT100))))


def results_images(path: Path) -> Any:
    return summary(read_coco([str(RESULTS)], CocoOptions(images=str(path))))


def label_map(path: Path) -> Any:
    return load_label_map(path)


CASES: dict[str, tuple[Path, Callable[[Path], Any]]] = {
    "coco dataset": (GT100, lambda p: summary(read_coco([str(p)]))),
    "coco results (streamed)": (RESULTS, results),
    "coco --images dataset": (GT100, results_images),
    "mot": (SHARED / "motmetrics/data/TUD-Campus/test.txt",
            lambda p: summary(read_mot([str(p)], MotOptions(fps=25)))),
    "kitti": (FIXTURES / "kitti/label_02/0000.txt", lambda p: summary(read_kitti([str(p)]))),
    "masks classes (json)": (META, lambda p: load_classes(str(p)).names),
    "masks colour map (json)": (META, lambda p: load_colormap(str(p)).names),
    "masks panoptic json": (PANOPTIC, lambda p: sorted(load_panoptic(str(p)).segments)),
    "config (toml)": (FIXTURES / "configs/tracking_video.toml", lambda p: load_config(p, {}).params),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bom_is_read_as_no_bom(case: str, tmp_path: Path) -> None:
    source, read = CASES[case]
    marked = tmp_path / source.parent.name / source.name  # the same sequence name
    marked.parent.mkdir()
    marked.write_bytes(codecs.BOM_UTF8 + source.read_bytes())
    assert read(marked) == read(source)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_label_map_with_a_bom(tmp_path: Path, suffix: str) -> None:
    text = '{"pedestrian": "person", "car": null}' if suffix == ".json" else 'pedestrian = "person"'
    plain, marked = tmp_path / f"plain{suffix}", tmp_path / f"marked{suffix}"
    plain.write_text(text)
    marked.write_bytes(codecs.BOM_UTF8 + text.encode())
    assert label_map(marked) == label_map(plain)
