"""The output directory of a conversion: ``tasks.jsonl``, ``artifacts/`` and ``report.json``.

- ``layout``: the file names (``TASKS_FILE``, ``REPORT_FILE``, ``ARTIFACTS_DIR``, ...) and
  the directory checks;
- ``tasks``: the one writer and the one reader of ``tasks.jsonl``;
- ``artifacts``: the artifact store, the ``artifact://`` scheme and resolving references;
- ``report``: every input object converted, fixed (how) or dropped (why), spooled to disk;
  and reading ``report.json`` back;
- ``task``: one converted task in memory (body, artifacts as bytes, its share of the report);
- ``directory``: an output directory being written, task by task.

May import: ``prelabel.model``, ``prelabel.errors``, ``prelabel.config.templates``.
"""
