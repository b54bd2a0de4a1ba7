"""Geometry primitives: RLE, exact pixel-edge tracing, rasterising, keyholes, budgets."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as cocomask
from rle_cases import compressed, odd_runs

from prelabel.geometry import keyhole, rle, simplify, trace
from prelabel.geometry import primitives as geo
from prelabel.geometry import rings as rings_mod
from prelabel.model import Box, Ellipse, Line, Mask, Polygon, PolygonPart

masks_2d = st.integers(1, 16).flatmap(
    lambda h: st.integers(1, 16).flatmap(lambda w: arrays(np.bool_, (h, w)))
)


def _shape(polygon: Polygon) -> shapely.Geometry:
    return shapely.MultiPolygon([shapely.Polygon(p.exterior, p.holes) for p in polygon.parts])


def _grid(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows])


# --- RLE ----------------------------------------------------------------------------------


@given(masks_2d)
@settings(max_examples=200, deadline=None)
def test_rle_round_trip_and_crop_decode(binary: np.ndarray) -> None:
    mask = rle.encode_mask(binary)
    assert np.array_equal(rle.decode_mask(mask), binary)
    assert rle.mask_area(mask) == int(binary.sum())
    crop, x0, y0 = rle.decode_cropped(mask)
    if not binary.any():
        assert crop.size == 0
        assert rle.mask_bbox(mask).width == 0
        return
    rows, cols = np.flatnonzero(binary.any(1)), np.flatnonzero(binary.any(0))
    assert (x0, y0) == (cols[0], rows[0])
    assert np.array_equal(crop, binary[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    box = rle.mask_bbox(mask)
    assert (box.left, box.top, box.width, box.height) == (x0, y0, crop.shape[1], crop.shape[0])


def test_rle_counts_match_pycocotools_on_a_large_frame() -> None:
    rng = np.random.default_rng(7)
    binary = np.zeros((480, 640), bool)
    binary[100:400, 50:600] = rng.random((300, 550)) < 0.5
    mask = rle.encode_mask(binary)
    runs = rle.rle_counts(mask.counts)
    assert runs.sum() == 480 * 640
    expected = cocomask.decode(mask.rle()).astype(bool)
    assert np.array_equal(np.repeat(np.arange(runs.size) % 2 == 1, runs), expected.T.ravel())


def _pixel_box(runs: list[int], h: int, w: int) -> list[float]:
    """The box of the pixels the runs set, from the decoded array (zeros for none)."""
    on = np.repeat(np.arange(len(runs)) % 2 == 1, runs).reshape(w, h).T
    crop, x0, y0 = rle.crop_to_pixels(on)
    if not crop.size:
        return [0.0] * 4
    return [float(x0), float(y0), float(crop.shape[1]), float(crop.shape[0])]


@settings(max_examples=300, deadline=None)
@given(odd_runs())
def test_mask_boxes_are_the_pixels_box(frame: tuple[int, int, list[list[int]]]) -> None:
    """Runs of length zero (first, inside, last), an odd number of runs, runs crossing
    columns, no pixels at all: the box of the pixels, zeros for none (where toBbox gives
    a box past the frame for runs that end in an empty one)."""
    h, w, cases = frame
    strings = [compressed(c, h, w) for c in cases]
    expected = [_pixel_box(c, h, w) for c in cases]
    assert rle.rle_boxes(strings, h, w).tolist() == expected
    boxes = [rle.mask_bbox(Mask(s, h, w)) for s in strings]
    assert [[b.left, b.top, b.width, b.height] for b in boxes] == expected


def test_encode_rejects_3d() -> None:
    with pytest.raises(ValueError, match="2-D"):
        rle.encode_mask(np.zeros((2, 2, 2)))


# --- tracing ------------------------------------------------------------------------------


@given(masks_2d)
@settings(max_examples=300, deadline=None)
def test_trace_then_rasterise_gives_the_mask_back(binary: np.ndarray) -> None:
    if not binary.any():
        with pytest.raises(ValueError, match="empty"):
            trace.mask_to_polygon(binary)
        return
    polygon = trace.mask_to_polygon(binary)
    h, w = binary.shape
    assert np.array_equal(rings_mod.polygon_to_mask(polygon, h, w), binary)
    shape = _shape(polygon)
    assert shape.is_valid, shapely.is_valid_reason(shape)
    assert shape.area == binary.sum()  # along pixel edges: area is the pixel count
    coords = shapely.get_coordinates(shape)
    assert np.array_equal(coords, np.rint(coords))


def _upsampled_trace(binary: np.ndarray) -> list[list[list[float]]]:
    """Reference tracer (the engine's former method, pinch-free masks only): OpenCV on the
    mask upsampled 2x, where a border pixel lies 1/4 px inside a pixel edge."""
    big = np.repeat(np.repeat(binary.astype(np.uint8), 2, axis=0), 2, axis=1)
    contours, _ = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    rings = [rings_mod.clean_ring(np.floor((c.reshape(-1, 2) + 1) / 2.0)) for c in contours]
    return sorted(r.tolist() for r in rings if len(r) >= 3)


@given(masks_2d)
@settings(max_examples=300, deadline=None)
def test_trace_matches_the_upsampled_reference_and_traced_form(binary: np.ndarray) -> None:
    parts = trace.trace_parts(binary)
    rings = [(e, True) for e, _ in parts] + [(h, False) for _, hs in parts for h in hs]
    if not trace.has_pinch(binary):
        assert sorted(r.tolist() for r, _ in rings) == _upsampled_trace(binary)
    for ring, exterior in rings:
        assert (rings_mod.signed_area(ring) < 0) == exterior  # exteriors one way, holes the other
        assert np.array_equal(rings_mod.clean_ring(ring), ring)  # no repeated or collinear vertex
        step = np.diff(ring, axis=0, append=ring[:1])
        assert np.all((step[:, 0] == 0) != (step[:, 1] == 0))  # along pixel edges only
        top = ring[ring[:, 1] == ring[:, 1].min()]
        assert ring[0].tolist() == [top[:, 0].min(), top[0, 1]]  # starts top-left-most


@given(masks_2d)
@settings(max_examples=200, deadline=None)
def test_has_pinch_is_the_2x2_diagonal_pattern(binary: np.ndarray) -> None:
    h, w = binary.shape
    expected = any(
        binary[i, j] == binary[i + 1, j + 1] != binary[i, j + 1] == binary[i + 1, j]
        for i in range(h - 1)
        for j in range(w - 1)
    )
    assert trace.has_pinch(binary) == expected


def test_pinched_trace_is_repaired_into_the_traced_form() -> None:
    binary = _grid(["###.", "#..#", "#.#.", "###."])  # a loop closed only at a corner
    parts = trace.trace_parts(binary)
    assert trace.has_pinch(binary)
    assert shapely.is_valid(rings_mod.parts_to_shape(parts))
    assert (
        sum(
            abs(rings_mod.signed_area(e)) - sum(abs(rings_mod.signed_area(h)) for h in hs)
            for e, hs in parts
        )
        == binary.sum()
    )
    for ext, holes in parts:
        assert rings_mod.signed_area(ext) < 0 and all(rings_mod.signed_area(h) > 0 for h in holes)
        assert ext[0].tolist() == min(ext.tolist(), key=lambda v: (v[1], v[0]))
    firsts = [(e[0, 1], e[0, 0]) for e, _ in parts]
    assert firsts == sorted(firsts, reverse=True)  # OpenCV's order: last found first


def test_trace_rectangle_exact_vertices() -> None:
    binary = np.zeros((6, 8), bool)
    binary[2:4, 3:6] = True
    polygon = trace.mask_to_polygon(binary)
    assert len(polygon.parts) == 1
    assert sorted(polygon.parts[0].exterior) == [(3, 2), (3, 4), (6, 2), (6, 4)]
    assert polygon.parts[0].holes == ()


def test_trace_keeps_holes_and_islands_as_parts() -> None:
    binary = _grid(
        [
            "#######",
            "#.....#",
            "#.###.#",
            "#.#.#.#",
            "#.###.#",
            "#.....#",
            "#######",
        ]
    )
    polygon = trace.mask_to_polygon(binary)
    parts = sorted(polygon.parts, key=lambda p: -abs(rings_mod.signed_area(np.array(p.exterior))))
    assert len(parts) == 2  # the frame with its hole, the island with its own hole
    assert [len(p.holes) for p in parts] == [1, 1]
    assert _shape(polygon).area == binary.sum()
    assert np.array_equal(rings_mod.polygon_to_mask(polygon, 7, 7), binary)


@pytest.mark.parametrize(
    "rows",
    [
        ["#"],  # one pixel
        ["#####"],  # one-pixel-wide line
        ["#", "#", "#"],
        ["#..", ".#.", "..#"],  # diagonal staircase: pixels meet only at corners
        ["##.", "#.#", ".##"],  # hole pinched at two corners
        ["###", "###"],  # fills the whole frame: touches every image edge
    ],
)
def test_trace_thin_pinched_and_edge_touching(rows: list[str]) -> None:
    binary = _grid(rows)
    polygon = trace.mask_to_polygon(binary)
    assert np.array_equal(rings_mod.polygon_to_mask(polygon, *binary.shape), binary)
    assert _shape(polygon).is_valid
    assert _shape(polygon).area == binary.sum()


def test_trace_accepts_mask_objects_with_offsets() -> None:
    binary = np.zeros((20, 30), bool)
    binary[5:9, 10:12] = True
    polygon = trace.mask_to_polygon(rle.encode_mask(binary))
    assert sorted(polygon.parts[0].exterior) == [(10, 5), (10, 9), (12, 5), (12, 9)]


# --- rasterising --------------------------------------------------------------------------


def test_polygon_to_mask_uses_pixel_centres_half_open() -> None:
    square = Polygon.from_ring([(0.5, 0.5), (2.5, 0.5), (2.5, 2.5), (0.5, 2.5)])
    out = rings_mod.polygon_to_mask(square, 4, 4)
    # centres 0.5 and 1.5 are inside [0.5, 2.5); 2.5 is on the right/bottom edge: outside
    assert np.argwhere(out).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_polygon_to_mask_cuts_holes_and_ors_parts() -> None:
    part = PolygonPart(((0, 0), (4, 0), (4, 4), (0, 4)), (((1, 1), (3, 1), (3, 3), (1, 3)),))
    other = PolygonPart(((5, 0), (6, 0), (6, 1), (5, 1)))
    out = rings_mod.polygon_to_mask(Polygon((part, other)), 4, 6)
    assert out.sum() == 16 - 4 + 1
    assert not out[1:3, 1:3].any()


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=3, max_size=9),
    st.integers(0, 7),
    st.integers(0, 7),
)
@settings(max_examples=150, deadline=None)
def test_raster_does_not_depend_on_the_origin(pts: list[tuple[int, int]], x0: int, y0: int) -> None:
    ring = np.array(pts, dtype=np.float64)
    full = rings_mod.rings_to_mask([ring], 40, 40)
    part = rings_mod.rings_to_mask([ring], 40 - y0, 40 - x0, origin=(x0, y0))
    assert np.array_equal(part, full[y0:, x0:])


def test_rasterize_kinds() -> None:
    assert geo.rasterize(Box(1, 1, 2, 3), 5, 5).sum() == 6
    rotated = geo.rasterize(Box(0, 0, 4, 4, rotation=math.pi / 2), 4, 4)
    assert rotated.all()  # a square turned by 90 degrees covers the same pixels
    disc = geo.rasterize(Ellipse(50, 50, 20, 10), 100, 100)
    assert abs(int(disc.sum()) - math.pi * 200) < 20
    binary = np.eye(4, dtype=bool)
    assert np.array_equal(geo.rasterize(rle.encode_mask(binary), 4, 4), binary)
    with pytest.raises(ValueError, match="raster is"):
        geo.rasterize(rle.encode_mask(binary), 5, 4)
    with pytest.raises(ValueError, match="no area"):
        geo.rasterize(Line(((0, 0), (1, 1))), 4, 4)


def test_iou() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert rings_mod.iou(a, b) == 1.0
    a[:2] = True
    b[1:3] = True
    assert rings_mod.iou(a, b) == pytest.approx(4 / 12)


# --- keyholes -----------------------------------------------------------------------------


@given(masks_2d)
@settings(max_examples=200, deadline=None)
def test_keyhole_is_one_near_valid_ring_with_the_same_pixels(binary: np.ndarray) -> None:
    if not binary.any():
        return
    for part in trace.mask_to_polygon(binary).parts:
        ring = keyhole.keyhole(part)
        assert len(ring) <= len(part.exterior) + sum(len(h) + 2 for h in part.holes)
        original = shapely.Polygon(part.exterior, part.holes)
        assert abs(rings_mod.signed_area(np.array(ring))) == pytest.approx(original.area)
        reason = shapely.is_valid_reason(shapely.Polygon(ring))
        if part.holes:  # the zero-width cuts are the only defect shapely sees
            assert reason == "Valid Geometry" or reason.startswith(
                ("Self-intersection", "Ring Self-intersection")
            )
        else:
            assert reason == "Valid Geometry"
        # same pixels at 1x and 4x (a cut with width, or an overlap, would show at 4x)
        h, w = binary.shape
        for k in (1, 4):
            scaled = PolygonPart(
                tuple((x * k, y * k) for x, y in part.exterior),
                tuple(tuple((x * k, y * k) for x, y in hole) for hole in part.holes),
            )
            want = rings_mod.polygon_to_mask(Polygon((scaled,)), h * k, w * k)
            got = rings_mod.polygon_to_mask(
                Polygon.from_ring(keyhole.keyhole(scaled)), h * k, w * k
            )
            assert np.array_equal(got, want)


def test_keyhole_several_holes_rightmost_first() -> None:
    exterior = ((0, 0), (20, 0), (20, 10), (0, 10))
    holes = (((2, 2), (2, 4), (4, 4), (4, 2)), ((12, 6), (12, 8), (15, 8), (15, 6)))
    ring = keyhole.keyhole(PolygonPart(exterior, holes))
    assert len(ring) == 4 + 2 * (4 + 2)
    assert shapely.Polygon(ring).area == pytest.approx(200 - 4 - 6)
    assert not shapely.is_simple(shapely.LineString([*ring, ring[0]]))  # the cuts repeat


# --- budgets ------------------------------------------------------------------------------


def _circle(n: int, r: float = 50.0) -> tuple[tuple[float, float], ...]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return tuple(zip((r * np.cos(t) + 60).tolist(), (r * np.sin(t) + 60).tolist(), strict=True))


@pytest.mark.parametrize("budget", [3, 4, 10, 32, 100])
def test_simplify_to_budget_is_within_and_close_to_budget(budget: int) -> None:
    ring = _circle(400)
    out = simplify.simplify_to_budget(ring, budget)
    assert 3 <= len(out) <= budget
    assert len(out) >= budget * 0.7  # bisection finds the least-lossy tolerance
    assert shapely.Polygon(out).is_valid


def test_simplify_to_budget_leaves_small_rings_alone_and_densifies_to_min() -> None:
    square = ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0))
    assert simplify.simplify_to_budget(square, 10) == square
    out = simplify.simplify_to_budget(_circle(100), 5, min_vertices=5)
    assert len(out) == 5
    with pytest.raises(ValueError):
        simplify.simplify_to_budget(((0, 0), (1, 1), (2, 2)), 10)


def test_simplify_part_counts_keyhole_cost() -> None:
    ext = np.array(_circle(200, 40))
    hole = np.array(_circle(100, 10))
    out = simplify.simplify_part(ext, [hole], 30)
    assert out is not None
    e, hs = out
    assert len(e) + sum(len(h) + 2 for h in hs) <= 30
    assert shapely.Polygon(e, hs).is_valid
    assert simplify.simplify_part(ext, [hole] * 1, 6) is None  # 3 + 3 + 2 > 6


def test_densify_to_splits_longest_edges_first() -> None:
    ring = ((0.0, 0.0), (10.0, 0.0), (10.0, 1.0), (0.0, 1.0))
    out = simplify.densify_to(ring, 6)
    assert len(out) == 6
    assert shapely.Polygon(out).area == pytest.approx(10.0)
    assert (5.0, 0.0) in out and (5.0, 1.0) in out
    line = simplify.densify_to(((0.0, 0.0), (9.0, 0.0)), 4, closed=False)
    assert line == ((0.0, 0.0), (3.0, 0.0), (6.0, 0.0), (9.0, 0.0))


# --- writer conversions -------------------------------------------------------------------


def test_ellipse_vertices_and_bounds() -> None:
    e = Ellipse(10, 20, 4, 2)
    assert geo.ellipse_vertices(e) == [(6, 20), (10, 18), (14, 20), (10, 22)]
    assert geo.ellipse_bounds(e) == (6, 18, 14, 22)
    turned = geo.ellipse_vertices(Ellipse(0, 0, 4, 2, rotation=math.pi / 2))
    assert np.allclose(turned, [(0, -4), (2, 0), (0, 4), (-2, 0)])


def test_rotated_box_vertices() -> None:
    assert geo.rotated_box_vertices(Box(0, 0, 4, 2)) == [(0, 0), (4, 0), (4, 2), (0, 2)]
    turned = geo.rotated_box_vertices(Box(0, 0, 4, 2, rotation=math.pi / 2))
    assert np.allclose(turned, [(3, -1), (3, 3), (1, 3), (1, -1)])


def test_mask_helpers_on_an_empty_mask() -> None:
    empty = rle.encode_mask(np.zeros((3, 4), bool))
    assert isinstance(empty, Mask)
    assert rle.mask_area(empty) == 0
    assert rle.decode_cropped(empty)[0].size == 0
