"""Mask -> polygon under a vertex budget: prelabel vs supervision, same masks, same run.

Both start from the 734 compressed COCO RLE masks of
``../shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json`` and end with
polygons of at most ``--max-vertices`` vertices each:

* prelabel: ``fit_geometry(mask, "polygon", ...)`` (crop decode, pixel-edge tracing with
  holes keyholed and every part kept, budget bisection, plus the IoU it always computes);
* supervision: ``pycocotools`` decode (supervision takes dense masks) ->
  ``sv.mask_to_polygons`` -> ``sv.approximate_polygon`` with the percentage that meets the
  budget (its only budget knob).

Times are CPU time of this process (the machine is shared), best of ``--repeat``. IoU is
computed outside the timed loop for supervision, each library's polygons rasterised by
its own convention (prelabel: pixel centres; supervision: ``sv.polygon_to_mask``), against the
source mask. supervision is installed for this benchmark only (not a prelabel dependency).

Run: ``.venv/bin/python benchmarks/bench_mask_to_polygon.py [--max-vertices 100] [--repeat 3]``
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
from pycocotools import mask as cocomask

from prelabel import geometry as geo
from prelabel.fit import FitPolicy, fit_geometry
from prelabel.limits import Bounds, GeometryLimits
from prelabel.model import Mask

RESULTS = (
    Path(__file__).resolve().parents[2]
    / "shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json"
)


def load_masks(path: Path) -> list[Mask]:
    records = orjson.loads(path.read_bytes())
    return [Mask(r["segmentation"]["counts"].encode(), *r["segmentation"]["size"]) for r in records]


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def prelabel_run(masks: list[Mask], budget: int) -> list[float]:
    limits = GeometryLimits("polygon", max_vertices=budget)
    policy = FitPolicy()
    ious = []
    for m in masks:
        fitted = fit_geometry(m, "polygon", limits, Bounds.for_image(m.width, m.height), policy)
        ious.append(fitted.iou if fitted.iou is not None else 0.0)
    return ious


def prelabel_polygons_only(masks: list[Mask], budget: int) -> list[list[Any]]:
    """The same polygons without the engine's bookkeeping and IoU: decode, trace, budget
    search and keyhole (what supervision's path does, plus holes)."""
    out = []
    for m in masks:
        rings = []
        for ext, holes in geo.trace_parts(geo.decode_cropped(m)[0]):
            if len(ext) + sum(len(h) + 2 for h in holes) > budget:
                fitted = geo.simplify_part(ext, holes, budget)
                ext, holes = fitted if fitted is not None else (ext, [])
            rings.append(geo.keyhole_arrays(ext, holes) if holes else ext)
        out.append(rings)
    return out


def sv_polygons(sv: Any, masks: list[Mask], budget: int) -> list[list[Any]]:
    out = []
    for m in masks:
        dense = cocomask.decode(m.rle()).astype(bool)
        polys = []
        for poly in sv.mask_to_polygons(dense):
            if len(poly) > budget:
                poly = sv.approximate_polygon(poly, percentage=1 - budget / len(poly))
            polys.append(poly)
        out.append(polys)
    return out


def sv_ious(sv: Any, masks: list[Mask], polys: list[list[Any]]) -> list[float]:
    ious = []
    for m, ps in zip(masks, polys, strict=True):
        dense = cocomask.decode(m.rle()).astype(bool)
        raster = np.zeros_like(dense)
        for p in ps:
            raster |= sv.polygon_to_mask(p, (m.width, m.height)).astype(bool)
        union = np.count_nonzero(raster | dense)
        ious.append(np.count_nonzero(raster & dense) / union if union else 1.0)
    return ious


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-vertices", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    masks = load_masks(RESULTS)
    budget = args.max_vertices
    n = len(masks)
    t_ours, ious = best_time(lambda: prelabel_run(masks, budget), args.repeat)
    print(
        f"{n} real RLE masks, max_vertices {budget}, best of {args.repeat} "
        f"(CPU time; load {os.getloadavg()[0]:.2f})"
    )
    print(
        f"prelabel     {n / t_ours:8.0f} objects/s  mean IoU {np.mean(ious):.4f}  "
        f"min IoU {np.min(ious):.4f}  (holes keyholed, all parts)"
    )
    t_bare, _ = best_time(lambda: prelabel_polygons_only(masks, budget), args.repeat)
    print(f"  (polygons only, no IoU or bookkeeping: {n / t_bare:8.0f} objects/s)")
    t_decode, crops = best_time(lambda: [geo.decode_cropped(m)[0] for m in masks], args.repeat)
    t_trace, _ = best_time(lambda: [geo.trace_parts(c) for c in crops], args.repeat)
    print(
        f"  (per object: decode {t_decode / n * 1e6:.0f} us, trace {t_trace / n * 1e6:.0f} us, "
        f"budget + keyhole + IoU + model {(t_ours - t_decode - t_trace) / n * 1e6:.0f} us)"
    )
    try:
        import supervision as sv
    except ImportError:
        print("supervision is not installed: pip install supervision (benchmark only)")
        return 0
    t_sv, polys = best_time(lambda: sv_polygons(sv, masks, budget), args.repeat)
    over = sum(len(p) > budget for ps in polys for p in ps)
    sv_iou = sv_ious(sv, masks, polys)
    print(
        f"supervision  {n / t_sv:8.0f} objects/s  mean IoU {np.mean(sv_iou):.4f}  "
        f"min IoU {np.min(sv_iou):.4f}  ({over} rings over budget; holes drawn as filled "
        f"polygons) [sv {sv.__version__}]"
    )
    print(f"speed-up     {t_sv / t_ours:8.2f}x  (polygons only: {t_sv / t_bare:.2f}x)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
