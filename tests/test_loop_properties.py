"""The sandbox's seeded edits and `score` agree exactly, on random prelabels of every family:
whatever the editor records (kind, label, detail per object), the scorer finds from the two
sides alone — and nothing else."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prelabel.responses.local import Content, SegmentEntry, playback_objects, video_frames
from prelabel.sandbox.edit import Editor, Segment
from prelabel.sandbox.respond import edit_frames, edit_playback
from prelabel.score.image import score_annotations
from prelabel.score.results import Matches, ObjectResult
from prelabel.score.segment import score_segments
from prelabel.score.video import score_tracks

LABELS = ["car", "person", "dog"]
PARAMS = {
    "geometries": {
        "box": {"objects_to_annotate": LABELS},
        "polygon": {"objects_to_annotate": ["person", {"choice": "animal", "subchoices": ["dog"]}]},
    },
    "labels": ["road", "sky", "grass", {"choice": "person", "instance_label": True}, "car"],
}


def changed(results: list[ObjectResult]) -> Counter[tuple[str, str, str | None]]:
    return Counter(
        (r.kind, r.label, "+".join(r.details) or None) for r in results if r.kind != "kept"
    )


def recorded(editor: Editor) -> Counter[tuple[str, str, str | None]]:
    return Counter((e.kind, e.label, e.detail) for e in editor.edits)


def shape(x: int, y: int, w: int, h: int, label: str, kind: str) -> dict[str, Any]:
    if kind == "box":
        return {"type": "box", "label": label, "left": x, "top": y, "width": w, "height": h}
    corners = [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x, "y": y + h}]
    return {"type": "polygon", "label": "dog" if label == "car" else label, "vertices": corners}


coords = st.integers(0, 200)
sizes = st.integers(1, 80)
boxes = st.builds(shape, coords, coords, sizes, sizes, st.sampled_from(LABELS),
                  st.sampled_from(["box", "polygon"]))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(boxes, max_size=12), st.integers(0, 2**32), st.floats(0, 1))
def test_image_edits_are_scored_exactly(
    items: list[dict[str, Any]], seed: int, rate: float
) -> None:
    sent = [{**a, "uuid": f"u{i}"} for i, a in enumerate(items)]
    editor = Editor(random.Random(seed), rate, PARAMS)
    final = editor.annotations([dict(a) for a in sent])
    results, notes = score_annotations(sent, final, Matches())
    assert changed(results) == recorded(editor)
    assert sum(r.kind == "kept" for r in results) == len(sent) - sum(
        e.kind != "added" for e in editor.edits
    )
    assert not notes or not ({a["uuid"] for a in sent} & {a["uuid"] for a in final})


@st.composite
def segmentations(draw: st.DrawFn) -> tuple[list[Segment], np.ndarray]:
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    n = draw(st.integers(0, 6))
    labels = draw(st.lists(st.sampled_from(["road", "sky", "grass", "car", "person"]),
                           min_size=n, max_size=n))  # fmt: skip
    entries, plain = [], set()
    for i, label in enumerate(labels, 1):
        if label != "person" and label in plain:
            continue
        plain.add(label)
        entries.append(Segment(i, label, label == "person", {}))
    values = [0, *(e.index for e in entries)]
    cells = draw(st.lists(st.sampled_from(values), min_size=h * w, max_size=h * w))
    return entries, np.array(cells, dtype=np.int64).reshape(h, w)


def content(entries: list[Segment], index: np.ndarray) -> Content:
    segs = [SegmentEntry(e.index, e.label, e.instance) for e in entries]
    return Content("segment", segments=segs, index=index)


@settings(max_examples=200, deadline=None)
@given(segmentations(), st.integers(0, 2**32), st.floats(0, 1))
def test_segment_edits_are_scored_exactly(
    seg: tuple[list[Segment], np.ndarray], seed: int, rate: float
) -> None:
    entries, index = seg
    editor = Editor(random.Random(seed), rate, PARAMS)
    final_index = index.copy()
    final_entries = editor.segments(list(entries), final_index, 255)
    results, pixels, notes = score_segments(
        content(entries, index), content(final_entries, final_index), Matches()
    )
    assert changed(results) == recorded(editor)
    assert not notes and pixels.total == index.size
    if not editor.edits:
        assert pixels.agree == index.size


@st.composite
def tracks(draw: st.DrawFn) -> dict[str, Any]:
    out = {}
    for t in range(draw(st.integers(0, 5))):
        keys = sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=6)))
        frames = [{"key": k, "timestamp": k / 10, "left": draw(st.integers(0, 90)),
                   "top": draw(st.integers(0, 90)), "width": 20, "height": 30} for k in keys]  # fmt: skip
        out[f"track-{t}"] = {
            "label": draw(st.sampled_from(LABELS)),
            "geometry": "box",
            "frames": frames,
        }
    return out


def _stacked() -> dict[str, Any]:
    """Five tracks on the same box at frame 0 (two also on frame 1): a frame the editor
    deletes from one must not lend it another's identity (a false id switch hypothesis
    once found)."""
    box = {"left": 0, "top": 0, "width": 20, "height": 30}
    two = [{"key": k, "timestamp": k / 10, **box} for k in (0, 1)]
    frames = {0: two, 1: two[:1], 2: two[:1], 3: two, 4: two[:1]}
    return {
        f"track-{t}": {"label": "car", "geometry": "box", "frames": f} for t, f in frames.items()
    }


@settings(max_examples=150, deadline=None)
@given(tracks(), st.integers(0, 2**32), st.floats(0, 1))
@example(_stacked(), 0, 1.0)
def test_playback_edits_are_scored_exactly(objects: dict[str, Any], seed: int, rate: float) -> None:
    editor = Editor(random.Random(seed), rate, PARAMS)
    final = edit_playback(objects, editor)
    sent_c = Content("playback", objects=playback_objects(objects))
    results, tally, _ = score_tracks(
        sent_c, Content("playback", objects=playback_objects(final)), Matches()
    )
    assert changed(results) == recorded(editor)
    assert tally.id_switches == 0


@settings(max_examples=150, deadline=None)
@given(tracks(), st.integers(0, 2**32), st.floats(0, 1))
def test_video_edits_are_scored_exactly(objects: dict[str, Any], seed: int, rate: float) -> None:
    frames: list[dict[str, Any]] = [{"annotations": []} for _ in range(10)]
    for uid, obj in objects.items():
        for f in obj["frames"]:
            box = {k: f[k] for k in ("left", "top", "width", "height")}
            frames[f["key"]]["annotations"].append(
                {"uuid": uid, "type": "box", "label": obj["label"], **box}
            )
    editor = Editor(random.Random(seed), rate, PARAMS)
    final = edit_frames(frames, editor)
    sent_c, final_c = (
        Content("video", frames=video_frames(frames)),
        Content("video", frames=video_frames(final)),
    )
    results, _, _ = score_tracks(sent_c, final_c, Matches())
    assert changed(results) == recorded(editor)


def test_same_seed_same_edits_in_any_order() -> None:
    sent = [{"uuid": f"u{i}", "type": "box", "label": "car", "left": i, "top": i, "width": 5, "height": 5}
            for i in range(30)]  # fmt: skip
    first = Editor(random.Random("7:task-a"), 0.5, PARAMS)
    first.annotations(sent)
    Editor(random.Random("7:task-b"), 0.5, PARAMS).annotations(sent)  # another task between
    again = Editor(random.Random("7:task-a"), 0.5, PARAMS)
    again.annotations(sent)
    assert [e.as_dict() for e in first.edits] == [e.as_dict() for e in again.edits]
    assert {e.kind for e in first.edits} >= {"edited", "deleted"}
