"""MOT -> videoplaybackannotation throughput and peak memory, against a naive pandas baseline.

Builds a 1,000,000-row MOT file by replicating the real TUD-Campus and TUD-Stadtmitte tracker
outputs (frames and track ids shifted per copy) in a temp dir, then runs, each in its own
subprocess so peak RSS (VmHWM) is its own:

* prelabel: ``prelabel.pipeline.convert`` (read -> filters -> fit -> keyframe-free hosted
  hypothesis JSON -> tasks.jsonl + report.json), the real end-to-end path;
* baseline: pandas ``read_csv``, groupby track, build the uuid-keyed dict, ``json.dumps``.

Run: ``.venv/bin/python benchmarks/bench_mot.py [--rows N]`` (needs pandas, benchmark only).
"""

from __future__ import annotations

import argparse
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
        (child_prelabel if kind == "prelabel" else child_baseline)(mot, out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        mot = Path(tmp) / "big.txt"
        rows = make_file(mot, args.rows)
        print(f"MOT file: {rows:,} rows, {mot.stat().st_size / 1e6:.1f} MB (TUD test.txt x copies)")
        results = {kind: run(kind, mot, Path(tmp)) for kind in ("baseline", "prelabel")}
    for kind, r in results.items():
        print(
            f"{kind:9s} {r['objects']:>9,.0f} rows  {r['seconds']:6.2f} s  "
            f"{r['objects'] / r['seconds']:>10,.0f} rows/s  peak RSS {r['rss_mb']:7.1f} MB"
        )
    ratio = results["prelabel"]["seconds"] / results["baseline"]["seconds"]
    print(f"prelabel / baseline time: {ratio:.2f}x   (goal: >= 1,000,000 rows/s, RSS < 300 MB)")


if __name__ == "__main__":
    main()
