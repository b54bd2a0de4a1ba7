"""Running the real CLI on hostile input, the way a user would, with limits and measurements.

:func:`run_cli` starts ``python -m prelabel.cli`` in a subprocess under resource limits
(address space, file size, a deadline) and reports its exit code, its stderr, its own peak
resident memory (``wait4``'s rusage of that one child) and its wall time. :func:`check_run`
asserts what every run on any input must hold: a documented exit code, one line of error
and no traceback, time and memory within bounds, nothing written outside ``--out``, and
every object accounted for in ``report.json``. Used by ``test_hostile_inputs.py`` and the
fuzzing suite (``test_fuzz_readers.py``).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

# exit codes a run may end with on any input (README "Exit codes"): 1 is a bug
DOCUMENTED = {0, 3, 4, 6}
# an address-space ceiling that stops a runaway allocation long before the machine swaps
# (polars reserves address space per thread: the child runs with two)
ADDRESS_SPACE = 4 << 30
# what a small hostile input may cost at most: resident memory and wall time
MAX_RSS_MB = 1024
MAX_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Run:
    """What one CLI run did."""

    args: tuple[str, ...]
    code: int  # the exit code; -N for a signal (-9 when the deadline killed it)
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


def run_cli(
    *args: str,
    timeout: float = MAX_SECONDS,
    address_space: int = ADDRESS_SPACE,
    fsize: int | None = None,
) -> Run:
    """``prelabel ARGS`` in a subprocess under limits, measured."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "POLARS_MAX_THREADS": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "prelabel.cli", *args],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=limits, env=env,
        )  # fmt: skip
        status, usage = _wait(proc, start + timeout)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss / 1024  # kB on Linux
        text = (out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    return Run(tuple(args), code, text[0], text[1], rss, seconds)


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, resource.struct_rusage]:
    """Reap the child with its own rusage; past the deadline it is killed."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        time.sleep(0.01)


def files_outside(root: Path, out: Path, before: set[Path]) -> set[Path]:
    """Files under ``root`` a run made outside ``out`` (``before``: those there already)."""
    now = {p for p in root.rglob("*") if not p.is_dir() and out not in p.parents}
    return now - before


def check_run(run: Run, out: Path | None = None, codes: set[int] = DOCUMENTED) -> None:
    """What every run must hold, whatever its input (see the module doc); ``codes``: the
    exit codes it may end with (2 too where a test gives a bad option on purpose)."""
    where = f"{' '.join(run.args)}\n{run.stderr[-2000:]}"
    assert run.code in codes, f"exit {run.code}: {where}"
    assert "Traceback" not in run.stderr, where
    assert run.seconds < MAX_SECONDS, f"{run.seconds:.1f} s: {where}"
    assert run.peak_rss_mb < MAX_RSS_MB, f"{run.peak_rss_mb:.0f} MB: {where}"
    if run.code:
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, where
    if run.code == 0 and out is not None:
        check_accounted(out)


def check_accounted(out: Path) -> None:
    """report.json accounts for every object: totals add up and match the records."""
    report = orjson.loads((out / "report.json").read_bytes())
    totals = report["totals"]
    assert totals["objects_in"] == totals["objects_out"] + totals["objects_dropped"], totals
    records = report["objects"]  # a run record stands for "count" objects
    assert sum(r.get("count", 1) for r in records) == totals["objects_in"], totals
    dropped = sum(r.get("count", 1) for r in records if r["outcome"] == "dropped")
    assert dropped == totals["objects_dropped"], (dropped, totals)
    lines = [x for x in (out / "tasks.jsonl").read_bytes().splitlines() if x.strip()]
    assert len(lines) == len(report["tasks"]) == totals["tasks"]
