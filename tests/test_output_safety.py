"""Nothing a conversion, a preview or a review page writes lands outside its folder: names
made from input cannot climb out (every writer, all four task types), links planted in the
output directory are never followed, template fields are encoded into URLs, and a new run
clears what described the old one (issue 17)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from prelabel.cli.main import cli
from prelabel.config.templates import render_url
from prelabel.output.layout import safe_name, safe_path

# image / video ids that try to leave --out: relative, absolute (filled in per test), dots
HOSTILE = ["../../../escaped_rel", "{abs}/escaped_abs", "..", "a/../../../../escaped_mid"]

CONFIGS = {
    "imageannotation": """
task_type = "imageannotation"
[params]
project = "p"
instruction = "x"
[params.geometries.box]
objects_to_annotate = ["car"]
[prelabel]
attachment_url = "https://cdn.example.com/images/{file_name}"
""",
    "segmentannotation": """
task_type = "segmentannotation"
[params]
project = "p"
instruction = "x"
allow_unlabeled = true
labels = ["car"]
[prelabel]
attachment_url = "https://cdn.example.com/images/{file_name}"
""",
    "videoannotation": """
task_type = "videoannotation"
[params]
project = "p"
instruction = "x"
attachment_type = "image"
[params.geometries.box]
objects_to_annotate = ["car"]
[prelabel]
attachment_url = "https://cdn.example.com/frames/{sequence}/{frame:06d}.jpg"
prelabel_as = "hypothesis"
""",
    "videoplaybackannotation": """
task_type = "videoplaybackannotation"
[params]
project = "p"
instruction = "x"
attachment_type = "image"
frame_rate = 1
[params.geometries.box]
objects_to_annotate = ["car"]
[prelabel]
attachment_url = "https://cdn.example.com/frames/{sequence}/{frame:06d}.jpg"
artifact_url = "https://cdn.example.com/prelabels/{name}"
""",
}


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


def snapshot(root: Path, skip: Path) -> dict[str, bytes]:
    """Every file under ``root`` but those under ``skip``, with its content."""
    return {
        str(p): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and skip not in p.parents
    }


def image_dataset(ids: list[str]) -> dict[str, Any]:
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 20, "height": 10} for i in ids]
    anns = [
        {"id": n, "image_id": i, "category_id": 1, "bbox": [2, 2, 6, 5],
         "segmentation": [[2, 2, 8, 2, 8, 7, 2, 7]]}
        for n, i in enumerate(ids)
    ]  # fmt: skip
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "car"}]}


def video_dataset(ids: list[str]) -> dict[str, Any]:
    videos = [{"id": i, "name": i, "width": 20, "height": 10} for i in ids]
    images, anns = [], []
    for v, vid in enumerate(ids):
        for f in range(3):
            img = 100 * v + f
            images.append({"id": img, "video_id": vid, "frame_id": f, "file_name": f"{f}.jpg"})
            anns.append({"id": img, "image_id": img, "category_id": 1, "instance_id": 1,
                         "bbox": [2 + f, 2, 6, 5]})  # fmt: skip
    return {"videos": videos, "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "car"}]}  # fmt: skip


@pytest.mark.parametrize("task_type", list(CONFIGS))
def test_no_writer_preview_or_page_writes_outside_the_output(
    tmp_path: Path, task_type: str
) -> None:
    """Ids that climb out of --out (relative, absolute, ``..``) through every writer, then
    `validate`, `preview` and `report` on the result: nothing changes outside --out."""
    ids = [i.format(abs=tmp_path) for i in HOSTILE]
    video = task_type.startswith("video")
    data = video_dataset(ids) if video else image_dataset(ids)
    (tmp_path / "in.json").write_bytes(orjson.dumps(data))
    (tmp_path / "task.toml").write_text(CONFIGS[task_type])
    out = tmp_path / "deep" / "a" / "b" / "c" / "out"
    before = snapshot(tmp_path, out)
    args = ["--fps", "1"] if task_type == "videoplaybackannotation" else []
    code, err = invoke(
        "convert", "coco", str(tmp_path / "in.json"), "-c", str(tmp_path / "task.toml"),
        "-o", str(out), "-q", *args,
    )  # fmt: skip
    assert code == 0, err
    assert invoke("validate", str(out), "-c", str(tmp_path / "task.toml"), "-q") == (0, "")
    assert invoke("preview", str(out), "-q")[0] == 0
    assert invoke("report", str(out), "-q")[0] == 0
    assert snapshot(tmp_path, out) == before
    assert not [p for p in tmp_path.rglob("escaped*") if out not in p.parents]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert all(out.resolve() in p.resolve().parents for p in written)
    if task_type != "imageannotation":  # one artifact per task, each inside artifacts/
        artifacts = [p for p in written if (out / "artifacts") in p.parents]
        assert len(artifacts) == len(ids), artifacts
    assert len(list((out / "preview").iterdir())) == len(ids)


def test_a_traversal_in_an_attachment_template_field_is_encoded(tmp_path: Path) -> None:
    """A file name of ``../../../x`` stays a file name inside the template's folder, and
    ordinary names are kept byte for byte."""
    data = image_dataset(["1", "2"])
    data["images"][0]["file_name"] = "../../../secret/x.jpg"
    data["images"][1]["file_name"] = "val2014/COCO_val2014_000000000042.jpg"
    (tmp_path / "in.json").write_bytes(orjson.dumps(data))
    (tmp_path / "task.toml").write_text(CONFIGS["imageannotation"])
    out = tmp_path / "out"
    code, err = invoke(
        "convert", "coco", str(tmp_path / "in.json"), "-c", str(tmp_path / "task.toml"),
        "-o", str(out), "-q",
    )  # fmt: skip
    assert code == 0, err
    urls = [orjson.loads(x)["body"]["attachment"] for x in (out / "tasks.jsonl").open("rb")]
    assert urls == [
        "https://cdn.example.com/images/%2E%2E/%2E%2E/%2E%2E/secret/x.jpg",
        "https://cdn.example.com/images/val2014/COCO_val2014_000000000042.jpg",
    ]


@pytest.mark.parametrize(
    ("template", "fields", "url"),
    [
        ("https://c/{sequence}/img1/{frame:06d}.jpg", {"sequence": "../../..", "frame": 7},
         "https://c/%2E%2E/%2E%2E/%2E%2E/img1/000007.jpg"),
        ("https://c/{sequence}/{frame}.jpg", {"sequence": "TUD-Campus", "frame": 1},
         "https://c/TUD-Campus/1.jpg"),
        ("https://c/{name}", {"name": "a b?#.jpg"}, "https://c/a%20b%3F%23.jpg"),
        ("https://c/i?f={name}&k=1", {"name": "a&k=2#x"}, "https://c/i?f=a%26k%3D2%23x&k=1"),
        ("https://c{name}", {"name": "@evil.example/x"}, "https://c%40evil.example/x"),
        ("{coco_url}", {"coco_url": "http://images.cocodataset.org/val2014/a.jpg"},
         "http://images.cocodataset.org/val2014/a.jpg"),
        ("s3://bucket/{key}.png", {"key": "seq/000001"}, "s3://bucket/seq/000001.png"),
    ],
)  # fmt: skip
def test_url_fields_are_encoded_for_where_they_land(
    template: str, fields: dict[str, Any], url: str
) -> None:
    assert render_url(template, fields, what="attachment_url") == url


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("000000397133.png", "000000397133.png"),
        ("seq01/000001.png", "seq01/000001.png"),
        ("../../../x.png", "%2E%2E/%2E%2E/%2E%2E/x.png"),
        ("/tmp/abs.png", "tmp/abs.png"),
        ("a/./b//c.png", "a/b/c.png"),
        ("a\\..\\b\n.png", "a%5C..%5Cb%0A.png"),
        ("", "_"),
    ],
)
def test_safe_path_keeps_ordinary_names_and_stays_inside(name: str, safe: str) -> None:
    assert safe_path(name) == safe


def test_long_names_are_shortened_with_a_digest() -> None:
    long = "é" * 300
    assert len(safe_path(f"{long}.png").encode()) <= 200
    assert safe_path(f"{long}.png") != safe_path(f"{long}x.png")
    assert len(safe_name("a" * 1000).encode()) <= 200
    assert safe_name("..") == safe_name("") == "task"
    assert safe_name("p/imageannotation/1") == "p_imageannotation_1"


Plant = Callable[[Path, Path], None]


def test_links_planted_in_the_output_are_replaced_not_followed(tmp_path: Path) -> None:
    """Every name convert, preview and report write, planted as a link to a victim file or
    folder before the run: the victims are untouched and the outputs are real files."""
    victim_file, victim_dir = tmp_path / "victim.txt", tmp_path / "victim"
    victim_file.write_bytes(b"keep me")
    victim_dir.mkdir()
    (victim_dir / "keep.txt").write_bytes(b"keep me too")
    (tmp_path / "in.json").write_bytes(orjson.dumps(image_dataset(["1", "2"])))
    (tmp_path / "task.toml").write_text(CONFIGS["segmentannotation"])
    out = tmp_path / "out"
    out.mkdir()
    files = ["tasks.jsonl", "tasks.jsonl.partial", "report.json", "report.json.partial",
             ".report.json.tmp", "review.html", "taxonomy.json"]  # fmt: skip
    for name in files:
        (out / name).symlink_to(victim_file)
    for name in ("artifacts", "preview", "review_previews"):
        (out / name).symlink_to(victim_dir, target_is_directory=True)
    code, err = invoke(
        "convert", "coco", str(tmp_path / "in.json"), "-c", str(tmp_path / "task.toml"),
        "-o", str(out), "-q", "--emit-taxonomy",
    )  # fmt: skip
    assert code == 0, err
    (out / "preview").symlink_to(victim_dir, target_is_directory=True)
    (out / "review_previews").symlink_to(victim_dir, target_is_directory=True)
    (out / "review.html").symlink_to(victim_file)
    assert invoke("preview", str(out), "-q")[0] == 0
    assert invoke("report", str(out), "-q")[0] == 0
    assert victim_file.read_bytes() == b"keep me"
    assert sorted(p.name for p in victim_dir.iterdir()) == ["keep.txt"]
    for name in ("tasks.jsonl", "report.json", "taxonomy.json", "review.html"):
        assert not (out / name).is_symlink() and (out / name).is_file(), name
    for name in ("artifacts", "preview", "review_previews"):
        assert not (out / name).is_symlink() and (out / name).is_dir(), name
    assert sorted(p.name for p in (out / "artifacts").iterdir()) == ["1.png", "2.png"]


def test_a_link_inside_a_preview_folder_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep me")
    (tmp_path / "in.json").write_bytes(orjson.dumps(image_dataset(["1"])))
    (tmp_path / "task.toml").write_text(CONFIGS["imageannotation"])
    out = tmp_path / "out"
    code, _ = invoke("convert", "coco", str(tmp_path / "in.json"), "-c",
                     str(tmp_path / "task.toml"), "-o", str(out), "-q")  # fmt: skip
    assert code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "p_imageannotation_1.png").symlink_to(victim)
    assert invoke("preview", str(out), "-o", str(mine), "-q")[0] == 0
    assert victim.read_bytes() == b"keep me"
    assert not (mine / "p_imageannotation_1.png").is_symlink()


def test_a_new_conversion_clears_the_previews_and_page_of_the_old_one(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_bytes(orjson.dumps(image_dataset(["1", "2"])))
    (tmp_path / "task.toml").write_text(CONFIGS["imageannotation"])
    out = tmp_path / "out"
    convert = ["convert", "coco", str(tmp_path / "in.json"), "-c", str(tmp_path / "task.toml"),
               "-o", str(out), "-q"]  # fmt: skip
    assert invoke(*convert)[0] == 0
    assert invoke("preview", str(out), "-q")[0] == 0
    assert invoke("report", str(out), "-q")[0] == 0
    (out / "journal.sqlite").write_bytes(b"a submit journal")
    assert {"preview", "review_previews", "review.html"} <= set(os.listdir(out))
    assert invoke(*convert)[0] == 0
    assert sorted(os.listdir(out)) == ["journal.sqlite", "report.json", "tasks.jsonl"]
