"""The tracking readers: MOTChallenge (``convert mot``) and KITTI (``convert kitti``).

- ``mot``, ``kitti``: the readers;
- ``common``: the options both take (``TrackingOptions``), types, column layouts and the
  checks both share;
- ``parse``: text -> number arrays (polars for regular files);
- ``seq``: sequence facts (``seqinfo.ini``, a local video's header).

May import: ``prelabel.model``, ``prelabel.errors``, ``prelabel.config.declare`` and
``prelabel.converters.options`` (option declarations).
"""
