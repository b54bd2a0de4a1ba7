"""Items/s through the item-level API (``prelabel.Converter`` on adapter items, in memory)
against the CLI (``prelabel convert coco``), on the same data, in the same run.

Data: the 100 images and 734 real COCO results of
``../shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json`` (images from
``../shared/data/faster_coco_eval/cocoapi/instances_val2014_100.json``), repeated
``--copies`` times under new image ids (default 10: 1,000 items, so start-up does not hide
the per-item cost), twice:

* masks: the RLE masks, traced to polygons under the demo config (``fixtures/demo/task.toml``);
* boxes: each result's box only (its ``bbox``, or its mask's bounding box where it has none;
  no ``segmentation``), so the per-item cost of each path shows rather than mask tracing.

Each path runs end to end as its own subprocess (interpreter start, imports, reading the
JSON, converting; the numba kernel cache is warmed first), best of ``--repeat`` rounds in
which the two take turns (so a change of load hits both):

* CLI: ``python -m prelabel.cli convert coco RESULTS --images DATASET -c CONFIG -o DIR``
  (writes tasks.jsonl and report.json);
* library: a script that parses the same two files, builds one item per image with
  ``prelabel.adapters.from_arrays`` and calls ``Converter.convert`` on each, keeping the
  task bodies in memory (what a model pipeline does).

It also times the two in this process, warm, best of ``--repeat`` (``prelabel.pipeline.convert``
into a temp dir vs ``Converter.convert`` over prebuilt items), which leaves out start-up and
parsing. The in-memory path must not be slower.

Run: ``.venv/bin/python benchmarks/bench_library.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RESULTS = SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json"
DATASET = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
DEMO = REPO / "fixtures/demo/task.toml"
BOX_CONFIG = """task_type = "imageannotation"
[params]
project = "bench"
[params.geometries.box]
min_width = 2
min_height = 2
[prelabel]
attachment_url = "{coco_url}"
"""

# the library path as a script: parse, build items, convert in memory
SCRIPT = """
import sys, orjson
from prelabel import Converter, adapters
results, dataset, config, geometry = sys.argv[1:5]
data = orjson.loads(open(dataset, "rb").read())
names = {c["id"]: c["name"] for c in data["categories"]}
by_image = {}
for r in orjson.loads(open(results, "rb").read()):
    by_image.setdefault(r["image_id"], []).append(r)
converter = Converter(config)
bodies = []
for image in data["images"]:
    rs = by_image.get(image["id"], [])
    arrays = (
        {"masks": [r["segmentation"] for r in rs]}
        if geometry == "masks"
        else {"boxes": [r["bbox"] for r in rs], "box_format": "xywh"}
    )
    item = adapters.from_arrays(
        str(image["id"]), image["width"], image["height"], **arrays,
        labels=[names[r["category_id"]] for r in rs], scores=[r["score"] for r in rs],
        fields={"coco_url": image["coco_url"]},
    )
    bodies.append(converter.convert(item).body)
assert len(bodies) == len(data["images"])
"""


def best_walls(commands: list[list[str]], repeat: int) -> list[float]:
    """Each command's best wall time over ``repeat`` rounds, the commands taking turns."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for cmd, mine in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            mine.append(time.perf_counter() - start)
    return [min(t) for t in times]


def make_data(tmp: Path, copies: int) -> tuple[Path, Path, Path]:
    """(dataset, mask results, box results) with every image ``copies`` times."""
    from pycocotools import mask as mask_utils

    data = orjson.loads(DATASET.read_bytes())
    records = orjson.loads(RESULTS.read_bytes())
    step = max(im["id"] for im in data["images"]) + 1
    data["images"] = [
        {**im, "id": im["id"] + k * step} for k in range(copies) for im in data["images"]
    ]
    masks = [{**r, "image_id": r["image_id"] + k * step} for k in range(copies) for r in records]
    boxes = []
    for r in masks:
        bbox = r.get("bbox") or mask_utils.toBbox(r["segmentation"]).tolist()
        boxes.append({k: v for k, v in r.items() if k != "segmentation"} | {"bbox": bbox})
    paths = tmp / "dataset.json", tmp / "masks.json", tmp / "boxes.json"
    for path, doc in zip(paths, (data, masks, boxes), strict=True):
        path.write_bytes(orjson.dumps(doc))
    return paths


def items_for(geometry: str, dataset: Path, results: Path) -> list[Any]:
    from prelabel import adapters

    data = orjson.loads(dataset.read_bytes())
    names = {c["id"]: c["name"] for c in data["categories"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for r in orjson.loads(results.read_bytes()):
        by_image.setdefault(r["image_id"], []).append(r)
    out = []
    for image in data["images"]:
        rs = by_image.get(image["id"], [])
        arrays: dict[str, Any] = (
            {"masks": [r["segmentation"] for r in rs]}
            if geometry == "masks"
            else {"boxes": [r["bbox"] for r in rs], "box_format": "xywh"}
        )
        out.append(
            adapters.from_arrays(
                str(image["id"]),
                image["width"],
                image["height"],
                **arrays,
                labels=[names[r["category_id"]] for r in rs],
                scores=[r["score"] for r in rs],
                fields={"coco_url": image["coco_url"]},
            )
        )
    return out


def in_process(
    geometry: str, dataset: Path, results: Path, config: Path, repeat: int
) -> tuple[float, float]:
    """(pipeline.convert seconds, Converter.convert seconds), warm, best of ``repeat``."""
    import copy

    from prelabel import Converter, load_config
    from prelabel.converters.coco.common import CocoOptions
    from prelabel.converters.coco.read import read_coco
    from prelabel.pipeline import convert

    cfg = load_config(config)
    items = items_for(geometry, dataset, results)
    cli_times, lib_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            start = time.perf_counter()
            convert(read_coco([str(results)], CocoOptions(images=str(dataset))), cfg, tmp)
            cli_times.append(time.perf_counter() - start)
            batch = copy.deepcopy(items)  # convert filters items in place
            converter = Converter(cfg)
            start = time.perf_counter()
            for item in batch:
                converter.convert(item)
            lib_times.append(time.perf_counter() - start)
    return min(cli_times), min(lib_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        dataset, masks, boxes = make_data(tmp_path, args.copies)
        images = len(orjson.loads(dataset.read_bytes())["images"])
        objects = len(orjson.loads(masks.read_bytes()))
        box_config = tmp_path / "boxes.toml"
        box_config.write_text(BOX_CONFIG)
        script = tmp_path / "library.py"
        script.write_text(SCRIPT)
        py = sys.executable
        warm = [py, "-m", "prelabel.cli", "convert", "coco", str(RESULTS), "--images",
                str(DATASET), "-c", str(DEMO), "-o", str(tmp_path / "warm"), "-q"]  # fmt: skip
        subprocess.run(warm, check=True, env={**os.environ, "PRELABEL_JIT": "wait"})
        print(f"{images} images, {objects} results ({args.copies} copies); best of {args.repeat}")
        print(f"{'data':6} {'path':34} {'seconds':>8} {'items/s':>9}")
        for geometry, results, config in (("masks", masks, DEMO), ("boxes", boxes, box_config)):
            cli = [py, "-m", "prelabel.cli", "convert", "coco", str(results), "--images",
                   str(dataset), "-c", str(config), "-o", str(tmp_path / "out"), "-q"]  # fmt: skip
            lib = [py, str(script), str(results), str(dataset), str(config), geometry]
            t_cli, t_lib = best_walls([cli, lib], args.repeat)
            p_cli, p_lib = in_process(geometry, dataset, results, config, args.repeat)
            rows = [
                ("CLI (subprocess, end to end)", t_cli),
                ("library (subprocess, end to end)", t_lib),
                ("pipeline.convert (in process)", p_cli),
                ("Converter.convert (in process)", p_lib),
            ]
            for name, seconds in rows:
                print(f"{geometry:6} {name:34} {seconds:8.3f} {images / seconds:9.1f}")
            slower = t_lib > t_cli or p_lib > p_cli
            print(
                f"{geometry:6} library items/s / CLI items/s: end to end {t_cli / t_lib:.2f}x, "
                f"in process {p_cli / p_lib:.2f}x" + ("  (SLOWER)" if slower else "")
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
