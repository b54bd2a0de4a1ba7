"""Reliability: 5,000 tasks through every sandbox fault, one kill -9 mid-run, then a rerun.

The sandbox (in this process) injects, per request: 500 after the work, 500 before it, 429 with
Retry-After, dropped connections (half after the work) and responses slower than the client's
read timeout, each at ``--rate``, plus latency. ``prelabel submit`` runs as a child process and
is SIGKILLed once the sandbox holds a random number of tasks (10-90 %); the same command then
runs again to completion. Prints tasks expected, created, duplicates and lost.

    .venv/bin/python benchmarks/bench_reliability.py [--n 5000] [--rate 0.06] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson
from handmade import write_tasks

from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import Sandbox, run_sandbox


def write_dir(directory: Path, n: int, artifacts: int) -> list[str]:
    """``n`` videoplayback tasks sharing ``artifacts`` hosted hypothesis files; every body
    follows the rule book, so the sandbox creates each one."""
    (directory / "artifacts").mkdir(parents=True)
    for a in range(artifacts):
        frames = [{"key": 0, "timestamp": 0.0, "left": a, "top": 1, "width": 5, "height": 5}]
        doc = {f"track-{a:03d}": {"label": "car", "geometry": "box", "frames": frames}}
        (directory / "artifacts" / f"h{a:03d}.json").write_bytes(orjson.dumps(doc))
    tasks = [
        ("videoplaybackannotation", {
            "project": "rel", "unique_id": f"rel/videoplaybackannotation/clip-{i:06d}",
            "attachment": f"https://example.com/{i}.mp4",
            "geometries": {"box": {"objects_to_annotate": ["car"]}},
            "hypothesis": {"annotations": {"url": f"artifact://h{i % artifacts:03d}.json"}},
        })
        for i in range(n)
    ]  # fmt: skip
    return write_tasks(directory, tasks)


def count_tasks(sb: Sandbox) -> int:
    with sqlite3.connect(sb.store.path, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])


def journal_states(path: Path) -> dict[str, int]:
    with sqlite3.connect(path, timeout=30) as db:
        rows = db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall()
    return {str(s): int(c) for s, c in rows}


def kill_mid_run(args: list[str], env: dict[str, str], sb: Sandbox, at: int) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while count_tasks(sb) < at and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is not None:
        raise SystemExit(f"submit finished (rc {proc.returncode}) before the kill point {at}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0.06, help="rate of each fault kind")
    parser.add_argument("--latency-ms", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    faults = Faults(latency_ms=opts.latency_ms, error_after=opts.rate, error_before=opts.rate,
                    throttle=opts.rate, retry_after=1, drop=opts.rate, slow=opts.rate,
                    slow_s=3.0, seed=opts.seed)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, run_sandbox(faults=faults) as sb:
        out = Path(tmp) / "out"
        uids = write_dir(out, opts.n, artifacts=100)
        env = {**os.environ, "SCALE_API_KEY": "test_reliability"}
        args = [sys.executable, "-m", "prelabel.cli", "submit", str(out), "--api-url", sb.url,
                "--rate", "0", "--concurrency", str(opts.concurrency), "--timeout", "1.5",
                "--retries", "10", "--quiet", "--json"]  # fmt: skip
        at = rng.randint(opts.n // 10, opts.n * 9 // 10)
        print(f"{opts.n} tasks, each fault kind at {opts.rate:.0%} of requests, "
              f"latency {opts.latency_ms:g} ms, client timeout 1.5 s, concurrency {opts.concurrency}")  # fmt: skip
        first_s = kill_mid_run(args, env, sb, at)
        at_kill = count_tasks(sb)
        print(f"run 1: SIGKILL after {first_s:.1f} s with {at_kill} tasks on the server;"
              f" journal then: {journal_states(out / 'journal.sqlite')}")  # fmt: skip
        start = time.perf_counter()
        rerun = subprocess.run(args, env=env, capture_output=True)
        summary = orjson.loads(rerun.stdout) if rerun.stdout else {}
        print(f"run 2: exit {rerun.returncode} in {time.perf_counter() - start:.1f} s: "
              + ", ".join(f"{k} {summary.get(k)}" for k in ("skipped", "created", "adopted", "failed")))  # fmt: skip
        report(sb, uids, out / "journal.sqlite")


def report(sb: Sandbox, uids: list[str], journal: Path, artifacts: int = 100) -> None:
    """What the server holds against what was asked (duplicates, lost, journal mismatches);
    ``bench_soak.py`` prints the same."""
    tasks = sb.tasks()
    counts = Counter(t["unique_id"] for t in tasks)
    expected = set(uids)
    duplicates = sum(c - 1 for c in counts.values()) + sum(1 for u in counts if u not in expected)
    lost = len(expected - set(counts))
    with sqlite3.connect(journal) as db:
        recorded = dict(db.execute("SELECT unique_id, task_id FROM tasks").fetchall())
    mismatched = sum(1 for t in tasks if recorded.get(t["unique_id"]) != t["task_id"])
    stats = sb.stats
    injected = {k.removeprefix("fault_"): v for k, v in sorted(stats.items()) if "fault_" in k}
    print(f"faults injected: {injected} over {stats.get('requests', 0)} requests;"
          f" 409s served: {stats.get('409', 0)}; 400s: {stats.get('400', 0)};"
          f" uploads: {len(sb.files())} for {artifacts} artifacts")  # fmt: skip
    print(f"tasks expected  : {len(expected)}")
    print(f"tasks created   : {len(set(counts) & expected)}")
    print(f"duplicates      : {duplicates}")
    print(f"lost            : {lost}")
    print(f"journal task_id != server task_id: {mismatched}")


if __name__ == "__main__":
    main()
