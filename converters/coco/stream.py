"""A top-level JSON list (a COCO results list of any size) read a bounded piece at a time.

Text is read about :data:`CHUNK_BYTES` at a time and cut after a ``}`` that a ``,`` and a
``{`` follow. Such a cut is between two elements exactly when the text before it, from an
element's start, parses as a list: a ``}`` inside a string or closing a nested object leaves
that text unparsable. So parts are taken two ways:

* :meth:`ListReader.part`: the longest run of whole elements in the text read, parsed
  here (the cut moves back until the text parses): what one process reads;
* :func:`pieces`: byte ranges of the file cut at the first such place past every
  :data:`CHUNK_BYTES`, found by reading a little around each cut, not parsed: what worker
  processes read and parse themselves (:mod:`prelabel.converters.coco.grouping`). A piece
  that does not parse is read again from its start by a :class:`ListReader` there.

Text that parses is within :data:`MAX_DEPTH` (orjson's own limit); text a
:class:`ListReader` cannot parse goes through a :class:`NestingGuard` before more is read, so
a file nested deeper stops there, the byte named, with no more than a part in memory (a worker
parses its piece and leaves one that does not parse to the reading process). A UTF-8 BOM is
read as no BOM.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from prelabel.converters.coco.common import load_json
from prelabel.converters.coco.nesting import MAX_DEPTH, NestingGuard, TooDeep
from prelabel.errors import InputError

# about this much JSON text is parsed at once
CHUNK_BYTES = 1 << 20
# a cut is looked for this many bytes at a time, with this many more to see what follows
_CUT_BLOCK, _CUT_TAIL = 1 << 16, 1 << 10
_CUT = re.compile(rb"\}[ \t\r\n]*(?P<comma>,)[ \t\r\n]*\{")
# below this size a JSON error is located by line/column with a full parse
_LOCATE_LIMIT = 64 << 20
_WS = b" \t\r\n"


class ListReader:
    """The elements of the JSON list in ``fh``, a part at a time: from its start, or (with
    ``head=False``) from an element's start in the middle, ``fh`` standing there.

    Raises (from any method):
        InputError: the file is not a JSON list (located by line and column when small).
        TooDeep: the file nests deeper than :data:`MAX_DEPTH` (the caller names the result).
    """

    def __init__(
        self, path: str, fh: IO[bytes], *, head: bool = True, index: int = 0, offset: int = 0
    ) -> None:
        """``offset``: where ``fh`` stands in the file (an element's start, with ``head=False``)."""
        self.path = path
        self.fh = fh
        self.index = index  # elements before the next part
        self.finished = False  # the closing text was taken
        self._eof = False
        self._text = b""
        self._read = offset  # the file offset after the text read
        if head:
            text = fh.read(CHUNK_BYTES)
            self._read += len(text)
            self._text = text[len(codecs.BOM_UTF8) :] if text.startswith(codecs.BOM_UTF8) else text
            self._text = self._text.lstrip(_WS)
            if not self._text.startswith(b"["):
                raise json_error(path, -1, ValueError("expected a JSON list"))
            self._text = self._text[1:]

    @property
    def offset(self) -> int:
        """The file offset of the text not taken yet (after the last part's comma)."""
        return self._read - len(self._text)

    def part(self) -> list[Any] | None:
        """The next run of whole elements, parsed (possibly empty at the end), or None when
        the list is over."""
        want = CHUNK_BYTES
        while not self.finished:
            self._fill(want)
            if self._eof:
                part = self._rest()
                self._text, self.finished = b"", True
            else:
                found, self._text = _parse_prefix(self._text)
                if found is None:  # no element boundary parsed: take more text, if it may
                    self._check_nesting()
                    want *= 2
                    continue
                part = found
            self.index += len(part)
            return part
        return None

    def _fill(self, want: int) -> None:
        while len(self._text) < want and not self._eof:
            more = self.fh.read(CHUNK_BYTES)
            self._read += len(more)
            self._text, self._eof = self._text + more, not more

    def _rest(self) -> list[Any]:
        """The last elements: the text is what follows the last cut, up to the closing ``]``."""
        try:
            part = orjson.loads(b"[" + self._text)
        except orjson.JSONDecodeError as exc:
            self._check_nesting()
            raise json_error(self.path, self.index - 1, exc) from None
        if not isinstance(part, list):
            raise json_error(self.path, self.index - 1, ValueError("expected a JSON list"))
        return part

    def _check_nesting(self) -> None:
        """Raise :class:`TooDeep` if the text, which did not parse, nests past the limit
        (it starts at an element's start: one level deep, outside any string)."""
        NestingGuard(io.BytesIO(), depth=1, offset=self.offset).check(self._text)


def list_start(path: str) -> int:
    """The offset of a JSON list's first element (after a BOM, blanks and ``[``).

    Raises:
        InputError: the file does not start a JSON list.
    """
    with open(path, "rb") as raw:
        reader = ListReader(path, raw)
        return reader.offset


def pieces(path: str, start: int) -> Generator[tuple[int, int, bool], None, None]:
    """Byte ranges ``(offset, length, last)`` of the file from ``start`` (an element's
    start): each but the last ends with the comma of the first cut past :data:`CHUNK_BYTES`
    (a ``}``, a ``,``, a ``{``, blanks between), the last at the end of the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        fd = raw.fileno()
        while (comma := _next_cut(fd, start + CHUNK_BYTES, size)) is not None:
            yield start, comma + 1 - start, False
            start = comma + 1
        yield start, size - start, True  # (empty when the file ends at start: unparsable)


def _next_cut(fd: int, at: int, size: int) -> int | None:
    """The offset of the comma of the first cut at or after ``at``; None if there is none."""
    while at < size:
        block = os.pread(fd, _CUT_BLOCK + _CUT_TAIL, at)
        match = _CUT.search(block)  # the first; one starting in the tail is the next block's
        if match is not None and match.start() < _CUT_BLOCK:
            return at + match.start("comma")
        at += _CUT_BLOCK
    return None


def parse_piece(text: bytes, last: bool) -> list[Any] | None:
    """The elements of one of the :func:`pieces`, or None when it does not parse (its cut
    is not between elements, or the file is broken there)."""
    try:
        part = orjson.loads(b"[" + text) if last else orjson.loads(b"[" + text[:-1] + b"]")
    except orjson.JSONDecodeError:
        return None
    return part if isinstance(part, list) else None


def stream_chunks(path: str) -> Iterator[tuple[int, list[Any]]]:
    """(index of the first, objects) of a top-level JSON list, about :data:`CHUNK_BYTES` of
    text at a time (:meth:`ListReader.part`); empty parts are left out.

    Raises:
        InputError: the file is not a JSON list (located by line and column when small),
            or it nests too deeply.
    """
    with open(path, "rb") as raw:
        try:
            reader = ListReader(path, raw)
            while (part := reader.part()) is not None:
                if part:
                    yield reader.index - len(part), part
        except TooDeep as exc:
            raise too_deep(path, exc) from None


def too_deep(path: str, exc: TooDeep) -> InputError:
    """The error of a file nested deeper than :data:`MAX_DEPTH`: the result (the one after
    the last whole one, found by a streaming parse now that there is an error) and byte."""
    return InputError(
        f"JSON nested deeper than {MAX_DEPTH} levels (a result nests a few)",
        path=path,
        location=f"results[{_last_whole(path) + 1}], byte {exc.offset}",
    )


def _cuts(text: bytes) -> Iterator[int]:
    """Offsets of the commas that follow a ``}`` and precede a ``{`` (blanks between),
    last first."""
    end = len(text)
    while (close := text.rfind(b"}", 0, end)) >= 0:
        end = close
        comma = _skip(text, close + 1)
        if comma >= len(text) or text[comma] != ord(","):
            continue
        start = _skip(text, comma + 1)
        if start >= len(text) or text[start] != ord("{"):
            continue
        yield comma


def _parse_prefix(text: bytes) -> tuple[list[Any] | None, bytes]:
    """The longest run of whole elements at the start of ``text`` and the rest after its
    separating comma, or (None, text) when no boundary is found."""
    for comma in _cuts(text):
        try:
            part = orjson.loads(b"[" + text[:comma] + b"]")
        except orjson.JSONDecodeError:
            continue
        return part, text[comma + 1 :]
    return None, text


def _skip(text: bytes, at: int) -> int:
    while at < len(text) and text[at] in _WS:
        at += 1
    return at


def json_error(path: str, index: int, exc: Exception) -> InputError:
    """The error of a file that is not a JSON list: by line and column when it is small
    enough to parse whole again, else after the last result that parsed (found by a
    streaming parse, only now that there is an error)."""
    if Path(path).stat().st_size <= _LOCATE_LIMIT:
        load_json(path)  # raises with line and column
    index = max(index, _last_whole(path))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f"after results[{index}]" if index >= 0 else "results[0]"
    return InputError(f"invalid JSON: {first}", path=path, location=where)


def _last_whole(path: str) -> int:
    parsed = 0
    with open(path, "rb") as fh:
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            fh.seek(0)
        try:
            for _ in ijson.items(NestingGuard(fh), "item", use_float=True):
                parsed += 1
        except (ijson.JSONError, TooDeep):
            pass
    return parsed - 1
