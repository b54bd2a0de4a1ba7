"""`prelabel import` reads Scale's real responses as they are: the Ruby client's recorded
test-mode tasks (legacy task types, a task list page, a task without a response) and the
documentation's callback examples, with their hosted files stubbed through the scale client's
transport. Every output is checked against values read from the files here, independently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from prelabel.errors import InputError
from prelabel.geometry.indexed import decode_index_png, encode_index_png
from prelabel.responses.run import ImportRequest, import_tasks
from prelabel.scale.client import ScaleClient

API = "https://api.scale.com/v1"
KEY = "test_import_key"


class Stubs:
    """Hosted result files served by an httpx MockTransport; records every request."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = self.files.get(str(request.url))
        return httpx.Response(200, content=body) if body is not None else httpx.Response(404)

    def client(self) -> ScaleClient:
        return ScaleClient(KEY, api_url=API, rate=0, transport=httpx.MockTransport(self))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def responses(shared: Path) -> Path:
    return shared / "scale_responses"


def segment_stub(task: dict[str, Any]) -> tuple[str, np.ndarray]:
    """A PNG for a recorded segmentation task: one pixel row per labelMapping index."""
    indices = sorted(v["index"] for v in task["response"]["labelMapping"].values())
    array = np.array([[i] * 5 for i in [0, *indices]], dtype=np.int64)
    return task["response"]["annotations"]["combined"]["indexedImage"], array


def test_recorded_ruby_client_tasks_import(responses: Path, tmp_path: Path) -> None:
    extracted = responses / "scaleapi_ruby_cassettes/extracted"
    seg = load(extracted / "segment_annotation.response_body.json")
    listed = load(extracted / "task_list_1.response_body.json")["docs"][0]
    stubs = {}
    for task in (seg, listed):
        url, array = segment_stub(task)
        stubs[url] = encode_index_png(array)
    transport = Stubs(stubs)
    with transport.client() as client:
        summary = import_tasks(ImportRequest(final=tmp_path, export=extracted), client)
    # 10 task objects in 9 files: the categorization task carries no labels to import
    assert summary.imported == 9
    assert summary.as_dict()["skipped_by_reason"] == {"unsupported": 1}
    coco = load(tmp_path / "coco.json")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_task = {img["scale_task_id"]: img["id"] for img in coco["images"]}

    def anns(name: str) -> list[dict[str, Any]]:
        task = load(extracted / f"{name}.response_body.json")
        return [a for a in coco["annotations"] if a["image_id"] == by_task[task["task_id"]]]

    # legacy box task: the box as recorded
    raw = load(extracted / "image_recognition.response_body.json")["response"]["annotations"][0]
    (box,) = anns("image_recognition")
    assert box["bbox"] == [raw["left"], raw["top"], raw["width"], raw["height"]]
    assert names[box["category_id"]] == raw["label"] and box["scale_type"] == "box"
    # legacy polygon: vertices flattened, area by the shoelace formula computed here
    raw = load(extracted / "polygon_annotation.response_body.json")["response"]["annotations"][0]
    xs, ys = [v["x"] for v in raw["vertices"]], [v["y"] for v in raw["vertices"]]
    (poly,) = anns("polygon_annotation")
    assert poly["segmentation"] == [[c for v in raw["vertices"] for c in (v["x"], v["y"])]]
    assert poly["area"] == pytest.approx(
        0.5 * abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))
    )
    assert poly["bbox"] == [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    (line,) = anns("line_annotation")
    assert line["scale_type"] == "line" and len(line["line"]) == 6 and line["segmentation"] == []
    raw = load(extracted / "cuboid_annotation.response_body.json")["response"]["annotations"][0]
    (cuboid,) = anns("cuboid_annotation")
    cx, cy = [v["x"] for v in raw["vertices"]], [v["y"] for v in raw["vertices"]]
    assert cuboid["bbox"] == [min(cx), min(cy), max(cx) - min(cx), max(cy) - min(cy)]
    assert cuboid["cuboid"]["vertices"] == raw["vertices"]
    assert anns("point_annotation") == []  # completed without a response
    report = load(tmp_path / "report.json")
    assert any("completed without a response" in n for n in report["notes"])
    assert any("had no uuid" in n for n in report["notes"])
    # the segmentation: class ids by the task's labels, then its instance_labels
    params = seg["params"]
    classes = params["labels"] + params["instance_labels"]
    name_of = {v["index"]: k for k, v in seg["response"]["labelMapping"].items()}
    _, array = segment_stub(seg)
    expected = np.vectorize(lambda i: classes.index(name_of[i]) + 1 if i else 0)(array)
    mask = decode_index_png((tmp_path / f"masks/{seg['task_id']}.png").read_bytes())
    assert (mask == expected).all()
    classes_json = load(tmp_path / "masks/classes.json")
    assert [classes_json[str(i)] for i in range(1, len(classes) + 1)] == classes
    # hosted results went out without the key, and nothing is fetched twice
    assert transport.requests and all("authorization" not in r.headers for r in transport.requests)
    before = len(transport.requests)
    with transport.client() as client:
        again = import_tasks(ImportRequest(final=tmp_path, export=extracted), client)
    assert len(transport.requests) == before and again.downloads_reused == 2


def test_documented_callbacks_import(responses: Path, tmp_path: Path) -> None:
    docs = responses / "docs_transcribed"
    folder = tmp_path / "callbacks"
    folder.mkdir()
    for name in ("imageannotation", "videoannotation"):
        shutil.copy(docs / f"{name}_callback.json", folder)
    video_cb = load(docs / "videoannotation_callback.json")
    stubs = Stubs({
        video_cb["response"]["annotations"]["url"]: (docs / "videoannotation_annotations_file.json").read_bytes(),
    })  # fmt: skip
    final = tmp_path / "final"
    with stubs.client() as client:
        summary = import_tasks(ImportRequest(final=final, export=folder), client)
    # the video callback's task is {} on the page: its type comes from the hosted file
    assert summary.by_type == {"imageannotation": 1, "videoannotation": 1}
    # image callback: boxes and the polygon, uuids and labels as sent back
    raw = load(docs / "imageannotation_callback.json")["response"]["annotations"]
    coco = load(final / "coco.json")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    got = {a["scale_uuid"]: a for a in coco["annotations"]}
    assert set(got) == {a["uuid"] for a in raw}
    for a in raw:
        assert names[got[a["uuid"]]["category_id"]] == a["label"]
        if a["type"] == "box":
            assert got[a["uuid"]]["bbox"] == [a["left"], a["top"], a["width"], a["height"]]
            assert got[a["uuid"]]["attributes"] == a["attributes"]
    # videoannotation: the per-frame list becomes MOT rows, ids in order of appearance
    frames = load(docs / "videoannotation_annotations_file.json")
    ids: dict[str, int] = {}
    expected = []
    for pos, frame in enumerate(frames):
        for a in frame["annotations"]:
            tid = ids.setdefault(a["uuid"], len(ids) + 1)
            expected.append((pos + 1, tid, a["left"], a["top"], a["width"], a["height"]))
    assert mot_rows(final / "mot/videoannotation_callback.txt") == sorted(expected)
    per_frame = load(final / "frames/videoannotation_callback.json")
    assert [o["label"] for f in per_frame for o in f["objects"]] == [
        a["label"] for f in frames for a in sorted(f["annotations"], key=lambda a: ids[a["uuid"]])
    ]


def test_documented_videoplayback_callback_imports(responses: Path, tmp_path: Path) -> None:
    # (a page of its own: its events link is the very URL the videoannotation page uses)
    docs = responses / "docs_transcribed"
    callback = docs / "videoplaybackannotation_callback.json"
    cb = load(callback)
    stubs = Stubs({
        cb["response"]["annotations"]["url"]: (docs / "videoplaybackannotation_annotations_file.json").read_bytes(),
        cb["response"]["events"]["url"]: b'{"events": []}',
    })  # fmt: skip
    with stubs.client() as client:
        summary = import_tasks(ImportRequest(final=tmp_path, export=callback), client)
    assert summary.by_type == {"videoplaybackannotation": 1}
    # the docs wrap the uuid-keyed object in a list; key 1 is frame 2 (first frame 1, base 0)
    (obj,) = load(docs / "videoplaybackannotation_annotations_file.json")[0]["annotations"].values()
    f = obj["frames"][0]
    rows = mot_rows(tmp_path / f"mot/{cb['task_id']}.txt")
    assert rows == [(1 + f["key"], 1, f["left"], f["top"], f["width"], f["height"])]
    (frame,) = load(tmp_path / f"frames/{cb['task_id']}.json")
    assert frame["objects"][0]["label"] == obj["label"]


def mot_rows(path: Path) -> list[tuple[float, ...]]:
    rows = []
    for line in path.read_text().splitlines():
        values = [float(v) for v in line.split(",")]
        assert values[6:] == [1, -1, -1, -1]
        rows.append(tuple(values[:6]))
    return rows


def test_export_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nothing": 1}')
    with pytest.raises(InputError, match=r"bad\.json: expected a Scale task object"):
        import_tasks(ImportRequest(final=tmp_path / "f", export=bad), None)
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json: not valid JSON"):
        import_tasks(ImportRequest(final=tmp_path / "f", export=bad), None)


def test_journal_lookup_lists_by_unique_id_and_trusts_the_journals_task_id(tmp_path: Path) -> None:
    from prelabel.responses.fetch import TaskCache, journal_tasks

    def task(task_id: str, uid: str) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "unique_id": uid,
            "status": "completed",
            "type": "imageannotation",
        }

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path + "?" + request.url.query.decode())
        if request.url.path.endswith("/tasks"):
            asked = request.url.params.get_list("unique_id")
            # "b" was reused: the list shows the newer task, the journal created "old-b"
            docs = [task(f"id-{u}", u) for u in asked if u != "c"]
            return httpx.Response(200, json={"docs": docs, "has_more": False})
        return httpx.Response(200, json=task(request.url.path.rsplit("/", 1)[1], "b"))

    cache = TaskCache(tmp_path)
    cache.put(task("id-a", "a"))
    with ScaleClient(KEY, api_url=API, rate=0, transport=httpx.MockTransport(handler)) as client:
        docs, missing = journal_tasks(client, cache, ["a", "b", "c"], {"a": "id-a", "b": "old-b"})
    assert [d["task_id"] for d in docs] == ["id-a", "old-b"] and missing == ["c"]
    assert (
        len(seen) == 2 and "unique_id=b&unique_id=c" in seen[0] and seen[1].endswith("/task/old-b?")
    )
