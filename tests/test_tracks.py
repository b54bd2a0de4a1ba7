"""The columnar track path against the per-object path: byte-identical outputs on real files.

Each case converts one real tracking file (motmetrics TUD gt and tracker output, sort public
detections, datumaro MOT, the KITTI fixtures) with one config twice through
``prelabel.pipeline.convert``: as the readers give it (``Item.tracks``, the columnar path) and
with every table expanded to per-frame instances first (the per-object reference path).
``tasks.jsonl``, every artifact and ``report.json`` must be the same bytes. Plus unit checks
of the vectorised box fit against ``fit_geometry`` (hypothesis) and of the number text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.config.load import load_config
from prelabel.converters.tracking.kitti import KittiOptions, read_kitti
from prelabel.converters.tracking.mot import MotOptions, read_mot
from prelabel.errors import PrelabelError
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.model import Box, Dataset, Item
from prelabel.pipeline import convert
from prelabel.tracks import filter, numbers, plan, records
from prelabel.tracks import fit as fit_mod
from prelabel.tracks import hosted as track_json
from prelabel.writers.common import _num

MOT = "motmetrics/data"
LABELS = ["person", "pedestrian", "Car", "Pedestrian", "Cyclist", "Van", "label_2"]
TUD = {"fps": 25, "image_size": (640, 480)}
KITTI = {"fps": 10, "image_size": (1242, 375)}

INPUTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "campus-test": ("mot", f"{MOT}/TUD-Campus/test.txt", TUD),
    "stadtmitte-test": ("mot", f"{MOT}/TUD-Stadtmitte/test.txt", TUD),
    "campus-gt": ("mot", f"{MOT}/TUD-Campus/gt.txt", TUD),
    "stadtmitte-gt": ("mot", f"{MOT}/TUD-Stadtmitte/gt.txt", TUD),
    "sort-det": ("mot", "sort/train/TUD-Campus/det/det.txt", {**TUD, "untracked": True}),
    "datumaro": (
        "mot",
        "datumaro/mot_dataset/mot_seq_with_seqinfo/gt/gt.txt",
        {"fps": 10, "untracked": True},
    ),
    "kitti-results": ("kitti", "results/0000.txt", KITTI),
    "kitti-labels": ("kitti", "label_02/0000.txt", KITTI),
}


def vpa(**prelabel: Any) -> dict[str, Any]:
    return {
        "task_type": "videoplaybackannotation",
        "params": {
            "project": "eq",
            "attachment_type": "video",
            "geometries": {"box": {"objects_to_annotate": LABELS}},
        },
        "prelabel": {
            "attachment_url": "https://cdn.example.com/{sequence}.mp4",
            "allow_unmatched_labels": True,
            **prelabel,
        },
    }


def va(attachment: str = "image", **prelabel: Any) -> dict[str, Any]:
    cfg = vpa(**prelabel)
    cfg["task_type"] = "videoannotation"
    cfg["params"]["attachment_type"] = attachment
    if attachment == "video":
        cfg["params"]["frame_rate"] = 5
    else:
        cfg["prelabel"]["attachment_url"] = "https://cdn.example.com/{sequence}/{frame:06d}.jpg"
    return cfg


def box(cfg: dict[str, Any], **limits: Any) -> dict[str, Any]:
    cfg["params"]["geometries"]["box"].update(limits)
    return cfg


def padded(cfg: dict[str, Any], pad: int) -> dict[str, Any]:
    cfg["params"]["paddingX"] = cfg["params"]["paddingY"] = pad
    return cfg


CONFIGS: dict[str, dict[str, Any]] = {
    "vpa": vpa(),
    "vpa-pad-grow-int": padded(box(vpa(), min_width=30, min_height=90, integer_pixels=True), 8),
    "vpa-keyframes-split": vpa(keyframe_iou=0.9, track_gaps="split", frame_key_base=1),
    "vpa-drop-small-score": box(vpa(small_boxes="drop", score_threshold=0.5), min_width=25),
    "vpa-keep-small-dropout": box(vpa(small_boxes="keep", on_violation="drop"), min_height=80),
    "va-base-topk-px": va(prelabel_as="base_annotations", top_k=3, keyframe_px=2.0),
    "va-video-int-split": box(va("video", track_gaps="split"), integer_pixels=True, min_width=4),
    "va-hyp-keyframes-thresholds": va(
        keyframe_iou=0.8, keyframe_px=3.0, score_thresholds={"person": 0.6, "Car": 0.9}
    ),
}


def read(kind: str, rel: str, opts: dict[str, Any], shared: Path) -> Dataset:
    if kind == "kitti":
        return read_kitti([str(FIXTURES / "kitti" / rel)], KittiOptions(**opts))
    return read_mot([str(shared / rel)], MotOptions(**opts))


def expanded(ds: Dataset) -> Dataset:
    def items() -> Iterator[Item]:
        for item in ds.items:
            yield filter.expand(item)

    return Dataset(ds.format, items(), ds.labels, ds.dropped, ds.notes, ds.kinds)


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def run(
    name: str, cfg: dict[str, Any], tmp: Path, shared: Path, columnar: bool
) -> dict[str, bytes] | str:
    kind, rel, opts = INPUTS[name]
    path = tmp / "task.json"
    path.write_text(json.dumps(cfg))
    config = load_config(path, {})
    ds = read(kind, rel, opts, shared)
    out = tmp / ("columnar" if columnar else "objects")
    try:
        convert(ds if columnar else expanded(ds), config, out)
    except PrelabelError as exc:
        return str(exc)
    return outputs(out)


def check_same(name: str, cfg: dict[str, Any], tmp: Path, shared: Path) -> dict[str, bytes]:
    fast = run(name, cfg, tmp, shared, columnar=True)
    slow = run(name, cfg, tmp, shared, columnar=False)
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return {}
    assert sorted(fast) == sorted(slow)
    for key in slow:
        assert fast[key] == slow[key], f"{key} differs"
    return fast


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_columnar_equals_per_object(
    name: str, config: str, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = plan.plan

    def spy(*args: Any, **kwargs: Any) -> plan.Plan:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(track_json, "plan", spy)
    out = check_same(name, CONFIGS[config], tmp_path, shared)
    assert calls, "the columnar path was not taken"
    report = json.loads(out["report.json"])
    assert report["totals"]["objects_in"] == len(report["objects"])


def test_label_map_and_unmatched_error(shared: Path, tmp_path: Path) -> None:
    names = tmp_path / "map.json"
    names.write_text(json.dumps({"person": "pedestrian"}))
    cfg = vpa(label_map=str(names))
    cfg["params"]["geometries"]["box"]["objects_to_annotate"] = ["pedestrian"]
    out = check_same("campus-test", cfg, tmp_path, shared)
    assert b'"label":"pedestrian"' in out["report.json"]
    cfg = vpa(allow_unmatched_labels=False)
    cfg["params"]["geometries"]["box"]["objects_to_annotate"] = ["car"]
    fast = run("campus-test", cfg, tmp_path, shared, columnar=True)
    assert isinstance(fast, str) and "line 1: label 'person' is not one" in fast
    assert fast == run("campus-test", cfg, tmp_path, shared, columnar=False)


def test_on_violation_error_names_the_same_row(shared: Path, tmp_path: Path) -> None:
    for cfg, text in (
        (box(vpa(on_violation="error"), min_width=60), "line 187: outside"),
        (padded(box(vpa(on_violation="error"), min_width=60), 400), "too small"),
    ):
        fast = run("stadtmitte-test", cfg, tmp_path, shared, columnar=True)
        assert isinstance(fast, str) and text in fast
        assert fast == run("stadtmitte-test", cfg, tmp_path, shared, columnar=False)


def test_attributes_sent_fall_back_to_per_object(shared: Path, tmp_path: Path) -> None:
    cfg = va()
    cfg["params"]["annotation_attributes"] = {"occlusion": {"type": "number"}}
    item = next(iter(read("kitti", "results/0000.txt", KITTI, shared).items))
    assert item.tracks is not None and "occlusion" in item.tracks.attributes
    out = check_same("kitti-results", cfg, tmp_path, shared)
    assert any(b'"occlusion"' in v for k, v in out.items() if k.startswith("artifacts/"))


def test_item_without_tracks_keeps_per_object_path(shared: Path, tmp_path: Path) -> None:
    kind, rel, opts = INPUTS["campus-test"]
    item = filter.expand(next(iter(read(kind, rel, opts, shared).items)))
    assert item.tracks is None and sum(len(f.instances) for f in item.frames or []) == 222


# --- units ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_number_text_matches_writer(values: list[float]) -> None:
    values += [2.0005, 1.0005, 0.0015, -0.0005, 2.675, 1e-7, -3.0]
    text = numbers.number_text(np.array(values)).to_list()
    assert text == [json.dumps(_num(v)) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e15, 1e15, allow_nan=False), min_size=1, max_size=20))
def test_number_text_any_magnitude(values: list[float]) -> None:
    """Past 2**53 scaled (ints vs exponents) the digit path takes over; same text."""
    values += [9.007e12, -9.1e12, 1e15, 123456789012.5]
    text = numbers.number_text(np.array(values)).to_list()
    assert text == [json.dumps(_num(v)) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_timestamp_text_matches_orjson(values: list[float]) -> None:
    values += [0.0, 2.0, 1e-6, 4e-5, 1 / 3, 0.0000015]
    text = numbers.number_text(np.array(values), 6, as_float=True).to_list()
    assert text == [orjson.dumps(round(v, 6)).decode() for v in values]


coord = st.floats(-50, 700, allow_nan=False)
size = st.floats(0, 300, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(coord, coord, size, size), min_size=1, max_size=12),
    st.sampled_from(["fix", "drop"]),
    st.sampled_from([None, "grow", "drop", "keep"]),
    st.booleans(),
    st.floats(0, 40),
    st.sampled_from([None, (640, 480, 0.0), (64, 48, 5.5)]),
)
def test_fit_boxes_matches_fit_geometry(
    rows: list[tuple[float, float, float, float]],
    on_violation: str,
    small: str | None,
    integer: bool,
    min_size: float,
    frame: tuple[int, int, float] | None,
) -> None:
    limits = GeometryLimits(
        kind="box", min_width=min_size, min_height=min_size / 2, integer_pixels=integer
    )
    bounds = None if frame is None else Bounds.for_image(frame[0], frame[1], frame[2], frame[2])
    policy = FitPolicy(on_violation=on_violation, small_boxes=small)  # type: ignore[arg-type]
    cols = tuple(np.array(c, dtype=np.float64) for c in zip(*rows, strict=True))
    fit = fit_mod.fit_boxes(cols, limits, bounds, policy)  # type: ignore[arg-type]
    for r, (left, top, w, h) in enumerate(rows):
        ref = fit_geometry(Box(left, top, w, h), "box", limits, bounds, policy)
        if ref.dropped is not None:
            assert fit.dropped.get(r) == ref.dropped
            continue
        assert r not in fit.dropped
        (g,) = ref.geometries
        assert isinstance(g, Box)
        got = (fit.left[r], fit.top[r], fit.width[r], fit.height[r])
        assert got == (g.left, g.top, g.width, g.height)
        fixes = [t for bit, t in records.FIX_TEXTS if fit.fixes[r] & bit]
        assert fixes == ref.fixes
        assert ([fit.flags[r]] if r in fit.flags else []) == ref.flags


@pytest.mark.parametrize(
    "rel",
    [
        f"{MOT}/TUD-Campus/test.txt",
        f"{MOT}/TUD-Stadtmitte/gt.txt",
        "sort/train/TUD-Stadtmitte/det/det.txt",
        "datumaro/mot_dataset/mot_seq_with_seqinfo/gt/gt.txt",
    ],
)
def test_polars_parse_equals_text_parse(rel: str, shared: Path) -> None:
    from prelabel.converters.tracking import mot
    from prelabel.converters.tracking import parse as track_parse

    path = str(shared / rel)
    quick = track_parse.quick_table(path, mot.COLUMN_NAMES)
    assert quick is not None
    text = track_parse.read_text(path)
    values, lines = track_parse.parse_table(
        path, text, mot.COLUMN_NAMES, "error", [], delimiter=","
    )
    assert np.array_equal(quick[0], values) and np.array_equal(quick[1], lines)


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3,4,5,6\n\n1,3,3,4,5,6\n",
        "1,2,3,4,5,6\n1,3,x,4,5,6\n",
        '1,2,"3",4,5,6\n',
        "1 2 3 4 5 6\n",
    ],
)
def test_irregular_files_take_the_checked_text_path(text: str, tmp_path: Path) -> None:
    from prelabel.converters.tracking import mot
    from prelabel.converters.tracking import parse as track_parse

    path = tmp_path / "t.txt"
    path.write_text(text)
    assert track_parse.quick_table(str(path), mot.COLUMN_NAMES) is None


@given(
    prefix=st.lists(st.text(max_size=8), min_size=1, max_size=3),
    names=st.lists(st.text(max_size=12), max_size=20),
)
def test_uuid_texts_equal_stable_uuid(prefix: list[str], names: list[str]) -> None:
    from prelabel.tracks.keys import uuid_texts
    from prelabel.writers.context import stable_uuid

    assert uuid_texts(tuple(prefix), names) == [stable_uuid(*prefix, n) for n in names]


@pytest.mark.parametrize("block", [64, 1000, 1 << 22])
def test_block_parse_equals_text_parse(block: int, shared: Path, monkeypatch: Any) -> None:
    """The polars parse a block of lines at a time (tiny blocks: hundreds of calls) gives
    the text parser's array; a bad field in a late block still sends the file to it."""
    from prelabel.converters.tracking import mot
    from prelabel.converters.tracking import parse as track_parse

    monkeypatch.setattr(track_parse, "PARSE_BYTES", block)
    path = str(shared / f"{MOT}/TUD-Stadtmitte/gt.txt")
    quick = track_parse.quick_table(path, mot.COLUMN_NAMES)
    assert quick is not None
    text = track_parse.read_text(path)
    values, _ = track_parse.parse_table(path, text, mot.COLUMN_NAMES, "error", [], delimiter=",")
    assert np.array_equal(quick[0], values)
    body = text.replace("\r", "").strip()
    nrows = body.count("\n") + 1
    broken = body[: -len(body.rsplit("\n", 1)[1])] + "1,2,3,4,5,6,x,8,9\n"
    assert track_parse.polars_parse(broken, values.shape[1], nrows) is None


def test_frame_range_is_lazy_on_the_columnar_path(shared: Path, tmp_path: Path) -> None:
    """A MOT item's frames are a FrameRange; the playback writer reads its numbers and
    timestamps without making Frame objects, and made frames agree with them."""
    from prelabel.model import FrameRange

    kind, rel, opts = INPUTS["campus-test"]
    ds = read(kind, rel, opts, shared)
    item = next(iter(ds.items))
    frames = item.frames
    assert isinstance(frames, FrameRange)
    (tmp_path / "task.json").write_text(json.dumps(vpa()))
    config = load_config(tmp_path / "task.json", {})
    convert(
        Dataset(ds.format, iter([item]), ds.labels, ds.dropped, ds.notes, ds.kinds),
        config,
        tmp_path / "out",
    )
    assert frames._frames is None, "the columnar writer made the frames"
    made = list(frames)
    assert [f.number for f in made] == frames.numbers.tolist()
    stamps = frames.timestamps
    assert stamps is not None and [f.timestamp for f in made] == stamps.tolist()
    assert frames[3] is made[3] and frames[-1].index == len(frames) - 1
