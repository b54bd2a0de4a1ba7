"""submit against hostile servers and broken local files (issue 17): the key never leaks, not
even in part; journals that are not journals, unreadable key files and unwritable locations
each end with one line naming the path and a documented exit code, never exit 1."""

from __future__ import annotations

import http.server
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import FIXTURES

BIN = Path(sys.executable).parent
KEY = "test_CANARY_5f2b8c1d9e7a4063"


def submit(*args: str, key: str | None = KEY) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("SCALE_API_KEY", "SCALE_API_URL")}
    if key is not None:
        env["SCALE_API_KEY"] = key
    return subprocess.run(
        [str(BIN / "prelabel"), "submit", *args], capture_output=True, env=env, timeout=120
    )


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(FIXTURES / "http" / "basic", target)
    return target


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 500 whose body echoes the key (as a careless proxy might)."""

    body = b""
    content_type = "text/plain"

    def _answer(self) -> None:
        self.send_response(500)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[tuple[str, type[_Echo]]]:
    handler = type("Echo", (_Echo,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()


def _leaks(blob: str) -> list[str]:
    """Any piece of the key of 5 characters or more after its public ``test_`` prefix."""
    secret = KEY.removeprefix("test_")
    return [secret[i : i + 5] for i in range(len(secret) - 4) if secret[i : i + 5] in blob]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", ("x" * 490 + KEY + " was refused").encode()),  # cut at 500 on main
        ("application/json", orjson.dumps({"status_code": 500, "error": f"bad key {KEY[:14]}"})),
    ],
    ids=["echo-at-490", "fragment"],
)
def test_a_key_echoed_by_the_server_never_shows_not_even_a_fragment(
    out_dir: Path, echo_server: tuple[str, type[_Echo]], content_type: str, body: bytes
) -> None:
    url, handler = echo_server
    handler.body, handler.content_type = body, content_type
    proc = submit(str(out_dir), "--api-url", url, "--retries", "0", "--json", "--concurrency", "1")
    assert proc.returncode == 5
    journal = b"".join(p.read_bytes() for p in out_dir.glob("journal.sqlite*"))
    for blob in (proc.stdout, proc.stderr, journal):
        assert _leaks(blob.decode("latin-1")) == [], blob[-600:]
    assert b"***" in proc.stdout


def _text(path: Path) -> None:
    path.write_text("task,state\nx,created\n")


def _random(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")


def _other_tasks_table(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT)")


def _truncated(path: Path, out_dir: Path) -> None:
    assert submit(str(out_dir), "--sandbox", "--quiet", "--journal", str(path)).returncode == 0
    data = path.read_bytes()
    for extra in path.parent.glob(path.name + "-*"):
        extra.unlink()
    path.write_bytes(data[: len(data) // 3] + b"\0" * 64)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("text", _text),
        ("random bytes", _random),
        ("another program's database", _foreign),
        ("a tasks table of another shape", _other_tasks_table),
        ("a truncated journal", None),
    ],
)
def test_a_journal_that_is_not_one_exits_3_naming_it(
    out_dir: Path, tmp_path: Path, name: str, make: object
) -> None:
    path = tmp_path / "journal.sqlite"
    if make is None:
        _truncated(path, out_dir)
    else:
        make(path)  # type: ignore[operator]
    proc = submit(str(out_dir), "--sandbox", "--quiet", "--journal", str(path), key=None)
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and err.startswith(f"Error: {path}: "), err
    assert "Traceback" not in err


def test_a_folder_given_as_journal_is_a_usage_error(out_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "journal").mkdir()
    proc = submit(str(out_dir), "--sandbox", "--quiet", "--journal", str(tmp_path / "journal"))
    assert proc.returncode == 2 and b"is a directory" in proc.stderr


@pytest.mark.parametrize(
    "where",
    ["{out}/tasks.jsonl/journal.sqlite", "/proc/self/prelabel-journal.sqlite"],
    ids=["under a file", "unwritable"],
)
def test_a_journal_location_that_cannot_be_written_exits_6(out_dir: Path, where: str) -> None:
    path = where.format(out=out_dir)
    proc = submit(str(out_dir), "--sandbox", "--quiet", "--journal", path, key=None)
    err = proc.stderr.decode()
    assert proc.returncode == 6, err
    assert err.count("\n") == 1 and err.startswith(f"Error: {path}: cannot "), err


def test_a_key_file_that_is_not_utf8_exits_3_without_echoing_it(
    out_dir: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"test_\xff\xfe\x81secret\n")
    proc = submit(str(out_dir), "--api-key-file", str(key_file), key=None)
    err = proc.stderr.decode()
    assert proc.returncode == 3
    assert err == f"Error: {key_file}: API key file is not UTF-8 text (an API key is ASCII)\n"
