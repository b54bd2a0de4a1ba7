"""Hypothesis strategies that turn a real input file into a hostile one.

Each takes the bytes of a seed file (a corpus file of ``fixtures/fuzz/`` or a real file of
``../shared/data``) and draws a mutated version, aimed at what readers trust: JSON documents
get values replaced at random paths (huge, negative, fractional, non-finite numbers, wrong
types, path-like and over-long strings, deep nesting), keys deleted, entries duplicated;
tracking text gets fields replaced by hostile tokens, lines dropped, doubled or cut, a BOM
or CRLF; PNGs are redrawn in another mode and depth, get their header's size rewritten,
bytes flipped or the file cut. Any of them may also be cut short or get random bytes.

The token ``@ABS@`` in a drawn value stands for an absolute folder outside ``--out`` (the
test fills it in), so a write that follows an absolute path shows up there.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image

ABS = "@ABS@"
# values aimed at ids, sizes, coordinates, counts, names and flags
HOSTILE: list[Any] = [
    0, -1, 1, 2, 10001, 40000, 50000, 2**31, 2**53 + 1, 2**63, 2**64, 10**20, -(10**20),
    1e20, -1e20, 1e308, 1e-320, 0.5, -0.0, True, False, None, "", "0", "-1", "1e20", "nan",
    "../../../escaped", f"{ABS}/escaped", "..", ".", "a/../../b", "é" * 300, "\x00", "\n",
    "${HOME}", "{file_name}", "%2e%2e/x", [], {}, [[]], [0], [1, 2], [-1, -1, -1, -1],
    [1e20, 1e20, 1e20, 1e20], {"size": [50000, 50000], "counts": "0"},
    {"size": [2, 2], "counts": [1, 1]}, {"size": [2, 2], "counts": "ÿÿ"},
]  # fmt: skip
TOKENS = [
    "", "-1", "0", "1e20", "-1e20", "nan", "inf", "-inf", "1e308", "9" * 30, "0x10", "1_0",
    "１", "1.5", "2147483648", "9223372036854775808", "18446744073709551616", "10000000",
    "1e-320", "Car", "DontCare", "../../..", "é", "\x00",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@st.composite
def _path(draw: st.DrawFn, doc: Any) -> list[Any]:
    """A path of keys / indices into ``doc`` (possibly the root)."""
    path: list[Any] = []
    node = doc
    while isinstance(node, (dict, list)) and node and draw(st.integers(0, 4)) > 0:
        key = (
            draw(st.sampled_from(list(node)))
            if isinstance(node, dict)
            else draw(st.integers(0, len(node) - 1))
        )
        path.append(key)
        node = node[key]
    return path


def _mutate_at(doc: Any, path: list[Any], op: str, value: Any) -> Any:
    if not path:
        return value if op == "replace" else [doc, doc] if op == "duplicate" else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if op == "replace":
        parent[key] = value
    elif op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif op == "wrap":
        parent[key] = [parent[key]] if not isinstance(parent[key], list) else {"x": parent[key]}
    return doc


@st.composite
def json_document(draw: st.DrawFn, seed: bytes) -> bytes:
    """A mutated JSON document (``seed``), maybe then mutated as bytes."""
    doc = json.loads(seed)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(_path(doc))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "wrap"]))
        doc = _mutate_at(doc, path, op, draw(values))
    data = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
    return draw(raw_bytes(data, rate=8))


@st.composite
def raw_bytes(draw: st.DrawFn, data: bytes, rate: int = 2) -> bytes:
    """``data``, or (one time in ``rate``) cut short, with bytes changed or inserted."""
    if not data or draw(st.integers(0, rate - 1)):
        return data
    op = draw(st.sampled_from(["cut", "flip", "insert", "deep"]))
    at = draw(st.integers(0, len(data) - 1))
    if op == "cut":
        return data[:at]
    if op == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if op == "deep":
        return data[:at] + b"[" * draw(st.integers(1, 3000)) + data[at:]
    return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]


@st.composite
def tracking_text(draw: st.DrawFn, seed: bytes) -> bytes:
    """A mutated MOT / KITTI text file (``seed``)."""
    text = seed.decode("utf-8", errors="replace")
    comma = "," in text.splitlines()[0] if text.strip() else False
    sep = "," if comma else " "
    lines = [line.split(sep) for line in text.splitlines()] or [[""]]
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["field", "field", "field", "drop", "double", "short", "long"]))
        if op == "field" and lines[n]:
            k = draw(st.integers(0, len(lines[n]) - 1))
            lines[n][k] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
        elif op == "drop" and len(lines) > 1:
            del lines[n]
        elif op == "double":
            lines.insert(n, list(lines[n]))
        elif op == "short" and lines[n]:
            lines[n] = lines[n][: draw(st.integers(0, len(lines[n]) - 1))]
        elif op == "long":
            lines[n] = [*lines[n], draw(st.sampled_from(TOKENS))]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    data = end.join(sep.join(fields) for fields in lines).encode(errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = "\ufeff".encode() + data
    return draw(raw_bytes(data, rate=6))


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def with_size(png: bytes, width: int, height: int) -> bytes:
    """``png`` with the size in its header rewritten (the checksum made right again)."""
    if len(png) < 33 or png[12:16] != b"IHDR":
        return png
    header = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + _chunk(b"IHDR", header) + png[33:]


@st.composite
def png_image(draw: st.DrawFn, seed: bytes) -> bytes:
    """A mask PNG: the seed redrawn in another mode and depth with other values, its
    header's size rewritten, or its bytes mutated."""
    op = draw(st.sampled_from(["redraw", "redraw", "size", "bytes"]))
    if op == "bytes":
        return draw(raw_bytes(seed, rate=1))
    if op == "size":
        side = st.sampled_from([0, 1, 2, 10001, 40000, 2**31 - 1, 2**32 - 1]) | st.integers(1, 64)
        return with_size(seed, draw(side), draw(side))
    mode = draw(st.sampled_from(["L", "P", "I;16", "RGB", "1", "LA", "RGBA"]))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    pool = st.sampled_from([0, 1, 2, 3, 255, 1000, 1001, 2000, 65535, 256, 257])
    palette = np.array(draw(st.lists(pool, min_size=1, max_size=6)))
    picks = st.lists(st.integers(0, len(palette) - 1), min_size=h * w, max_size=h * w)
    grid = palette[np.array(draw(picks))].reshape(h, w)
    return _encode(grid, mode)


def _encode(grid: np.ndarray, mode: str) -> bytes:
    if mode == "RGB" or mode == "RGBA":
        rgb = np.stack([grid & 255, (grid >> 8) & 255, grid % 7], axis=-1).astype(np.uint8)
        image = Image.fromarray(rgb, "RGB").convert(mode)
    elif mode == "I;16":
        image = Image.fromarray(grid.astype(np.uint16))
    else:
        image = Image.fromarray((grid & 255).astype(np.uint8), "L").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
