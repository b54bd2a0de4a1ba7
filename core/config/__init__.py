"""The task config: what tasks to build, checked against what Scale documents.

- ``load``: read a TOML / JSON / YAML file into a :class:`~prelabel.config.load.TaskConfig`
  (``task_type``, Scale's ``[params]``, prelabel's own ``[prelabel]`` options);
- ``params``: the checks on ``task_type`` and ``[params]``;
- ``rules``: Scale's documented rules and limits as data, each with its source;
- ``task_types``: the task-type registry (per type: video or image, raster or geometries,
  and the writer, validate check and preview it uses, named lazily);
- ``taxonomy``: ``labels`` / ``objects_to_annotate`` parsed into leaf label sets;
- ``limits``: the geometry limits a task's params put on prelabels;
- ``templates``: filling the ``unique_id`` / ``attachment_url`` / ``artifact_url`` templates;
- ``options``: the ``[prelabel]`` table (each also a CLI flag);
- ``declare``: :func:`~prelabel.config.declare.option`, a typed dataclass field that is
  also a CLI flag (the ``[prelabel]`` table, reader options and the convert run use it);
- ``labelmap``: label-map files (rename, merge, drop labels).

May import: ``prelabel.errors``. Nothing else of prelabel.
"""
