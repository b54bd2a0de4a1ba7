"""One rule book, three places: every rule of ``prelabel.config.rules.RULES`` gets one good and
one bad body per task type it applies to, and the sandbox (over real HTTP), ``validate`` and
config load (for rules about params) give the same verdicts naming the same rule (issue 11).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
import scaleapi  # the official client: it must see the sandbox's 400s and 404s
from rule_cases import (
    BASE,
    IMAGE,
    PLAYBACK,
    RULE_CASES,
    SEGMENT,
    SIZE,
    Case,
    bad_case,
    cases,
    good_case,
)
from scaleapi.exceptions import ScaleInvalidRequest, ScaleResourceNotFound
from scaleapi.tasks import TaskType

from prelabel.config import rules
from prelabel.config.load import config_from_dict
from prelabel.config.task_types import TASK_TYPES
from prelabel.errors import ConfigError
from prelabel.sandbox.server import Sandbox, run_sandbox
from prelabel.validate import validate_output

KEY = "test_rule_book"
RULE_TAG = re.compile(r"\[([a-z-]+)\]$")
CASES = cases()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with run_sandbox(store=tmp_path_factory.mktemp("book-sandbox")) as sb:
        yield sb


def _refs(value: Any, urls: dict[str, str]) -> Any:
    """``artifact://NAME`` replaced by the uploaded URL where NAME was uploaded."""
    if isinstance(value, str) and value.startswith("artifact://"):
        return urls.get(value.removeprefix("artifact://"), value)
    if isinstance(value, dict):
        return {k: _refs(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs(v, urls) for v in value]
    return value


def post(sb: Sandbox, endpoint: str, case: Case, uid: str) -> httpx.Response:
    """Upload the case's files, as submit would, and create the task over HTTP."""
    with httpx.Client(base_url=sb.url + "/", auth=(KEY, "")) as http:
        named = orjson.dumps(case.body).decode()
        urls = {
            name: http.post("files/upload", files={"file": (name, data)}).json()["attachment_url"]
            for name, data in case.files.items()
            if f"artifact://{name}" in named
        }
        return http.post(f"task/{endpoint}", json={**_refs(case.body, urls), "unique_id": uid})


def sandbox_rule(response: httpx.Response) -> str | None:
    """None when the sandbox created the task, else the rule its error names."""
    if response.status_code == 200:
        return None
    error = response.json()
    assert error["status_code"] == response.status_code  # Scale's error body shape
    if response.status_code == 404:
        return "task-type"
    assert response.status_code == 400, error
    match = RULE_TAG.search(error["error"].split(" (and ")[0])
    return match.group(1) if match else error["error"]


def _params(case: Case, *, keep_prelabels: bool = False) -> dict[str, Any]:
    drop = {"unique_id"} if keep_prelabels else {"unique_id", "hypothesis", "base_annotations"}
    return {k: v for k, v in case.body.items() if k not in drop and k != "hypothesis"}


def validate(tmp: Path, endpoint: str, case: Case, good: Case, uid: str) -> list[str]:
    """``validate`` on a directory holding just this body, with the good body's config."""
    out = tmp / uid.replace("/", "_")
    (out / "artifacts").mkdir(parents=True)
    for name, data in case.files.items():
        (out / "artifacts" / name).write_bytes(data)
    line = {"task_type": endpoint, "body": {**case.body, "unique_id": uid}}
    (out / "tasks.jsonl").write_bytes(orjson.dumps(line) + b"\n")
    sizes = {"tasks": [{"unique_id": uid, "width": SIZE[0], "height": SIZE[1]}]}
    (out / "report.json").write_bytes(orjson.dumps(sizes))
    config = config_from_dict({"task_type": good.task_type, "params": _params(good)})
    return validate_output(out, config)


def validate_rules(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := RULE_TAG.search(line))}


@pytest.mark.parametrize(("rc", "task_type"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_verdict_in_sandbox_validate_and_config(
    rc: Any, task_type: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    rule = rules.rule(rc.rule)
    good = good_case(rc, task_type)
    endpoint, bad = bad_case(rc, task_type)
    uid = f"book/{rc.rule}/{task_type}/{id(rc)}"
    # the sandbox, over HTTP: good created, bad refused naming the rule
    assert sandbox_rule(post(sandbox, task_type, good, uid + "/good")) is None
    refused = sandbox_rule(post(sandbox, endpoint, bad, uid + "/bad"))
    assert refused == (rc.rule if rule.sandbox else None)
    # validate: the same bodies in a written directory
    assert validate(tmp_path, task_type, good, good, uid + "/good") == []
    assert rc.rule in validate_rules(validate(tmp_path, endpoint, bad, good, uid + "/bad"))
    # config load: the same check on the params part
    if rc.config:
        config_from_dict({"task_type": task_type, "params": _params(good)})
        params = _params(bad, keep_prelabels=True)
        with pytest.raises(ConfigError) as info:
            config_from_dict({"task_type": endpoint, "params": params})
        assert info.value.rule == rc.rule


def test_every_rule_has_cases_and_config_rules_are_checked_at_load() -> None:
    covered = {rc.rule for rc in RULE_CASES}
    assert covered == {r.id for r in rules.RULES}
    for rule in rules.RULES:
        if rule.config:  # a rule about params is tried at config load by at least one case
            assert any(rc.config for rc in RULE_CASES if rc.rule == rule.id), rule.id
    types = {t for _, _, t in CASES}
    assert types == set(TASK_TYPES)


def test_lenient_turns_off_exactly_the_undocumented_rules(tmp_path: Path) -> None:
    relaxable = set(rules.RELAXABLE)
    assert relaxable == {r.id for r in rules.RULES if not r.documented and r.sandbox} - {
        "hosted-file"
    }
    with run_sandbox(store=tmp_path, lenient=frozenset(relaxable)) as sb:
        for n, (name, rc, task_type) in enumerate(CASES):
            endpoint, bad = bad_case(rc, task_type)
            verdict = sandbox_rule(post(sb, endpoint, bad, f"lenient/{n}"))
            if rc.rule in relaxable:
                assert verdict is None, name
            elif rules.rule(rc.rule).sandbox:
                assert verdict == rc.rule, name


def test_official_client_sees_the_400s_and_the_404(sandbox: Sandbox) -> None:
    client = scaleapi.ScaleClient(KEY, api_instance_url=sandbox.url)
    body = {**BASE[IMAGE].body, "tags": [f"t{i}" for i in range(6)], "unique_id": "official/1"}
    with pytest.raises(ScaleInvalidRequest) as info:
        client.create_task(TaskType.ImageAnnotation, **body)
    assert info.value.code == 400
    assert info.value.message == "tags: at most 5 tags (got 6) [tags]"
    playback = {**BASE[PLAYBACK].body, "attachment": "https://cdn/seq/gt/gt.txt"}
    playback.pop("hypothesis")
    with pytest.raises(ScaleInvalidRequest) as info:
        client.create_task(TaskType.VideoPlaybackAnnotation, **playback)
    assert info.value.message == (
        "attachment: video attachments must be mp4, webm or ogg (got .txt) [attachment-format]"
    )
    with pytest.raises(ScaleResourceNotFound) as missing:
        client.create_task(SimpleNamespace(value="notatype"), project="p")
    assert missing.value.code == 404 and "notatype" in missing.value.message
    good = {**BASE[SEGMENT].body, "unique_id": "official/2"}
    good["hypothesis"] = dict(good["hypothesis"], annotations={"combined": {}})
    with pytest.raises(ScaleInvalidRequest) as info:
        client.create_task(TaskType.SegmentAnnotation, **good)
    assert "indexedImage" in info.value.message and "[indexed-image]" in info.value.message


def test_issue_11_finding_1_the_sandbox_refuses_what_it_used_to_create(sandbox: Sandbox) -> None:
    """Each of these got a 200 from the sandbox before the rule book."""
    image = {"project": "p", "attachment": "https://x/a.jpg",
             "geometries": {"polygon": {"objects_to_annotate": ["car"]}}}  # fmt: skip
    attempts: list[tuple[str, dict[str, Any], int, str]] = [
        ("segmentannotation", {"project": "p"}, 400, "labels: missing"),
        ("imageannotation", {"project": "p", "attachment": "https://x/a.jpg"}, 400,
         "geometries: missing"),
        ("videoplaybackannotation", {"attachment": "https://x/gt.txt", "geometries": {"box": {}}},
         400, "attachment: video attachments must be mp4, webm or ogg (got .txt)"),
        ("videoplaybackannotation", {"attachment": "https://x/a.mp4", "geometries": {"box": {}},
                                     "tags": list("abcdef")}, 400, "tags: at most 5 tags (got 6)"),
        ("videoplaybackannotation", {"attachment": "https://x/a.mp4", "geometries": {"box": {}},
                                     "priority": 15}, 400, "priority: must be one of 10, 20, 30"),
        ("imageannotation", {**image, "metadata": {"x": "y" * 11 * 1024}}, 400, "metadata: 11"),
        ("notatype", {"project": "p"}, 404, "No task type 'notatype'"),
        ("imageannotation", {**image, "hypothesis": {"annotations": [
            {"type": "polygon", "label": "giraffe", "vertices": [{"x": 1, "y": 1}]}]}}, 400,
         "hypothesis.annotations[0].label: 'giraffe' is not a leaf"),
        ("imageannotation", {**image, "hypothesis": {"annotations": [
            {"type": "polygon", "label": "car", "vertices": [{"x": 1, "y": 1}]}]}}, 400,
         "hypothesis.annotations[0].vertices: 1 vertices, needs at least 3 [vertices]"),
        ("segmentannotation", {**BASE[SEGMENT].body}, 400,
         "indexedImage: artifact://seg.png is prelabel's placeholder"),
        ("imageannotation", {**image, "batch": "never-created"}, 400,
         "batch: Batch 'never-created' does not exist."),
    ]  # fmt: skip
    with httpx.Client(base_url=sandbox.url + "/", auth=(KEY, "")) as http:
        for n, (task_type, body, status, needle) in enumerate(attempts):
            r = http.post(f"task/{task_type}", json={**body, "unique_id": f"finding1/{n}"})
            assert r.status_code == status, (task_type, body, r.text)
            assert r.json()["status_code"] == status and needle in r.json()["error"], r.text


def test_cancel_clears_the_unique_id_and_is_refused_once_work_started(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url + "/", auth=(KEY, "")) as http:
        body = {**BASE[IMAGE].body, "unique_id": "cancel/1"}
        first = http.post("task/imageannotation", json=body).json()
        assert http.post("task/imageannotation", json=body).status_code == 409
        canceled = http.post(f"task/{first['task_id']}/cancel", params={"clear_unique_id": "true"})
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        assert "unique_id" not in canceled.json()
        again = http.post("task/imageannotation", json=body)  # the unique_id is free again
        assert again.status_code == 200
        assert http.post(f"task/{first['task_id']}/cancel").status_code == 400  # already
        sandbox.store.set_task_state(again.json()["task_id"], "completed", work_started=True)
        refused = http.post(f"task/{again.json()['task_id']}/cancel",
                            params={"clear_unique_id": "true"})  # fmt: skip
        assert refused.status_code == 400 and "completed" in refused.json()["error"]
        listed = http.get("tasks", params={"unique_id": "cancel/1"}).json()["docs"]
        assert [d["task_id"] for d in listed] == [again.json()["task_id"]]
        assert listed[0]["status"] == "completed"
