"""The rule book enforced: a task body checked against every rule of
:data:`prelabel.config.rules.RULES`, the same way by ``prelabel validate`` and the sandbox
(config load runs the same ``[params]`` checks from :mod:`prelabel.config.params`).

- ``findings``: :class:`~prelabel.rulebook.findings.Violation` and the resolver protocol
  through which checks read the files a body names;
- ``body``: :func:`~prelabel.rulebook.body.check_body`, the entry point;
- ``annotations``: image / video annotation objects (labels, geometry, limits);
- ``attributes``: attribute values against ``annotation_attributes``;
- ``segment``: segmentation prelabels (labelMapping and the indexed PNG);
- ``video``: per-frame lists and the hosted videoplayback file.

May import: ``prelabel.config``, ``prelabel.errors``.
"""
