"""KITTI tracking reader on hand-written files (fixtures/kitti, made from the format's
description): 17-column labels, 18-column results, malformed rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, on_frames

from prelabel.converters.tracking.kitti import KittiOptions, read_kitti
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Box, Item

KITTI = FIXTURES / "kitti"


def one(path: Path, **kwargs: object) -> tuple[Item, list[str]]:
    ds = read_kitti([str(path)], KittiOptions(**kwargs))  # type: ignore[arg-type]
    (item,) = [on_frames(i) for i in ds.items]
    return item, [f"{d.source.location}: {d.reason}" for d in ds.dropped]


def test_labels_17_columns() -> None:
    item, dropped = one(KITTI / "label_02/0000.txt", fps=10, image_size=(1242, 375))
    frames = item.frames or []
    assert [f.number for f in frames] == [0, 1, 2, 3, 4, 5]  # 0-based
    assert frames[3].timestamp == pytest.approx(0.3)
    rows = list(item.iter_instances())
    assert len(rows) == 13  # 6 car + 5 pedestrian + 2 cyclist
    car = rows[0]
    assert (car.label, car.track_id, car.score) == ("Car", "0", None)
    assert car.geometry == Box(100, 180, 120, 80)  # x1 y1 x2 y2 -> ltwh
    assert car.attributes == {"truncation": 0, "occlusion": 0}
    cyclist = next(r for r in rows if r.label == "Cyclist")
    assert cyclist.attributes == {"truncation": 1, "occlusion": 2}
    assert dropped == ["line 7: DontCare: an ignore region, not an object"]
    assert [i.track_id for i in frames[3].instances] == ["0"]  # pedestrian 1 missing: a gap
    assert "labels" in item.notes[0] and item.key == "0000"


def test_results_18_columns_have_scores() -> None:
    item, dropped = one(KITTI / "results/0000.txt")
    rows = list(item.iter_instances())
    assert len(rows) == 11 and not dropped
    assert rows[0].score == pytest.approx(0.92)
    assert "results (with score)" in item.notes[0]


MALFORMED = KITTI / "malformed/0001.txt"


def test_malformed_error_names_line() -> None:
    with pytest.raises(InvalidAnnotationError) as err:
        one(MALFORMED)
    assert err.value.location == "line 2"
    assert err.value.reason == (
        "x2 110 < x1 230; --bad-rows fix repairs such rows, --bad-rows drop leaves them out "
        "(reported)"
    )


def test_malformed_drop_lists_every_line() -> None:
    item, dropped = one(MALFORMED, bad_rows="drop")
    assert dropped == [
        "line 2: x2 110 < x1 230",
        "line 3: y1 is nan (not a finite number)",
        "line 4: x2 '24O.00' is not a number",
        "line 5: expected 17 columns (as line 1), got 9",
        "line 8: DontCare: an ignore region, not an object",
        "line 7: track id 1 appears twice in frame 2 (lines 6 and 7)",
    ]
    assert [i.source.location for i in item.iter_instances()] == ["line 1", "line 6"]


def test_malformed_fix_swaps_corners() -> None:
    item, dropped = one(MALFORMED, bad_rows="fix")
    fixed = [i for i in item.iter_instances() if i.source.location == "line 2"]
    assert fixed[0].geometry == Box(110, 180, 120, 80)
    assert fixed[0].repairs == ["swapped: x1/x2 reversed"]
    assert (
        "0001.txt: 1 rows repaired (--bad-rows fix; each recorded as fixed): swapped: x1/x2 reversed x1"
        in item.notes
    )
    assert len(dropped) == 5  # NaN, non-number, short row, DontCare, duplicate


def test_frames_beyond_seq_length() -> None:
    with pytest.raises(InvalidAnnotationError, match=r"frame 4 is outside 0\.\.3"):
        one(KITTI / "label_02/0000.txt", seq_length=4)


def test_cli_kitti_bad_row_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "prelabel.cli",
            "convert",
            "kitti",
            str(MALFORMED),
            "-c",
            str(FIXTURES / "configs/tracking_video.toml"),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().endswith(
        "0001.txt, line 2: x2 110 < x1 230; --bad-rows fix repairs such rows, --bad-rows drop "
        "leaves them out (reported)"
    )
