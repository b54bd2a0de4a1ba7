"""MOT reader on the real MOTChallenge files in shared/data, plus the CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO, on_frames

from prelabel.converters.tracking.mot import MotOptions, read_mot
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Box, Dataset, Item

MOT = "motmetrics/data"
N_TRACKS_CAMPUS = 13  # distinct ids in TUD-Campus/test.txt


def items(ds: Dataset) -> list[Item]:
    """The items with their track tables expanded to per-frame instances."""
    return [on_frames(item) for item in ds.items]


def dump(item: Item) -> dict[str, Any]:
    """A stable JSON view of a video item (for goldens)."""
    frames = []
    for f in item.frames or []:
        rows = []
        for i in f.instances:
            assert isinstance(i.geometry, Box)
            g = i.geometry
            rows.append(
                [
                    i.source.location,
                    i.track_id,
                    i.label,
                    i.score,
                    [g.left, g.top, g.width, g.height],
                    i.attributes,
                ]
            )
        frames.append({"index": f.index, "number": f.number, "t": f.timestamp, "rows": rows})
    return {
        "key": item.key,
        "fields": item.fields,
        "size": [item.width, item.height],
        "fps": item.fps,
        "frames": frames,
    }


def check_golden(name: str, data: Any, update: bool) -> None:
    path = FIXTURES / "mot" / name
    path.parent.mkdir(exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if update or not path.exists():
        path.write_text(text)
    assert json.loads(path.read_text()) == json.loads(text)


def test_tracker_output(shared: Path) -> None:
    path = shared / MOT / "TUD-Campus/test.txt"
    assert b"\r\n" in path.read_bytes()  # CRLF as shipped
    (item,) = items(read_mot([str(path)], MotOptions(fps=25, image_size=(640, 480))))
    assert item.key == "TUD-Campus" and item.fields["sequence"] == "TUD-Campus"
    assert len(item.frames or []) == 71
    rows = list(item.iter_instances())
    assert len(rows) == 222
    assert all(r.score is None for r in rows)  # conf -1 everywhere
    assert {r.track_id for r in rows} <= {str(n) for n in range(1, 14)}
    lefts = [r.geometry.left for r in rows if isinstance(r.geometry, Box)]
    assert min(lefts) == pytest.approx(-22.364)  # boxes past the edge are kept as read
    assert any("conf is -1" in n for n in item.notes)
    assert dump(item)["frames"][0]["rows"][0] == [
        "line 1",
        "3",
        "person",
        None,
        [113.84, 274.5, 57.307, 130.05],
        {},
    ]


def test_gt_world_coordinates_are_not_read_as_scores(shared: Path) -> None:
    (item,) = items(read_mot([str(shared / MOT / "TUD-Stadtmitte/gt.txt")]))
    rows = list(item.iter_instances())
    assert len(rows) == 1156 and len(item.frames or []) == 179
    first = rows[0]
    assert first.score is None and first.attributes == {}
    assert first.geometry == Box(88, 99, 61.08, 218.56)
    assert first.source.location == "line 1" and first.track_id == "1"
    assert any("world" in n and "ground truth" in n for n in item.notes)
    assert item.fps is None and item.frames and item.frames[0].timestamp is None


def test_missing_final_newline(shared: Path) -> None:
    path = shared / MOT / "iotest/motchallenge.txt"
    assert not path.read_bytes().endswith(b"\n")
    (item,) = items(read_mot([str(path)]))
    assert sum(len(f.instances) for f in item.frames or []) == 5
    last = (item.frames or [])[-1].instances[-1]
    assert last.source.location == "line 5"


def test_public_detections_need_untracked(shared: Path) -> None:
    path = str(shared / "sort/train/TUD-Campus/det/det.txt")
    with pytest.raises(InvalidAnnotationError) as err:
        items(read_mot([path]))
    assert err.value.location == "line 1" and "--untracked" in err.value.reason
    (item,) = items(read_mot([path], MotOptions(untracked=True, label="person")))
    rows = list(item.iter_instances())
    assert len(rows) == 321 and all(r.track_id is None for r in rows)
    assert rows[0].score == pytest.approx(0.997784)


def test_mmtracking_seqinfo(shared: Path) -> None:
    seqinfo = shared / "mmtracking/demo_MOT15_data/train/TUD-Campus/seqinfo.ini"
    (item,) = items(
        read_mot(
            [str(shared / MOT / "TUD-Campus/gt.txt")], MotOptions(seqinfo=str(seqinfo), fps=25)
        )
    )
    assert item.fields["sequence"] == "TUD-Campus" and len(item.frames or []) == 71
    assert item.width is None  # that seqinfo has no imWidth
    assert (item.frames or [])[10].timestamp == pytest.approx(0.4)
    assert any("image size unknown" in n for n in item.notes)


def test_datumaro_nine_columns_with_labels_file(shared: Path) -> None:
    path = shared / "datumaro/mot_dataset/mot_seq_with_seqinfo/gt/gt.txt"
    with pytest.raises(InvalidAnnotationError):
        items(read_mot([str(path)]))  # id -1 in a GT file
    (item,) = items(read_mot([str(path)], MotOptions(untracked=True)))
    (inst,) = item.iter_instances()
    assert inst.label == "label_2"  # class 3, 1-based into gt/labels.txt
    assert inst.attributes == {"visibility": 1.0}
    assert (item.width, item.height, item.fps) == (16, 16, 10.0)
    assert item.fields["sequence"] == "Test"


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def test_duplicate_track_in_frame_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "seq.txt",
        "1,1,0,0,5,5,-1,-1,-1,-1\n1,2,0,0,5,5,-1,-1,-1,-1\n1,1,3,3,5,5,-1,-1,-1,-1\n",
    )
    with pytest.raises(InvalidAnnotationError) as err:
        items(read_mot([path]))
    assert err.value.location == "line 3" and "lines 1 and 3" in err.value.reason
    ds = read_mot([path], MotOptions(bad_rows="drop"))
    (item,) = items(ds)
    assert len(list(item.iter_instances())) == 2
    assert [d.source.location for d in ds.dropped] == ["line 3"]


def test_bad_rows_error_drop_fix(tmp_path: Path) -> None:
    text = (
        "1,1,0,0,5,5,-1,-1,-1,-1\n2,1,abc,0,5,5,-1,-1,-1,-1\n\n3,1,0,nan,5,5,-1,-1,-1,-1\n"
        "4,1,10,10,-4,5,-1,-1,-1,-1\n"
    )
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(InvalidAnnotationError) as err:
        items(read_mot([path]))
    assert str(err.value).endswith(
        "line 2: x 'abc' is not a number; --bad-rows drop leaves such rows out (reported)"
    )
    ds = read_mot([path], MotOptions(bad_rows="drop"))
    (item,) = items(ds)
    assert [d.source.location for d in ds.dropped] == ["line 2", "line 4", "line 5"]
    ds = read_mot([path], MotOptions(bad_rows="fix"))
    (item,) = items(ds)
    fixed = [i for i in item.iter_instances() if i.source.location == "line 5"]
    assert fixed[0].geometry == Box(6, 10, 4, 5)
    assert fixed[0].repairs == ["flipped: negative width"]


def test_frames_beyond_seq_length(tmp_path: Path) -> None:
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=S\nseqLength=3\nframeRate=10\n")
    path = write(tmp_path, "res.txt", "1,1,0,0,5,5,0.9\n5,1,0,0,5,5,0.8\n")
    with pytest.raises(InvalidAnnotationError) as err:
        items(read_mot([path]))
    assert err.value.location == "line 2" and "outside 1..3" in err.value.reason
    (item,) = items(read_mot([path], MotOptions(bad_rows="drop")))
    assert len(item.frames or []) == 3 and item.fields["sequence"] == "S"
    assert [len(f.instances) for f in item.frames or []] == [1, 0, 0]


def test_unknown_column_count(tmp_path: Path) -> None:
    path = write(tmp_path, "x.txt", "1,1,0,0\n")
    with pytest.raises(InvalidAnnotationError, match="4 columns"):
        items(read_mot([path]))


def test_own_fixture_golden(update_goldens: bool) -> None:
    """A golden model dump of a MOT file made for this project (fixtures/mot/seq01.txt)."""
    ds = read_mot([str(FIXTURES / "mot/seq01/gt/gt.txt")], MotOptions(bad_rows="drop"))
    (item,) = items(ds)
    dropped = [
        f"{d.source.location}: {d.reason}".replace(str(FIXTURES), "FIXTURES") for d in ds.dropped
    ]
    check_golden("seq01.model.json", {"item": dump(item), "dropped": dropped}, update_goldens)


def test_whitespace_delimited(tmp_path: Path) -> None:
    path = write(tmp_path, "ws.txt", "1 7 0 0 5 5 0.5\n2 7 1 1 5 5 0.6\n")
    (item,) = items(read_mot([path]))
    assert [i.track_id for i in item.iter_instances()] == ["7", "7"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_cli_mot_to_videoplayback(shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        "convert",
        "mot",
        str(shared / MOT / "TUD-Campus/test.txt"),
        "-c",
        str(FIXTURES / "configs/tracking_playback.toml"),
        "-o",
        str(out),
        "--fps",
        "25",
        "--image-size",
        "640x480",
        "--keyframe-iou",
        "0.9",
        "--json",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = (out / "tasks.jsonl").read_text().splitlines()
    body = json.loads(line)["body"]
    assert body["events_to_annotate"] == ["crossing"]
    ref = body["hypothesis"]["annotations"]["url"]
    hyp = json.loads((out / "artifacts" / ref.removeprefix("artifact://")).read_text())
    assert len(hyp) == N_TRACKS_CAMPUS
    assert all(obj["frames"][0]["key"] >= 0 and obj["label"] == "person" for obj in hyp.values())
    report = json.loads((out / "report.json").read_text())
    t = report["totals"]
    assert t["objects_in"] == 222 == t["objects_out"] + t["objects_dropped"]
    assert any("keyframes" in n for n in report["notes"])


def test_cli_bad_input_is_one_line(shared: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "convert",
        "mot",
        str(shared / "sort/train/TUD-Campus/det/det.txt"),
        "-c",
        str(FIXTURES / "configs/tracking_video.toml"),
        "-o",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 3
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "det.txt, line 1: track id -1 (untracked detection, 321 such rows): a video task needs "
            "track ids; pass --untracked to send each such row as its own one-frame object"
        )
    )


def test_image_size_from_frame_header(shared: Path) -> None:
    (item,) = items(
        read_mot(
            [str(shared / "datumaro/mot_dataset/mot_seq/gt/gt.txt")], MotOptions(untracked=True)
        )
    )
    assert (item.width, item.height) == (16, 16)
    assert any("from" in n and "000001.jpg" in n for n in item.notes)


def test_video_header_gives_fps_and_size(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 12.0, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), dtype=np.uint8))
    writer.release()
    path = write(tmp_path, "res.txt", "1,1,0,0,5,5,-1\n3,1,1,1,5,5,-1\n")
    (item,) = items(read_mot([path], MotOptions(video=str(video))))
    assert (item.fps, item.width, item.height, len(item.frames or [])) == (12.0, 64, 48, 5)
    assert (item.frames or [])[2].timestamp == pytest.approx(2 / 12)
