"""The toolkit's own options: the ``[prelabel]`` table of a task config, each also a CLI flag.

Each option is declared once, as a field of :class:`PrelabelOptions` made with
:func:`~prelabel.config.declare.option`: its type, default and flag help. ``prelabel.cli``
builds one flag per field from that declaration, so the two cannot drift; a flag given on
the command line overrides the config file. Values are validated in
``prelabel.config.load`` (pydantic, from the field types) and its range checks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from prelabel.config.declare import option

OnViolation = Literal["fix", "drop", "error"]
PrelabelAs = Literal["hypothesis", "base_annotations"]
HolePolicy = Literal["keyhole", "fill", "best"]
PartPolicy = Literal["each", "largest"]
SmallBoxPolicy = Literal["grow", "drop", "keep"]
SegmentOverflow = Literal["error", "extended", "drop-smallest"]
TrackGapPolicy = Literal["keep", "split"]

# default unique_id: deterministic over the task's identity, so a rerun makes the same ids
DEFAULT_UNIQUE_ID = "{project}/{task_type}/{key}"


def parse_label_score(text: str) -> tuple[str, float]:
    """``LABEL=SCORE`` -> ``(label, score)`` (the label may itself hold ``=``)."""
    label, sep, number = text.rpartition("=")
    try:
        if not sep or not label:
            raise ValueError
        return label, float(number)
    except ValueError:
        raise ValueError(f"expected LABEL=SCORE, got {text!r}") from None


@dataclass(slots=True)
class PrelabelOptions:
    """Options of the toolkit itself (not sent to Scale)."""

    SECTION: ClassVar[str] = "[prelabel] options (each also a key of the config's [prelabel] table)"

    # fields: the item's (file_name, id, frame, ...), key, task_type, project, batch, source
    attachment_url: str | None = option(
        None,
        short="-a",
        help="Attachment URL template over item fields, e.g. https://cdn/{file_name}.",
    )
    unique_id: str = option(
        DEFAULT_UNIQUE_ID,
        help="unique_id template (default {project}/{task_type}/{key}; deterministic).",
    )
    prelabel_as: PrelabelAs = option(
        "hypothesis", help="Put prelabels in hypothesis or base_annotations."
    )
    # unset: bodies hold "artifact://NAME" references that `submit` uploads and replaces
    artifact_url: str | None = option(
        None, help="URL template ({name}) where you host DIR/artifacts; unset: submit uploads."
    )
    on_violation: OnViolation = option("fix", help="Geometry breaking a limit: fix, drop or error.")
    holes: HolePolicy = option(
        "keyhole",
        help="Polygon holes: keyhole bridge, fill, or best (keyhole, but fill a simplified "
        "part's smallest holes while that raises its IoU).",
    )
    # such holes are filled whatever `holes` says
    min_hole_area: float = option(0.0, help="Fill holes smaller than this many px^2.")
    parts: PartPolicy = option("each", help="Multi-part shapes: one annotation each, or largest.")
    # unset follows on_violation (fix -> grow, drop -> drop, error -> stop)
    small_boxes: SmallBoxPolicy | None = option(
        None, help="Boxes under min size: grow, drop or keep."
    )
    label_map: str | None = option(
        None, short="-m", path="file", help="JSON/TOML {source: target|null}."
    )
    # without it a label the task lacks is an error
    allow_unmatched_labels: bool = option(False, help="Drop (and report) labels the task lacks.")
    score_threshold: float | None = option(
        None, short="-t", help="Drop instances scoring below this."
    )
    # per label; each overrides score_threshold for its label
    score_thresholds: dict[str, float] = option(
        factory=dict,
        name="--label-threshold",
        metavar="LABEL=SCORE",
        parse=parse_label_score,
        help="Per-label score threshold (repeatable).",
    )
    # highest score first
    top_k: int | None = option(
        None, short="-k", low=1, help="Keep the k best-scoring instances per image/frame."
    )
    # segmentannotation with more than 255 segments (extended: extendedIndexedImage)
    segment_overflow: SegmentOverflow = option(
        "error", help="Over 255 segments: error, extended, drop-smallest."
    )
    fill_unlabeled: str | None = option(
        None, help="Label for unlabeled pixels when allow_unlabeled is false."
    )
    # flagged, not dropped
    min_iou: float | None = option(None, help="Flag traced masks whose polygon IoU is below this.")
    # Scale leaves the base open
    frame_key_base: int = option(0, low=0, high=1, help="videoplayback frame `key` base: 0 or 1.")
    # keyframe thinning: keep a frame only where interpolating between kept neighbours
    # would miss the tracker's box by IoU below keyframe_iou / by more than keyframe_px
    keyframe_iou: float | None = option(
        None, low=0, high=1, help="Thin tracks: keep frames interpolation misses (IoU)."
    )
    keyframe_px: float | None = option(
        None, low=0, help="Thin tracks: keep frames interpolation misses (px)."
    )
    # split: one object per run of consecutive frames
    track_gaps: TrackGapPolicy = option(
        "keep", help="Tracks with missing frames: keep whole or split."
    )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updated(self, overrides: dict[str, Any]) -> PrelabelOptions:
        """A copy with the given (non-None) values replaced."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return PrelabelOptions(**data)
