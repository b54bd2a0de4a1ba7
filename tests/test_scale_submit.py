"""submit_dir against the real sandbox over 127.0.0.1: uploads, journal, 409 adoption, faults."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import write_report

from prelabel.errors import InputError
from prelabel.output.tasks import read_tasks
from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import Sandbox, run_sandbox
from prelabel.scale.client import RetryPolicy, ScaleClient
from prelabel.scale.digest import body_digest, with_digest
from prelabel.scale.journal import Journal
from prelabel.scale.submit import submit_dir

REPO = Path(__file__).resolve().parents[1]
BASIC = REPO / "fixtures" / "http" / "basic"
KEY = "test_submitkey_0123456789"
FAST_RETRY = RetryPolicy(attempts=10, initial=0.02, max_wait=0.3)
BOX = {"box": {"objects_to_annotate": ["car"]}}


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(BASIC, target)
    return target


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox() as sb:
        yield sb


def client_for(sb: Sandbox, **kw: Any) -> ScaleClient:
    kw.setdefault("rate", 0)
    kw.setdefault("retry", FAST_RETRY)
    return ScaleClient(KEY, api_url=sb.url, **kw)


def write_tasks(directory: Path, n: int, *, project: str = "p", prefix: str = "t") -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    uids = [f"{project}/imageannotation/{prefix}{i:05d}" for i in range(n)]
    lines = [
        orjson.dumps(
            {
                "task_type": "imageannotation",
                "body": {
                    "project": project,
                    "unique_id": uid,
                    "attachment": f"https://x/{i}.jpg",
                    "geometries": BOX,
                },
            }
        )
        for i, uid in enumerate(uids)
    ]
    (directory / "tasks.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    write_report(directory)
    return uids


def sent_body(root: Path, uid: str) -> dict[str, Any]:
    """What submit sends for ``uid`` of ``root/a``: the body with its digest in metadata
    (as a task created by an earlier run, or one whose journal was lost, holds it)."""
    task = next(t for t in read_tasks(root / "a") if t.unique_id == uid)
    return with_digest(task.body, body_digest(task.task_type, task.body, {}))


def test_fixture_dir_submits_uploads_once_and_substitutes(out_dir: Path, sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        summary = submit_dir(out_dir, client=client, concurrency=4)
    assert summary.ok and summary.created == 5 and summary.failed == 0
    assert summary.uploads == 3  # mask-0001.png is named by two tasks: uploaded once
    files = sandbox.files()
    assert len(files) == 3
    by_url = {f"scaledata://sandbox/{f['id']}": f for f in files}
    stored = {f["filename"]: Path(sandbox.store.root / "files" / f["id"]) for f in files}
    for name, path in stored.items():  # the sandbox got the exact bytes of each artifact
        assert path.read_bytes() == (out_dir / "artifacts" / name).read_bytes()
    tasks = {t["unique_id"]: t for t in sandbox.tasks()}
    assert len(tasks) == 5
    seg1 = tasks["demo/segmentannotation/img-0001"]["params"]["hypothesis"]["annotations"]
    seg3 = tasks["demo/segmentannotation/img-0003"]["params"]["hypothesis"]["annotations"]
    url1 = seg1["combined"]["indexedImage"]
    assert url1 in by_url and by_url[url1]["filename"] == "mask-0001.png"
    assert seg3["combined"]["indexedImage"] == url1
    vpa = tasks["demo/videoplaybackannotation/clip-0001"]
    assert by_url[vpa["params"]["hypothesis"]["annotations"]["url"]]["mimetype"] == (
        "application/json"
    )
    assert tasks["demo/imageannotation/img-0001"]["type"] == "imageannotation"
    assert "artifact://" not in orjson.dumps(list(tasks.values())).decode()


def test_rerun_skips_everything_and_reuses_nothing_new(out_dir: Path, sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        first = submit_dir(out_dir, client=client)
        requests_after_first = sandbox.stats["requests"]
        second = submit_dir(out_dir, client=client)
    assert first.created == 5
    assert (second.skipped, second.created, second.adopted, second.uploads) == (5, 0, 0, 0)
    assert sandbox.stats["requests"] == requests_after_first  # a finished rerun sends nothing
    journal = sqlite3.connect(out_dir / "journal.sqlite")
    rows = journal.execute("SELECT unique_id, state, task_id FROM tasks").fetchall()
    ids = {t["unique_id"]: t["task_id"] for t in sandbox.tasks()}
    assert {(u, "created", ids[u]) for u in ids} == set(rows)


def test_uploads_remembered_across_runs_by_content_hash(out_dir: Path, sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        submit_dir(out_dir, client=client)
        # a new task that names an already-uploaded mask under another file name
        shutil.copy(out_dir / "artifacts" / "mask-0002.png", out_dir / "artifacts" / "copy.png")
        extra = {
            "task_type": "segmentannotation",
            "body": {"project": "demo", "unique_id": "demo/seg/new", "labels": ["car"],
                     "attachment": "https://example.com/new.png", "allow_unlabeled": True,
                     "hypothesis": {"labelMapping": {"car": {"index": 1}},
                                    "annotations": {"combined": {"indexedImage": "artifact://copy.png"}}}},
        }  # fmt: skip
        with (out_dir / "tasks.jsonl").open("ab") as fh:
            fh.write(orjson.dumps(extra) + b"\n")
        write_report(out_dir)
        summary = submit_dir(out_dir, client=client)
    assert (summary.created, summary.skipped, summary.uploads, summary.uploads_reused) == (
        1,
        5,
        0,
        1,
    )
    digest = hashlib.sha256((out_dir / "artifacts" / "copy.png").read_bytes()).hexdigest()
    with Journal(out_dir / "journal.sqlite", target=sandbox.url) as journal:
        url = journal.upload(digest)
    new = next(t for t in sandbox.tasks() if t["unique_id"] == "demo/seg/new")
    assert new["params"]["hypothesis"]["annotations"]["combined"]["indexedImage"] == url


def test_409_adopts_matching_task_without_duplicate(tmp_path: Path, sandbox: Sandbox) -> None:
    uids = write_tasks(tmp_path / "a", 6)
    with client_for(sandbox) as client:
        for uid in uids[:3]:  # created earlier by someone/something else, e.g. a lost journal
            client.create_task("imageannotation", sent_body(tmp_path, uid))
        summary = submit_dir(tmp_path / "a", client=client)
    assert (summary.created, summary.adopted, summary.failed) == (3, 3, 0)
    assert sandbox.stats["409"] == 3
    assert sorted(t["unique_id"] for t in sandbox.tasks()) == uids


def test_409_on_foreign_task_is_a_conflict_naming_both(tmp_path: Path, sandbox: Sandbox) -> None:
    uids = write_tasks(tmp_path / "a", 2, project="mine")
    with client_for(sandbox) as client:
        other = client.create_task(
            "segmentannotation",
            {"project": "theirs", "unique_id": uids[0], "attachment": "https://x/0.jpg",
             "labels": ["car"]},
        )  # fmt: skip
        summary = submit_dir(tmp_path / "a", client=client)
    assert not summary.ok and summary.failed == 1 and summary.created == 1
    assert summary.failed_by_reason == {"unique_id conflict": 1}
    reason = summary.failures[0]["reason"]
    assert other["task_id"] in reason and "theirs" in reason and "mine" in reason
    assert uids[0] in reason
    state = Journal(tmp_path / "a" / "journal.sqlite", target=sandbox.url).task(uids[0])
    assert (
        state is not None and state.state == "failed" and other["task_id"] in (state.reason or "")
    )


def test_pending_row_from_a_crash_is_looked_up_not_recreated(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    uids = write_tasks(tmp_path / "a", 4)
    with client_for(sandbox) as client:
        sent = client.create_task("imageannotation", sent_body(tmp_path, uids[0]))
        with Journal(tmp_path / "a" / "journal.sqlite", target=sandbox.url) as journal:
            journal.mark_pending(uids[0], "imageannotation")  # crashed after sending
            journal.mark_pending(uids[1], "imageannotation")  # crashed before sending
        summary = submit_dir(tmp_path / "a", client=client)
    assert (summary.adopted, summary.created) == (1, 3)
    assert sandbox.stats.get("409", 0) == 0  # found by the unique_id lookup, no blind create
    by_uid = Counter(t["unique_id"] for t in sandbox.tasks())
    assert by_uid == Counter(uids)
    with Journal(tmp_path / "a" / "journal.sqlite", target=sandbox.url) as journal:
        row = journal.task(uids[0])
    assert row is not None and row.state == "adopted" and row.task_id == sent["task_id"]


def test_journal_is_per_target(tmp_path: Path) -> None:
    uids = write_tasks(tmp_path / "a", 3)
    with run_sandbox() as one, run_sandbox() as two:
        for sb in (one, two):
            with client_for(sb) as client:
                assert submit_dir(tmp_path / "a", client=client).created == 3
        assert sorted(t["unique_id"] for t in two.tasks()) == uids


def test_every_fault_kind_zero_duplicates_zero_lost(tmp_path: Path) -> None:
    uids = write_tasks(tmp_path / "a", 120)
    faults = Faults(latency_ms=2, error_after=0.08, error_before=0.08, throttle=0.08,
                    retry_after=0.05, drop=0.08, slow=0.05, slow_s=0.8, seed=7)  # fmt: skip
    with run_sandbox(faults=faults) as sb:
        with client_for(sb, read_timeout=0.4) as client:
            summary = submit_dir(tmp_path / "a", client=client, concurrency=12)
            rerun = submit_dir(tmp_path / "a", client=client, concurrency=12)
        stats = sb.stats
        counts = Counter(t["unique_id"] for t in sb.tasks())
    assert summary.ok, summary.failures
    assert summary.created + summary.adopted == 120
    assert rerun.skipped == 120
    assert set(counts) == set(uids) and max(counts.values()) == 1
    for kind in ("error_after", "error_before", "throttle", "drop_after", "drop_before", "slow"):
        assert stats.get(f"fault_{kind}", 0) > 0, kind
    assert summary.adopted > 0  # "500 after create", drops and timeouts were resolved by 409


def test_batches_created_submitted_into_and_finalized(tmp_path: Path, sandbox: Sandbox) -> None:
    d = tmp_path / "a"
    d.mkdir()
    lines = [
        orjson.dumps({"task_type": "imageannotation",
                      "body": {"project": "p", "batch": f"b{i % 2}", "unique_id": f"u{i}",
                               "attachment": "https://x/a.jpg", "geometries": BOX}})
        for i in range(6)
    ]  # fmt: skip
    (d / "tasks.jsonl").write_bytes(b"\n".join(lines))
    write_report(d)
    with client_for(sandbox) as client:
        summary = submit_dir(d, client=client, create_batches=True, finalize=True)
        again = submit_dir(d, client=client, create_batches=True, finalize=True)
    assert sorted(summary.batches_created) == ["b0", "b1"]
    assert sorted(summary.batches_finalized) == ["b0", "b1"]
    assert again.batches_created == [] and again.batches_finalized == []
    assert {b["name"]: b["status"] for b in sandbox.batches()} == {
        "b0": "in_progress",
        "b1": "in_progress",
    }
    assert Counter(t["batch"] for t in sandbox.tasks()) == {"b0": 3, "b1": 3}


def test_rejected_tasks_fail_with_reason_and_rerun_retries(tmp_path: Path) -> None:
    write_tasks(tmp_path / "a", 3)
    with run_sandbox(api_key="test_right") as sb:
        with ScaleClient("test_wrong", api_url=sb.url, rate=0, retry=FAST_RETRY) as client:
            bad = submit_dir(tmp_path / "a", client=client, concurrency=1)
        with ScaleClient("test_right", api_url=sb.url, rate=0, retry=FAST_RETRY) as client:
            good = submit_dir(tmp_path / "a", client=client)
    # the first 401 stops the run: the other tasks are not sent with a refused key
    assert (bad.failed, bad.not_attempted, bad.failed_by_reason) == (1, 2, {"HTTP 401": 1})
    assert "valid API key" in bad.failures[0]["reason"] and not bad.ok
    assert good.ok and good.created == 3


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_at_the_first_refusal(tmp_path: Path, status: int) -> None:
    """Issue 17: a wrong key sent all 2,000 requests and collected 2,000 401s."""
    write_tasks(tmp_path / "a", 2000)
    requests = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        requests[request.url.path] += 1
        return httpx.Response(status, json={"status_code": status, "error": "Nope."})

    transport = httpx.MockTransport(handler)
    with ScaleClient(KEY, rate=0, retry=FAST_RETRY, transport=transport) as client:
        summary = submit_dir(tmp_path / "a", client=client, concurrency=8)
    sent = sum(requests.values())
    assert 1 <= sent <= 8  # at most the tasks already in flight
    assert summary.failed == sent and summary.not_attempted == 2000 - sent
    assert summary.failed_by_reason == {f"HTTP {status}": sent}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "line 2: not valid JSON"),
        (b"[1, 2]", "line 2: expected an object"),
        (b'{"body": {"unique_id": "x"}}', "line 2: missing task_type"),
        (b'{"task_type": "imageannotation", "body": {}}', "line 2: body has no unique_id"),
        (b'{"task_type": "imageannotation", "body": {"unique_id": "a"}}', "repeats line 1"),
        (
            b'{"task_type": "imageannotation", "body": {"unique_id": "b", "x": "artifact://no.png"}}',
            "line 2: body.x: artifact file artifacts/no.png is missing",
        ),
        (
            b'{"task_type": "imageannotation", "body": {"unique_id": "b", "x": ["artifact://../t"]}}',
            "outside artifacts/",
        ),
    ],
)
def test_bad_tasks_jsonl_is_an_input_error_naming_line(
    tmp_path: Path, line: bytes, message: str
) -> None:
    (tmp_path / "artifacts").mkdir()
    first = b'{"task_type": "imageannotation", "body": {"unique_id": "a"}}'
    (tmp_path / "tasks.jsonl").write_bytes(first + b"\n" + line + b"\n")
    with pytest.raises(InputError) as info:
        read_tasks(tmp_path)
    assert message in str(info.value)
    assert str(tmp_path / "tasks.jsonl") in str(info.value)


def test_missing_tasks_jsonl(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no tasks\.jsonl"):
        read_tasks(tmp_path)


def test_journal_never_holds_the_key(out_dir: Path, sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        submit_dir(out_dir, client=client)
    raw = b"".join(p.read_bytes() for p in out_dir.glob("journal.sqlite*"))
    assert KEY.encode() not in raw
    assert b"submitkey" not in raw


def test_summary_is_json_ready(out_dir: Path, sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        summary = submit_dir(out_dir, client=client)
    doc: dict[str, Any] = orjson.loads(orjson.dumps(summary.as_dict()))
    assert doc["ok"] is True and doc["created"] == 5 and doc["api_url"] == sandbox.url


def test_rate_limit_paces_creations_over_real_http(tmp_path: Path, sandbox: Sandbox) -> None:
    write_tasks(tmp_path / "a", 45)
    with client_for(sandbox, rate=30) as client:
        summary = submit_dir(tmp_path / "a", client=client, concurrency=16)
    assert summary.created == 45
    # a burst of 30, then 15 more at 30/s: at least half a second however fast the server is
    assert summary.elapsed_s >= 0.45


def test_a_create_answer_without_task_id_fails_that_task(tmp_path: Path) -> None:
    import httpx

    write_tasks(tmp_path / "a", 2)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"docs": [], "total": 0})
        return httpx.Response(200, json={"status": "pending"})

    transport = httpx.MockTransport(handler)
    with ScaleClient(KEY, api_url="https://mock/v1", rate=0, transport=transport) as client:
        summary = submit_dir(tmp_path / "a", client=client)
    assert summary.failed == 2 and summary.failed_by_reason == {"HTTP 200": 2}
    assert "no task_id" in summary.failures[0]["reason"]


def test_a_journal_from_before_digests_is_upgraded_in_place(tmp_path: Path) -> None:
    """An older journal (no digest column) keeps working: its done tasks are skipped."""
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE tasks (target TEXT NOT NULL, unique_id TEXT NOT NULL, task_type TEXT"
            " NOT NULL, state TEXT NOT NULL, task_id TEXT, reason TEXT, attempts INTEGER NOT"
            " NULL DEFAULT 0, updated_at REAL NOT NULL, PRIMARY KEY (target, unique_id));"
            "INSERT INTO tasks VALUES ('t', 'u1', 'imageannotation', 'created', 'id1', NULL,"
            " 1, 0);"
        )
    with Journal(path, target="t") as journal:
        row = journal.task("u1")
        assert row is not None and row.done and row.digest is None
        journal.mark_done("u2", "imageannotation", "created", "id2", "abc")
        assert journal.tasks()["u2"].digest == "abc"
