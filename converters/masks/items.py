"""Items for :mod:`prelabel.converters.masks.read`: one per mask file, binary folder or video.

Each item is built from file headers only (sizes checked against the paired image, a
panoptic JSON's image entry, or the first frame of a video); its ``raster`` is a partial
that calls the kind's builder in :mod:`prelabel.converters.masks.kinds` when the writer asks.
The partial is the raster's recipe, not a closure: the file, the kind, the reader's options
narrowed to this file, and the item's own notes and dropped lists, so an item pickles small
and reads its PNG in whichever process converts it (``prelabel convert --workers N``).
:func:`mask_items` walks the MASKS arguments (files, folders searched recursively, per-image
folders of binary masks, or per-video folders of frames; with none, the masks a manifest
lists) and gives each item a unique key. An item's ``file_name`` is its image's: a mask with
no paired image has none (an attachment URL is then built from ``{stem}`` or ``{key}``, never
from the mask file's own name). A folder without a PNG is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prelabel.converters.masks.decode import header
from prelabel.converters.masks.kinds import RASTERS, Spec, detect_kind, raster_binary
from prelabel.converters.masks.pairing import Pairing
from prelabel.errors import InputError
from prelabel.model import Dropped, Frame, IndexRaster, Item
from prelabel.tracks.timing import frame_timestamp


def _load(
    path: Path, kind: str, spec: Spec, notes: list[str], dropped: list[Dropped]
) -> IndexRaster:
    return RASTERS[kind](
        path, Spec(**{**_spec_dict(spec), "kind": kind, "dropped": dropped}), notes
    )


def _narrowed(spec: Spec, stem: str) -> Spec:
    """``spec`` with a panoptic JSON cut down to the one file ``stem`` (the rest is not
    needed to read it, and would be pickled with every item)."""
    if spec.panoptic is None:
        return spec
    return Spec(**{**_spec_dict(spec), "panoptic": spec.panoptic.only(stem), "dropped": []})


def _spec_dict(spec: Spec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in Spec.__dataclass_fields__}


def _check_size(mask: Path, size: tuple[int, int], other: tuple[int, int], what: str) -> None:
    if size != other:
        raise InputError(
            f"mask is {size[0]}x{size[1]} but {what} is {other[0]}x{other[1]} (width x height)",
            path=mask,
        )


def _fields(mask: Path, spec: Spec, pairing: Pairing, size: tuple[int, int]) -> dict[str, Any]:
    image, attachment = pairing.lookup(mask)
    fields: dict[str, Any] = {"stem": mask.stem, "mask": str(mask)}
    if image is not None:
        if not image.is_file():
            raise InputError(f"image {image} does not exist", path=mask)
        _, iw, ih = header(image)
        _check_size(mask, size, (iw, ih), f"image {image}")
        fields.update(file_name=image.name, stem=image.stem, image=str(image))
    if spec.panoptic is not None and mask.stem in spec.panoptic.images:
        info = spec.panoptic.images[mask.stem]
        if "width" in info and "height" in info:
            where = f"image {info.get('file_name')} in {spec.panoptic.path.name}"
            _check_size(mask, size, (int(info["width"]), int(info["height"])), where)
        fields.update(
            {k: info[k] for k in ("file_name", "coco_url", "flickr_url", "id") if info.get(k)}
        )
    if attachment:
        fields["attachment"] = attachment
    return fields


def mask_item(
    mask: Path, spec: Spec, pairing: Pairing, key: str, owner: Item | None = None
) -> Item:
    """One image item whose raster decodes ``mask`` when called; its notes and dropped
    objects go to ``owner``'s lists (a video frame's to its video item), by default its own."""
    mode, w, h = header(mask)
    kind = detect_kind(mode, spec)
    if kind in ("panoptic", "panoptic2ch") and spec.panoptic is None:
        raise InputError(f"--kind {kind} needs --panoptic JSON", path=mask)
    fields = _fields(mask, spec, pairing, (w, h))
    item = Item(key=key, fields=fields, width=w, height=h)
    owner = owner or item
    recipe = _narrowed(spec, mask.stem)
    item.raster = functools.partial(_load, mask, kind, recipe, owner.notes, owner.dropped)
    return item


def binary_item(folder: Path, spec: Spec, pairing: Pairing) -> Item:
    """One image item from a folder of binary per-instance PNGs."""
    files = sorted(folder.glob("*.png"))
    if not files:
        raise InputError("no PNG masks in the folder", path=folder)
    sizes = {header(f)[1:] for f in files}
    if len(sizes) != 1:
        raise InputError(f"binary masks of one image differ in size: {sorted(sizes)}", path=folder)
    w, h = sizes.pop()
    probe = folder.with_suffix(".png")
    fields = _fields(probe, spec, pairing, (w, h))
    fields["mask"] = str(folder)
    item = Item(key=folder.name, fields=fields, width=w, height=h)
    item.raster = functools.partial(raster_binary, files, _narrowed(spec, probe.stem), item.notes)
    return item


def video_item(folder: Path, spec: Spec, pairing: Pairing) -> Item:
    """One video item: the folder's masks in name order are its frames."""
    masks = sorted(folder.glob("*.png"))
    if not masks:
        raise InputError("no PNG masks in the folder", path=folder)
    frames: list[Frame] = []
    size: tuple[int, int] | None = None
    video = Item(key=folder.name, fps=spec.fps)  # frames note and drop into the video item
    for index, mask in enumerate(masks):
        frame_item = mask_item(mask, spec, pairing, mask.stem, owner=video)
        this = (frame_item.width or 0, frame_item.height or 0)
        if size is not None:
            _check_size(mask, this, size, f"frame {masks[0].name}")
        size = this
        number = int(mask.stem) if mask.stem.isdigit() else index
        frames.append(
            Frame(
                index,
                number,
                fields=frame_item.fields,
                raster=frame_item.raster,
                timestamp=frame_timestamp(index, spec.fps),
            )
        )
    assert size is not None
    video.fields = {"sequence": folder.name, "stem": folder.name, "file_name": folder.name}
    video.width, video.height, video.frames = size[0], size[1], frames
    return video


def _is_png(path: Path) -> bool:
    return path.suffix.lower() == ".png" and path.is_file()


def _mask_files(paths: Sequence[str], pairing: Pairing) -> Iterator[Path]:
    if not paths:  # the manifest lists them
        for mask in pairing.listed:
            if not mask.is_file():
                raise InputError("no such mask file (listed in the manifest)", path=mask)
            yield mask
        return
    for p in map(Path, paths):
        if p.is_dir():
            found = [f for f in sorted(p.rglob("*")) if _is_png(f) and pairing.scanned(f)]
            if not found:
                listed = " listed in the manifest" if pairing.manifest else ""
                raise InputError(f"no PNG masks{listed} in the folder", path=p)
            yield from found
        elif p.is_file():
            yield p
        else:
            raise InputError("no such mask file or folder", path=p)


def _unique_key(path: Path, seen: set[str]) -> str:
    key = path.stem
    if key in seen:
        key = f"{path.parent.name}/{path.stem}"
    seen.add(key)
    return key


def mask_items(paths: Sequence[str], spec: Spec, pairing: Pairing) -> Iterator[Item]:
    """The items of the MASKS arguments: one per video folder, binary folder or mask file."""
    if spec.video:
        for p in map(Path, paths):
            if not p.is_dir():
                raise InputError(
                    "with --video each MASKS argument must be a folder of frames", path=p
                )
            yield video_item(p, spec, pairing)
        return
    if spec.kind == "binary":
        for p in map(Path, paths):
            subdirs = sorted(d for d in p.iterdir() if d.is_dir()) if p.is_dir() else []
            for d in subdirs or [p]:
                yield binary_item(d, spec, pairing)
        return
    seen: set[str] = set()
    for mask in _mask_files(paths, pairing):
        yield mask_item(mask, spec, pairing, _unique_key(mask, seen))
