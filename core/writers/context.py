"""What every writer gets: the config, the report, the artifact store (``prelabel.output``)
and shared helpers (uuids, templates, attributes, fitting and recording)."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from prelabel.config.limits import GeometryLimits, TargetKind
from prelabel.config.load import TaskConfig
from prelabel.config.templates import render_template
from prelabel.errors import LimitViolation, PayloadError
from prelabel.fit.engine import fit_geometry
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.model import Instance, Item, SourceRef
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.report import Report

# annotation attributes filled from the instance score when the task defines them
SCORE_ATTRIBUTES = ("score", "confidence")
# one namespace for every uuid prelabel derives, so reruns give the same uuids
UUID_NAMESPACE = uuidlib.UUID("6f1f8a52-3c2e-4b1e-9d2a-7a6b9c0e5d11")


def score_value(score: float, definition: Any) -> float:
    """The score as the attribute wants it: a fraction, or a percent when its max exceeds 1."""
    maximum = definition.get("max") if isinstance(definition, dict) else None
    if isinstance(maximum, (int, float)) and maximum > 1:
        return round(score * 100, 2)
    return round(score, 4)


def _choices(definition: Any) -> list[str]:
    """An attribute's choices as strings (plain strings or LabelDescription ``choice``)."""
    raw = definition.get("choices") if isinstance(definition, dict) else None
    if not isinstance(raw, list):
        return []
    return [str(c.get("choice")) if isinstance(c, dict) else str(c) for c in raw]


def file_key(path: str) -> str:
    """What a source file contributes to a uuid: its name, not the path it was given by, so
    the same input converted from another folder or checkout gets the same uuids."""
    return Path(path).name


def _uuid_part(part: object) -> str:
    if isinstance(part, SourceRef):
        return f"{file_key(part.file)}, {part.location}"
    return str(part)


def stable_uuid(*parts: object) -> str:
    """A uuid5 derived from ``parts``: the same inputs give the same uuid on every run.

    A :class:`SourceRef` part contributes its file *name* and location, so uuids do not
    depend on where the input was read from.
    """
    return str(uuidlib.uuid5(UUID_NAMESPACE, "\x1f".join(_uuid_part(p) for p in parts)))


@dataclass(slots=True)
class WriteContext:
    """Shared state and helpers for the writers of one conversion."""

    config: TaskConfig
    report: Report
    artifacts: ArtifactStore
    source: str = ""  # input file stem(s), for templates
    policy: FitPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = FitPolicy.from_options(self.config.prelabel)

    # --- identity and attachments -------------------------------------------------------

    def template_fields(self, item: Item, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        params = self.config.params
        fields: dict[str, Any] = {
            "key": item.key,
            "task_type": self.config.task_type,
            "project": params.get("project") or params.get("batch") or "default",
            "batch": params.get("batch") or "",
            "source": self.source,
        }
        fields.update(item.fields)
        if extra:
            fields.update(extra)
        return fields

    def unique_id(self, item: Item) -> str:
        return render_template(
            self.config.prelabel.unique_id, self.template_fields(item), what="unique_id"
        )

    def attachment(self, item: Item, extra: dict[str, Any] | None = None) -> str:
        template = self.config.prelabel.attachment_url
        fields = self.template_fields(item, extra)
        if template is None:
            for key in ("attachment", "url", "coco_url", "flickr_url"):
                if fields.get(key):
                    return str(fields[key])
            raise PayloadError(
                "no attachment URL: set [prelabel] attachment_url (or --attachment-url), "
                "e.g. 'https://cdn.example.com/{file_name}'",
                location=f"item {item.key}",
            )
        try:
            return render_template(template, fields, what="attachment_url")
        except PayloadError as exc:  # name the item whose fields lack the placeholder
            raise PayloadError(exc.reason, location=f"item {item.key}") from None

    def place(self, body: dict[str, Any], prelabels: dict[str, Any]) -> None:
        """Put prelabels under ``hypothesis`` or ``base_annotations`` as configured."""
        body[self.config.prelabel.prelabel_as] = prelabels

    # --- attributes ---------------------------------------------------------------------

    def attributes(
        self, attributes: dict[str, Any], *, score: float | None = None
    ) -> dict[str, Any]:
        """The attributes the task defines, with values it accepts (Scale rejects others).

        Names not in ``params.annotation_attributes`` and category values not among an
        attribute's choices are left out, each noted once in the report; a ``score`` or
        ``confidence`` attribute the task defines is filled from ``score``.
        """
        defined = self.config.params.get("annotation_attributes") or {}
        out = {k: v for k, v in attributes.items() if k in defined}
        for name in SCORE_ATTRIBUTES:
            if name in defined and score is not None and name not in out:
                out[name] = score_value(score, defined[name])
        skipped = sorted(set(attributes) - set(defined))
        if skipped:
            self.report.note(
                "attributes not defined in params.annotation_attributes were not sent: "
                + ", ".join(skipped)
            )
        for name in list(out):
            choices = _choices(defined.get(name))
            if choices and str(out[name]) not in choices:
                self.report.note(
                    f"attribute {name!r}: values like {out[name]!r} are not among the task's "
                    f"choices ({', '.join(choices)}) and were not sent"
                )
                del out[name]
        return out

    # --- fitting and recording ----------------------------------------------------------

    def geometry_limits(self, kind: TargetKind) -> GeometryLimits | None:
        return self.config.limits.geometries.get(kind)

    def fit(self, instance: Instance, target: TargetKind, item: Item, task: str) -> Fitted:
        """Fit one instance to ``target`` and record its outcome in the report."""
        limits = self.config.limits.geometries[target]
        bounds = self.config.limits.bounds(item.width, item.height)
        try:
            fitted = fit_geometry(instance.geometry, target, limits, bounds, self.policy)
        except LimitViolation as exc:
            raise LimitViolation(
                exc.reason, path=instance.source.file, location=instance.source.location
            ) from None
        self.record(instance.source, instance.label, task, fitted)
        return fitted

    def record(self, source: SourceRef, label: str, task: str, fitted: Fitted) -> None:
        if fitted.dropped is not None or not fitted.geometries:
            self.report.dropped(
                source,
                fitted.dropped or "nothing left after fitting",
                label=label,
                task=task,
                iou=fitted.iou,
            )
        else:
            self.report.converted(
                source,
                label=label,
                task=task,
                fixes=fitted.fixes,
                flags=fitted.flags,
                iou=fitted.iou,
                annotations=len(fitted.geometries),
            )


# a task type's writer: one item -> the exact JSON body of its create request
Writer: TypeAlias = Callable[[Item, WriteContext], dict[str, Any]]
