"""The limits engine: property tests on random valid and invalid shapes, and exact tables."""

from __future__ import annotations

import math
from unittest.mock import patch

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.errors import LimitViolation
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.geometry import rings as rings_mod
from prelabel.geometry import rle, trace
from prelabel.model import Box, Cuboid, Ellipse, Geometry, Line, Point, Polygon, PolygonPart

IMAGE = Bounds.for_image(100, 80)

coord = st.one_of(st.integers(-30, 130).map(float), st.floats(-30, 130, allow_nan=False))
rings = st.lists(st.tuples(coord, coord), min_size=1, max_size=14).map(tuple)


@st.composite
def polygons(draw: st.DrawFn) -> Polygon:
    """Random rings: valid, self-intersecting, bow-ties, duplicates, tiny, with holes."""
    ext = draw(rings)
    if draw(st.booleans()) and len(ext) > 2:  # duplicate a vertex in place
        i = draw(st.integers(0, len(ext) - 1))
        ext = (*ext[: i + 1], ext[i], *ext[i + 1 :])
    holes = tuple(draw(st.lists(rings, max_size=2)))
    parts = [PolygonPart(ext, holes)]
    if draw(st.booleans()):
        parts.append(PolygonPart(draw(rings)))
    return Polygon(tuple(parts))


@st.composite
def budgets(draw: st.DrawFn) -> GeometryLimits:
    low = draw(st.integers(1, 12))
    high = draw(st.one_of(st.none(), st.integers(max(low, 3), 60)))
    return GeometryLimits("polygon", min_vertices=low, max_vertices=high)


@st.composite
def bounds(draw: st.DrawFn) -> Bounds | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    w, h = draw(st.integers(5, 120)), draw(st.integers(5, 120))
    px, py = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    return Bounds.for_image(w, h, px, py)


policies = st.builds(
    FitPolicy,
    holes=st.sampled_from(["keyhole", "fill"]),
    min_hole_area=st.sampled_from([0.0, 4.0]),
    parts=st.sampled_from(["each", "largest"]),
)


def _check_polygons(fitted: Fitted, limits: GeometryLimits, b: Bounds | None) -> None:
    if fitted.dropped is not None:
        assert not fitted.geometries
        assert fitted.dropped.split(":")[0] in {"degenerate", "empty", "too many vertices"}
        return
    assert fitted.geometries
    for g in fitted.geometries:
        assert isinstance(g, Polygon)
        assert len(g.parts) == 1 and g.parts[0].holes == ()
        ring = np.asarray(g.parts[0].exterior)
        n = len(ring)
        assert n >= max(limits.min_vertices, 3)
        if limits.max_vertices is not None:
            assert n <= max(limits.max_vertices, limits.min_vertices, 3)
        assert len(np.unique(ring, axis=0)) >= 3
        assert abs(rings_mod.signed_area(ring)) > 0
        if b is not None:
            assert ring[:, 0].min() >= b.x0 - 1e-6 and ring[:, 0].max() <= b.x1 + 1e-6
            assert ring[:, 1].min() >= b.y0 - 1e-6 and ring[:, 1].max() <= b.y1 + 1e-6
        reason = shapely.is_valid_reason(shapely.Polygon(ring))
        if any(f.startswith("keyhole") for f in fitted.fixes):
            assert reason == "Valid Geometry" or "Self-intersection" in reason
        else:
            assert reason == "Valid Geometry", (reason, ring.tolist())
    for text in fitted.fixes:
        assert ":" in text
    assert fitted.iou is not None and 0.0 <= fitted.iou <= 1.0 + 1e-9


@pytest.mark.parametrize(
    ("exterior", "hole", "min_vertices"),
    [
        # make_valid leaves a zero-width spike; densifying it overlapped edges
        (((0, 3), (-1, 0), (0, 2), (-2, 1), (0, 0)), ((0, 0), (0, 2), (-2, 1)), 6),
        (((0, 3), (-1, 0), (0, 1), (-3, 1), (0, 0)), ((0, 0), (0, 1), (-3, 1)), 6),
        # make_valid leaves two vertices 1e-16 apart
        (
            ((0, 3), (-6, 0), (1, 3), (-23, 73), (0, 0.5)),
            ((-13, 65), (0, 0), (0, 0.5), (-23, 73)),
            1,
        ),
    ],
)
def test_repaired_polygons_come_out_valid(
    exterior: tuple[tuple[float, float], ...],
    hole: tuple[tuple[float, float], ...],
    min_vertices: int,
) -> None:
    polygon = Polygon((PolygonPart(exterior, (hole,)),))
    limits = GeometryLimits("polygon", min_vertices=min_vertices)
    fitted = fit_geometry(polygon, "polygon", limits, None, FitPolicy())
    assert fitted.fixes[0].startswith("repaired")
    _check_polygons(fitted, limits, None)


@given(polygons(), budgets(), bounds(), policies)
@settings(max_examples=400, deadline=None)
def test_random_polygons_fit_within_limits(
    polygon: Polygon, limits: GeometryLimits, b: Bounds | None, policy: FitPolicy
) -> None:
    _check_polygons(fit_geometry(polygon, "polygon", limits, b, policy), limits, b)


@given(
    arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))),
    budgets(),
    bounds(),
    policies,
)
@settings(max_examples=200, deadline=None)
def test_random_masks_fit_within_limits(
    binary: np.ndarray, limits: GeometryLimits, b: Bounds | None, policy: FitPolicy
) -> None:
    fitted = fit_geometry(rle.encode_mask(binary), "polygon", limits, b, policy)
    if not binary.any():
        assert fitted.dropped == "empty: mask has no pixels"
        return
    _check_polygons(fitted, limits, b)


@given(
    st.builds(
        Box,
        st.floats(-50, 150),
        st.floats(-50, 150),
        st.floats(0, 60),
        st.floats(0, 60),
        st.sampled_from([0.0, 0.3]),
    ),
    st.floats(0, 12),
    st.floats(0, 12),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_boxes_never_under_min_size_and_inside_bounds(
    box: Box, min_w: float, min_h: float, integer: bool, rotate: bool
) -> None:
    limits = GeometryLimits(
        "box", min_width=min_w, min_height=min_h, integer_pixels=integer, can_rotate=rotate
    )
    fitted = fit_geometry(box, "box", limits, IMAGE, FitPolicy())
    if fitted.dropped is not None:
        assert fitted.dropped.startswith(("empty", "degenerate"))
        return
    (out,) = fitted.geometries
    assert isinstance(out, Box)
    if out.rotation:
        assert rotate
        return
    assert out.width >= min_w - 1e-9 and out.height >= min_h - 1e-9
    assert out.left >= IMAGE.x0 - 1e-9 and out.right <= IMAGE.x1 + 1e-9
    assert out.top >= IMAGE.y0 - 1e-9 and out.bottom <= IMAGE.y1 + 1e-9
    if integer:
        assert all(float(v).is_integer() for v in (out.left, out.top, out.width, out.height))


# --- policies -----------------------------------------------------------------------------

CIRCLE = Polygon.from_ring(
    tuple((50 + 30 * math.cos(t), 40 + 30 * math.sin(t)) for t in np.linspace(0, 6.2, 80))
)
BUDGET = GeometryLimits("polygon", max_vertices=20)


def test_fix_simplifies_drop_drops_error_raises() -> None:
    fixed = fit_geometry(CIRCLE, "polygon", BUDGET, IMAGE, FitPolicy())
    assert fixed.fixes == [
        f"simplified: 80 -> {len(fixed.geometries[0].parts[0].exterior)} vertices"
    ]
    assert fixed.iou is not None and fixed.iou > 0.97
    dropped = fit_geometry(CIRCLE, "polygon", BUDGET, IMAGE, FitPolicy(on_violation="drop"))
    assert dropped.dropped == "too many vertices: 80 > max_vertices 20"
    assert dropped.geometries == []
    with pytest.raises(LimitViolation, match="too many vertices: 80 > max_vertices 20"):
        fit_geometry(CIRCLE, "polygon", BUDGET, IMAGE, FitPolicy(on_violation="error"))


def test_conversions_are_not_violations() -> None:
    binary = np.zeros((10, 10), bool)
    binary[2:5, 3:7] = True
    strict = FitPolicy(on_violation="error")
    limits = GeometryLimits("polygon", max_vertices=10)
    traced = fit_geometry(rle.encode_mask(binary), "polygon", limits, IMAGE, strict)
    assert traced.geometries == [Polygon.from_ring(((3, 2), (7, 2), (7, 5), (3, 5)))]
    assert traced.fixes == [] and traced.iou == 1.0
    boxed = fit_geometry(rle.encode_mask(binary), "box", GeometryLimits("box"), IMAGE, strict)
    assert boxed.geometries == [Box(3, 2, 4, 3)]


@pytest.mark.parametrize(
    ("policy", "expect"),
    [
        (FitPolicy(), "grown"),
        (FitPolicy(on_violation="drop"), "drop"),
        (FitPolicy(on_violation="error"), "error"),
        (FitPolicy(on_violation="error", small_boxes="keep"), "keep"),
        (FitPolicy(on_violation="drop", small_boxes="grow"), "grown"),
    ],
)
def test_small_box_policies(policy: FitPolicy, expect: str) -> None:
    limits = GeometryLimits("box", min_width=6, min_height=6)
    reason = "too small: box 3.0x2.0 under min 6x6"
    if expect == "error":
        with pytest.raises(LimitViolation, match=reason):
            fit_geometry(Box(10, 10, 3, 2), "box", limits, IMAGE, policy)
        return
    fitted = fit_geometry(Box(10, 10, 3, 2), "box", limits, IMAGE, policy)
    if expect == "grown":
        assert fitted.geometries == [Box(8.5, 8, 6, 6)]
        assert fitted.fixes == ["grown: box to min size"]
    elif expect == "drop":
        assert fitted.dropped == reason
    else:
        assert fitted.geometries == [Box(10, 10, 3, 2)] and fitted.flags == [reason]


# --- exact tables -------------------------------------------------------------------------

SQUARE_WITH_HOLE = Polygon(
    (PolygonPart(((0, 0), (10, 0), (10, 10), (0, 10)), (((4, 4), (6, 4), (6, 6), (4, 6)),)),)
)
BOWTIE = Polygon.from_ring(((0, 0), (10, 10), (10, 0), (0, 10)))
TWO_SQUARES = Polygon(
    (
        PolygonPart(((0, 0), (4, 0), (4, 4), (0, 4))),
        PolygonPart(((10, 10), (12, 10), (12, 12), (10, 12))),
    )
)
POLY = GeometryLimits("polygon")


def _ring(fitted: Fitted, i: int = 0) -> list[tuple[float, float]]:
    g = fitted.geometries[i]
    assert isinstance(g, Polygon)
    return sorted(g.parts[0].exterior)


@pytest.mark.parametrize(
    ("geometry", "target", "limits", "bounds", "policy", "fixes", "count"),
    [
        (Box(1, 2, 3, 4), "polygon", POLY, IMAGE, FitPolicy(), [], 1),
        (SQUARE_WITH_HOLE, "polygon", POLY, IMAGE, FitPolicy(), ["keyhole: 1 holes bridged"], 1),
        (
            SQUARE_WITH_HOLE,
            "polygon",
            POLY,
            IMAGE,
            FitPolicy(holes="fill"),
            ["filled: 1 holes (holes = fill)"],
            1,
        ),
        (
            SQUARE_WITH_HOLE,
            "polygon",
            POLY,
            IMAGE,
            FitPolicy(min_hole_area=5),
            ["filled: 1 holes under min_hole_area"],
            1,
        ),
        (
            BOWTIE,
            "polygon",
            POLY,
            IMAGE,
            FitPolicy(),
            ["repaired: self-intersection (make_valid)", "split: 2 parts -> 2 annotations"],
            2,
        ),
        (
            TWO_SQUARES,
            "polygon",
            POLY,
            IMAGE,
            FitPolicy(parts="largest"),
            ["largest: kept 1 of 2 parts"],
            1,
        ),
        (
            Polygon.from_ring(((90, 70), (110, 70), (110, 90), (90, 90))),
            "polygon",
            POLY,
            IMAGE,
            FitPolicy(),
            ["clipped: to padded image"],
            1,
        ),
        (
            Polygon.from_ring(((0, 0), (9, 0), (0, 9))),
            "polygon",
            GeometryLimits("polygon", min_vertices=6),
            IMAGE,
            FitPolicy(),
            ["densified: 3 -> 6 vertices"],
            1,
        ),
        (
            Box(-5, -5, 10, 10),
            "box",
            GeometryLimits("box"),
            IMAGE,
            FitPolicy(),
            ["clipped: to padded image"],
            1,
        ),
        (
            Box(1.2, 1.7, 3.1, 2.2),
            "box",
            GeometryLimits("box", integer_pixels=True),
            IMAGE,
            FitPolicy(),
            ["rounded: integer_pixels"],
            1,
        ),
        (
            Box(10, 10, 10, 10, rotation=math.pi / 4),
            "box",
            GeometryLimits("box"),
            IMAGE,
            FitPolicy(),
            ["rotated: replaced by the axis-aligned bounding box"],
            1,
        ),
        (
            Box(10, 10, 10, 10, rotation=0.5),
            "box",
            GeometryLimits("box", can_rotate=True),
            IMAGE,
            FitPolicy(),
            [],
            1,
        ),
        (TWO_SQUARES, "box", GeometryLimits("box"), IMAGE, FitPolicy(), [], 1),
        (Ellipse(50, 40, 10, 5), "box", GeometryLimits("box"), IMAGE, FitPolicy(), [], 1),
        (
            Line(((-10, 10), (50, 10), (50, 200))),
            "line",
            GeometryLimits("line"),
            IMAGE,
            FitPolicy(),
            ["clipped: to padded image"],
            1,
        ),
        (Point(5, 5, name="nose"), "point", GeometryLimits("point"), IMAGE, FitPolicy(), [], 1),
        (Ellipse(50, 40, 10, 5), "ellipse", GeometryLimits("ellipse"), IMAGE, FitPolicy(), [], 1),
        (Cuboid({"vertices": []}), "cuboid", GeometryLimits("cuboid"), IMAGE, FitPolicy(), [], 1),
        (Box(1, 2, 3, 4), "polygon", POLY, None, FitPolicy(), [], 1),
    ],
)
def test_fixes_table(
    geometry: Geometry,
    target: str,
    limits: GeometryLimits,
    bounds: Bounds | None,
    policy: FitPolicy,
    fixes: list[str],
    count: int,
) -> None:
    fitted = fit_geometry(geometry, target, limits, bounds, policy)  # type: ignore[arg-type]
    assert fitted.dropped is None
    assert fitted.fixes == fixes
    assert len(fitted.geometries) == count


def test_exact_outputs() -> None:
    box_poly = fit_geometry(Box(1, 2, 3, 4), "polygon", POLY, IMAGE, FitPolicy())
    assert box_poly.geometries == [Polygon.from_ring(((1, 2), (4, 2), (4, 6), (1, 6)))]
    assert box_poly.iou == 1.0
    keyed = fit_geometry(SQUARE_WITH_HOLE, "polygon", POLY, IMAGE, FitPolicy())
    assert len(keyed.geometries[0].parts[0].exterior) == 4 + 4 + 2  # type: ignore[union-attr]
    assert keyed.iou == pytest.approx(1.0)
    filled = fit_geometry(SQUARE_WITH_HOLE, "polygon", POLY, IMAGE, FitPolicy(holes="fill"))
    assert _ring(filled) == [(0, 0), (0, 10), (10, 0), (10, 10)]
    assert filled.iou == pytest.approx(96 / 100)
    clipped = fit_geometry(
        Polygon.from_ring(((90, 70), (110, 70), (110, 90), (90, 90))),
        "polygon",
        POLY,
        IMAGE,
        FitPolicy(),
    )
    assert _ring(clipped) == [(90, 70), (90, 80), (100, 70), (100, 80)]
    assert clipped.iou == pytest.approx(0.25)
    largest = fit_geometry(TWO_SQUARES, "polygon", POLY, IMAGE, FitPolicy(parts="largest"))
    assert _ring(largest) == [(0, 0), (0, 4), (4, 0), (4, 4)]
    assert fit_geometry(
        TWO_SQUARES, "box", GeometryLimits("box"), IMAGE, FitPolicy()
    ).geometries == [Box(0, 0, 12, 12)]
    rounded = fit_geometry(
        Box(1.2, 1.7, 3.1, 2.2),
        "box",
        GeometryLimits("box", integer_pixels=True),
        IMAGE,
        FitPolicy(),
    )
    assert rounded.geometries == [Box(1, 1, 4, 3)]
    unrotated = fit_geometry(
        Box(10, 10, 10, 10, rotation=math.pi / 2), "box", GeometryLimits("box"), IMAGE, FitPolicy()
    )
    (b,) = unrotated.geometries
    assert isinstance(b, Box) and b.rotation == 0
    assert (b.left, b.top, b.width, b.height) == pytest.approx((10, 10, 10, 10))
    line = fit_geometry(
        Line(((-10, 10), (50, 10), (50, 200))), "line", GeometryLimits("line"), IMAGE, FitPolicy()
    )
    assert line.geometries == [Line(((0, 10), (50, 10), (50, 80)))]
    grown = fit_geometry(
        Box(0, 0, 2, 2), "box", GeometryLimits("box", min_width=6, min_height=6), IMAGE, FitPolicy()
    )
    assert grown.geometries == [Box(0, 0, 6, 6)]  # grown about its centre, then moved inside


@pytest.mark.parametrize(
    ("geometry", "target", "limits", "reason"),
    [
        (
            Point(120, 5),
            "point",
            GeometryLimits("point"),
            "outside: point (120, 5) outside the padded image",
        ),
        (Point(5, 5), "polygon", POLY, "unsupported: a point cannot become a polygon"),
        (CIRCLE, "line", GeometryLimits("line"), "unsupported: a polygon cannot become a line"),
        (
            Polygon.from_ring(((200, 200), (210, 200), (210, 210))),
            "polygon",
            POLY,
            "empty: nothing inside the padded image",
        ),
        (
            Polygon.from_ring(((0, 0), (5, 5), (10, 10))),
            "polygon",
            POLY,
            "degenerate: fewer than 3 distinct vertices",
        ),
        (
            Polygon.from_ring(((0, 0), (10, 0), (10, 1e-8))),
            "polygon",
            POLY,
            "degenerate: zero area",
        ),
        (
            Polygon.from_ring(((0, 0), (0, 0), (1, 1))),
            "polygon",
            POLY,
            "degenerate: fewer than 3 distinct vertices",
        ),
        (Box(5, 5, 0, 4), "box", GeometryLimits("box"), "degenerate: box 0x4 has zero area"),
        (
            Box(500, 5, 10, 4),
            "box",
            GeometryLimits("box"),
            "empty: nothing inside the padded image",
        ),
        (
            Line(((1, 1), (1, 1))),
            "line",
            GeometryLimits("line"),
            "degenerate: a line needs 2 distinct vertices",
        ),
        (
            Ellipse(5, 5, 0, 3),
            "ellipse",
            GeometryLimits("ellipse"),
            "degenerate: ellipse with a zero axis",
        ),
        (rle.encode_mask(np.zeros((4, 4), bool)), "polygon", POLY, "empty: mask has no pixels"),
        (
            Box(10, 10, 3, 2),
            "box",
            GeometryLimits("box", min_width=200, min_height=6),
            "too small: box 3.0x2.0 under min 200x6, and the padded image is smaller than that",
        ),
    ],
)
def test_drop_reasons(geometry: Geometry, target: str, limits: GeometryLimits, reason: str) -> None:
    fitted = fit_geometry(geometry, target, limits, IMAGE, FitPolicy())  # type: ignore[arg-type]
    assert fitted.dropped == reason
    assert fitted.geometries == []
    with pytest.raises(LimitViolation):  # under "error" the first violation met is raised
        fit_geometry(geometry, target, limits, IMAGE, FitPolicy(on_violation="error"))  # type: ignore[arg-type]


def test_drop_policy_names_the_limit() -> None:
    drop = FitPolicy(on_violation="drop")
    cases = [
        (BOWTIE, "polygon", POLY, "invalid: Self-intersection"),
        (
            Box(-5, -5, 10, 10),
            "box",
            GeometryLimits("box"),
            "outside: box extends past the padded image",
        ),
        (
            Box(1, 1, 5, 5, rotation=0.2),
            "box",
            GeometryLimits("box"),
            "rotated: box rotation 0.2 rad but can_rotate is false",
        ),
        (
            Polygon.from_ring(((0, 0), (9, 0), (0, 9))),
            "polygon",
            GeometryLimits("polygon", min_vertices=6),
            "too few vertices: 3 < min_vertices 6",
        ),
    ]
    for geometry, target, limits, reason in cases:
        fitted = fit_geometry(geometry, target, limits, IMAGE, drop)  # type: ignore[arg-type]
        assert fitted.dropped == reason


def test_many_holes_over_budget_fill_smallest_first() -> None:
    binary = np.ones((40, 40), bool)
    for i, size in enumerate([1, 2, 3, 4]):
        binary[5 + 8 * i : 5 + 8 * i + size, 5 : 5 + size] = False
    fitted = fit_geometry(
        rle.encode_mask(binary),
        "polygon",
        GeometryLimits("polygon", max_vertices=16),
        None,
        FitPolicy(),
    )
    (g,) = fitted.geometries
    assert isinstance(g, Polygon) and len(g.parts[0].exterior) <= 16
    assert "filled: 2 smallest holes to fit max_vertices" in fitted.fixes
    assert any(f.startswith("keyhole: 2 holes") for f in fitted.fixes)
    # the two largest holes (9 + 16 px) are kept, the two smallest (1 + 4 px) filled
    assert fitted.iou == pytest.approx((1600 - 30) / (1600 - 25))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 30), st.integers(1, 12), st.integers(1, 12)),
        min_size=1,
        max_size=6,
    ),
    st.integers(-5, 5),
    st.integers(-5, 5),
)
def test_mask_iou_equals_whole_window_raster(
    boxes: list[tuple[int, int, int, int]], ox: int, oy: int
) -> None:
    """The IoU (compiled, and numpy rasterising each ring over its own bounding box) must
    equal OR-ing rasters over a window holding every ring and the crop; ring pixels outside
    the crop count against it."""
    from prelabel.fit.polygon import _mask_iou
    from prelabel.geometry.kernels import loader as kernels

    rings = [
        np.array(
            [
                [x + ox, y + oy],
                [x + ox + w, y + oy],
                [x + ox + w, y + oy + h + 0.5],
                [x + ox, y + oy + h],
            ],
            float,
        )
        for x, y, w, h in boxes
    ]
    rng = np.random.default_rng(len(boxes))
    crop = rng.random((40, 50)) < 0.3
    pad = 20  # every ring reaches at most 15 px past the crop
    window = np.zeros((crop.shape[0] + 2 * pad, crop.shape[1] + 2 * pad), bool)
    window[pad:-pad, pad:-pad] = crop
    full = np.zeros(window.shape, bool)
    for ring in rings:
        full |= rings_mod.rings_to_mask([ring], *window.shape, origin=(ox - pad, oy - pad))
    expected = rings_mod.iou(full, window)
    assert kernels.compiled(wait=True) is not None
    off = np.array([ox, oy], float)
    traced = [(e + off, [h + off for h in hs]) for e, hs in trace.trace_parts(crop)]
    assert _mask_iou(rings, traced) == expected
    with patch("prelabel.geometry.kernels.loader.compiled", lambda: None):  # the numpy path
        assert _mask_iou(rings, traced) == expected
