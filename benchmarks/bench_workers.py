"""Masks -> polygons in worker processes and on a local Ray: objects/s, and Ray's overhead.

Data: the 734 real COCO RLE masks of
``../shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json`` on the 100
images of ``../shared/data/faster_coco_eval/cocoapi/instances_val2014_100.json``, repeated
``--copies`` times under new image ids (default 40: 29,360 masks on 4,000 images; 734 masks
convert in about a second, about what starting a worker costs, so one copy would measure
start-up; at 10 copies start-up still hid most of the second worker's gain). Config: imageannotation, one polygon geometry for every COCO category,
``max_vertices = 100`` (every mask is traced and fitted to the budget).

Each run is one subprocess, timed end to end (interpreter start, imports, reading the JSON,
converting, writing the output directory); the numba kernel cache is warmed first. Over
``--repeat`` rounds, the runs take turns (the order reversed every other round) so a change
of load hits all of them:

* ``prelabel convert coco MASKS --images DATASET -c CONFIG -o DIR --workers 1`` and
  ``--workers 2`` (checked: the two directories are byte for byte equal);
* a Ray script: ``ray.init(num_cpus=2)`` (a local two-CPU cluster, no dashboard), then
  two pipelines, each ``map_batches(prelabel.ray.ToTasks, concurrency=2, num_cpus=0.5)``
  into ``write_datasink(prelabel.ray.TaskSink(DIR))`` as the README shows:

  - ``items``: the same COCO reader's items (``prelabel.ray.read_items(read_coco(...))``),
    so the bodies must equal the CLI's byte for byte;
  - ``arrays``: rows of model outputs (``key``, ``width``, ``height``, ``fields``,
    ``masks`` as RLE dicts, ``labels``, ``scores``) built from the same JSON in the driver,
    what a batch-inference pipeline hands over (annotation uuids differ: they derive from
    each object's source; everything else must be equal);

  then the ``items`` pipeline once more in the same session (Ray's worker processes now
  started). The script reports its own split: ``import ray`` + ``ray.init``, each pipeline,
  ``ray.shutdown``.

Ray's overhead is then printed two ways against ``--workers 2``: with start-up (one Ray
job end to end: the script's wall time less its second and third pipelines, against the
whole CLI run) and without (the first ``items``
pipeline alone, and the warm one, against the whole CLI run, which still pays its own
interpreter start and worker spawn).

Run: ``.venv/bin/python benchmarks/bench_workers.py [--repeat 2] [--copies 10] [--no-ray]``
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
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

# the Ray run, in its own interpreter: argv = masks, dataset, config, out dir, options JSON;
# prints one JSON line of its timings
RAY_SCRIPT = """
import json, sys, time
start = time.perf_counter()
masks, dataset, config, out, opts = sys.argv[1:6]
opts = json.loads(opts)
import orjson, ray
import prelabel.ray
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco

def array_rows():
    data = orjson.loads(open(dataset, "rb").read())
    names = {c["id"]: c["name"] for c in data["categories"]}
    by_image = {}
    for r in orjson.loads(open(masks, "rb").read()):
        by_image.setdefault(r["image_id"], []).append(r)
    rows = []
    for image in data["images"]:
        rs = by_image.get(image["id"], [])
        rows.append({"key": str(image["id"]), "width": image["width"],
                     "height": image["height"], "fields": {"coco_url": image["coco_url"]},
                     "masks": [r["segmentation"] for r in rs],
                     "labels": [names[r["category_id"]] for r in rs],
                     "scores": [r["score"] for r in rs]})
    return rows

def pipeline(name, target):
    t = time.perf_counter()
    if name == "items":
        ds = prelabel.ray.read_items(read_coco([masks], CocoOptions(images=dataset)),
                                     override_num_blocks=opts["blocks"])
    else:
        ds = ray.data.from_items(array_rows(), override_num_blocks=opts["blocks"])
    ds = ds.map_batches(prelabel.ray.ToTasks, fn_constructor_kwargs={"config": config},
                        concurrency=2, num_cpus=0.5, batch_size=opts["batch_size"])
    ds.write_datasink(prelabel.ray.TaskSink(target, format="coco",
                                            rows_per_shard=opts["rows_per_shard"]))
    return time.perf_counter() - t

import_seconds = time.perf_counter() - start
t = time.perf_counter()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
context = ray.data.DataContext.get_current()
context.execution_options.preserve_order = True
context.enable_progress_bars = False
init_seconds = time.perf_counter() - t
figures = {"import": import_seconds, "init": init_seconds}
figures["items"] = pipeline("items", out + "/items")
figures["arrays"] = pipeline("arrays", out + "/arrays")
figures["items_warm"] = pipeline("items", out + "/items_warm")
t = time.perf_counter()
ray.shutdown()
figures["shutdown"] = time.perf_counter() - t
print(json.dumps(figures))
"""


def make_data(tmp: Path, copies: int) -> tuple[Path, Path, int, int]:
    """(dataset, masks, image count, mask count) with every image ``copies`` times."""
    data = orjson.loads(DATASET.read_bytes())
    records = orjson.loads(RESULTS.read_bytes())
    step = max(im["id"] for im in data["images"]) + 1
    data["images"] = [
        {**im, "id": im["id"] + k * step} for k in range(copies) for im in data["images"]
    ]
    masks = [{**r, "image_id": r["image_id"] + k * step} for k in range(copies) for r in records]
    dataset, results = tmp / "dataset.json", tmp / "masks.json"
    dataset.write_bytes(orjson.dumps(data))
    results.write_bytes(orjson.dumps(masks))
    return dataset, results, len(data["images"]), len(masks)


def polygon_config(tmp: Path) -> Path:
    names = [c["name"] for c in orjson.loads(DATASET.read_bytes())["categories"]]
    config = {
        "task_type": "imageannotation",
        "params": {
            "project": "bench",
            "instruction": "fix",
            "geometries": {"polygon": {"objects_to_annotate": names, "max_vertices": 100}},
        },
        "prelabel": {"attachment_url": "{coco_url}"},
    }
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    return path


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def cli_cmd(workers: int, masks: Path, dataset: Path, config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "prelabel.cli", "convert", "coco", str(masks), "--images",
            str(dataset), "-c", str(config), "-o", str(out), "-q", "--workers", str(workers)]  # fmt: skip


def same_dirs(a: Path, b: Path) -> bool:
    names = ["tasks.jsonl", "report.json"]
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def without_uuids(body: dict[str, Any]) -> dict[str, Any]:
    annotations = [
        {k: v for k, v in a.items() if k != "uuid"} for a in body["hypothesis"]["annotations"]
    ]
    return {**body, "hypothesis": {**body["hypothesis"], "annotations": annotations}}


def check_ray(tmp: Path, cli_out: Path) -> list[str]:
    """The Ray directories against the CLI's: bodies, unique_ids, report totals."""
    from prelabel.output.report import read_report
    from prelabel.output.tasks import iter_tasks

    theirs = [t.body for t in iter_tasks(cli_out)]
    totals = read_report(cli_out)["totals"]
    lines = []
    for name in ("items", "arrays", "items_warm"):
        ours = [t.body for t in iter_tasks(tmp / "ray" / name)]
        if name == "arrays":
            same = [without_uuids(b) for b in ours] == [without_uuids(b) for b in theirs]
            what = "bodies (annotation uuids aside)"
        else:
            same, what = ours == theirs, "bodies"
        same_totals = read_report(tmp / "ray" / name)["totals"] == totals
        lines.append(
            f"  ray {name:10} {len(ours)} tasks; {what} equal to the CLI's: "
            f"{'yes' if same else 'NO'}; report totals equal: {'yes' if same_totals else 'NO'}"
        )
    return lines


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def rounds(args: argparse.Namespace, tmp: Path, data: tuple[Path, Path, Path]) -> dict[str, Any]:
    dataset, masks, config = data
    script = tmp / "ray_run.py"
    script.write_text(RAY_SCRIPT)
    opts = json.dumps({"blocks": args.blocks, "batch_size": args.batch_size,
                       "rows_per_shard": args.rows_per_shard})  # fmt: skip
    kinds = ["w1", "w2"] + ([] if args.no_ray else ["ray"])
    walls: dict[str, list[float]] = {k: [] for k in kinds}
    splits: list[dict[str, float]] = []
    for number in range(args.repeat):
        order = kinds if number % 2 == 0 else kinds[::-1]
        print(f"round {number + 1} (load average {os.getloadavg()[0]:.2f}): {', '.join(order)}")
        for kind in order:
            out = tmp / kind
            shutil.rmtree(out, ignore_errors=True)
            if kind == "ray":
                out.mkdir()
                cmd = [sys.executable, str(script), str(masks), str(dataset), str(config),
                       str(out), opts]  # fmt: skip
            else:
                cmd = cli_cmd(int(kind[1:]), masks, dataset, config, out)
            seconds, stdout = timed(cmd)
            walls[kind].append(seconds)
            if kind == "ray":
                splits.append(json.loads(stdout.strip().splitlines()[-1]))
            print(f"  {kind:4} {seconds:6.2f} s", flush=True)
        print(f"  --workers 2 byte-identical to --workers 1: "
              f"{'yes' if same_dirs(tmp / 'w1', tmp / 'w2') else 'NO'}")  # fmt: skip
        if not args.no_ray:
            print("\n".join(check_ray(tmp, tmp / "w2")))
    return {"walls": walls, "splits": splits}


def report(figures: dict[str, Any], objects: int) -> None:
    walls, splits = figures["walls"], figures["splits"]
    print("summary (ranges over rounds; CLI times end to end, interpreter start included):")
    for kind in ("w1", "w2"):
        rates = [objects / s for s in walls[kind]]
        print(f"  --workers {kind[1]}: {spread(walls[kind])} s, "
              f"{min(rates):,.0f}-{max(rates):,.0f} objects/s")  # fmt: skip
    ratios = [a / b for a, b in zip(walls["w1"], walls["w2"], strict=True)]
    print(
        f"  --workers 2 / --workers 1 objects/s, per round: {', '.join(f'{r:.2f}x' for r in ratios)}"
    )
    if not splits:
        return
    w2 = walls["w2"]
    start = [s["import"] + s["init"] for s in splits]
    print(f"  ray script end to end: {spread(walls['ray'])} s (import ray + prelabel.ray "
          f"{spread([s['import'] for s in splits])} s, ray.init {spread([s['init'] for s in splits])} s, "
          f"shutdown {spread([s['shutdown'] for s in splits])} s)")  # fmt: skip
    for name in ("items", "arrays", "items_warm"):
        seconds = [s[name] for s in splits]
        print(f"  ray pipeline {name:10}: {spread(seconds)} s, "
              f"{objects / max(seconds):,.0f}-{objects / min(seconds):,.0f} objects/s")  # fmt: skip
    # one job, end to end: the script's wall time less its second and third pipelines
    one_job = [r - s["arrays"] - s["items_warm"] for r, s in zip(walls["ray"], splits, strict=True)]
    with_start = [r / w for r, w in zip(one_job, w2, strict=True)]
    cold = [s["items"] / w for s, w in zip(splits, w2, strict=True)]
    warm = [s["items_warm"] / w for s, w in zip(splits, w2, strict=True)]
    print("  Ray time / --workers 2 time, per round:")
    print(f"    with start-up (one Ray job end to end: interpreter, import, ray.init, the items "
          f"pipeline, shutdown; vs the whole CLI run): {', '.join(f'{x:.2f}x' for x in with_start)}"
          f" (+{spread([r - w for r, w in zip(one_job, w2, strict=True)])} s)")  # fmt: skip
    print(
        f"    without start-up, first pipeline (items) vs whole CLI run: {', '.join(f'{x:.2f}x' for x in cold)}"
    )
    print(
        f"    without start-up, warm pipeline (items again) vs whole CLI run: {', '.join(f'{x:.2f}x' for x in warm)}"
    )
    print(f"    Ray start-up alone (import + ray.init): {spread(start)} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=2, help="rounds of runs taking turns")
    parser.add_argument("--copies", type=int, default=40, help="copies of the 100 images")
    parser.add_argument("--no-ray", action="store_true", help="only --workers 1 and 2")
    parser.add_argument("--blocks", type=int, default=40, help="Ray blocks of input rows")
    parser.add_argument("--batch-size", type=int, default=16, help="rows per Ray batch")
    parser.add_argument("--rows-per-shard", type=int, default=250, help="TaskSink shard size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dataset, masks, images, objects = make_data(tmp, args.copies)
        config = polygon_config(tmp)
        warm = "from prelabel.fit.warmup import warm_up; warm_up()"
        subprocess.run([sys.executable, "-c", warm], check=True,
                       env={**os.environ, "PRELABEL_JIT": "wait"})  # fmt: skip
        print(f"{objects} masks on {images} images ({args.copies} copies of the 734 real masks "
              f"so worker start-up does not dominate); polygons, max_vertices 100; "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        figures = rounds(args, tmp, (dataset, masks, config))
        report(figures, objects)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
