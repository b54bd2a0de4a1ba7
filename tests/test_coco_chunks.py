"""COCO results lists are parsed a chunk at a time (orjson on about a megabyte of text, cut
between two results): whatever the results hold and however the file is laid out, the chunks
are the list, in order, and a broken file is an error naming where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prelabel.converters.coco import stream
from prelabel.errors import InputError

# strings that look like element boundaries, and nested objects that end like results do
TRICKY = st.sampled_from(["},{", "}, {", "}\n,\n{", "]", "[", "\\", '"', "{", "}", "", "é"])
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=5)), max_size=4).map("".join)
VALUE = st.recursive(
    # integers within 64 bits: orjson (like most JSON parsers) reads bigger ones as floats
    st.one_of(
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
        st.none(),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
RESULT = st.dictionaries(TEXT, VALUE, max_size=4)


def chunks_of(path: Path) -> list[tuple[int, list[Any]]]:
    return list(stream.stream_chunks(str(path)))


@settings(max_examples=150, deadline=None)
@given(items=st.lists(RESULT, max_size=12), indent=st.sampled_from([None, 1, 2]),
       size=st.sampled_from([8, 32, 200]))  # fmt: skip
def test_chunks_are_the_list_in_order(
    items: list[dict[str, Any]], indent: int | None, size: int, tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("c") / "r.json"
    path.write_text(json.dumps(items, indent=indent, ensure_ascii=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stream, "CHUNK_BYTES", size)
        got = chunks_of(path)
    assert [r for _, part in got for r in part] == items
    assert [first for first, _ in got] == [sum(len(p) for _, p in got[:n]) for n in range(len(got))]


def test_a_real_file_in_small_chunks(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared / "cocoapi/results/instances_val2014_fakesegm100_results.json"
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    got = chunks_of(path)
    assert len(got) > 50
    assert [r for _, part in got for r in part] == json.loads(path.read_text())


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (b'[{"a": 1}, {"a": 2}, {"a": }]', "after results[1]"),
        (b'[{"a": 1}, {"a": 2}', "after results[1]"),
        (b'{"a": 1}', "results[0]"),
        (b'[{"a": 1}] trailing', "after results[0]"),
    ],
)
def test_broken_files_are_located(
    text: bytes, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "_LOCATE_LIMIT", 0)  # too big to re-parse whole
    monkeypatch.setattr(stream, "CHUNK_BYTES", 12)
    path = tmp_path / "r.json"
    path.write_bytes(text)
    with pytest.raises(InputError, match="invalid JSON") as caught:
        chunks_of(path)
    assert caught.value.location == where
