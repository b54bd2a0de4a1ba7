"""The 734 real COCO RLE masks: decode, trace and fit at max_vertices 32 and 100.

Stated bounds (measured mean / min 0.9989 / 0.9818 at 100 and 0.9901 / 0.7699 at 32, see
``benchmarks/bench_limits.py``): mean IoU >= 0.998 and min >= 0.98 at 100 vertices (issue 3
asks for a mean >= 0.97); mean >= 0.985 and min >= 0.75 at 32. IoU is the engine's own
figure, and is re-checked here independently: the fitted polygons are rasterised by pixel
centres and compared with pycocotools' full-frame decode. A golden file keeps every object's
annotation count, vertex counts and IoU (4 decimals), so any change in tracing or budget
search shows up as a diff (``--update-goldens`` rewrites it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.geometry import rings, rle, trace
from prelabel.model import Mask, Polygon

RESULTS = "cocoapi/results/instances_val2014_fakesegm100_results.json"
GOLDEN = FIXTURES / "geometry" / "fakesegm100_fit.json"
BOUNDS = {100: (0.998, 0.98), 32: (0.985, 0.75)}

pytestmark = pytest.mark.slow  # about 7 s: two fits of 734 masks plus full-frame checks


@pytest.fixture(scope="module")
def masks(shared: Path) -> list[Mask]:
    records = json.loads((shared / RESULTS).read_text())
    assert len(records) == 734
    return [Mask(r["segmentation"]["counts"].encode(), *r["segmentation"]["size"]) for r in records]


@pytest.fixture(scope="module")
def fitted(masks: list[Mask]) -> dict[int, list[Fitted]]:
    policy = FitPolicy(holes="keyhole", parts="each")
    out: dict[int, list[Fitted]] = {}
    for budget in BOUNDS:
        limits = GeometryLimits("polygon", max_vertices=budget)
        out[budget] = [
            fit_geometry(m, "polygon", limits, Bounds.for_image(m.width, m.height), policy)
            for m in masks
        ]
    return out


def test_crop_decode_matches_pycocotools(masks: list[Mask]) -> None:
    for m in masks:
        full = rle.decode_mask(m)
        crop, x0, y0 = rle.decode_cropped(m)
        assert full.sum() == crop.sum()
        assert np.array_equal(full[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]], crop)


def test_trace_is_exact_on_real_masks(masks: list[Mask]) -> None:
    for m in masks[::7]:
        full = rle.decode_mask(m)
        assert np.array_equal(
            rings.polygon_to_mask(trace.mask_to_polygon(m), m.height, m.width), full
        )


@pytest.mark.parametrize("budget", sorted(BOUNDS))
def test_fit_budget_and_iou_bounds(
    budget: int, masks: list[Mask], fitted: dict[int, list[Fitted]]
) -> None:
    ious = []
    for f in fitted[budget]:
        assert f.dropped is None
        assert f.geometries
        for g in f.geometries:
            assert isinstance(g, Polygon) and len(g.parts) == 1 and not g.parts[0].holes
            assert 3 <= len(g.parts[0].exterior) <= budget
        assert f.iou is not None
        ious.append(f.iou)
    mean_floor, min_floor = BOUNDS[budget]
    assert float(np.mean(ious)) >= mean_floor
    assert min(ious) >= min_floor


def test_reported_iou_matches_an_independent_check(
    masks: list[Mask], fitted: dict[int, list[Fitted]]
) -> None:
    for m, f in list(zip(masks, fitted[100], strict=True))[::3]:
        raster = np.zeros((m.height, m.width), bool)
        for g in f.geometries:
            assert isinstance(g, Polygon)
            raster |= rings.polygon_to_mask(g, m.height, m.width)
        assert rings.iou(raster, rle.decode_mask(m)) == pytest.approx(f.iou, abs=1e-12)


def _summary(fitted: dict[int, list[Fitted]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for budget, results in sorted(fitted.items()):
        out[str(budget)] = [
            {
                "vertices": [len(g.parts[0].exterior) for g in f.geometries],  # type: ignore[union-attr]
                "iou": round(f.iou or 0.0, 4),
                "fixes": [t.split(":")[0] for t in f.fixes],
            }
            for f in results
        ]
    return out


def test_golden_per_object_summary(fitted: dict[int, list[Fitted]], update_goldens: bool) -> None:
    got = _summary(fitted)
    if update_goldens or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, separators=(",", ":")) + "\n")
        if not update_goldens:
            pytest.fail(f"golden {GOLDEN} was missing and has been written; rerun")
    assert got == json.loads(GOLDEN.read_text())


def test_holes_best_fills_a_speck_hole_where_that_raises_the_iou(masks: list[Mask]) -> None:
    """Object 323 has a part with four one-pixel holes: kept, they take 20 of 32 vertices.
    The default keeps them; holes = "best" fills them while that raises the IoU."""
    m = masks[323]
    limits = GeometryLimits("polygon", max_vertices=32)
    bounds = Bounds.for_image(m.width, m.height)
    kept = fit_geometry(m, "polygon", limits, bounds, FitPolicy(holes="keyhole"))
    best = fit_geometry(m, "polygon", limits, bounds, FitPolicy(holes="best"))
    assert not any(f.startswith("filled") for f in kept.fixes)
    assert any(f.endswith("smallest holes to fit max_vertices") for f in best.fixes)
    assert kept.iou is not None and best.iou is not None
    assert best.iou > kept.iou + 0.05
    for fitted in (kept, best):
        assert all(
            isinstance(g, Polygon) and len(g.parts[0].exterior) <= 32 for g in fitted.geometries
        )
