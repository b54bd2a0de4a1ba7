"""Mask PNGs -> segmentannotation artifacts, and masks -> polygons, with printed figures.

1. Writes N (default 20) realistic 1920x1080 8-bit index masks with 20 classes (blobby regions
   from upsampled noise, a void border) to a temp dir, then times in the same process:

   * floor: ``cv2.imdecode`` of each input PNG + ``cv2.imencode`` of an 8-bit PNG of the same
     size (the same library the reader and writer use) — nothing else;
   * prelabel: ``read_masks`` (header reads, lazy decode, void -> 0 with the void pixels
     kept apart, value check) + ``write_segment_task`` (lookup-table take, pixel counts, PNG
     encode, artifact write, labelMapping, report records). Class 0 ("background") is not a
     task label, so it is read as void too (``--void 0 --void 255``), as a user would.

   Prints images/s of both and the ratio (goal: prelabel within 1.5x of the floor).

2. Masks -> polygons: every segment of the first masks through ``raster_to_instances`` and
   ``prelabel.fit.engine.fit_geometry`` at max_vertices 100; prints masks/s and mean / min IoU.

Run: ``.venv/bin/python benchmarks/bench_masks.py [--images N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from prelabel.config.limits import Bounds, GeometryLimits, TaskLimits
from prelabel.config.load import TaskConfig
from prelabel.config.options import PrelabelOptions
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.geometry.kernels.loader import compiled
from prelabel.geometry.raster import raster_to_instances
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.report import Report
from prelabel.writers.context import WriteContext
from prelabel.writers.segment import write_segment_task

WIDTH, HEIGHT, CLASSES = 1920, 1080, 20


def make_mask(rng: np.random.Generator) -> np.ndarray:
    """Blobby class regions: argmax of smooth noise fields, plus a thin void (255) band."""
    small = rng.random((CLASSES + 1, 27, 48)).astype(np.float32)
    fields = np.stack([cv2.resize(f, (480, 270), interpolation=cv2.INTER_CUBIC) for f in small])
    low = fields.argmax(axis=0).astype(np.uint8)
    mask = cv2.resize(low, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
    mask = cv2.medianBlur(mask, 5)
    mask[:, :6] = 255
    return mask


def write_inputs(folder: Path, count: int, step: int = 1) -> Path:
    """Masks with class values ``step * k`` (k = 1..20); step 1 lets the writer keep the
    values as indices, other steps exercise the lookup table."""
    rng = np.random.default_rng(7)
    masks = folder / "masks"
    masks.mkdir(parents=True)
    table = np.arange(256, dtype=np.uint8)
    table[1 : CLASSES + 1] = np.arange(1, CLASSES + 1) * step
    for i in range(count):
        cv2.imwrite(str(masks / f"img{i:04d}.png"), cv2.LUT(make_mask(rng), table))
    names = ["background"] + [
        f"class{v // step}" if v % step == 0 else f"unused{v}" for v in range(1, CLASSES * step + 1)
    ]
    (folder / "classes.txt").write_text("\n".join(names))
    return masks


def context(out: Path) -> WriteContext:
    labels = frozenset(f"class{i}" for i in range(1, CLASSES + 1))
    config = TaskConfig(
        task_type="segmentannotation",
        params={"project": "bench", "labels": sorted(labels)},
        prelabel=PrelabelOptions(attachment_url="https://cdn/{stem}.jpg"),
        limits=TaskLimits(task_type="segmentannotation", segment_labels=labels),
    )
    return WriteContext(config, Report(), ArtifactStore(out))


def mask_options(classes: Path) -> MaskOptions:
    """Class 0 (background) is no task label: read as void with 255."""
    return MaskOptions(classes=str(classes), void=(0, 255))


def floor_one(path: Path) -> float:
    """Seconds to decode one input PNG and encode an 8-bit PNG of it (cv2)."""
    start = time.perf_counter()
    arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    ok, _ = cv2.imencode(".png", arr)
    assert ok
    return time.perf_counter() - start


def prelabel_one(path: Path, classes: Path, ctx: WriteContext) -> float:
    """Seconds for read_masks + write_segment_task of one mask (artifact written)."""
    start = time.perf_counter()
    (item,) = read_masks([str(path)], mask_options(classes)).items
    write_segment_task(item, ctx)
    return time.perf_counter() - start


def run_folder(masks: Path, classes: Path, out: Path) -> float:
    """Seconds for the streaming run over the whole folder, as the CLI does it."""
    ctx = context(out)
    start = time.perf_counter()
    for item in read_masks([str(masks)], mask_options(classes)).items:
        write_segment_task(item, ctx)
    return time.perf_counter() - start


def bench_segment(root: Path, count: int, repeat: int, step: int) -> None:
    masks = write_inputs(root, count, step)
    files = sorted(masks.glob("*.png"))
    classes = root / "classes.txt"
    floor = [float("inf")] * count
    ours = [float("inf")] * count
    for r in range(repeat):
        ctx = context(root / f"out{r}")
        for i, path in enumerate(files):  # paired per image: both see the same machine state
            floor[i] = min(floor[i], floor_one(path))
            ours[i] = min(ours[i], prelabel_one(path, classes, ctx))
    # per image, best of R (the machine is shared; noise only ever adds time)
    f, o = sum(floor), sum(ours)
    folder = min(run_folder(masks, classes, root / f"folder{r}") for r in range(3))
    path = "values kept as indices" if step == 1 else f"lookup table (values {step}k)"
    print(f"segmentannotation: {count} masks {WIDTH}x{HEIGHT}, {CLASSES} classes, {path}")
    print(f"  floor (cv2 decode + encode):   {count / f:7.1f} images/s")
    print(f"  prelabel read + write:         {count / o:7.1f} images/s")
    print(
        f"  ratio prelabel / floor:        {o / f:7.2f}x  (goal <= 1.5x; per image, best of {repeat})"
    )
    print(f"  streaming folder run (CLI way): {count / folder:6.1f} images/s")


def bench_polygons(root: Path, count: int) -> None:
    masks = sorted((root / "masks").glob("*.png"))[:count]
    ds = read_masks([str(p) for p in masks], mask_options(root / "classes.txt"))
    limits = GeometryLimits(kind="polygon", max_vertices=100)
    bounds = Bounds.for_image(WIDTH, HEIGHT)
    policy = FitPolicy()
    instances = []
    for item in ds.items:
        assert item.raster is not None
        instances.extend(raster_to_instances(item.raster()))
    ious: list[float] = []
    start = time.perf_counter()
    for inst in instances:
        fitted = fit_geometry(inst.geometry, "polygon", limits, bounds, policy)
        if fitted.iou is not None:
            ious.append(fitted.iou)
    elapsed = time.perf_counter() - start
    print(f"masks -> polygons (max_vertices 100): {len(instances)} masks from {count} images")
    print(
        f"  {len(instances) / elapsed:7.1f} masks/s; IoU mean {np.mean(ious):.4f}, min {min(ious):.4f}"
    )


def main() -> None:
    compiled(wait=True)  # steady-state speed: load or compile the kernels first
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--polygon-images", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_segment(root, args.images, args.repeat, 1)
        bench_segment(root / "lut", args.images, args.repeat, 3)
        if args.polygon_images:
            bench_polygons(root, args.polygon_images)


if __name__ == "__main__":
    main()
