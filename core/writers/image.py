"""imageannotation: box / polygon / line / point / ellipse / cuboid prelabels.

Body = the config's params + ``attachment`` + ``unique_id`` + prelabels under ``hypothesis``
or ``base_annotations`` as ``{"annotations": [...]}`` (scale-api.md §3.4, §3.5).
"""

from __future__ import annotations

from typing import Any

from prelabel.config.limits import TargetKind
from prelabel.model import Instance, Item
from prelabel.writers.common import to_annotation
from prelabel.writers.context import WriteContext, stable_uuid

# which task geometries each model geometry may become, in order of preference
TARGETS: dict[str, tuple[TargetKind, ...]] = {
    "box": ("box", "polygon"),
    "polygon": ("polygon", "box"),
    "mask": ("polygon", "box"),
    "line": ("line",),
    "point": ("point",),
    "ellipse": ("ellipse",),
    "cuboid": ("cuboid",),
}


def choose_target(instance: Instance, ctx: WriteContext) -> TargetKind | str:
    """The task geometry ``instance`` becomes, or the reason it has none (a str not a kind)."""
    geometries = ctx.config.limits.geometries
    for kind in TARGETS[instance.geometry.kind]:
        limits = geometries.get(kind)
        if limits is not None and limits.accepts_label(instance.label):
            return kind
    offered = ", ".join(
        f"{k}({', '.join(sorted(g.labels)) or 'any label'})" for k, g in geometries.items()
    )
    return (
        f"no task geometry for a {instance.geometry.kind} labelled {instance.label!r}: "
        f"the task offers {offered or 'no geometries'}"
    )


def annotation_attributes(instance: Instance, ctx: WriteContext) -> dict[str, Any]:
    """The instance's attributes the task accepts (see :meth:`WriteContext.attributes`)."""
    return ctx.attributes(instance.attributes, score=instance.score)


def instance_annotations(
    instance: Instance, item: Item, ctx: WriteContext, task: str, *, uuid_base: str
) -> list[dict[str, Any]]:
    """Fit one instance and return its annotation objects (recording its outcome)."""
    target = choose_target(instance, ctx)
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
