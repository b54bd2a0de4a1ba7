"""submit_tasks: tasks held in memory, submitted exactly once through the real sandbox."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES

from prelabel import Converter, submit_tasks
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import InputError
from prelabel.sandbox.faults import Faults
from prelabel.sandbox.server import run_sandbox
from prelabel.scale.client import RetryPolicy

KEY = "test_library_key_0123456789"
FAST_RETRY = RetryPolicy(attempts=12, initial=0.02, max_wait=0.3)
PANOPTIC = "panopticapi/sample_data/"


@pytest.fixture(scope="module")
def segment_tasks(shared: Path) -> list:  # type: ignore[type-arg]
    """Two segmentannotation tasks, each with its indexed PNG as an artifact."""
    options = MaskOptions(
        panoptic=str(shared / PANOPTIC / "panoptic_examples.json"),
        images=str(shared / PANOPTIC / "input_images"),
    )
    dataset = read_masks([str(shared / PANOPTIC / "panoptic_examples")], options)
    config = FIXTURES / "configs" / "segmentannotation.toml"
    from prelabel import load_config

    converter = Converter(load_config(config, {"allow_unmatched_labels": True}))
    return list(converter.convert_all(dataset.items))


def test_tasks_in_memory_are_created_once_with_their_artifacts_uploaded(
    segment_tasks: list,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    assert len(segment_tasks) == 2 and all(len(t.artifacts) == 1 for t in segment_tasks)
    journal = tmp_path / "j" / "journal.sqlite"
    faults = Faults(error_after=0.25, throttle=0.2, retry_after=0.05, seed=3)
    with run_sandbox(api_key=KEY, faults=faults) as sandbox:
        first = submit_tasks(
            segment_tasks,
            api_url=sandbox.url,
            api_key=KEY,
            journal=journal,
            retry=FAST_RETRY,
            create_batches=True,  # the sandbox refuses tasks into a batch that does not exist
        )
        again = submit_tasks(
            segment_tasks, api_url=sandbox.url, api_key=KEY, journal=journal, retry=FAST_RETRY
        )
        stored = sandbox.tasks()
        files = sandbox.files()
    assert first.ok and first.created + first.adopted == 2 and first.uploads == 2
    assert again.ok and again.skipped == 2 and again.created == 0
    assert sorted(t["unique_id"] for t in stored) == sorted(t.unique_id for t in segment_tasks)
    # an upload the sandbox stored before failing with a 500 is sent again: >= one each
    names = {f["filename"] for f in files}
    assert names == {name for t in segment_tasks for name in t.artifacts}
    urls = {f["attachment_url"] for f in files}
    for task in stored:
        assert task["params"]["hypothesis"]["annotations"]["combined"]["indexedImage"] in urls
    text = journal.read_bytes() + b"".join(
        row[0].encode()
        for row in sqlite3.connect(journal).execute("SELECT reason FROM tasks")
        if row[0]
    )
    assert KEY.encode() not in text


def test_mappings_are_tasks_too_and_bad_ones_fail_before_any_request(tmp_path: Path) -> None:
    body = {
        "unique_id": "a",
        "attachment": "https://x/a.jpg",
        "geometries": {"box": {"objects_to_annotate": ["car"]}},  # the rule book requires it
        "hypothesis": {"annotations": []},
    }
    with run_sandbox(api_key=KEY) as sandbox:
        url = sandbox.url
        ok = submit_tasks(
            [{"task_type": "imageannotation", "body": body}],
            api_url=url, api_key=KEY, journal=tmp_path / "ok.sqlite",
        )  # fmt: skip
        assert ok.created == 1
        cases = [
            ([{"task_type": "imageannotation", "body": {}}], "task 1: body has no unique_id"),
            ([{"task_type": "imageannotation", "body": body}] * 2, "task 2: unique_id 'a' repeats"),
            (
                [{"task_type": "segmentannotation", "body": {**body, "x": "artifact://m.png"}}],
                "task 1: body.x: artifact 'm.png' is not among the task's artifacts",
            ),
            ([42], "task 1: expected a prelabel.Task or a mapping"),
        ]
        for tasks, message in cases:
            with pytest.raises(InputError) as caught:
                submit_tasks(tasks, api_url=url, api_key=KEY, journal=tmp_path / "bad.sqlite")
            assert str(caught.value) == f"<memory>, {message}" or str(caught.value).startswith(
                f"<memory>, {message}"
            )
        assert sandbox.stats.get("tasks_created") == 1
