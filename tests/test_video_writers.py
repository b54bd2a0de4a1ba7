"""The video writers on real tracker output (motmetrics TUD) and the KITTI fixtures."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from prelabel.config.load import TaskConfig, load_config
from prelabel.converters.tracking.kitti import KittiOptions, read_kitti
from prelabel.converters.tracking.mot import MotOptions, read_mot
from prelabel.errors import PayloadError
from prelabel.model import Item
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.report import Report, expand_record
from prelabel.writers.context import WriteContext
from prelabel.writers.video import write_video_task, write_videoplayback_task

CONFIGS = FIXTURES / "configs"
CAMPUS = "motmetrics/data/TUD-Campus/test.txt"
N_TRACKS = 13  # distinct ids in TUD-Campus/test.txt


def campus(shared: Path, **kwargs: Any) -> Item:
    ds = read_mot([str(shared / CAMPUS)], MotOptions(fps=25, image_size=(640, 480), **kwargs))
    (item,) = list(ds.items)
    return item


def kitti_item() -> Item:
    ds = read_kitti(
        [str(FIXTURES / "kitti/results/0000.txt")], KittiOptions(fps=10, image_size=(1242, 375))
    )
    (item,) = list(ds.items)
    return item


def context(config: str, tmp: Path, **overrides: Any) -> WriteContext:
    cfg = load_config(CONFIGS / config, overrides)
    return WriteContext(cfg, Report(), ArtifactStore(tmp / "artifacts"), source="test")


def artifact(ctx: WriteContext, ref: str) -> Any:
    return json.loads((ctx.artifacts.root / ref.removeprefix("artifact://")).read_text())


def check_golden(name: str, data: Any, update: bool) -> None:
    path = FIXTURES / "kitti" / name
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if update or not path.exists():
        path.write_text(text)
    assert json.loads(path.read_text()) == data


def balanced(report: Report, n: int) -> None:
    t = report.totals()
    assert t["objects_in"] == n == t["objects_out"] + t["objects_dropped"]
    rows = [row for r in report.records for row in expand_record(r.as_dict())]
    sources = {(r["source"]["file"], r["source"]["location"]) for r in rows}
    assert len(rows) == len(sources) == n  # each once


def test_videoplayback_golden(shared: Path, tmp_path: Path, update_goldens: bool) -> None:
    ctx = context("tracking_playback.toml", tmp_path, keyframe_iou=0.9)
    body = write_videoplayback_task(campus(shared), ctx)
    assert body["attachment"] == "https://cdn.example.com/videos/TUD-Campus.mp4"
    assert body["events_to_annotate"] == ["crossing"] and body["with_labels"] is True
    hyp = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    assert len(hyp) == 13
    for obj in hyp.values():
        keys = [f["key"] for f in obj["frames"]]
        assert keys == sorted(keys) and keys[0] >= 0 and obj["geometry"] == "box"
        for f in obj["frames"]:
            assert f["timestamp"] == pytest.approx(f["key"] / 25)
            assert f["left"] >= 0 and f["left"] + f["width"] <= 640  # clipped to the frame
    balanced(ctx.report, 222)
    assert any("thinned" in fix for r in ctx.report.records for fix in r.fixes)
    (note,) = [n for n in ctx.report.notes if "keyframes" in n]
    assert "of 222 track frames" in note
    # goldens come from our own KITTI fixture: MOTChallenge-derived data stays in shared/
    kctx = context("tracking_playback.toml", tmp_path / "k", keyframe_px=1.0)
    kbody = write_videoplayback_task(kitti_item(), kctx)
    check_golden(
        "kitti_0000.vpa_hypothesis.json",
        artifact(kctx, kbody["hypothesis"]["annotations"]["url"]),
        update_goldens,
    )


def test_videoannotation_golden(shared: Path, tmp_path: Path, update_goldens: bool) -> None:
    ctx = context("tracking_video.toml", tmp_path)
    body = write_video_task(campus(shared), ctx)
    assert body["attachment_type"] == "image" and len(body["attachments"]) == 71
    assert body["attachments"][0] == "https://cdn.example.com/TUD-Campus/img1/000001.jpg"
    frames = body["base_annotations"]["annotations"]
    assert len(frames) == 71 and sum(len(f["annotations"]) for f in frames) == 222
    uuids = {a["uuid"] for f in frames for a in f["annotations"]}
    assert len(uuids) == 13
    balanced(ctx.report, 222)
    kbody = write_video_task(kitti_item(), context("tracking_video.toml", tmp_path / "k"))
    check_golden(
        "kitti_0000.videoannotation_frames.json",
        kbody["base_annotations"]["annotations"],
        update_goldens,
    )


def test_rerun_gives_same_bodies(shared: Path, tmp_path: Path) -> None:
    a = write_video_task(campus(shared), context("tracking_video.toml", tmp_path / "a"))
    b = write_video_task(campus(shared), context("tracking_video.toml", tmp_path / "b"))
    assert a == b


def test_hypothesis_is_hosted_per_frame_list(shared: Path, tmp_path: Path) -> None:
    ctx = context("tracking_video.toml", tmp_path, prelabel_as="hypothesis")
    body = write_video_task(campus(shared), ctx)
    frames = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    assert isinstance(frames, list) and len(frames) == 71 and "base_annotations" not in body


def test_frame_key_base_one(shared: Path, tmp_path: Path) -> None:
    ctx = context("tracking_playback.toml", tmp_path, frame_key_base=1)
    body = write_videoplayback_task(campus(shared), ctx)
    hyp = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    first = min(f["key"] for o in hyp.values() for f in o["frames"])
    assert first == 1  # frame 1 of the file is index 0


def test_video_attachment_samples_frames(shared: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "tracking_video.toml", {})
    params = {**cfg.params, "attachment_type": "video", "frame_rate": 5, "duration_time": 2}
    cfg2 = TaskConfig(
        cfg.task_type,
        params,
        cfg.prelabel.updated({"attachment_url": "https://cdn/{sequence}.mp4"}),
        cfg.limits,
    )
    ctx = WriteContext(cfg2, Report(), ArtifactStore(tmp_path))
    body = write_video_task(campus(shared), ctx)
    assert body["attachment"] == "https://cdn/TUD-Campus.mp4" and "attachments" not in body
    assert len(body["base_annotations"]["annotations"]) == 10  # 2 s at 5 fps
    balanced(ctx.report, 222)
    # task frames are source frames 1, 6, 11, ... (every 5th at 25 fps): the rest are dropped
    rows = [row for r in ctx.report.records for row in expand_record(r.as_dict())]
    sent = {r["source"]["location"] for r in rows if r["outcome"] != "dropped"}
    assert len(sent) == sum(len(f["annotations"]) for f in body["base_annotations"]["annotations"])
    assert all(
        r.reason and r.reason.startswith("not a task frame: frame ")
        for r in ctx.report.records
        if r.outcome == "dropped"
    )


def test_span_past_the_source(shared: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "tracking_video.toml", {})
    params = {**cfg.params, "attachment_type": "video", "frame_rate": 5, "duration_time": 10}
    options = cfg.prelabel.updated({"attachment_url": "https://cdn/{sequence}.mp4"})
    cfg2 = TaskConfig(cfg.task_type, params, options, cfg.limits)
    with pytest.raises(PayloadError, match=r"0s\.\.2\.84s"):
        write_video_task(campus(shared), WriteContext(cfg2, Report(), ArtifactStore(tmp_path)))


def test_kitti_gap_split_and_attributes(tmp_path: Path) -> None:
    ds = read_kitti(
        [str(FIXTURES / "kitti/label_02/0000.txt")], KittiOptions(fps=10, image_size=(1242, 375))
    )
    (item,) = list(ds.items)
    ctx = context("tracking_video.toml", tmp_path, track_gaps="split")
    body = write_video_task(item, ctx)
    frames = body["base_annotations"]["annotations"]
    peds = [a for f in frames for a in f["annotations"] if a["label"] == "Pedestrian"]
    assert len({a["uuid"] for a in peds}) == 2  # split at the missing frame 3
    cyclist = [a for f in frames for a in f["annotations"] if a["label"] == "Cyclist"]
    assert cyclist[0]["attributes"] == {"occlusion": 2}  # truncation: not defined in the task
    assert cyclist[0]["left"] + cyclist[0]["width"] <= 1242
    assert any("missing frames, split" in n for n in ctx.report.notes)
    balanced(ctx.report, 13)


def test_untracked_rows_are_one_frame_objects(shared: Path, tmp_path: Path) -> None:
    ds = read_mot(
        [str(shared / "sort/train/TUD-Campus/det/det.txt")],
        MotOptions(untracked=True, fps=25, image_size=(640, 480)),
    )
    (item,) = list(ds.items)
    ctx = context("tracking_playback.toml", tmp_path)
    body = write_videoplayback_task(item, ctx)
    hyp = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    assert len(hyp) == 321 and all(len(o["frames"]) == 1 for o in hyp.values())


def test_label_change_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("".join(f"{f},4,10,10,20,40,1,{1 if f < 3 else 3},1\n" for f in range(1, 5)))
    (tmp_path / "names.txt").write_text("person\nbike\nCar\n")
    ds = read_mot(
        [str(path)], MotOptions(fps=10, image_size=(100, 100), labels=str(tmp_path / "names.txt"))
    )
    (item,) = list(ds.items)
    ctx = context("tracking_playback.toml", tmp_path)
    body = write_videoplayback_task(item, ctx)
    assert any("track 4 changes label" in n for n in ctx.report.notes)
    hyp = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    (obj,) = hyp.values()
    assert obj["label"] in {"person", "Car"} and len(obj["frames"]) == 4
    balanced(ctx.report, 4)


def test_attribute_values_outside_choices_are_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "gt" / "gt.txt"
    path.parent.mkdir()
    path.write_text("1,1,10,10,20,40,1,1,0.8\n2,1,11,10,20,40,1,1,1.0\n")
    ds = read_mot([str(path)], MotOptions(label="pedestrian", image_size=(100, 100)))
    (item,) = list(ds.items)
    cfg = load_config(CONFIGS / "videoannotation.toml", {"prelabel_as": "base_annotations"})
    ctx = WriteContext(cfg, Report(), ArtifactStore(tmp_path / "a"))
    body = write_video_task(item, ctx)
    anns = [a for f in body["base_annotations"]["annotations"] for a in f["annotations"]]
    assert len(anns) == 2 and all("attributes" not in a for a in anns)
    assert any("'visibility'" in n and "is not one of its choices" in n for n in ctx.report.notes)


# --- report.json: tracker ids -> annotation uuids ---------------------------------------------


def converted(
    tmp: Path, config: str, dataset: Any, **overrides: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """report.json and the one task body of a conversion through the pipeline."""
    from prelabel.pipeline import convert

    convert(dataset, load_config(CONFIGS / config, overrides), tmp / "out")
    report = json.loads((tmp / "out" / "report.json").read_text())
    (line,) = (tmp / "out" / "tasks.jsonl").read_text().splitlines()
    return report, json.loads(line)["body"]


def test_track_map_joins_mot_ids_to_hypothesis_uuids(shared: Path, tmp_path: Path) -> None:
    path = shared / CAMPUS
    ds = read_mot([str(path)], MotOptions(fps=25, image_size=(640, 480)))
    report, body = converted(tmp_path, "tracking_playback.toml", ds)
    (task,) = report["tasks"]
    hyp = json.loads(
        (tmp_path / "out/artifacts" / body["hypothesis"]["annotations"]["url"][11:]).read_text()
    )
    rows = [line.split(",") for line in path.read_text().split()]
    ids = {str(int(float(r[1]))) for r in rows}
    assert {t["track_id"] for t in task["tracks"]} == ids and len(ids) == N_TRACKS
    assert {t["uuid"] for t in task["tracks"]} == set(hyp)
    for entry in task["tracks"]:
        assert entry["source"] == "test.txt" and entry["run"] == 0
        keys = [f["key"] for f in hyp[entry["uuid"]]["frames"]]
        frames = sorted(
            int(float(r[0])) - 1 for r in rows if str(int(float(r[1]))) == entry["track_id"]
        )
        assert keys == frames  # MOT frames are 1-based, keys 0-based


def test_track_map_gives_each_run_of_a_split_kitti_track(tmp_path: Path) -> None:
    ds = read_kitti(
        [str(FIXTURES / "kitti/label_02/0000.txt")], KittiOptions(fps=10, image_size=(1242, 375))
    )
    report, body = converted(tmp_path, "tracking_video.toml", ds, track_gaps="split")
    (task,) = report["tasks"]
    runs = sorted((t["track_id"], t["run"]) for t in task["tracks"])
    assert runs == [("0", 0), ("1", 0), ("1", 1), ("2", 0)]  # pedestrian 1 misses frame 3
    assert all(t["source"] == "0000.txt" for t in task["tracks"])
    by_uuid = {t["uuid"]: t for t in task["tracks"]}
    frames = body["base_annotations"]["annotations"]
    for number, frame in enumerate(frames):
        for ann in frame["annotations"]:
            entry = by_uuid[ann["uuid"]]
            assert entry["run"] == (1 if entry["track_id"] == "1" and number > 3 else 0)
    assert len({a["uuid"] for f in frames for a in f["annotations"]}) == len(by_uuid)


# --- videoplayback with a time window --------------------------------------------------------


def test_playback_time_window_keeps_the_task_grid(shared: Path, tmp_path: Path) -> None:
    """start_time 1 s, duration 1 s, 5 fps on a 25 fps sequence: the task frames are source
    frames 25, 30, 35, 40, 45; keys and timestamps name the source frame (index, index / fps);
    every other row is dropped, outside the window or between samples, and says which."""
    cfg = load_config(CONFIGS / "tracking_playback.toml", {})
    params = {**cfg.params, "start_time": 1, "duration_time": 1, "frame_rate": 5}
    ctx = WriteContext(
        TaskConfig(cfg.task_type, params, cfg.prelabel, cfg.limits),
        Report(),
        ArtifactStore(tmp_path / "artifacts"),
    )
    body = write_videoplayback_task(campus(shared), ctx)
    hyp = artifact(ctx, body["hypothesis"]["annotations"]["url"])
    frames = [f for obj in hyp.values() for f in obj["frames"]]
    assert {f["key"] for f in frames} == {25, 30, 35, 40, 45}
    assert all(f["timestamp"] == pytest.approx(f["key"] / 25) for f in frames)
    balanced(ctx.report, 222)
    rows = [row for r in ctx.report.records for row in expand_record(r.as_dict())]
    reasons = Counter(str(r.get("reason")).split(":")[0] for r in rows if r["outcome"] == "dropped")
    assert reasons["outside the task's time window"] > 0 and reasons["not a task frame"] > 0
    assert sum(reasons.values()) + len(frames) == 222
    assert any("5 task frames at 5 fps in 1s..2s" in n for n in ctx.report.notes)
    assert not any("missing frames" in n for n in ctx.report.notes)  # samples are no gaps
    outside = next(r["reason"] for r in rows if "window" in str(r.get("reason")))
    assert outside.endswith("is outside 1s..2s")


def test_a_playback_object_keeps_one_geometry(tmp_path: Path) -> None:
    """A track that is a box on one frame and a polygon on the next: videoannotation sends
    both; a videoplayback object has one geometry, so the polygon frame is dropped with the
    reason (never recorded as sent and left out)."""
    from prelabel.config.limits import GeometryLimits
    from prelabel.model import Box, Frame, Instance, Polygon, SourceRef

    def item() -> Item:
        shapes = [Box(10, 10, 20, 20), Polygon.from_ring([(12, 10), (30, 12), (20, 30)])]
        frames = [
            Frame(i, i, [Instance("car", g, SourceRef("t.json", f"ann[{i}]"), track_id="1")])
            for i, g in enumerate(shapes)
        ]
        return Item("clip", {"sequence": "clip"}, 100, 100, frames=frames, fps=10)

    cfg = load_config(CONFIGS / "tracking_playback.toml", {})
    car = frozenset({"car"})
    limits = {k: GeometryLimits(kind=k, labels=car) for k in ("box", "polygon")}
    cfg = replace(cfg, limits=replace(cfg.limits, geometries=limits))
    ctx = WriteContext(cfg, Report(), ArtifactStore(tmp_path / "vpa"))
    body = write_videoplayback_task(item(), ctx)
    (obj,) = artifact(ctx, body["hypothesis"]["annotations"]["url"]).values()
    assert obj["geometry"] == "box" and [f["key"] for f in obj["frames"]] == [0]
    (dropped,) = [r for r in ctx.report.records if r.outcome == "dropped"]
    assert (
        dropped.reason == "mixed geometry: a polygon on a track sent as a box (its first frame's)"
    )
    balanced(ctx.report, 2)
    options = cfg.prelabel.updated(
        {"attachment_url": "https://x/{frame}.jpg", "prelabel_as": "base_annotations"}
    )
    params = {**cfg.params, "attachment_type": "image"}
    video = replace(cfg, task_type="videoannotation", params=params, prelabel=options)
    vctx = WriteContext(video, Report(), ArtifactStore(tmp_path / "va"))
    frames = write_video_task(item(), vctx)["base_annotations"]["annotations"]
    assert [a["type"] for f in frames for a in f["annotations"]] == ["box", "polygon"]
    balanced(vctx.report, 2)


def test_sampling_is_no_gap_in_a_track(shared: Path, tmp_path: Path) -> None:
    """Task frames every 5th source frame: a track on each of them has no gap, so
    track_gaps = "split" keeps one uuid per track (before, every sample was its own object)."""
    cfg = load_config(CONFIGS / "tracking_video.toml", {"track_gaps": "split"})
    params = {**cfg.params, "attachment_type": "video", "frame_rate": 5}
    options = cfg.prelabel.updated({"attachment_url": "https://cdn/{sequence}.mp4"})
    ctx = WriteContext(
        replace(cfg, params=params, prelabel=options), Report(), ArtifactStore(tmp_path)
    )
    frames = write_video_task(campus(shared), ctx)["base_annotations"]["annotations"]
    uuids = {a["uuid"] for f in frames for a in f["annotations"]}
    assert len(uuids) == len(ctx.report.track_maps["tracking-tests/videoannotation/TUD-Campus"])
    assert len(uuids) <= N_TRACKS and not any("missing frames" in n for n in ctx.report.notes)
