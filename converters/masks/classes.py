"""Class names for mask values: the ``--classes`` file read by :mod:`prelabel.converters.masks.read`.

A class file maps pixel values to names, either as text (line N names value N) or as JSON
(values to names, a list of names, a Datumaro ``dataset_meta.json`` or COCO
``categories``). :class:`ClassNames` keeps those names together with a short description of
where they came from, so an unknown pixel value raises an :class:`~prelabel.errors.InputError`
that says which file was consulted and what it covers. Split out of ``masks.py``; the names
stay importable from there.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from prelabel.converters.text import read_text
from prelabel.errors import InputError


@dataclass(slots=True)
class ClassNames:
    """Value -> class name, and how to explain a missing value."""

    names: dict[int, str]
    where: str  # "classes.txt has 21 lines"

    def name(self, value: int, path: Path, what: str = "value") -> str:
        try:
            return self.names[value]
        except KeyError:
            raise InputError(
                f"unknown {what} {value} in {path.name}: {self.where}",
                path=path,
                location=f"pixel value {value}",
            ) from None


def load_classes(path: str) -> ClassNames:
    """Class names from a text file (line N = value N) or JSON (values -> names).

    JSON may be ``{"0": "bg", ...}``, a list of names, a Datumaro ``dataset_meta.json``
    (``label_map``) or anything with COCO ``categories`` (``id``, ``name``).

    Raises:
        InputError: the file is missing or holds no names.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such classes file", path=path)
    if p.suffix.lower() != ".json":
        lines = [ln.strip() for ln in read_text(p).splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            raise InputError("classes file is empty", path=path)
        return ClassNames(dict(enumerate(lines)), f"{p.name} has {len(lines)} lines")
    try:
        names = _json_names(orjson.loads(p.read_bytes().removeprefix(codecs.BOM_UTF8)))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a classes file: {exc}", path=path) from None
    return ClassNames(names, f"{p.name} names values {_ranges(names)}")


def _json_names(data: Any) -> dict[int, str]:
    if isinstance(data, dict) and "categories" in data:
        return {int(c["id"]): str(c["name"]) for c in data["categories"]}
    if isinstance(data, dict) and "label_map" in data:
        data = data["label_map"]
    if isinstance(data, list):
        return {i: str(n) for i, n in enumerate(data)}
    if isinstance(data, dict) and data:
        return {int(k): str(v) for k, v in data.items()}
    raise ValueError("expected names by value")


def _ranges(names: dict[int, str]) -> str:
    keys = sorted(names)
    if keys == list(range(keys[0], keys[-1] + 1)):
        return f"{keys[0]}..{keys[-1]}"
    shown = ", ".join(map(str, keys[:12]))
    return shown + (", ..." if len(keys) > 12 else "")
