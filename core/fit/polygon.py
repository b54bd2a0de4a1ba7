"""Polygon targets: masks traced, input polygons repaired; clipped, split, budgeted, keyholed."""

from __future__ import annotations

import numpy as np
import shapely

from prelabel.fit.run import MIN_AREA, Drop, Run, Tally, inside, to_min_vertices, unsupported
from prelabel.geometry import keyhole, rle, simplify, trace
from prelabel.geometry import primitives as geo
from prelabel.geometry import rings as rings_mod
from prelabel.model import Box, Geometry, Mask, Polygon

# relative cross product under which a turn back along the same line counts as a spike
SPIKE = 1e-9
# repaired shapes snap to this grid (px): GEOS's repairs can leave vertices 1e-16 apart
REPAIR_GRID = 1e-9

# holes = "best": at most this many of a simplified part's smallest holes are tried filled
# (one at a time, while the IoU gets better)
FILL_TRIES = 8

# fix kinds that change a traced shape's area (the others keep its pixels exactly)
LOSSY = frozenset({"clipped", "largest", "filled", "simplified", "dropped"})


def fit_polygon(geometry: Geometry, run: Run) -> list[Geometry]:
    if isinstance(geometry, Mask):
        return _fit_mask_polygon(geometry, run)
    if isinstance(geometry, Polygon):
        shape = _valid_input_shape(geometry, run)
    elif isinstance(geometry, Box):
        shape = shapely.Polygon(geo.rotated_box_vertices(geometry))
        if not shapely.area(shape) > MIN_AREA:
            raise run.fail("degenerate: zero area box")
    else:
        raise unsupported(geometry, "polygon", run)
    reference = shape
    shape = _clip_shape(shape, run)
    parts = rings_mod.shape_to_parts(shape)
    if any(f.startswith("repaired") for f in run.fixes):
        parts = _clean_parts(parts)
    parts = _choose_parts(parts, run)
    kept, rings = _fit_parts(parts, run)
    run.iou = _shape_iou(reference, kept) if run.fixes else 1.0
    return [Polygon.from_ring(rings_mod.to_ring(r)) for r in rings]


def _fit_mask_polygon(mask: Mask, run: Run) -> list[Geometry]:
    crop, x0, y0 = rle.decode_cropped(mask)
    if crop.size == 0:
        raise run.fail("empty: mask has no pixels")
    parts = trace.trace_parts(crop)
    offset = np.array([x0, y0], dtype=np.float64)
    parts = traced = [(e + offset, [h + offset for h in hs]) for e, hs in parts]
    box = (x0, y0, x0 + crop.shape[1], y0 + crop.shape[0])  # the traced rings' exact bounds
    if run.bounds is not None and not inside(box, run.bounds):
        parts = rings_mod.shape_to_parts(_clip_shape(rings_mod.parts_to_shape(parts), run))
    parts = _choose_parts(parts, run)
    _, rings = _fit_parts(parts, run, traced=True)
    run.iou = _mask_iou(rings, traced) if _lossy(run.fixes) else 1.0
    return [Polygon.from_ring(rings_mod.to_ring(r)) for r in rings]


def _lossy(fixes: list[str]) -> bool:
    """Whether a fix changed the traced area (tracing, splitting, keyholes and densifying
    do not: the rings then rasterise to the mask exactly)."""
    return any(f.split(":", 1)[0] in LOSSY for f in fixes)


def _mask_iou(rings: list[rings_mod.Coords], traced: list[rings_mod.PartArrays]) -> float:
    """IoU by pixel centres of the rings (each its own annotation: OR-ed, they may overlap)
    with the mask, given exactly by its ``traced`` parts."""
    mask_rings = [r for e, hs in traced for r in (e, *hs)]
    weights = [w for _, hs in traced for w in (1, *(-1 for _ in hs))]
    return rings_mod.weighted_iou(rings, [1] * len(rings), mask_rings, weights)


def _clean_parts(parts: list[rings_mod.PartArrays]) -> list[rings_mod.PartArrays]:
    """Repaired parts without zero-width spikes (``make_valid`` can leave one collinear
    there-and-back vertex, which densifying would turn into overlapping edges)."""
    out: list[rings_mod.PartArrays] = []
    for ext, holes in parts:
        ext = _drop_spikes(ext)
        if len(ext) >= 3:
            out.append((ext, [h for h in map(_drop_spikes, holes) if len(h) >= 3]))
    return out


def _drop_spikes(ring: rings_mod.Coords) -> rings_mod.Coords:
    """:func:`~prelabel.geometry.rings.clean_ring`, then vertices where the ring turns back on
    itself to within float noise (a cross product under 1e-9 of the edge lengths' product)."""
    pts = rings_mod.clean_ring(ring)
    while len(pts) >= 3:
        a = pts - np.roll(pts, 1, axis=0)
        b = np.roll(pts, -1, axis=0) - pts
        cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        dot = (a * b).sum(axis=1)
        lengths = np.hypot(a[:, 0], a[:, 1]) * np.hypot(b[:, 0], b[:, 1])
        spike = (dot < 0) & (cross <= SPIKE * lengths)
        if not spike.any():
            return pts
        pts = rings_mod.clean_ring(pts[~spike])
    return pts[:0]


def _valid_input_shape(polygon: Polygon, run: Run) -> shapely.Geometry:
    """The input polygon as a valid shapely geometry (repaired under ``fix``)."""
    parts: list[rings_mod.PartArrays] = []
    for part in polygon.parts:
        ext = rings_mod.clean_ring(rings_mod.ring_array(part.exterior))
        if len(ext) >= 3:
            holes = [rings_mod.clean_ring(rings_mod.ring_array(h)) for h in part.holes]
            parts.append((ext, [h for h in holes if len(h) >= 3]))
    if not parts:
        raise run.fail("degenerate: fewer than 3 distinct vertices")
    shape = rings_mod.parts_to_shape(parts)
    if not shapely.is_valid(shape):
        reason = shapely.is_valid_reason(shape).split("[")[0]
        run.violation(f"invalid: {reason}")
        shape = shapely.set_precision(_repair(shape), REPAIR_GRID)
        run.fixes.append(f"repaired: {reason.lower()} (make_valid)")
    if not shapely.area(shape) > MIN_AREA:
        raise run.fail("degenerate: zero area")
    return shape


def _repair(shape: shapely.Geometry) -> shapely.Geometry:
    """A valid polygonal version of ``shape``: ``make_valid`` (structure, then linework
    polygons), then a zero buffer if GEOS still leaves it invalid."""
    out = shapely.make_valid(shape, method="structure", keep_collapsed=False)
    if not shapely.is_valid(out):
        pieces = rings_mod.shape_to_parts(shapely.make_valid(shape))
        out = shapely.union_all([shapely.Polygon(e, hs) for e, hs in pieces])
    return out if shapely.is_valid(out) else shapely.buffer(out, 0)


def _clip_shape(shape: shapely.Geometry, run: Run) -> shapely.Geometry:
    """Clip a valid polygonal shape to the bounds (a violation when anything is cut)."""
    b = run.bounds
    if b is None or inside(tuple(shapely.bounds(shape)), b):
        return shape
    run.violation("outside: polygon extends past the padded image")
    clipped = shapely.intersection(shape, shapely.box(b.x0, b.y0, b.x1, b.y1))
    if not rings_mod.shape_to_parts(clipped) or not shapely.area(clipped) > MIN_AREA:
        raise Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    return clipped


def _choose_parts(parts: list[rings_mod.PartArrays], run: Run) -> list[rings_mod.PartArrays]:
    if len(parts) <= 1:
        return parts
    if run.policy.parts == "largest":
        areas = [
            abs(rings_mod.signed_area(e)) - sum(abs(rings_mod.signed_area(h)) for h in hs)
            for e, hs in parts
        ]
        run.fixes.append(f"largest: kept 1 of {len(parts)} parts")
        return [parts[int(np.argmax(areas))]]
    run.fixes.append(f"split: {len(parts)} parts -> {len(parts)} annotations")
    return parts


def _fit_parts(
    parts: list[rings_mod.PartArrays], run: Run, *, traced: bool = False
) -> tuple[list[rings_mod.PartArrays], list[rings_mod.Coords]]:
    """Each part to one ring within the vertex budget; returns kept parts and their rings."""
    tally = Tally()
    kept: list[rings_mod.PartArrays] = []
    rings: list[rings_mod.Coords] = []
    for ext, holes in parts:
        fitted = _fit_part(ext, holes, run, tally, traced)
        if fitted is not None:
            kept.append(fitted[0])
            rings.append(fitted[1])
    run.fixes.extend(tally.texts())
    if not rings:
        raise run.fail("degenerate: no part with area and 3 distinct vertices")
    return kept, rings


def _fit_part(
    ext: rings_mod.Coords, holes: list[rings_mod.Coords], run: Run, tally: Tally, traced: bool
) -> tuple[rings_mod.PartArrays, rings_mod.Coords] | None:
    holes = _filter_holes(holes, run, tally)
    ext, holes = _to_budget(ext, holes, run, tally, traced)
    ring = keyhole.keyhole_arrays(ext, holes) if holes else ext
    tally.bridged += len(holes)
    area = rings_mod.signed_area(ring) if len(ring) >= 3 else 0.0
    if not abs(area) > MIN_AREA:
        tally.degenerate += 1
        return None
    if area < 0:  # one orientation for every output: clockwise on screen (y down)
        ring = np.concatenate((ring[:1], ring[:0:-1]))
    return (ext, holes), to_min_vertices(ring, run, tally)


def _filter_holes(holes: list[rings_mod.Coords], run: Run, tally: Tally) -> list[rings_mod.Coords]:
    if not holes:
        return holes
    if run.policy.holes == "fill":
        tally.filled += len(holes)
        return []
    if run.policy.min_hole_area <= 0:
        return holes
    kept = [h for h in holes if abs(rings_mod.signed_area(h)) >= run.policy.min_hole_area]
    tally.filled_small += len(holes) - len(kept)
    return kept


def _to_budget(
    ext: rings_mod.Coords, holes: list[rings_mod.Coords], run: Run, tally: Tally, traced: bool
) -> rings_mod.PartArrays:
    limit = run.limits.max_vertices
    count = len(ext) + sum(len(h) + 2 for h in holes)
    if limit is None or count <= limit:
        return ext, holes
    run.violation(f"too many vertices: {count} > max_vertices {limit}")
    limit = max(limit, 3)
    reference = [ext, *holes]
    holes = sorted(holes, key=lambda r: -abs(rings_mod.signed_area(r)))  # largest first
    out = simplify.simplify_part(ext, holes, limit, traced=traced)
    while out is None:  # holes alone are over budget: fill the smallest first
        if not holes:
            raise run.fail(f"too many vertices: cannot simplify {count} to {limit}")
        holes = holes[:-1]
        tally.dropped_holes += 1
        out = simplify.simplify_part(ext, holes, limit, traced=traced)
    if run.policy.holes == "best":
        out, filled = _fill_while_better(ext, holes, out, reference, limit, traced)
        tally.dropped_holes += filled
    tally.simplified += 1
    tally.before += count
    tally.after += len(out[0]) + sum(len(h) + 2 for h in out[1])
    return out


def _fill_while_better(
    ext: rings_mod.Coords,
    holes: list[rings_mod.Coords],
    out: rings_mod.PartArrays,
    reference: list[rings_mod.Coords],
    limit: int,
    traced: bool,
) -> tuple[rings_mod.PartArrays, int]:
    """``holes = "best"``: each hole costs its vertices + 2 of the budget, so fill the
    smallest (``holes`` come largest first) while the vertices it frees for the rest buy
    more IoU with the unsimplified part than the hole is worth. Returns the result and how
    many holes it filled."""
    score = simplify.part_iou([out[0], *out[1]], reference)
    filled = 0
    for _ in range(min(len(holes), FILL_TRIES)):
        fewer = simplify.simplify_part(ext, holes[:-1], limit, traced=traced)
        if (
            fewer is None
            or (better := simplify.part_iou([fewer[0], *fewer[1]], reference)) <= score
        ):
            break
        out, holes, score, filled = fewer, holes[:-1], better, filled + 1
    return out, filled


def _shape_iou(reference: shapely.Geometry, kept: list[rings_mod.PartArrays]) -> float:
    result = shapely.union_all([shapely.Polygon(e, hs) for e, hs in kept])
    union = shapely.area(shapely.union(reference, result))
    if not union > 0:
        return 0.0
    return float(shapely.area(shapely.intersection(reference, result)) / union)
