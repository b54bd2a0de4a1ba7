"""Mask files and how they meet their images (issue 12 "Pairing", issue 17 mask parts).

Pairing strips ``--mask-suffix`` / ``--image-suffix`` (and Cityscapes' own suffixes);
``--manifest`` alone lists the masks; a mask with no image has no ``file_name``, so an
attachment template cannot silently point at the mask file. A 1-bit PNG keeps its
foreground; a truncated PNG, a PNG over the image size limit (or Pillow's decompression-bomb
limit) and a folder without PNGs each exit 3 with one line naming the file.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import REPO, SHARED
from PIL import Image

from prelabel.cli.main import cli
from prelabel.config.rules import MAX_IMAGE_SIDE
from prelabel.converters.masks.read import MaskOptions, read_masks
from prelabel.errors import InputError

VOC = SHARED / "labelme/instance_segmentation/data_dataset_voc"
CITY = SHARED / "datumaro/cityscapes_dataset/dataset"
CAMVID = SHARED / "datumaro/camvid_dataset"
MASK_3 = VOC / "SegmentationClass/2011_000003.png"


def config(tmp_path: Path, labels: list[str], template: str = "{stem}.jpg") -> str:
    path = tmp_path / "seg.toml"
    path.write_text(
        'task_type = "segmentannotation"\n[params]\nproject = "p"\nallow_unlabeled = true\n'
        f"labels = {json.dumps(labels)}\n"
        f'[prelabel]\nattachment_url = "https://cdn.example.com/{template}"\n'
    )
    return str(path)


def convert(*args: str) -> Result:
    return CliRunner().invoke(cli, ["convert", "masks", *args])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """A real process: the exit code and stderr a user sees (no traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "prelabel.cli", "convert", "masks", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def bodies(out: Path) -> list[dict[str, object]]:
    return [json.loads(x)["body"] for x in (out / "tasks.jsonl").read_text().splitlines()]


# --- pairing -----------------------------------------------------------------------------------


def test_mask_and_image_suffixes_are_stripped_before_pairing(tmp_path: Path) -> None:
    """DeepLabV3+ demo outputs: 114_pred.png beside 114_image.jpg."""
    masks, images = tmp_path / "pred", tmp_path / "images"
    masks.mkdir()
    images.mkdir()
    for stem in ("2011_000003", "2011_000025"):
        shutil.copy(VOC / f"SegmentationClass/{stem}.png", masks / f"{stem}_pred.png")
        shutil.copy(VOC / f"JPEGImages/{stem}.jpg", images / f"{stem}_image.jpg")
    options = MaskOptions(
        images=str(images), classes=str(VOC / "class_names.txt"), mask_suffix="_pred"
    )
    with pytest.raises(InputError, match="no image with stem '2011_000003' in"):
        list(read_masks([str(masks)], options).items)
    both = MaskOptions(
        images=str(images),
        classes=str(VOC / "class_names.txt"),
        mask_suffix="_pred",
        image_suffix="_image",
    )
    got = {
        i.key: (i.fields["file_name"], i.width, i.height)
        for i in read_masks([str(masks)], both).items
    }
    assert got == {
        "2011_000003_pred": ("2011_000003_image.jpg", 500, 338),
        "2011_000025_pred": ("2011_000025_image.jpg", 500, 375),
    }
    out = tmp_path / "out"
    result = convert(
        str(masks), "--images", str(images), "--mask-suffix", "_pred", "--image-suffix", "_image",
        "--classes", str(VOC / "class_names.txt"), "--allow-unmatched-labels",
        "-c", config(tmp_path, ["person"], "{file_name}"), "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(str(b["attachment"]) for b in bodies(out)) == [
        "https://cdn.example.com/2011_000003_image.jpg",
        "https://cdn.example.com/2011_000025_image.jpg",
    ]


def test_cityscapes_label_ids_meet_left_images(tmp_path: Path) -> None:
    masks = tmp_path / "gtFine"
    masks.mkdir()
    for path in (CITY / "gtFine").rglob("*_instanceIds.png"):
        shutil.copy(path, masks / path.name.replace("_instanceIds", "_labelIds"))
    ds = read_masks(
        [str(masks)], MaskOptions(colormap="cityscapes", images=str(CITY / "leftImg8bit"))
    )
    assert sorted(i.fields["file_name"] for i in ds.items) == sorted(
        p.name for p in (CITY / "leftImg8bit").rglob("*.png")
    )


def test_manifest_alone_lists_the_masks(tmp_path: Path) -> None:
    """CamVid's train.txt pairs images and masks; no MASKS argument is needed."""
    out = tmp_path / "out"
    result = convert(
        "--manifest", str(CAMVID / "train.txt"), "--colormap", "camvid",
        "--allow-unmatched-labels", "-c", config(tmp_path, ["Road", "Sky"], "{file_name}"),
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (body,) = bodies(out)
    assert body["attachment"] == "https://cdn.example.com/0001TP_006690.png"  # the image's
    with_dir = convert(
        str(CAMVID), "--manifest", str(CAMVID / "train.txt"), "--colormap", "camvid",
        "--allow-unmatched-labels", "-c", config(tmp_path, ["Road", "Sky"], "{file_name}"),
        "-o", str(tmp_path / "out2"),
    )  # fmt: skip
    assert with_dir.exit_code == 0
    assert bodies(tmp_path / "out2") == bodies(out)


def test_no_masks_and_no_manifest_is_an_error(tmp_path: Path) -> None:
    result = convert(
        "--classes",
        str(VOC / "class_names.txt"),
        "-c",
        config(tmp_path, ["a"]),
        "-o",
        str(tmp_path),
    )
    assert result.exit_code == 3
    assert result.stderr.strip() == "Error: no masks: give mask files or folders, or --manifest"


def test_a_mask_without_an_image_has_no_file_name_for_the_attachment(tmp_path: Path) -> None:
    """The attachment used to become the mask file's own name (2011_000003.png)."""
    result = convert(
        str(MASK_3), "--classes", str(VOC / "class_names.txt"), "--allow-unmatched-labels",
        "-c", config(tmp_path, ["person"], "{file_name}"), "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: item 2011_000003: attachment_url template "
        "'https://cdn.example.com/{file_name}' uses {file_name}, which this item does not have"
    )
    ok = convert(
        str(MASK_3), "--classes", str(VOC / "class_names.txt"), "--allow-unmatched-labels",
        "-c", config(tmp_path, ["person"], "{stem}.jpg"), "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert ok.exit_code == 0
    assert bodies(tmp_path / "out")[0]["attachment"] == "https://cdn.example.com/2011_000003.jpg"


# --- pixel formats ----------------------------------------------------------------------------


def test_a_1bit_png_keeps_its_foreground(tmp_path: Path) -> None:
    """A 1-bit PNG's pixels are 0/1 (Pillow's "L" conversion made them 255 = void)."""
    person = np.array(Image.open(MASK_3)) == 15
    path = tmp_path / "2011_000003.png"
    Image.fromarray(person).save(path)
    assert Image.open(path).mode == "1"
    classes = tmp_path / "classes.txt"
    classes.write_text("background\nperson\n")
    out = tmp_path / "out"
    result = convert(
        str(path), "--classes", str(classes), "--images", str(VOC / "JPEGImages"),
        "-c", config(tmp_path, ["background", "person"]), "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "objects: 2 in, 2 out" in result.stderr
    mapping = bodies(out)[0]["hypothesis"]["labelMapping"]  # type: ignore[index]
    assert mapping["person"]["numPixels"] == int(person.sum()) == 32880


# --- broken and hostile files -------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(path: Path, width: int, height: int, bit_depth: int = 8) -> Path:
    """A PNG that declares a size and carries almost no data (a few hundred bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated", "cannot decode the image: "),
        ("corrupt", "cannot decode the image: corrupt file: chunk IDAT at byte "),
        ("bomb", f"image is 20000x20000, but a task image is at most {MAX_IMAGE_SIDE} px a side"),
        ("wide", f"image is {MAX_IMAGE_SIDE + 1}x1, but a task image is at most"),
    ],
)
def test_broken_or_oversized_png_exits_3_naming_it(tmp_path: Path, name: str, message: str) -> None:
    if name == "truncated":
        path = tmp_path / "truncated.png"
        data = MASK_3.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif name == "corrupt":  # grey, so OpenCV's libpng decodes it (and would print its error)
        path = tmp_path / "corrupt.png"
        Image.fromarray(np.array(Image.open(MASK_3))).save(path)
        data = bytearray(path.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 40] = b"\xff" * 40
        path.write_bytes(bytes(data))
    elif name == "bomb":  # 400 Mpx declared in ~400 bytes: over Pillow's bomb limit too
        path = png_header_only(tmp_path / "bomb.png", 20000, 20000)
        assert path.stat().st_size < 1000
    else:
        path = png_header_only(tmp_path / "wide.png", MAX_IMAGE_SIDE + 1, 1)
    proc = run_cli(
        str(path), "--classes", str(VOC / "class_names.txt"),
        "-c", config(tmp_path, ["person"]), "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(f"Error: {path}: {message}")


def test_a_folder_without_pngs_exits_3_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "masks"
    folder.mkdir()
    (folder / "notes.txt").write_text("no masks here\n")
    result = convert(
        str(folder), "--classes", str(VOC / "class_names.txt"),
        "-c", config(tmp_path, ["person"]), "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 3
    assert result.stderr.strip() == f"Error: {folder}: no PNG masks in the folder"
    binary = convert(
        str(folder), "--kind", "binary", "-c", config(tmp_path, ["person"]), "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert binary.exit_code == 3
    assert binary.stderr.strip() == f"Error: {folder}: no PNG masks in the folder"
