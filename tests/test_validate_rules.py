"""``validate`` checks everything the rule book says about a written directory, and convert
never writes an attachment the task type cannot take (issue 11, findings 2 and 3). Real
conversions of real files, edited the way a user's script might, run through the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
import pytest
from conftest import FIXTURES, SHARED, write_report
from test_cli import run

from prelabel.config.load import load_config
from prelabel.validate import validate_output

CAMPUS = SHARED / "motmetrics" / "data" / "TUD-Campus" / "gt.txt"
CONFIGS = FIXTURES / "configs"
Edit = Callable[[dict[str, Any], Path], None]


def lines(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (out / "tasks.jsonl").read_bytes().splitlines()]


def rewrite(out: Path, tasks: list[dict[str, Any]]) -> None:
    (out / "tasks.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tasks))


def edited(src: Path, dst: Path, edit: Edit) -> Path:
    shutil.copytree(src, dst)
    tasks = lines(dst)
    edit(tasks[0]["body"], dst)
    rewrite(dst, tasks)
    return dst


def validate_cli(out: Path, config: Path) -> tuple[int, list[str]]:
    proc = run("validate", str(out), "-c", str(config), "--json")
    assert "Traceback" not in proc.stderr
    return proc.returncode, orjson.loads(proc.stdout)["violations"]


@pytest.fixture(scope="module")
def video_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """TUD-Campus ground truth (71 frames) -> videoannotation, with a category attribute."""
    root = tmp_path_factory.mktemp("video")
    config = root / "video.toml"
    text = (CONFIGS / "tracking_video.toml").read_text()
    extra = '\n[params.annotation_attributes.visibility]\nchoices = ["full", "partial"]\n'
    config.write_text(text.replace("\n[prelabel]", extra + "\n[prelabel]"))
    out = root / "out"
    proc = run("convert", "mot", str(CAMPUS), "--image-size", "640x480", "--label", "person",
               "-c", str(config), "-o", str(out), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert validate_cli(out, config) == (0, [])
    return out, config


def _cut_frames(body: dict[str, Any], out: Path) -> None:
    body["base_annotations"]["annotations"] = body["base_annotations"]["annotations"][:10]


def _first_box(body: dict[str, Any]) -> dict[str, Any]:
    frame = next(f for f in body["base_annotations"]["annotations"] if f["annotations"])
    box: dict[str, Any] = frame["annotations"][0]
    return box


REQUEST_EDITS: list[tuple[str, Edit, str]] = [
    ("tags", lambda b, o: b.update(tags=[f"t{i}" for i in range(6)]),
     "tags: at most 5 tags (got 6) [tags]"),
    ("priority", lambda b, o: b.update(priority=15),
     "priority: must be one of 10, 20, 30 (got 15) [priority]"),
    ("metadata", lambda b, o: b.update(metadata={"notes": "x" * 11 * 1024}),
     "metadata: 11276 bytes serialized (+55 for prelabel's body digest), Scale allows 10240"
     " [metadata]"),
    ("undefined attribute", lambda b, o: _first_box(b).update(attributes={"colour": "red"}),
     ".attributes.colour: not defined in annotation_attributes [attribute-values]"),
    ("outside the choices", lambda b, o: _first_box(b).update(attributes={"visibility": "none"}),
     ".attributes.visibility: 'none' is not one of its choices (full, partial)"
     " [attribute-values]"),
    ("whole numbers", lambda b, o: _first_box(b).update(attributes={"occlusion": 0.5}),
     ".attributes.occlusion: 0.5 is not on the step grid (k * 1) [attribute-values]"),
    ("10 of 71 frames", _cut_frames,
     "base_annotations.annotations: 10 frame entries for 71 attachments [video-frames]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "edit", "needle"), REQUEST_EDITS, ids=[e[0] for e in REQUEST_EDITS]
)
def test_validate_catches_what_it_used_to_pass(
    video_out: tuple[Path, Path], tmp_path: Path, name: str, edit: Edit, needle: str
) -> None:
    """Finding 2: validate exited 0 on each of these edits."""
    out, config = video_out
    code, violations = validate_cli(edited(out, tmp_path / "out", edit), config)
    assert code == 4
    assert any(v.endswith(needle) for v in violations), violations


@pytest.fixture(scope="module")
def playback_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KITTI sequence -> videoplaybackannotation with a hosted hypothesis file."""
    out = tmp_path_factory.mktemp("playback") / "out"
    proc = run("convert", "kitti", str(FIXTURES / "kitti" / "label_02" / "0000.txt"),
               "--image-size", "1242x375", "--fps", "10", "-c",
               str(CONFIGS / "tracking_playback.toml"), "-o", str(out), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert validate_cli(out, CONFIGS / "tracking_playback.toml") == (0, [])
    return out


def _hosted(body: dict[str, Any], out: Path) -> tuple[Path, dict[str, Any]]:
    name = body["hypothesis"]["annotations"]["url"].removeprefix("artifact://")
    path = out / "artifacts" / name
    return path, orjson.loads(path.read_bytes())


def _duplicate_key_and_negative_time(body: dict[str, Any], out: Path) -> None:
    path, data = _hosted(body, out)
    frames = next(iter(data.values()))["frames"]
    frames[1]["key"] = frames[0]["key"]
    frames[2]["timestamp"] = -0.1
    path.write_bytes(orjson.dumps(data))


def test_validate_catches_a_duplicate_key_and_a_negative_timestamp(
    playback_out: Path, tmp_path: Path
) -> None:
    """Finding 2, videoplayback: the hosted file's keys and timestamps."""
    out = edited(playback_out, tmp_path / "out", _duplicate_key_and_negative_time)
    code, violations = validate_cli(out, CONFIGS / "tracking_playback.toml")
    assert code == 4
    assert any(v.endswith(".frames[1].key: key 0 repeats an earlier frame [playback-keys]")
               for v in violations), violations  # fmt: skip
    assert any(v.endswith(".frames[2].timestamp: must be seconds >= 0, got -0.1 [playback-keys]")
               for v in violations), violations  # fmt: skip


def test_fixed_params_attachment_is_kept_and_a_bad_one_fails_at_convert(tmp_path: Path) -> None:
    """Finding 3: ``convert mot gt.txt`` with the fixture as its header says wrote
    ``attachment: .../gt.txt`` over the config's mp4; validate and the sandbox passed it."""
    config = CONFIGS / "videoplaybackannotation.toml"
    args = ["convert", "mot", str(CAMPUS), "--fps", "25", "--image-size", "640x480",
            "--label", "car", "-c", str(config), "--quiet"]  # fmt: skip
    proc = run(*args, "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    (task,) = lines(tmp_path / "out")
    assert task["body"]["attachment"] == load_config(config).params["attachment"]
    assert task["body"]["attachment"].endswith("intersection-01.mp4")
    bad = run(
        *args, "-o", str(tmp_path / "bad"), "-a", "https://cdn.example.com/traffic/{file_name}"
    )
    assert bad.returncode == 3
    assert bad.stderr.strip() == (
        "Error: item TUD-Campus: attachment https://cdn.example.com/traffic/gt.txt: video "
        "attachments must be mp4, webm or ogg (got .txt)"
    )


def test_extended_index_never_replaces_the_indexed_image(tmp_path: Path) -> None:
    """An extendedIndexedImage alone is refused; the writer puts one beside the 8-bit image."""
    out = tmp_path / "out"
    (out / "artifacts").mkdir(parents=True)
    index = np.zeros((8, 8), np.uint8)
    index[:4] = 1
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = index, 255
    cv2.imwrite(str(out / "artifacts" / "ext.png"), bgra)
    body = {"project": "p", "unique_id": "u", "attachment": "https://x/a.jpg", "labels": ["car"],
            "allow_unlabeled": True, "hypothesis": {"labelMapping": {"car": {"index": 1}},
            "annotations": {"combined": {"extendedIndexedImage": "artifact://ext.png"}}}}  # fmt: skip
    rewrite(out, [{"task_type": "segmentannotation", "body": body}])
    write_report(out)
    config = tmp_path / "seg.toml"
    config.write_text('task_type = "segmentannotation"\n[params]\nproject = "p"\n'
                      'labels = ["car"]\nallow_unlabeled = true\n')  # fmt: skip
    assert validate_output(out, load_config(config)) == [
        "task u: hypothesis.annotations.combined.indexedImage: missing (mandatory; an "
        "extendedIndexedImage never replaces it) [indexed-image]"
    ]
