"""Label-map files: JSON and TOML, rename / merge / drop, and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from prelabel.config.labelmap import load_label_map
from prelabel.errors import InputError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_rename_merge_drop(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.json",
        '{"1": "person", "bike": "bicycle", "cycle": "bicycle", "_background_": null}',
    )
    assert load_label_map(path) == {
        "1": "person",
        "bike": "bicycle",
        "cycle": "bicycle",
        "_background_": None,
    }


def test_toml_uses_false_to_drop(tmp_path: Path) -> None:
    path = write(tmp_path, "m.toml", '"traffic light" = "signal"\n_background_ = false\n')
    assert load_label_map(path) == {"traffic light": "signal", "_background_": None}


def test_other_suffix_tries_json_then_toml(tmp_path: Path) -> None:
    assert load_label_map(write(tmp_path, "a.map", '{"a": "b"}')) == {"a": "b"}
    assert load_label_map(write(tmp_path, "b.map", 'a = "b"\n')) == {"a": "b"}


def test_shared_example_config_label_map_loads() -> None:
    path = FIXTURES / "configs" / "street_label_map.json"
    mapping = load_label_map(path)
    assert mapping and all(v is None or isinstance(v, str) for v in mapping.values())


@pytest.mark.parametrize(
    ("name", "text", "message", "location"),
    [
        ("m.json", '{"a": "b",\n "c": }', "invalid JSON", "line 2, column 7"),
        ("m.json", '["a", "b"]', "must be an object", None),
        ("m.json", '{"a": ""}', "non-empty label", "'a'"),
        ("m.json", '{"a": 3}', "got 3", "'a'"),
        ("m.toml", 'a = ["x"]\n', "got an array", "'a'"),
        ("m.toml", "a = \n", "invalid TOML", None),
    ],
)
def test_bad_files(
    tmp_path: Path, name: str, text: str, message: str, location: str | None
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=message) as err:
        load_label_map(path)
    assert err.value.path == str(path) and err.value.location == location
    assert str(err.value).startswith(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read label map"):
        load_label_map(tmp_path / "nope.json")
