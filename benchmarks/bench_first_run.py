"""The README's main job (734 COCO masks -> imageannotation polygons) on a cold numba cache
versus a warm one: the first run after an install should not pay for compiling the kernels.

Each run is the installed CLI in a fresh process; a cold cache is simulated with an empty
``NUMBA_CACHE_DIR``. Three figures, each the best of ``--repeat`` runs:

* ``cold``: empty cache, default behaviour (a background process compiles; this run traces
  with the interpreter fallbacks);
* ``warm``: the cache that background process left;
* ``cold, waiting``: empty cache with ``PRELABEL_JIT=wait`` (compile in the run itself,
  what every first run did before).

Run: ``.venv/bin/python benchmarks/bench_first_run.py``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "fixtures/demo"
PRELABEL = Path(sys.executable).parent / "prelabel"


def job(out: Path) -> list[str]:
    return [
        str(PRELABEL),
        "convert",
        "coco",
        str(DEMO / "instances_val2014_fakesegm100_results.json"),
        "--images",
        str(DEMO / "instances_val2014_100.json"),
        "-c",
        str(DEMO / "task.toml"),
        "-o",
        str(out),
        "-q",
    ]


def run(cache: Path, jit: str, out: Path) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PRELABEL_JIT": jit}
    start = time.perf_counter()
    subprocess.run(job(out), env=env, check=True)
    return time.perf_counter() - start


def wait_for_warm(cache: Path, timeout: float = 300) -> float:
    start = time.perf_counter()
    while not list(cache.glob("prelabel-kernels-*.warm")):
        if time.perf_counter() - start > timeout:
            raise SystemExit("the background compile did not finish")
        time.sleep(0.2)
    while list(cache.glob("prelabel-kernels-*.lock")):
        time.sleep(0.1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold, warm, waiting, background = [], [], [], []
        for n in range(args.repeat):
            cache = root / f"cache{n}"
            cache.mkdir()
            cold.append(run(cache, "1", root / "out"))
            background.append(wait_for_warm(cache))
            warm.append(run(cache, "1", root / "out"))
            waited = root / f"wait{n}"
            waited.mkdir()
            waiting.append(run(waited, "wait", root / "out"))
            shutil.rmtree(cache)
            shutil.rmtree(waited)
    print(f"cold (default, background compile): {min(cold):.2f} s")
    print(f"warm:                                {min(warm):.2f} s")
    print(f"cold, waiting for the compile:       {min(waiting):.2f} s")
    print(f"background compile finished {min(background):.1f} s after the cold run")
    print(f"cold / warm = {min(cold) / min(warm):.2f}x (goal <= 2x); ")
    print(f"waiting / warm = {min(waiting) / min(warm):.2f}x (before this change)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
