"""The track engine, the one video path, on real files.

Each case converts one real input (motmetrics TUD gt and tracker output, sort public
detections, datumaro MOT, the KITTI fixtures, CocoVID and mmtracking results, labelme mask
frames) with one config through ``prelabel.pipeline.convert`` and compares every output
file with ``fixtures/tracks/digests.json``: sha256 digests of the outputs the per-object
video writers made before they were removed (commit bbe7593, where they were checked
byte for byte against the columnar path), except the ``va-video-int-split`` cases: a video
attachment sampled at 5 of 25 fps made every track "miss frames" there, split into one-frame
objects, until gaps became task frames missed. ``report.json`` is compared in a canonical form:
records sorted and each run record expanded to one record per line, ``tasks[].tracks`` left
out (both came later). Plus unit checks of the vectorised box fit against ``fit_geometry``
(hypothesis) and of the number text.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import FIXTURES, REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel.config.limits import Bounds, GeometryLimits
from prelabel.config.load import load_config
from prelabel.converters.registry import reader_entry
from prelabel.converters.text import read_text
from prelabel.errors import PrelabelError
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy
from prelabel.geometry.scale import round_coordinate
from prelabel.model import Box, Dataset
from prelabel.output.report import expand_record
from prelabel.pipeline import convert
from prelabel.tracks import fit as fit_mod
from prelabel.tracks import numbers, plan, records

MOT = "motmetrics/data"
MMT = "mmtracking/demo_vis_data"
LABELME = "labelme/video_annotation/data_dataset_voc"
LABELS = ["person", "pedestrian", "Car", "Pedestrian", "Cyclist", "Van", "label_2"]
LABELS += ["car", "sedan", "track", "a", "b", "c", "d"]
TUD = {"fps": 25, "image_size": (640, 480)}
KITTI = {"fps": 10, "image_size": (1242, 375)}
DIGESTS = FIXTURES / "tracks" / "digests.json"

# name -> (reader, paths under shared/ or <fixtures>/, options)
INPUTS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "campus-test": ("mot", [f"{MOT}/TUD-Campus/test.txt"], TUD),
    "stadtmitte-test": ("mot", [f"{MOT}/TUD-Stadtmitte/test.txt"], TUD),
    "campus-gt": ("mot", [f"{MOT}/TUD-Campus/gt.txt"], TUD),
    "stadtmitte-gt": ("mot", [f"{MOT}/TUD-Stadtmitte/gt.txt"], TUD),
    "sort-det": ("mot", ["sort/train/TUD-Campus/det/det.txt"], {**TUD, "untracked": True}),
    "datumaro": (
        "mot",
        ["datumaro/mot_dataset/mot_seq_with_seqinfo/gt/gt.txt"],
        {"fps": 10, "untracked": True},
    ),
    "kitti-results": ("kitti", ["<fixtures>/kitti/results/0000.txt"], KITTI),
    "kitti-labels": ("kitti", ["<fixtures>/kitti/label_02/0000.txt"], KITTI),
    "cocovid": ("coco", ["mmtracking/demo_cocovid_data/ann.json"], {"fps": 5}),
    "vis-results": ("coco", [f"{MMT}/results.json"], {"images": f"{MMT}/ann.json", "fps": 5}),
    "labelme-video": (
        "masks",
        [f"{LABELME}/SegmentationClassPNG"],
        {
            "video": True,
            "fps": 5,
            "classes": f"{LABELME}/class_names.txt",
            "images": f"{LABELME}/JPEGImages",
        },
    ),
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


def polygon(
    cfg: dict[str, Any], keep_box: list[str] | None = None, **limits: Any
) -> dict[str, Any]:
    """Polygons for every label, or for all but ``keep_box`` (which stay boxes)."""
    geoms = cfg["params"]["geometries"]
    others = [x for x in LABELS if x not in (keep_box or [])]
    geoms["polygon"] = {"objects_to_annotate": others, **limits}
    if keep_box:
        geoms["box"]["objects_to_annotate"] = keep_box
    else:
        del geoms["box"]
    return cfg


def attributes(cfg: dict[str, Any], defined: dict[str, Any]) -> dict[str, Any]:
    cfg["params"]["annotation_attributes"] = defined
    return cfg


ATTRIBUTES = {
    "occlusion": {"type": "number"},
    "truncation": {"type": "number"},
    "visibility": {"type": "category", "choices": ["full", "partial"]},
    "occluded": {"type": "category", "choices": ["True", "False"]},
    "score": {"type": "number", "max": 100},
}

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
    "vpa-polygon": polygon(vpa(), max_vertices=50),
    "va-polygon-mixed": polygon(va(keyframe_iou=0.9), keep_box=["person", "Car", "sedan"]),
    "va-attributes": attributes(va(prelabel_as="base_annotations"), ATTRIBUTES),
    "vpa-attributes-split": attributes(vpa(track_gaps="split", keyframe_iou=0.9), ATTRIBUTES),
    "vpa-confidence": attributes(vpa(), {"confidence": {"type": "number"}}),
    "vpa-error": box(vpa(on_violation="error"), min_width=60),
}
TRACKING = [n for n, (kind, _, _) in INPUTS.items() if kind in ("mot", "kitti")]
CASES = [(n, c) for n in TRACKING for c in list(CONFIGS)[:8]]
CASES += [(n, c) for n in ("cocovid", "labelme-video") for c in CONFIGS]
CASES += [
    (n, c) for n in ("campus-test", "kitti-results", "vis-results") for c in list(CONFIGS)[8:]
]


def paths(rel: list[str], shared: Path) -> list[str]:
    return [r.replace("<fixtures>", str(FIXTURES)) if "<" in r else str(shared / r) for r in rel]


def read(name: str, shared: Path) -> Dataset:
    kind, rel, opts = INPUTS[name]
    opts = {k: str(shared / v) if k in ("images", "classes") else v for k, v in opts.items()}
    entry = reader_entry(kind)
    return entry.reader()(paths(rel, shared), entry.options_class()(**opts))


def run(name: str, cfg: dict[str, Any], tmp: Path, shared: Path) -> dict[str, bytes] | str:
    """The output files of one conversion, or its error."""
    (tmp / "task.json").write_text(json.dumps(cfg))
    config = load_config(tmp / "task.json", {})
    out = tmp / "out"
    try:
        convert(read(name, shared), config, out)
    except PrelabelError as exc:
        return str(exc)
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def canonical_report(data: bytes) -> bytes:
    """report.json with records expanded (one per line), sorted, and no track maps; the
    mean IoU to 12 digits (its last bits follow the order of the records)."""
    report = orjson.loads(data)
    for task in report["tasks"]:
        task.pop("tracks", None)
    if report["iou"]:
        report["iou"]["mean"] = round(report["iou"]["mean"], 12)
    rows = [orjson.dumps(r) for rec in report.pop("objects") for r in expand_record(rec)]
    return orjson.dumps(report, option=orjson.OPT_SORT_KEYS) + b"\n".join(sorted(rows))


def digests(out: dict[str, bytes] | str, shared: Path) -> dict[str, str] | str:
    def plain(data: bytes) -> bytes:
        return data.replace(str(shared).encode(), b"<data>").replace(
            str(FIXTURES).encode(), b"<fixtures>"
        )

    if isinstance(out, str):
        return plain(out.encode()).decode()
    files = {k: canonical_report(plain(v)) if k == "report.json" else v for k, v in out.items()}
    return {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


@pytest.mark.parametrize(("name", "config"), CASES)
def test_outputs_equal_the_per_object_writers(
    name: str, config: str, shared: Path, tmp_path: Path, update_goldens: bool
) -> None:
    out = run(name, CONFIGS[config], tmp_path, shared)
    found = digests(out, shared)
    golden = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    case = f"{name} {config}"
    if update_goldens:
        golden[case] = found
        DIGESTS.parent.mkdir(exist_ok=True)
        DIGESTS.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    assert found == golden[case]
    if not isinstance(out, str):
        report = json.loads(out["report.json"])
        counted = sum(len(list(expand_record(r))) for r in report["objects"])
        assert report["totals"]["objects_in"] == counted


def test_label_map_and_unmatched_error(shared: Path, tmp_path: Path) -> None:
    names = tmp_path / "map.json"
    names.write_text(json.dumps({"person": "pedestrian"}))
    cfg = vpa(label_map=str(names))
    cfg["params"]["geometries"]["box"]["objects_to_annotate"] = ["pedestrian"]
    out = run("campus-test", cfg, tmp_path, shared)
    assert not isinstance(out, str) and b'"label":"pedestrian"' in out["report.json"]
    cfg = vpa(allow_unmatched_labels=False)
    cfg["params"]["geometries"]["box"]["objects_to_annotate"] = ["car"]
    error = run("campus-test", cfg, tmp_path, shared)
    assert isinstance(error, str) and "line 1: label 'person' is not one" in error


def test_on_violation_error_names_the_first_row_in_send_order(shared: Path, tmp_path: Path) -> None:
    for cfg, text in (
        (box(vpa(on_violation="error"), min_width=60), "test.txt, line 187: outside"),
        (padded(box(vpa(on_violation="error"), min_width=60), 400), "line 128: too small"),
        (polygon(vpa(on_violation="error"), min_vertices=5), "line 1: too few vertices"),
    ):
        error = run("stadtmitte-test", cfg, tmp_path, shared)
        assert isinstance(error, str) and text in error, error


def test_every_video_item_takes_the_engine(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tracking tables and per-frame instances (COCO-video, traced masks) alike."""
    from prelabel.writers import video

    calls: list[bool] = []
    real = plan.plan

    def spy(table: Any, *args: Any, **kwargs: Any) -> plan.Plan:
        calls.append(table.objects is None)
        return real(table, *args, **kwargs)

    monkeypatch.setattr(video, "plan", spy)
    for name in ("campus-test", "cocovid", "labelme-video"):
        assert not isinstance(run(name, vpa(), tmp_path, shared), str)
    assert calls == [True, False, False]


def test_tracks_never_import_writers() -> None:
    """The engine gets what it needs passed in: no import of prelabel.writers, not even
    inside a function or for type checking."""
    for path in sorted((REPO / "core" / "tracks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("prelabel.writers"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("prelabel.writers") for a in node.names)


# --- units ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20))
def test_number_text_matches_writer(values: list[float]) -> None:
    values += [2.0005, 1.0005, 0.0015, -0.0005, 2.675, 1e-7, -3.0]
    text = numbers.number_text(np.array(values)).to_list()
    assert text == [json.dumps(round_coordinate(v)) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e15, 1e15, allow_nan=False), min_size=1, max_size=20))
def test_number_text_any_magnitude(values: list[float]) -> None:
    """Past 2**53 scaled (ints vs exponents) the digit path takes over; same text."""
    values += [9.007e12, -9.1e12, 1e15, 123456789012.5]
    text = numbers.number_text(np.array(values)).to_list()
    assert text == [json.dumps(round_coordinate(v)) for v in values]


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
    text = read_text(path)
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
    from prelabel.model import stable_uuid
    from prelabel.tracks.keys import uuid_texts

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
    text = read_text(path)
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

    ds = read("campus-test", shared)
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


@pytest.mark.parametrize("config", ["vpa", "vpa-polygon", "vpa-attributes-split"])
def test_hosted_json_in_small_chunks_is_the_same(
    config: str, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million rows are written a chunk of whole objects at a time: many tiny chunks give
    the same bytes as one."""
    from prelabel.tracks import hosted

    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    whole = run("stadtmitte-test", CONFIGS[config], tmp_path / "one", shared)
    monkeypatch.setattr(hosted, "ROWS", 7)
    parts = run("stadtmitte-test", CONFIGS[config], tmp_path / "many", shared)
    assert isinstance(whole, dict) and parts == whole
    (name,) = [k for k in whole if k.startswith("artifacts/")]
    assert len(json.loads(whole[name])) > 7


def test_review_reads_run_records(shared: Path, tmp_path: Path) -> None:
    """The review readers of report.json take a report with run records as before: a run
    stands for plainly converted rows, which the legend and the page do not list; fixed and
    dropped rows keep a record each."""
    from prelabel.review.draw import Colours
    from prelabel.review.legend import Legend
    from prelabel.review.load import load_output
    from prelabel.review.page import objects_html

    cfg = box(vpa(small_boxes="drop"), min_width=40)
    out = run("stadtmitte-test", cfg, tmp_path, shared)
    assert isinstance(out, dict)
    report = json.loads(out["report.json"])
    assert any("count" in r for r in report["objects"])  # runs made
    loaded = load_output(tmp_path / "out")
    (task,) = loaded.tasks
    legend = Legend(Colours(task.body))
    legend.add_records(loaded.records(task.unique_id))
    totals = report["totals"]
    assert legend.fixed == totals["objects_fixed"] > 0
    assert sum(legend.dropped.values()) == totals["objects_dropped"] > 0
    listed = totals["objects_fixed"] + totals["objects_dropped"]
    assert f"Fixed and dropped objects ({listed})" in objects_html(report)
