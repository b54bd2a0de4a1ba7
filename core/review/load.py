"""Reading a converted directory and finding task images, for :mod:`prelabel.review.preview`.

:func:`load_output` reads the output contract of ``prelabel convert`` (``tasks.jsonl``, the
optional ``report.json`` and ``artifacts/``) into an :class:`OutputDir` of :class:`Task`
lines, which also resolves artifact references (``artifact://NAME`` or hosted URLs) back to
files. :class:`ImageFinder` locates the local image of an attachment URL under an
``--images`` folder (by basename, ties broken by the longest shared path tail, else by the
item key) and :func:`read_image` decodes it as BGR. Malformed input raises
:class:`~prelabel.errors.InputError` naming the file and line. The directory is read through
:mod:`prelabel.output` (the one reader of ``tasks.jsonl`` and ``report.json``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

from prelabel.config.load import TaskConfig
from prelabel.config.rules import MAX_IMAGE_SIDE
from prelabel.output.artifacts import ArtifactFiles
from prelabel.output.layout import ARTIFACTS_DIR
from prelabel.output.report import read_report, task_entries
from prelabel.output.tasks import TaskLine, iter_tasks

Image = npt.NDArray[np.uint8]


@dataclass(slots=True)
class Task:
    """One line of ``tasks.jsonl`` plus what ``report.json`` says about it."""

    line: int
    task_type: str
    body: dict[str, Any]
    unique_id: str
    key: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(slots=True)
class OutputDir:
    """A directory written by ``prelabel convert``."""

    root: Path
    tasks: list[Task]
    report: dict[str, Any]
    # resolves artifact references: artifact://NAME, hosted URLs exactly when the task
    # config is known, else by the longest file name the URL path ends with
    files: ArtifactFiles
    _by_task: dict[str, list[dict[str, Any]]] | None = None

    def records(self, unique_id: str) -> list[dict[str, Any]]:
        """The report's object records that went to (or were dropped from) one task."""
        if self._by_task is None:
            self._by_task = {}
            for rec in self.report.get("objects", []):
                if isinstance(rec, dict):
                    self._by_task.setdefault(str(rec.get("task")), []).append(rec)
        return self._by_task.get(unique_id, [])

    def artifact(self, ref: Any) -> Path | None:
        """The file under ``artifacts/`` a body reference points at."""
        return self.files.path(ref)

    def load_json(self, ref: Any) -> Any:
        return self.files.load_json(ref)


def _side(value: Any) -> int | None:
    """An image side from report.json: a whole number of pixels above 0, else unknown."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else None


def _task(line: TaskLine, info: dict[str, dict[str, Any]]) -> Task:
    uid = line.unique_id or f"line-{line.line}"
    meta = info.get(uid, {})
    key = meta.get("key")
    return Task(
        line.line,
        line.task_type,
        line.body,
        uid,
        key=None if key is None else str(key),
        width=_side(meta.get("width")),
        height=_side(meta.get("height")),
    )


def load_output(directory: str | Path, config: TaskConfig | None = None) -> OutputDir:
    """Read ``tasks.jsonl`` and ``report.json`` of a converted directory.

    Args:
        directory: the ``--out`` directory of ``prelabel convert``.
        config: the task config used for the conversion; with ``artifact_url`` set it maps
            hosted URLs back to ``artifacts/`` exactly (without it, by URL path suffix).

    Returns:
        The tasks in file order and the report (empty when ``report.json`` is missing).

    Raises:
        InputError: the directory or its ``tasks.jsonl`` is missing or malformed.
    """
    root = Path(directory)
    lines = list(iter_tasks(root))
    report = read_report(root)
    info = task_entries(report)
    template = config.prelabel.artifact_url if config is not None else None
    files = ArtifactFiles(root / ARTIFACTS_DIR, template, by_suffix=True)
    return OutputDir(root, [_task(line, info) for line in lines], report, files)


# --- finding images -----------------------------------------------------------------------


class ImageFinder:
    """Finds the local file of an attachment URL under one folder (see the module doc)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._by_name: dict[str, list[Path]] | None = None
        self._by_stem: dict[str, list[Path]] = {}

    def _index(self) -> dict[str, list[Path]]:
        if self._by_name is None:
            self._by_name = {}
            if self.folder is not None and self.folder.is_dir():
                for path in sorted(self.folder.rglob("*")):
                    if path.is_file():
                        self._by_name.setdefault(path.name, []).append(path)
                        self._by_stem.setdefault(path.stem, []).append(path)
        return self._by_name

    def find(self, url: Any, key: str | None = None) -> Path | None:
        """The local file for ``url`` (or, failing that, for the item ``key``)."""
        index = self._index()
        url_path = unquote(urlsplit(url).path) if isinstance(url, str) else ""
        name = url_path.rsplit("/", 1)[-1]
        candidates = index.get(name, []) if name else []
        if not candidates and key is not None:
            candidates = self._by_stem.get(str(key), [])
        if not candidates:
            return None
        return max(candidates, key=lambda p: _shared_tail(p, url_path))

    def frames(self, urls: list[Any]) -> list[Path | None]:
        return [self.find(u) for u in urls]


def _shared_tail(path: Path, url_path: str) -> int:
    a, b = path.parts[::-1], [p for p in url_path.split("/") if p][::-1]
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header (nothing decoded), None if unreadable."""
    from PIL import Image as PILImage

    with warnings.catch_warnings():  # the size is what is being checked here
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(path) as im:
                return int(im.size[0]), int(im.size[1])
        except (OSError, ValueError, PILImage.DecompressionBombError):
            return None


def fits_a_task(size: tuple[int, int] | None) -> bool:
    """Whether an image of ``size`` could be a Scale task image (at most
    :data:`~prelabel.config.rules.MAX_IMAGE_SIDE` a side): only those are decoded, so a
    preview never holds more than such an image."""
    return size is not None and 0 < min(size) and max(size) <= MAX_IMAGE_SIDE


def read_image(path: Path | None) -> Image | None:
    """A BGR image, or None when there is no file, it cannot be decoded, or its header
    says it is larger than a task image may be (:func:`fits_a_task`)."""
    if path is None or not fits_a_task(header_size(path)):
        return None
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if img is None else np.asarray(img, dtype=np.uint8)
