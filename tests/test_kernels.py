"""The compiled kernels give exactly what their numpy (or plain Python) versions give, and the
mask -> polygon results do not depend on whether numba is there."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from unittest.mock import patch

import cv2
import numpy as np
import orjson
import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils
from rle_cases import compressed, odd_runs

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.fit.warmup import exercise, warm_up
from prelabel.geometry import rings as rings_mod
from prelabel.geometry import rle, trace
from prelabel.geometry.kernels import loader as kernels
from prelabel.geometry.kernels import simplify
from prelabel.geometry.simplify import midpoint_ring
from prelabel.geometry.trace import _CORNERS, _SIDES, _edge_ring
from prelabel.model import Mask, Polygon

RESULTS = "cocoapi/results/instances_val2014_fakesegm100_results.json"
COMPILED = kernels.compiled(wait=True)
# every module that picks the compiled kernels or its numpy path
USERS = (
    "prelabel.geometry.rle",
    "prelabel.geometry.trace",
    "prelabel.geometry.rings",
    "prelabel.geometry.simplify",
)


@contextlib.contextmanager
def numpy_only() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for module in USERS:
            stack.enter_context(patch(f"{module}.compiled", lambda: None))
        yield


def real_masks(shared: Path) -> list[Mask]:
    records = orjson.loads((shared / RESULTS).read_bytes())
    return [Mask(r["segmentation"]["counts"].encode(), *r["segmentation"]["size"]) for r in records]


masks_2d = arrays(
    np.bool_,
    st.tuples(st.integers(1, 14), st.integers(1, 14)),
    elements=st.booleans(),
)


def test_numba_is_there() -> None:
    """CI installs numba (a dependency): the compiled path is the one measured and shipped."""
    assert COMPILED is not None


def test_decode_crop_equals_numpy_on_real_masks(shared: Path) -> None:
    assert COMPILED is not None
    for m in real_masks(shared):
        crop, x0, y0 = COMPILED.decode_crop(np.frombuffer(m.counts, np.uint8), m.height, m.width)
        with numpy_only():
            ref, rx, ry = rle.decode_cropped(m)
        assert (x0, y0) == (rx, ry)
        assert np.array_equal(crop.view(bool), ref)


def test_mask_boxes_in_one_call_are_pycocotools_boxes_on_real_masks(shared: Path) -> None:
    by_size: dict[tuple[int, int], list[bytes]] = {}
    for m in real_masks(shared):
        by_size.setdefault((m.height, m.width), []).append(m.counts)
    for (h, w), strings in by_size.items():
        expected = mask_utils.toBbox([{"size": [h, w], "counts": s} for s in strings]).tolist()
        boxes = rle.whole_mask_boxes(strings, h, w)
        with numpy_only():
            assert rle.whole_mask_boxes(strings, h, w) == boxes
        assert boxes is not None and [list(b) for b in boxes if b is not None] == expected
    assert len(by_size) >= 50


@settings(max_examples=300, deadline=None)
@given(odd_runs(), st.integers(-2, 2))
def test_mask_boxes_in_one_call_equal_numpy(
    frame: tuple[int, int, list[list[int]]], off: int
) -> None:
    """Zero-length runs, odd run counts, runs crossing columns, no pixels: the kernel gives
    the boxes pycocotools' way gives; runs that miss the frame's size by ``off`` pixels,
    or a string cut short, fail the check both ways."""
    h, w, cases = frame
    runs = cases[0]
    if off:
        runs[-1] = max(0, runs[-1] + off)
    strings = [compressed(c, h, w) for c in cases]
    boxes = rle.whole_mask_boxes(strings, h, w)
    with numpy_only():
        assert rle.whole_mask_boxes(strings, h, w) == boxes
    if sum(runs) != h * w:
        assert boxes is None
        return
    expected = [rle.mask_bbox(Mask(s, h, w)) for s in strings]
    assert boxes == [(b.left, b.top, b.width, b.height) if b.width else None for b in expected]
    assert rle.whole_mask_boxes([strings[0][:-1] + b"P"], h, w) is None  # ends inside a value


@settings(max_examples=150, deadline=None)
@given(masks_2d, st.integers(0, 3), st.integers(0, 3))
def test_decode_crop_equals_numpy_on_random_masks(binary: np.ndarray, px: int, py: int) -> None:
    assert COMPILED is not None
    frame = np.zeros((binary.shape[0] + py + 2, binary.shape[1] + px + 1), bool)
    frame[py : py + binary.shape[0], px : px + binary.shape[1]] = binary
    m = rle.encode_mask(frame)
    crop, x0, y0 = COMPILED.decode_crop(np.frombuffer(m.counts, np.uint8), m.height, m.width)
    with numpy_only():
        ref, rx, ry = rle.decode_cropped(m)
    assert crop.shape == ref.shape and np.array_equal(crop.view(bool), ref)
    if ref.size:
        assert (x0, y0) == (rx, ry)


@settings(max_examples=150, deadline=None)
@given(masks_2d)
def test_edge_ring_equals_numpy(binary: np.ndarray) -> None:
    assert COMPILED is not None
    contours, _ = cv2.findContours(binary.view(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    for c in contours:
        chain = np.asarray(c, np.int32).reshape(-1, 2)
        assert np.array_equal(COMPILED.edge_ring(chain, _SIDES, _CORNERS), _edge_ring(chain))


def _dp_reference(ring: np.ndarray, tolerance: float) -> set[int]:
    """Plain recursive Douglas-Peucker with the ranking's first split (the vertex farthest
    from vertex 0, and the one farthest from that): the indices it keeps."""
    n = len(ring)
    a = int(np.argmax(((ring - ring[0]) ** 2).sum(axis=1)))
    b = int(np.argmax(((ring - ring[a]) ** 2).sum(axis=1)))
    lo, hi = min(a, b), max(a, b)
    kept = {a, b}

    def split(i: int, j: int) -> None:
        if j - i < 2:
            return
        p0, p1 = ring[i % n], ring[j % n]
        d = p1 - p0
        norm = float(np.sqrt(d @ d))
        idx = np.arange(i + 1, j)
        p = ring[idx % n] - p0
        dist = np.abs(d[0] * p[:, 1] - d[1] * p[:, 0]) / norm if norm > 0 else np.hypot(*p.T)
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            kept.add(int(idx[k] % n))
            split(i, int(idx[k]))
            split(int(idx[k]), j)

    split(lo, hi)
    split(hi, lo + n)
    return kept


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=3, max_size=40),
    st.sampled_from([0.0, 0.3, 0.5, 1.0, 2.5, 6.0]),
)
def test_dp_ranks_reproduce_douglas_peucker(
    points: list[tuple[int, int]], tolerance: float
) -> None:
    """Keeping the vertices ranked above a tolerance is Douglas-Peucker at that tolerance;
    compiled and plain Python ranks agree bit for bit."""
    assert COMPILED is not None
    ring = np.asarray(points, np.float64) / 2
    ranks = COMPILED.dp_ranks(ring)
    assert np.array_equal(ranks, simplify.dp_ranks(ring))
    assert set(np.flatnonzero(ranks > tolerance).tolist()) == _dp_reference(ring, tolerance)


@settings(max_examples=200, deadline=None)
@given(masks_2d)
def test_midpoint_rings_rasterise_to_the_mask(binary: np.ndarray) -> None:
    """The midpoint form of a traced part covers exactly the same pixel centres."""
    for ext, holes in trace.trace_parts(binary):
        rings = [midpoint_ring(r) for r in (ext, *holes)]
        assert all(len(r) >= 4 for r in rings)
        exact = rings_mod.rings_to_mask([ext, *holes], *binary.shape)
        part = rings_mod.rings_to_mask(rings, *binary.shape)
        assert np.array_equal(part, exact)


@pytest.mark.parametrize("budget", [12, 32, 100])
def test_fit_results_do_not_depend_on_numba(shared: Path, budget: int) -> None:
    """The same polygons, IoU and fixes with the compiled kernels and without numba."""
    limits = GeometryLimits("polygon", max_vertices=budget)
    for m in real_masks(shared)[::9]:
        bounds = Bounds.for_image(m.width, m.height)
        fast = fit_geometry(m, "polygon", limits, bounds, FitPolicy())
        with numpy_only():
            slow = fit_geometry(m, "polygon", limits, bounds, FitPolicy())
        assert fast.geometries == slow.geometries
        assert fast.fixes == slow.fixes
        assert fast.iou == slow.iou


@settings(max_examples=200, deadline=None)
@given(masks_2d)
def test_pinch_flag_and_midpoints_equal_plain_versions(binary: np.ndarray) -> None:
    """The pinch flag read off the border chains equals the 2x2 scan; compiled midpoint
    rings equal the interpreted ones."""
    from prelabel.geometry.trace import _rings, has_pinch

    assert COMPILED is not None
    traced = _rings(np.ascontiguousarray(binary))
    if traced is not None:
        assert traced[2] == has_pinch(binary)
    for ext, holes in trace.trace_parts(binary):
        for ring in (ext, *holes):
            assert np.array_equal(COMPILED.midpoint_ring(ring), simplify.midpoint_ring(ring))
    # not along pixel edges: refused
    assert COMPILED.midpoint_ring(np.array([[0.0, 0.0], [2.0, 1.0], [0.0, 2.0]])).shape == (0, 2)
    assert COMPILED.midpoint_ring(np.array([[0.5, 0.0], [2.0, 0.0], [2.0, 2.0]])).shape == (0, 2)


def _canonical(
    parts: list[tuple[np.ndarray, list[np.ndarray]]],
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """make_valid's parts in the traced form: rings start top-left, exteriors clockwise on
    screen, parts and holes in reverse raster order of their first vertex."""

    def top_left(ring: np.ndarray, exterior: bool) -> np.ndarray:
        if (rings_mod.signed_area(ring) < 0) != exterior:
            ring = ring[::-1]
        top = np.flatnonzero(ring[:, 1] == ring[:, 1].min())
        k = int(top[np.argmin(ring[top, 0])])
        return np.concatenate((ring[k:], ring[:k]))

    def first(ring: np.ndarray) -> tuple[float, float]:
        return float(ring[0, 1]), float(ring[0, 0])

    out = [
        (top_left(e, True), sorted((top_left(h, False) for h in hs), key=first, reverse=True))
        for e, hs in parts
    ]
    return sorted(out, key=lambda part: first(part[0]), reverse=True)


@settings(max_examples=300, deadline=None)
@given(masks_2d)
def test_pinch_repair_equals_make_valid(binary: np.ndarray) -> None:
    """Tracing each 4-connected component alone gives exactly the parts shapely's
    make_valid (structure) makes of the self-touching 8-connected trace, and the trace needs
    that exactly when a pinch joined 4-connected components."""
    import shapely

    from prelabel.geometry.trace import _by_4_components, _parts

    parts, pinch = _parts(binary)
    if not (pinch and parts):
        return
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8), connectivity=4)
    # the trace is valid exactly when no pinch joined 4-connected components
    assert shapely.is_valid(rings_mod.parts_to_shape(parts)) == (n - 1 == len(parts))
    if n - 1 == len(parts):
        assert _same_parts(trace.trace_parts(binary), parts)
        return
    repaired = shapely.make_valid(rings_mod.parts_to_shape(parts), method="structure")
    expected = _canonical(rings_mod.shape_to_parts(repaired))
    got = _by_4_components(labels, stats)
    assert _same_parts(trace.trace_parts(binary), got)
    assert shapely.is_valid(rings_mod.parts_to_shape(got))
    assert _same_parts(got, expected)


def _same_parts(a: list[rings_mod.PartArrays], b: list[rings_mod.PartArrays]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(e1, e2)
        and len(h1) == len(h2)
        and all(np.array_equal(x, y) for x, y in zip(h1, h2, strict=True))
        for (e1, h1), (e2, h2) in zip(a, b, strict=True)
    )


def _part(rings: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    arrays = [np.asarray(r, np.float64) for r in rings]
    return np.concatenate(arrays), np.cumsum([0, *(len(r) for r in arrays)])


@pytest.mark.parametrize(
    ("rings", "simple"),
    [
        ([[(0, 0), (4, 0), (4, 4), (0, 4)]], True),
        ([[(0, 0), (4, 0), (4, 4), (0, 4)], [(1, 1), (1, 2), (2, 2)]], True),
        ([[(0, 0), (4, 0), (0, 4), (4, 4)]], False),  # bow tie
        ([[(0, 0), (4, 0), (4, 4), (0, 4)], [(0, 0), (1, 2), (2, 2)]], False),  # hole touches
        ([[(0, 0), (4, 0), (4, 4), (0, 4)], [(5, 5), (5, 6), (6, 6)]], False),  # hole outside
        (
            [
                [(0, 0), (4, 0), (4, 4), (0, 4)],
                [(1, 1), (1, 3), (3, 3)],
                [(1.5, 2), (1.5, 2.5), (2, 2.5)],
            ],
            False,
        ),
        ([[(0, 0), (4, 0), (4, 4), (2, 4), (2, 6), (2, 4), (0, 4)]], False),  # spike
        ([[(0, 0), (2, 0), (4, 0), (2, 0.0), (2, 3)]], False),  # folds back
        ([[(0, 0), (4, 0), (8, 0)]], False),  # no area
        ([[(0, 0), (4, 0)]], False),
    ],
)
def test_simple_part_cases(rings: list[list[tuple[float, float]]], simple: bool) -> None:
    assert COMPILED is not None
    points, starts = _part(rings)
    assert COMPILED.simple_part(points, starts) is simple
    assert simplify.simple_part(points, starts) is simple


@settings(max_examples=200, deadline=None)
@given(masks_2d, st.integers(4, 40))
def test_ranked_simplification_is_valid_and_within_budget(binary: np.ndarray, budget: int) -> None:
    """Whatever the ranking keeps is a valid polygon within the keyholed budget, and a part
    the compiled check calls simple is valid for GEOS too."""
    import shapely

    from prelabel.geometry.simplify import _midpoint_rings, _ranked_simplify

    for ext, holes in trace.trace_parts(binary):
        mids = _midpoint_rings([ext, *holes])
        assert mids is not None
        out = _ranked_simplify([ext, *holes], mids, budget)
        if out is None:
            continue
        assert sum(len(r) for r in out) + 2 * (len(out) - 1) <= budget
        assert shapely.is_valid(shapely.Polygon(out[0], out[1:]))


def test_prelabel_jit_0_turns_the_kernels_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_STATE", kernels._State())
    monkeypatch.setenv("PRELABEL_JIT", "0")
    assert kernels.compiled(wait=True) is None
    monkeypatch.setenv("PRELABEL_JIT", "1")
    assert kernels.compiled(wait=True) is not None


def test_a_cold_cache_starts_one_background_compile_and_does_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First traced mask after an install: no 20 s wait in this process; one detached
    process compiles into the cache (its lock file names it), and the status hook says so."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_STATE", kernels._State())
    said: list[str] = []
    monkeypatch.setattr(kernels, "on_status", said.append)
    assert kernels.compiled() is None  # cold: the caller runs the fallbacks
    assert kernels.compiled() is None  # and does not start a second compile
    assert len(said) == 1 and "background" in said[0]
    lock = kernels._lock()
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text()) and not kernels._marker().exists():
        assert time.monotonic() < deadline, "no warm-up process took the lock"
        time.sleep(0.05)
    pid = int(lock.read_text()) if lock.exists() else 0
    if pid:  # don't spend CI's cores on a second compile: stop it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert lock.parent == tmp_path


def test_warm_up_compiles_every_kernel_as_real_conversions_call_it(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up's synthetic fits compile each kernel for exactly the argument types real
    fits use: fitting the real masks afterwards compiles nothing new."""
    monkeypatch.setattr(kernels, "_STATE", kernels._State())
    fresh = kernels.compiled(wait=True)
    assert fresh is not None
    exercise()
    signatures = {f.name: len(getattr(fresh, f.name).signatures) for f in fields(fresh)}
    # the kernels Python calls (the others are called only by these, compiled with them)
    entries = ("decode_crop", "edge_rings", "rings_iou", "midpoint_ring", "ranked_select")
    entries += ("rle_extents", "whole_mask_boxes")  # a results list's mask check (and boxes)
    assert all(signatures[name] for name in entries), signatures
    for m in real_masks(shared)[::7]:
        bounds = Bounds.for_image(m.width, m.height)
        for budget in (12, 100):
            limits = GeometryLimits("polygon", max_vertices=budget)
            fit_geometry(m, "polygon", limits, bounds, FitPolicy())
    assert {f.name: len(getattr(fresh, f.name).signatures) for f in fields(fresh)} == signatures


def test_warm_up_marks_the_cache_and_a_new_process_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker, lock = tmp_path / "k.warm", tmp_path / "k.lock"
    monkeypatch.setattr(kernels, "_marker", lambda: marker)
    monkeypatch.setattr(kernels, "_lock", lambda: lock)
    monkeypatch.setattr(kernels, "_STATE", kernels._State())
    lock.write_text("12345")  # another process is compiling: this one leaves it alone
    warm_up()
    assert not marker.exists() and lock.exists()
    lock.unlink()
    warm_up()
    assert marker.exists() and not lock.exists()
    monkeypatch.setattr(kernels, "_STATE", kernels._State())
    monkeypatch.setattr(kernels, "_start_warmup", lambda: pytest.fail("compiled again"))
    assert kernels.compiled() is not None


def test_cli_output_is_byte_identical_without_the_kernels(tmp_path: Path) -> None:
    """The demo COCO conversion, run by the installed CLI in two processes, with the
    compiled kernels and with PRELABEL_JIT=0: the same task bodies and report, byte for byte."""
    demo = REPO / "fixtures/demo"
    outs = {}
    for jit in ("1", "0"):
        out = tmp_path / f"jit{jit}"
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "prelabel"),
                "convert",
                "coco",
                str(demo / "instances_val2014_fakesegm100_results.json"),
                "--images",
                str(demo / "instances_val2014_100.json"),
                "-c",
                str(demo / "task.toml"),
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "PRELABEL_JIT": jit},
        )
        assert proc.returncode == 0, proc.stderr
        assert "fixed 143: simplified" in proc.stdout + proc.stderr
        outs[jit] = out
    assert (outs["1"] / "tasks.jsonl").read_bytes() == (outs["0"] / "tasks.jsonl").read_bytes()
    report = [json.loads((outs[j] / "report.json").read_bytes())["objects"] for j in ("1", "0")]
    assert report[0] == report[1]


@settings(max_examples=150, deadline=None)
@given(
    arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.booleans()),
    st.integers(3, 48),
    st.sampled_from(["keyhole", "fill"]),
)
def test_random_masks_fit_the_same_with_and_without_numba(
    binary: np.ndarray, budget: int, holes: str
) -> None:
    """Random masks (pinches, holes, specks) at random budgets: the compiled path and the
    numpy / interpreted path give the same polygons, fixes and IoU, and every polygon
    stays within the budget."""
    if not binary.any():
        return
    frame = np.zeros((binary.shape[0] + 3, binary.shape[1] + 2), bool)
    frame[2 : 2 + binary.shape[0], 1 : 1 + binary.shape[1]] = binary
    mask = rle.encode_mask(frame)
    limits = GeometryLimits("polygon", max_vertices=budget)
    bounds = Bounds.for_image(mask.width, mask.height)
    policy = FitPolicy(holes=holes)
    fast = fit_geometry(mask, "polygon", limits, bounds, policy)
    with numpy_only():
        slow = fit_geometry(mask, "polygon", limits, bounds, policy)
    assert (fast.geometries, fast.fixes, fast.iou, fast.dropped) == (
        slow.geometries,
        slow.fixes,
        slow.iou,
        slow.dropped,
    )
    for g in fast.geometries:
        assert isinstance(g, Polygon) and 3 <= len(g.parts[0].exterior) <= budget
