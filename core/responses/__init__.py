"""Completed tasks back from Scale (``prelabel import``), in the formats models use.

- ``fetch``: task objects by journal, by ``GET /v1/tasks`` pages or from exports and
  callback payloads; hosted result files downloaded once (all through the scale client);
- ``read``: one completed task → a final line (labels in the shape prelabels are sent);
- ``local``: a directory of tasks (converted or imported) read into plain content;
- ``coco``, ``masks``, ``mot``: COCO dataset JSON; class / instance / panoptic PNGs and a
  panoptic-style JSON; MOT txt and per-frame JSON with the tracker's own ids;
- ``run``: the import itself.

May import: ``prelabel.scale`` (client, journal, tasks.jsonl reading), ``prelabel.config``
(taxonomies), ``prelabel.geometry`` (the indexed-PNG codec), ``prelabel.errors``.
"""
