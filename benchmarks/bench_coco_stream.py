"""Peak memory and throughput converting a ~1 GB COCO results list (streamed, grouped by image).

Builds the file by replicating the real cocoapi fake results (segm RLE + bbox, 1468 results
per copy) under new image ids, with a matching COCO dataset file as the image source, then
converts it with ``prelabel convert coco`` in a subprocess, once per ``--workers`` count, and
with the code of commit bbe7593 (before ``--workers`` and the chunked parser) as the
baseline (``--baseline-python``: that code installed in its own venv, made once with
``git worktree add --detach ../wt-baseline bbe7593`` and ``python3 -m venv
../wt-baseline/.venv && ../wt-baseline/.venv/bin/pip install ../wt-baseline``). The runs
take turns over ``--repeat`` rounds (the order reversed every other round), so a change of
load hits all of them; ``--baseline-rounds`` limits the slow baseline to the first rounds.

For each run it prints wall seconds (interpreter start included), objects/s, and memory:

* the reading process's peak RSS (its own ``RUSAGE_SELF`` at exit: exact);
* with workers, the largest worker's peak (``RUSAGE_CHILDREN`` of the reading process at
  exit: exact, the max over its children) and each worker's peak (``VmHWM`` sampled from
  /proc every 0.1 s over the process tree: may miss the last 0.1 s of a worker's life);
* the peak of the whole tree's summed RSS (sampled likewise): what the machine had to hold.

Then the ratios (1 worker vs the baseline, N workers vs 1 worker, per round: runs of one
round are neighbours in time), and whether the output directories of every ``--workers``
count are byte for byte those of ``--workers 1`` (tasks.jsonl, report.json, artifacts/).
Last, the peak RSS of ``json.load`` on the same file (what a non-streaming reader needs
before it has done anything) unless ``--no-json-load``.

    .venv/bin/python benchmarks/bench_coco_stream.py --repeat 2   # ~1 GB, 1 and 2 workers
    .venv/bin/python benchmarks/bench_coco_stream.py --size-mb 100 --baseline-python none
    .venv/bin/python benchmarks/bench_coco_stream.py --size-mb 100 --mode reader
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GT = SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json"
SEGM = SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json"
BBOX = SHARED / "cocoapi/results/instances_val2014_fakebbox100_results.json"
OFFSET = 10_000_000  # new image id = original id + group * OFFSET (COCO ids are < 600000)
BASELINE_PYTHON = REPO.parent / "wt-baseline" / ".venv" / "bin" / "python"

# the child reports at exit its own peak RSS and the largest peak among the children it
# waited for (its workers); RUSAGE_CHILDREN is a max over children, not a sum
PEAK = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('PEAK_RSS_KB', "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr))\n"
)
CLI = "import runpy, sys\nsys.argv[0] = 'prelabel'\nrunpy.run_module('prelabel.cli', run_name='__main__')\n"
READER_ONLY = """
import sys, time
from prelabel.converters.coco.read import read_coco
t = time.perf_counter()
ds = read_coco([sys.argv[1]], images=sys.argv[2])
n = sum(len(item.instances) for item in ds.items)
print(n, time.perf_counter() - t)
"""
JSON_LOAD = "import json, sys; json.load(open(sys.argv[1]))"


def generate(out: Path, size_mb: float, per_image: int) -> tuple[Path, Path, int, int]:
    """Write results.json (~size_mb) and images.json; return paths, result and image counts."""
    records = json.loads(SEGM.read_text()) + json.loads(BBOX.read_text())
    gt = json.loads(GT.read_text())
    chunk = b",".join(orjson.dumps(r) for r in records)
    copies = max(1, int(size_mb * 2**20 / len(chunk)))
    results, images = out / "results.json", out / "images.json"
    with results.open("wb") as f:
        f.write(b"[")
        for k in range(copies):
            offset = (k // per_image + 1) * OFFSET
            if k:
                f.write(b",")
            f.write(
                b",".join(orjson.dumps({**r, "image_id": r["image_id"] + offset}) for r in records)
            )
        f.write(b"]")
    groups = (copies - 1) // per_image + 1
    imgs = [
        {**img, "id": img["id"] + (g + 1) * OFFSET, "file_name": f"g{g}/{img['file_name']}"}
        for g in range(groups)
        for img in gt["images"]
    ]
    images.write_bytes(
        orjson.dumps({"images": imgs, "categories": gt["categories"], "annotations": []})
    )
    return results, images, copies * len(records), len(imgs)


def box_config(out: Path) -> Path:
    """imageannotation with boxes for every COCO category (masks become their boxes)."""
    names = [c["name"] for c in json.loads(GT.read_text())["categories"]]
    config = {
        "task_type": "imageannotation",
        "params": {
            "project": "bench",
            "instruction": "fix",
            "geometries": {"box": {"objects_to_annotate": names}},
        },
        "prelabel": {"attachment_url": "https://cdn/{file_name}"},
    }
    path = out / "config.json"
    path.write_text(json.dumps(config))
    return path


class TreeWatch(threading.Thread):
    """Samples /proc for a process and its descendants: each one's VmHWM (its peak RSS so
    far, kept by the kernel) and the peak of their summed VmRSS."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.done = threading.Event()
        self.peaks: dict[int, int] = {}  # pid -> VmHWM kB
        self.roles: dict[int, str] = {}
        self.tree_peak = 0  # kB

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every)

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.pid):
            status = read_status(pid)
            if status is None:
                continue
            rss, hwm = status
            total += rss
            self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
            if pid not in self.roles:
                self.roles[pid] = role(pid, self.pid)
        self.tree_peak = max(self.tree_peak, total)

    def worker_peaks_mb(self) -> list[float]:
        return [kb / 1024 for pid, kb in self.peaks.items() if self.roles[pid] == "worker"]

    def other_peaks(self) -> list[str]:
        """The processes that are neither the reader nor a worker, with their peaks."""
        return [
            f"{self.roles[pid]} {kb / 1024:.0f} MB"
            for pid, kb in self.peaks.items()
            if self.roles[pid] not in ("reader", "worker")
        ]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (via /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def read_status(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in kB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if line.startswith("Vm"))
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError):
        return None


def role(pid: int, root: int) -> str:
    if pid == root:
        return "reader"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return "gone"
    if b"resource_tracker" in cmdline:
        return "resource tracker"
    if b"spawn_main" in cmdline:
        return "worker"
    return "other: " + cmdline.replace(b"\0", b" ").decode(errors="replace")[:60]


@dataclass
class Run:
    """One subprocess conversion: seconds, memory figures (MB) and its stdout."""

    seconds: float
    own_peak: float
    children_peak: float
    worker_peaks: list[float] = field(default_factory=list)
    tree_peak: float = 0.0
    others: list[str] = field(default_factory=list)
    stdout: str = ""


def run_child(cmd: list[str], cwd: Path | None = None) -> Run:
    """Run one subprocess, watching its process tree; exit on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    watch = TreeWatch(proc.pid)
    watch.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    watch.done.set()
    watch.join()
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{stderr}")
    peaks = [line.split()[1:] for line in stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    own, kids = (int(v) / 1024 for v in peaks[-1])
    return Run(
        seconds,
        own,
        kids,
        watch.worker_peaks_mb(),
        watch.tree_peak / 1024,
        watch.other_peaks(),
        stdout,
    )


def convert_cmd(python: str, results: Path, images: Path, config: Path, out: Path) -> list[str]:
    return [python, "-c", PEAK + CLI, "convert", "coco", str(results), "--images", str(images),
            "--config", str(config), "--out", str(out), "--quiet", "--json"]  # fmt: skip


def schedule(
    workers: list[int], baseline: bool, repeat: int, baseline_rounds: int
) -> list[list[str]]:
    """The run kinds of each round ("baseline", "w1", "w2", ...), reversed every other round."""
    rounds = []
    for r in range(repeat):
        kinds = (["baseline"] if baseline and r < baseline_rounds else []) + [
            f"w{n}" for n in workers
        ]
        rounds.append(kinds if r % 2 == 0 else kinds[::-1])
    return rounds


def same_output(a: Path, b: Path) -> bool:
    """tasks.jsonl, report.json and artifacts/ byte for byte equal."""
    for name in ("tasks.jsonl", "report.json"):
        if not filecmp.cmp(a / name, b / name, shallow=False):
            return False
    art_a, art_b = a / "artifacts", b / "artifacts"
    if art_a.is_dir() or art_b.is_dir():
        names = sorted(p.name for p in art_a.iterdir()) if art_a.is_dir() else []
        if names != (sorted(p.name for p in art_b.iterdir()) if art_b.is_dir() else []):
            return False
        _, mismatch, errors = filecmp.cmpfiles(art_a, art_b, names, shallow=False)
        return not mismatch and not errors
    return True


def describe(kind: str, run: Run, count: int) -> str:
    line = (
        f"  {kind:9} {run.seconds:7.1f} s {count / run.seconds:11,.0f} objects/s  "
        f"reader peak {run.own_peak:4.0f} MB, tree sum {run.tree_peak:4.0f} MB"
    )
    if kind not in ("baseline", "w1"):
        workers = ", ".join(f"{mb:.0f}" for mb in sorted(run.worker_peaks))
        line += f", largest worker {run.children_peak:.0f} MB (each, sampled: {workers or '?'})"
    if run.others:
        line += f"; also in the tree: {', '.join(run.others)}"
    return line


def conversions(
    args: argparse.Namespace, out: Path, results: Path, images: Path, count: int
) -> None:
    """The interleaved rounds: run, print, check each round's outputs against --workers 1."""
    baseline = args.baseline_python is not None
    if baseline and not args.baseline_python.exists():
        sys.exit(f"no baseline interpreter at {args.baseline_python} (see the docstring)")
    config = box_config(out)
    # compile (or load) the numba kernels first: a cold cache starts a background compile
    warm = "from prelabel.fit.warmup import warm_up; warm_up()"
    subprocess.run(
        [sys.executable, "-c", warm], check=True, env={**os.environ, "PRELABEL_JIT": "wait"}
    )
    runs: dict[str, list[Run]] = {}
    for number, kinds in enumerate(
        schedule(args.workers, baseline, args.repeat, args.baseline_rounds), 1
    ):
        print(f"round {number} (load average {os.getloadavg()[0]:.2f}):", flush=True)
        for kind in kinds:
            python = str(args.baseline_python) if kind == "baseline" else sys.executable
            target = out / kind
            shutil.rmtree(target, ignore_errors=True)
            cmd = convert_cmd(python, results, images, config, target)
            if kind != "baseline":
                cmd += ["--workers", kind[1:]]
            run = run_child(cmd, cwd=out)
            runs.setdefault(kind, []).append(run)
            print(describe(kind, run, count), flush=True)
        check_identical(out, args.workers)
    summarize(runs, count)


def check_identical(out: Path, workers: list[int]) -> None:
    first = out / f"w{workers[0]}"
    for n in workers[1:]:
        same = same_output(first, out / f"w{n}")
        print(f"  --workers {n} output byte-identical to --workers {workers[0]}: "
              f"{'yes' if same else 'NO'}")  # fmt: skip


def summarize(runs: dict[str, list[Run]], count: int) -> None:
    print("summary (objects/s: range over rounds; ratios: per round, then best vs best):")
    for kind, mine in runs.items():
        rates = sorted(count / r.seconds for r in mine)
        workers = (
            ""
            if kind in ("baseline", "w1")
            else f"largest worker {max(r.children_peak for r in mine):.0f} MB, "
        )
        print(
            f"  {kind:9} {rates[0]:11,.0f} - {rates[-1]:11,.0f} objects/s; reader peak "
            f"{max(r.own_peak for r in mine):.0f} MB, {workers}tree sum "
            f"{max(r.tree_peak for r in mine):.0f} MB (peak RSS goal < 300 MB per process)"
        )
        totals = json.loads(mine[-1].stdout).get("totals")
        print(f"  {'':9} totals: {totals}")
    kinds = list(runs)
    workers = [k for k in kinds if k != "baseline"]
    pairs = [("w1", "baseline", 4.0)] + [(k, "w1", 1.7) for k in workers if k != "w1"]
    for top, bottom, goal in pairs:
        if top in runs and bottom in runs:
            ratio(runs[top], runs[bottom], top, bottom, goal)


def ratio(top: list[Run], bottom: list[Run], top_name: str, bottom_name: str, goal: float) -> None:
    per_round = [b.seconds / t.seconds for t, b in zip(top, bottom, strict=False)]
    best = min(b.seconds for b in bottom) / min(t.seconds for t in top)
    shown = ", ".join(f"{x:.2f}x" for x in per_round)
    met = "met" if min([*per_round, best]) >= goal else "NOT met"
    print(
        f"  {top_name} / {bottom_name} objects/s: per round {shown}; best vs best "
        f"{best:.2f}x (goal >= {goal}x: {met})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the generated file")
    parser.add_argument(
        "--per-image", type=int, default=10, help="copies sharing one set of image ids"
    )
    parser.add_argument("--mode", choices=["pipeline", "reader"], default="pipeline")
    parser.add_argument(
        "--workers",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 2],
        help="comma-separated --workers counts to run, the first the reference (default 1,2)",
    )
    parser.add_argument(
        "--baseline-python",
        type=lambda s: None if s == "none" else Path(s),
        default=BASELINE_PYTHON,
        help=f"interpreter with commit bbe7593 installed, or 'none' (default {BASELINE_PYTHON})",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of runs taking turns")
    parser.add_argument(
        "--baseline-rounds", type=int, default=2, help="run the baseline in this many rounds"
    )
    parser.add_argument("--no-json-load", action="store_true", help="skip the json.load figure")
    parser.add_argument("--workdir", help="where to write the files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        results, images, count, image_count = generate(out, args.size_mb, args.per_image)
        size = results.stat().st_size / 2**20
        print(
            f"generated {size:.0f} MB: {count} results on {image_count} images "
            f"in {time.perf_counter() - t:.1f} s ({results})"
        )
        py = sys.executable
        if args.mode == "reader":
            run = run_child([py, "-c", PEAK + READER_ONLY, str(results), str(images)])
            print(f"reader: {run.seconds:.1f} s, {count / run.seconds:,.0f} objects/s, "
                  f"peak RSS {run.own_peak:.0f} MB ({run.own_peak / size:.2f} x file size)")  # fmt: skip
        else:
            conversions(args, out, results, images, count)
        if not args.no_json_load:
            load = run_child([py, "-c", PEAK + JSON_LOAD, str(results)])
            print(f"json.load of the same file: peak RSS {load.own_peak:.0f} MB")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
