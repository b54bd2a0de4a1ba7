"""A whole task body against the rule book: its params (the same checks a config gets at
load), the per-task fields, and the prelabels of its task type.

Example:
    >>> check_body("imageannotation", {"attachment": "https://x/a.jpg"}, NoFiles())
    [Violation(rule='required', field='geometries', message='missing; imageannotation requires it')]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prelabel.config import rules
from prelabel.config.load import derive_limits
from prelabel.config.params import NONE, check_params
from prelabel.config.task_types import TASK_TYPES, get_task_type
from prelabel.config.taxonomy import Taxonomy
from prelabel.errors import ConfigError
from prelabel.rulebook.findings import NoFiles, Resolver, Scope, Violation, required_attachment

# body fields prelabel fills per task; everything else is the params a config may hold
PER_TASK: frozenset[str] = frozenset({"unique_id", "hypothesis", "base_annotations"})
PRELABEL_FIELDS: tuple[str, ...] = ("hypothesis", "base_annotations")


def check_body(
    task_type: str,
    body: dict[str, Any],
    resolver: Resolver | None = None,
    *,
    relaxed: frozenset[str] = NONE,
    with_digest: bool = False,
    image_size: tuple[int, int] | None = None,
) -> list[Violation]:
    """Every rule ``body`` breaks as a ``POST /v1/task/{task_type}`` request.

    Args:
        task_type: the endpoint's task type.
        body: the request body.
        resolver: reads the files the body names; unread references are not checked.
        relaxed: rule ids not to enforce (``prelabel sandbox --lenient``).
        with_digest: count the digest ``submit`` will add to ``metadata`` (validate does;
            the sandbox checks what it receives).
        image_size: (width, height) when known, for the rules that need it (``in-bounds``).

    Returns:
        The violations; after a broken param only that one (Scale answers one error).
    """
    if task_type not in TASK_TYPES:
        return [Violation("task-type", "task_type", f"no task type {task_type!r}")]
    params = {k: v for k, v in body.items() if k not in PER_TASK}
    try:
        taxonomies = check_params(task_type, params, relaxed=relaxed, with_digest=with_digest)
    except ConfigError as exc:
        return [_from_config_error(exc)]
    found = list(_per_task_fields(task_type, body))
    if found:
        return found
    scope = _scope(task_type, body, params, taxonomies, resolver or NoFiles(), image_size)
    found = list(_prelabels(scope))
    return [v for v in found if v.rule not in relaxed]


def _from_config_error(exc: ConfigError) -> Violation:
    field = (exc.location or "").removeprefix("params.")
    return Violation(exc.rule or "param-type", field or "body", exc.reason)


def _scope(
    task_type: str,
    body: dict[str, Any],
    params: dict[str, Any],
    taxonomies: dict[str, Taxonomy],
    resolver: Resolver,
    image_size: tuple[int, int] | None,
) -> Scope:
    limits = derive_limits(task_type, params, taxonomies)
    bounds = limits.bounds(*image_size) if image_size else None
    attributes = params.get("annotation_attributes") or {}
    return Scope(task_type, body, limits, attributes, resolver, bounds, image_size)


# --- per-task fields ------------------------------------------------------------------------


def _per_task_fields(task_type: str, body: dict[str, Any]) -> Iterator[Violation]:
    needed = required_attachment(task_type, body)
    if needed not in body:
        either = task_type == rules.PLAYBACK and "attachments" in body
        if not either:
            yield Violation("required", needed, f"missing; {task_type} requires it")
    elif needed == "attachments" and not body["attachments"]:
        yield Violation("required", needed, "must name at least one frame")
    uid = body.get("unique_id")
    if uid is not None and not (isinstance(uid, str) and uid):
        yield Violation("param-type", "unique_id", f"must be a non-empty string, got {uid!r}")
    for field in PRELABEL_FIELDS:
        if field not in body:
            continue
        targets = rules.PRELABEL_TARGETS[task_type]
        if field not in targets:
            message = f"{task_type} takes prelabels in {' or '.join(targets)} only"
            yield Violation("prelabel-field", field, message)
        elif not isinstance(body[field], dict):
            yield Violation("prelabel-shape", field, "must be an object")


# --- prelabels ------------------------------------------------------------------------------


def _prelabels(scope: Scope) -> Iterator[Violation]:
    for field in PRELABEL_FIELDS:
        pre = scope.body.get(field)
        if pre is None:
            continue
        yield from get_task_type(scope.task_type).load_check()(pre, field, scope)
