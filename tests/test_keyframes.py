"""Keyframe thinning (property tests) and frame timing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel.errors import PayloadError
from prelabel.tracks.keyframes import (
    Tolerance,
    box_iou,
    edge_error,
    interpolate,
    keyframes,
    measure,
)
from prelabel.tracks.timing import VideoSampling, sample_video, time_window


def test_linear_track_keeps_only_ends() -> None:
    frames = np.arange(1, 21)
    boxes = np.stack([frames * 3.0, frames * 1.0, np.full(20, 40.0), np.full(20, 80.0)], axis=1)
    keep = keyframes(frames, boxes, Tolerance(iou=0.99))
    assert np.flatnonzero(keep).tolist() == [0, 19]
    assert measure(frames, boxes, keep).worst_iou == pytest.approx(1.0)


def test_gap_keeps_frames_on_both_sides() -> None:
    frames = np.array([1, 2, 3, 4, 8, 9, 10])
    boxes = np.tile([10.0, 10.0, 20.0, 20.0], (7, 1))
    keep = keyframes(frames, boxes, Tolerance(px=1.0))
    assert np.flatnonzero(keep).tolist() == [0, 3, 4, 6]


def test_turn_is_kept() -> None:
    frames = np.arange(0, 11)
    x = np.where(frames <= 5, frames * 10.0, 100.0 - frames * 10.0)
    boxes = np.stack([x, np.zeros(11), np.full(11, 10.0), np.full(11, 10.0)], axis=1)
    keep = keyframes(frames, boxes, Tolerance(px=0.5))
    assert np.flatnonzero(keep).tolist() == [0, 5, 10]


def test_inactive_tolerance_keeps_all() -> None:
    frames = np.arange(5)
    assert keyframes(frames, np.ones((5, 4)), Tolerance()).all()


box_rows = st.lists(
    st.tuples(st.floats(0, 500), st.floats(0, 500), st.floats(1, 200), st.floats(1, 200)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(box_rows, st.floats(0.5, 0.99), st.floats(0.5, 20), st.lists(st.integers(1, 3), max_size=40))
def test_every_thinned_frame_is_within_tolerance(
    rows: list[tuple[float, float, float, float]], iou: float, px: float, steps: list[int]
) -> None:
    boxes = np.array(rows, dtype=np.float64)
    n = len(boxes)
    gaps = (steps + [1] * n)[: n - 1]
    frames = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    tol = Tolerance(iou=iou, px=px)
    keep = keyframes(frames, boxes, tol)
    assert keep[0] and keep[-1]
    # frames next to a gap are kept
    for i in np.flatnonzero(np.diff(frames) > 1):
        assert keep[i] and keep[i + 1]
    kept = np.flatnonzero(keep)
    for a, b in itertools.pairwise(kept):
        if b - a > 1:
            guess = interpolate(frames, boxes, int(a), int(b))
            truth = boxes[a + 1 : b]
            assert (box_iou(truth, guess) >= iou - 1e-9).all()
            assert (edge_error(truth, guess) <= px + 1e-9).all()
    figures = measure(frames, boxes, keep)
    assert figures.kept == int(keep.sum()) and figures.worst_iou >= iou - 1e-9


def test_iou_of_identical_and_disjoint() -> None:
    a = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0.0, 0, 10, 10], [20, 20, 5, 5]])
    assert box_iou(a, b).tolist() == [1.0, 0.0]


# --- timing ---------------------------------------------------------------------------------


def test_sampling_nearest_frame_halves_up() -> None:
    # 10 task fps on a 25 fps video: t = 0, .1, .2 ... -> 0, 2.5->3, 5, 7.5->8, 10
    picked = sample_video(25, 25.0, VideoSampling(frame_rate=10), where="item x")
    assert picked[:5] == [0, 3, 5, 8, 10] and len(picked) == 10


def test_sampling_window() -> None:
    picked = sample_video(100, 10.0, VideoSampling(2, start_time=3, duration_time=2), where="x")
    assert picked == [30, 35, 40, 45]


def test_time_window_may_reach_past_the_source() -> None:
    """A videoplayback window is the task's, not the prelabels': grid times past the last
    source frame have no prelabels instead of being an error."""
    window = time_window(list(range(1, 72)), 25.0, VideoSampling(5, start_time=2, duration_time=60))
    assert [i for i, k in enumerate(window.keep) if k] == [50, 55, 60, 65, 70]
    assert window.picked == 5 and window.end == 62
    assert window.reasons[49] == (
        "outside the task's time window: frame 50 at 1.96s is outside 2s..62s"
    )
    assert window.reasons[51].startswith("not a task frame: frame 52 falls between")
    late = time_window(list(range(10)), 1.0, VideoSampling(1, start_time=5))
    assert late.picked == 5 and late.keep == [i >= 5 for i in range(10)]
    assert late.reasons[4] == "outside the task's time window: frame 4 at 4s is outside 5s..end"
    halves = time_window(list(range(10)), 1.0, VideoSampling(1, start_time=3.5))
    assert halves.keep == [i >= 4 for i in range(10)]  # 3.5 s -> frame 4 (halves up)
    assert not any(time_window(list(range(10)), 1.0, VideoSampling(1, start_time=12)).keep)


def test_span_not_covered_names_both_spans() -> None:
    with pytest.raises(PayloadError) as err:
        sample_video(71, 25.0, VideoSampling(1, start_time=2, duration_time=5), where="item TUD")
    assert str(err.value) == (
        "item TUD: task span 2s..7s is not covered by the source: 71 frames at 25 fps span "
        "0s..2.84s"
    )


def test_frame_rate_required() -> None:
    with pytest.raises(PayloadError, match=r"params\.frame_rate"):
        VideoSampling.from_params({"start_time": 1}, where="item a")
    assert VideoSampling.from_params({"frame_rate": 5, "duration_time": 3}, where="a") == (
        VideoSampling(5.0, 0.0, 3.0)
    )
