"""Attribute values against their definitions in ``annotation_attributes`` (rule
``attribute-values``). The writers use the same helpers, so what they send passes.

Types (https://scale.com/docs/api-reference/annotation-attributes): ``category`` (default;
``choices``, ``allow_multiple``), ``number`` (``min``, ``max``, ``step`` default 1: values on
the grid ``min + k * step``, or ``k * step`` without a min), ``angle`` (0-360), ``text`` and
``linked`` (strings).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, TypeGuard

from prelabel.config import rules

GRID_TOLERANCE = 1e-6


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def choice_leaves(definition: Any) -> list[str]:
    """An attribute's selectable choices: strings, or the leaves of LabelDescriptions."""
    raw = definition.get("choices") if isinstance(definition, dict) else None
    return list(_leaves(raw)) if isinstance(raw, list) else []


def _leaves(entries: list[Any]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, dict):
            subs = entry.get("subchoices")
            if isinstance(subs, list) and subs:
                yield from _leaves(subs)
            else:
                yield str(entry.get("choice"))
        else:
            yield str(entry)


def _grid(definition: dict[str, Any]) -> tuple[float, float]:
    """(origin, step) of a number attribute's grid."""
    step = definition.get("step", rules.DEFAULT_ATTRIBUTE_STEP)
    low = definition.get("min")
    origin = float(low) if _is_number(low) else 0.0
    return origin, float(step) if _is_number(step) and step > 0 else 0.0


def _in_range(value: float, definition: dict[str, Any]) -> bool:
    low, high = definition.get("min"), definition.get("max")
    return not (_is_number(low) and value < low) and not (_is_number(high) and value > high)


def snap_number(value: float, definition: dict[str, Any]) -> int | float | None:
    """``value`` on the attribute's step grid (nearest point), or None when it is not a
    finite number inside ``min..max``."""
    if not (_is_number(value) and math.isfinite(value)):
        return None
    origin, step = _grid(definition)
    snapped = origin + round((value - origin) / step) * step if step else float(value)
    snapped = round(snapped, 10)
    if not _in_range(snapped, definition):
        return None
    return int(snapped) if float(snapped).is_integer() else snapped


def score_value(score: float, definition: Any) -> int | float | None:
    """A model score (0..1) as a number attribute wants it: a fraction when the attribute's
    ``max`` is 1 or less, else a percent; then rounded to its step (default 1: whole
    numbers). None when it falls outside ``min..max``."""
    spec = definition if isinstance(definition, dict) else {}
    maximum = spec.get("max")
    value = score if _is_number(maximum) and maximum <= 1 else score * 100
    return snap_number(value, {**spec, "type": "number"})


def value_problem(value: Any, definition: Any) -> str | None:
    """Why ``value`` is not a valid answer of the attribute ``definition`` (None: it is)."""
    spec = definition if isinstance(definition, dict) else {}
    kind = spec.get("type", "category")
    if kind == "number":
        return _number_problem(value, spec)
    if kind == "angle":
        low, high = rules.ANGLE_RANGE
        ok = _is_number(value) and low <= value <= high
        return None if ok else f"must be an angle {low:g}-{high:g}, got {value!r}"
    if kind in ("text", "linked"):
        return None if isinstance(value, str) else f"must be a string, got {value!r}"
    return _category_problem(value, spec)


def _number_problem(value: Any, spec: dict[str, Any]) -> str | None:
    if not _is_number(value):
        return f"must be a number, got {value!r}"
    if not _in_range(value, spec):
        return f"{value!r} is outside {spec.get('min', '-inf')}..{spec.get('max', 'inf')}"
    origin, step = _grid(spec)
    if step and abs((value - origin) / step - round((value - origin) / step)) > GRID_TOLERANCE:
        where = f"{origin:g} + k * {step:g}" if origin else f"k * {step:g}"
        return f"{value!r} is not on the step grid ({where})"
    return None


def _category_problem(value: Any, spec: dict[str, Any]) -> str | None:
    choices = choice_leaves(spec)
    values = value if spec.get("allow_multiple") and isinstance(value, list) else [value]
    for item in values:
        if choices and str(item) not in choices:
            return f"{str(item)!r} is not one of its choices ({', '.join(choices)})"
        if not isinstance(item, str):
            return f"must be a choice (a string), got {item!r}"
    return None


def attribute_problems(values: Any, definitions: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(attribute name, what is wrong) for each attribute of a prelabel."""
    if not isinstance(values, dict):
        yield "", f"attributes must be an object, got {values!r}"
        return
    for name, value in values.items():
        if name not in definitions:
            yield name, "not defined in annotation_attributes"
            continue
        problem = value_problem(value, definitions[name])
        if problem:
            yield name, problem
