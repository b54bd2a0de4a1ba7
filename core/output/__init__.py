"""The output directory of a conversion: ``tasks.jsonl``, ``artifacts/`` and ``report.json``.

- ``report``: every input object converted, fixed (how) or dropped (why), spooled to disk.

May import: ``prelabel.model``, ``prelabel.errors``.
"""
