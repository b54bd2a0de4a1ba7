"""`sandbox --complete`: tasks come back completed in Scale's response format per task type,
over real HTTP on 127.0.0.1 — hosted results, indexed PNGs, callbacks, seeded edits — and
`GET /v1/tasks` pages like Scale's list endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import orjson
import pytest

from prelabel.geometry.indexed import decode_index_png, encode_index_png
from prelabel.responses import fetch
from prelabel.sandbox.complete import Completion
from prelabel.sandbox.server import Sandbox, run_sandbox
from prelabel.scale.client import ScaleClient
from prelabel.scale.errors import BadRequestError

KEY = "test_complete"
GEOMETRIES = {
    "box": {"objects_to_annotate": ["car", "bus"]},
    "point": {"objects_to_annotate": ["car"]},
}
BOXES = {"box": {"objects_to_annotate": ["car"]}}


@contextmanager
def callback_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A receiver on 127.0.0.1 that records every JSON body POSTed to it."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def sandbox(store: Path, mode: str = "accept", **kw: Any) -> Iterator[tuple[Sandbox, ScaleClient]]:
    with run_sandbox(store=store, complete=Completion(mode, **kw)) as sb:  # type: ignore[arg-type]
        with ScaleClient(KEY, api_url=sb.url, rate=0) as client:
            yield sb, client


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_accept_answers_with_the_hypothesis_and_calls_back(tmp_path: Path) -> None:
    hyp = {
        "annotations": [
            {
                "type": "box",
                "label": "car",
                "left": 1,
                "top": 2,
                "width": 3,
                "height": 4,
                "uuid": "u1",
            },
            {"type": "point", "label": "car", "x": 5.5, "y": 6},
        ],
        "global_attributes": {"night": "no"},
    }
    with callback_server() as (hook, bodies), sandbox(tmp_path) as (_, client):
        body = {"project": "p", "unique_id": "p/1", "attachment": "https://x/1.jpg",
                "callback_url": hook, "geometries": GEOMETRIES, "hypothesis": hyp}  # fmt: skip
        created = client.create_task("imageannotation", body)
        assert created["status"] == "pending"  # the create answer is Scale's pending task
        done = client.get_task(created["task_id"])
        assert done["status"] == "completed" and done["completed_at"]
        response = done["response"]
        assert response["annotations"][0] == hyp["annotations"][0]
        minted = dict(response["annotations"][1])
        assert minted.pop("uuid") and minted == hyp["annotations"][1]  # Scale mints missing uuids
        assert response["global_attributes"] == {"night": "no"}
        wait_for(lambda: bodies)
        assert bodies[0]["task_id"] == created["task_id"]
        assert bodies[0]["response"] == response and bodies[0]["task"]["status"] == "completed"
        wait_for(lambda: client.get_task(created["task_id"]).get("callback_succeeded"))
    assert not (tmp_path / "edits.jsonl").exists()


def upload_png(client: ScaleClient, array: np.ndarray, *, extended: bool | None = None) -> str:
    doc = client.upload_file(
        "mask.png", encode_index_png(array, extended=extended), mimetype="image/png"
    )
    return str(doc["attachment_url"])


def test_segmentation_response_hosts_every_png_scale_documents(tmp_path: Path) -> None:
    index = np.array([[0, 1, 1, 2, 2], [1, 1, 3, 3, 0], [0, 0, 3, 1, 1]], dtype=np.int64)
    with sandbox(tmp_path) as (_, client):
        url = upload_png(client, index)
        mapping = {"road": {"index": 1}, "person": [{"index": 2, "color": "#ff0000"}, {"index": 3}]}
        hyp = {"labelMapping": mapping, "annotations": {"combined": {"indexedImage": url}}}
        body = {"project": "p", "unique_id": "s/1", "attachment": "https://x/1.jpg",
                "allow_unlabeled": True, "hypothesis": hyp,
                "labels": ["road", {"choice": "person", "instance_label": True}]}  # fmt: skip
        task = client.get_task(client.create_task("segmentannotation", body)["task_id"])
        response = task["response"]

        def get(link: str) -> bytes:  # results are public, like Scale's S3 links: no key
            reply = httpx.get(link)
            assert reply.status_code == 200, link
            return reply.content

    out = response["labelMapping"]
    assert out["road"]["index"] == 1 and out["road"]["numPixels"] == int((index == 1).sum())
    assert [e["index"] for e in out["person"]] == [2, 3] and out["person"][0]["color"] == "#ff0000"
    assert [e["numPixels"] for e in out["person"]] == [2, 3]
    # the store is closed now: fetch again through a second sandbox on the same store
    with run_sandbox(store=tmp_path) as sb2, ScaleClient(KEY, api_url=sb2.url) as again:
        response = again.get_task(task["task_id"])["response"]
        combined = response["annotations"]["combined"]
        assert combined["indexedImage"].startswith(sb2.url.removesuffix("/v1") + "/results/")
        assert (decode_index_png(get(combined["indexedImage"])) == index).all()
        assert (decode_index_png(get(combined["extendedIndexedImage"])) == index).all()
        labeled = response["annotations"]["labeled"]
        assert (decode_index_png(get(labeled["road"])) == (index == 1) * 255).all()
        for link, value in zip(labeled["person"], (2, 3), strict=True):
            assert (decode_index_png(get(link)) == (index == value) * 255).all()
        unlabeled = decode_index_png(get(response["annotations"]["unlabeled"]))
        assert (unlabeled == (index == 0) * 255).all()
        colours = cv2.imdecode(
            np.frombuffer(get(combined["image"]), np.uint8), cv2.IMREAD_UNCHANGED
        )
        assert (colours[..., 3] == np.where(index > 0, 255, 0)).all()
        assert tuple(colours[0, 3, :3]) == (0, 0, 255)  # "#ff0000" as BGR


def test_segmentation_past_255_answers_with_both_pngs(tmp_path: Path) -> None:
    """Past 255 segments the hypothesis carries the extendedIndexedImage beside the mandatory
    indexedImage (which holds what fits); the response hosts both, the extended one exact."""
    index = np.array([[300, 0], [7, 300]], dtype=np.int64)
    with sandbox(tmp_path) as (_, client):
        extended = upload_png(client, index)
        indexed = upload_png(client, np.where(index > 255, 0, index))
        hyp = {"labelMapping": {"a": {"index": 7}, "b": {"index": 300}},
               "annotations": {"combined": {"indexedImage": indexed,
                                            "extendedIndexedImage": extended}}}  # fmt: skip
        body = {"attachment": "https://x/1.png", "labels": ["a", "b"], "allow_unlabeled": True,
                "hypothesis": hyp}  # fmt: skip
        task = client.get_task(client.create_task("segmentannotation", body)["task_id"])
        combined = task["response"]["annotations"]["combined"]
        assert (
            decode_index_png(httpx.get(combined["extendedIndexedImage"]).content) == index
        ).all()


def test_video_responses_host_the_files_in_scales_shapes(tmp_path: Path) -> None:
    frames = [{"annotations": [{"uuid": "t1", "type": "box", "label": "car", "left": 1, "top": 1,
                                "width": 5, "height": 5}]}, {"annotations": []}]  # fmt: skip
    objects = {"t1": {"label": "car", "geometry": "box",
                      "frames": [{"key": 0, "timestamp": 0.0, "left": 1, "top": 2, "width": 3, "height": 4}]}}  # fmt: skip
    with sandbox(tmp_path) as (_, client):
        hosted = client.upload_file("h.json", orjson.dumps(objects))["attachment_url"]
        frame_urls = ["https://x/0.jpg", "https://x/1.jpg"]
        video = client.create_task(
            "videoannotation",
            {"attachments": frame_urls, "attachment_type": "image", "geometries": BOXES,
             "base_annotations": {"annotations": frames}},
        )  # fmt: skip
        playback = client.create_task(
            "videoplaybackannotation",
            {"attachment": "https://x/v.mp4", "geometries": BOXES,
             "hypothesis": {"annotations": {"url": hosted}}},
        )  # fmt: skip
        v = client.get_task(video["task_id"])["response"]
        p = client.get_task(playback["task_id"])["response"]
        assert httpx.get(v["annotations"]["url"]).json() == frames
        assert httpx.get(p["annotations"]["url"]).json() == objects
        assert httpx.get(p["events"]["url"]).json() == {"events": []}


def test_prelabels_naming_a_file_never_uploaded_are_refused_at_create(tmp_path: Path) -> None:
    with sandbox(tmp_path) as (_, client):
        hyp = {"annotations": {"url": "artifact://never-uploaded.json"}}
        body = {"attachment": "https://x/v.mp4", "geometries": BOXES, "hypothesis": hyp}
        with pytest.raises(BadRequestError, match=r"\[hosted-file\]"):
            client.create_task("videoplaybackannotation", body)


def image_body(n: int) -> dict[str, Any]:
    anns = [{"uuid": f"{n}-{i}", "type": "box", "label": "car", "left": 10 * i, "top": 5,
             "width": 8, "height": 8} for i in range(6)]  # fmt: skip
    return {
        "project": "p",
        "unique_id": f"p/{n}",
        "attachment": f"https://x/{n}.jpg",
        "geometries": GEOMETRIES,
        "hypothesis": {"annotations": anns},
    }


def edits_by_task(path: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        edit = json.loads(line)
        out.setdefault(edit.pop("unique_id"), []).append(
            {k: v for k, v in edit.items() if k != "task_id"}
        )
    return out


def test_edits_are_seeded_per_task_whatever_the_order(tmp_path: Path) -> None:
    for name, order in (("a", range(8)), ("b", reversed(range(8)))):
        with sandbox(tmp_path / name, "edit", rate=0.5, seed=11) as (_, client):
            for n in order:
                client.create_task("imageannotation", image_body(n))
    first, second = (
        edits_by_task(tmp_path / "a/edits.jsonl"),
        edits_by_task(tmp_path / "b/edits.jsonl"),
    )
    assert first == second
    kinds = {e["kind"] for edits in first.values() for e in edits}
    details = {e.get("detail") for edits in first.values() for e in edits}
    assert kinds == {"edited", "deleted", "added"} and {"moved", "relabelled"} <= details
    relabels = [e for edits in first.values() for e in edits if e.get("detail") == "relabelled"]
    assert all(e["label"] == "car" and e["new_label"] == "bus" for e in relabels)


def test_list_tasks_pages_and_filters_like_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "PAGE", 3)
    with sandbox(tmp_path) as (sb, client):
        client.create_batch("p", "b1")
        made = [client.create_task("imageannotation", {**image_body(n), **({"batch": "b1"} if n < 4 else {})})
                for n in range(8)]  # fmt: skip
        client.create_task(
            "imageannotation", {**image_body(99), "project": "q", "unique_id": "q/1"}
        )
        ids = [t["task_id"] for t in made]
        assert [t["task_id"] for t in fetch.list_tasks(client, project="p")] == ids
        assert [t["task_id"] for t in fetch.list_tasks(client, batch="b1")] == ids[:4]
        picked = list(fetch.list_tasks(client, unique_id=["p/2", "q/1", "p/7"]))
        assert sorted(t["unique_id"] for t in picked) == ["p/2", "p/7", "q/1"]
        assert len(list(fetch.list_tasks(client, status="completed"))) == 9
        assert list(fetch.list_tasks(client, status="pending")) == []
        page = client.list_tasks(project="p", limit=3)
        assert page["has_more"] and page["next_token"] and len(page["docs"]) == 3
        assert sb.stats["requests"] >= 4


def test_the_sandbox_never_reaches_other_hosts(tmp_path: Path) -> None:
    with sandbox(tmp_path) as (_, client):
        remote = {"annotations": {"url": "https://cdn.example.com/hypothesis.json"}}
        started = time.monotonic()
        failed = client.create_task(
            "videoplaybackannotation",
            {"attachment": "https://x/v.mp4", "geometries": BOXES, "hypothesis": remote},
        )
        assert time.monotonic() - started < 5  # not fetched: no DNS lookup, no timeout
        assert client.get_task(failed["task_id"])["status"] == "error"
        body = {
            "attachment": "https://x/1.jpg",
            "geometries": GEOMETRIES,
            "callback_url": "https://hooks.example.com/scale",
            "hypothesis": {"annotations": []},
        }
        done = client.create_task("imageannotation", body)
        time.sleep(0.3)
        task = client.get_task(done["task_id"])
    assert task["status"] == "completed" and "callback_succeeded" not in task


def test_a_task_without_prelabels_completes_and_a_junk_png_is_refused(tmp_path: Path) -> None:
    with sandbox(tmp_path) as (_, client):
        body = {"attachment": "https://x/1.jpg", "labels": ["road"], "allow_unlabeled": True}
        empty = client.get_task(client.create_task("segmentannotation", body)["task_id"])
        junk = client.upload_file("x.png", b"not a png")["attachment_url"]
        hyp = {
            "labelMapping": {"road": {"index": 1}},
            "annotations": {"combined": {"indexedImage": junk}},
        }
        with pytest.raises(BadRequestError, match=r"\[indexed-image\]"):
            client.create_task("segmentannotation", {**body, "hypothesis": hyp})
    assert empty["status"] == "completed"
    assert empty["response"] == {"annotations": {}, "labelMapping": {}}
