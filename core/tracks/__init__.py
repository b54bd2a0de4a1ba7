"""Tracking: the columnar path for track tables, keyframe thinning and frame timing.

A MOT or KITTI item carries its rows as a :class:`~prelabel.model.TrackTable` (numpy
columns); these modules filter, fit, thin, record and write it without a Python object per
row (polars is imported only here):

- ``filter``: rows <-> per-frame instances, label and score filters vectorised;
- ``fit``: boxes fitted to a ``box`` target, every row at once;
- ``plan``: objects grouped by track, runs split by gaps, keyframes thinned;
- ``records``: one report record per row, made a chunk at a time;
- ``hosted``: the hosted JSON (videoplayback hypothesis, per-frame lists);
- ``keys``, ``numbers``: uuids and frame keys; numbers written as the writers write them;
- ``keyframes``: keep only the frames interpolation cannot reproduce;
- ``timing``: which source frames become the frames of a video task.

May import: ``prelabel.model``, ``prelabel.fit``, ``prelabel.config``, ``prelabel.output``,
``prelabel.errors``.
"""
