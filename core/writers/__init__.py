"""Writers: one per Scale task type, each turning an :class:`~prelabel.model.Item` into a task body.

A writer is ``write(item, ctx) -> dict`` (:data:`~prelabel.writers.context.Writer`: the exact
JSON for ``POST /v1/task/{task_type}``); the task-type registry
(:mod:`prelabel.config.task_types`) names each type's writer. Writers read only the model,
the config and the limits; they never know the input format.

- ``image``, ``segment``, ``video``: the writers (``video`` writes both video types);
- ``context``: what every writer gets (config, report, artifact store, uuids, templates);
- ``common``: model geometry -> Scale annotation objects.

May import: ``prelabel.model``, ``prelabel.config``, ``prelabel.fit``, ``prelabel.geometry``,
``prelabel.output``, ``prelabel.tracks``, ``prelabel.errors``.
"""
