"""``prelabel convert yolo LABELS_DIR``: Ultralytics txt labels or predictions, one image task
per image.

Pairing (Ultralytics' own rule: a label file's path is its image's with ``images`` replaced
by ``labels`` and the suffix by ``.txt``):

* ``--images DIR``: every image under DIR is a task; its label file is the same relative
  path under LABELS_DIR (``train/1.jpg`` <-> ``train/1.txt``; none = nothing detected, an
  empty task). A label file with no image takes ``--image-size``.
* otherwise a dataset root (``DIR/images`` + ``DIR/labels``) and a predict run folder
  (``run/image0.jpg`` + ``run/labels/image0.txt``) pair the same way; any other folder is
  read as label files, each paired with the image at its path with the last ``labels``
  folder replaced by ``images`` (or in the folder above ``labels/``).

Sizes come from the image headers, or ``--image-size`` for every image. Names with spaces
and several dots pair by the whole name before the suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from prelabel.config.declare import option
from prelabel.converters.options import image_size, images
from prelabel.converters.text import read_text
from prelabel.converters.tracking.common import BadRows
from prelabel.converters.yolo.names import Names, load_names
from prelabel.converters.yolo.rows import FileRows, Kind, refuse_dota_file
from prelabel.errors import InputError
from prelabel.model import Dataset, Item

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# text files that sit among label files and are not label files
NOT_LABELS = {"classes.txt"}


@dataclass(frozen=True, slots=True, kw_only=True)
class YoloOptions:
    """Options of the YOLO reader (``prelabel convert yolo``)."""

    images: str | None = images(
        "Image folder mirroring LABELS_DIR: every image is a task, with or without a label "
        "file; sizes from the image headers. Default: Ultralytics' labels/ <-> images/ layout."
    )
    image_size: tuple[int, int] | None = image_size("Size of every image (no image files needed).")
    names: str | None = option(
        None,
        path="file",
        help="Class names: a data.yaml (names, kpt_shape) or a text file (line N = class N). "
        "Without it the labels are the class ids.",
    )
    kind: Kind = option(
        "auto",
        show_default=True,
        help="What the rows are. auto: pose when the data.yaml has kpt_shape, else 5-6 values "
        "a box and longer rows a polygon (an OBB row needs --kind obb).",
    )
    bad_rows: BadRows = option(
        "error",
        show_default=True,
        help="A row that cannot be used: stop, drop it (reported with its line), or repair "
        "negative box sizes and drop the rest.",
    )


@dataclass(frozen=True, slots=True)
class Pair:
    """One task: its key, its label file (None: nothing detected) and its image (if known)."""

    key: str
    labels: Path | None
    image: Path | None


def read_yolo(paths: list[str], options: YoloOptions | None = None) -> Dataset:
    """Read Ultralytics txt files under each folder of ``paths``: one image item per image.

    Raises:
        InputError: no images and no ``--image-size``, a names file that cannot be read, an
            image whose header cannot be read.
        InvalidAnnotationError: a bad row (under ``bad_rows="error"``), or a DOTA file.
    """
    opts = options or YoloOptions()
    names = load_names(opts.names)
    skip = {Path(opts.names).resolve()} if opts.names else set()
    pairs = [pair for path in paths for pair in find_pairs(Path(path), opts, skip)]
    labels = [names.names[k] for k in sorted(names.names)]
    kinds = {"box", "point"} if names.kpt_shape else {"box", "polygon"}
    dataset = Dataset("yolo", [], labels=labels, kinds=kinds)
    dataset.items = _items(pairs, opts, names, dataset)
    return dataset


def _items(pairs: list[Pair], opts: YoloOptions, names: Names, dataset: Dataset) -> Iterator[Item]:
    notes: set[str] = set()
    empty = 0
    for pair in pairs:
        text = None if pair.labels is None else read_text(pair.labels)
        if text is not None:
            refuse_dota_file(text, str(pair.labels))
        width, height = _size(pair, opts)
        item = Item(key=pair.key, fields=_fields(pair, width, height), width=width, height=height)
        if pair.labels is None or text is None:
            empty += 1
        else:
            rows = FileRows(
                str(pair.labels), width, height, names, opts.kind, opts.bad_rows, dataset.dropped
            )
            item.instances = rows.instances(text)
            for note in sorted(rows.notes - notes):
                dataset.notes.append(note)
            notes |= rows.notes
        yield item
    if empty:
        dataset.notes.append(
            f"{empty} image(s) have no label file (nothing detected): their tasks have no prelabels"
        )


def _size(pair: Pair, opts: YoloOptions) -> tuple[int, int]:
    if opts.image_size is not None:
        return opts.image_size
    if pair.image is None:
        raise InputError(
            "no image found for this label file (looked beside it in the Ultralytics layout); "
            "pass --images DIR or --image-size WxH",
            path=pair.labels,
        )
    try:
        with Image.open(pair.image) as image:  # the header only
            width, height = image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read image header: {exc}", path=pair.image) from None
    return int(width), int(height)


def _fields(pair: Pair, width: int, height: int) -> dict[str, object]:
    name = pair.image.name if pair.image is not None else pair.key.rsplit("/", 1)[-1]
    file_name = pair.key.rsplit("/", 1)[0] + "/" + name if "/" in pair.key else name
    return {
        "file_name": file_name,
        "stem": pair.key.rsplit("/", 1)[-1],
        "id": pair.key,
        "width": width,
        "height": height,
    }


# --- pairing -------------------------------------------------------------------------------


def find_pairs(root: Path, opts: YoloOptions, skip: set[Path] | None = None) -> list[Pair]:
    """The tasks under one LABELS_DIR, in path order (files in ``skip``, such as the names
    file, are not label files)."""
    labels_root = root / "labels" if (root / "labels").is_dir() else root
    images_root = Path(opts.images) if opts.images else _layout_images(root, labels_root)
    if images_root is not None:
        return _by_images(images_root, labels_root, skip or set())
    return [
        Pair(_key(path, labels_root), path, _sibling_image(path))
        for path in _label_files(labels_root, skip or set())
    ]


def _layout_images(root: Path, labels_root: Path) -> Path | None:
    """The image folder of a dataset root (``root/images``) or of a predict run folder
    (images beside ``labels/``); None for a plain labels folder."""
    if labels_root == root:
        return root if _images_in(root) else None
    if (root / "images").is_dir():
        return root / "images"
    return root


def _images_in(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())


def _label_files(folder: Path, skip: set[Path]) -> list[Path]:
    if not folder.is_dir():
        return []
    files = (
        p
        for p in folder.rglob("*.txt")
        if p.is_file() and p.name not in NOT_LABELS and p.resolve() not in skip
    )
    return sorted(files)


def _key(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return relative[: -len(path.suffix)] if path.suffix else relative


def _by_images(images_root: Path, labels_root: Path, skip: set[Path]) -> list[Pair]:
    pairs: dict[str, Pair] = {}
    for image in sorted(images_root.rglob("*")):
        if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
            continue
        if labels_root in image.parents and labels_root != images_root:
            continue
        key = _key(image, images_root)
        if key in pairs:
            raise InputError(
                f"two images for one label file: {pairs[key].image} and {image}",
                path=images_root,
            )
        label = labels_root / f"{key}.txt"
        pairs[key] = Pair(key, label if label.is_file() else None, image)
    for label in _label_files(labels_root, skip):
        key = _key(label, labels_root)
        if key not in pairs:
            pairs[key] = Pair(key, label, None)
    return [pairs[k] for k in sorted(pairs)]


def _sibling_image(label: Path) -> Path | None:
    """The image of ``label`` in the Ultralytics layout, if it exists."""
    parts = label.parts
    folders: list[Path] = []
    if "labels" in parts[:-1]:
        at = len(parts) - 2 - parts[:-1][::-1].index("labels")
        folders.append(Path(*parts[:at], "images", *parts[at + 1 : -1]))
    if label.parent.name == "labels":
        folders.append(label.parent.parent)
    stem = label.name[: -len(label.suffix)]
    for folder in folders:
        found = [
            p
            for p in (folder.iterdir() if folder.is_dir() else ())
            if p.suffix.lower() in IMAGE_SUFFIXES and p.name[: -len(p.suffix)] == stem
        ]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(f"several images for this label file: {sorted(found)}", path=label)
    return None
