"""Tracking input the way users write it, and the way it breaks (issues 12 and 17): reader
repairs are fixed records, bad rows say what --bad-rows does, the notes count what was read,
an empty file is refused, the frame rate comes from the task when the input lacks one, frame
numbers and track ids are bounded and exact, and every such case is one line with exit 3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO

from prelabel.config.load import load_config
from prelabel.converters.tracking.kitti import KittiOptions, read_kitti
from prelabel.converters.tracking.mot import MotOptions, read_mot
from prelabel.errors import InvalidAnnotationError
from prelabel.output.report import expand_record
from prelabel.pipeline import convert

CAMPUS = "motmetrics/data/TUD-Campus"
KITTI = FIXTURES / "kitti/label_02/0000.txt"
VIDEO = FIXTURES / "configs/tracking_video.toml"
PLAYBACK = FIXTURES / "configs/tracking_playback.toml"


def run_cli(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 3) -> str:
    """The single stderr line of a refused run (no traceback)."""
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def mutated(src: Path, dest: Path, changes: dict[int, str]) -> Path:
    """``src`` with lines replaced (1-based line number -> new text)."""
    lines = src.read_text().splitlines()
    for number, text in changes.items():
        lines[number - 1] = text
    dest.write_text("\n".join(lines) + "\n")
    return dest


def report_of(out: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """report.json and its records by location, one per object."""
    report = json.loads((out / "report.json").read_text())
    records = {r["source"]["location"]: r for rec in report["objects"] for r in expand_record(rec)}
    return report, records


# --- issue 12: reader repairs are fixed objects ----------------------------------------------


def kitti_swapped(tmp_path: Path) -> Path:
    """KITTI labels whose line 3 (Car, frame 1) has x1 and x2 reversed."""
    lines = KITTI.read_text().splitlines()
    parts = lines[2].split()
    assert parts[2] == "Car"
    parts[6], parts[8] = parts[8], parts[6]
    return mutated(KITTI, tmp_path / "0000.txt", {3: " ".join(parts)})


IMAGE = """task_type = "imageannotation"
[params]
project = "kitti"
[params.geometries.box]
objects_to_annotate = ["Car", "Pedestrian", "Cyclist"]
[prelabel]
attachment_url = "https://cdn.example.com/{sequence}/{frame:06d}.png"
"""


@pytest.mark.parametrize("config", ["videoannotation", "videoplaybackannotation", "image"])
def test_a_kitti_repair_is_a_fixed_record(tmp_path: Path, config: str) -> None:
    """--bad-rows fix swaps reversed corners: that object is fixed, with the swap as its fix,
    on every task type (video tasks through the track engine, image tasks per frame)."""
    path = kitti_swapped(tmp_path)
    options = KittiOptions(fps=10, image_size=(1242, 375), bad_rows="fix")
    if config == "image":
        (tmp_path / "image.toml").write_text(IMAGE)
        cfg = load_config(tmp_path / "image.toml", {})
    else:
        cfg = load_config(VIDEO if config == "videoannotation" else PLAYBACK, {})
    convert(read_kitti([str(path)], options), cfg, tmp_path / "out")
    report, records = report_of(tmp_path / "out")
    line = records["line 3"]
    assert line["outcome"] == "fixed" and line["fixes"][0] == "swapped: x1/x2 reversed"
    assert report["fixes_by_kind"].get("swapped") == 1
    assert report["totals"]["objects_fixed"] == sum(
        r["outcome"] == "fixed" for r in records.values()
    )
    assert records["line 2"]["outcome"] != "fixed"  # its neighbours are untouched


def test_a_mot_repair_is_a_fixed_record(shared: Path, tmp_path: Path) -> None:
    """A real MOT ground truth with one negative width, --bad-rows fix: flipped, recorded as
    fixed (also when the rows go out in bulk, as a videoplayback hypothesis)."""
    path = mutated(
        shared / CAMPUS / "gt.txt", tmp_path / "gt.txt", {5: "1,5,500,190,-40,150,1,-1,-1,-1"}
    )
    ds = read_mot([str(path)], MotOptions(fps=25, image_size=(640, 480), bad_rows="fix"))
    convert(ds, load_config(PLAYBACK, {}), tmp_path / "out")
    report, records = report_of(tmp_path / "out")
    assert records["line 5"]["outcome"] == "fixed"
    assert records["line 5"]["fixes"] == ["flipped: negative width"]
    assert report["fixes_by_kind"]["flipped"] == 1
    assert report["totals"]["objects_in"] == 359 == len(records)
    assert any("1 rows repaired (--bad-rows fix" in n for n in report["notes"])


def test_bad_rows_error_names_the_option(shared: Path, tmp_path: Path) -> None:
    path = mutated(
        shared / CAMPUS / "gt.txt", tmp_path / "gt.txt", {5: "1,5,500,190,-40,150,1,-1,-1,-1"}
    )
    line = one_line_error(run_cli("convert", "mot", path, "-c", VIDEO, "-o", tmp_path / "o"))
    assert line.endswith(
        "gt.txt, line 5: negative box size -40 x 150; --bad-rows fix repairs such rows, "
        "--bad-rows drop leaves them out (reported)"
    )


# --- issue 12: notes count what was read, then what was dropped -----------------------------


def test_notes_count_rows_read_then_dropped(shared: Path, tmp_path: Path) -> None:
    broken = {10: "2,x,1,1,1,1,1,-1,-1,-1", 20: "3,1,2,3", 30: "4,2,nan,1,1,1,1,-1,-1,-1"}
    path = mutated(shared / CAMPUS / "gt.txt", tmp_path / "gt.txt", broken)
    ds = read_mot([str(path)], MotOptions(bad_rows="drop", fps=25))
    (item,) = list(ds.items)
    assert item.notes[0].startswith("gt.txt: 359 rows of 10 columns read")
    assert "gt.txt: 3 of 359 rows dropped (each in report.json)" in item.notes
    ds = read_kitti([str(KITTI)], KittiOptions(fps=10))  # one DontCare row
    (item,) = list(ds.items)
    assert item.notes[0].startswith("0000.txt: 14 rows of 17 columns read")
    assert "0000.txt: 1 of 14 rows dropped (each in report.json)" in item.notes


# --- issue 12 / 17: an empty file is refused, as validate would -------------------------------


@pytest.mark.parametrize("kind", ["mot", "kitti"])
def test_an_empty_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "0007.txt"
    path.write_text("")
    line = one_line_error(run_cli("convert", kind, path, "-c", VIDEO, "-o", tmp_path / "o"))
    assert line.startswith(f"Error: {path}: no rows, and no sequence length")
    assert not (tmp_path / "o" / "tasks.jsonl").exists()


def test_a_file_of_only_bad_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "0001.txt"
    path.write_text(" ".join(["3", "-1", "DontCare", *["-1"] * 14]) + "\n")
    with pytest.raises(InvalidAnnotationError) as err:
        list(read_kitti([str(path)]).items)
    assert err.value.reason.startswith("none of its 1 rows is usable; line 1: DontCare")


def test_an_empty_file_with_a_length_is_an_empty_task(shared: Path, tmp_path: Path) -> None:
    """A tracker that found nothing in a sequence of known length: a task without prelabels,
    which validate accepts."""
    seq = tmp_path / "Test"
    (seq / "gt").mkdir(parents=True)
    seqinfo = shared / "datumaro/mot_dataset/mot_seq_with_seqinfo/seqinfo.ini"
    (seq / "seqinfo.ini").write_bytes(seqinfo.read_bytes())
    (seq / "gt" / "gt.txt").write_text("")
    out = tmp_path / "o"
    proc = run_cli("convert", "mot", seq / "gt/gt.txt", "-c", VIDEO, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    report, _ = report_of(out)
    assert report["tasks"][0]["empty"] is True
    assert run_cli("validate", out, "-c", VIDEO).returncode == 0


# --- issue 12: the frame rate from the task when the input has none -------------------------


def test_params_frame_rate_when_no_fps(shared: Path, tmp_path: Path) -> None:
    """No --fps, no seqinfo: params.frame_rate (5) is the source's rate, noted."""
    ds = read_mot([str(shared / CAMPUS / "test.txt")], MotOptions(image_size=(640, 480)))
    report = convert(ds, load_config(PLAYBACK, {}), tmp_path / "out")
    hyp = next((tmp_path / "out/artifacts/hypothesis").iterdir())
    frames = [f for obj in json.loads(hyp.read_text()).values() for f in obj["frames"]]
    assert len(frames) == 222
    assert all(f["timestamp"] == pytest.approx(f["key"] / 5) for f in frames)
    assert any("taken as params.frame_rate, 5 fps" in n for n in report.notes)


def test_kitti_help_names_no_seqinfo() -> None:
    proc = run_cli("convert", "kitti", "--help")
    assert proc.returncode == 0 and "--fps" in proc.stdout
    assert "seqinfo" not in proc.stdout
    assert "seqinfo" in run_cli("convert", "mot", "--help").stdout


# --- issue 17: frame numbers bounded, printed as written ------------------------------------


@pytest.mark.parametrize("frame", ["10000000", "1000000000000", "1e20"])
def test_a_far_mot_frame_is_refused(tmp_path: Path, frame: str) -> None:
    path = tmp_path / "res.txt"
    path.write_text(f"1,1,10,10,20,20,0.9\n{frame},1,10,10,20,20,0.9\n")
    with pytest.raises(InvalidAnnotationError) as err:
        list(read_mot([str(path)]).items)
    assert str(err.value).startswith(f"{path}, line 2: frame {frame} is beyond frame 1000000")
    if frame == "1e20":  # printed as written (it was -9223372036854775808), exit 3, one line
        cmd = ("convert", "mot", path, "-c", PLAYBACK, "-o", tmp_path / "o", "--fps", "25")
        line = one_line_error(run_cli(*cmd))
        assert line == f"Error: {err.value}"


def test_a_far_kitti_frame_is_refused(tmp_path: Path) -> None:
    row = KITTI.read_text().splitlines()[0].split()
    path = tmp_path / "0000.txt"
    path.write_text(" ".join(["10000000", *row[1:]]) + "\n")
    line = one_line_error(run_cli("convert", "kitti", path, "-c", VIDEO, "-o", tmp_path / "o"))
    assert line.startswith(f"Error: {path}, line 1: frame 10000000 is beyond frame 999999")


def test_a_huge_seq_length_is_refused(tmp_path: Path) -> None:
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=S\nseqLength=1000000000000\n")
    path = tmp_path / "gt.txt"
    path.write_text("1,1,0,0,5,5,1,1,1\n")
    line = one_line_error(run_cli("convert", "mot", path, "-c", VIDEO, "-o", tmp_path / "o"))
    assert line.startswith(f"Error: {tmp_path / 'seqinfo.ini'}, seqLength: 1000000000000 frames")
    proc = run_cli(
        "convert", "kitti", KITTI, "-c", VIDEO, "-o", tmp_path / "k", "--seq-length", "10000000"
    )
    assert proc.returncode == 2 and "--seq-length" in proc.stderr  # click's range check


# --- issue 17: track ids exact, or refused ------------------------------------------------------


def test_mot_ids_beyond_2_53_stay_apart(shared: Path, tmp_path: Path) -> None:
    """Two tracks whose ids differ by one above 2**53 (a float cannot tell them apart)."""
    big = 2**53
    rows = [f"{f},{big + t},{10 + 5 * t},10,20,20,0.9" for f in (1, 2, 3) for t in (0, 1)]
    path = tmp_path / "res.txt"
    path.write_text("\n".join(rows) + "\n")
    ds = read_mot([str(path)], MotOptions(fps=25, image_size=(640, 480)))
    report = convert(ds, load_config(PLAYBACK, {}), tmp_path / "out")
    (tracks,) = report.track_maps.values()
    assert sorted(t["track_id"] for t in tracks) == [str(big), str(big + 1)]
    assert len({t["uuid"] for t in tracks}) == 2


def test_kitti_ids_beyond_2_53_stay_apart(tmp_path: Path) -> None:
    big = 2**53
    row = KITTI.read_text().splitlines()[0].split()
    lines = [" ".join([str(f), str(big + t), *row[2:]]) for f in (0, 1) for t in (0, 1)]
    path = tmp_path / "0000.txt"
    path.write_text("\n".join(lines) + "\n")
    (item,) = list(read_kitti([str(path)]).items)
    assert item.tracks is not None
    assert sorted(set(item.tracks.track.tolist())) == [big, big + 1]


@pytest.mark.parametrize(
    ("kind", "row", "says"),
    [
        ("kitti", "0 1e20 Car 0 0 -1.57 100 180 220 260 1.5 1.6 3.9 2.1 1.6 14.5 -1.5",
         "track id 1e20 does not fit a 64-bit integer"),
        ("kitti", "0 99999999999999999999 Car 0 0 -1.57 100 180 220 260 1.5 1.6 3.9 2.1 1.6 14.5 -1.5",
         "track id 99999999999999999999 does not fit a 64-bit integer"),
        ("kitti", "1e20 1 Car 0 0 -1.57 100 180 220 260 1.5 1.6 3.9 2.1 1.6 14.5 -1.5",
         "frame 1e20 is beyond frame 999999"),
        ("mot", "1,1e20,10,10,20,20,0.9", "track id 1e20 does not fit a 64-bit integer"),
        ("mot", "1,-1e20,10,10,20,20,0.9", "track id -1e20 does not fit a 64-bit integer"),
        ("mot", "-1e20,1,10,10,20,20,0.9", "frame -1e20 is before the first frame, 1"),
    ],
)  # fmt: skip
def test_numbers_no_integer_holds_are_bad_rows(
    tmp_path: Path, kind: str, row: str, says: str
) -> None:
    path = tmp_path / ("0000.txt" if kind == "kitti" else "res.txt")
    path.write_text(row + "\n")
    read = read_kitti if kind == "kitti" else read_mot
    with pytest.raises(InvalidAnnotationError) as err:
        list(read([str(path)]).items)
    assert str(err.value).startswith(f"{path}, line 1: {says}"), err.value


def test_a_kitti_track_id_of_1e20_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "0000.txt"
    path.write_text("0 1e20 Car 0 0 -1.57 100 180 220 260 1.5 1.6 3.9 2.1 1.6 14.5 -1.5\n")
    line = one_line_error(run_cli("convert", "kitti", path, "-c", VIDEO, "-o", tmp_path / "o"))
    assert line.startswith(f"Error: {path}, line 1: track id 1e20 does not fit a 64-bit integer")
