"""Shared test fixtures: paths to the real data beside the repo, and the bundled fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# CI clones main into a fresh folder with shared/ beside it, as it is here
SHARED = REPO.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens", action="store_true", help="Rewrite golden files from current output."
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"real test data not found at {SHARED} (shared/ must sit beside the repo)")
    return SHARED


def without_uuids(body: dict[str, Any]) -> dict[str, Any]:
    """An image body without its annotations' uuids (which derive from each object's source:
    the same detections from memory and from a file differ only there)."""
    annotations = [
        {k: v for k, v in a.items() if k != "uuid"} for a in body["hypothesis"]["annotations"]
    ]
    return {**body, "hypothesis": {"annotations": annotations}}


def write_report(directory: Path) -> None:
    """A minimal ``report.json`` beside a ``tasks.jsonl`` written by hand: ``submit`` and
    ``validate`` refuse a directory whose report is missing or lists other tasks."""
    import orjson

    lines = (directory / "tasks.jsonl").read_bytes().splitlines()
    tasks = [orjson.loads(raw).get("body", {}) for raw in lines if raw.strip()]
    entries = [{"unique_id": b.get("unique_id"), "key": b.get("unique_id")} for b in tasks]
    (directory / "report.json").write_bytes(orjson.dumps({"tasks": entries, "objects": []}))


def on_frames(item: Any) -> Any:
    """A tracking item with its table's rows put on its frames as instances (the rows as
    image tasks of the video see them), for checks written per frame."""
    from prelabel.tracks.rows import frame_instances

    if item.tracks is not None and item.frames is not None:
        rows = frame_instances(item.tracks, len(item.frames))
        for frame in item.frames:
            frame.instances = rows[frame.index]
        item.tracks = None
    return item
