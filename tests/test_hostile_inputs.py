"""Tiny inputs that asked for gigabytes or minutes, and masks that were not what they said:
each is refused with exit 3 naming the file and the object, in bounded time and memory, or
drawn within bounds (issue 17). Every run is the real CLI in a subprocess under limits
(``tests/hostile.py``)."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import pytest
from hostile import Run, check_run, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from prelabel.config.rules import MAX_IMAGE_SIDE
from prelabel.geometry import rle
from prelabel.geometry.kernels.loader import compiled

CONFIG = """
task_type = "imageannotation"
[params]
project = "p"
instruction = "x"
[params.geometries.polygon]
objects_to_annotate = ["car", "1"]
[params.geometries.box]
objects_to_annotate = ["car", "1"]
[prelabel]
attachment_url = "https://cdn.example.com/{file_name}"
"""
SEGMENT = """
task_type = "segmentannotation"
[params]
project = "p"
instruction = "x"
allow_unlabeled = true
labels = ["car", "1"]
[prelabel]
attachment_url = "https://cdn.example.com/{file_name}"
"""
# bounds for these tiny inputs: a refusal costs what starting the CLI costs
FAST_SECONDS, SMALL_MB = 20.0, 400


def compressed(height: int, width: int, runs: list[int]) -> str:
    """pycocotools' compressed counts of ``runs`` (which need not cover the image)."""
    total = sum(runs)
    rle_obj = mask_utils.frPyObjects({"size": [1, total], "counts": runs}, 1, total)
    return str(rle_obj["counts"].decode())


def convert(tmp_path: Path, data: Any, *extra: str, config: str = CONFIG) -> tuple[Run, Path]:
    source = tmp_path / "in.json"
    source.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    (tmp_path / "task.toml").write_text(config)
    out = tmp_path / "out"
    run = run_cli(
        "convert", "coco", str(source), "-c", str(tmp_path / "task.toml"), "-o", str(out), "-q",
        *extra,
    )  # fmt: skip
    check_run(run, out, codes={0, 2, 3, 4, 6})
    return run, out


def refused(run: Run, path: Path, location: str, reason: str) -> None:
    assert run.code == 3, run.stderr
    assert run.stderr.startswith(f"Error: {path}, {location}"), run.stderr
    assert reason in run.stderr, run.stderr
    assert run.seconds < FAST_SECONDS and run.peak_rss_mb < SMALL_MB, run


def results(segmentation: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"image_id": 1, "category_id": 1, "segmentation": segmentation, "score": 0.9, **extra}]


def test_a_274_byte_rle_declaring_50000_squared_is_refused_at_once(tmp_path: Path) -> None:
    """It took 102 s and 4.9 GB and exited 0; the image side is Scale's limit."""
    side = 50000
    seg = {"size": [side, side], "counts": compressed(side, side, [side * side - 100, 100])}
    run, _ = convert(tmp_path, results(seg), "--image-size", "640x480")
    refused(run, tmp_path / "in.json", "results[0]",
            f"RLE size: image is {side}x{side}, but a task image is at most {MAX_IMAGE_SIDE} px")  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--image-size", f"{MAX_IMAGE_SIDE + 1}x10"), ("--image-size", "50000x50000")],
)
def test_an_image_size_option_past_the_limit_is_a_usage_error(
    tmp_path: Path, flag: str, value: str
) -> None:
    run, _ = convert(tmp_path, results([[1, 1, 5, 1, 5, 5]]), flag, value)
    assert run.code == 2 and "but a task image is at most 10000 px a side" in run.stderr


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ({"width": 50000, "height": 50000}, "image is 50000x50000, but a task image is at most"),
        ({"width": "640", "height": 480}, "bad image size '640' x 480"),
        ({"width": -5, "height": 480}, "bad image size -5 x 480"),
    ],
)
def test_a_dataset_image_size_past_the_limit_or_not_a_size_is_refused(
    tmp_path: Path, image: dict[str, Any], reason: str
) -> None:
    data = {"images": [{"id": 1, "file_name": "a.jpg", **image}], "categories": [],
            "annotations": []}  # fmt: skip
    run, _ = convert(tmp_path, data)
    refused(run, tmp_path / "in.json", "images[0]", reason)


def test_a_video_size_past_the_limit_is_refused(tmp_path: Path) -> None:
    data = {"videos": [{"id": 1, "width": 40000, "height": 40000}], "images": [],
            "annotations": [], "categories": []}  # fmt: skip
    run, _ = convert(tmp_path, data)
    refused(run, tmp_path / "in.json", "videos[0]", "image is 40000x40000")


@pytest.mark.parametrize("opening", [b"[", b'[{"a":'])
def test_deep_nesting_in_a_streamed_results_list_is_refused_small(
    tmp_path: Path, opening: bytes
) -> None:
    """80 KB of ``[[[[`` took 4 GB (15 GB here) through the streaming parser."""
    data = opening + b"[" * 80000
    run, _ = convert(tmp_path, data, "--image-size", "10x10")
    refused(
        run, tmp_path / "in.json", "results[0], byte 102", "JSON nested deeper than 1024 levels"
    )


def test_deep_nesting_in_a_file_read_whole_is_refused_not_a_crash(tmp_path: Path) -> None:
    """2 MB nested a million levels, read whole: orjson before 3.9.15 had no depth limit
    and crashed the interpreter on it (SIGSEGV), so 3.9.15 is the floor."""
    data = b'{"images":' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    run, _ = convert(tmp_path, data)
    refused(run, tmp_path / "in.json", "line 1, column", "invalid JSON")


def test_nesting_up_to_the_limit_still_parses(tmp_path: Path) -> None:
    result = orjson.dumps(results([[1, 1, 5, 1, 5, 5]])[0])[:-1]
    deep = b'{"x":' * 1000 + b"1" + b"}" * 1000  # 1002 levels with the list and the result
    run, _ = convert(
        tmp_path, b"[" + result + b',"attributes":' + deep + b"}]", "--image-size", "10x10"
    )
    assert run.code == 0, run.stderr


H, W = 20, 30


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        (compressed(H, W, [100, 50, H * W]), f"RLE counts cover {H * W + 150} pixels, expected"),
        (compressed(H, W, [100, 50]), "RLE counts cover 150 pixels, expected height*width"),
        ("ÿÿÿÿ", "RLE counts must be a list of run lengths or a compressed COCO RLE string"),
        ("0" + "o" * 9, "a negative or overlong run"),
        ("01P", "a negative or overlong run"),
    ],
    ids=["too long", "too short", "not ascii", "overlong value", "cut inside a value"],
)
@pytest.mark.parametrize("config", [CONFIG, SEGMENT], ids=["polygon", "segment"])
def test_a_compressed_rle_that_is_not_its_image_is_refused(
    tmp_path: Path, counts: str, reason: str, config: str
) -> None:
    """Runs that do not sum to height x width were traced ("converted, iou 1.0"); they are
    refused naming the object, on the polygon and the segmentation path."""
    seg = {"size": [H, W], "counts": counts}
    run, _ = convert(tmp_path, results(seg), "--image-size", f"{W}x{H}", config=config)
    refused(run, tmp_path / "in.json", "results[0]", reason)


def test_a_good_compressed_rle_still_converts(tmp_path: Path) -> None:
    seg = {"size": [H, W], "counts": compressed(H, W, [100, 50, H * W - 150])}
    run, out = convert(tmp_path, results(seg), "--image-size", f"{W}x{H}")
    assert run.code == 0, run.stderr
    (record,) = orjson.loads((out / "report.json").read_bytes())["objects"]
    assert record["outcome"] in ("converted", "fixed") and record["iou"] > 0.9


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=40).map(lambda b: bytes(48 + (x % 64) for x in b)))
def test_rle_extent_kernel_and_numpy_agree(counts: bytes) -> None:
    """The compiled check and its numpy fallback give the same verdict on any counts."""
    assert compiled(wait=True) is not None
    fast = rle.rle_extent(counts)
    with patch.object(rle, "compiled", lambda: None):
        slow = rle.rle_extent(counts)
    assert fast == slow, counts
    if counts[-1:] < b"P" and not re.search(rb"[P-o]{7}", counts):  # whole, no 8-group value
        runs = rle.rle_counts(counts)
        assert fast == (int(runs.sum()), int(runs.min(initial=0)))


@pytest.mark.parametrize(
    "bbox", [[0, 0, 1e20, 1e20], [1e20, 0, 5, 5], [0, -1e7, 5, 5]], ids=["size", "x", "y"]
)
def test_a_far_coordinate_on_an_image_without_a_size_is_refused(
    tmp_path: Path, bbox: list[float]
) -> None:
    """A bbox of 1e20 on an image with no size was exit 1 (an integer past 64 bits)."""
    data = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox}]}  # fmt: skip
    run, _ = convert(tmp_path, data)
    refused(run, tmp_path / "in.json", "annotations[0]", "is beyond 1,000,000 px")


def png_header_only(path: Path, width: int, height: int, mode: int = 0) -> None:
    """A PNG whose header declares ``width`` x ``height`` 8-bit pixels; one row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    row = zlib.compress(b"\0" * (width + 1))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", row)
                     + chunk(b"IEND", b""))  # fmt: skip


def test_preview_of_a_40000_squared_task_stays_small(tmp_path: Path) -> None:
    """`preview` of a task whose report says 40000x40000 took 4.6 GB: the canvas is made at
    display size, and images larger than a task image are not decoded."""
    data = {"images": [{"id": i, "file_name": f"{i}.png", "width": 10, "height": 10}
                       for i in (1, 2)],
            "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]}  # fmt: skip
    run, out = convert(tmp_path, data)
    assert run.code == 0, run.stderr
    report = orjson.loads((out / "report.json").read_bytes())
    for task in report["tasks"]:
        task["width"] = task["height"] = 40000
    (out / "report.json").write_bytes(orjson.dumps(report))
    images = tmp_path / "images"
    images.mkdir()
    png_header_only(images / "2.png", 40000, 40000)  # a photo too large to be a task image
    for args in (["preview", str(out), "-i", str(images)], ["report", str(out), "-i", str(images)]):
        run = run_cli(*args, "-q")
        check_run(run)
        assert run.code == 0, run.stderr
        assert run.peak_rss_mb < SMALL_MB and run.seconds < FAST_SECONDS, run


def test_preview_of_a_segment_task_with_a_huge_index_png_stays_small(tmp_path: Path) -> None:
    data = {"images": [{"id": 1, "file_name": "1.png", "width": 10, "height": 10}],
            "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]}  # fmt: skip
    run, out = convert(tmp_path, data, config=SEGMENT)
    assert run.code == 0, run.stderr
    png_header_only(out / "artifacts" / "1.png", 40000, 40000)
    run = run_cli("preview", str(out), "-q")
    check_run(run)
    assert run.code == 0 and run.peak_rss_mb < SMALL_MB, run
