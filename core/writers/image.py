"""imageannotation: box / polygon / line / point / ellipse / cuboid prelabels.

Body = the config's params + ``attachment`` + ``unique_id`` + prelabels under ``hypothesis``
or ``base_annotations`` as ``{"annotations": [...]}`` (scale-api.md §3.4, §3.5).
"""

from __future__ import annotations

from typing import Any

from prelabel.config.limits import Bounds, GeometryLimits, TargetKind
from prelabel.fit.run import EPS
from prelabel.fit.target import choose_target
from prelabel.geometry.scale import round_coordinates, to_annotation
from prelabel.model import Instance, Item, ObjectColumns, file_key, stable_uuid, stable_uuids
from prelabel.output.report import RecordLines
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
    if item.columns is not None:
        annotations.extend(column_annotations(item.columns, item, ctx, task))
    ctx.place(body, {"annotations": annotations})
    return body


def column_annotations(
    cols: ObjectColumns, item: Item, ctx: WriteContext, task: str
) -> list[dict[str, Any]]:
    """The annotations of an image's object columns, as :func:`instance_annotations` makes
    them row by row: the same objects, uuids and records in the same order.

    A row that becomes a box with nothing to fix (inside the padded image, at least the
    minimum size, no attribute to send) is written straight from its columns, its record
    a report.json line; any other row goes through :func:`instance_annotations`.
    """
    limits = ctx.config.limits
    box_limits = limits.geometries.get("box")
    bounds = limits.bounds(item.width, item.height)
    plain = (
        box_limits is not None
        and not box_limits.integer_pixels
        and not ctx.sends_attributes((), scored=True)
    )
    boxes = _mask_boxes(cols) if plain else cols.boxes
    targets = {
        (kind, label): choose_target(kind, label, limits.geometries) == "box"
        for kind, label in {(cols.kind(row), label) for row, label in enumerate(cols.labels)}
    }
    fast = [
        plain
        and box is not None
        and targets["box" if counts is None else "mask", label]
        and _untouched(box, box_limits, bounds)  # type: ignore[arg-type]
        for box, counts, label in zip(boxes, cols.masks, cols.labels, strict=True)
    ]
    kept = [b for b, ok in zip(boxes, fast, strict=True) if ok and b is not None]
    coordinates = iter(round_coordinates(kept))
    uuids = iter(
        stable_uuids(
            f"{task}\x1f{file_key(cols.file)}, ",
            (f"{cols.location(row)}\x1f0" for row, ok in enumerate(fast) if ok),
        )
    )
    out: list[dict[str, Any]] = []
    lines = RecordLines(ctx.report, cols.file, cols.array, task)
    for row, label in enumerate(cols.labels):
        if not fast[row]:
            lines.flush()
            out.extend(instance_annotations(cols.instance(row), item, ctx, task, uuid_base=task))
            continue
        out.append(
            {
                "type": "box",
                "left": next(coordinates),
                "top": next(coordinates),
                "width": next(coordinates),
                "height": next(coordinates),
                "label": label,
                "uuid": next(uuids),
            }
        )
        lines.converted(cols.indexes[row], label)
    lines.flush()
    return out


def _mask_boxes(cols: ObjectColumns) -> list[tuple[float, float, float, float] | None]:
    """Each row's box: its own, or its mask's pixel box as the reader measured it (None
    for a mask without pixels, or not measured: such a row takes the object path)."""
    measured = cols.mask_boxes
    if measured is None:
        return cols.boxes
    return [box if box is not None else measured[row] for row, box in enumerate(cols.boxes)]


def _untouched(
    box: tuple[float, float, float, float], limits: GeometryLimits, bounds: Bounds | None
) -> bool:
    """Whether fitting leaves the box as it is (:func:`prelabel.fit.shapes.fit_box`: not
    degenerate, inside the padded image, at least the minimum size)."""
    left, top, width, height = box
    if not (width > EPS and height > EPS and width >= limits.min_width):
        return False
    if height < limits.min_height:
        return False
    if bounds is None:
        return True
    return (
        left >= bounds.x0
        and top >= bounds.y0
        and left + width <= bounds.x1
        and top + height <= bounds.y1
    )
