"""Shared test fixtures: paths to the real data beside the repo, and the bundled fixtures."""

from __future__ import annotations

from pathlib import Path

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


def write_report(directory: Path) -> None:
    """A minimal ``report.json`` beside a ``tasks.jsonl`` written by hand: ``submit`` and
    ``validate`` refuse a directory whose report is missing or lists other tasks."""
    import orjson

    lines = (directory / "tasks.jsonl").read_bytes().splitlines()
    tasks = [orjson.loads(raw).get("body", {}) for raw in lines if raw.strip()]
    entries = [{"unique_id": b.get("unique_id"), "key": b.get("unique_id")} for b in tasks]
    (directory / "report.json").write_bytes(orjson.dumps({"tasks": entries, "objects": []}))
