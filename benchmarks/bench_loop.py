"""Tasks/s: ``prelabel import`` vs a plain one-at-a-time loop, then ``score``, same run.

N segmentation tasks (a 256x256 indexed PNG each) are submitted to an in-process sandbox that
completes them (``--complete accept``) and adds 50 ms to every request, hosted results
included (a stand-in for the round trips to Scale and S3). Then:

* ours: ``import_tasks`` over the converted directory (unique_ids listed 100 per request,
  downloads 8 at a time), the model-world export included; then the same import again
  (everything already in FINAL: no request);
* baseline: the official ``scaleapi`` client's ``get_task`` per task id and one download of
  its ``indexedImage`` after another (what a script around the SDK does), on a subset
  (``--baseline-n``) extrapolated to N;
* ``score_dirs`` of DIR against FINAL.

    .venv/bin/python benchmarks/bench_loop.py [--n 300] [--baseline-n 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import scaleapi
from handmade import write_tasks

from prelabel.geometry.indexed import encode_index_png
from prelabel.responses.run import ImportRequest, import_tasks
from prelabel.sandbox.complete import Completion
from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import run_sandbox
from prelabel.scale.client import ScaleClient
from prelabel.scale.submit import submit_dir
from prelabel.score.run import score_dirs

KEY = "test_bench"


def write_dir(directory: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    (directory / "artifacts").mkdir(parents=True)
    tasks: list[tuple[str, dict[str, object]]] = []
    for i in range(n):
        index = np.zeros((256, 256), dtype=np.int64)
        for k in range(1, 6):
            y, x = rng.integers(0, 200, size=2)
            index[y : y + 50, x : x + 50] = k
        (directory / f"artifacts/{i}.png").write_bytes(encode_index_png(index))
        mapping = {"road": {"index": 1}, "car": [{"index": k} for k in range(2, 6)]}
        body = {"project": "bench", "unique_id": f"bench/{i:06d}", "attachment": f"https://x/{i}.jpg",
                "labels": ["road", {"choice": "car", "instance_label": True}], "allow_unlabeled": True,
                "hypothesis": {"labelMapping": mapping,
                               "annotations": {"combined": {"indexedImage": f"artifact://{i}.png"}}}}  # fmt: skip
        tasks.append(("segmentannotation", body))
    write_tasks(directory, tasks)


def baseline(url: str, task_ids: list[str]) -> float:
    client = scaleapi.ScaleClient(KEY, api_instance_url=url)
    start = time.perf_counter()
    with httpx.Client() as http:
        for task_id in task_ids:
            task = client.get_task(task_id)
            http.get(task.response["annotations"]["combined"]["indexedImage"]).raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--baseline-n", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dir(root / "out", args.n)
        faults = Faults(latency_ms=50)
        with run_sandbox(store=root / "store", faults=faults, complete=Completion("accept")) as sb:
            with ScaleClient(KEY, api_url=sb.url, rate=0) as client:
                sent = submit_dir(root / "out", client=client)
                assert sent.ok, sent.as_dict()
                start = time.perf_counter()
                summary = import_tasks(ImportRequest(root / "final", root / "out"), client)
                ours = time.perf_counter() - start
                requests, start = sb.stats["requests"], time.perf_counter()
                again = import_tasks(ImportRequest(root / "final", root / "out"), client)
                rerun = time.perf_counter() - start
                assert sb.stats["requests"] == requests  # nothing fetched twice
            ids = [t["task_id"] for t in sb.tasks()][: args.baseline_n]
            base = baseline(sb.url, ids) * args.n / len(ids)
        start = time.perf_counter()
        scored = score_dirs(root / "out", root / "final")
        score_s = time.perf_counter() - start
    assert summary.imported == args.n and again.downloads == 0 and again.cached == args.n
    assert scored.counts()["kept"] == 5 * args.n
    print(f"{args.n} segmentation tasks, 50 ms per request (results included)")
    print(f"import (ours):            {ours:7.2f} s  {args.n / ours:7.1f} tasks/s, "
          f"{summary.downloads} downloads")  # fmt: skip
    print(f"official get_task loop:   {base:7.2f} s  {args.n / base:7.1f} tasks/s "
          f"(measured on {len(ids)}, extrapolated)")  # fmt: skip
    print(f"speed-up:                 {base / ours:7.1f}x")
    print(f"import again (all in FINAL): {rerun:5.2f} s, 0 requests")
    print(f"score:                    {score_s:7.2f} s  {args.n / score_s:7.1f} tasks/s")


if __name__ == "__main__":
    main()
