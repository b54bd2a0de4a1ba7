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


FUZZ = FIXTURES / "fuzz"
SEGMENT = str(FUZZ / "configs/segmentannotation.toml")
VIDEO = str(FUZZ / "configs/videoannotation.toml")
CLASSES = str(FUZZ / "masks/classes.txt")


def _masks(tmp: Path) -> str:
    folder = tmp / "masks"
    folder.mkdir()
    (folder / "0001.png").write_bytes((FUZZ / "masks/semantic/0001.png").read_bytes())
    return str(folder)


def _manifest(tmp: Path) -> list[str]:
    """The masks folder and an image beside it (a manifest names them relative to itself)."""
    _masks(tmp)
    (tmp / "images").mkdir()
    (tmp / "images/0001.png").write_bytes((FUZZ / "masks/semantic/0001.png").read_bytes())
    return ["masks", "--manifest", "{bad}", "--classes", CLASSES, "-c", SEGMENT]


def _seq(tmp: Path) -> str:
    seq = tmp / "seq01"
    (seq / "gt").mkdir(parents=True)
    (seq / "gt/gt.txt").write_bytes((FUZZ / "mot/seq01/gt/gt.txt").read_bytes())
    return str(seq / "gt/gt.txt")


# (the file the bad byte goes in, its good text, the CLI arguments; {bad} = that file)
TEXT_INPUTS: dict[str, tuple[str, bytes, Callable[[Path], list[str]]]] = {
    "classes": ("classes.txt", b"background\nroad\ncar\n",
                lambda t: ["masks", _masks(t), "--classes", "{bad}", "-c", SEGMENT]),
    "colour map": ("colors.txt", b"0 0 0 background\n128 0 0 road\n0 128 0 car\n",
                   lambda t: ["masks", _masks(t), "--colormap", "{bad}", "-c", SEGMENT]),
    "csv manifest": ("manifest.csv", b"mask\nmasks/0001.png\n",
                     _manifest),
    "text manifest": ("manifest.txt", b"images/0001.png masks/0001.png\n",
                      _manifest),
    "seqinfo.ini": ("seq01/seqinfo.ini", (FUZZ / "mot/seq01/seqinfo.ini").read_bytes(),
                    lambda t: ["mot", _seq(t), "--label", "person", "-c", VIDEO]),
    "mot file": ("gt.txt", (FUZZ / "mot/seq01/gt/gt.txt").read_bytes(),
                 lambda t: ["mot", "{bad}", "--image-size", "320x240", "--fps", "10",
                            "--label", "person", "-c", VIDEO]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TEXT_INPUTS))
def test_a_text_input_that_is_not_utf8_is_exit_3_naming_it(case: str, tmp_path: Path) -> None:
    """Found by the fuzz suite: a seqinfo.ini byte that is not UTF-8 was exit 1 (a decoder's
    traceback); every text input now goes through one reader of text files."""
    from click.testing import CliRunner

    from prelabel.cli.main import cli

    name, good, args = TEXT_INPUTS[case]
    bad = tmp_path / name
    bad.parent.mkdir(parents=True, exist_ok=True)
    argv = [a.replace("{bad}", str(bad)) for a in args(tmp_path)]
    out = ["convert", *argv, "-o", str(tmp_path / "out"), "-q"]
    bad.write_bytes(good)
    assert CliRunner().invoke(cli, out).exit_code == 0, case
    bad.write_bytes(good[:1] + b"\xc1" + good[1:])
    result = CliRunner().invoke(cli, out)
    assert result.exit_code == 3, result.output
    assert f"{bad}: not UTF-8 text (byte 1)" in result.output
