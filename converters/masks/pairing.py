"""Pairing mask PNGs with their images, for :mod:`prelabel.converters.masks.read`.

A mask finds its image either in an ``--images`` folder, indexed by stem, or through a
``--manifest`` (CSV, JSON or CamVid-style ``IMAGE MASK`` text lines) that may also give an
attachment URL; a manifest entry wins over the folder, and a manifest alone lists the masks
to read. Stems meet after their suffixes are stripped: ``--mask-suffix`` from mask stems,
``--image-suffix`` from image stems (``114_pred`` meets ``114_image``), then Cityscapes'
``_gtFine_*`` / ``_leftImg8bit`` (``aachen_000000_000019_gtFine_labelIds`` meets
``aachen_000000_000019_leftImg8bit``). Bad manifests raise
:class:`~prelabel.errors.InputError` naming the line or entry.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from prelabel.converters.text import read_text
from prelabel.errors import InputError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
# file-name suffixes that differ between a mask and its image (Cityscapes)
PAIR_SUFFIXES = (
    "_gtFine_instanceIds",
    "_gtFine_labelIds",
    "_gtFine_color",
    "_gtCoarse_instanceIds",
    "_gtCoarse_labelIds",
    "_leftImg8bit",
)


def pair_key(stem: str, suffix: str | None = None) -> str:
    """The stem a mask and its image share: ``suffix`` (the user's), then a Cityscapes
    suffix, removed."""
    if suffix and stem.endswith(suffix) and stem != suffix:
        stem = stem[: -len(suffix)]
    for known in PAIR_SUFFIXES:
        if stem.endswith(known):
            return stem[: -len(known)]
    return stem


@dataclass(slots=True)
class Pairing:
    """Mask -> image path (and attachment) from an image folder and/or a manifest."""

    folder: Path | None = None
    by_stem: dict[str, Path] = field(default_factory=dict)
    manifest: dict[str, tuple[Path | None, str | None]] = field(default_factory=dict)
    mask_suffix: str | None = None
    # the masks a manifest lists, in its order (read when no MASKS argument is given)
    listed: list[Path] = field(default_factory=list)

    def scanned(self, path: Path) -> bool:
        """Whether a PNG found in a MASKS folder is a mask to read: with a manifest, only
        the masks it lists (the folder may hold the images too)."""
        return not self.manifest or str(path.resolve()) in self.manifest

    def lookup(self, mask: Path) -> tuple[Path | None, str | None]:
        for key in (str(mask.resolve()), mask.name, mask.stem):
            if key in self.manifest:
                return self.manifest[key]
        if self.folder is None:
            return None, None
        key = pair_key(mask.stem, self.mask_suffix)
        image = self.by_stem.get(key)
        if image is None:
            hint = "" if self.mask_suffix else " (--mask-suffix / --image-suffix strip suffixes)"
            raise InputError(f"no image with stem {key!r} in {self.folder}{hint}", path=mask)
        return image, None


def build_pairing(
    images: str | None,
    manifest: str | None,
    *,
    mask_suffix: str | None = None,
    image_suffix: str | None = None,
) -> Pairing:
    """Index an image folder by stem and read a manifest (CSV, JSON or CamVid-style text)."""
    pairing = Pairing(mask_suffix=mask_suffix)
    if images is not None:
        folder = Path(images)
        if not folder.is_dir():
            raise InputError("--images is not a folder", path=images)
        pairing.folder = folder
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                pairing.by_stem.setdefault(pair_key(p.stem, image_suffix), p)
    if manifest is not None:
        pairing.manifest, pairing.listed = read_manifest(Path(manifest))
    return pairing


def read_manifest(path: Path) -> tuple[dict[str, tuple[Path | None, str | None]], list[Path]]:
    """Mask -> (image, attachment) from a manifest, and the masks it lists in its order.

    CSV with a header naming ``mask`` and ``image`` (optional ``attachment``/``url``);
    JSON ``{mask: image}`` or ``[{"mask", "image", "attachment"?}]``; or text lines
    ``IMAGE MASK`` (CamVid's train.txt, paths relative to the manifest's folder even when
    they start with ``/``).

    Raises:
        InputError: the manifest cannot be read; names the line or entry.
    """
    if not path.is_file():
        raise InputError("no such manifest file", path=path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix == ".json":
        rows = _json_rows(path)
    else:
        rows = _text_rows(path)
    out: dict[str, tuple[Path | None, str | None]] = {}
    listed: list[Path] = []
    for mask, image, attachment in rows:
        mask_path = _rel(path.parent, mask)
        image_path = _rel(path.parent, image) if image else None
        if str(mask_path.resolve()) not in out:
            listed.append(mask_path)
        out[str(mask_path.resolve())] = (image_path, attachment)
        out.setdefault(mask_path.name, (image_path, attachment))
    if not listed:
        raise InputError("the manifest lists no masks", path=path)
    return out, listed


def _rel(base: Path, name: str) -> Path:
    p = Path(name)
    if p.is_absolute() and p.exists():
        return p
    return base / name.lstrip("/\\")


Row = tuple[str, str | None, str | None]


def _csv_rows(path: Path) -> list[Row]:
    with io.StringIO(read_text(path), newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "mask" not in reader.fieldnames:
            raise InputError("CSV manifest needs a header with a 'mask' column", path=path)
        rows: list[Row] = []
        for n, rec in enumerate(reader, 2):
            if not rec.get("mask"):
                raise InputError("empty 'mask' column", path=path, location=f"line {n}")
            url = rec.get("attachment") or rec.get("url") or None
            rows.append((rec["mask"], rec.get("image") or None, url))
        return rows


def _json_rows(path: Path) -> list[Row]:
    try:
        data = orjson.loads(path.read_bytes().removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None
    if isinstance(data, dict):
        return [(str(k), str(v), None) for k, v in data.items()]
    rows: list[Row] = []
    for i, rec in enumerate(data if isinstance(data, list) else []):
        if not isinstance(rec, dict) or not rec.get("mask"):
            raise InputError("entry has no 'mask'", path=path, location=f"[{i}]")
        url = rec.get("attachment") or rec.get("url")
        rows.append((str(rec["mask"]), rec.get("image"), url))
    return rows


def _text_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError(
                f"expected 'IMAGE MASK', got {line.strip()!r}", path=path, location=f"line {n}"
            )
        rows.append((parts[1], parts[0], None))
    return rows
