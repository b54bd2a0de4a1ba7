"""Pass 1 of a COCO results list in worker processes (``--workers N``): the reading process
cuts the file into byte ranges, workers parse and group them. Whatever the file holds, the
groups (every result, its index, in file order), the categories learnt and the first error
are the ones one process finds.

Each case reads a real results file, rewritten so that its pieces are small (CHUNK_BYTES
shrunk here, where the pieces are cut) and, where it says, with text that looks like a cut
inside strings and nested lists, bad results and broken JSON."""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel.converters.coco import grouping, stream
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.coco.read import read_coco
from prelabel.errors import InputError

REAL = "cocoapi/results/instances_val2014_fakesegm100_results.json"
GT = "faster_coco_eval/cocoapi/instances_val2014_100.json"


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grouping, "WORKER_BYTES", 0)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 8192)


def read(path: Path, workers: int, **options: Any) -> dict[str, Any]:
    """What pass 1 made: every image's results (with their indexes), the labels, notes."""
    dataset = read_coco([str(path)], CocoOptions(**options), workers=workers)
    assert dataset.recipes is not None
    recipes = list(dataset.recipes)
    groups = {r.key: grouping.spilled_results(r.blobs) for r in recipes}
    return {
        "groups": groups,
        "weights": [r.weight for r in recipes],
        "labels": dataset.labels,
        "kinds": dataset.kinds,
        "notes": dataset.notes,
        "cats": recipes[0].cats if recipes else None,
    }


def error(path: Path, workers: int, **options: Any) -> str:
    with pytest.raises(InputError) as caught:
        read(path, workers, **options)
    return f"{caught.value} @ {caught.value.location}"


def results(shared: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads((shared / REAL).read_text())
    return out


@pytest.mark.usefixtures("small_pieces")
def test_a_real_file_groups_as_one_process_groups_it(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    # indented: blanks around every cut; the results of an image far apart
    records = results(shared)
    path.write_text(json.dumps(records[::2] + records[1::2], indent=1))
    one, two = read(path, 1, images=str(shared / GT)), read(path, 2, images=str(shared / GT))
    assert two == one
    assert sum(len(g) for g in one["groups"].values()) == len(records)
    assert len(one["groups"]) > 10


@pytest.mark.usefixtures("small_pieces")
def test_cuts_inside_strings_and_nested_objects_are_read_again(
    shared: Path, tmp_path: Path
) -> None:
    records = results(shared)
    for n, rec in enumerate(records):
        if n % 3 == 0:  # a string holding what looks like a cut between results
            rec["note"] = '"}, {"image_id": 1}'
        if n % 3 == 1:  # a list of objects: a real "}, {" that is not between results
            rec["parts"] = [{"a": n}, {"b": [{"c": 1}, {"d": 2}]}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    one = read(path, 1, image_size=(640, 480))
    assert read(path, 2, image_size=(640, 480)) == one
    assert sum(len(g) for g in one["groups"].values()) == len(records)


@pytest.mark.usefixtures("small_pieces")
def test_categories_learnt_in_file_order(shared: Path, tmp_path: Path) -> None:
    """Without a category list, categories are named by id in order of first appearance,
    whichever worker saw them first."""
    records = results(shared)
    for n, rec in enumerate(records):
        rec["category_id"] = 1000 - n // 7
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    one = read(path, 1, image_size=(640, 480))
    assert read(path, 2, image_size=(640, 480)) == one
    assert list(one["cats"])[:3] == ["1000", "999", "998"]


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize(
    "breakage",
    ["unknown image", "not an object", "bad category id", "broken JSON", "no closing bracket",
     "trailing text", "too deep"],
)  # fmt: skip
def test_errors_are_the_ones_one_process_raises(
    shared: Path, tmp_path: Path, breakage: str
) -> None:
    records: list[Any] = results(shared)
    at = len(records) * 2 // 3  # past the first pieces
    if breakage == "unknown image":
        records[at]["image_id"] = 999_999_999
    elif breakage == "not an object":
        records[at] = [1, 2]
    elif breakage == "bad category id":
        records[at]["category_id"] = 1.5
    elif breakage == "too deep":
        records[at]["deep"] = 0
    text = json.dumps(records)
    if breakage == "broken JSON":
        cut = text.index('{"image_id"', len(text) * 2 // 3)
        text = text[:cut] + '{"image_id": ,' + text[cut + 1 :]
    elif breakage == "no closing bracket":
        text = text[:-1]
    elif breakage == "trailing text":
        text += " trailing"
    elif breakage == "too deep":
        text = text.replace('"deep": 0', '"deep": ' + "[" * 1100 + "]" * 1100)
    path = tmp_path / "r.json"
    path.write_text(text)
    options: dict[str, Any] = {"images": str(shared / GT)}
    one = error(path, 1, **options)
    assert error(path, 2, **options) == one
    if breakage not in ("broken JSON", "no closing bracket", "trailing text", "too deep"):
        assert f"results[{at}]" in one


@pytest.mark.usefixtures("small_pieces")
def test_after_many_rereads_the_rest_is_read_here(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = results(shared)
    for rec in records:  # every cut past a piece's size falls inside a result
        rec["parts"] = [{"a": 1}, {"b": 2}] * 20
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    monkeypatch.setattr(grouping, "MAX_REREADS", 2)
    one = read(path, 1, image_size=(640, 480))
    assert read(path, 2, image_size=(640, 480)) == one


@pytest.mark.usefixtures("small_pieces")
def test_pieces_cover_the_file_and_end_with_a_cut(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results(shared), indent=2))
    data = path.read_bytes()
    start = stream.list_start(str(path))
    got = list(stream.pieces(str(path), start))
    assert got[0][0] == start == data.index(b"[") + 1
    assert [o + n for o, n, _ in got[:-1]] == [o for o, _, _ in got[1:]]  # no gap, no overlap
    assert got[-1][0] + got[-1][1] == len(data) and got[-1][2]
    assert len(got) > 3 and not any(last for _, _, last in got[:-1])
    for offset, length, _ in got[:-1]:
        assert data[offset + length - 1 : offset + length] == b","
        assert data[offset : offset + length - 1].rstrip().endswith(b"}")
    parsed = [stream.parse_piece(data[o : o + n], last) for o, n, last in got]
    assert [r for part in parsed if part is not None for r in part] == results(shared)


# results whose strings and extra fields look like cuts between results
TRICKY = st.sampled_from(["},{", "}, {", "}\n,\n{", "]", "[", "\\", '"', "{", "}", "", "é"])
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=4)), max_size=4).map("".join)
EXTRA = st.recursive(
    st.one_of(st.integers(-1000, 1000), TEXT, st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=2)),
    max_leaves=6,
)
RESULT = st.fixed_dictionaries(
    {"image_id": st.integers(1, 4), "category_id": st.integers(1, 3),
     "bbox": st.just([1.0, 2.0, 3.0, 4.0]), "score": st.floats(0, 1)},
    optional={"note": TEXT, "extra": EXTRA},
)  # fmt: skip


def in_threads(
    max_workers: int, mp_context: Any, initializer: Any, initargs: Any
) -> ThreadPoolExecutor:
    """The worker pool as one thread of this process: the same jobs and the same cuts,
    re-reads and merging, without a process start per example (a worker's state is
    per process, so one thread stands for the processes)."""
    return ThreadPoolExecutor(1, initializer=initializer, initargs=initargs)


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(RESULT, max_size=30),
    bad=st.one_of(st.none(), st.integers(0, 29)),
    indent=st.sampled_from([None, 1]),
    size=st.sampled_from([16, 64, 300]),
)
def test_any_results_group_in_workers_as_in_one_process(
    records: list[dict[str, Any]], bad: int | None, indent: int | None, size: int,
    tmp_path_factory: Any,
) -> None:  # fmt: skip
    """Whatever the results hold (text that looks like a cut, nested lists of objects) and
    wherever a bad one sits, workers give one process's groups, or its error."""
    if bad is not None and bad < len(records):
        records[bad]["image_id"] = 1.5  # not an id
    path = tmp_path_factory.mktemp("g") / "r.json"
    path.write_text(json.dumps(records, indent=indent, ensure_ascii=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grouping, "WORKER_BYTES", 0)
        patch.setattr(grouping, "ProcessPoolExecutor", in_threads)
        patch.setattr(stream, "CHUNK_BYTES", size)
        outcomes = []
        for workers in (1, 2):
            try:
                outcomes.append(read(path, workers, image_size=(64, 64)))
            except InputError as exc:
                outcomes.append({"error": f"{exc} @ {exc.location}"})
    assert outcomes[1] == outcomes[0]
    if "groups" in outcomes[0]:
        got = sorted(i for group in outcomes[0]["groups"].values() for i, _ in group)
        assert got == list(range(len(records)))


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("text", [b"[", b"[ ", b'[{"image_id": 1, "category_id": 1}'])
def test_a_list_that_never_closes_is_the_error_one_process_raises(
    text: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(text)
    one = error(path, 1, image_size=(4, 4))
    assert error(path, 2, image_size=(4, 4)) == one and "invalid JSON" in one


def test_a_dataset_dropped_half_read_closes_from_any_thread(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-read dataset caught in a reference cycle is closed by whichever thread the
    cyclic collector runs in (a pool's thread, a web server's): its temporary files go
    without an error there."""
    raised: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: raised.append(u.exc_value))
    folder = Path(tempfile.gettempdir())
    before = set(folder.glob("prelabel-coco-*"))
    dataset = read_coco([str(shared / REAL)], CocoOptions(images=str(shared / GT)))
    assert dataset.recipes is not None
    first = next(iter(dataset.recipes))
    spills = set(folder.glob("prelabel-coco-*")) - before
    assert spills and first.blobs
    cycle: list[Any] = [dataset]
    cycle.append(cycle)
    del dataset, cycle
    collector = threading.Thread(target=gc.collect)
    collector.start()
    collector.join()
    assert raised == []
    assert not any(p.exists() for p in spills)
