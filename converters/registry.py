"""The reader registry: one entry per input format, naming its code lazily.

An entry says what the reader reads, where its function and its options class are (imported
only when used), and what its data becomes in each task type. ``prelabel convert <name>`` is
generated from the entry (its options class's declared fields are the flags, see
:mod:`prelabel.config.declare`) and ``prelabel formats`` prints ``reads`` and ``targets``.
Adding a reader is its module plus one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from prelabel.config.declare import PathKind
from prelabel.errors import UnknownFormatError
from prelabel.model import Dataset

# read_<format>(paths, options) -> Dataset; options is the entry's options class (None:
# defaults); with ``reads_in_workers`` also ``workers=N``
Reader: TypeAlias = Callable[..., Dataset]


@dataclass(frozen=True, slots=True)
class Inputs:
    """The command's positional argument: paths that must exist (files, folders or either)."""

    name: str = "inputs"  # shown as NAME... in the usage line (NAME when not ``many``)
    kind: PathKind = "file"
    many: bool = True  # one or more paths; else exactly one (the reader still gets a list)
    # False: the paths may be left out (``many`` only; the reader gets [] and finds its
    # inputs elsewhere, e.g. the masks a --manifest lists)
    required: bool = True


@dataclass(frozen=True, slots=True)
class ReaderEntry:
    """One reader: what it reads, where its code is, what it supports."""

    name: str  # the format name: ``prelabel convert <name>``
    reads: str  # one line for ``prelabel formats`` and the README's formats table
    read: str  # "module:function" under prelabel.converters: read(paths, options) -> Dataset
    options: str  # "module:Class" under prelabel.converters: a dataclass of declared options
    help: str  # the command's help text (its first sentence is the short help)
    targets: Mapping[str, str]  # task type -> what the reader's data becomes there
    inputs: Inputs = Inputs()
    # the read function takes ``workers=N`` (``prelabel convert --workers N``): it reads in
    # N processes too
    reads_in_workers: bool = False

    def reader(self) -> Reader:
        """The reader function (its module imported now)."""
        reader: Reader = _load(self.read)
        return reader

    def options_class(self) -> type:
        """The reader's options dataclass (its module imported now)."""
        cls: type = _load(self.options)
        return cls


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(f"prelabel.converters.{module}"), name)


TRACKING_TARGETS = {
    "imageannotation": "box per frame",
    "videoannotation": "per-frame list",
    "videoplaybackannotation": "hosted JSON keyed by uuid",
}

ENTRIES = (
    ReaderEntry(
        name="coco",
        reads="COCO dataset files and results lists, CocoVID / YouTube-VIS",
        read="coco.read:read_coco",
        options="coco.common:CocoOptions",
        reads_in_workers=True,
        help="Convert COCO json: dataset files, results lists, CocoVID / YouTube-VIS, "
        "mmtracking.\n\n\b\nA results list needs --images or --image-size. Masks (RLE) go to\n"
        "segmentannotation as they are, or are traced to polygons for imageannotation.",
        targets={
            "imageannotation": "box, polygon, point (keypoints)",
            "segmentannotation": "indexed PNG + labelMapping",
            "videoannotation": "per-frame list",
            "videoplaybackannotation": "hosted JSON keyed by uuid",
        },
    ),
    ReaderEntry(
        name="masks",
        reads="mask PNGs: index, palette, colour, instance, panoptic",
        read="masks.read:read_masks",
        options="masks.read:MaskOptions",
        help="Convert mask PNGs (files or folders): semantic, palette, colour, instance, "
        "panoptic.\n\n\b\nExamples:\n"
        "    prelabel convert masks SegmentationClass/ --images JPEGImages/ \\\n"
        "        --classes class_names.txt -c seg.toml -o out/\n"
        "    prelabel convert masks panoptic/ --panoptic panoptic.json -c seg.toml -o out/\n"
        "    prelabel convert masks --manifest train.txt --colormap camvid -c seg.toml -o out/",
        targets={
            "imageannotation": "polygon (holes kept)",
            "segmentannotation": "indexed PNG + labelMapping",
            "videoannotation": "polygon per frame",
            "videoplaybackannotation": "polygon per frame",
        },
        inputs=Inputs("masks", "any", required=False),
    ),
    ReaderEntry(
        name="yolo",
        reads="Ultralytics YOLO txt: detect, segment, pose, OBB (labels and predictions)",
        read="yolo.read:read_yolo",
        options="yolo.read:YoloOptions",
        help="Convert Ultralytics YOLO txt files (one image task per image).\n\n\b\n"
        "Rows are normalised: class cx cy w h [conf] (detect), class x1 y1 ... [conf]\n"
        "(segment), box + keypoints (pose), class x1 y1 ... x4 y4 [conf] (OBB).\n"
        "Examples:\n"
        "    prelabel convert yolo runs/detect/predict --names data.yaml -c task.toml -o out/\n"
        "    prelabel convert yolo labels/val --images images/val --names data.yaml \\\n"
        "        -c task.toml -o out/",
        targets={
            "imageannotation": "box, polygon, rotated box, point (keypoints)",
            "segmentannotation": "indexed PNG + labelMapping",
        },
        inputs=Inputs("labels_dir", "dir", many=False),
    ),
    ReaderEntry(
        name="mot",
        reads="MOTChallenge txt: ground truth, tracker results, detections",
        read="tracking.mot:read_mot",
        options="tracking.mot:MotOptions",
        help="Convert MOTChallenge txt files (one video task per file).\n\n\b\n"
        "Column meaning is decided by the column count (6-10) and said in the report.\n"
        "Frames are 1-based; every frame 1..seqLength becomes a task frame.",
        targets=TRACKING_TARGETS,
    ),
    ReaderEntry(
        name="kitti",
        reads="KITTI tracking labels and results",
        read="tracking.kitti:read_kitti",
        options="tracking.kitti:KittiOptions",
        help="Convert KITTI tracking txt files (one video task per sequence file).\n\n\b\n"
        "Frames are 0-based; DontCare rows are ignore regions and are reported as dropped.",
        targets=TRACKING_TARGETS,
    ),
)
READERS: dict[str, ReaderEntry] = {entry.name: entry for entry in ENTRIES}


def reader_entry(name: str) -> ReaderEntry:
    """The registry entry for ``name``; unknown names list the choices."""
    try:
        return READERS[name]
    except KeyError:
        raise UnknownFormatError(name, choices=sorted(READERS)) from None


def get_reader(name: str) -> Reader:
    """The reader function for ``name``; unknown names list the choices."""
    return reader_entry(name).reader()
