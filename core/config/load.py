"""Task config: what tasks to build. Mirrors Scale's request body.

A config file (TOML, JSON, or YAML when PyYAML is installed) has three parts::

    task_type = "imageannotation"          # or segmentannotation, videoannotation, ...

    [params]                               # exactly Scale's parameter names
    project = "traffic"
    geometries.box.objects_to_annotate = ["car", "person"]

    [prelabel]                             # the toolkit's own options (PrelabelOptions)
    attachment_url = "https://cdn.example.com/{file_name}"

Every rule Scale puts on the params lives as data in :mod:`prelabel.config.rules`; the label
taxonomy is parsed by :mod:`prelabel.config.taxonomy`. Every broken rule raises one
:class:`~prelabel.errors.ConfigError` naming the file, the field path and the rule.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import string
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from prelabel.config import rules
from prelabel.config.limits import GeometryLimits, TargetKind, TaskLimits
from prelabel.config.options import PrelabelOptions
from prelabel.config.params import (
    as_table,
    attachment_problem,
    check_params,
    check_task_type,
    check_taxonomies,
    check_top_level,
    either,
    fail,
    one_of,
    suggest,
)
from prelabel.config.task_types import get_task_type
from prelabel.config.taxonomy import Taxonomy
from prelabel.config.templates import ARTIFACT_FIELDS
from prelabel.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef]

# what messages name as the file of a config given as a mapping
MAPPING_NAME = "<dict>"


@dataclass(slots=True)
class TaskConfig:
    """A loaded, validated task config.

    ``params`` is exactly what goes into every task body (Scale's parameter names), before
    the per-item fields (attachment, unique_id, hypothesis/base_annotations) are added.
    """

    task_type: str
    params: dict[str, Any]
    prelabel: PrelabelOptions = field(default_factory=PrelabelOptions)
    limits: TaskLimits = field(default_factory=lambda: TaskLimits(task_type="imageannotation"))
    path: str | None = None

    def leaf_labels(self) -> frozenset[str]:
        """Every leaf label the task accepts (segment labels and objects_to_annotate)."""
        return self.limits.all_labels()

    def label_allowed(self, label: str) -> bool:
        """Whether a prelabel may carry ``label``.

        Segment tasks accept their leaf ``labels``; image and video tasks accept a label if
        one of their geometries does (a geometry without objects_to_annotate accepts any).
        """
        if get_task_type(self.task_type).raster:
            return label in self.limits.segment_labels
        return any(g.accepts_label(label) for g in self.limits.geometries.values())

    def attachment_problem(self, url: str, *, frame: bool = False) -> str | None:
        """Why a per-item attachment URL breaks Scale's rules, or None when it is fine.

        Writers call this on each rendered attachment: video tasks need mp4, webm or ogg
        (``frame``: one image of ``attachments``, an image type), image tasks an image type,
        and no context attachment may repeat it.
        """
        problem = attachment_problem(self.task_type, url, frame=frame)
        if problem:
            return problem
        contexts = self.params.get("context_attachments") or []
        if any(c.get("attachment") == url for c in contexts):
            return f"attachment {url} repeats one of params.context_attachments"
        return None

    def body_params(self) -> dict[str, Any]:
        """A deep copy of the params every task body starts from.

        Params prelabel fills per item (attachment, attachments, unique_id, hypothesis,
        base_annotations) are left out; the writers add them.
        """
        shared = {k: v for k, v in self.params.items() if k not in rules.PER_ITEM_PARAMS}
        try:  # params are JSON (Scale's body): a JSON round trip copies them ~10x faster
            copied: dict[str, Any] = orjson.loads(orjson.dumps(shared))
        except orjson.JSONEncodeError:  # something JSON does not hold as it is: copy it as is
            return copy.deepcopy(shared)
        return copied


def load_config(
    path: str | os.PathLike[str] | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> TaskConfig:
    """Load and validate a task config from a TOML/YAML/JSON file or from a mapping.

    Args:
        path: the config file (``.toml``, ``.json``, ``.yaml``/``.yml``), or the config
            itself as a mapping ``{"task_type", "params", "prelabel"}`` (checked the same
            way; messages name ``<dict>`` as the file, relative ``label_map`` paths are
            resolved against the working directory; the mapping is copied, not kept).
        overrides: ``[prelabel]`` values from the command line (None = not given); they win
            over the file.

    Returns:
        The validated config with its derived :class:`~prelabel.config.limits.TaskLimits`.

    Raises:
        ConfigError: the file cannot be read or parsed, or breaks a rule; the message names
            the file and the field path, e.g. ``task.toml, params.priority: must be one of
            10, 20, 30 (got 15)``.

    Example:
        >>> config = load_config("task.toml", {"on_violation": "drop"})  # doctest: +SKIP
        >>> config = load_config({"task_type": "imageannotation", "params": {...}})  # doctest: +SKIP
    """
    if isinstance(path, Mapping):
        return config_from_dict(copy.deepcopy(dict(path)), path=MAPPING_NAME, overrides=overrides)
    data = read_config_file(path)
    return config_from_dict(data, path=path, overrides=overrides, base_dir=Path(path).parent)


def config_from_dict(
    data: Mapping[str, Any],
    *,
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> TaskConfig:
    """Validate an already-parsed config (``{"task_type", "params", "prelabel"}``).

    Args:
        data: the config's top-level table.
        path: the file it came from, for error messages.
        overrides: command-line ``[prelabel]`` values (None = not given).
        base_dir: folder relative ``label_map`` paths are resolved against (default: cwd).

    Returns:
        The validated config.

    Raises:
        ConfigError: on the first broken rule.
    """
    try:
        return _build(data, overrides or {}, Path(base_dir) if base_dir else Path.cwd(), path)
    except ConfigError as exc:
        if exc.path is not None or path is None:
            raise
        raise ConfigError(exc.reason, path=path, location=exc.location, rule=exc.rule) from None


def _build(
    data: Mapping[str, Any],
    overrides: Mapping[str, Any],
    base_dir: Path,
    path: str | os.PathLike[str] | None,
) -> TaskConfig:
    check_top_level(data)
    task_type = check_task_type(data.get("task_type"))
    params = as_table(data.get("params", {}), "params")
    taxonomies = check_params(task_type, params)
    limits = derive_limits(task_type, params, taxonomies)
    table = as_table(data.get("prelabel", {}), "prelabel")
    options = _prelabel_options(table, overrides, base_dir, task_type, limits)
    return TaskConfig(
        task_type, dict(params), options, limits, os.fspath(path) if path is not None else None
    )


# --- reading files ---------------------------------------------------------------------------


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file into a table; syntax errors name the line.

    Raises:
        ConfigError: missing/unreadable file, unknown extension, syntax error.
    """
    suffix = Path(path).suffix.lower()
    parsers: dict[str, Callable[[str], Any]] = {
        ".toml": _parse_toml,
        ".json": _parse_json,
        ".yaml": _parse_yaml,
        ".yml": _parse_yaml,
    }
    if suffix not in parsers:
        raise ConfigError(
            f"unknown config file type {suffix or '(none)'!r}; use .toml, .json or .yaml",
            path=path,
        )
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM is read as no BOM
    except FileNotFoundError:
        raise ConfigError("no such config file", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", path=path) from None
    try:
        data = parsers[suffix](text)
    except ConfigError as exc:
        raise ConfigError(exc.reason, path=path, location=exc.location) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a table (task_type, params, prelabel)", path=path)
    return data


def _parse_toml(text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if match is None:
            raise ConfigError(f"TOML syntax error: {message}") from None
        reason = message[: match.start()]
        location = f"line {match.group(1)}, column {match.group(2)}"
        raise ConfigError(f"TOML syntax error: {reason}", location=location) from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        location = f"line {exc.lineno}, column {exc.colno}"
        raise ConfigError(f"JSON syntax error: {exc.msg}", location=location) from None


def _parse_yaml(text: str) -> Any:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ModuleNotFoundError:
        raise ConfigError("YAML configs need PyYAML (pip install pyyaml); or use TOML") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        location = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"YAML syntax error: {problem}", location=location) from None


# --- derived limits --------------------------------------------------------------------------


def derive_limits(
    task_type: str, params: Mapping[str, Any], taxonomies: Mapping[str, Taxonomy] | None = None
) -> TaskLimits:
    """The :class:`TaskLimits` a task's (validated) params put on prelabels.

    Args:
        task_type: one of :data:`TASK_TYPES`.
        params: the task's params (already validated).
        taxonomies: parsed label lists by ``"labels"`` / geometry kind; parsed here if omitted.

    Returns:
        Per-geometry limits, padding, segment and instance labels, allow_unlabeled.
    """
    if taxonomies is None:
        taxonomies = check_taxonomies(dict(params))
    geometries: dict[TargetKind, GeometryLimits] = {}
    for kind, spec in params.get("geometries", {}).items():
        geometries[kind] = _geometry_limits(kind, spec, taxonomies[kind])
    padding = params.get("padding", 0)
    labels = taxonomies.get("labels", Taxonomy())
    segment = get_task_type(task_type).raster
    return TaskLimits(
        task_type=task_type,
        geometries=geometries,
        pad_x=float(params.get("paddingX", padding)),
        pad_y=float(params.get("paddingY", padding)),
        segment_labels=labels.leaves() if segment else frozenset(),
        instance_labels=labels.instance_leaves() if segment else frozenset(),
        allow_unlabeled=bool(params.get("allow_unlabeled", rules.DEFAULT_ALLOW_UNLABELED))
        if segment
        else True,
    )


def _geometry_limits(
    kind: TargetKind, spec: Mapping[str, Any], taxonomy: Taxonomy
) -> GeometryLimits:
    return GeometryLimits(
        kind=kind,
        labels=taxonomy.leaves(),
        min_vertices=max(
            int(spec.get("min_vertices", rules.DEFAULT_MIN_VERTICES)),
            rules.LEAST_VERTICES.get(kind, 1),
        ),
        max_vertices=spec.get("max_vertices"),
        min_width=float(spec.get("min_width", 0)),
        min_height=float(spec.get("min_height", 0)),
        can_rotate=bool(spec.get("can_rotate", False)),
        integer_pixels=bool(spec.get("integer_pixels", False)),
    )


# --- [prelabel] options ----------------------------------------------------------------------


@cache
def _option_adapters() -> dict[str, tuple[Any, TypeAdapter[Any]]]:
    hints = typing.get_type_hints(PrelabelOptions)
    return {name: (hints[name], TypeAdapter(hints[name])) for name in PrelabelOptions.names()}


def _prelabel_options(
    table: dict[str, Any],
    overrides: Mapping[str, Any],
    base_dir: Path,
    task_type: str,
    limits: TaskLimits,
) -> PrelabelOptions:
    names = PrelabelOptions.names()
    for key in table:
        if key not in names:
            fail(f"prelabel.{key}", f"not a prelabel option{suggest(key, names)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        options = _merged_options(table, given, base_dir)
        _check_options(options, task_type, limits)
    except ConfigError as exc:
        raise _blame_command_line(exc, given) from None
    return options


def _merged_options(
    table: dict[str, Any], given: dict[str, Any], base_dir: Path
) -> PrelabelOptions:
    """File values, then command-line values (per-label thresholds merge, CLI wins)."""
    values = dict(table)
    if isinstance(values.get("label_map"), str):
        values["label_map"] = os.path.abspath(base_dir / values["label_map"])
    thresholds = values.get("score_thresholds")
    if isinstance(thresholds, dict) and isinstance(given.get("score_thresholds"), dict):
        given = {**given, "score_thresholds": {**thresholds, **given["score_thresholds"]}}
    values.update(given)
    if isinstance(given.get("label_map"), str):
        values["label_map"] = os.path.abspath(given["label_map"])
    typed = {name: _typed_option(name, value) for name, value in values.items()}
    return PrelabelOptions().updated(typed)


def _blame_command_line(exc: ConfigError, given: Mapping[str, Any]) -> ConfigError:
    """Say so when the broken value came from the command line, not the file."""
    option = (exc.location or "").split(".")[1:2]
    if option and option[0] in given:
        return ConfigError(
            exc.reason, location=f"{exc.location} (from the command line)", rule=exc.rule
        )
    return exc


def _typed_option(name: str, value: Any) -> Any:
    hint, adapter = _option_adapters()[name]
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(["prelabel", name, *(str(p) for p in error["loc"])])
        fail(where, _pydantic_reason(error["type"], error["input"], hint))


_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a table of label = score",
}


def _pydantic_reason(kind: str, value: Any, hint: Any) -> str:
    if kind == "literal_error":
        return f"must be one of {one_of(_literal_values(hint))} (got {value!r})"
    return f"must be {_TYPE_WORDS.get(kind, 'a valid value')} (got {value!r})"


def _literal_values(hint: Any) -> list[str]:
    if typing.get_origin(hint) is typing.Literal:
        return [str(a) for a in typing.get_args(hint)]
    return [v for arg in typing.get_args(hint) for v in _literal_values(arg)]


def _check_options(options: PrelabelOptions, task_type: str, limits: TaskLimits) -> None:
    _check_ranges(options)
    _check_templates(options)
    if options.label_map is not None and not Path(options.label_map).is_file():
        fail("prelabel.label_map", f"no such file: {options.label_map}")
    targets = rules.PRELABEL_TARGETS[task_type]
    if options.prelabel_as not in targets:
        reason = f"{task_type} takes prelabels in {either(targets)} only"
        fail("prelabel.prelabel_as", reason, "prelabel-field")
    if options.fill_unlabeled is not None:
        _check_fill_unlabeled(options.fill_unlabeled, task_type, limits)


def _check_ranges(options: PrelabelOptions) -> None:
    unit = {
        "score_threshold": options.score_threshold,
        "min_iou": options.min_iou,
        "keyframe_iou": options.keyframe_iou,
    }
    unit.update({f"score_thresholds.{k}": v for k, v in options.score_thresholds.items()})
    for name, value in unit.items():
        if value is not None and not 0 <= value <= 1:
            fail(f"prelabel.{name}", f"must be between 0 and 1, got {value}")
    at_least = {
        "min_hole_area": (options.min_hole_area, 0),
        "keyframe_px": (options.keyframe_px, 0),
        "top_k": (options.top_k, 1),
    }
    for name, (value, low) in at_least.items():
        if value is not None and value < low:
            fail(f"prelabel.{name}", f"must be >= {low}, got {value}")
    if options.frame_key_base not in (0, 1):
        fail("prelabel.frame_key_base", f"must be 0 or 1, got {options.frame_key_base}")


def _check_templates(options: PrelabelOptions) -> None:
    templates = {
        "attachment_url": options.attachment_url,
        "unique_id": options.unique_id,
        "artifact_url": options.artifact_url,
    }
    for name, template in templates.items():
        if template is None:
            continue
        fields = _template_fields(template, f"prelabel.{name}")
        if name == "artifact_url" and not fields <= ARTIFACT_FIELDS:
            unknown = sorted(fields - ARTIFACT_FIELDS)[0]
            known = ", ".join(f"{{{f}}}" for f in sorted(ARTIFACT_FIELDS))
            fail(f"prelabel.{name}", f"uses {{{unknown}}}; artifact_url knows {known}")
    if not options.unique_id.strip():
        fail("prelabel.unique_id", "must not be empty")


def _template_fields(template: str, where: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        fail(where, f"not a valid template: {exc}")
    fields: set[str] = set()
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name:
            fail(where, "a placeholder needs a field name, e.g. {file_name}")
        fields.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return fields


def _check_fill_unlabeled(label: str, task_type: str, limits: TaskLimits) -> None:
    if not get_task_type(task_type).raster:
        fail("prelabel.fill_unlabeled", "only applies to segmentannotation tasks")
    if label not in limits.segment_labels:
        hint = suggest(label, limits.segment_labels)
        fail("prelabel.fill_unlabeled", f"{label!r} is not a leaf of params.labels{hint}")
    if limits.allow_unlabeled:
        fail(
            "prelabel.fill_unlabeled",
            "params.allow_unlabeled is true, so no pixel would be filled; remove "
            "fill_unlabeled or set allow_unlabeled = false",
        )
