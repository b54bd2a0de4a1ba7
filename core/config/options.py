"""The toolkit's own options: the ``[prelabel]`` table of a task config, each also a CLI flag.

The CLI builds its flags from :data:`PRELABEL_OPTION_HELP` so the two cannot drift; a flag
given on the command line overrides the config file. Validation of values happens in
``prelabel.config.load`` (pydantic), which turns this dataclass into its model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

OnViolation = Literal["fix", "drop", "error"]
PrelabelAs = Literal["hypothesis", "base_annotations"]
HolePolicy = Literal["keyhole", "fill", "best"]
PartPolicy = Literal["each", "largest"]
SmallBoxPolicy = Literal["grow", "drop", "keep"]
SegmentOverflow = Literal["error", "extended", "drop-smallest"]
TrackGapPolicy = Literal["keep", "split"]

# default unique_id: deterministic over the task's identity, so a rerun makes the same ids
DEFAULT_UNIQUE_ID = "{project}/{task_type}/{key}"


@dataclass(slots=True)
class PrelabelOptions:
    """Options of the toolkit itself (not sent to Scale)."""

    # template over the item's fields for the task attachment, e.g. https://cdn/{file_name}
    attachment_url: str | None = None
    # template for unique_id; fields: item fields, key, task_type, project, batch, source
    unique_id: str = DEFAULT_UNIQUE_ID
    # where prelabels go in the body
    prelabel_as: PrelabelAs = "hypothesis"
    # template over {name} (path under DIR/artifacts) where artifacts will be hosted;
    # unset: bodies hold "artifact://NAME" references that `submit` uploads and replaces
    artifact_url: str | None = None
    # what to do when a geometry breaks a limit: repair it, drop it, or stop
    on_violation: OnViolation = "fix"
    # holes in polygons: bridge into the ring (keyhole), fill them, or best: keyhole, but
    # fill a simplified part's smallest holes while the vertices they free buy more IoU
    holes: HolePolicy = "keyhole"
    # holes smaller than this (px^2) are filled whatever `holes` says
    min_hole_area: float = 0.0
    # several parts: one annotation per part, or keep the largest only
    parts: PartPolicy = "each"
    # boxes under min_width/min_height: grow to the minimum, drop, or keep and flag;
    # unset follows on_violation (fix -> grow, drop -> drop, error -> stop)
    small_boxes: SmallBoxPolicy | None = None
    # label renames/merges/drops: a JSON or TOML file {"source": "target" | null}
    label_map: str | None = None
    # labels not in the task's labels are an error unless this is set (then dropped)
    allow_unmatched_labels: bool = False
    # drop instances whose score is below this
    score_threshold: float | None = None
    # per-label score thresholds (override the global one)
    score_thresholds: dict[str, float] = field(default_factory=dict)
    # keep at most this many instances per image / frame, highest score first
    top_k: int | None = None
    # segmentannotation with more than 255 segments: error, extendedIndexedImage, or drop
    # the smallest segments
    segment_overflow: SegmentOverflow = "error"
    # segmentannotation with allow_unlabeled false: fill unlabeled pixels with this label
    fill_unlabeled: str | None = None
    # flag (not drop) traced masks whose polygon IoU against the mask is below this
    min_iou: float | None = None
    # videoplaybackannotation hypothesis frame `key` base (Scale leaves it open)
    frame_key_base: int = 0
    # keyframe thinning of tracks: keep a frame only where interpolating between kept
    # neighbours would miss the tracker's box by IoU below this / by more than this many px
    keyframe_iou: float | None = None
    keyframe_px: float | None = None
    # a track with missing frames: keep it whole, or split it into one object per run
    track_gaps: TrackGapPolicy = "keep"

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updated(self, overrides: dict[str, Any]) -> PrelabelOptions:
        """A copy with the given (non-None) values replaced."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return PrelabelOptions(**data)
