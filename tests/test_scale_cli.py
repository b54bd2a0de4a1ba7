"""``prelabel submit`` / ``prelabel sandbox`` end to end, including a SIGKILL mid-run."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from conftest import write_report

from prelabel.cli.main import cli
from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import run_sandbox

REPO = Path(__file__).resolve().parents[1]
BASIC = REPO / "fixtures" / "http" / "basic"
LIVE = "live_TOPSECRET_9f8e7d6c5b4a"


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(BASIC, target)
    return target


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_sends_nothing_and_needs_no_key(out_dir: Path) -> None:
    code, out, err = run(
        ["submit", str(out_dir), "--dry-run", "--json", "--api-url", "http://127.0.0.1:9/v1"],
        env={"SCALE_API_KEY": ""},
    )
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["tasks"] == 5 and doc["artifacts"] == 3
    assert doc["by_type"] == {"segmentannotation": 3, "imageannotation": 1,
                              "videoplaybackannotation": 1}  # fmt: skip
    assert "would POST http://127.0.0.1:9/v1/task/segmentannotation" in err
    assert "nothing sent" in err
    assert not (out_dir / "journal.sqlite").exists()


def test_sandbox_flag_runs_end_to_end(out_dir: Path) -> None:
    code, out, err = run(["submit", str(out_dir), "--sandbox", "--json"])
    assert code == 0, err
    summary = orjson.loads(out)
    assert summary["ok"] and summary["created"] == 5 and summary["uploads"] == 3
    store = out_dir / "sandbox" / "sandbox.sqlite"
    assert f"stored 5 tasks in {store}" in err
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 5
    assert "submit: 5/5" in err  # plain progress lines when not a terminal
    # a second --sandbox run reopens the same store on another port; the journal is keyed by
    # the store, so every task is known done: skipped, nothing adopted, nothing duplicated
    code, out, err = run(["submit", str(out_dir), "--sandbox", "--json", "--quiet"])
    again = orjson.loads(out)
    assert code == 0 and err == ""
    assert (again["skipped"], again["adopted"], again["created"]) == (5, 0, 0)
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 5


def test_live_key_needs_yes_when_not_a_terminal(out_dir: Path) -> None:
    with run_sandbox() as sb:
        code, out, err = run(
            ["submit", str(out_dir), "--api-url", sb.url], env={"SCALE_API_KEY": LIVE}
        )
        assert code == 2 and "--yes" in err
        assert sb.stats.get("requests", 0) == 0
        code, out, err = run(
            ["submit", str(out_dir), "--api-url", sb.url, "--yes", "--json"],
            env={"SCALE_API_KEY": LIVE},
        )
    assert code == 0, err
    assert LIVE not in out + err and "TOPSECRET" not in out + err


def test_failures_exit_5_and_never_show_the_key(out_dir: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(LIVE + "\n")
    with run_sandbox(api_key="test_only_this") as sb:
        code, out, err = run(
            ["submit", str(out_dir), "--api-url", sb.url, "--api-key-file", str(key_file),
             "--yes", "--json", "--concurrency", "1"],
        )  # fmt: skip
    assert code == 5
    summary = orjson.loads(out)
    assert summary["failed"] == 1 and summary["failed_by_reason"] == {"HTTP 401": 1}
    assert summary["not_attempted"] == 4 and sb.stats["401"] == 1  # stopped at the first 401
    assert "Error: " in err and "refused the API key" in err
    assert "stopped: 4 of 5 tasks not attempted" in err
    assert "failed: 1 × HTTP 401" in err
    journal = b"".join(p.read_bytes() for p in out_dir.glob("journal.sqlite*"))
    for blob in (out, err, journal.decode("latin-1")):
        assert LIVE not in blob and "TOPSECRET" not in blob


def test_unreachable_server_is_a_transport_failure(out_dir: Path) -> None:
    code, out, _ = run(
        [
            "submit",
            str(out_dir),
            "--api-url",
            "http://127.0.0.1:9/v1",
            "--json",
            "--quiet",
            "--retries",
            "1",
        ],
        env={"SCALE_API_KEY": "test_x"},
    )
    assert code == 5
    summary = orjson.loads(out)
    assert summary["failed"] == 5 and set(summary["failed_by_reason"]) == {"transport error"}


def test_bad_input_exits_3_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tasks.jsonl").write_text('{"task_type": "imageannotation", "body": {}}\n')
    code, _, err = run(["submit", str(tmp_path), "--sandbox"])
    assert code == 3
    assert f"{tmp_path / 'tasks.jsonl'}, line 1: body has no unique_id" in err


def test_sandbox_help_lists_every_fault() -> None:
    code, out, _ = run(["sandbox", "--help"])
    assert code == 0
    for flag in ("--latency-ms", "--error-after", "--error-before", "--throttle",
                 "--retry-after", "--drop", "--slow", "--slow-seconds", "--seed", "--store"):  # fmt: skip
        assert flag in out


def _count_tasks(store: Path) -> int:
    try:
        with sqlite3.connect(store / "sandbox.sqlite", timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_no_duplicates_none_lost(tmp_path: Path) -> None:
    n = 120
    d = tmp_path / "out"
    d.mkdir()
    uids = [f"p/imageannotation/k{i:04d}" for i in range(n)]
    lines = [orjson.dumps({"task_type": "imageannotation", "body": {"project": "p", "unique_id": u,
                  "attachment": "https://x/a.jpg", "geometries": {"box": {}}}})
             for u in uids]  # fmt: skip
    (d / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    write_report(d)
    store = tmp_path / "store"
    env = {**os.environ, "SCALE_API_KEY": "test_kill"}
    with run_sandbox(store=store, faults=Faults(latency_ms=25)) as sb:
        args = [sys.executable, "-m", "prelabel.cli", "submit", str(d), "--api-url", sb.url,
                "--rate", "0", "--concurrency", "4", "--quiet"]  # fmt: skip
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while _count_tasks(store) < 20 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        before = _count_tasks(store)
        assert 20 <= before < n, "the kill must land mid-run"
        rerun = subprocess.run([*args[:-1], "--json"], env=env, capture_output=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr.decode()
        summary = orjson.loads(rerun.stdout)
        counts = Counter(t["unique_id"] for t in sb.tasks())
    assert set(counts) == set(uids), "lost tasks"
    assert max(counts.values()) == 1, "duplicates"
    assert summary["skipped"] + summary["created"] + summary["adopted"] == n
    assert summary["created"] == n - before
    with sqlite3.connect(d / "journal.sqlite") as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
        ids = dict(db.execute("SELECT unique_id, task_id FROM tasks").fetchall())
    assert set(states) <= {"created", "adopted"} and sum(states.values()) == n
    assert ids == {t["unique_id"]: t["task_id"] for t in sb.tasks()}


def test_sandbox_command_serves_until_stopped(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "prelabel.cli", "sandbox", "--port", "0",
            "--store", str(tmp_path / "store"), "--latency-ms", "1"]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("sandbox listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        created = httpx.post(f"{url}/task/imageannotation", json={"unique_id": "cli", "attachment": "https://x/a.jpg", "geometries": {"box": {}}},
                             auth=("test_cli", ""))  # fmt: skip
        assert created.status_code == 200 and created.json()["status"] == "pending"
        assert str((tmp_path / "store").resolve()) in proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    with sqlite3.connect(tmp_path / "store" / "sandbox.sqlite") as db:
        assert db.execute("SELECT unique_id FROM tasks").fetchall() == [("cli",)]


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from prelabel.cli.submit import _progress
    from prelabel.output.tasks import TaskLine

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(sys, "stderr", stream)
    task = TaskLine(1, "imageannotation", {"unique_id": "u"})
    with _progress(3, quiet=False) as tick:
        assert tick is not None
        for outcome in ("created", "adopted", "failed"):
            tick(outcome, task)  # type: ignore[arg-type]
    text = stream.getvalue()
    assert "3/3" in text and "task/s" in text
    assert "created=1" in text and "failed=1" in text


def test_api_url_and_key_come_from_the_environment(out_dir: Path) -> None:
    with run_sandbox(api_key="test_from_env") as sb:
        env = {"SCALE_API_URL": sb.url, "SCALE_API_KEY": "test_from_env"}
        code, out, err = run(["submit", str(out_dir), "--json"], env=env)
        assert code == 0, err
        assert orjson.loads(out)["api_url"] == sb.url
        assert len(sb.tasks()) == 5
