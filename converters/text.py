"""Reading a text input (a tracking file, a class list, a colour map, a manifest, a
seqinfo.ini, a YOLO names or label file): one place that decodes it, so every reader
accepts a UTF-8 byte order mark and refuses bytes that are not UTF-8 alike, naming the file
(exit 3) instead of failing inside a decoder."""

from __future__ import annotations

import os
from pathlib import Path

from prelabel.errors import InputError


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text: UTF-8, a leading BOM and carriage returns removed.

    Raises:
        InputError: the file cannot be read, or is not UTF-8 (naming the first bad byte).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        return data.decode("utf-8-sig").replace("\r", "")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=path) from None
