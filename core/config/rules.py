"""Everything Scale-specific about a task config, as data, in one place.

Change a limit here and every check, writer and test that reads it follows. Each entry
names its source; the tags follow ``shared/reference/scale-api.md``:

* [DOC]      Scale's own documentation (URL given), incl. the task reference in
             ``seed-scale-tasks.md`` (https://scale.com/docs/api-reference/image-and-video-tasks);
* [DOC-copy] Scale's text as reproduced by a third-party integration (Pipedream);
* [CODE]     seen only in third-party or Scale front-end code, not a contract.
"""

from __future__ import annotations

from typing import Final

SEGMENT: Final = "segmentannotation"
IMAGE: Final = "imageannotation"
VIDEO: Final = "videoannotation"
PLAYBACK: Final = "videoplaybackannotation"
# the task types themselves, and what prelabel does with each: prelabel.config.task_types

TASKS_DOC = "https://scale.com/docs/api-reference/image-and-video-tasks"
REFERENCE_DOC = "https://scale.com/docs/api-reference/image-and-video-reference"
LIMITS_DOC = "https://scale.com/docs/technical-limits-and-recommendations.md"

# --- accepted parameters per task type ------------------------------------------------------

# on every creation request (scale-api.md §1)
_COMMON: Final = frozenset(
    {
        "project",  # [DOC] image-and-video-reference
        "batch",  # [DOC] same
        "instruction",  # [DOC] same
        "callback_url",  # [DOC] same; https://scale.com/docs/api-reference/callbacks
        "attachment",  # [DOC] https://docs.scale.com/reference/task-attachments-1
        "attachment_type",  # [DOC] seed, all three task pages
        "annotation_attributes",  # [DOC] seed, all three task pages
        "metadata",  # [DOC] https://scale.com/docs/api-reference/tasks
        "tags",  # [DOC] https://docs.scale.com/reference/tags
        "unique_id",  # [DOC] https://docs.scale.com/reference/idempotent-requests
        "clear_unique_id_on_error",  # [DOC] seed; [DOC-copy] Pipedream
        "priority",  # [DOC] seed (video types); [DOC-copy] Pipedream for every type
        "hypothesis",  # [DOC] the hypothesis pages of each type (VPA: video-playback hypothesis)
    }
)
_BASE_ANNOTATIONS: Final = frozenset(
    {
        "base_annotations",  # [DOC] seed (video types); [DOC-copy] Pipedream (imageannotation)
        "can_add_base_annotations",  # [DOC] same
        "can_edit_base_annotations",  # [DOC] same
        "can_edit_base_annotation_labels",  # [DOC] same
        "can_delete_base_annotations",  # [DOC] same
    }
)
_GEOMETRY_TASK: Final = frozenset(
    {
        "geometries",  # [DOC] seed; required
        "padding",  # [DOC] seed; [DOC-copy] Pipedream for imageannotation
        "paddingX",  # [DOC] same
        "paddingY",  # [DOC] same
    }
)
_VIDEO: Final = frozenset(
    {
        "attachments",  # [DOC] seed: frame URLs; required for image type, omitted for video
        "events_to_annotate",  # [DOC] seed; https://docs.scale.com/reference/events
        "frame_rate",  # [DOC] seed
        "start_time",  # [DOC] seed (VPA); [CODE] fiftyone reads it on videoannotation too
        "duration_time",  # [DOC] seed (VPA); in the seed's videoannotation example payload
        "with_labels",  # [DOC] https://docs.scale.com/reference/callback-format; seed response
    }
)

PARAMS: Final[dict[str, frozenset[str]]] = {
    SEGMENT: _COMMON
    | {
        "labels",  # [DOC] seed; required
        "allow_unlabeled",  # [DOC] seed
        "context_attachments",  # [DOC] seed
    },
    IMAGE: _COMMON
    | _BASE_ANNOTATIONS
    | _GEOMETRY_TASK
    | {
        "links",  # [DOC] image-and-video-reference; [DOC-copy] Pipedream
        "context_attachments",  # [DOC] image-and-video-reference
    },
    VIDEO: _COMMON
    | _BASE_ANNOTATIONS
    | _GEOMETRY_TASK
    | _VIDEO
    | {
        "links",  # [DOC] seed (videoannotation page)
    },
    PLAYBACK: _COMMON
    | _BASE_ANNOTATIONS
    | _GEOMETRY_TASK
    | _VIDEO
    | {
        "annotation_frame_rate",  # [DOC] https://docs.scale.com/reference/video-playback ("V2")
        "video_frame_rate",  # [DOC] same
        "convert_to_constant_frame_rate_video",  # [CODE] Voxel Labs pipeline only
        "constant_frame_rate",  # [CODE] same
    },
}

# what a config must give (attachment/attachments are filled per item by prelabel)
REQUIRED_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    SEGMENT: ("labels",),  # [DOC] seed: "required parameters ... attachment and labels"
    IMAGE: ("geometries",),  # [DOC] image-and-video-reference
    VIDEO: ("geometries",),  # [DOC] seed
    PLAYBACK: ("geometries",),  # [DOC] seed
}

# params prelabel fills per item; a config may not set them (attachment(s): only validated)
PER_ITEM_PARAMS: Final = frozenset(
    {"attachment", "attachments", "unique_id", "hypothesis", "base_annotations"}
)
# of those, what the config must leave out, and why
FORBIDDEN_IN_CONFIG: Final[dict[str, str]] = {
    "unique_id": "set [prelabel] unique_id (a template) instead; one fixed id would repeat on "
    "every task and Scale rejects a repeated unique_id (409)",
    "hypothesis": "prelabel fills it per item from the model outputs; remove it",
    "base_annotations": "prelabel fills it per item from the model outputs "
    '(prelabel_as = "base_annotations"); remove it',
}
# where prelabels may go, per task type
PRELABEL_TARGETS: Final[dict[str, tuple[str, ...]]] = {
    # [DOC] only hypothesis is documented; base_annotations for segmentation is [UNKNOWN]
    SEGMENT: ("hypothesis",),
    IMAGE: ("hypothesis", "base_annotations"),  # [DOC] + [DOC-copy] Pipedream
    VIDEO: ("hypothesis", "base_annotations"),  # [DOC] seed lists both
    PLAYBACK: (
        "hypothesis",
        "base_annotations",
    ),  # [DOC] hypothesis page; seed lists base_annotations
}

# --- value types of parameters (checked on load) ---------------------------------------------

# kind of value per parameter; geometries, labels and the table-valued ones get deeper checks.
# The seed's VPA page types events_to_annotate as int32, duration_time as array and frame_rate
# as object: those are swapped in the doc; the values below follow the descriptions.
STRING_PARAMS: Final = frozenset(
    {"project", "batch", "instruction", "callback_url", "attachment", "attachment_type"}
)
BOOL_PARAMS: Final = frozenset(
    {
        "allow_unlabeled",
        "clear_unique_id_on_error",
        "with_labels",
        "convert_to_constant_frame_rate_video",
    }
    | (_BASE_ANNOTATIONS - {"base_annotations"})
)
STRING_LIST_PARAMS: Final = frozenset({"tags", "events_to_annotate", "attachments"})
TABLE_PARAMS: Final = frozenset({"metadata", "annotation_attributes", "links", "geometries"})
# padding in whole pixels, >= 0 ([DOC] seed: int32)
PIXEL_PARAMS: Final = frozenset({"padding", "paddingX", "paddingY"})
# frame rates and durations: numbers > 0 (start_time: >= 0)
POSITIVE_NUMBER_PARAMS: Final = frozenset(
    {
        "frame_rate",
        "annotation_frame_rate",
        "video_frame_rate",
        "constant_frame_rate",
        "duration_time",
    }
)
NON_NEGATIVE_NUMBER_PARAMS: Final = frozenset({"start_time"})

# --- geometries ------------------------------------------------------------------------------

# [DOC] https://docs.scale.com/reference/boxes · /polygons · /lines · /points · /ellipses · /cuboids
GEOMETRY_KEYS: Final[dict[str, frozenset[str]]] = {
    "box": frozenset(
        {"objects_to_annotate", "min_height", "min_width", "can_rotate", "integer_pixels"}
    ),
    "polygon": frozenset({"objects_to_annotate", "min_vertices", "max_vertices"}),
    "line": frozenset({"objects_to_annotate", "min_vertices", "max_vertices"}),
    "point": frozenset({"objects_to_annotate", "connections"}),
    "ellipse": frozenset({"objects_to_annotate"}),
    "cuboid": frozenset(
        {
            "objects_to_annotate",
            "min_height",
            "min_width",
            "camera_intrinsics",
            "camera_rotation_quaternion",
            "camera_height",
        }
    ),
}
# [DOC] cuboids page: {fx, fy, cx, cy, skew=0, scalefactor=1}; its example spells scale_factor
CAMERA_INTRINSICS_KEYS: Final = frozenset(
    {"fx", "fy", "cx", "cy", "skew", "scalefactor", "scale_factor"}
)
CAMERA_QUATERNION_KEYS: Final = frozenset({"w", "x", "y", "z"})
# [DOC] points page: connections = [{pair: [labelA, labelB], connection_attribute: <name>}]
CONNECTION_KEYS: Final = frozenset({"pair", "connection_attribute"})
# [DOC] polygons/lines pages: min_vertices defaults to 1, max_vertices to none (>= min)
DEFAULT_MIN_VERTICES: Final = 1
# what a shape needs to exist at all (our rule: the fit engine needs this many distinct vertices)
LEAST_VERTICES: Final[dict[str, int]] = {"polygon": 3, "line": 2}

# --- labels ---------------------------------------------------------------------------------

# [DOC] https://docs.scale.com/reference/label-nesting ; https://scale.com/docs/api-reference/labels
LABEL_DESCRIPTION_KEYS: Final = frozenset({"choice", "subchoices", "instance_label", "display"})
# [DOC] seed (segmentannotation labels): "You may include at most 50 labels" (entries of the array)
MAX_LABELS: Final = 50
# [DOC] https://scale.com/docs/api-reference/annotation-attributes (type defaults to category)
ATTRIBUTE_TYPES: Final = frozenset({"category", "number", "angle", "text", "linked"})
# segmentannotation allow_unlabeled when unset: false — [DOC] seed: "You can also optionally
# set allow_unlabeled to true ... otherwise, all pixels in the image will be classified"
DEFAULT_ALLOW_UNLABELED: Final = False

# --- attachments ----------------------------------------------------------------------------

# [DOC] seed: segmentannotation supports only image; video types "image and video"
ATTACHMENT_TYPES: Final[dict[str, tuple[str, ...]]] = {
    SEGMENT: ("image",),
    IMAGE: ("image",),
    VIDEO: ("image", "video"),
    PLAYBACK: ("image", "video"),
}
# [DOC] seed + https://docs.scale.com/reference/video-playback: "Only the mp4, webm, and ogg
# formats are supported"
VIDEO_EXTENSIONS: Final[tuple[str, ...]] = ("mp4", "webm", "ogg")
# [DOC] https://docs.scale.com/reference/task-attachments-1: JPEG, PNG, BMP, GIF, TIFF
IMAGE_EXTENSIONS: Final[tuple[str, ...]] = ("jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff")
# [DOC] task-attachments-1: images up to 10000 px width or height
MAX_IMAGE_SIDE: Final = 10000
# [DOC] image-and-video-reference: a context attachment may not reuse the task's attachment
CONTEXT_ATTACHMENT_KEYS: Final = frozenset({"attachment"})

# --- request-level limits --------------------------------------------------------------------

# [DOC] seed (priority param); [DOC-copy] Pipedream scale_ai.app.mjs
PRIORITIES: Final[tuple[int, ...]] = (10, 20, 30)
# [DOC] LIMITS_DOC: "Max task metadata JSON 10 kB" (taken as 10240 bytes, compact JSON)
METADATA_MAX_BYTES: Final = 10240
# [DOC] LIMITS_DOC: file-upload metadata 8 kB
FILE_METADATA_MAX_BYTES: Final = 8192
# [DOC] seed: "At most 5 tags are allowed per task"
MAX_TAGS: Final = 5
# [DOC] LIMITS_DOC: 2500 attributes (scope not stated)
MAX_ATTRIBUTES: Final = 2500
# [DOC] LIMITS_DOC: 30 task creations per second (Pro)
CREATE_RATE_PER_SECOND: Final = 30
# [SDK] scaleapi list tasks `limit` 1..100; [DOC] v2 docs
LIST_PAGE_SIZE: Final = 100
# upload size: LIMITS_DOC says 120 MB, https://scale.ai/docs/api-reference/file-endpoints says
# 80 MB; we keep the smaller one
UPLOAD_MAX_BYTES: Final = 80 * 1024 * 1024
