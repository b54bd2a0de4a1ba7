"""Submit tasks to Scale exactly once, and a local Scale-compatible sandbox.

Library use (no CLI needed)::

    from prelabel.scale import ScaleClient, submit_dir

    with ScaleClient(api_key, api_url="https://api.scale.com/v1") as client:
        summary = submit_dir("out/", client=client)
    assert summary.ok
"""

from __future__ import annotations

from .client import (
    DEFAULT_API_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    RetryPolicy,
    ScaleClient,
    is_test_key,
    load_api_key,
)
from .journal import Journal
from .submit import SubmitSummary, read_tasks, submit_dir

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE",
    "Journal",
    "RetryPolicy",
    "ScaleClient",
    "SubmitSummary",
    "is_test_key",
    "load_api_key",
    "read_tasks",
    "submit_dir",
]
