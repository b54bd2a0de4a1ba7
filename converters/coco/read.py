"""COCO reader: dataset files, results lists, CocoVID / YouTube-VIS and mmtracking results.

Kinds (detected from the file, stated in ``Dataset.notes``):

* **dataset file** ``{"images", "annotations", "categories"}`` -> one image item per image,
  including images with no annotations (tasks to label from scratch). Loaded whole.
* **results list** ``[{"image_id", "category_id", "bbox" | "segmentation" | "keypoints",
  "score"}]`` -> parsed by orjson a megabyte at a time and spilled to a temporary SQLite
  file grouped by image, so a 1 GB file never sits in memory; each image's item is built
  from its spilled results where it is converted (a worker, with ``--workers N``). It
  needs an image source (``images``):

  - a COCO dataset file: sizes, file names and category names; every image of it becomes an
    item (``only_with_results=True`` keeps only images that have results);
  - a folder of images: sizes from file headers (Pillow, no decoding); the image id of a file
    is the **last run of digits in its stem** (``COCO_val2014_000000000042.jpg`` -> 42,
    ``000000139099.jpg`` -> 139099); files without digits are ignored; every image becomes an item;
  - ``image_size=(width, height)``: every result id is accepted; items are the ids that
    have results, in order of first appearance.

  Without a dataset file, labels are the category ids as text (``"1"``); rename them with a
  label map (``{"1": "person"}``) or give ``keypoint_schema=`` a COCO file naming them.
* **CocoVID / YouTube-VIS** (``videos``, images with ``video_id``/``frame_id``, annotations
  with ``instance_id``) -> one video item per video, frames in ``frame_id`` order.
* **mmtracking results** (``track_bboxes`` / ``track_masks``) -> video items; ``images=`` the
  CocoVID file the tracker ran on (frame *i* of the results = the *i*-th image in video, then
  ``frame_id`` order), or ``image_size=`` for one video.

Geometry: one instance per object with its richest geometry, Mask > Polygon > Box (RLE in
any form -> Mask; polygon parts -> one multi-part Polygon; else bbox). Keypoints become one
Point instance per keypoint labelled with the keypoint name, attributes ``instance`` (the
object's id) and ``category``; see :mod:`prelabel.converters.coco.geometry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path

from prelabel.converters.coco.common import CocoOptions, CocoRun, first_char, load_json
from prelabel.converters.coco.common import keypoint_schema as load_keypoint_schema
from prelabel.converters.coco.dataset import read_dataset_file
from prelabel.errors import InputError
from prelabel.model import Dataset, Dropped, Item, ItemRecipe


def read_coco(paths: list[str], options: CocoOptions | None = None, *, workers: int = 1) -> Dataset:
    """Read COCO dataset files, results lists, CocoVID files or mmtracking results.

    Args:
        paths: input files; several are read one after the other into one dataset.
        options: the reader's options (:class:`~prelabel.converters.coco.common.CocoOptions`:
            image source, image size, keypoint threshold and schema, fps); defaults if None.
        workers: parse and group a big results list in this many processes
            (``prelabel convert --workers N``; the groups are the ones one process makes).

    Returns:
        A dataset whose ``items`` is a generator (consume once); ``dropped`` fills as it runs.

    Raises:
        InputError: an unreadable file, unknown kind, or a bad object (with its location).

    Example:
        >>> read_coco(["results.json"], CocoOptions(images="instances.json"))  # doctest: +SKIP
    """
    if not paths:
        raise InputError("no input file given")
    options = options or CocoOptions()
    schema = {}
    if options.keypoint_schema:
        schema = load_keypoint_schema(options.keypoint_schema, options.keypoint_threshold)
    given = {f.name: getattr(options, f.name) for f in fields(options)}
    opts = CocoRun(**given, schema=schema, workers=workers)
    dropped: list[Dropped] = []
    parts = [_read_one(str(p), opts, dropped) for p in paths]
    recipes = [part.recipes for part in parts]
    return Dataset(
        format="coco",
        items=_chain(parts),
        # recipes when every file gives them (results lists): items ship as small bytes
        recipes=_chain_recipes(recipes) if all(r is not None for r in recipes) else None,
        labels=list(dict.fromkeys(label for part in parts for label in part.labels)),
        dropped=dropped,
        notes=[note for part in parts for note in part.notes],
        kinds={kind for part in parts for kind in part.kinds},
    )


def _chain(parts: list[Dataset]) -> Iterator[Item]:
    for part in parts:
        yield from part.items


def _chain_recipes(parts: list[Iterable[ItemRecipe] | None]) -> Iterator[ItemRecipe]:
    for part in parts:
        yield from part or ()


def _read_one(path: str, opts: CocoRun, dropped: list[Dropped]) -> Dataset:
    if not Path(path).is_file():
        raise InputError("no such file", path=path)
    start = first_char(path)
    if start == "[":
        from prelabel.converters.coco.results import read_results

        return read_results(path, opts, dropped)
    if start != "{":
        raise InputError(
            "not a COCO JSON file (expected a list or an object)", path=path, location="line 1"
        )
    data = load_json(path)
    if "track_bboxes" in data or "track_masks" in data:
        from prelabel.converters.coco.video import read_track_results

        return read_track_results(path, data, opts, dropped)
    if "videos" in data:
        from prelabel.converters.coco.video import read_cocovid

        return read_cocovid(path, data, opts, dropped)
    if "images" in data:
        return read_dataset_file(path, data, opts, dropped)
    keys = ", ".join(sorted(data)[:8]) or "none"
    raise InputError(
        f"not a COCO file: expected images/annotations/categories, videos, or track_bboxes; "
        f"top-level keys: {keys}",
        path=path,
    )
