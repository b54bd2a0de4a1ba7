"""`score` on hand-made pairs whose answers are known, and its section of the review page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED

from prelabel.cli.main import cli
from prelabel.responses.local import Content, SegmentEntry
from prelabel.score.compare import compare
from prelabel.score.image import score_annotations
from prelabel.score.results import Matches
from prelabel.score.segment import score_segments
from prelabel.score.video import score_tracks


def box(
    uid: str, x: float, y: float = 0, w: float = 10, h: float = 10, label: str = "car"
) -> dict[str, Any]:
    return {
        "uuid": uid,
        "type": "box",
        "label": label,
        "left": x,
        "top": y,
        "width": w,
        "height": h,
    }


def test_edit_details_iou_and_vertex_moves() -> None:
    change = compare(box("a", 0), box("a", 5))
    assert change.details == ["moved"] and change.iou == pytest.approx(50 / 150)
    assert change.moves == pytest.approx(5.0)
    poly = {
        "uuid": "a",
        "type": "polygon",
        "label": "car",
        "vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 0, "y": 10}],
    }
    assert compare(box("a", 0), poly).details == ["reshaped"]
    assert compare(box("a", 0), {**box("a", 0), "label": "bus"}).details == ["relabelled"]
    assert compare(box("a", 0), {**box("a", 0), "attributes": {"x": 1}}).details == ["attributes"]
    assert compare(box("a", 0), {**box("a", 0), "left": 1e-9}).kept  # below 1e-6 px


def test_precision_recall_counts_area_matches_per_label() -> None:
    matches = Matches()
    sent = [box("a", 0), box("b", 100), box("c", 200, label="bus")]
    final = [box("a", 2), box("x", 300)]  # a moved 2 px (IoU 0.667), b and c deleted, x added
    results, _ = score_annotations(sent, final, matches)
    assert sorted(r.kind for r in results) == ["added", "deleted", "deleted", "edited"]
    table = matches.table((0.5, 0.75))
    assert table["overall"]["0.5"] == {
        "tp": 1,
        "sent": 3,
        "final": 2,
        "precision": 0.3333,
        "recall": 0.5,
    }
    assert table["overall"]["0.75"]["tp"] == 0
    assert table["by_label"]["bus"]["0.5"] == {
        "tp": 0,
        "sent": 1,
        "final": 0,
        "precision": 0.0,
        "recall": None,
    }


def test_iou_matching_for_projects_that_issue_their_own_uuids() -> None:
    sent, final = [box("a", 0), box("b", 100)], [box("new-1", 1), box("new-2", 500)]
    by_uuid, notes = score_annotations(sent, final, Matches())
    assert sorted(r.kind for r in by_uuid) == ["added", "added", "deleted", "deleted"] and notes
    by_iou, notes = score_annotations(sent, final, Matches(), by_iou=True)
    assert sorted(r.kind for r in by_iou) == ["added", "deleted", "edited"] and not notes


def test_segments_pixel_accuracy_and_class_iou() -> None:
    sent_index = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 3, 3]])
    final_index = np.array([[1, 1, 2, 0], [1, 1, 2, 0], [0, 0, 3, 3]])
    entries = [
        SegmentEntry(1, "road", False),
        SegmentEntry(2, "car", True),
        SegmentEntry(3, "car", True),
    ]
    final_entries = [
        SegmentEntry(1, "road", False),
        SegmentEntry(2, "car", True),
        SegmentEntry(3, "bus", True),
    ]
    results, pixels, _ = score_segments(
        Content("segment", segments=entries, index=sent_index),
        Content("segment", segments=final_entries, index=final_index),
        Matches(),
    )
    assert [(r.kind, r.details) for r in results] == [
        ("kept", []),
        ("edited", ["reshaped"]),
        ("edited", ["relabelled"]),
    ]
    assert results[1].iou == pytest.approx(0.5)
    out = pixels.as_dict()
    assert out["pixel_accuracy"] == pytest.approx(
        8 / 12
    )  # 2 unlabelled + 2 relabelled pixels differ
    assert out["class_iou"] == {"bus": 0.0, "car": pytest.approx(2 / 6), "road": 1.0}


def test_id_switches_introduced_by_labelers() -> None:
    def frames(*tracks: tuple[str, list[float]]) -> list[list[dict[str, Any]]]:
        return [[box(uid, xs[k]) for uid, xs in tracks] for k in range(4)]

    sent = frames(("a", [0, 1, 2, 3]), ("b", [100, 101, 102, 103]))
    # from frame 2 on the labelers swapped the two ids
    final = [[box("a", 0), box("b", 100)], [box("a", 1), box("b", 101)],
             [box("b", 2), box("a", 102)], [box("b", 3), box("a", 103)]]  # fmt: skip
    results, tally, _ = score_tracks(
        Content("video", frames=sent), Content("video", frames=final), Matches()
    )
    assert tally.id_switches == 2
    assert [r.details for r in results] == [["moved"], ["moved"]]
    assert tally.as_dict()["frames"] == {"kept": 4, "edited": 4, "deleted": 0, "added": 0}


@pytest.fixture(scope="module")
def edited_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scorepage")
    data = SHARED / "mmpose/coco"
    out, final = root / "out", root / "final"
    runner = CliRunner()
    for args in (
        ["convert", "coco", str(data / "test_coco.json"), "-c",
         str(Path(__file__).parents[1] / "fixtures/configs/imageannotation_keypoints.json"), "-o", str(out), "-q"],
        ["submit", str(out), "--sandbox", "--complete", "edit", "-q"],
        ["import", str(out), "-o", str(final), "--sandbox", "-q"],
    ):  # fmt: skip
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
    return out, final


def test_score_page_has_label_bars_and_worst_tasks_sent_beside_final(
    edited_demo: tuple[Path, Path], tmp_path: Path
) -> None:
    out, final = edited_demo
    page = tmp_path / "page.html"
    res = CliRunner().invoke(
        cli,
        [
            "score",
            str(out),
            str(final),
            "-i",
            str(SHARED / "mmpose/coco"),
            "-o",
            str(page),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert json.loads((final / "score.json").read_text()) == summary
    text = page.read_text()
    assert "What the prelabels were worth" in text and 'id="score-labels"' in text
    for label in summary["by_label"]:
        assert f"<td>{label}</td>" in text
    assert text.count('class="bar"') == len(summary["by_label"]) + 1
    worst = summary["worst_tasks"]
    assert worst and text.count('<div class="pair">') == len(worst)
    assert len(
        re.findall(r'<img alt="(sent|final)" src="data:image/jpeg;base64,', text)
    ) == 2 * len(worst)
    for uid in worst:
        assert uid in text
    lines = res.stderr.splitlines()
    assert lines[0].startswith(
        f"scored {summary['tasks']} task(s): {summary['counts']['kept']} kept"
    )
