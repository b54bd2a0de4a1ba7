"""Tasks/s: ``submit_dir`` vs the official client's one-at-a-time loop, same sandbox, same run.

The sandbox runs as its own process (``prelabel sandbox``, as a remote server would be, so
it does not share the client's GIL) and adds 50 ms to every request (a stand-in for the round
trip to Scale); the rate limit is off. ``--in-process`` runs it in a thread instead. The official loop is ``scaleapi.ScaleClient(...).create_task`` in a for loop,
run on a subset (``--official-n``) and extrapolated to the full count when smaller.

    .venv/bin/python benchmarks/bench_submit.py [--n 2000] [--official-n 300]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import scaleapi
from handmade import write_tasks
from scaleapi.tasks import TaskType

from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import run_sandbox
from prelabel.scale.client import ScaleClient
from prelabel.scale.submit import submit_dir

KEY = "test_bench"


def body(i: int, prefix: str) -> dict[str, object]:
    return {
        "project": "bench",
        "unique_id": f"bench/{prefix}/{i:06d}",
        "attachment": f"https://example.com/{i}.jpg",
        "geometries": {"box": {"objects_to_annotate": ["car", "person"]}},
        "hypothesis": {"annotations": [
            {"type": "box", "label": "car", "left": 10, "top": 20, "width": 30, "height": 40}
        ]},
    }  # fmt: skip


def write_dir(directory: Path, n: int) -> None:
    write_tasks(directory, [("imageannotation", body(i, "ours")) for i in range(n)])


def bench_ours(url: str, directory: Path, concurrency: int) -> tuple[float, int]:
    with ScaleClient(KEY, api_url=url, rate=0, max_connections=concurrency) as client:
        start = time.perf_counter()
        summary = submit_dir(
            directory, client=client, concurrency=concurrency,
            journal_path=directory / f"journal-{concurrency}.sqlite",
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    assert summary.ok, summary.failures[:3]
    return elapsed, summary.created + summary.adopted


def bench_official(url: str, n: int) -> float:
    client = scaleapi.ScaleClient(KEY, api_instance_url=url)
    start = time.perf_counter()
    for i in range(n):
        client.create_task(TaskType.ImageAnnotation, **body(i, "official"))
    return time.perf_counter() - start


@contextlib.contextmanager
def sandbox_process(latency_ms: float, store: Path) -> Iterator[str]:
    """Run ``prelabel sandbox`` in a child process; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, "-m", "prelabel.cli", "sandbox", "--port", str(port),
            "--store", str(store), "--latency-ms", str(latency_ms)]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/tasks", params={"limit": 1}, auth=(KEY, ""))
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def sandbox_url(latency_ms: float, store: Path, in_process: bool) -> Iterator[str]:
    """A fresh sandbox (own store) as a child process or a thread; yields its URL."""
    if in_process:
        with run_sandbox(store=store, faults=Faults(latency_ms=latency_ms)) as sb:
            yield sb.url
    else:
        with sandbox_process(latency_ms, store) as url:
            yield url


def count_tasks(url: str) -> int:
    return int(httpx.get(f"{url}/tasks", params={"limit": 1}, auth=(KEY, "")).json()["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--official-n", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--in-process", action="store_true", help="sandbox in a thread")
    args = parser.parse_args()
    where = "a thread" if args.in_process else "its own process"
    print(f"sandbox in {where}, {args.latency_ms:g} ms/request, rate limit off, {args.n} tasks")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (the official loop waits on")
    print("latency; submit_dir spends CPU per request, so a busy machine lowers the ratio)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with sandbox_url(args.latency_ms, root / "s-official", args.in_process) as url:
            official_s = bench_official(url, args.official_n)
        official_rate = args.official_n / official_s
        note = "" if args.official_n == args.n else (
            f" (ran {args.official_n}, extrapolated: {args.n / official_rate:.1f} s for {args.n})"
        )  # fmt: skip
        print(f"official scaleapi loop   : {official_rate:8.1f} tasks/s{note}")
        for concurrency in args.concurrency:
            directory = root / f"c{concurrency}"
            directory.mkdir()
            write_dir(directory, args.n)
            with sandbox_url(args.latency_ms, root / f"s{concurrency}", args.in_process) as url:
                elapsed, done = bench_ours(url, directory, concurrency)
                assert count_tasks(url) == args.n
            rate = done / elapsed
            print(
                f"prelabel submit_dir c={concurrency:<3}: {rate:8.1f} tasks/s"
                f" ({args.n} in {elapsed:.2f} s) = {rate / official_rate:5.1f}x the official loop"
            )


if __name__ == "__main__":
    main()
