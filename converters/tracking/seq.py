"""Sequence facts for tracking files: ``seqinfo.ini``, a local video's header, the first
frame image's header, labels files, sequence names and item keys."""

from __future__ import annotations

import configparser
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prelabel.converters.text import read_text
from prelabel.converters.tracking.common import GENERIC_STEMS, MAX_FRAMES, SeqInfo
from prelabel.errors import InputError


def frames_limit(count: str) -> str:
    return (
        f"{count} frames is beyond the {MAX_FRAMES:,} frames a sequence may span "
        "(prelabel's limit); split the sequence"
    )


# --- seqinfo and labels -------------------------------------------------------------------


def read_seqinfo(path: str) -> SeqInfo:
    """Read a MOTChallenge ``seqinfo.ini`` ([Sequence] section).

    Raises:
        InputError: unreadable file, no [Sequence] section, or a value of the wrong type.
    """
    parser = configparser.ConfigParser()
    text = read_text(path)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise InputError(f"cannot read seqinfo: {exc}", path=path) from None
    if not parser.has_section("Sequence"):
        raise InputError("no [Sequence] section", path=path)
    sec = parser["Sequence"]

    def number(key: str, kind: type[int] | type[float]) -> Any:
        raw = sec.get(key)
        if raw is None or not raw.strip():
            return None
        try:
            value = kind(raw)
        except ValueError:
            raise InputError(f"{raw!r} is not a number", path=path, location=key) from None
        if not 0 < value < math.inf:
            raise InputError(f"must be a number > 0, got {raw}", path=path, location=key)
        if key == "seqLength" and value > MAX_FRAMES:
            raise InputError(frames_limit(raw), path=path, location=key)
        return value

    return SeqInfo(
        name=sec.get("name") or None,
        fps=number("frameRate", float),
        length=number("seqLength", int),
        width=number("imWidth", int),
        height=number("imHeight", int),
        path=path,
    )


def find_seqinfo(path: Path) -> str | None:
    """``seqinfo.ini`` beside the file, or one folder up (``SEQ/gt/gt.txt`` layout)."""
    for folder in (path.parent, path.parent.parent):
        candidate = folder / "seqinfo.ini"
        if candidate.is_file():
            return str(candidate)
    return None


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def frame_image_size(seq_dir: Path, im_dir: str = "img1") -> tuple[tuple[int, int], str] | None:
    """``(width, height)`` from the header of the first frame image in ``SEQ/img1``, if any."""
    folder = seq_dir / im_dir
    if not folder.is_dir():
        return None
    first = min((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), default=None)
    if first is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(first) as image:  # reads the header only
            return image.size, str(first)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read the frame image header: {exc}", path=str(first)) from None


def video_header(path: str) -> SeqInfo:
    """fps, frame count and size from a local copy of the video (OpenCV reads the header).

    Raises:
        InputError: OpenCV cannot open the file.
    """
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise InputError("cannot open the video (OpenCV)", path=path)
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        if count is not None and count > MAX_FRAMES:
            raise InputError(f"its header: {frames_limit(str(count))}", path=path)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
    finally:
        cap.release()
    return SeqInfo(fps=fps, length=count, width=width, height=height, path=path)


def read_labels_file(path: str) -> list[str]:
    """One label per line (blank lines skipped)."""
    return [ln.strip() for ln in read_text(path).split("\n") if ln.strip()]


def sequence_name(path: Path) -> str:
    """The sequence a tracking file belongs to, from its path."""
    if path.parent.name in ("gt", "det") and path.parent.parent.name:
        return path.parent.parent.name
    if path.stem.lower() in GENERIC_STEMS and path.parent.name:
        return path.parent.name
    return path.stem


def item_keys(paths: Sequence[str], names: Sequence[str]) -> list[str]:
    """Item keys: the sequence name, with the file stem added where two inputs share one."""
    out = []
    for path, name in zip(paths, names, strict=False):
        clash = sum(1 for n in names if n == name) > 1
        out.append(f"{name}-{Path(path).stem}" if clash else name)
    return out


def is_ground_truth(path: Path) -> bool:
    return path.stem.lower().startswith("gt") or path.parent.name == "gt"
