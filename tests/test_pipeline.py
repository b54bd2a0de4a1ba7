"""The pipeline end to end on hand-built datasets: filters, image writer, report, validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from prelabel.config.load import load_config
from prelabel.errors import InputError, PayloadError
from prelabel.model import Box, Dataset, Dropped, Instance, Item, Polygon, SourceRef
from prelabel.pipeline import ConvertOptions, convert, validate_dir

CONFIG = """
task_type = "imageannotation"

[params]
project = "demo"
instruction = "Draw a box around every car and a polygon around every person."

[params.geometries.box]
objects_to_annotate = ["car", "person"]
min_width = 4
min_height = 4

[params.geometries.polygon]
objects_to_annotate = ["person"]
min_vertices = 3
max_vertices = 8

[prelabel]
attachment_url = "https://cdn.example.com/{file_name}"
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "task.toml"
    path.write_text(CONFIG + extra)
    return path


def ref(n: int) -> SourceRef:
    return SourceRef("dets.json", f"results[{n}]")


def star(cx: float, cy: float, r: float, points: int = 12) -> Polygon:
    import math

    ring = []
    for k in range(points * 2):
        radius = r if k % 2 == 0 else r / 2
        angle = math.pi * k / points
        ring.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return Polygon.from_ring(ring)


def dataset(extra: list[Instance] | None = None) -> Dataset:
    def items() -> Iterator[Item]:
        yield Item(
            key="1",
            fields={"file_name": "a.jpg", "id": 1},
            width=100,
            height=80,
            instances=[
                Instance("car", Box(10, 10, 20, 10), ref(0), score=0.9),
                Instance("car", Box(50, 50, 20, 10), ref(1), score=0.1),
                Instance("person", star(40, 40, 20), ref(2), score=0.8),
                Instance("car", Box(90, 70, 30, 30), ref(3), score=0.7),  # clipped
                *(extra or []),
            ],
        )
        yield Item(key="2", fields={"file_name": "b.jpg", "id": 2}, width=100, height=80)

    ds = Dataset(format="test", items=items(), labels=["car", "person"])
    ds.dropped.append(Dropped(ref(9), "bad polygon: 3 numbers", label="car"))
    return ds


def read_tasks(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (out / "tasks.jsonl").read_bytes().splitlines()]


def test_convert_writes_bodies_report_and_keeps_every_object(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"score_threshold": 0.5})
    report = convert(dataset(), config, tmp_path / "out")
    tasks = read_tasks(tmp_path / "out")
    assert [t["task_type"] for t in tasks] == ["imageannotation"] * 2
    body = tasks[0]["body"]
    assert isinstance(body, dict)
    assert body["attachment"] == "https://cdn.example.com/a.jpg"
    assert body["unique_id"] == "demo/imageannotation/1"
    assert body["project"] == "demo"
    annotations = body["hypothesis"]["annotations"]
    assert [a["type"] for a in annotations] == ["box", "polygon", "box"]
    assert annotations[0] | {"uuid": None} == {
        "type": "box",
        "label": "car",
        "left": 10,
        "top": 10,
        "width": 20,
        "height": 10,
        "uuid": None,
    }
    assert len(annotations[1]["vertices"]) <= 8
    assert annotations[2]["left"] + annotations[2]["width"] <= 100  # clipped to the image
    totals = report.totals()
    assert totals["objects_in"] == 5
    assert totals["objects_in"] == totals["objects_out"] + totals["objects_dropped"]
    assert totals["objects_dropped"] == 2
    assert report.reasons() == {"score": 1, "bad polygon": 1}
    written = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert written["totals"] == totals
    sources = {(o["source"]["location"], o["outcome"]) for o in written["objects"]}
    assert ("results[1]", "dropped") in sources
    assert ("results[3]", "fixed") in sources


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    convert(dataset(), config, tmp_path / "a")
    convert(dataset(), config, tmp_path / "b")
    assert (tmp_path / "a" / "tasks.jsonl").read_bytes() == (
        tmp_path / "b" / "tasks.jsonl"
    ).read_bytes()


def test_base_annotations_placement(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"prelabel_as": "base_annotations"})
    convert(dataset(), config, tmp_path / "out")
    body = read_tasks(tmp_path / "out")[0]["body"]
    assert isinstance(body, dict)
    assert "hypothesis" not in body
    assert len(body["base_annotations"]["annotations"]) == 4


def test_unmatched_label_is_an_error_naming_the_object(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    truck = Instance("truck", Box(1, 1, 10, 10), ref(7))
    with pytest.raises(InputError) as info:
        convert(dataset([truck]), config, tmp_path / "out")
    assert str(info.value).startswith(
        "dets.json, results[7]: label 'truck' is not one of the task's labels"
    )
    assert not (tmp_path / "out" / "tasks.jsonl").exists()


def test_unmatched_label_dropped_when_allowed(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"allow_unmatched_labels": True})
    truck = Instance("truck", Box(1, 1, 10, 10), ref(7))
    report = convert(dataset([truck]), config, tmp_path / "out")
    assert report.reasons()["unmatched label"] == 1


def test_label_map_renames_and_drops(tmp_path: Path) -> None:
    (tmp_path / "map.json").write_text('{"truck": "car", "bus": null}')
    config = load_config(write_config(tmp_path), {"label_map": str(tmp_path / "map.json")})
    extra = [Instance("truck", Box(1, 1, 10, 10), ref(7)), Instance("bus", Box(1, 1, 9, 9), ref(8))]
    report = convert(dataset(extra), config, tmp_path / "out")
    labels = [
        a["label"] for a in read_tasks(tmp_path / "out")[0]["body"]["hypothesis"]["annotations"]
    ]  # type: ignore[index]
    assert labels.count("car") == 4
    assert report.reasons()["label map"] == 1


def test_top_k_keeps_best_scores(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"top_k": 2})
    report = convert(dataset(), config, tmp_path / "out")
    kept = [r["source"]["location"] for r in report.iter_records() if r["outcome"] != "dropped"]
    assert kept == ["results[0]", "results[2]"]
    assert report.reasons()["top-k"] == 2


def test_duplicate_unique_ids_are_refused(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"unique_id": "{project}"})
    with pytest.raises(PayloadError, match="both get unique_id 'demo'"):
        convert(dataset(), config, tmp_path / "out")


def test_validate_accepts_own_output_and_names_violations(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    out = tmp_path / "out"
    convert(dataset(), config, out)
    assert validate_dir(out, config) == []
    tasks = read_tasks(out)
    body = tasks[0]["body"]
    annotations = body["hypothesis"]["annotations"]  # type: ignore[index]
    annotations[0]["width"] = 2
    polygon = next(a for a in annotations if a["type"] == "polygon")
    polygon["vertices"] *= 3
    (out / "tasks.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tasks))
    problems = validate_dir(out, config)
    assert len(problems) >= 2
    assert problems[0] == (
        "task demo/imageannotation/1: hypothesis.annotations[0]: box 2x10 is under the min size"
        " 4x4 [box-settings]"
    )
    assert any("max_vertices is 8 [vertices]" in p for p in problems)


def test_keyhole_ring_is_weakly_simple_but_a_bow_tie_is_not() -> None:
    import shapely

    from prelabel.rulebook.annotations import weakly_simple

    # a square with a square hole, bridged along y = 4 (the ring touches itself at the bridge)
    keyhole = shapely.Polygon(
        [
            (0, 0),
            (10, 0),
            (10, 10),
            (0, 10),
            (0, 4),
            (3, 4),
            (3, 7),
            (7, 7),
            (7, 3),
            (3, 3),
            (3, 4),
            (0, 4),
        ]
    )
    assert not shapely.is_valid(keyhole)
    assert weakly_simple(keyhole)
    # the same hole bridged by one segment walked there and back (GEOS: "Self-intersection")
    there_and_back = shapely.Polygon(
        [
            (0, 0),
            (10, 0),
            (10, 10),
            (0, 10),
            (0, 5),
            (3, 5),
            (3, 7),
            (7, 7),
            (7, 3),
            (3, 3),
            (3, 5),
            (0, 5),
        ]
    )
    assert weakly_simple(there_and_back)
    bow_tie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    assert not weakly_simple(bow_tie)
    # a ring that winds twice around one region
    twice = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (10, 0), (10, 10), (0, 10)]
    )
    assert not weakly_simple(twice)


def test_score_fills_a_percent_or_fraction_attribute(tmp_path: Path) -> None:
    extra = """
[params.annotation_attributes.confidence]
type = "number"
min = 0
max = 100

[params.annotation_attributes.score]
type = "number"
min = 0
max = 1
step = 0.01
"""
    path = tmp_path / "task.toml"
    path.write_text(CONFIG.replace("[prelabel]", extra + "\n[prelabel]"))
    convert(dataset(), load_config(path), tmp_path / "out")
    first = read_tasks(tmp_path / "out")[0]["body"]["hypothesis"]["annotations"][0]  # type: ignore[index]
    # a percent when max > 1, a fraction when max <= 1; rounded onto the step grid (default 1)
    assert first["attributes"] == {"confidence": 90, "score": 0.9}
    path.write_text(path.read_text().replace("step = 0.01\n", ""))
    convert(dataset(), load_config(path), tmp_path / "out2")
    first = read_tasks(tmp_path / "out2")[0]["body"]["hypothesis"]["annotations"][0]  # type: ignore[index]
    assert first["attributes"] == {"confidence": 90, "score": 1}  # whole numbers by default
    assert validate_dir(tmp_path / "out2", load_config(path)) == []


def test_report_streams_records_to_disk_instead_of_holding_them(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    report = convert(dataset(), config, tmp_path / "out")
    assert report.records == []  # nothing held in memory
    written = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert len(written["objects"]) == written["totals"]["objects_in"] == 5
    assert not list((tmp_path / "out").glob("*.partial"))


def test_taxonomy_lists_the_labels_kept_per_task_geometry(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    convert(dataset(), config, tmp_path / "out", ConvertOptions(emit_taxonomy=True))
    block = orjson.loads((tmp_path / "out" / "taxonomy.json").read_bytes())
    assert block == {
        "geometries": {
            "box": {"objects_to_annotate": ["car"]},
            "polygon": {"objects_to_annotate": ["person"]},
        }
    }


@pytest.mark.parametrize("spool", [False, True])
def test_bulk_records_count_like_single_ones(tmp_path: Path, spool: bool) -> None:
    from prelabel.output.report import Report

    single = Report()
    single.converted(ref(0), label="car", task="t", annotations=1)
    single.dropped(ref(1), "score: 0.1 below threshold 0.5", label="car", task="t")
    single.converted(ref(2), label="car", task="t", fixes=["clipped: to padded image"])
    bulk = Report(spool=tmp_path / "spool" if spool else None)
    lines = b"".join(orjson.dumps(r.as_dict()) + b"\n" for r in single.records)
    bulk.add_lines(
        lines,
        outcomes={"converted": 1, "dropped": 1, "fixed": 1},
        reasons={"score": 1},
        fixes={"clipped": 1},
        annotations=2,
    )
    assert bulk.totals() == single.totals()
    assert list(bulk.iter_records()) == list(single.iter_records())
    bulk.write(tmp_path / "report.json")
    assert orjson.loads((tmp_path / "report.json").read_bytes())["objects"] == list(
        single.iter_records()
    )


def test_uuids_do_not_depend_on_the_input_path() -> None:
    from prelabel.model import stable_uuid

    a = stable_uuid("task", SourceRef("/home/me/run/dets.json", "results[3]"), 0)
    b = stable_uuid("task", SourceRef("dets.json", "results[3]"), 0)
    c = stable_uuid("task", SourceRef("dets.json", "results[4]"), 0)
    assert a == b != c


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_spooled_records_copy_in_blocks_gives_the_same_json(tmp_path: Path, block: int) -> None:
    import io

    from prelabel.output.report import _copy_records

    records = [
        {"source": {"file": "f", "location": f"line {n}"}, "outcome": "converted"}
        for n in range(50)
    ]
    spool = b"".join(orjson.dumps(r) + b"\n" for r in records)
    out = io.BytesIO()
    out.write(b"[")
    _copy_records(io.BytesIO(spool), out, block)
    out.write(b"\n]")
    assert orjson.loads(out.getvalue()) == records


def test_only_attributes_and_values_the_task_defines_are_sent(tmp_path: Path) -> None:
    extra = """
[params.annotation_attributes.occluded]
type = "category"
choices = ["yes", "no"]

[params.annotation_attributes.truncated]
type = "category"
choices = [{ choice = "yes" }, { choice = "no" }]
"""
    path = tmp_path / "task.toml"
    path.write_text(CONFIG.replace("[prelabel]", extra + "\n[prelabel]"))
    attrs = {"occluded": "yes", "truncated": "maybe", "iscrowd": 1}
    car = Instance("car", Box(1, 1, 10, 10), ref(7), attributes=attrs)
    report = convert(dataset([car]), load_config(path), tmp_path / "out")
    last = read_tasks(tmp_path / "out")[0]["body"]["hypothesis"]["annotations"][-1]  # type: ignore[index]
    assert last["attributes"] == {"occluded": "yes"}
    assert (
        "attributes not defined in params.annotation_attributes were not sent: iscrowd"
        in report.notes
    )
    assert any(n.startswith("attribute 'truncated': values like 'maybe'") for n in report.notes)


def video_dataset() -> Dataset:
    from prelabel.model import Frame

    frames = [
        Frame(
            index=i,
            number=i + 1,
            instances=[Instance("car", Box(10 + i, 10, 20, 10), ref(i), track_id="7")],
        )
        for i in range(3)
    ]
    item = Item(key="seq", fields={"sequence": "seq"}, width=100, height=80, frames=frames)
    return Dataset(format="test", items=[item])


def test_video_items_become_one_image_task_per_frame(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path), {"attachment_url": "https://cdn/{sequence}/{frame:06d}.jpg"}
    )
    report = convert(video_dataset(), config, tmp_path / "out")
    bodies = [t["body"] for t in read_tasks(tmp_path / "out")]
    assert [b["attachment"] for b in bodies] == [f"https://cdn/seq/00000{n}.jpg" for n in (1, 2, 3)]  # type: ignore[index]
    assert [b["unique_id"] for b in bodies] == [f"demo/imageannotation/seq/{n}" for n in (1, 2, 3)]  # type: ignore[index]
    assert report.totals()["objects_in"] == report.totals()["objects_out"] == 3


def test_a_writer_that_loses_objects_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prelabel.config.task_types import TaskType

    def forgetful(item: Item, ctx: object) -> dict[str, object]:
        return {"unique_id": "x"}

    monkeypatch.setattr(TaskType, "load_writer", lambda self: forgetful)
    with pytest.raises(PayloadError, match="accounted for 0 of the 4 objects of item '1'"):
        convert(dataset(), load_config(write_config(tmp_path)), tmp_path / "out")
