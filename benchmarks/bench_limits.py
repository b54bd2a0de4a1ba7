"""Limits-engine throughput and fidelity on the 734 real COCO RLE masks.

For ``max_vertices`` 32 and 100 (bounds = image, holes keyholed, one annotation per part):
polygons/s and objects/s of ``fit_geometry(mask, "polygon", ...)``, mean/min IoU of the
fitted polygons against the source masks, and the time split between tracing (crop decode +
pixel-edge trace) and fitting (budget search, keyhole, IoU). Also the throughput on input
polygons (the traced ones, refitted from the model as a reader of polygon files would hand
them over), and for boxes. The machine is shared: times are the best of ``--repeat`` runs and
CPU time of this process (``time.process_time``); the load average is printed beside them.

Run: ``.venv/bin/python benchmarks/bench_limits.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.geometry import rle, trace
from prelabel.geometry.kernels.loader import compiled
from prelabel.model import Geometry, Mask

RESULTS = (
    Path(__file__).resolve().parents[2]
    / "shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json"
)
POLICY = FitPolicy(holes="keyhole", parts="each")


def load_masks() -> list[Mask]:
    records = orjson.loads(RESULTS.read_bytes())
    return [Mask(r["segmentation"]["counts"].encode(), *r["segmentation"]["size"]) for r in records]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU time of ``repeat`` runs and the last result."""
    t_best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        t_best = min(t_best, time.process_time() - start)
    return t_best, out


def fit_all(
    items: list[tuple[Geometry, Bounds]], target: str, limits: GeometryLimits
) -> list[Fitted]:
    return [fit_geometry(g, target, limits, b, POLICY) for g, b in items]  # type: ignore[arg-type]


def trace_all(masks: list[Mask]) -> list[Any]:
    return [trace.trace_parts(rle.decode_cropped(m)[0]) for m in masks]


def report_budget(
    items: list[tuple[Geometry, Bounds]], budget: int, t_trace: float, repeat: int
) -> None:
    n = len(items)
    limits = GeometryLimits("polygon", max_vertices=budget)
    t_fit, fitted = best(lambda: fit_all(items, "polygon", limits), repeat)
    ious = np.array([f.iou for f in fitted], dtype=float)
    polys = sum(len(f.geometries) for f in fitted)
    worst = max(len(g.parts[0].exterior) for f in fitted for g in f.geometries)  # type: ignore[union-attr]
    dropped = sum(f.dropped is not None for f in fitted)
    print(
        f"max_vertices {budget:3d}: {polys / t_fit:7.0f} polygons/s  {n / t_fit:6.0f} objects/s  "
        f"mean IoU {ious.mean():.4f}  min IoU {ious.min():.4f}  ({polys} polygons, "
        f"largest {worst} vertices, {dropped} dropped)"
    )
    print(
        f"                  split: trace {t_trace / t_fit:5.1%}, fit (budget, keyhole, IoU) "
        f"{1 - t_trace / t_fit:5.1%} of {t_fit / n * 1e6:.0f} us/object"
    )
    traced = [(trace.mask_to_polygon(g), b) for g, b in items if isinstance(g, Mask)]
    t_poly, _ = best(lambda: fit_all(traced, "polygon", limits), repeat)
    refit = [(g, b) for f, (_, b) in zip(fitted, items, strict=True) for g in f.geometries]
    t_refit, _ = best(lambda: fit_all(refit, "polygon", limits), repeat)
    print(
        f"                  input polygons (traced, with holes): {len(traced) / t_poly:6.0f} "
        f"objects/s; already-fitted polygons: {len(refit) / t_refit:6.0f} polygons/s"
    )


def main() -> int:
    compiled(wait=True)  # steady-state speed: load or compile the kernels first
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    masks = load_masks()
    items: list[tuple[Geometry, Bounds]] = [(m, Bounds.for_image(m.width, m.height)) for m in masks]
    n = len(masks)
    print(f"{n} real RLE masks; best of {args.repeat}; CPU time; load {os.getloadavg()[0]:.2f}")
    t_trace, _ = best(lambda: trace_all(masks), args.repeat)
    print(f"trace only (crop decode + pixel-edge trace): {t_trace / n * 1e6:7.0f} us/object")
    for budget in (32, 100):
        report_budget(items, budget, t_trace, args.repeat)
    box_limits = GeometryLimits("box", min_width=8, min_height=8, integer_pixels=True)
    t_box, _ = best(lambda: fit_all(items, "box", box_limits), args.repeat)
    print(f"mask -> box (min 8x8, integer_pixels): {n / t_box:7.0f} objects/s")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
