"""What every writer gets: the config, the report, the artifact store and shared helpers."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prelabel.config.limits import GeometryLimits, TargetKind
from prelabel.config.load import TaskConfig
from prelabel.errors import LimitViolation, PayloadError
from prelabel.fit.run import FitPolicy, Fitted
from prelabel.model import Instance, Item, SourceRef
from prelabel.output.report import Report

ARTIFACT_SCHEME = "artifact://"
# annotation attributes filled from the instance score when the task defines them
SCORE_ATTRIBUTES = ("score", "confidence")


class _Fields(dict[str, Any]):
    """Template fields; a missing one raises a KeyError naming it."""


def render_template(template: str, fields: dict[str, Any], *, what: str) -> str:
    """Fill ``{name}`` / ``{name:06d}`` placeholders; a missing field is a PayloadError."""
    try:
        return string.Formatter().vformat(template, (), _Fields(fields))
    except KeyError as exc:
        known = ", ".join(sorted(k for k, v in fields.items() if v is not None))
        raise PayloadError(
            f"{what} template {template!r} uses {{{exc.args[0]}}}, which this item does not "
            f"have (it has: {known})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise PayloadError(f"{what} template {template!r} is not valid: {exc}") from None


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


@dataclass(slots=True)
class ArtifactStore:
    """Files the task bodies reference by URL, written under ``DIR/artifacts``.

    With ``artifact_url`` set, a body holds the final URL (the user hosts the files);
    otherwise it holds ``artifact://NAME``, which ``prelabel submit`` uploads and replaces.
    """

    root: Path
    url_template: str | None = None
    written: list[str] = field(default_factory=list)

    def add(self, name: str, data: bytes) -> str:
        """Write ``data`` as ``artifacts/NAME`` and return the reference to put in a body."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.written.append(name)
        return self.reference(name)

    def add_chunks(self, name: str, chunks: Iterable[bytes]) -> str:
        """:meth:`add` for data made a chunk at a time (never whole in memory)."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        self.written.append(name)
        return self.reference(name)

    def reference(self, name: str) -> str:
        if self.url_template is None:
            return ARTIFACT_SCHEME + name
        digest = hashlib.sha256((self.root / name).read_bytes()).hexdigest()[:16]
        return render_template(
            self.url_template,
            {"name": name, "stem": Path(name).stem, "sha256": digest},
            what="artifact_url",
        )


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
        return render_template(template, fields, what="attachment_url")

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
