"""What every writer gets: the config, the report, the artifact store (``prelabel.output``)
and shared helpers (uuids, templates, attributes, fitting and recording)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from prelabel.config import rules
from prelabel.config.limits import GeometryLimits, TargetKind
from prelabel.config.load import TaskConfig
from prelabel.config.task_types import get_task_type
from prelabel.config.templates import render_template, render_url
from prelabel.errors import LimitViolation, PayloadError
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.model import Instance, Item, SourceRef
from prelabel.output.artifacts import ArtifactStore
from prelabel.output.report import Report
from prelabel.rulebook.attributes import score_value, snap_number, value_problem

# annotation attributes filled from the instance score when the task defines them
SCORE_ATTRIBUTES = ("score", "confidence")


def _accepted(value: Any, definition: Any) -> Any:
    """``value`` as the attribute accepts it (numbers rounded onto the step grid), or None."""
    kind = definition.get("type", "category") if isinstance(definition, dict) else "category"
    scalar = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "number" and scalar:
        return snap_number(value, definition)
    if kind == "category" and scalar:
        value = str(value)  # a choice is a string: 1 answers the choice "1"
    return None if value is None or value_problem(value, definition) else value


@dataclass(slots=True)
class WriteContext:
    """Shared state and helpers for the writers of one conversion."""

    config: TaskConfig
    report: Report
    artifacts: ArtifactStore
    source: str = ""  # input file stem(s), for templates
    policy: FitPolicy = field(init=False)
    _unique: tuple[Item, str] | None = field(default=None, init=False, repr=False)

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
        """The unique_id of ``item``'s task (made once per item: the converter and the
        writer both ask)."""
        if self._unique is not None and self._unique[0] is item:
            return self._unique[1]
        unique = render_template(
            self.config.prelabel.unique_id, self.template_fields(item), what="unique_id"
        )
        self._unique = (item, unique)
        return unique

    def attachment(self, item: Item, extra: dict[str, Any] | None = None) -> str:
        """The attachment URL of ``item`` (or of one of its frames, ``extra`` = frame fields).

        The ``attachment_url`` template when given; else a fixed ``params.attachment`` as is;
        else the item's own URL field. A URL the task type cannot take (a video task's
        attachment must be mp4, webm or ogg; frames and images an image type) is an error
        here, at convert time, not at Scale.
        """
        frame = self._frames_attached()
        template = self.config.prelabel.attachment_url
        fields = self.template_fields(item, extra)
        if template is not None:
            if self.config.params.get("attachment") and not frame:
                self.report.note(
                    "params.attachment is replaced on every task by the attachment_url template"
                )
            try:
                url = render_url(template, fields, what="attachment_url")
            except PayloadError as exc:  # name the item whose fields lack the placeholder
                raise PayloadError(exc.reason, location=f"item {item.key}") from None
        else:
            url = self._untemplated_attachment(item, fields, frame)
        problem = self.config.attachment_problem(url, frame=frame)
        if problem:
            raise PayloadError(f"attachment {url}: {problem}", location=f"item {item.key}")
        return url

    def _frames_attached(self) -> bool:
        """Whether attachments are frame images (a video task with attachment_type image)."""
        task_type = self.config.task_type
        kind = self.config.params.get("attachment_type", rules.DEFAULT_ATTACHMENT_TYPE[task_type])
        return get_task_type(task_type).video and kind == "image"

    def _untemplated_attachment(self, item: Item, fields: dict[str, Any], frame: bool) -> str:
        fixed = self.config.params.get("attachment")
        if fixed and not frame:
            return str(fixed)
        for key in ("attachment", "url", "coco_url", "flickr_url"):
            if fields.get(key):
                return str(fields[key])
        raise PayloadError(
            "no attachment URL: set [prelabel] attachment_url (or --attachment-url), "
            "e.g. 'https://cdn.example.com/{file_name}'",
            location=f"item {item.key}",
        )

    def place(self, body: dict[str, Any], prelabels: dict[str, Any]) -> None:
        """Put prelabels under ``hypothesis`` or ``base_annotations`` as configured."""
        body[self.config.prelabel.prelabel_as] = prelabels

    # --- attributes ---------------------------------------------------------------------

    def attributes(
        self, attributes: dict[str, Any], *, score: float | None = None
    ) -> dict[str, Any]:
        """The attributes the task defines, with values it accepts (Scale rejects others).

        Names not in ``params.annotation_attributes`` and values that are not valid answers
        (``prelabel.rulebook.attributes``: a category outside its choices, a number outside
        min..max) are left out, each noted once in the report; a number off its step grid is
        rounded onto it. A ``score`` or ``confidence`` attribute the task defines is filled
        from ``score`` (:func:`~prelabel.rulebook.attributes.score_value`).
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
            value = _accepted(out[name], defined[name])
            if value is None:
                why = value_problem(out[name], defined[name]) or "outside its range"
                self.report.note(
                    f"attribute {name!r}: values like {out[name]!r} are not valid answers "
                    f"({why}) and were not sent"
                )
                del out[name]
            else:
                out[name] = value
        return out

    def sends_attributes(self, names: Collection[str], *, scored: bool) -> bool:
        """Whether attributes named ``names`` (and a score, when ``scored``) would put
        anything in an annotation: the task defines one of them."""
        defined = self.config.params.get("annotation_attributes") or {}
        wanted = [*names, *(SCORE_ATTRIBUTES if scored else ())]
        return any(name in defined for name in wanted)

    # --- fitting and recording ----------------------------------------------------------

    def geometry_limits(self, kind: TargetKind) -> GeometryLimits | None:
        return self.config.limits.geometries.get(kind)

    def fit(self, instance: Instance, target: TargetKind, item: Item, task: str) -> Fitted:
        """Fit one instance to ``target`` and record its outcome in the report."""
        from prelabel.fit.engine import fit_geometry  # shapely and OpenCV load on first use

        limits = self.config.limits.geometries[target]
        bounds = self.config.limits.bounds(item.width, item.height)
        try:
            fitted = fit_geometry(instance.geometry, target, limits, bounds, self.policy)
        except LimitViolation as exc:
            raise LimitViolation(
                exc.reason, path=instance.source.file, location=instance.source.location
            ) from None
        self.record(instance.source, instance.label, task, fitted, instance.repairs)
        return fitted

    def record(
        self,
        source: SourceRef,
        label: str,
        task: str,
        fitted: Fitted,
        repairs: list[str] | None = None,
    ) -> None:
        """Record one fitted object: dropped with the fit's reason, or converted (fixed when
        the reader repaired it or the fit changed it; ``repairs`` come first)."""
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
                fixes=[*(repairs or []), *fitted.fixes],
                flags=fitted.flags,
                iou=fitted.iou,
                annotations=len(fitted.geometries),
            )


# a task type's writer: one item -> the exact JSON body of its create request
Writer: TypeAlias = Callable[[Item, WriteContext], dict[str, Any]]
