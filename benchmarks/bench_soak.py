"""Soak: 50,000 tasks through the sandbox with every fault kind on; the memory of the
submitting process sampled over time must stay flat, and no task may be lost or duplicated.

The sandbox runs in this process (a thread) and injects, per request: 500 after the work, 500
before it, 429 with Retry-After, dropped connections (half after the work), responses slower
than the client's read timeout, each at ``--rate``, plus latency. ``prelabel submit`` runs as a
child process; its resident memory (VmRSS) is read from /proc every ``--every`` seconds. Every
body follows the rule book (the sandbox checks each one); a tenth of them name one of 100
hosted hypothesis files, so uploads and their journal run too. Prints the memory series, its
slope over the second half of the run, the request and fault counts, and tasks expected,
created, duplicated and lost.

    .venv/bin/python benchmarks/bench_soak.py [--n 50000] [--rate 0.02] [--every 2]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from bench_reliability import report  # the same tally of what the server holds
from handmade import write_tasks

from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import Sandbox, run_sandbox

ARTIFACTS = 100


def body(i: int) -> tuple[str, dict[str, object]]:
    """Task ``i``: mostly imageannotation with inline boxes, every tenth a hosted playback."""
    uid = f"soak/{i:06d}"
    if i % 10 == 0:
        return "videoplaybackannotation", {
            "project": "soak", "unique_id": uid, "attachment": f"https://example.com/{i}.mp4",
            "geometries": {"box": {"objects_to_annotate": ["car"]}},
            "hypothesis": {"annotations": {"url": f"artifact://h{i // 10 % ARTIFACTS:03d}.json"}},
        }  # fmt: skip
    return "imageannotation", {
        "project": "soak", "unique_id": uid, "attachment": f"https://example.com/{i}.jpg",
        "geometries": {"box": {"objects_to_annotate": ["car", "person"]}},
        "hypothesis": {"annotations": [
            {"type": "box", "label": "car", "left": i % 50, "top": 20, "width": 30, "height": 40,
             "uuid": f"a-{i}"},
        ]},
    }  # fmt: skip


def write_dir(directory: Path, n: int) -> list[str]:
    (directory / "artifacts").mkdir(parents=True)
    for a in range(ARTIFACTS):
        frames = [{"key": k, "timestamp": k / 10, "left": a, "top": 1, "width": 5, "height": 5}
                  for k in range(20)]  # fmt: skip
        doc = {f"track-{a:03d}": {"label": "car", "geometry": "box", "frames": frames}}
        (directory / "artifacts" / f"h{a:03d}.json").write_bytes(orjson.dumps(doc))
    return write_tasks(directory, [body(i) for i in range(n)])


def rss_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def count_tasks(sb: Sandbox) -> int:
    with sqlite3.connect(sb.store.path, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])


def sample(
    proc: subprocess.Popen[bytes], sb: Sandbox, every: float
) -> list[tuple[float, float, int]]:
    """(seconds, RSS MB, tasks on the server) until the child exits."""
    series = []
    start = time.perf_counter()
    while proc.poll() is None:
        mb = rss_mb(proc.pid)
        if mb is not None:
            series.append((time.perf_counter() - start, mb, count_tasks(sb)))
        time.sleep(every)
    return series


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def print_series(series: list[tuple[float, float, int]], n: int) -> None:
    print("memory of the submitting process (VmRSS) over time:")
    print("   t [s]   RSS [MB]   tasks on server")
    step = max(1, len(series) // 25)
    for t, mb, tasks in series[::step] + ([series[-1]] if (len(series) - 1) % step else []):
        print(f"  {t:6.0f}   {mb:8.1f}   {tasks:15d}")
    # the steady half: from half the tasks on the server until the last one (the teardown
    # after it, when the process frees its memory, is not part of the run)
    steady = [(t, mb, k) for t, mb, k in series if n // 2 <= k < n]
    if len(steady) < 3:
        print("too few samples in the second half for a slope; lower --every")
        return
    per_min = slope([(t, mb) for t, mb, _ in steady]) * 60
    per_10k = slope([(float(k), mb) for _, mb, k in steady]) * 10_000
    at = {q: next(mb for _, mb, k in series if k >= q * n // 4) for q in (1, 2, 3, 4)}
    print("RSS at 25/50/75/100 % of the tasks: "
          + " / ".join(f"{at[q]:.1f}" for q in (1, 2, 3, 4)) + " MB; peak"
          f" {max(mb for _, mb, _ in series):.1f} MB")  # fmt: skip
    print(f"second-half slope: {per_min:+.2f} MB/min, {per_10k:+.2f} MB per 10,000 tasks"
          f" ({len(steady)} samples)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=0.02, help="rate of each fault kind")
    parser.add_argument("--latency-ms", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    faults = Faults(latency_ms=opts.latency_ms, error_after=opts.rate, error_before=opts.rate,
                    throttle=opts.rate, retry_after=0.5, drop=opts.rate, slow=opts.rate,
                    slow_s=2.5, seed=opts.seed)  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_sandbox(store=Path(tmp) / "sb", faults=faults) as sb,
    ):
        out = Path(tmp) / "out"
        uids = write_dir(out, opts.n)
        env = {**os.environ, "SCALE_API_KEY": "test_soak"}
        args = [sys.executable, "-m", "prelabel.cli", "submit", str(out), "--api-url", sb.url,
                "--rate", "0", "--concurrency", str(opts.concurrency), "--timeout", "1.5",
                "--retries", "12", "--quiet", "--json"]  # fmt: skip
        print(f"{opts.n} tasks, each fault kind at {opts.rate:.0%} of requests, latency"
              f" {opts.latency_ms:g} ms, client timeout 1.5 s, concurrency {opts.concurrency}")  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        series = sample(proc, sb, opts.every)
        stdout, stderr = proc.communicate()
        summary = orjson.loads(stdout) if stdout else {}
        print(f"submit: exit {proc.returncode} in {time.perf_counter() - start:.0f} s: "
              + ", ".join(f"{k} {summary.get(k)}" for k in ("created", "adopted", "failed")))  # fmt: skip
        if proc.returncode:
            print(stderr.decode()[-2000:])
        print_series(series, opts.n)
        report(sb, uids, out / "journal.sqlite", ARTIFACTS)


if __name__ == "__main__":
    main()
