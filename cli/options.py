"""Option sets shared by commands, so the same option means the same thing everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_args

import click

from prelabel.config.options import (
    HolePolicy,
    OnViolation,
    PartPolicy,
    PrelabelAs,
    SegmentOverflow,
    SmallBoxPolicy,
    TrackGapPolicy,
)

F = TypeVar("F", bound=Callable[..., Any])


def _choices(literal: Any) -> click.Choice[str]:
    return click.Choice(list(get_args(literal)))


def _label_value(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, float] | None:
    out: dict[str, float] = {}
    for value in values:
        label, sep, number = value.rpartition("=")
        try:
            if not sep or not label:
                raise ValueError
            out[label] = float(number)
        except ValueError:
            raise click.BadParameter(f"expected LABEL=SCORE, got {value!r}") from None
    return out or None


# (flag decls, [prelabel] key, click kwargs): every [prelabel] option is also a flag
PRELABEL_FLAGS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (
        ("--attachment-url", "-a"),
        "attachment_url",
        {"help": "Attachment URL template over item fields, e.g. https://cdn/{file_name}."},
    ),
    (
        ("--unique-id",),
        "unique_id",
        {"help": "unique_id template (default {project}/{task_type}/{key}; deterministic)."},
    ),
    (
        ("--prelabel-as",),
        "prelabel_as",
        {"type": _choices(PrelabelAs), "help": "Put prelabels in hypothesis or base_annotations."},
    ),
    (
        ("--artifact-url",),
        "artifact_url",
        {"help": "URL template ({name}) where you host DIR/artifacts; unset: submit uploads."},
    ),
    (
        ("--on-violation",),
        "on_violation",
        {"type": _choices(OnViolation), "help": "Geometry breaking a limit: fix, drop or error."},
    ),
    (
        ("--holes",),
        "holes",
        {
            "type": _choices(HolePolicy),
            "help": "Polygon holes: keyhole bridge, fill, or best (keyhole, but fill a simplified part's smallest holes while that raises its IoU).",
        },
    ),
    (
        ("--min-hole-area",),
        "min_hole_area",
        {"type": float, "help": "Fill holes smaller than this many px^2."},
    ),
    (
        ("--parts",),
        "parts",
        {
            "type": _choices(PartPolicy),
            "help": "Multi-part shapes: one annotation each, or largest.",
        },
    ),
    (
        ("--small-boxes",),
        "small_boxes",
        {"type": _choices(SmallBoxPolicy), "help": "Boxes under min size: grow, drop or keep."},
    ),
    (
        ("--label-map", "-m"),
        "label_map",
        {
            "type": click.Path(exists=True, dir_okay=False),
            "help": "JSON/TOML {source: target|null}.",
        },
    ),
    (
        ("--allow-unmatched-labels",),
        "allow_unmatched_labels",
        {"is_flag": True, "default": None, "help": "Drop (and report) labels the task lacks."},
    ),
    (
        ("--score-threshold", "-t"),
        "score_threshold",
        {"type": float, "help": "Drop instances scoring below this."},
    ),
    (
        ("--label-threshold",),
        "score_thresholds",
        {
            "multiple": True,
            "callback": _label_value,
            "metavar": "LABEL=SCORE",
            "help": "Per-label score threshold (repeatable).",
        },
    ),
    (
        ("--top-k", "-k"),
        "top_k",
        {
            "type": click.IntRange(min=1),
            "help": "Keep the k best-scoring instances per image/frame.",
        },
    ),
    (
        ("--segment-overflow",),
        "segment_overflow",
        {
            "type": _choices(SegmentOverflow),
            "help": "Over 255 segments: error, extended, drop-smallest.",
        },
    ),
    (
        ("--fill-unlabeled",),
        "fill_unlabeled",
        {"help": "Label for unlabeled pixels when allow_unlabeled is false."},
    ),
    (
        ("--min-iou",),
        "min_iou",
        {"type": float, "help": "Flag traced masks whose polygon IoU is below this."},
    ),
    (
        ("--frame-key-base",),
        "frame_key_base",
        {"type": click.IntRange(0, 1), "help": "videoplayback frame `key` base: 0 or 1."},
    ),
    (
        ("--keyframe-iou",),
        "keyframe_iou",
        {
            "type": click.FloatRange(0, 1),
            "help": "Thin tracks: keep frames interpolation misses (IoU).",
        },
    ),
    (
        ("--keyframe-px",),
        "keyframe_px",
        {
            "type": click.FloatRange(min=0),
            "help": "Thin tracks: keep frames interpolation misses (px).",
        },
    ),
    (
        ("--track-gaps",),
        "track_gaps",
        {
            "type": _choices(TrackGapPolicy),
            "help": "Tracks with missing frames: keep whole or split.",
        },
    ),
]


def prelabel_options(f: F) -> F:
    """Add one flag per [prelabel] option; values land in ``overrides`` (None = not given)."""
    keys = [key for _, key, _ in PRELABEL_FLAGS]

    def collect(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        return value

    for decls, key, kwargs in reversed(PRELABEL_FLAGS):
        kwargs = {"default": None, "expose_value": True, **kwargs}
        f = click.option(*decls, key, **kwargs)(f)
    f.__prelabel_keys__ = keys  # type: ignore[attr-defined]
    return f


def pop_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the [prelabel] flag values out of a command's kwargs (None = not given)."""
    out = {}
    for _, key, _ in PRELABEL_FLAGS:
        value = kwargs.pop(key, None)
        if value is not None:
            out[key] = value
    return out


def config_option(f: F) -> F:
    return click.option(
        "--config",
        "-c",
        "config_path",
        required=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Task config (TOML, YAML or JSON): task_type, [params], [prelabel].",
    )(f)


def out_option(f: F) -> F:
    return click.option(
        "--out",
        "-o",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False),
        help="Output directory: tasks.jsonl, artifacts/, report.json.",
    )(f)


def output_options(f: F) -> F:
    f = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="No progress or summary on stderr.")(f)
    return f
