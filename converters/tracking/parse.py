"""Parsing tracking text files into number arrays: a polars fast path for regular
comma-separated files, and a checked per-line path that names the bad line."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prelabel.converters.text import read_text
from prelabel.converters.tracking.common import BadRows, FloatArray, IntArray, reject
from prelabel.errors import InvalidAnnotationError
from prelabel.model import Dropped

# --- parsing ------------------------------------------------------------------------------


class LineTokens:
    """The fields of a file's lines as it writes them, for messages that quote a value (a
    parsed float would print ``1e+20`` or, cast, ``-9223372036854775808``). The file is
    read again on the first call only."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lines: list[str] | None = None

    def get(self, line: int, column: int) -> str:
        """Field ``column`` (0-based) of line ``line`` (1-based), comma or space separated."""
        if self._lines is None:
            self._lines = read_text(self.path).split("\n")
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        parts = [p.strip() for p in text.split(",")] if "," in text else text.split()
        return parts[column] if column < len(parts) else "?"


def sniff_delimiter(text: str) -> str | None:
    """``","`` when the first non-blank line has a comma, else None (whitespace)."""
    for line in text.split("\n", 20)[:20]:
        if line.strip():
            return "," if "," in line else None
    return ","


def fast_parse(text: str, delimiter: str | None, ncols: int) -> FloatArray | None:
    """All rows as an ``(n, ncols)`` float array, or None when any line is irregular.

    Uses numpy's C text parser on the whole file; the slow per-line parser runs only when
    this fails, to name the bad line.
    """
    body = text.rstrip("\n")
    if not body or "\n\n" in body or body.startswith("\n"):
        return None
    nrows = body.count("\n") + 1
    if delimiter == ",":
        if body.count(",") != nrows * (ncols - 1):
            return None
        fast = polars_parse(body, ncols, nrows)
        if fast is not None:
            return fast
        flat = body.replace("\n", ",")
    else:
        flat = body
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(flat, sep="," if delimiter else " ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != nrows * ncols:
        return None
    return values.reshape(nrows, ncols)


def quick_table(
    path: str, names_for: Mapping[int, Sequence[str]]
) -> tuple[FloatArray, IntArray] | None:
    """A regular comma-separated ASCII file (no blank line, one column count) parsed from its
    bytes by polars, without a text copy: ``(rows, line numbers)``, or None to take the
    checked text path (which names bad lines)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None  # the text path raises the error
    if data.startswith(b"\xef\xbb\xbf") or b"\r" in data:
        data = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r", b"")
    end = len(data)
    while end and data[end - 1] == 10:
        end -= 1
    if not end or end < len(data) - 1 or data.startswith(b"\n") or not data.isascii():
        return None
    if data.find(b'"', 0, end) >= 0:  # a blank line breaks the comma count below
        return None
    first = data[: data.find(b"\n", 0, end)] if data.find(b"\n", 0, end) >= 0 else data[:end]
    ncols = first.count(b",") + 1
    nrows = data.count(b"\n", 0, end) + 1
    if ncols not in names_for or data.count(b",", 0, end) != nrows * (ncols - 1):
        return None
    values = polars_columns(data, ncols, nrows)
    del data
    if values is None:
        return None
    return values, np.arange(1, nrows + 1, dtype=np.int64)


def polars_frame(data: bytes, ncols: int, nrows: int | None) -> Any:
    """The rows as a polars frame of Float64 columns, or None when a field is not a number
    (or it has not ``nrows`` rows, when given)."""
    import polars as pl

    schema = {f"c{i}": pl.Float64 for i in range(ncols)}
    try:
        frame = pl.read_csv(data, has_header=False, schema=schema)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if (nrows is not None and frame.height != nrows) or any(frame.null_count().row(0)):
        return None
    return frame


# bytes of CSV text parsed per polars call: polars keeps the memory it allocates, so parsing
# a few MB at a time into one numpy array holds its arena at a few MB, not a whole file's
PARSE_BYTES = 4 << 20


def polars_columns(data: bytes, ncols: int, nrows: int) -> FloatArray | None:
    """The rows of ``data`` (comma-separated numbers, ``nrows`` lines) as an ``(nrows,
    ncols)`` Fortran-order array, parsed by polars a block of lines at a time; None when a
    field is not a number or the line count differs."""
    out: FloatArray = np.empty((nrows, ncols), dtype=np.float64, order="F")
    end = len(data)
    while end and data[end - 1] == 10:
        end -= 1
    start = row = 0
    while start < end:
        stop = data.find(b"\n", min(start + PARSE_BYTES, end), end)
        stop = end if stop < 0 else stop
        frame = polars_frame(data[start:stop], ncols, None)
        count = 0 if frame is None else frame.height
        if frame is None or row + count > nrows:
            return None
        for i, name in enumerate(frame.columns):
            out[row : row + count, i] = frame.get_column(name).to_numpy()
        row, start = row + count, stop + 1
    return out if row == nrows else None


def polars_parse(body: str, ncols: int, nrows: int) -> FloatArray | None:
    """Comma-separated rows parsed by polars' CSV reader (several times faster than numpy's
    text parser on a million rows), or None when any field is not a plain number."""
    return polars_columns(body.encode(), ncols, nrows)


def parse_line(line: str, delimiter: str | None, names: Sequence[str]) -> list[float] | str:
    """One line's numbers, or the reason it is unusable."""
    parts = [p.strip() for p in (line.split(delimiter) if delimiter else line.split())]
    if len(parts) != len(names):
        return f"expected {len(names)} columns, got {len(parts)}"
    out = []
    for name, part in zip(names, parts, strict=False):
        try:
            out.append(float(part))
        except ValueError:
            return f"{name} {part!r} is not a number"
    return out


def slow_parse(
    path: str,
    text: str,
    delimiter: str | None,
    names: Sequence[str],
    bad_rows: BadRows,
    dropped: list[Dropped],
) -> tuple[FloatArray, IntArray]:
    """Per-line parse: rows that do not parse are an error or dropped (with the line)."""
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parsed = parse_line(line, delimiter, names)
        if isinstance(parsed, str):
            reject(path, number, parsed, bad_rows, dropped)
            continue
        rows.append(parsed)
        lines.append(number)
    array = np.array(rows, dtype=np.float64).reshape(-1, len(names))
    return array, np.array(lines, dtype=np.int64)


def parse_table(
    path: str,
    text: str,
    names_for: Mapping[int, Sequence[str]],
    bad_rows: BadRows,
    dropped: list[Dropped],
    *,
    delimiter: str | None,
) -> tuple[FloatArray, IntArray]:
    """Parse a whole file whose column count picks the names: (rows, 1-based line numbers)."""
    first = next((ln for ln in text.split("\n", 50) if ln.strip()), None)
    if first is None:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    ncols = len(first.split(delimiter) if delimiter else first.split())
    if ncols not in names_for:
        known = ", ".join(str(n) for n in sorted(names_for))
        raise InvalidAnnotationError(
            f"{ncols} columns; this reader knows rows of {known} columns",
            path=path,
            location="line 1",
        )
    values = fast_parse(text, delimiter, ncols)
    if values is not None:
        return values, np.arange(1, len(values) + 1, dtype=np.int64)
    return slow_parse(path, text, delimiter, names_for[ncols], bad_rows, dropped)


def row_problems(values: FloatArray, names: Sequence[str]) -> dict[int, str]:
    """Row -> which of the first ``len(names)`` columns is not a finite number (rows
    without a problem left out)."""
    out: dict[int, str] = {}
    bad = ~np.isfinite(values[:, : len(names)])
    for r in np.flatnonzero(bad.any(axis=1)).tolist():
        c = int(np.flatnonzero(bad[r])[0])
        out[r] = f"{names[c]} is {values[r, c]} (not a finite number)"
    return out
