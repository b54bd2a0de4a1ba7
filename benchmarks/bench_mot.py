"""MOT -> videoplaybackannotation throughput and peak memory, against a naive pandas baseline.

Builds a 1,000,000-row MOT file by replicating the real TUD-Campus and TUD-Stadtmitte tracker
outputs (frames and track ids shifted per copy) in a temp dir, then runs, each in its own
subprocess so peak RSS (VmHWM) is its own:

* prelabel: ``prelabel.pipeline.convert`` (read -> filters -> fit -> keyframe-free hosted
  hypothesis JSON -> tasks.jsonl + report.json), the real end-to-end path;
* baseline: pandas ``read_csv``, groupby track, build the uuid-keyed dict, ``json.dumps``;
* columnar: a prototype fast path (numpy columns end to end, per-track report), to show what
  a columnar model would buy; it is not what ``prelabel convert`` runs.

Run: ``.venv/bin/python benchmarks/bench_mot.py [--rows N]`` (needs pandas, benchmark only).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "motmetrics" / "data"
SOURCES = ("TUD-Campus/test.txt", "TUD-Stadtmitte/test.txt")
CONFIG = """task_type = "videoplaybackannotation"
[params]
project = "bench"
attachment_type = "video"
[params.geometries.box]
objects_to_annotate = ["person"]
[prelabel]
attachment_url = "https://cdn.example.com/{sequence}.mp4"
"""


def make_file(path: Path, rows: int) -> int:
    """Replicate the TUD tracker outputs until ``rows`` rows; returns the row count."""
    blocks = []
    for name in SOURCES:
        lines = (SHARED / name).read_text().split()
        blocks.append([ln.split(",") for ln in lines if ln])
    out: list[str] = []
    frame_base = id_base = 0
    while len(out) < rows:
        for block in blocks:
            last_frame = max_id = 0
            for parts in block:
                if len(out) == rows:
                    break
                frame, tid = int(parts[0]), int(parts[1])
                last_frame, max_id = max(last_frame, frame), max(max_id, tid)
                out.append(",".join([str(frame + frame_base), str(tid + id_base), *parts[2:]]))
            frame_base += last_frame
            id_base += max_id
    path.write_text("\n".join(out) + "\n")
    return len(out)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_prelabel(mot: str, out: str) -> None:
    from prelabel.config import load_config
    from prelabel.converters.mot import read_mot
    from prelabel.pipeline import convert

    cfg_path = Path(out) / "task.toml"
    cfg_path.write_text(CONFIG)
    t0 = time.perf_counter()
    config = load_config(cfg_path, {})
    dataset = read_mot([mot], fps=25, image_size=(640, 480))
    report = convert(dataset, config, Path(out) / "prelabel")
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {"seconds": elapsed, "rss_mb": peak_rss_mb(), "objects": report.totals()["objects_in"]}
        )
    )


def child_baseline(mot: str, out: str) -> None:
    import uuid

    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(
        mot, header=None, names=["frame", "id", "x", "y", "w", "h", "conf", "a", "b", "c"]
    )
    hyp = {}
    for tid, group in df.groupby("id"):
        frames = [
            {
                "key": int(r.frame) - 1,
                "timestamp": (int(r.frame) - 1) / 25,
                "left": r.x,
                "top": r.y,
                "width": r.w,
                "height": r.h,
            }
            for r in group.itertuples()
        ]
        hyp[str(uuid.uuid5(uuid.NAMESPACE_URL, f"{mot}/{tid}"))] = {
            "label": "person",
            "geometry": "box",
            "frames": frames,
        }
    Path(out, "baseline.json").write_text(json.dumps(hyp))
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "rss_mb": peak_rss_mb(), "objects": len(df)}))


def child_columnar(mot: str, out: str) -> None:
    """A prototype of a columnar fast path (not the toolkit's path): numpy parse, vectorised
    clip to the frame, tracks by argsort, hypothesis streamed track by track with orjson, and
    the report as per-track line lists instead of one record object per row."""
    import numpy as np
    import orjson

    from prelabel.converters.mot import fast_parse, read_text
    from prelabel.writers.context import stable_uuid

    t0 = time.perf_counter()
    values = fast_parse(read_text(mot), ",", 10)
    assert values is not None
    n_rows = len(values)
    frame = values[:, 0].astype(np.int64) - 1
    tid = values[:, 1].astype(np.int64)
    x0 = np.clip(values[:, 2], 0, 640)
    y0 = np.clip(values[:, 3], 0, 480)
    x1 = np.clip(values[:, 2] + values[:, 4], 0, 640)
    y1 = np.clip(values[:, 3] + values[:, 5], 0, 480)
    del values
    ok = (x1 > x0) & (y1 > y0)
    order = np.lexsort((frame, tid))
    order = order[ok[order]]
    starts = np.flatnonzero(np.diff(tid[order], prepend=-2)) if len(order) else order
    cols = [
        frame[order],
        frame[order] / 25,
        np.round(x0[order], 3),
        np.round(y0[order], 3),
        np.round(x1[order] - x0[order], 3),
        np.round(y1[order] - y0[order], 3),
    ]
    lines = (order + 1).astype(np.int32)
    report: dict[str, object] = {"dropped_lines": np.flatnonzero(~ok) + 1}
    tracks = {}
    with open(Path(out, "columnar.json"), "wb") as fh:
        fh.write(b"{")
        bounds = [*starts.tolist(), len(order)]
        for n, (a, b) in enumerate(itertools.pairwise(bounds)):
            key, stamp, left, top, width, height = (c[a:b].tolist() for c in cols)
            uid = stable_uuid(mot, "big", int(tid[order[a]]))
            frames = [
                {"key": k, "timestamp": t, "left": lf, "top": tp, "width": w, "height": h}
                for k, t, lf, tp, w, h in zip(key, stamp, left, top, width, height, strict=True)
            ]
            obj = {"label": "person", "geometry": "box", "frames": frames}
            fh.write((b"," if n else b"") + orjson.dumps(uid) + b":" + orjson.dumps(obj))
            tracks[uid] = lines[a:b]
        fh.write(b"}")
    report["tracks"] = tracks
    Path(out, "columnar-report.json").write_bytes(
        orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY)
    )
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "rss_mb": peak_rss_mb(), "objects": n_rows}))


def run(kind: str, mot: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(mot), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "MOT", "OUT"))
    args = parser.parse_args()
    if args.child:
        kind, mot, out = args.child
        {"prelabel": child_prelabel, "baseline": child_baseline, "columnar": child_columnar}[kind](
            mot, out
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        mot = Path(tmp) / "big.txt"
        rows = make_file(mot, args.rows)
        print(f"MOT file: {rows:,} rows, {mot.stat().st_size / 1e6:.1f} MB (TUD test.txt x copies)")
        kinds = ("baseline", "prelabel", "columnar")
        results = {kind: run(kind, mot, Path(tmp)) for kind in kinds}
    for kind, r in results.items():
        print(
            f"{kind:9s} {r['objects']:>9,.0f} rows  {r['seconds']:6.2f} s  "
            f"{r['objects'] / r['seconds']:>10,.0f} rows/s  peak RSS {r['rss_mb']:7.1f} MB"
        )
    base = results["baseline"]["seconds"]
    for kind in ("prelabel", "columnar"):
        print(f"{kind} speed vs baseline: {base / results[kind]['seconds']:.2f}x")
    print("goal: >= 1,000,000 rows/s end to end and peak RSS < 300 MB (columnar = prototype)")


if __name__ == "__main__":
    main()
