"""The track engine: the one path of every video item's rows to a video task.

A video item's rows are a :class:`~prelabel.model.TrackTable` (numpy columns): read so by the
tracking readers, or made from the instances on its frames (``rows``). The engine filters,
groups, fits, thins, records and writes them without a Python object per row where the rows
are boxes bound for a ``box`` geometry; other rows are fitted one by one through
``prelabel.fit`` (polars is imported only here):

- ``rows``: tables from per-frame instances, and per-frame instances from tables;
- ``filter``: label and score filters over a tracking file's table, vectorised;
- ``objects``: rows grouped into objects (tracks, runs, untracked rows) with uuids, labels;
- ``plan``: grouped, fitted, thinned and recorded: the rows to send;
- ``fit``: each row's task geometry and its fit (boxes bound for ``box`` all at once);
- ``outcomes``, ``records``: each row's report record, made a chunk at a time;
- ``hosted``: the JSON (videoplayback hypothesis, per-frame lists);
- ``keys``, ``numbers``: uuids and frame keys; numbers written as the writers write them;
- ``keyframes``: keep only the frames interpolation cannot reproduce;
- ``timing``: which source frames become the frames of a video task.

What the writer knows (config, report, the attributes a task takes) comes in as an argument
(:class:`~prelabel.tracks.plan.Context`): nothing here imports ``prelabel.writers``.

May import: ``prelabel.model``, ``prelabel.fit``, ``prelabel.geometry``, ``prelabel.config``,
``prelabel.output``, ``prelabel.errors``.
"""
