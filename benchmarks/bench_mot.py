"""MOT -> videoplaybackannotation end to end: rows/s and peak RSS against the code before the
one-video-path work (commit bbe7593) and against a polars/orjson floor.

Builds a MOT file (default 1,000,000 rows) by replicating the real TUD-Campus and
TUD-Stadtmitte tracker outputs (frames and track ids shifted per copy) in a temp dir, then
times, each as its own subprocess (wall clock from spawn to exit, so interpreter start and
imports count), best of ``--repeat``:

* prelabel: this checkout's CLI, ``python -m prelabel.cli convert mot FILE --config C --out D
  --fps 25 --image-size 640x480`` (reader -> filters -> track engine -> hosted hypothesis
  JSON + tasks.jsonl + report.json accounting for every row);
* baseline: the same command run by the code of commit bbe7593 installed in its own venv
  (``--baseline-python``; made once with ``git worktree add --detach ../wt-baseline bbe7593``
  and ``python3 -m venv ../wt-baseline/.venv && ../wt-baseline/.venv/bin/pip install
  ../wt-baseline``);
* floor: polars reads the file and writes the same uuid-keyed hypothesis JSON (no report,
  no clipping, no checks): what parsing and writing cost on their own;
* imports: ``python -c "import numpy, polars"``, which every run above pays first.

Both prelabel runs must write the same tasks.jsonl and hypothesis bytes (checked). Peak RSS
is the child's own: each run goes through a small wrapper process whose only child it is,
which reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the wait. The machine's
load average is printed at start and end: the box is shared, so compare the tools within one
run (the ratios), not across runs.

Run: ``.venv/bin/python benchmarks/bench_mot.py [--rows N] [--repeat 3]``. ``--trace``
instead runs the CLI once in a child that prints the seconds since start and the RSS / peak
RSS on entry to and exit from each stage (reader parse, track building, plan, records,
hypothesis, report), to see where time and memory go.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

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
GOAL_RATIO, GOAL_RSS = 3.0, 300.0  # issue 14: at least 3x bbe7593 in the same run, < 300 MB
BASELINE_PYTHON = REPO.parent / "wt-baseline" / ".venv" / "bin" / "python"
KINDS = ("baseline", "prelabel", "floor", "imports")


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


def floor(mot: str, out: str) -> None:
    """Parse with polars and write the uuid-keyed hypothesis with polars strings (no report,
    no clipping, no checks): the cost of reading and writing alone."""
    import uuid

    import polars as pl

    names = ["frame", "id", "x", "y", "w", "h", "conf", "a", "b", "c"]
    df = pl.read_csv(
        mot,
        has_header=False,
        columns=list(range(6)),
        schema_overrides=dict.fromkeys(names, pl.Float64),
        new_columns=names,
    )
    df = df.select(pl.col("id").cast(pl.Int64), pl.col("frame").cast(pl.Int64) - 1, *names[2:6])
    df = df.sort("id", maintain_order=True)
    ids = df["id"]
    first = (ids != ids.shift(1)).fill_null(True)
    tids = ids.filter(first).to_list()
    heads = [
        ","
        + orjson.dumps(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{mot}/{tid}"))).decode()
        + ':{"label":"person","geometry":"box","frames":['
        for tid in tids
    ]
    heads[0] = heads[0][1:]
    n = len(df)
    lead = pl.select(pl.repeat(",", n, dtype=pl.String)).to_series()
    lead = lead.scatter(first.arg_true(), pl.Series(heads))
    last = (ids != ids.shift(-1)).fill_null(True)
    trail = pl.select(pl.repeat("}", n, dtype=pl.String)).to_series()
    trail = trail.scatter(last.arg_true(), "}]}")
    key = pl.col("frame")
    text = pl.concat_str(
        [
            pl.col("lead"),
            pl.lit('{"key":'),
            key.cast(pl.String),
            pl.lit(',"timestamp":'),
            (key / 25).round(6).cast(pl.String),
            *(
                e
                for name, col in zip(("left", "top", "width", "height"), names[2:6], strict=True)
                for e in (pl.lit(f',"{name}":'), pl.col(col).round(3).cast(pl.String))
            ),
            pl.col("trail"),
        ]
    )
    body = df.with_columns(lead=lead, trail=trail).select(text.str.join("")).item()
    with open(Path(out, "floor.json"), "w") as fh:
        fh.write("{" + body + "}")


def command(kind: str, mot: Path, tmp: Path, baseline: Path) -> list[str]:
    if kind == "floor":
        return [sys.executable, __file__, "--floor", str(mot), str(tmp)]
    if kind == "imports":  # what every run pays before reading a byte
        return [sys.executable, "-c", "import numpy, polars"]
    config = tmp / "task.toml"
    config.write_text(CONFIG)
    python = str(baseline) if kind == "baseline" else sys.executable
    return [
        *(python, "-m", "prelabel.cli", "convert", "mot", str(mot)),
        *("--config", str(config), "--out", str(tmp / kind), "--fps", "25"),
        *("--image-size", "640x480"),
    ]


def measure(cmd: list[str]) -> None:
    """Wrapper process: run ``cmd`` as the only child; print its seconds and peak RSS (MB)."""
    # like an installed package (pip writes .pyc files), this checkout's modules load from
    # bytecode: an environment that forbids writing it would charge them a compile per run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": peak}))


def run(kind: str, mot: Path, tmp: Path, baseline: Path) -> dict[str, float]:
    cmd = command(kind, mot, tmp, baseline)
    wrapper = [sys.executable, __file__, "--measure", json.dumps(cmd)]
    proc = subprocess.run(wrapper, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# (module, function) pairs --trace reports on entry and exit
STAGES = (
    ("prelabel.converters.tracking.parse", "polars_columns"),
    ("prelabel.converters.tracking.mot", "make_track"),
    ("prelabel.converters.tracking.common", "build_item"),
    ("prelabel.filters", "LabelFilter.table"),
    ("prelabel.tracks.objects", "group"),
    ("prelabel.tracks.fit", "fit_boxes"),
    ("prelabel.tracks.records", "Records.flush"),
    ("prelabel.output.artifacts", "ArtifactStore.add_chunks"),
    ("prelabel.output.report", "Report.write"),
)


def _status() -> str:
    fields = dict(ln.split(":", 1) for ln in Path("/proc/self/status").read_text().splitlines())
    rss, hwm = (int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))
    return f"RSS {rss:4d} MB  peak {hwm:4d} MB"


def trace(argv: list[str]) -> None:
    """Child of ``--trace``: run the CLI in this process, printing each stage's figures."""
    import functools
    import importlib

    start = time.perf_counter()

    def wrap(owner: object, name: str, label: str) -> None:
        real = getattr(owner, name)

        @functools.wraps(real)
        def traced(*args: object, **kwargs: object) -> object:
            print(f"{time.perf_counter() - start:6.2f} s  > {label:28s} {_status()}")
            try:
                return real(*args, **kwargs)
            finally:
                print(f"{time.perf_counter() - start:6.2f} s  < {label:28s} {_status()}")

        setattr(owner, name, traced)

    for module, qualname in STAGES:
        owner: object = importlib.import_module(module)
        *path, name = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        wrap(owner, name, qualname)
    from prelabel.cli.main import main as cli_main

    sys.argv = ["prelabel", *argv]
    try:
        cli_main()
    except SystemExit:
        pass
    print(f"{time.perf_counter() - start:6.2f} s  end {' ' * 28} {_status()}")


def check_output(tmp: Path, rows: int) -> str:
    """The prelabel run accounted for every row and wrote what the baseline wrote."""
    head = (tmp / "prelabel" / "report.json").read_bytes()[:4000].decode()
    objects_in = json.loads(head.split('"totals": ', 1)[1].split("}", 1)[0] + "}")["objects_in"]
    assert objects_in == rows, (objects_in, rows)
    ours = sorted((tmp / "prelabel").rglob("artifacts/**/*.json"))
    theirs = sorted((tmp / "baseline").rglob("artifacts/**/*.json"))
    same = [a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs, strict=True)]
    tasks = [(tmp / k / "tasks.jsonl").read_bytes() for k in ("prelabel", "baseline")]
    assert all(same) and tasks[0] == tasks[1], "prelabel and bbe7593 wrote different tasks"
    size = sum(p.stat().st_size for p in ours) / 1e6
    reports = [(tmp / k / "report.json").stat().st_size / 1e6 for k in ("prelabel", "baseline")]
    return (
        f"report objects_in {objects_in:,}; hypothesis {size:.1f} MB, the same bytes as "
        f"bbe7593's; report.json {reports[0]:.1f} MB (bbe7593: {reports[1]:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", type=Path, default=BASELINE_PYTHON)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help="stage figures of one run")
    parser.add_argument("--trace-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trace_child:
        trace(json.loads(args.trace_child))
        return
    if args.measure:
        measure(json.loads(args.measure))
        return
    if args.floor:
        floor(*args.floor)
        return
    if not args.trace and not args.baseline_python.exists():
        sys.exit(
            f"no baseline interpreter at {args.baseline_python}: install commit bbe7593 there "
            "(see this script's docstring) or pass --baseline-python"
        )
    load0 = os.getloadavg()
    print(
        f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        mot = tmp / "big.txt"
        rows = make_file(mot, args.rows)
        print(f"MOT file: {rows:,} rows, {mot.stat().st_size / 1e6:.1f} MB (TUD test.txt x copies)")
        if args.trace:
            cli = command("prelabel", mot, tmp, args.baseline_python)[3:]
            child = [sys.executable, __file__, "--trace-child", json.dumps(cli)]
            subprocess.run(child, check=True, stderr=subprocess.DEVNULL)
            return
        best: dict[str, dict[str, float]] = {}
        for n in range(args.repeat):
            for kind in KINDS:
                r = run(kind, mot, tmp, args.baseline_python)
                print(f"  run {n + 1} {kind:8s} {r['seconds']:6.2f} s  {r['rss_mb']:7.1f} MB")
                # fastest time; the highest peak RSS of the runs (conservative)
                prev = best.get(kind, r)
                best[kind] = {
                    "seconds": min(r["seconds"], prev["seconds"]),
                    "rss_mb": max(r["rss_mb"], prev["rss_mb"]),
                }
        print(check_output(tmp, rows))
    report(best, rows, args.repeat)
    load1 = os.getloadavg()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


def report(best: dict[str, dict[str, float]], rows: int, repeat: int) -> None:
    base = best["baseline"]
    for kind in KINDS[:3]:
        r = best[kind]
        print(
            f"{kind:9s} best of {repeat}: {r['seconds']:6.2f} s  {rows / r['seconds']:>10,.0f} "
            f"rows/s  {base['seconds'] / r['seconds']:5.2f}x bbe7593  peak RSS "
            f"{r['rss_mb']:6.1f} MB"
        )
    ours = best["prelabel"]
    ratio = base["seconds"] / ours["seconds"]
    lead = best["imports"]["seconds"]
    print(
        f"imports   best of {repeat}: {lead:6.2f} s (python + numpy + polars); past them, "
        f"prelabel does the work {(base['seconds'] - lead) / (ours['seconds'] - lead):.2f}x "
        "as fast as bbe7593"
    )
    print(
        f"prelabel at {best['floor']['seconds'] / ours['seconds']:.2f} of the floor's speed; "
        f"goal >= {GOAL_RATIO:g}x bbe7593: {'met' if ratio >= GOAL_RATIO else 'NOT met'} "
        f"({ratio:.2f}x); peak RSS < {GOAL_RSS:.0f} MB: "
        f"{'met' if ours['rss_mb'] < GOAL_RSS else 'NOT met'} ({ours['rss_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
