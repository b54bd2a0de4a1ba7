"""Which of a task's geometries a model geometry becomes (before it is fitted to its limits)."""

from __future__ import annotations

from collections.abc import Mapping

from prelabel.config.limits import GeometryLimits, TargetKind

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


def choose_target(
    kind: str, label: str, geometries: Mapping[TargetKind, GeometryLimits]
) -> TargetKind | str:
    """The task geometry a ``kind`` labelled ``label`` becomes, or the reason it has none
    (a str that is not a kind)."""
    for target in TARGETS[kind]:
        limits = geometries.get(target)
        if limits is not None and limits.accepts_label(label):
            return target
    offered = ", ".join(
        f"{k}({', '.join(sorted(g.labels)) or 'any label'})" for k, g in geometries.items()
    )
    return (
        f"no task geometry for a {kind} labelled {label!r}: "
        f"the task offers {offered or 'no geometries'}"
    )
