"""Label-map files: rename, merge and drop labels before they reach a task.

A label map is a JSON or TOML file whose top level maps a source label to a target label,
or to ``null`` (JSON) / ``false`` (TOML, which has no null) to drop that label::

    {"1": "person", "motorbike": "motorcycle", "bike": "motorcycle", "_background_": null}

Two sources mapped to one target merge them. Labels not in the map pass through unchanged.
The pipeline applies the map; this module only loads and checks the file.
"""

from __future__ import annotations

import codecs
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from prelabel.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef]

LabelMap = dict[str, str | None]


def load_label_map(path: str | os.PathLike[str]) -> LabelMap:
    """Load a label map from a JSON or TOML file.

    Args:
        path: ``.json`` or ``.toml`` file; any other suffix is tried as JSON, then TOML.

    Returns:
        ``{source: target}``, where ``None`` means drop the label.

    Raises:
        InputError: the file is missing, does not parse, is not a table of strings, or maps
            a label to an empty string.
    """
    file = Path(path)
    try:
        text = file.read_bytes().removeprefix(codecs.BOM_UTF8)  # a BOM is read as no BOM
    except OSError as exc:
        raise InputError(f"cannot read label map: {exc.strerror}", path=file) from None
    data = _parse(file, text)
    if not isinstance(data, dict):
        raise InputError(
            f"a label map must be an object {{source: target | null}}, got {_kind(data)}",
            path=file,
        )
    return {str(source): _target(file, str(source), target) for source, target in data.items()}


def _parse(file: Path, text: bytes) -> Any:
    suffix = file.suffix.lower()
    if suffix == ".toml":
        return _parse_toml(file, text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if suffix == ".json":
            raise InputError(
                f"invalid JSON: {exc.msg}",
                path=file,
                location=f"line {exc.lineno}, column {exc.colno}",
            ) from None
    return _parse_toml(file, text)


def _parse_toml(file: Path, text: bytes) -> Any:
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("label map is not UTF-8 text", path=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", path=file) from None


def _target(file: Path, source: str, target: Any) -> str | None:
    if target is None or target is False:
        return None
    if isinstance(target, str) and target.strip():
        return target
    raise InputError(
        "target must be a non-empty label, or null (JSON) / false (TOML) to drop it; "
        f"got {_kind(target)}",
        path=file,
        location=repr(source),
    )


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)
