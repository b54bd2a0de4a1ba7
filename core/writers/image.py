"""imageannotation: box / polygon / line / point / ellipse / cuboid prelabels.

Body = the config's params + ``attachment`` + ``unique_id`` + prelabels under ``hypothesis``
or ``base_annotations`` as ``{"annotations": [...]}`` (scale-api.md §3.4, §3.5).
"""

from __future__ import annotations

from typing import Any

from prelabel.config.limits import TargetKind
from prelabel.fit.target import choose_target
from prelabel.geometry.scale import to_annotation
from prelabel.model import Instance, Item, stable_uuid
from prelabel.writers.context import WriteContext


def annotation_attributes(instance: Instance, ctx: WriteContext) -> dict[str, Any]:
    """The instance's attributes the task accepts (see :meth:`WriteContext.attributes`)."""
    return ctx.attributes(instance.attributes, score=instance.score)


def instance_annotations(
    instance: Instance, item: Item, ctx: WriteContext, task: str, *, uuid_base: str
) -> list[dict[str, Any]]:
    """Fit one instance and return its annotation objects (recording its outcome)."""
    target = choose_target(instance.geometry.kind, instance.label, ctx.config.limits.geometries)
    if target not in ctx.config.limits.geometries:
        ctx.report.dropped(instance.source, str(target), label=instance.label, task=task)
        return []
    kind: TargetKind = target  # type: ignore[assignment]
    fitted = ctx.fit(instance, kind, item, task)
    integer = ctx.config.limits.geometries[kind].integer_pixels
    attributes = annotation_attributes(instance, ctx)
    return [
        to_annotation(
            geometry,
            label=instance.label,
            uuid=stable_uuid(uuid_base, instance.source, n),
            attributes=attributes,
            integer_pixels=integer,
        )
        for n, geometry in enumerate(fitted.geometries)
    ]


def write_image_task(item: Item, ctx: WriteContext) -> dict[str, Any]:
    """The imageannotation body for one image item."""
    task = ctx.unique_id(item)
    body = ctx.config.body_params()
    body["attachment"] = ctx.attachment(item)
    body["unique_id"] = task
    annotations: list[dict[str, Any]] = []
    for instance in item.instances:
        annotations.extend(instance_annotations(instance, item, ctx, task, uuid_base=task))
    ctx.place(body, {"annotations": annotations})
    return body
