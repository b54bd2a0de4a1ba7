"""Mask -> polygon under a vertex budget: prelabel vs supervision, same masks, same run.

Both start from the 734 compressed COCO RLE masks of
``../shared/data/cocoapi/results/instances_val2014_fakesegm100_results.json`` and end with
polygons of at most ``--max-vertices`` vertices each:

* prelabel: ``fit_geometry(mask, "polygon", ...)`` (crop decode, pixel-edge tracing with
  holes keyholed and every part kept, Douglas-Peucker ranked on the edge-midpoint rings
  within the budget, plus the IoU it always computes; its numba kernels are compiled or
  loaded from the on-disk cache before the timed rounds, and that time is printed);
* supervision: ``pycocotools`` decode (supervision takes dense masks) ->
  ``sv.mask_to_polygons`` -> ``sv.approximate_polygon`` with the percentage that meets the
  budget (its only budget knob).

Times are CPU time of this process (the machine is shared), best of ``--repeat`` rounds
in which every timed path takes its turn (so load changes hit all alike). OpenCV runs on one
thread for both: its idle worker threads spin, and on supervision's full-frame calls that
added up to 1.8x its wall time to the CPU time without making it any faster. IoU is
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

import cv2
import numpy as np
import orjson
from pycocotools import mask as cocomask

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.config.options import HolePolicy
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.geometry import keyhole, rle, simplify, trace
from prelabel.geometry import rings as rings_mod
from prelabel.geometry.kernels import loader as kernels
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


def prelabel_run(masks: list[Mask], budget: int, holes: HolePolicy = "keyhole") -> list[float]:
    limits = GeometryLimits("polygon", max_vertices=budget)
    policy = FitPolicy(holes=holes)
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
        for ext, holes in trace.trace_parts(rle.decode_cropped(m)[0]):
            if len(ext) + sum(len(h) + 2 for h in holes) > budget:
                fitted = simplify.simplify_part(ext, holes, budget, traced=True)
                ext, holes = fitted if fitted is not None else (ext, [])
            rings.append(keyhole.keyhole_arrays(ext, holes) if holes else ext)
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


def sv_ious_pixel_centres(masks: list[Mask], polys: list[list[Any]]) -> list[float]:
    """supervision's polygons rasterised by prelabel's rule (pixel centres, even-odd): its
    vertices are pixel indices, i.e. pixel centres, so they move by half a pixel first."""
    ious = []
    for m, ps in zip(masks, polys, strict=True):
        raster = np.zeros((m.height, m.width), bool)
        for p in ps:
            if len(p) >= 3:
                raster |= rings_mod.rings_to_mask(
                    [np.asarray(p, np.float64) + 0.5], m.height, m.width
                )
        ious.append(rings_mod.iou(raster, rle.decode_mask(m)))
    return ious


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, Any]]:
    """Best CPU time and last result of each function, the functions taking turns in every
    round, so a change of machine load during the run touches them all alike."""
    out: dict[str, tuple[float, Any]] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t, result = best_time(fn, 1)
            out[name] = (min(t, out.get(name, (float("inf"), None))[0]), result)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-vertices", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--holes",
        choices=["keyhole", "best"],
        default="keyhole",
        help="prelabel's hole policy (best: fill small holes where that raises the IoU)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    masks = load_masks(RESULTS)
    budget, n = args.max_vertices, len(masks)
    start = time.perf_counter()
    jit = kernels.compiled(wait=True)
    prelabel_run(masks[:50], budget)  # every kernel's first call: compile, or load the cache
    warm = time.perf_counter() - start
    crops = [rle.decode_cropped(m)[0] for m in masks]
    fns: dict[str, Callable[[], Any]] = {
        "ours": lambda: prelabel_run(masks, budget, args.holes),
        "bare": lambda: prelabel_polygons_only(masks, budget),
        "decode": lambda: [rle.decode_cropped(m) for m in masks],
        "trace": lambda: [trace.trace_parts(c) for c in crops],
    }
    sv: Any = None
    try:
        import supervision

        sv = supervision
    except ImportError:
        pass
    if sv is not None:
        fns["sv"] = lambda: sv_polygons(sv, masks, budget)
    load = os.getloadavg()[0]
    res = interleaved(fns, args.repeat)
    (t_ours, ious), (t_bare, _) = res["ours"], res["bare"]
    t_decode, t_trace = res["decode"][0], res["trace"][0]
    print(
        f"{n} real RLE masks, max_vertices {budget}, best of {args.repeat} interleaved rounds "
        f"(CPU time; load {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end)"
    )
    print(
        f"prelabel     {n / t_ours:8.0f} objects/s  mean IoU {np.mean(ious):.4f}  "
        f"min IoU {np.min(ious):.4f}  (holes = {args.holes}, all parts)"
    )
    print(f"  (polygons only, no IoU or bookkeeping: {n / t_bare:8.0f} objects/s)")
    print(
        f"  (numba kernels {'ready' if jit else 'missing: numpy fallback'} in {warm:.2f} s "
        "before the timed rounds; the first run after an install compiles them)"
    )
    print(
        f"  (per object: decode {t_decode / n * 1e6:.0f} us, trace {t_trace / n * 1e6:.0f} us, "
        f"budget + keyhole + IoU + model {(t_ours - t_decode - t_trace) / n * 1e6:.0f} us)"
    )
    if sv is None:
        print("supervision is not installed: pip install supervision (benchmark only)")
        return 0
    t_sv, polys = res["sv"]
    over = sum(len(p) > budget for ps in polys for p in ps)
    sv_iou = sv_ious(sv, masks, polys)
    print(
        f"supervision  {n / t_sv:8.0f} objects/s  mean IoU {np.mean(sv_iou):.4f}  "
        f"min IoU {np.min(sv_iou):.4f}  ({over} rings over budget; holes drawn as filled "
        f"polygons) [sv {sv.__version__}]"
    )
    same_rule = sv_ious_pixel_centres(masks, polys)
    print(
        f"  (supervision's polygons by prelabel's pixel-centre rule: mean IoU "
        f"{np.mean(same_rule):.4f}, min {np.min(same_rule):.4f})"
    )
    print(f"speed-up     {t_sv / t_ours:8.2f}x  (polygons only: {t_sv / t_bare:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
