"""The limits engine: fit one model geometry to a task's limits, or drop it with a reason.

- ``engine``: :func:`~prelabel.fit.engine.fit_geometry`, the entry point (by target kind);
- ``run``: the policy, the result (fixes, flags, drop reason, IoU) and one fit's state;
- ``polygon``: polygon targets (masks traced, polygons repaired, clipped, split, budgeted);
- ``shapes``: box, line, point, ellipse and cuboid targets;
- ``target``: which of the task's geometries a model geometry becomes.

May import: ``prelabel.geometry``, ``prelabel.model``, ``prelabel.config`` (limits and
options), ``prelabel.errors``.
"""
