"""Task config: what tasks to build. Mirrors Scale's request body.

A config file (TOML, JSON, or YAML when PyYAML is installed) has three parts::

    task_type = "imageannotation"          # or segmentannotation, videoannotation, ...

    [params]                               # exactly Scale's parameter names
    project = "traffic"
    geometries.box.objects_to_annotate = ["car", "person"]

    [prelabel]                             # the toolkit's own options (PrelabelOptions)
    attachment_url = "https://cdn.example.com/{file_name}"

Every rule Scale puts on the params lives as data in :mod:`prelabel.scale_rules`; the label
taxonomy is parsed by :mod:`prelabel.taxonomy`. Every broken rule raises one
:class:`~prelabel.errors.ConfigError` naming the file, the field path and the rule.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import json
import os
import re
import string
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import orjson
from pydantic import TypeAdapter, ValidationError

from . import scale_rules as rules
from .errors import ConfigError
from .limits import GeometryLimits, TargetKind, TaskLimits
from .options import PrelabelOptions
from .taxonomy import Taxonomy, TaxonomyError, parse_labels

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef]

TASK_TYPES = rules.TASK_TYPES
TOP_LEVEL_KEYS = ("task_type", "params", "prelabel")
# fields the artifact_url template can use (see prelabel.writers.context.ArtifactStore)
ARTIFACT_FIELDS = frozenset({"name", "stem", "sha256"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
        if self.task_type == rules.SEGMENT:
            return label in self.limits.segment_labels
        return any(g.accepts_label(label) for g in self.limits.geometries.values())

    def attachment_problem(self, url: str) -> str | None:
        """Why a per-item attachment URL breaks Scale's rules, or None when it is fine.

        Writers call this on each rendered attachment: video tasks need mp4, webm or ogg,
        image tasks an image type, and no context attachment may repeat it.
        """
        video = self.task_type in rules.VIDEO_TASK_TYPES
        allowed = rules.VIDEO_EXTENSIONS if video else rules.IMAGE_EXTENSIONS
        suffix = _url_suffix(url)
        if suffix and suffix[1:] not in allowed:
            what = "video attachments" if video else "image attachments"
            return f"{what} must be {_either(list(allowed))} (got {suffix})"
        contexts = self.params.get("context_attachments") or []
        if any(c.get("attachment") == url for c in contexts):
            return f"attachment {url} repeats one of params.context_attachments"
        return None

    def body_params(self) -> dict[str, Any]:
        """A deep copy of the params every task body starts from.

        Params prelabel fills per item (attachment, attachments, unique_id, hypothesis,
        base_annotations) are left out; the writers add them.
        """
        return {
            k: copy.deepcopy(v) for k, v in self.params.items() if k not in rules.PER_ITEM_PARAMS
        }


def load_config(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> TaskConfig:
    """Load and validate a TOML/YAML/JSON task config.

    Args:
        path: the config file; ``.toml``, ``.json``, ``.yaml``/``.yml``.
        overrides: ``[prelabel]`` values from the command line (None = not given); they win
            over the file.

    Returns:
        The validated config with its derived :class:`~prelabel.limits.TaskLimits`.

    Raises:
        ConfigError: the file cannot be read or parsed, or breaks a rule; the message names
            the file and the field path, e.g. ``task.toml, params.priority: must be one of
            10, 20, 30 (got 15)``.

    Example:
        >>> config = load_config("task.toml", {"on_violation": "drop"})  # doctest: +SKIP
    """
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
        raise ConfigError(exc.reason, path=path, location=exc.location) from None


def _build(
    data: Mapping[str, Any],
    overrides: Mapping[str, Any],
    base_dir: Path,
    path: str | os.PathLike[str] | None,
) -> TaskConfig:
    _check_top_level(data)
    task_type = _task_type(data.get("task_type"))
    params = _table(data.get("params", {}), "params")
    taxonomies = _check_params(task_type, params)
    limits = derive_limits(task_type, params, taxonomies)
    table = _table(data.get("prelabel", {}), "prelabel")
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
        text = Path(path).read_text(encoding="utf-8")
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


# --- small helpers ---------------------------------------------------------------------------


def _fail(location: str, reason: str) -> NoReturn:
    raise ConfigError(reason, location=location)


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _one_of(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _either(values: Iterable[str]) -> str:
    items = list(values)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, f"must be a table, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- top level -------------------------------------------------------------------------------


def _check_top_level(data: Mapping[str, Any]) -> None:
    all_params = set().union(*rules.PARAMS.values())
    for key in data:
        if key in TOP_LEVEL_KEYS:
            continue
        if key in all_params:
            _fail(key, "Scale parameters go in the [params] table")
        if key in PrelabelOptions.names():
            _fail(key, "toolkit options go in the [prelabel] table")
        _fail(
            key,
            f"not a config key (keys: {_one_of(TOP_LEVEL_KEYS)}){_suggest(key, TOP_LEVEL_KEYS)}",
        )


def _task_type(value: Any) -> str:
    if value is None:
        _fail("task_type", f"missing; set it to one of {_one_of(TASK_TYPES)}")
    if value not in TASK_TYPES:
        hint = _suggest(str(value), TASK_TYPES)
        _fail("task_type", f"must be one of {_one_of(TASK_TYPES)} (got {value!r}){hint}")
    return str(value)


# --- params ----------------------------------------------------------------------------------


def _check_params(task_type: str, params: dict[str, Any]) -> dict[str, Taxonomy]:
    """Check every param; return the parsed taxonomies ("labels" and one per geometry)."""
    for name in params:
        _check_param_name(task_type, name)
    for name in rules.REQUIRED_PARAMS[task_type]:
        if name not in params:
            _fail(f"params.{name}", f"missing; {task_type} requires it")
    for name, value in params.items():
        _check_param_type(name, value)
    _check_request_limits(params)
    _check_attachments(task_type, params)
    taxonomies = _check_taxonomies(params)
    _check_attributes(params.get("annotation_attributes", {}), taxonomies)
    return taxonomies


def _check_param_name(task_type: str, name: str) -> None:
    accepted = rules.PARAMS[task_type]
    where = f"params.{name}"
    if name in rules.FORBIDDEN_IN_CONFIG:
        _fail(where, f"not allowed in a config: {rules.FORBIDDEN_IN_CONFIG[name]}")
    if name in accepted:
        return
    others = [t for t in TASK_TYPES if name in rules.PARAMS[t]]
    if others:
        _fail(where, f"not {_a(task_type)} parameter (only {_one_of(others)} take it)")
    _fail(where, f"not {_a(task_type)} parameter{_param_hint(task_type, name)}")


def _param_hint(task_type: str, name: str) -> str:
    """A did-you-mean for a misspelt param, or for a geometry setting put at the top."""
    hint = _suggest(name, rules.PARAMS[task_type])
    geometry_keys = sorted(set().union(*rules.GEOMETRY_KEYS.values()))
    close = difflib.get_close_matches(name, geometry_keys, n=1, cutoff=0.8)
    if hint or not close:
        return hint
    if "geometries" in rules.PARAMS[task_type]:
        return f"; did you mean geometries.<kind>.{close[0]}?"
    return f"; {close[0]} is a geometry setting (geometries.<kind>) of image and video tasks"


def _check_param_type(name: str, value: Any) -> None:
    where = f"params.{name}"
    if name in rules.STRING_PARAMS and not (isinstance(value, str) and value):
        _fail(where, f"must be a non-empty string, got {_describe(value)}")
    if name in rules.BOOL_PARAMS and not isinstance(value, bool):
        _fail(where, f"must be true or false, got {_describe(value)}")
    if name in rules.TABLE_PARAMS:
        _table(value, where)
    if name in rules.STRING_LIST_PARAMS:
        _string_list(value, where)
    if name in rules.PIXEL_PARAMS and not (_is_int(value) and value >= 0):
        _fail(where, f"must be a whole number of pixels >= 0, got {_describe(value)}")
    if name in rules.POSITIVE_NUMBER_PARAMS and not (_is_number(value) and value > 0):
        _fail(where, f"must be a number > 0, got {_describe(value)}")
    if name in rules.NON_NEGATIVE_NUMBER_PARAMS and not (_is_number(value) and value >= 0):
        _fail(where, f"must be a number >= 0, got {_describe(value)}")


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        _fail(where, f"must be an array of strings, got {_describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            _fail(f"{where}[{i}]", f"must be a non-empty string, got {_describe(item)}")
    return value


def _check_request_limits(params: dict[str, Any]) -> None:
    if "priority" in params and (
        not _is_int(params["priority"]) or params["priority"] not in rules.PRIORITIES
    ):
        _fail(
            "params.priority",
            f"must be one of {_one_of(rules.PRIORITIES)} (got {params['priority']!r})",
        )
    tags = params.get("tags", [])
    if len(tags) > rules.MAX_TAGS:
        _fail("params.tags", f"at most {rules.MAX_TAGS} tags (got {len(tags)})")
    if "metadata" in params:
        size = len(orjson.dumps(params["metadata"], default=str))
        if size > rules.METADATA_MAX_BYTES:
            _fail(
                "params.metadata",
                f"{size} bytes serialized, Scale allows {rules.METADATA_MAX_BYTES}",
            )
    if "callback_url" in params and not _is_callback(params["callback_url"]):
        _fail("params.callback_url", "must be an http(s) URL or an e-mail address")


def _is_callback(value: str) -> bool:
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https"):
        return bool(parsed.netloc)
    return bool(_EMAIL.match(value))


# --- attachments -----------------------------------------------------------------------------


def _check_attachments(task_type: str, params: dict[str, Any]) -> None:
    kind = params.get("attachment_type")
    allowed = rules.ATTACHMENT_TYPES[task_type]
    if kind is not None and kind not in allowed:
        _fail(
            "params.attachment_type",
            f"{task_type} takes attachment_type {_either([f'{a!r}' for a in allowed])} "
            f"(got {kind!r})",
        )
    if kind == "video" and "attachments" in params:
        _fail("params.attachments", 'must be omitted when attachment_type is "video"')
    if "attachment" in params:
        video = task_type in rules.VIDEO_TASK_TYPES
        exts = rules.VIDEO_EXTENSIONS if video else rules.IMAGE_EXTENSIONS
        what = "video attachments" if video else "image attachments"
        _check_extension(params["attachment"], exts, what, "params.attachment")
    for i, url in enumerate(params.get("attachments", [])):
        _check_extension(url, rules.IMAGE_EXTENSIONS, "frame images", f"params.attachments[{i}]")
    _check_context_attachments(params)


def _check_extension(url: str, allowed: tuple[str, ...], what: str, where: str) -> None:
    """Reject a URL whose path ends in a known-wrong extension (no extension: cannot tell)."""
    suffix = _url_suffix(url)
    if suffix and suffix[1:] not in allowed:
        _fail(where, f"{what} must be {_either(list(allowed))} (got {suffix})")


def _url_suffix(url: str) -> str:
    """The lower-case extension of a URL's path (``.mp4``), or "" when it has none."""
    return Path(urlparse(url).path).suffix.lower()


def _check_context_attachments(params: dict[str, Any]) -> None:
    if "context_attachments" not in params:
        return
    value = params["context_attachments"]
    where = "params.context_attachments"
    if not isinstance(value, list):
        _fail(where, f'must be an array of {{attachment = "<url>"}} tables, got {_describe(value)}')
    for i, entry in enumerate(value):
        item = _table(entry, f"{where}[{i}]")
        for key in item:
            if key not in rules.CONTEXT_ATTACHMENT_KEYS:
                _fail(f"{where}[{i}].{key}", "not a context attachment field (only attachment)")
        url = item.get("attachment")
        if not isinstance(url, str) or not url:
            _fail(f"{where}[{i}].attachment", "must be a non-empty URL string")
        if url == params.get("attachment"):
            _fail(f"{where}[{i}].attachment", "must not repeat the task's attachment")


# --- labels and geometries -------------------------------------------------------------------


def _taxonomy(value: Any, where: str) -> Taxonomy:
    try:
        return parse_labels(value)
    except TaxonomyError as exc:
        _fail(f"{where}{exc.location}", exc.reason)


def _check_taxonomies(params: dict[str, Any]) -> dict[str, Taxonomy]:
    out: dict[str, Taxonomy] = {}
    if "labels" in params:
        labels = _taxonomy(params["labels"], "params.labels")
        if not labels.nodes:
            _fail("params.labels", "must name at least one label")
        if len(labels) > rules.MAX_LABELS:
            _fail("params.labels", f"at most {rules.MAX_LABELS} labels (got {len(labels)})")
        out["labels"] = labels
    if "geometries" in params:
        out.update(_check_geometries(params["geometries"]))
    return out


def _check_geometries(geometries: dict[str, Any]) -> dict[str, Taxonomy]:
    if not geometries:
        _fail("params.geometries", f"must name at least one of {_one_of(rules.GEOMETRY_KEYS)}")
    out: dict[str, Taxonomy] = {}
    for kind, spec in geometries.items():
        where = f"params.geometries.{kind}"
        if kind not in rules.GEOMETRY_KEYS:
            hint = _suggest(kind, rules.GEOMETRY_KEYS)
            _fail(where, f"not a geometry (geometries: {_one_of(rules.GEOMETRY_KEYS)}){hint}")
        out[kind] = _check_geometry(kind, _table(spec, where), where)
    return out


def _check_geometry(kind: str, spec: dict[str, Any], where: str) -> Taxonomy:
    keys = rules.GEOMETRY_KEYS[kind]
    for key in spec:
        if key not in keys:
            _fail(
                f"{where}.{key}",
                f"not {_a(kind)} setting ({_one_of(sorted(keys))}){_suggest(key, keys)}",
            )
    taxonomy = _taxonomy(spec.get("objects_to_annotate", []), f"{where}.objects_to_annotate")
    _check_vertices(kind, spec, where)
    for key in ("min_width", "min_height", "camera_height"):
        if key in spec and not (_is_number(spec[key]) and spec[key] >= 0):
            _fail(f"{where}.{key}", f"must be a number >= 0, got {_describe(spec[key])}")
    for key in ("can_rotate", "integer_pixels"):
        if key in spec and not isinstance(spec[key], bool):
            _fail(f"{where}.{key}", f"must be true or false, got {_describe(spec[key])}")
    _check_number_table(spec, "camera_intrinsics", rules.CAMERA_INTRINSICS_KEYS, where)
    _check_number_table(spec, "camera_rotation_quaternion", rules.CAMERA_QUATERNION_KEYS, where)
    if "connections" in spec:
        _check_connections(spec["connections"], taxonomy, f"{where}.connections")
    return taxonomy


def _check_vertices(kind: str, spec: dict[str, Any], where: str) -> None:
    low = spec.get("min_vertices", rules.DEFAULT_MIN_VERTICES)
    if not (_is_int(low) and low >= 1):
        _fail(f"{where}.min_vertices", f"must be a whole number >= 1, got {_describe(low)}")
    high = spec.get("max_vertices")
    if high is None:
        return
    if not _is_int(high):
        _fail(f"{where}.max_vertices", f"must be a whole number, got {_describe(high)}")
    if high < low:
        _fail(f"{where}.max_vertices", f"must be >= min_vertices ({low}), got {high}")
    least = rules.LEAST_VERTICES.get(kind, 1)
    if high < least:
        _fail(f"{where}.max_vertices", f"a {kind} needs at least {least} vertices, got {high}")


def _check_number_table(spec: dict[str, Any], key: str, keys: frozenset[str], where: str) -> None:
    if key not in spec:
        return
    table = _table(spec[key], f"{where}.{key}")
    for name, value in table.items():
        if name not in keys:
            _fail(f"{where}.{key}.{name}", f"not one of {_one_of(sorted(keys))}")
        if not _is_number(value):
            _fail(f"{where}.{key}.{name}", f"must be a number, got {_describe(value)}")


def _check_connections(value: Any, taxonomy: Taxonomy, where: str) -> None:
    if not isinstance(value, list):
        _fail(
            where,
            f"must be an array of {{pair, connection_attribute}} tables, got {_describe(value)}",
        )
    leaves = taxonomy.leaves()
    for i, entry in enumerate(value):
        item = _table(entry, f"{where}[{i}]")
        for key in item:
            if key not in rules.CONNECTION_KEYS:
                _fail(
                    f"{where}[{i}].{key}",
                    f"not a connection field ({_one_of(sorted(rules.CONNECTION_KEYS))})",
                )
        pair = item.get("pair")
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            _fail(f"{where}[{i}].pair", "must be two point labels")
        for label in pair:
            if leaves and label not in leaves:
                _fail(
                    f"{where}[{i}].pair", f"{label!r} is not one of the point's objects_to_annotate"
                )


# --- annotation attributes -------------------------------------------------------------------


def _check_attributes(attributes: dict[str, Any], taxonomies: dict[str, Taxonomy]) -> None:
    if len(attributes) > rules.MAX_ATTRIBUTES:
        count = len(attributes)
        _fail(
            "params.annotation_attributes",
            f"at most {rules.MAX_ATTRIBUTES} attributes (got {count})",
        )
    leaves = frozenset().union(*(t.leaves() for t in taxonomies.values()))
    parents = frozenset().union(*(t.parents() for t in taxonomies.values()))
    for name, spec in attributes.items():
        where = f"params.annotation_attributes.{name}"
        attr = _table(spec, where)
        _check_attribute_type(attr.get("type", "category"), f"{where}.type")
        conditions = _table(attr.get("conditions", {}), f"{where}.conditions")
        condition = _table(
            conditions.get("label_condition", {}), f"{where}.conditions.label_condition"
        )
        if "label" in condition:
            refs = f"{where}.conditions.label_condition.label"
            _check_leaf_refs(condition["label"], leaves, parents, refs)
        if "allowed_labels" in attr:
            _check_leaf_refs(attr["allowed_labels"], leaves, parents, f"{where}.allowed_labels")


def _check_attribute_type(kind: Any, where: str) -> None:
    if kind not in rules.ATTRIBUTE_TYPES:
        choices = _one_of(sorted(rules.ATTRIBUTE_TYPES))
        _fail(
            where,
            f"must be one of {choices} (got {kind!r}){_suggest(str(kind), rules.ATTRIBUTE_TYPES)}",
        )


def _check_leaf_refs(
    value: Any, leaves: frozenset[str], parents: frozenset[str], where: str
) -> None:
    labels = [value] if isinstance(value, str) else value
    if not isinstance(labels, list):
        _fail(where, f"must be a label or an array of labels, got {_describe(value)}")
    for label in labels:
        if label in parents:
            _fail(where, f"{label!r} has subchoices; conditions name leaf labels")
        if leaves and label not in leaves:
            _fail(where, f"{label!r} is not one of the task's labels{_suggest(str(label), leaves)}")


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
        taxonomies = _check_taxonomies(dict(params))
    geometries: dict[TargetKind, GeometryLimits] = {}
    for kind, spec in params.get("geometries", {}).items():
        geometries[kind] = _geometry_limits(kind, spec, taxonomies[kind])
    padding = params.get("padding", 0)
    labels = taxonomies.get("labels", Taxonomy())
    segment = task_type == rules.SEGMENT
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
            _fail(f"prelabel.{key}", f"not a prelabel option{_suggest(key, names)}")
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
        return ConfigError(exc.reason, location=f"{exc.location} (from the command line)")
    return exc


def _typed_option(name: str, value: Any) -> Any:
    hint, adapter = _option_adapters()[name]
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(["prelabel", name, *(str(p) for p in error["loc"])])
        _fail(where, _pydantic_reason(error["type"], error["input"], hint))


_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a table of label = score",
}


def _pydantic_reason(kind: str, value: Any, hint: Any) -> str:
    if kind == "literal_error":
        return f"must be one of {_one_of(_literal_values(hint))} (got {value!r})"
    return f"must be {_TYPE_WORDS.get(kind, 'a valid value')} (got {value!r})"


def _literal_values(hint: Any) -> list[str]:
    if typing.get_origin(hint) is typing.Literal:
        return [str(a) for a in typing.get_args(hint)]
    return [v for arg in typing.get_args(hint) for v in _literal_values(arg)]


def _check_options(options: PrelabelOptions, task_type: str, limits: TaskLimits) -> None:
    _check_ranges(options)
    _check_templates(options)
    if options.label_map is not None and not Path(options.label_map).is_file():
        _fail("prelabel.label_map", f"no such file: {options.label_map}")
    targets = rules.PRELABEL_TARGETS[task_type]
    if options.prelabel_as not in targets:
        _fail("prelabel.prelabel_as", f"{task_type} takes prelabels in {_either(targets)} only")
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
            _fail(f"prelabel.{name}", f"must be between 0 and 1, got {value}")
    at_least = {
        "min_hole_area": (options.min_hole_area, 0),
        "keyframe_px": (options.keyframe_px, 0),
        "top_k": (options.top_k, 1),
    }
    for name, (value, low) in at_least.items():
        if value is not None and value < low:
            _fail(f"prelabel.{name}", f"must be >= {low}, got {value}")
    if options.frame_key_base not in (0, 1):
        _fail("prelabel.frame_key_base", f"must be 0 or 1, got {options.frame_key_base}")


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
            _fail(f"prelabel.{name}", f"uses {{{unknown}}}; artifact_url knows {known}")
    if not options.unique_id.strip():
        _fail("prelabel.unique_id", "must not be empty")


def _template_fields(template: str, where: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        _fail(where, f"not a valid template: {exc}")
    fields: set[str] = set()
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name:
            _fail(where, "a placeholder needs a field name, e.g. {file_name}")
        fields.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return fields


def _check_fill_unlabeled(label: str, task_type: str, limits: TaskLimits) -> None:
    if task_type != rules.SEGMENT:
        _fail("prelabel.fill_unlabeled", "only applies to segmentannotation tasks")
    if label not in limits.segment_labels:
        hint = _suggest(label, limits.segment_labels)
        _fail("prelabel.fill_unlabeled", f"{label!r} is not a leaf of params.labels{hint}")
