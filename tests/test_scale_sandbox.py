"""The sandbox speaks Scale's API: proven with the official ``scaleapi`` client and raw httpx."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import scaleapi  # the official client (test extra): a missing install must fail, not skip
from scaleapi.exceptions import ScaleDuplicateResource, ScaleResourceNotFound, ScaleUnauthorized
from scaleapi.tasks import TaskType

from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import Sandbox, run_sandbox

KEY = "test_official_client"
# the least imageannotation body Scale accepts: an attachment and one geometry
IMAGE = {"attachment": "https://example.com/a.jpg", "geometries": {"box": {}}}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(store=tmp_path / "store") as sb:
        yield sb


def official(sb: Sandbox, key: str = KEY) -> object:
    return scaleapi.ScaleClient(key, api_instance_url=sb.url)


def test_official_client_creates_gets_and_lists_tasks(sandbox: Sandbox) -> None:
    client = official(sandbox)
    created = []
    for i in range(3):
        task = client.create_task(  # type: ignore[attr-defined]
            TaskType.ImageAnnotation,
            project="demo",
            unique_id=f"demo/img-{i}",
            attachment=f"https://example.com/{i}.jpg",
            geometries={"box": {"objects_to_annotate": ["car"]}},
        )
        created.append(task)
    assert all(t.status == "pending" and t.type == "imageannotation" for t in created)
    got = client.get_task(created[1].id)  # type: ignore[attr-defined]
    assert got.id == created[1].id
    assert got.params["geometries"] == {"box": {"objects_to_annotate": ["car"]}}
    assert got.params["attachment"] == "https://example.com/1.jpg"
    listed = client.tasks(unique_id="demo/img-2")  # type: ignore[attr-defined]
    assert [t.id for t in listed.docs] == [created[2].id]
    everything = list(client.get_tasks(project_name="demo"))  # type: ignore[attr-defined]
    assert sorted(t.id for t in everything) == sorted(t.id for t in created)
    stored = {t["task_id"]: t for t in sandbox.tasks()}
    assert set(stored) == {t.id for t in created}


def test_official_client_sees_scales_409_body(sandbox: Sandbox) -> None:
    client = official(sandbox)
    first = client.create_task(TaskType.ImageAnnotation, project="p", unique_id="dup", **IMAGE)  # type: ignore[attr-defined]
    with pytest.raises(ScaleDuplicateResource) as info:
        client.create_task(TaskType.ImageAnnotation, project="p", unique_id="dup", **IMAGE)  # type: ignore[attr-defined]
    assert info.value.code == 409
    assert info.value.message == (
        f'The unique_id ("dup") is already used for a different task ({first.id}).'
    )
    assert len(sandbox.tasks()) == 1


def test_official_client_auth_and_not_found(tmp_path: Path) -> None:
    with run_sandbox(store=tmp_path, api_key=KEY) as sb:
        with pytest.raises(ScaleUnauthorized) as info:
            official(sb, "test_other").get_task("nope")  # type: ignore[attr-defined]
        assert info.value.code == 401 and "API key" in info.value.message
        with pytest.raises(ScaleResourceNotFound):
            official(sb).get_task("nope")  # type: ignore[attr-defined]


def test_official_client_uploads_files(sandbox: Sandbox) -> None:
    png = b"\x89PNG\r\n\x1a\nnot-really-a-png"
    uploaded = official(sandbox).upload_file(  # type: ignore[attr-defined]
        io.BytesIO(png), project_name="demo"
    )
    assert uploaded.attachment_url == f"scaledata://sandbox/{uploaded.id}"
    record = sandbox.files()[0]
    assert record["project_name"] == "demo" and record["size"] == len(png)
    assert (sandbox.store.root / "files" / uploaded.id).read_bytes() == png


def test_official_client_batches(sandbox: Sandbox) -> None:
    client = official(sandbox)
    batch = client.create_batch(project="demo", batch_name="b1")  # type: ignore[attr-defined]
    assert batch.status == "staging" and batch.project == "demo"
    client.create_task(TaskType.ImageAnnotation, batch="b1", unique_id="in-batch", **IMAGE)  # type: ignore[attr-defined]
    with pytest.raises(ScaleDuplicateResource):
        client.create_batch(project="demo", batch_name="b1")  # type: ignore[attr-defined]
    assert client.finalize_batch("b1").status == "in_progress"  # type: ignore[attr-defined]
    status = client.batch_status("b1")  # type: ignore[attr-defined]
    assert status["status"] == "in_progress" and status["pending"] == 1
    task = sandbox.tasks()[0]
    assert task["batch"] == "b1" and task["project"] == "demo"  # inherited from the batch


def test_list_paging_fields(sandbox: Sandbox) -> None:
    auth = (KEY, "")
    with httpx.Client(base_url=sandbox.url + "/", auth=auth) as http:
        for i in range(5):
            http.post("task/imageannotation", json={"project": "p", "unique_id": f"u{i}", **IMAGE})
        page = http.get("tasks", params={"project": "p", "limit": 2}).json()
        assert (page["total"], page["limit"], page["has_more"], len(page["docs"])) == (
            5,
            2,
            True,
            2,
        )
        seen = [d["unique_id"] for d in page["docs"]]
        while page["has_more"]:
            page = http.get(
                "tasks", params={"project": "p", "limit": 2, "next_token": page["next_token"]}
            ).json()
            seen += [d["unique_id"] for d in page["docs"]]
        assert seen == [f"u{i}" for i in range(5)]
        multi = http.get("tasks", params=[("unique_id", "u1"), ("unique_id", "u3")]).json()
        assert sorted(d["unique_id"] for d in multi["docs"]) == ["u1", "u3"]
        assert http.get("tasks", params={"type": "segmentannotation"}).json()["total"] == 0
        unauth = httpx.get(sandbox.url + "/tasks")
        assert unauth.status_code == 401 and unauth.json()["status_code"] == 401


def _always(kind: str) -> Faults:
    return Faults(**{kind: 1.0, "retry_after": 2, "slow_s": 1.0, "seed": 1})  # type: ignore[arg-type]


def test_fault_500_after_creates_the_task_before_not(tmp_path: Path) -> None:
    body = {"project": "p", "unique_id": "x", **IMAGE}
    for kind, exists in (("error_after", 1), ("error_before", 0)):
        with run_sandbox(store=tmp_path / kind, faults=_always(kind)) as sb:
            r = httpx.post(sb.url + "/task/imageannotation", json=body, auth=(KEY, ""))
            assert r.status_code == 500 and r.json()["status_code"] == 500
            assert len(sb.tasks()) == exists


def test_fault_429_has_retry_after(tmp_path: Path) -> None:
    with run_sandbox(store=tmp_path, faults=_always("throttle")) as sb:
        r = httpx.get(sb.url + "/tasks", auth=(KEY, ""))
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_fault_drop_closes_without_response(tmp_path: Path) -> None:
    with run_sandbox(store=tmp_path, faults=_always("drop")) as sb:
        for _ in range(4):
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.post(
                    sb.url + "/task/imageannotation",
                    json={"unique_id": "d", **IMAGE},
                    auth=(KEY, ""),
                )
        assert sb.stats["fault_drop_after"] + sb.stats["fault_drop_before"] == 4


def test_fault_slow_outlasts_client_timeout(tmp_path: Path) -> None:
    with run_sandbox(store=tmp_path, faults=_always("slow")) as sb:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(sb.url + "/task/imageannotation", json={"unique_id": "s", **IMAGE}, auth=(KEY, ""),
                       timeout=0.2)  # fmt: skip
        assert len(sb.tasks()) == 1  # the work was done before the slow answer


def test_latency_is_added(tmp_path: Path) -> None:
    with run_sandbox(store=tmp_path, faults=Faults(latency_ms=120)) as sb:
        r = httpx.get(sb.url + "/tasks", auth=(KEY, ""))
        assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.12


def test_fixed_port_and_store_on_disk(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with run_sandbox(port=port, store=tmp_path) as sb:
        assert sb.url == f"http://127.0.0.1:{port}/v1"
        httpx.post(
            sb.url + "/task/imageannotation", json={"unique_id": "k", **IMAGE}, auth=(KEY, "")
        )
    assert (tmp_path / "sandbox.sqlite").is_file()
    with run_sandbox(store=tmp_path) as again:  # the store outlives the server
        assert [t["unique_id"] for t in again.tasks()] == ["k"]
