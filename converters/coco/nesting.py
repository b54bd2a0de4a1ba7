"""A bound on how deeply a streamed JSON file nests, checked before the parser sees a byte.

ijson keeps a path of every open container: a file of ``[[[[...`` 80 KB long made it hold
gigabytes. :class:`NestingGuard` wraps the file ijson reads and tracks the depth of the bytes
it hands over (strings and escapes skipped, across read boundaries), so a file nested deeper
than :data:`MAX_DEPTH` stops at the first byte past it; :meth:`NestingGuard.check` follows
text read by other means (what the chunked reader could not parse). orjson has the same limit
of its own (from 3.9.15, the floor): text it parses nests no deeper.
"""

from __future__ import annotations

from typing import IO

import numpy as np

# orjson's own limit, so a file nests as deep streamed (results lists) as loaded whole
MAX_DEPTH = 1024
# the bytes that matter for depth; everything else is dropped before counting
_OTHER = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


class TooDeep(Exception):
    """The file nests deeper than :data:`MAX_DEPTH`; ``offset`` is the byte where it did."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels at byte {offset}")


class NestingGuard:
    """A binary file object (``read`` only) that raises :class:`TooDeep` past the limit."""

    def __init__(
        self, raw: IO[bytes], limit: int = MAX_DEPTH, *, depth: int = 0, offset: int = 0
    ) -> None:
        """``depth`` and ``offset``: where ``raw`` stands when it is read from the middle of
        a file (outside any string)."""
        self.raw = raw
        self.limit = limit
        self.depth = depth
        self.offset = offset  # bytes handed over before the current block
        self.in_string = False
        self.backslashes = b""  # a run of backslashes cut at the end of the last block

    def read(self, size: int = -1) -> bytes:
        block = self.raw.read(size)
        self.check(block)
        self.offset += len(block)
        return block

    def check(self, block: bytes) -> None:
        """Follow the depth through ``block`` (the bytes after everything checked so far)."""
        data = self.backslashes + block
        kept = data.rstrip(b"\\")
        self.backslashes = data[len(kept) :]
        if b'\\"' in kept:  # escaped quotes are inside strings: drop escapes, then them
            kept = kept.replace(b"\\\\", b"").replace(b'\\"', b"")
        marks = np.frombuffer(kept.translate(None, _OTHER), np.uint8)
        if marks.size == 0:
            return
        quotes = marks == ord('"')
        seen = np.cumsum(quotes, dtype=np.int64)
        outside = ((seen - quotes) & 1) == int(self.in_string)  # before each mark
        depth = self.depth + np.cumsum(np.where(outside, _STEP[marks], 0), dtype=np.int64)
        if int(depth.max()) > self.limit:
            raise TooDeep(self._where(block))
        self.depth = int(depth[-1])
        self.in_string ^= bool(seen[-1] & 1)

    def _where(self, block: bytes) -> int:
        """The byte where the limit was passed: found again byte by byte (once, on error)."""
        depth, in_string, escaped = self.depth, self.in_string, False
        for n, byte in enumerate(block):
            if in_string:
                if escaped:
                    escaped = False
                elif byte == 0x5C:  # backslash
                    escaped = True
                elif byte == 0x22:  # quote
                    in_string = False
            elif byte == 0x22:
                in_string = True
            elif byte in b"[{":
                depth += 1
                if depth > self.limit:
                    return self.offset + n
            elif byte in b"]}":
                depth -= 1
        return self.offset
