"""Frame timing: which source frames become the frames of a video task.

Image attachments are simple: every frame of the item is one task frame, one URL each.

A video attachment is sampled by Scale at the task's ``frame_rate`` (task frames per second)
from ``start_time`` (seconds, default 0) for ``duration_time`` seconds (default: to the end).
Task frame ``k`` shows the video at ``t_k = start_time + k / frame_rate``; the prelabels for it
come from the source frame nearest to ``t_k``: source index ``floor(t_k * native_fps + 0.5)``
(halves round up, so 0.5 frames after frame 3 is frame 4, never banker's rounding). Task frames
run while ``t_k < start_time + duration_time``. The source covers ``[0, n / native_fps)``
seconds; a span that reaches past it is an error naming both spans.

How Scale itself rounds is not documented (scale-api.md §4.1: frame_rate / start_time /
duration_time are known from fiftyone's code only); nearest-frame is what fiftyone assumes when
it maps response frames back to video frame numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prelabel.errors import PayloadError

# tolerance (seconds) when checking that the source covers the span: float noise only
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class VideoSampling:
    """The task's sampling of a video attachment (from its params)."""

    frame_rate: float
    start_time: float = 0.0
    duration_time: float | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, where: str) -> VideoSampling:
        """Read ``frame_rate``, ``start_time`` and ``duration_time`` from task params.

        Raises:
            PayloadError: ``frame_rate`` missing or a value not a positive number.
        """
        rate = params.get("frame_rate")
        if rate is None:
            raise PayloadError(
                "a video attachment needs params.frame_rate (task frames per second): Scale "
                "samples the video at it and its default is not documented",
                location=where,
            )
        start = params.get("start_time", 0) or 0
        duration = params.get("duration_time")
        for name, value in (
            ("frame_rate", rate),
            ("start_time", start),
            ("duration_time", duration),
        ):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise PayloadError(
                    f"params.{name} must be a number >= 0, got {value!r}", location=where
                )
        if rate <= 0:
            raise PayloadError(f"params.frame_rate must be > 0, got {rate!r}", location=where)
        return cls(float(rate), float(start), None if duration is None else float(duration))


def nearest_source_index(t: float, native_fps: float) -> int:
    """The source frame index nearest to ``t`` seconds (halves round up)."""
    return math.floor(t * native_fps + 0.5)


def sample_video(
    n_source: int, native_fps: float, sampling: VideoSampling, *, where: str
) -> list[int]:
    """Source frame indices (0-based) of the task frames, in task-frame order.

    Args:
        n_source: number of source frames (the sequence length).
        native_fps: the video's frame rate.
        sampling: the task's frame_rate, start_time and duration_time.
        where: names the item in errors.

    Raises:
        PayloadError: the span reaches past the source, or nothing is sampled.
    """
    if native_fps <= 0:
        raise PayloadError(f"the video's fps must be > 0, got {native_fps}", location=where)
    source_end = n_source / native_fps
    start = sampling.start_time
    end = source_end if sampling.duration_time is None else start + sampling.duration_time
    if start >= source_end - _EPS or end > source_end + _EPS:
        raise PayloadError(
            f"task span {start:g}s..{end:g}s is not covered by the source: {n_source} frames at "
            f"{native_fps:g} fps span 0s..{source_end:g}s",
            location=where,
        )
    out = _grid(n_source, native_fps, sampling, end, clamp=True)
    if not out:
        raise PayloadError(f"task span {start:g}s..{end:g}s holds no task frame", location=where)
    return out


def _grid(
    n_source: int, native_fps: float, sampling: VideoSampling, end: float, *, clamp: bool
) -> list[int]:
    """Source indices of the task frames ``start_time + k / frame_rate`` before ``end`` (the
    nearest frame of each, halves up): past the source's last frame, that frame with
    ``clamp``, else none (the grid ends there)."""
    out: list[int] = []
    k = 0
    while True:
        t = sampling.start_time + k / sampling.frame_rate
        index = nearest_source_index(t, native_fps)
        if t >= end - _EPS or (index >= n_source and not clamp):
            return out
        out.append(min(index, n_source - 1))
        k += 1


@dataclass(frozen=True, slots=True)
class Window:
    """The source frames a video task with a time window keeps, and why it drops the rest."""

    keep: list[bool]  # per source frame: a task frame
    reasons: list[str]  # per source frame: why its rows are dropped (unused where kept)
    picked: int  # how many task frames the source holds
    start: float
    end: float | None


def time_window(numbers: list[int], native_fps: float, sampling: VideoSampling) -> Window:
    """The task frames of a source of ``numbers`` (each frame's number, 0-based index =
    position) inside ``start_time .. start_time + duration_time`` seconds on the
    ``frame_rate`` grid (:func:`sample_video`'s rule). Unlike :func:`sample_video` the
    window may reach past the source (a video may run longer than its prelabels): grid
    times the source does not hold simply have no prelabels."""
    start = sampling.start_time
    end = None if sampling.duration_time is None else start + sampling.duration_time
    n = len(numbers)
    picked = set(_grid(n, native_fps, sampling, math.inf if end is None else end, clamp=False))
    span = f"{start:g}s..{'end' if end is None else f'{end:g}s'}"
    keep, reasons = [], []
    for index, number in enumerate(numbers):
        t = index / native_fps
        keep.append(index in picked)
        if t < start - _EPS or (end is not None and t >= end - _EPS):
            reasons.append(
                f"outside the task's time window: frame {number} at {t:g}s is outside {span}"
            )
        else:
            reasons.append(f"not a task frame: frame {number} falls between frame_rate samples")
    return Window(keep, reasons, len(picked), start, end)


def frame_timestamp(index: int, fps: float | None) -> float | None:
    """Seconds from the start of the video of 0-based frame ``index`` (None without fps)."""
    return None if not fps else index / fps
