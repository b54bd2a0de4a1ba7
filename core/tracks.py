"""The columnar path for tracking files: filter, fit, thin, record and write without a Python
object per row.

A MOT or KITTI item carries its rows as a :class:`~prelabel.model.TrackTable` (numpy
columns). The ``track_*`` modules do to that table exactly what the per-object path does to
instances, so the outputs are byte-identical (``tests/test_tracks.py`` proves it on the real
files); this module keeps their public names importable as ``prelabel.tracks``:

* ``track_filter``: :func:`expand` (rows to per-frame instances, the per-object path's
  input) and :func:`filter_table` (``LabelFilter.instances`` vectorised; drops recorded in
  the same order);
* ``track_fit``: :func:`fit_boxes` (``prelabel.fit.fit_geometry`` for boxes to a ``box``
  target, with the same fix, flag and drop texts);
* ``track_numbers``: :func:`number_columns` / :func:`number_text` (numbers written as
  ``prelabel.writers.common`` writes them);
* ``track_records``: :class:`Records` (one report record per row, NDJSON made by polars and
  handed to ``Report.add_lines`` a chunk at a time);
* ``track_plan``: :func:`columnar_ok` and :func:`plan` (objects grouped by track in
  first-appearance order, runs split by ``track_gaps``, keyframes thinned per object);
* ``track_json``: :func:`playback_json` / :func:`video_frames_json` (the hosted JSON,
  assembled by polars string columns) and :func:`add_artifact`.

Polars is imported only by these modules, so other formats never load it.
"""

from __future__ import annotations

from .track_filter import appearance, expand, filter_table
from .track_fit import BoxFit, fit_boxes
from .track_json import add_artifact, playback_json, video_frames_json
from .track_numbers import number_columns, number_text, scaled
from .track_plan import Plan, columnar_ok, plan
from .track_records import (
    CHUNK,
    CLIPPED,
    FIX_TEXTS,
    GROWN,
    ROUNDED,
    THINNED_BIT,
    Records,
    paused_gc,
    record_line,
)

__all__ = [
    "CHUNK",
    "CLIPPED",
    "FIX_TEXTS",
    "GROWN",
    "ROUNDED",
    "THINNED_BIT",
    "BoxFit",
    "Plan",
    "Records",
    "add_artifact",
    "appearance",
    "columnar_ok",
    "expand",
    "filter_table",
    "fit_boxes",
    "number_columns",
    "number_text",
    "paused_gc",
    "plan",
    "playback_json",
    "record_line",
    "scaled",
    "video_frames_json",
]
