"""Class names (and the keypoint shape) from an Ultralytics ``data.yaml`` or a text file.

``names`` in a data.yaml is a list (line order = class id) or a mapping ``{id: name}``;
``kpt_shape: [K, 2|3]`` says how many keypoints a pose row holds and whether each has a
visibility; ``kpt_names`` (a list, or one list per class id) names them. A text file
(``classes.txt``) has one name a line: line N is class N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prelabel.converters.text import read_text
from prelabel.errors import InputError


@dataclass(frozen=True, slots=True)
class Names:
    """What a names file says."""

    names: dict[int, str] = field(default_factory=dict)
    kpt_shape: tuple[int, int] | None = None
    kpt_names: dict[int, tuple[str, ...]] = field(default_factory=dict)  # class id -> names
    origin: str = ""

    def label(self, class_id: int) -> str | None:
        """The name of ``class_id`` (its id as text without a names file; None: unknown)."""
        if not self.names:
            return str(class_id)
        return self.names.get(class_id)


def load_names(path: str | None) -> Names:
    """The names in ``path`` (a .yaml/.yml data file, else text); empty without a path."""
    if path is None:
        return Names()
    file = Path(path)
    text = read_text(file)
    if file.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(text, path)
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    return Names(dict(enumerate(names)), origin=path)


def _from_yaml(text: str, path: str) -> Names:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(
            f"YAML syntax error: {getattr(exc, 'problem', exc)}", path=path, location=where
        ) from None
    if not isinstance(data, dict) or "names" not in data:
        raise InputError("no names: a data.yaml lists its classes under names", path=path)
    names = _mapping(data["names"], path, "names")
    shape = data.get("kpt_shape")
    kpt_shape = None
    if shape is not None:
        if not (isinstance(shape, list) and len(shape) == 2 and shape[1] in (2, 3)):
            raise InputError(f"kpt_shape must be [K, 2] or [K, 3], got {shape!r}", path=path)
        kpt_shape = (int(shape[0]), int(shape[1]))
    return Names(names, kpt_shape, _kpt_names(data.get("kpt_names"), names, path), path)


def _mapping(value: Any, path: str, what: str) -> dict[int, str]:
    if isinstance(value, list):
        return {i: str(v) for i, v in enumerate(value)}
    if isinstance(value, dict) and all(isinstance(k, int) for k in value):
        return {int(k): str(v) for k, v in value.items()}
    raise InputError(f"{what} must be a list or a mapping of class id -> name", path=path)


def _kpt_names(value: Any, names: dict[int, str], path: str) -> dict[int, tuple[str, ...]]:
    if value is None:
        return {}
    if isinstance(value, list):
        return dict.fromkeys(names, tuple(str(v) for v in value))
    if isinstance(value, dict):
        return {int(k): tuple(str(v) for v in vs) for k, vs in value.items()}
    raise InputError("kpt_names must be a list, or a list per class id", path=path)
