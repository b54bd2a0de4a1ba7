"""Submit tasks to Scale exactly once: the HTTP client, its errors, the journal, the pace.

Library use (no CLI needed)::

    from prelabel.scale.client import ScaleClient
    from prelabel.scale.submit import submit_dir

    with ScaleClient(api_key, api_url="https://api.scale.com/v1") as client:
        summary = submit_dir("out/", client=client)
    assert summary.ok

Tasks held in memory (``prelabel.Task`` or ``{"task_type", "body", "artifacts"}``) go through
the same machinery with :func:`prelabel.scale.tasks.submit_tasks`.
"""
