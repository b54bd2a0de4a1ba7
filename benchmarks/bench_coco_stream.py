"""Peak memory and throughput converting a ~1 GB COCO results list (streamed, grouped by image).

Builds the file by replicating the real cocoapi fake results (segm RLE + bbox, 1468 results
per copy) under new image ids, with a matching COCO dataset file as the image source, then
converts it in a subprocess and prints peak RSS and objects/s. Baselines in the same run:
the peak RSS of ``json.load`` on the same file (what a non-streaming reader needs before it
has done anything), and the file size.

    .venv/bin/python benchmarks/bench_coco_stream.py               # ~1 GB, full pipeline
    .venv/bin/python benchmarks/bench_coco_stream.py --size-mb 100 --mode reader
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GT = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
SEGM = SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json"
BBOX = SHARED / "cocoapi/results/instances_val2014_fakebbox100_results.json"
OFFSET = 10_000_000  # new image id = original id + group * OFFSET (COCO ids are < 600000)

# every child reports its own peak RSS at exit (RUSAGE_CHILDREN would be a max over children)
PEAK = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('PEAK_RSS_KB', "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))\n"
)
CLI = "import runpy, sys\nsys.argv[0] = 'prelabel'\nrunpy.run_module('prelabel.cli', run_name='__main__')\n"
READER_ONLY = """
import sys, time
from prelabel.converters.coco.read import read_coco
t = time.perf_counter()
ds = read_coco([sys.argv[1]], images=sys.argv[2])
n = sum(len(item.instances) for item in ds.items)
print(n, time.perf_counter() - t)
"""
JSON_LOAD = "import json, sys; json.load(open(sys.argv[1]))"


def generate(out: Path, size_mb: float, per_image: int) -> tuple[Path, Path, int, int]:
    """Write results.json (~size_mb) and images.json; return paths, result and image counts."""
    records = json.loads(SEGM.read_text()) + json.loads(BBOX.read_text())
    gt = json.loads(GT.read_text())
    chunk = b",".join(orjson.dumps(r) for r in records)
    copies = max(1, int(size_mb * 2**20 / len(chunk)))
    results, images = out / "results.json", out / "images.json"
    with results.open("wb") as f:
        f.write(b"[")
        for k in range(copies):
            offset = (k // per_image + 1) * OFFSET
            if k:
                f.write(b",")
            f.write(
                b",".join(orjson.dumps({**r, "image_id": r["image_id"] + offset}) for r in records)
            )
        f.write(b"]")
    groups = (copies - 1) // per_image + 1
    imgs = [
        {**img, "id": img["id"] + (g + 1) * OFFSET, "file_name": f"g{g}/{img['file_name']}"}
        for g in range(groups)
        for img in gt["images"]
    ]
    images.write_bytes(
        orjson.dumps({"images": imgs, "categories": gt["categories"], "annotations": []})
    )
    return results, images, copies * len(records), len(imgs)


def box_config(out: Path) -> Path:
    """imageannotation with boxes for every COCO category (masks become their boxes)."""
    names = [c["name"] for c in json.loads(GT.read_text())["categories"]]
    config = {
        "task_type": "imageannotation",
        "params": {
            "project": "bench",
            "instruction": "fix",
            "geometries": {"box": {"objects_to_annotate": names}},
        },
        "prelabel": {"attachment_url": "https://cdn/{file_name}"},
    }
    path = out / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_child(cmd: list[str]) -> tuple[float, float, str]:
    """Run one subprocess; return (seconds, peak RSS in MB of that child, stdout)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    kb = [
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")
    ]
    return seconds, kb[-1] / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the generated file")
    parser.add_argument(
        "--per-image", type=int, default=10, help="copies sharing one set of image ids"
    )
    parser.add_argument("--mode", choices=["pipeline", "reader"], default="pipeline")
    parser.add_argument("--no-baseline", action="store_true", help="skip the json.load baseline")
    parser.add_argument("--workdir", help="where to write the files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        results, images, count, image_count = generate(out, args.size_mb, args.per_image)
        size = results.stat().st_size / 2**20
        print(
            f"generated {size:.0f} MB: {count} results on {image_count} images "
            f"in {time.perf_counter() - t:.1f} s ({results})"
        )
        py = sys.executable
        if args.mode == "reader":
            cmd = [py, "-c", PEAK + READER_ONLY, str(results), str(images)]
        else:
            cmd = [
                py,
                "-c",
                PEAK + CLI,
                "convert",
                "coco",
                str(results),
                "--images",
                str(images),
                "--config",
                str(box_config(out)),
                "--out",
                str(out / "out"),
                "--quiet",
                "--json",
            ]
        seconds, peak, stdout = run_child(cmd)
        print(
            f"{args.mode}: {seconds:.1f} s, {count / seconds:,.0f} objects/s, "
            f"peak RSS {peak:.0f} MB ({peak / size:.2f} x file size)"
        )
        if args.mode == "pipeline":
            totals = json.loads(stdout)["totals"]
            print(f"  totals: {totals}")
        if not args.no_baseline:
            _, load_peak, _ = run_child([py, "-c", PEAK + JSON_LOAD, str(results)])
            print(
                f"baseline json.load of the same file: peak RSS {load_peak:.0f} MB "
                f"({load_peak / peak:.1f} x the streaming conversion)"
            )
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
