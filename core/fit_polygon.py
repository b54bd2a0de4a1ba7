"""Polygon targets: masks traced, input polygons repaired; clipped, split, budgeted, keyholed."""

from __future__ import annotations

import numpy as np
import shapely

from . import geometry as geo
from .fit_run import MIN_AREA, Drop, Run, Tally, inside, to_min_vertices, unsupported
from .model import Box, Geometry, Mask, Polygon

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
    parts = geo.shape_to_parts(shape)
    if any(f.startswith("repaired") for f in run.fixes):
        parts = _clean_parts(parts)
    parts = _choose_parts(parts, run)
    kept, rings = _fit_parts(parts, run)
    run.iou = _shape_iou(reference, kept) if run.fixes else 1.0
    return [Polygon.from_ring(geo.to_ring(r)) for r in rings]


def _fit_mask_polygon(mask: Mask, run: Run) -> list[Geometry]:
    crop, x0, y0 = geo.decode_cropped(mask)
    if crop.size == 0:
        raise run.fail("empty: mask has no pixels")
    parts = geo.trace_parts(crop)
    offset = np.array([x0, y0], dtype=np.float64)
    parts = traced = [(e + offset, [h + offset for h in hs]) for e, hs in parts]
    box = (x0, y0, x0 + crop.shape[1], y0 + crop.shape[0])  # the traced rings' exact bounds
    if run.bounds is not None and not inside(box, run.bounds):
        parts = geo.shape_to_parts(_clip_shape(geo.parts_to_shape(parts), run))
    parts = _choose_parts(parts, run)
    _, rings = _fit_parts(parts, run, traced=True)
    run.iou = _mask_iou(rings, traced) if _lossy(run.fixes) else 1.0
    return [Polygon.from_ring(geo.to_ring(r)) for r in rings]


def _lossy(fixes: list[str]) -> bool:
    """Whether a fix changed the traced area (tracing, splitting, keyholes and densifying
    do not: the rings then rasterise to the mask exactly)."""
    return any(f.split(":", 1)[0] in LOSSY for f in fixes)


def _mask_iou(rings: list[geo.Coords], traced: list[geo.PartArrays]) -> float:
    """IoU by pixel centres of the rings (each its own annotation: OR-ed, they may overlap)
    with the mask, given exactly by its ``traced`` parts."""
    mask_rings = [r for e, hs in traced for r in (e, *hs)]
    weights = [w for _, hs in traced for w in (1, *(-1 for _ in hs))]
    return geo.weighted_iou(rings, [1] * len(rings), mask_rings, weights)


def _clean_parts(parts: list[geo.PartArrays]) -> list[geo.PartArrays]:
    """Repaired parts without zero-width spikes (``make_valid`` can leave one collinear
    there-and-back vertex, which densifying would turn into overlapping edges)."""
    out: list[geo.PartArrays] = []
    for ext, holes in parts:
        ext = _drop_spikes(ext)
        if len(ext) >= 3:
            out.append((ext, [h for h in map(_drop_spikes, holes) if len(h) >= 3]))
    return out


def _drop_spikes(ring: geo.Coords) -> geo.Coords:
    """:func:`~prelabel.geometry.clean_ring`, then vertices where the ring turns back on
    itself to within float noise (a cross product under 1e-9 of the edge lengths' product)."""
    pts = geo.clean_ring(ring)
    while len(pts) >= 3:
        a = pts - np.roll(pts, 1, axis=0)
        b = np.roll(pts, -1, axis=0) - pts
        cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        dot = (a * b).sum(axis=1)
        lengths = np.hypot(a[:, 0], a[:, 1]) * np.hypot(b[:, 0], b[:, 1])
        spike = (dot < 0) & (cross <= SPIKE * lengths)
        if not spike.any():
            return pts
        pts = geo.clean_ring(pts[~spike])
    return pts[:0]


def _valid_input_shape(polygon: Polygon, run: Run) -> shapely.Geometry:
    """The input polygon as a valid shapely geometry (repaired under ``fix``)."""
    parts: list[geo.PartArrays] = []
    for part in polygon.parts:
        ext = geo.clean_ring(geo.ring_array(part.exterior))
        if len(ext) >= 3:
            holes = [geo.clean_ring(geo.ring_array(h)) for h in part.holes]
            parts.append((ext, [h for h in holes if len(h) >= 3]))
    if not parts:
        raise run.fail("degenerate: fewer than 3 distinct vertices")
    shape = geo.parts_to_shape(parts)
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
        pieces = geo.shape_to_parts(shapely.make_valid(shape))
        out = shapely.union_all([shapely.Polygon(e, hs) for e, hs in pieces])
    return out if shapely.is_valid(out) else shapely.buffer(out, 0)


def _clip_shape(shape: shapely.Geometry, run: Run) -> shapely.Geometry:
    """Clip a valid polygonal shape to the bounds (a violation when anything is cut)."""
    b = run.bounds
    if b is None or inside(tuple(shapely.bounds(shape)), b):
        return shape
    run.violation("outside: polygon extends past the padded image")
    clipped = shapely.intersection(shape, shapely.box(b.x0, b.y0, b.x1, b.y1))
    if not geo.shape_to_parts(clipped) or not shapely.area(clipped) > MIN_AREA:
        raise Drop("empty: nothing inside the padded image")
    run.fixes.append("clipped: to padded image")
    return clipped


def _choose_parts(parts: list[geo.PartArrays], run: Run) -> list[geo.PartArrays]:
    if len(parts) <= 1:
        return parts
    if run.policy.parts == "largest":
        areas = [
            abs(geo.signed_area(e)) - sum(abs(geo.signed_area(h)) for h in hs) for e, hs in parts
        ]
        run.fixes.append(f"largest: kept 1 of {len(parts)} parts")
        return [parts[int(np.argmax(areas))]]
    run.fixes.append(f"split: {len(parts)} parts -> {len(parts)} annotations")
    return parts


def _fit_parts(
    parts: list[geo.PartArrays], run: Run, *, traced: bool = False
) -> tuple[list[geo.PartArrays], list[geo.Coords]]:
    """Each part to one ring within the vertex budget; returns kept parts and their rings."""
    tally = Tally()
    kept: list[geo.PartArrays] = []
    rings: list[geo.Coords] = []
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
    ext: geo.Coords, holes: list[geo.Coords], run: Run, tally: Tally, traced: bool
) -> tuple[geo.PartArrays, geo.Coords] | None:
    holes = _filter_holes(holes, run, tally)
    ext, holes = _to_budget(ext, holes, run, tally, traced)
    ring = geo.keyhole_arrays(ext, holes) if holes else ext
    tally.bridged += len(holes)
    area = geo.signed_area(ring) if len(ring) >= 3 else 0.0
    if not abs(area) > MIN_AREA:
        tally.degenerate += 1
        return None
    if area < 0:  # one orientation for every output: clockwise on screen (y down)
        ring = np.concatenate((ring[:1], ring[:0:-1]))
    return (ext, holes), to_min_vertices(ring, run, tally)


def _filter_holes(holes: list[geo.Coords], run: Run, tally: Tally) -> list[geo.Coords]:
    if not holes:
        return holes
    if run.policy.holes == "fill":
        tally.filled += len(holes)
        return []
    if run.policy.min_hole_area <= 0:
        return holes
    kept = [h for h in holes if abs(geo.signed_area(h)) >= run.policy.min_hole_area]
    tally.filled_small += len(holes) - len(kept)
    return kept


def _to_budget(
    ext: geo.Coords, holes: list[geo.Coords], run: Run, tally: Tally, traced: bool
) -> geo.PartArrays:
    limit = run.limits.max_vertices
    count = len(ext) + sum(len(h) + 2 for h in holes)
    if limit is None or count <= limit:
        return ext, holes
    run.violation(f"too many vertices: {count} > max_vertices {limit}")
    limit = max(limit, 3)
    reference = [ext, *holes]
    holes = sorted(holes, key=lambda r: -abs(geo.signed_area(r)))  # largest first
    out = geo.simplify_part(ext, holes, limit, traced=traced)
    while out is None:  # holes alone are over budget: fill the smallest first
        if not holes:
            raise run.fail(f"too many vertices: cannot simplify {count} to {limit}")
        holes = holes[:-1]
        tally.dropped_holes += 1
        out = geo.simplify_part(ext, holes, limit, traced=traced)
    if run.policy.holes == "best":
        out, filled = _fill_while_better(ext, holes, out, reference, limit, traced)
        tally.dropped_holes += filled
    tally.simplified += 1
    tally.before += count
    tally.after += len(out[0]) + sum(len(h) + 2 for h in out[1])
    return out


def _fill_while_better(
    ext: geo.Coords,
    holes: list[geo.Coords],
    out: geo.PartArrays,
    reference: list[geo.Coords],
    limit: int,
    traced: bool,
) -> tuple[geo.PartArrays, int]:
    """``holes = "best"``: each hole costs its vertices + 2 of the budget, so fill the
    smallest (``holes`` come largest first) while the vertices it frees for the rest buy
    more IoU with the unsimplified part than the hole is worth. Returns the result and how
    many holes it filled."""
    score = geo.part_iou([out[0], *out[1]], reference)
    filled = 0
    for _ in range(min(len(holes), FILL_TRIES)):
        fewer = geo.simplify_part(ext, holes[:-1], limit, traced=traced)
        if fewer is None or (better := geo.part_iou([fewer[0], *fewer[1]], reference)) <= score:
            break
        out, holes, score, filled = fewer, holes[:-1], better, filled + 1
    return out, filled


def _shape_iou(reference: shapely.Geometry, kept: list[geo.PartArrays]) -> float:
    result = shapely.union_all([shapely.Polygon(e, hs) for e, hs in kept])
    union = shapely.area(shapely.union(reference, result))
    if not union > 0:
        return 0.0
    return float(shapely.area(shapely.intersection(reference, result)) / union)
