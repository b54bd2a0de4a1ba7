"""The checks on a task config's ``task_type`` and ``[params]``: names, types, Scale's limits,
attachments, label taxonomies, geometries and annotation attributes.

Each check raises one :class:`~prelabel.errors.ConfigError` with the field path, the reason
and the rule book's id (``exc.rule``); the limits themselves are data in
:mod:`prelabel.config.rules`. The same checks run on the params part of every task body
(:mod:`prelabel.rulebook`, for ``validate`` and the sandbox), so a rule about params is
enforced the same way in all three places.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import orjson

from prelabel.config import rules
from prelabel.config.options import PrelabelOptions
from prelabel.config.task_types import TASK_TYPES, get_task_type
from prelabel.config.taxonomy import Taxonomy, TaxonomyError, parse_labels
from prelabel.errors import ConfigError

TOP_LEVEL_KEYS = ("task_type", "params", "prelabel")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NONE: frozenset[str] = frozenset()


# --- small helpers ---------------------------------------------------------------------------


def fail(location: str, reason: str, rule: str | None = None) -> NoReturn:
    raise ConfigError(reason, location=location, rule=rule)


def _flag(location: str, reason: str, rule: str, relaxed: frozenset[str]) -> None:
    """Fail unless ``rule`` is relaxed (``prelabel sandbox --lenient``)."""
    if rule not in relaxed:
        fail(location, reason, rule)


def suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def one_of(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def either(values: Iterable[str]) -> str:
    items = list(values)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def as_table(value: Any, where: str, rule: str = "param-type") -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(where, f"must be a table, got {_describe(value)}", rule)
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


def check_top_level(data: Mapping[str, Any]) -> None:
    all_params = set().union(*rules.PARAMS.values())
    for key in data:
        if key in TOP_LEVEL_KEYS:
            continue
        if key in all_params:
            fail(key, "Scale parameters go in the [params] table", "param-known")
        if key in PrelabelOptions.names():
            fail(key, "toolkit options go in the [prelabel] table", "param-known")
        fail(
            key,
            f"not a config key (keys: {one_of(TOP_LEVEL_KEYS)}){suggest(key, TOP_LEVEL_KEYS)}",
            "param-known",
        )


def check_task_type(value: Any) -> str:
    if value is None:
        fail("task_type", f"missing; set it to one of {one_of(TASK_TYPES)}", "task-type")
    if value not in TASK_TYPES:
        hint = suggest(str(value), TASK_TYPES)
        fail("task_type", f"must be one of {one_of(TASK_TYPES)} (got {value!r}){hint}", "task-type")
    return str(value)


# --- params ----------------------------------------------------------------------------------


def check_params(
    task_type: str,
    params: dict[str, Any],
    *,
    relaxed: frozenset[str] = NONE,
    with_digest: bool = True,
) -> dict[str, Taxonomy]:
    """Check every param; return the parsed taxonomies ("labels" and one per geometry).

    The same checks run on a config's ``[params]`` (at load) and on the params part of every
    task body (``prelabel.rulebook``: validate and the sandbox). ``relaxed`` names rules the
    sandbox was told to skip; ``with_digest`` counts the body digest submit adds to metadata.
    """
    for name in params:
        _check_param_name(task_type, name, relaxed)
    for name in rules.REQUIRED_PARAMS[task_type]:
        if name not in params:
            fail(f"params.{name}", f"missing; {task_type} requires it", "required")
    for name, value in params.items():
        _check_param_type(name, value)
    _check_request_limits(params, with_digest)
    _check_attachments(task_type, params)
    taxonomies = check_taxonomies(params, relaxed)
    _check_attributes(params.get("annotation_attributes", {}), taxonomies)
    return taxonomies


def _check_param_name(task_type: str, name: str, relaxed: frozenset[str] = NONE) -> None:
    accepted = rules.PARAMS[task_type]
    where = f"params.{name}"
    if name in rules.FORBIDDEN_IN_CONFIG:
        reason = f"not allowed in a config: {rules.FORBIDDEN_IN_CONFIG[name]}"
        fail(where, reason, "prelabel-field")
    if name in accepted:
        return
    others = [t for t in TASK_TYPES if name in rules.PARAMS[t]]
    if others:
        reason = f"not {_a(task_type)} parameter (only {one_of(others)} take it)"
    else:
        reason = f"not {_a(task_type)} parameter{_param_hint(task_type, name)}"
    _flag(where, reason, "param-known", relaxed)


def _param_hint(task_type: str, name: str) -> str:
    """A did-you-mean for a misspelt param, or for a geometry setting put at the top."""
    hint = suggest(name, rules.PARAMS[task_type])
    geometry_keys = sorted(set().union(*rules.GEOMETRY_KEYS.values()))
    close = difflib.get_close_matches(name, geometry_keys, n=1, cutoff=0.8)
    if hint or not close:
        return hint
    if "geometries" in rules.PARAMS[task_type]:
        return f"; did you mean geometries.<kind>.{close[0]}?"
    return f"; {close[0]} is a geometry setting (geometries.<kind>) of image and video tasks"


def _check_param_type(name: str, value: Any) -> None:
    where = f"params.{name}"
    rule = "param-type"
    if name in rules.STRING_PARAMS and not (isinstance(value, str) and value):
        fail(where, f"must be a non-empty string, got {_describe(value)}", rule)
    if name in rules.BOOL_PARAMS and not isinstance(value, bool):
        fail(where, f"must be true or false, got {_describe(value)}", rule)
    if name in rules.TABLE_PARAMS:
        as_table(value, where)
    if name in rules.STRING_LIST_PARAMS:
        _string_list(value, where)
    if name in rules.PIXEL_PARAMS and not (_is_int(value) and value >= 0):
        fail(where, f"must be a whole number of pixels >= 0, got {_describe(value)}", rule)
    if name in rules.POSITIVE_NUMBER_PARAMS and not (_is_number(value) and value > 0):
        fail(where, f"must be a number > 0, got {_describe(value)}", rule)
    if name in rules.NON_NEGATIVE_NUMBER_PARAMS and not (_is_number(value) and value >= 0):
        fail(where, f"must be a number >= 0, got {_describe(value)}", rule)


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        fail(where, f"must be an array of strings, got {_describe(value)}", "param-type")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            reason = f"must be a non-empty string, got {_describe(item)}"
            fail(f"{where}[{i}]", reason, "param-type")
    return value


def _check_request_limits(params: dict[str, Any], with_digest: bool = True) -> None:
    if "priority" in params and (
        not _is_int(params["priority"]) or params["priority"] not in rules.PRIORITIES
    ):
        fail(
            "params.priority",
            f"must be one of {one_of(rules.PRIORITIES)} (got {params['priority']!r})",
            "priority",
        )
    tags = params.get("tags", [])
    if len(tags) > rules.MAX_TAGS:
        fail("params.tags", f"at most {rules.MAX_TAGS} tags (got {len(tags)})", "tags")
    if "metadata" in params:
        _check_metadata(params["metadata"], with_digest)
    if "callback_url" in params and not _is_callback(params["callback_url"]):
        reason = "must be an http(s) URL or an e-mail address"
        fail("params.callback_url", reason, "callback-url")


def metadata_bytes(metadata: dict[str, Any], *, with_digest: bool) -> int:
    """Bytes of ``metadata`` as compact JSON, counting the digest submit will add to it."""
    size = len(orjson.dumps(metadata, default=str))
    if with_digest and rules.METADATA_DIGEST_KEY not in metadata:
        size += rules.DIGEST_RESERVE_BYTES
    return size


def _check_metadata(metadata: dict[str, Any], with_digest: bool) -> None:
    size = metadata_bytes(metadata, with_digest=with_digest)
    if size <= rules.METADATA_MAX_BYTES:
        return
    kept = rules.DIGEST_RESERVE_BYTES if with_digest else 0
    reason = f"{size} bytes serialized, Scale allows {rules.METADATA_MAX_BYTES}"
    if kept:
        reason = f"{size - kept} bytes serialized (+{kept} for prelabel's body digest), Scale allows {rules.METADATA_MAX_BYTES}"
    fail("params.metadata", reason, "metadata")


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
        fail(
            "params.attachment_type",
            f"{task_type} takes attachment_type {either([f'{a!r}' for a in allowed])} "
            f"(got {kind!r})",
            "attachment-type",
        )
    if kind == "video" and "attachments" in params:
        reason = 'must be omitted when attachment_type is "video"'
        fail("params.attachments", reason, "attachment-type")
    if "attachment" in params:
        problem = attachment_problem(task_type, params["attachment"], frame=False)
        if problem:
            fail("params.attachment", problem, "attachment-format")
    for i, url in enumerate(params.get("attachments", [])):
        problem = attachment_problem(task_type, url, frame=True)
        if problem:
            fail(f"params.attachments[{i}]", problem, "attachment-format")
    _check_context_attachments(params)


def attachment_problem(task_type: str, url: str, *, frame: bool) -> str | None:
    """Why ``url`` cannot be the attachment of a ``task_type`` task (None: fine, or no
    extension to judge by). ``frame``: one image of a video task's ``attachments``."""
    video = get_task_type(task_type).video and not frame
    allowed = rules.VIDEO_EXTENSIONS if video else rules.IMAGE_EXTENSIONS
    what = "video attachments" if video else "frame images" if frame else "image attachments"
    suffix = url_suffix(url)
    if suffix and suffix[1:] not in allowed:
        return f"{what} must be {either(list(allowed))} (got {suffix})"
    return None


def url_suffix(url: str) -> str:
    """The lower-case extension of a URL's path (``.mp4``), or "" when it has none."""
    return Path(urlparse(url).path).suffix.lower()


def _check_context_attachments(params: dict[str, Any]) -> None:
    if "context_attachments" not in params:
        return
    value = params["context_attachments"]
    where = "params.context_attachments"
    rule = "attachment-format"
    if not isinstance(value, list):
        reason = f'must be an array of {{attachment = "<url>"}} tables, got {_describe(value)}'
        fail(where, reason, "param-type")
    for i, entry in enumerate(value):
        item = as_table(entry, f"{where}[{i}]")
        for key in item:
            if key not in rules.CONTEXT_ATTACHMENT_KEYS:
                reason = "not a context attachment field (only attachment)"
                fail(f"{where}[{i}].{key}", reason, "param-type")
        url = item.get("attachment")
        if not isinstance(url, str) or not url:
            fail(f"{where}[{i}].attachment", "must be a non-empty URL string", "param-type")
        if url == params.get("attachment"):
            fail(f"{where}[{i}].attachment", "must not repeat the task's attachment", rule)


# --- labels and geometries -------------------------------------------------------------------


def _taxonomy(value: Any, where: str, relaxed: frozenset[str] = NONE) -> Taxonomy:
    try:
        return parse_labels(value, parent_instance="instance-label-leaf" in relaxed)
    except TaxonomyError as exc:
        fail(f"{where}{exc.location}", exc.reason, exc.rule)


def check_taxonomies(params: dict[str, Any], relaxed: frozenset[str] = NONE) -> dict[str, Taxonomy]:
    out: dict[str, Taxonomy] = {}
    if "labels" in params:
        labels = _taxonomy(params["labels"], "params.labels", relaxed)
        if not labels.nodes:
            fail("params.labels", "must name at least one label", "labels")
        if len(labels) > rules.MAX_LABELS:
            reason = f"at most {rules.MAX_LABELS} labels (got {len(labels)})"
            fail("params.labels", reason, "labels-count")
        out["labels"] = labels
    if "geometries" in params:
        out.update(_check_geometries(params["geometries"], relaxed))
    return out


def _check_geometries(geometries: dict[str, Any], relaxed: frozenset[str]) -> dict[str, Taxonomy]:
    rule = "geometries"
    if not geometries:
        reason = f"must name at least one of {one_of(rules.GEOMETRY_KEYS)}"
        fail("params.geometries", reason, rule)
    out: dict[str, Taxonomy] = {}
    for kind, spec in geometries.items():
        where = f"params.geometries.{kind}"
        if kind not in rules.GEOMETRY_KEYS:
            hint = suggest(kind, rules.GEOMETRY_KEYS)
            reason = f"not a geometry (geometries: {one_of(rules.GEOMETRY_KEYS)}){hint}"
            fail(where, reason, rule)
        out[kind] = _check_geometry(kind, as_table(spec, where, rule), where, relaxed)
    return out


def _check_geometry(
    kind: str, spec: dict[str, Any], where: str, relaxed: frozenset[str]
) -> Taxonomy:
    keys = rules.GEOMETRY_KEYS[kind]
    rule = "geometries"
    for key in spec:
        if key not in keys:
            reason = f"not {_a(kind)} setting ({one_of(sorted(keys))}){suggest(key, keys)}"
            fail(f"{where}.{key}", reason, rule)
    spec_labels = spec.get("objects_to_annotate", [])
    taxonomy = _taxonomy(spec_labels, f"{where}.objects_to_annotate", relaxed)
    _check_vertices(kind, spec, where, relaxed)
    for key in ("min_width", "min_height", "camera_height"):
        if key in spec and not (_is_number(spec[key]) and spec[key] >= 0):
            fail(f"{where}.{key}", f"must be a number >= 0, got {_describe(spec[key])}", rule)
    for key in ("can_rotate", "integer_pixels"):
        if key in spec and not isinstance(spec[key], bool):
            fail(f"{where}.{key}", f"must be true or false, got {_describe(spec[key])}", rule)
    _check_number_table(spec, "camera_intrinsics", rules.CAMERA_INTRINSICS_KEYS, where)
    _check_number_table(spec, "camera_rotation_quaternion", rules.CAMERA_QUATERNION_KEYS, where)
    if "connections" in spec:
        _check_connections(spec["connections"], taxonomy, f"{where}.connections")
    return taxonomy


def _check_vertices(kind: str, spec: dict[str, Any], where: str, relaxed: frozenset[str]) -> None:
    rule = "geometries"
    low = spec.get("min_vertices", rules.DEFAULT_MIN_VERTICES)
    if not (_is_int(low) and low >= 1):
        reason = f"must be a whole number >= 1, got {_describe(low)}"
        fail(f"{where}.min_vertices", reason, rule)
    high = spec.get("max_vertices")
    if high is None:
        return
    if not _is_int(high):
        fail(f"{where}.max_vertices", f"must be a whole number, got {_describe(high)}", rule)
    if high < low:
        fail(f"{where}.max_vertices", f"must be >= min_vertices ({low}), got {high}", rule)
    least = rules.LEAST_VERTICES.get(kind, 1)
    if high < least:
        reason = f"a {kind} needs at least {least} vertices, got {high}"
        _flag(f"{where}.max_vertices", reason, "vertices", relaxed)


def _check_number_table(spec: dict[str, Any], key: str, keys: frozenset[str], where: str) -> None:
    if key not in spec:
        return
    table = as_table(spec[key], f"{where}.{key}", "geometries")
    for name, value in table.items():
        if name not in keys:
            fail(f"{where}.{key}.{name}", f"not one of {one_of(sorted(keys))}", "geometries")
        if not _is_number(value):
            reason = f"must be a number, got {_describe(value)}"
            fail(f"{where}.{key}.{name}", reason, "geometries")


def _check_connections(value: Any, taxonomy: Taxonomy, where: str) -> None:
    rule = "geometries"
    if not isinstance(value, list):
        reason = (
            f"must be an array of {{pair, connection_attribute}} tables, got {_describe(value)}"
        )
        fail(where, reason, rule)
    leaves = taxonomy.leaves()
    for i, entry in enumerate(value):
        item = as_table(entry, f"{where}[{i}]", rule)
        for key in item:
            if key not in rules.CONNECTION_KEYS:
                reason = f"not a connection field ({one_of(sorted(rules.CONNECTION_KEYS))})"
                fail(f"{where}[{i}].{key}", reason, rule)
        pair = item.get("pair")
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            fail(f"{where}[{i}].pair", "must be two point labels", rule)
        for label in pair:
            if leaves and label not in leaves:
                reason = f"{label!r} is not one of the point's objects_to_annotate"
                fail(f"{where}[{i}].pair", reason, rule)


# --- annotation attributes -------------------------------------------------------------------


def _check_attributes(attributes: dict[str, Any], taxonomies: dict[str, Taxonomy]) -> None:
    rule = "annotation-attributes"
    if len(attributes) > rules.MAX_ATTRIBUTES:
        reason = f"at most {rules.MAX_ATTRIBUTES} attributes (got {len(attributes)})"
        fail("params.annotation_attributes", reason, rule)
    leaves = frozenset().union(*(t.leaves() for t in taxonomies.values()))
    parents = frozenset().union(*(t.parents() for t in taxonomies.values()))
    for name, spec in attributes.items():
        where = f"params.annotation_attributes.{name}"
        attr = as_table(spec, where, rule)
        _check_attribute_type(attr.get("type", "category"), f"{where}.type")
        conditions = as_table(attr.get("conditions", {}), f"{where}.conditions", rule)
        condition = conditions.get("label_condition")
        refs = f"{where}.conditions.label_condition"
        labels = condition_labels(condition)
        if labels is None:
            fail(refs, "must be {label = ...} or an array of labels", rule)
        refs += ".label" if isinstance(condition, dict) else ""
        _check_leaf_refs(labels, leaves, parents, refs)
        _check_attribute_conditions(conditions.get("attribute_conditions"), where)
        if "allowed_labels" in attr:
            _check_leaf_refs(attr["allowed_labels"], leaves, parents, f"{where}.allowed_labels")


def condition_labels(value: Any) -> list[str] | None:
    """The labels a ``label_condition`` names: ``{label: str | [str]}`` (the conditionality
    page) or a bare label or array of labels (the form in Scale's own task examples). None
    when it is neither; an empty list when there is no label condition."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = value.get("label", [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _check_attribute_conditions(value: Any, where: str) -> None:
    """``attribute_conditions``: one table or an array of tables (both forms are in Scale's
    docs) of attribute name to value or values."""
    if value is None:
        return
    tables = value if isinstance(value, list) else [value]
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            reason = "must be a table of attribute = value(s), or an array of them"
            fail(f"{where}.conditions.attribute_conditions[{i}]", reason, "annotation-attributes")


def _check_attribute_type(kind: Any, where: str) -> None:
    if kind not in rules.ATTRIBUTE_TYPES:
        choices = one_of(sorted(rules.ATTRIBUTE_TYPES))
        hint = suggest(str(kind), rules.ATTRIBUTE_TYPES)
        fail(where, f"must be one of {choices} (got {kind!r}){hint}", "annotation-attributes")


def _check_leaf_refs(
    value: Any, leaves: frozenset[str], parents: frozenset[str], where: str
) -> None:
    rule = "annotation-attributes"
    labels = [value] if isinstance(value, str) else value
    if not isinstance(labels, list):
        fail(where, f"must be a label or an array of labels, got {_describe(value)}", rule)
    for label in labels:
        if label in parents:
            fail(where, f"{label!r} has subchoices; conditions name leaf labels", rule)
        if leaves and label not in leaves:
            hint = suggest(str(label), leaves)
            fail(where, f"{label!r} is not one of the task's labels{hint}", rule)
