"""An image's plain objects as columns (``Item.columns``) convert exactly as the same
objects as instances: same bodies, uuids, report records and totals, whatever the config
(limits, padding, thresholds, top-k, attributes, label sets) and whatever the objects (boxes
inside, across and outside the image, tiny or empty; masks, empty masks)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from prelabel import Converter
from prelabel.converters.coco.columns import plain_columns
from prelabel.converters.coco.common import Category
from prelabel.geometry.rle import rle_extent, rle_extents
from prelabel.geometry.scale import round_coordinate, round_coordinates
from prelabel.model import Item, ObjectColumns, stable_uuid, stable_uuids
from prelabel.output.report import expand_record

LABELS = ["person", "car", "dog", "tree"]
CATS = {str(n): Category(name) for n, name in enumerate(LABELS, start=1)}


@st.composite
def results(draw: Any) -> tuple[int, int, list[tuple[int, dict[str, Any]]]]:
    """An image size and its COCO results, each a bbox or a mask, with or without a score."""
    width, height = draw(st.integers(8, 60)), draw(st.integers(8, 60))
    coord = st.one_of(
        st.integers(-20, 80),
        st.floats(-20, 80, allow_nan=False).map(lambda v: round(v, 2)),
        st.floats(-20, 80, allow_nan=False),
    )
    size = st.one_of(st.integers(0, 50), st.floats(0, 50, allow_nan=False))
    out = []
    for index in range(draw(st.integers(0, 12))):
        rec: dict[str, Any] = {"image_id": 7, "category_id": draw(st.integers(1, 4))}
        if draw(st.booleans()):
            rec["bbox"] = [draw(coord), draw(coord), draw(size), draw(size)]
            mode = draw(st.integers(0, 4))
            if mode:  # mostly inside the image, maybe touching its edges
                x, y = draw(st.floats(0, width)), draw(st.floats(0, height))
                rec["bbox"] = [x, y, draw(st.floats(0, width - x)), draw(st.floats(0, height - y))]
            if mode in (1, 2):  # past an edge by less than a pixel
                over = draw(st.floats(0, 1, exclude_min=True))
                edge = draw(st.integers(0, 3))
                if edge < 2:
                    rec["bbox"][edge] = -over
                else:
                    rec["bbox"][edge] = (width, height)[edge - 2] - rec["bbox"][edge - 2] + over
        else:
            pixels = np.zeros((height, width), np.uint8)
            if draw(st.integers(0, 5)):  # one in six empty
                x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
                x1, y1 = draw(st.integers(x0, width)), draw(st.integers(y0, height))
                pixels[y0 : y1 + 1, x0 : x1 + 1] = 1
            rle = mask_utils.encode(np.asfortranarray(pixels))
            rec["segmentation"] = {"size": [height, width], "counts": rle["counts"].decode()}
        if draw(st.booleans()):
            rec["score"] = draw(st.floats(0, 1))
        if draw(st.booleans()):
            rec["id"] = 1000 + index
        out.append((index * 3, rec))
    return width, height, out


@st.composite
def configs(draw: Any) -> dict[str, Any]:
    """imageannotation configs: box and maybe polygon geometries over some labels, limits,
    padding, and the [prelabel] options that decide what is written."""
    box_labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, unique=True))
    box: dict[str, Any] = {"objects_to_annotate": box_labels}
    box["min_width"] = draw(st.sampled_from([0, 0, 2, 5]))
    box["min_height"] = draw(st.sampled_from([0, 0, 2, 5]))
    if not draw(st.integers(0, 3)):
        box["integer_pixels"] = True
    geometries: dict[str, Any] = {"box": box}
    rest = [name for name in LABELS if name not in box_labels]
    if rest and draw(st.booleans()):
        geometries["polygon"] = {"objects_to_annotate": rest}
    params: dict[str, Any] = {"project": "p", "instruction": "i", "geometries": geometries}
    params["padding"] = draw(st.sampled_from([0, 0, 5]))
    if not draw(st.integers(0, 3)):
        params["annotation_attributes"] = {
            "confidence": {"type": "number", "description": "c", "min": 0, "max": 100}
        }
    prelabel: dict[str, Any] = {"attachment_url": "https://cdn/{id}.jpg"}
    prelabel["allow_unmatched_labels"] = True
    prelabel["on_violation"] = draw(st.sampled_from(["fix", "drop"]))
    if draw(st.booleans()):
        prelabel["score_threshold"] = draw(st.sampled_from([0.2, 0.5]))
    if draw(st.booleans()):
        prelabel["score_thresholds"] = {"car": 0.7}
    if draw(st.booleans()):
        prelabel["top_k"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        prelabel["small_boxes"] = draw(st.sampled_from(["grow", "drop", "keep"]))
    return {"task_type": "imageannotation", "params": params, "prelabel": prelabel}


def convert(config: dict[str, Any], item: Item) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """The body, the report records one per object (runs expanded), the totals."""
    task = Converter(config, format="coco").ship(item)
    assert task.report.lines is not None
    records = [orjson.loads(line) for line in bytes(task.report.lines).splitlines()]
    lines = b"".join(orjson.dumps(r) + b"\n" for rec in records for r in expand_record(rec))
    return task.body, lines, task.report.totals()


def test_plain_results_at_consecutive_indexes_are_one_run_record() -> None:
    """Plainly converted results at consecutive indexes share one record (their labels in
    order), a lone one keeps its own; expanded, they are the records one by one."""
    config = {
        "task_type": "imageannotation",
        "params": {"project": "p", "instruction": "i", "geometries": {"box": {}}},
        "prelabel": {"attachment_url": "https://cdn/{id}.jpg"},
    }
    recs = [
        (i, {"image_id": 1, "category_id": 2 + i % 2, "bbox": [1, 2, 3, 4]}) for i in (4, 5, 6, 9)
    ]
    cols = plain_columns(recs, "r.json", (10, 10), CATS)
    assert cols is not None
    task = Converter(config, format="coco").ship(Item("1", {"id": 1}, 10, 10, columns=cols))
    assert task.report.lines is not None
    run, lone = (orjson.loads(line) for line in bytes(task.report.lines).splitlines())
    assert run["source"] == {"file": "r.json", "location": "results[4-6]", "indexes": [4, 6]}
    assert (run["count"], run["labels"], run["annotations"]) == (3, ["car", "dog", "car"], 1)
    assert lone["source"]["location"] == "results[9]" and lone["label"] == "dog"
    assert [r["source"]["location"] for r in expand_record(run)] == [
        f"results[{i}]" for i in (4, 5, 6)
    ]
    assert [r["label"] for r in expand_record(run)] == ["car", "dog", "car"]
    assert task.report.totals()["objects_in"] == 4
    (sent,) = [r for r in task.records if r.indexes]
    assert sent.count == 3 and sent.labels == ["car", "dog", "car"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results(), configs())
def test_columns_convert_as_instances(image: Any, config: dict[str, Any]) -> None:
    width, height, records = image
    cols = plain_columns(records, "dets.json", (height, width), CATS)
    assert cols is not None
    fields = {"id": 7}
    as_columns = Item("7", dict(fields), width, height, columns=copy.deepcopy(cols))
    as_instances = Item("7", dict(fields), width, height, instances=cols.instances())
    got, want = convert(config, as_columns), convert(config, as_instances)
    assert got[0] == want[0]
    assert got[1] == want[1]  # the same records, byte for byte, in the same order
    assert got[2] == want[2]
    assert got[2]["objects_in"] == len(records)
    unmeasured = copy.deepcopy(cols)  # mask boxes not measured: masks take the object path
    unmeasured.mask_boxes = None
    as_unmeasured = Item("7", dict(fields), width, height, columns=unmeasured)
    assert convert(config, as_unmeasured) == want


def test_plain_and_not_plain_results() -> None:
    """What the columns take, and what sends an image down the object path."""
    box = {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3.5, 4], "score": 0.5}
    cols = plain_columns([(4, box)], "r.json", (10, 10), CATS)
    assert isinstance(cols, ObjectColumns)
    assert ([cols.location(0)], cols.labels, cols.scores, cols.boxes) == (
        ["results[4]"],
        ["car"],
        [0.5],
        [(1.0, 2.0, 3.5, 4.0)],
    )
    (inst,) = cols.instances()
    assert (inst.label, inst.instance_id, inst.source.location) == ("car", "4", "results[4]")
    not_plain = [
        {**box, "iscrowd": 0},  # a flag the object path keeps as an attribute
        {**box, "keypoints": [1, 1, 2]},
        {**box, "attributes": {"occluded": True}},
        {**box, "segmentation": [[0, 0, 4, 0, 4, 4]]},  # a polygon
        {**box, "bbox": [1, 2, -3, 4]},  # broken: the object path names it
        {**box, "bbox": [1, 2, True, 4]},
        {**box, "bbox": [1, 2, 3, float("nan")]},
        {**box, "bbox": [1e9, 2, 3, 4]},
        {**box, "score": "high"},
        {**box, "score": float("inf")},
        {"image_id": 1, "category_id": 2},  # no geometry: dropped with a reason there
    ]
    for rec in not_plain:
        assert plain_columns([(0, rec)], "r.json", (10, 10), CATS) is None, rec


def test_masks_must_cover_their_image() -> None:
    """An RLE whose runs do not cover the image, or of another size, is not plain."""
    pixels = np.zeros((10, 10), np.uint8)
    pixels[2:5, 3:7] = 1
    counts = mask_utils.encode(np.asfortranarray(pixels))["counts"].decode()
    mask = {"image_id": 1, "category_id": 1, "segmentation": {"size": [10, 10], "counts": counts}}
    cols = plain_columns([(0, mask)], "r.json", (10, 10), CATS)
    assert cols is not None and cols.masks == [counts.encode()]
    short = {**mask, "segmentation": {"size": [10, 10], "counts": counts[:-1]}}
    other = {**mask, "segmentation": {"size": [10, 11], "counts": counts}}
    for rec in (short, other):
        assert plain_columns([(0, rec)], "r.json", (10, 10), CATS) is None


@pytest.mark.parametrize("jit", ["0", "1"])
def test_rle_extents_equal_rle_extent(jit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched check gives each string's own (sum, smallest), compiled or not, on real
    masks and on arbitrary strings of RLE characters (cut short, overlong, negative)."""
    monkeypatch.setenv("PRELABEL_JIT", jit)
    rng = np.random.default_rng(5)
    strings = []
    for _ in range(200):
        h, w = rng.integers(1, 40, 2)
        pixels = (rng.random((h, w)) > rng.random()).astype(np.uint8)
        strings.append(bytes(mask_utils.encode(np.asfortranarray(pixels))["counts"]))
    for _ in range(300):
        strings.append(bytes(rng.integers(48, 112, rng.integers(0, 30)).astype(np.uint8)))
    sums, least = rle_extents(strings)
    assert list(zip(sums, least, strict=True)) == [rle_extent(s) for s in strings]
    assert any(s == -1 for s in sums) and any(m < 0 for m in least if m != -1)


def test_report_lines_are_the_records_of_the_object_path() -> None:
    """A plain box's record line is what ObjectRecord.as_dict gives (parsed back equal)."""
    config = {
        "task_type": "imageannotation",
        "params": {"project": "p", "instruction": "i", "geometries": {"box": {}}},
        "prelabel": {"attachment_url": "https://cdn/{id}.jpg"},
    }
    rec = {"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]}
    cols = plain_columns([(9, rec)], 'a "quoted" file.json', (10, 10), CATS)
    assert cols is not None
    body, lines, totals = convert(config, Item("1", {"id": 1}, 10, 10, columns=cols))
    (line,) = lines.splitlines()
    assert orjson.loads(line) == {
        "source": {"file": 'a "quoted" file.json', "location": "results[9]"},
        "outcome": "converted",
        "label": "dog",
        "task": body["unique_id"],
        "annotations": 1,
    }
    assert totals["objects_out"] == 1


@pytest.mark.parametrize("padding", [0, 5])
@pytest.mark.parametrize("min_size", [0, 5])
@pytest.mark.parametrize("small_boxes", ["grow", "drop", "keep"])
def test_boxes_at_the_edges(padding: int, min_size: int, small_boxes: str) -> None:
    """Boxes a hair inside, on and past every edge of the padded image, and a hair under,
    at and over the minimum size (and of zero size): each as the object path writes it."""
    width, height = 40, 30
    near = [-1.0, -0.5, -1e-9, 0.0, 1e-9, 0.5]
    sizes = [0.0, 1e-10, 0.5, abs(min_size - 1e-9), float(min_size), min_size + 0.25, 12.0]
    boxes = []
    for d in near:
        for s in sizes:
            boxes += [
                [-padding + d, 10, s, 12.0],
                [10, -padding + d, 12.0, s],
                [width + padding - 12.0 + d, 10, 12.0, s],
                [10, height + padding - 12.0 + d, s, 12.0],
            ]
    records = [
        (i, {"image_id": 7, "category_id": 1 + i % 2, "bbox": b}) for i, b in enumerate(boxes)
    ]
    cols = plain_columns(records, "dets.json", (height, width), CATS)
    assert cols is not None
    geometry = {"objects_to_annotate": ["person", "car"], "min_width": min_size}
    config = {
        "task_type": "imageannotation",
        "params": {
            "project": "p",
            "instruction": "i",
            "padding": padding,
            "geometries": {"box": {**geometry, "min_height": min_size}},
        },
        "prelabel": {"attachment_url": "https://cdn/{id}.jpg", "small_boxes": small_boxes},
    }
    as_columns = Item("7", {"id": 7}, width, height, columns=copy.deepcopy(cols))
    as_instances = Item("7", {"id": 7}, width, height, instances=cols.instances())
    got, want = convert(config, as_columns), convert(config, as_instances)
    assert got == want
    outcomes = {orjson.loads(line)["outcome"] for line in got[1].splitlines()}
    assert outcomes == {"converted", "fixed", "dropped"} or small_boxes == "keep"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(-2e6, 2e6),
            st.integers(-(10**7), 10**7).map(lambda k: (k + 0.5) / 1000),  # ties, as written
            st.integers(-(10**7), 10**7).map(lambda k: k / 1000),
        ),
        max_size=60,
    )
)
def test_round_coordinates_is_round_coordinate(values: list[float]) -> None:
    """The vectorised rounding gives round(value, 3) for every value, ints for whole ones."""
    got = round_coordinates(values)
    want = [round_coordinate(v) for v in values]
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]


@given(st.text(), st.lists(st.text(), max_size=20))
def test_stable_uuids_are_stable_uuid(prefix: str, rests: list[str]) -> None:
    """A task's uuids made in one batch are those stable_uuid makes one by one."""
    assert stable_uuids(prefix, rests) == [stable_uuid(prefix + rest) for rest in rests]
