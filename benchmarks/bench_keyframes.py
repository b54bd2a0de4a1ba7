"""Keyframe thinning on the real TUD-Campus and TUD-Stadtmitte tracker outputs.

Per sequence and tolerance: how many track frames are kept (ratio), the worst IoU / edge
error of an interpolated box against the tracker's box, and the milliseconds of the
thinning alone (reading the file is not timed). Boxes are the tracker's as read
(no clipping), tracks kept whole across gaps (gaps always end a run).

Run: ``.venv/bin/python benchmarks/bench_keyframes.py [--iou 0.9 0.8 ...]``
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from prelabel.converters.tracking.mot import read_mot
from prelabel.model import Box
from prelabel.tracks.keyframes import Thinning, Tolerance, as_arrays, thin_track
from prelabel.tracks.rows import frame_instances

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "motmetrics" / "data"
SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")


def tracks(sequence: str) -> dict[str, list[tuple[int, Box]]]:
    (item,) = read_mot([str(SHARED / sequence / "test.txt")]).items
    assert item.tracks is not None and item.frames is not None
    rows = frame_instances(item.tracks, len(item.frames))
    out: dict[str, list[tuple[int, Box]]] = defaultdict(list)
    for frame in item.frames:
        for inst in rows[frame.index]:
            assert isinstance(inst.geometry, Box) and inst.track_id is not None
            out[inst.track_id].append((frame.number, inst.geometry))
    return out


def thin_sequence(sequence: str, tol: Tolerance) -> tuple[Thinning, float]:
    total = Thinning()
    found = tracks(sequence)
    t0 = time.perf_counter()  # the thinning alone (reading the file is not timed)
    for rows in found.values():
        frames, boxes = as_arrays(rows)
        _, figures = thin_track(frames, boxes, tol)
        total.add(figures)
    return total, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iou", type=float, nargs="+", default=[0.9])
    parser.add_argument("--px", type=float, nargs="*", default=[])
    args = parser.parse_args()
    tolerances = [Tolerance(iou=v) for v in args.iou] + [Tolerance(px=v) for v in args.px]
    print(
        f"{'sequence':15s} {'tolerance':12s} {'kept':>11s} {'ratio':>6s} "
        f"{'worst IoU':>9s} {'worst px':>8s} {'ms':>6s}"
    )
    for sequence in SEQUENCES:
        for tol in tolerances:
            t, seconds = thin_sequence(sequence, tol)
            name = f"IoU>={tol.iou}" if tol.iou is not None else f"px<={tol.px}"
            print(
                f"{sequence:15s} {name:12s} {t.kept:>5d}/{t.total:<5d} {t.ratio:6.3f} "
                f"{t.worst_iou:9.4f} {t.worst_px:8.2f} {seconds * 1000:6.1f}"
            )


if __name__ == "__main__":
    main()
