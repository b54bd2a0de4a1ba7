"""A model iteration: ground truth submitted, then tracker results converted into the same
directory (same unique_ids, new hypotheses). The rerun must never adopt the old tasks silently
(issue 11, finding 4): ``--on-changed error`` (default) exits 5 listing them, ``skip`` keeps
them and says so, ``replace`` cancels (clear_unique_id) and recreates those whose work has not
started, and never touches a completed one. Real files, real subprocesses, the sandbox's store
checked."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from conftest import FIXTURES, SHARED

from prelabel.config import rules
from prelabel.sandbox.server import Sandbox, run_sandbox

BIN = Path(sys.executable).parent
MOT = SHARED / "motmetrics" / "data"
SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")


def prelabel(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCALE_API_KEY": "test_model_iteration"}
    return subprocess.run(
        [str(BIN / "prelabel"), *args], capture_output=True, text=True, env=env, timeout=300
    )


def convert(name: str, out: Path) -> None:
    inputs = [str(MOT / seq / f"{name}.txt") for seq in SEQUENCES]
    proc = prelabel("convert", "mot", *inputs, "--fps", "25", "--image-size", "640x480",
                    "--label", "person", "-c", str(FIXTURES / "configs" / "tracking_playback.toml"),
                    "-o", str(out), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def submit(out: Path, sb: Sandbox, *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = prelabel("submit", str(out), "--api-url", sb.url, "--rate", "0", "--json", *extra)
    assert "Traceback" not in proc.stderr
    return proc.returncode, orjson.loads(proc.stdout), proc.stderr


def digests(out: Path) -> dict[str, str]:
    """The digest of each task of ``out`` as submit computes it."""
    from prelabel.output.artifacts import artifact_refs  # imported here: the test must run
    from prelabel.scale.digest import body_digest  # (and fail) on code without them

    found = {}
    for raw in (out / "tasks.jsonl").read_bytes().splitlines():
        task = orjson.loads(raw)
        names = {n for _, n in artifact_refs(task["body"])}
        shas = {n: hashlib.sha256((out / "artifacts" / n).read_bytes()).hexdigest() for n in names}
        found[task["body"]["unique_id"]] = body_digest(task["task_type"], task["body"], shas)
    return found


def live(sb: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """Tasks holding a unique_id, by unique_id (a canceled task with a cleared id holds none)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for task in sb.tasks():
        if task.get("unique_id") and task["status"] != "canceled":
            out.setdefault(task["unique_id"], []).append(task)
    return out


def held_digest(task: dict[str, Any]) -> str:
    return str(task["metadata"][rules.METADATA_DIGEST_KEY])


def test_a_changed_conversion_is_never_adopted_silently(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with run_sandbox(store=tmp_path / "scale") as sb:
        convert("gt", out)
        code, summary, _ = submit(out, sb)
        assert code == 0 and summary["created"] == 2
        first = {t["unique_id"]: t["task_id"] for t in sb.tasks()}
        convert("test", out)  # the tracker's results, same sequences, same unique_ids

        # default: exit 5, both listed, nothing touched (before: "adopted 2", exit 0)
        code, summary, err = submit(out, sb)
        assert code == 5 and summary["changed"] == 2 and summary["adopted"] == 0
        tracker = digests(out)
        ground_truth = {u: held_digest(t[0]) for u, t in live(sb).items()}
        assert tracker.keys() == ground_truth.keys() and tracker != ground_truth
        assert {u: t[0]["task_id"] for u, t in live(sb).items()} == first
        for uid in tracker:
            assert f"changed: {uid} (line " in err and "holds a different body; reported" in err
        assert "2 task(s) already exist with a different body" in err.splitlines()[-1]

        # skip: the old tasks stay, the run says so and succeeds, every time
        for _ in range(2):
            code, summary, err = submit(out, sb, "--on-changed", "skip")
            assert code == 0 and summary["kept"] == 2, err
            assert err.count("kept (on-changed skip)") == 2

        # replace: one task's work is done, so only the other is replaced
        campus, stadt = sorted(tracker)
        done = live(sb)[stadt][0]
        sb.store.set_task_state(done["task_id"], "completed", work_started=True)
        code, summary, err = submit(out, sb, "--on-changed", "replace")
        assert code == 5 and (summary["replaced"], summary["changed"]) == (1, 1), err
        assert "left as is: its work has started" in err
        now = live(sb)
        assert Counter({u: len(t) for u, t in now.items()}) == {campus: 1, stadt: 1}
        assert held_digest(now[campus][0]) == tracker[campus]  # the new body is live
        assert now[stadt][0]["task_id"] == done["task_id"]  # the completed one is untouched
        assert now[stadt][0]["status"] == "completed"
        assert held_digest(now[stadt][0]) == ground_truth[stadt]
        canceled = [t for t in sb.tasks() if t["status"] == "canceled"]
        assert len(canceled) == 1 and "unique_id" not in canceled[0]
        url = now[campus][0]["params"]["hypothesis"]["annotations"]["url"]
        name = orjson.loads((out / "tasks.jsonl").read_bytes().splitlines()[0])["body"][
            "hypothesis"
        ]["annotations"]["url"]
        hosted = sb.store.file_bytes(url.removeprefix("scaledata://sandbox/"))
        assert hosted == (out / "artifacts" / name.removeprefix("artifact://")).read_bytes()

        # a rerun: the replaced task is done (same digest), the completed one still reported
        code, summary, err = submit(out, sb, "--on-changed", "replace")
        assert code == 5 and (summary["skipped"], summary["changed"]) == (1, 1)
        assert len(sb.tasks()) == 3  # two from ground truth, one replacement: nothing more
