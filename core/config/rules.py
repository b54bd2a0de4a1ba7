"""Everything Scale-specific about a task config, as data, in one place.

Change a limit here and every check, writer and test that reads it follows. Each entry
names its source; the tags follow ``shared/reference/scale-api.md``:

* [DOC]      Scale's own documentation (URL given), incl. the task reference in
             ``seed-scale-tasks.md`` (https://scale.com/docs/api-reference/image-and-video-tasks);
* [DOC-copy] Scale's text as reproduced by a third-party integration (Pipedream);
* [CODE]     seen only in third-party or Scale front-end code, not a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
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
# [DOC] https://docs.scale.com/reference/numerical-attributes: step defaults to 1
DEFAULT_ATTRIBUTE_STEP: Final = 1
# [DOC] https://scale.com/docs/api-reference/annotation-attributes: an angle is picked on 0-360
ANGLE_RANGE: Final[tuple[float, float]] = (0.0, 360.0)
# attachment_type when a body does not say: [DOC] seed: segment/image take images; for the two
# video types the docs give no default, prelabel's writers use these
DEFAULT_ATTACHMENT_TYPE: Final[dict[str, str]] = {
    SEGMENT: "image",
    IMAGE: "image",
    VIDEO: "image",
    PLAYBACK: "video",
}
# [DOC] ellipses page: exactly 4 extremal points
ELLIPSE_VERTICES: Final = 4
# [DOC] segmentation hypothesis: 8-bit single-channel indexedImage, 0 = unlabeled
MAX_SEGMENT_INDEX: Final = 255

# --- what prelabel adds to a body it sends ---------------------------------------------------

# submit keeps a digest of each sent body in the task's metadata so a rerun can tell a changed
# body from the same one; the key and its hex length are fixed so the 10 kB budget can hold it
METADATA_DIGEST_KEY: Final = "prelabel_digest"
DIGEST_HEX_CHARS: Final = 32
# bytes the digest adds to compact metadata JSON: ,"prelabel_digest":"<32 hex>" (+2 for "{}")
DIGEST_RESERVE_BYTES: Final = len(METADATA_DIGEST_KEY) + DIGEST_HEX_CHARS + 8
# [DOC] scaleapi-python-client README (files): an uploaded or imported file's attachment_url
# "will have a prefix like scaledata://" and "can be passed to the task payloads"
SCALEDATA_SCHEME: Final = "scaledata://"


# --- the rule book ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule a task body must follow.

    Attributes:
        id: short name, used in messages and by ``prelabel sandbox --lenient``.
        says: what the rule requires.
        source: where it comes from (a Scale page, or prelabel's reason).
        documented: Scale documents it; else it is prelabel's caution (strict by default).
        config: also checked when a config is loaded (it is about ``[params]``).
        sandbox: the sandbox can check it (False: it needs the image's size, which neither
            the sandbox nor Scale knows when a task is created; validate reads it from
            ``report.json``).
    """

    id: str
    says: str
    source: str
    documented: bool
    config: bool = False
    sandbox: bool = True

    @property
    def relaxable(self) -> bool:
        """``prelabel sandbox --lenient`` may turn it off (undocumented behaviour only)."""
        return not self.documented and self.sandbox and self.id != "hosted-file"


_ATTRIBUTES_DOC = "https://scale.com/docs/api-reference/annotation-attributes"
_LABELS_DOC = "https://docs.scale.com/reference/label-nesting"
_SEGMENT_HYPOTHESIS_DOC = "https://docs.scale.com/reference/image-segmentation-hypothesis"

RULES: Final[tuple[Rule, ...]] = (
    Rule("task-type", f"the task type is one of {', '.join(PARAMS)} (others: 404)",
         TASKS_DOC, True, config=True),
    Rule("required", "segmentannotation needs attachment and labels; imageannotation "
         "attachment and geometries; videoannotation geometries and attachments (images) or "
         "attachment (video); videoplaybackannotation geometries and attachment (or attachments)",
         TASKS_DOC, True, config=True),
    Rule("param-type", "each parameter has its documented type: strings, booleans, arrays of "
         "strings, objects, whole-pixel paddings >= 0, frame rates and durations > 0",
         TASKS_DOC, True, config=True),
    Rule("priority", f"priority is one of {', '.join(map(str, PRIORITIES))}", TASKS_DOC, True,
         config=True),
    Rule("tags", f"at most {MAX_TAGS} tags", TASKS_DOC, True, config=True),
    Rule("metadata", f"metadata is at most {METADATA_MAX_BYTES} bytes of JSON (prelabel keeps "
         f"{DIGEST_RESERVE_BYTES} of them for its body digest)", LIMITS_DOC, True, config=True),
    Rule("labels-count", f"at most {MAX_LABELS} labels", TASKS_DOC, True, config=True),
    Rule("labels", "labels and objects_to_annotate are strings or LabelDescription objects "
         "{choice, subchoices, instance_label, display}; leaf choices unique", _LABELS_DOC,
         True, config=True),
    Rule("attachment-type", "attachment_type is 'image' for segment and image tasks, 'image' or "
         "'video' for video tasks; attachments are omitted with 'video'", TASKS_DOC, True,
         config=True),
    Rule("attachment-format", "video attachments are mp4, webm or ogg; images jpg, png, bmp, gif "
         "or tiff; a context attachment never repeats the task's attachment",
         "https://docs.scale.com/reference/task-attachments-1", True, config=True),
    Rule("callback-url", "callback_url is an http(s) URL or an e-mail address",
         "https://scale.com/docs/api-reference/callbacks", True, config=True),
    Rule("geometries", "geometries name box, polygon, line, point, ellipse or cuboid with their "
         "documented settings; min_vertices >= 1, max_vertices >= min_vertices",
         "https://docs.scale.com/reference/polygons", True, config=True),
    Rule("annotation-attributes", "annotation_attributes have a known type; conditions and "
         "allowed_labels name leaf labels (label_condition as {label: ...} or a list of labels)",
         _ATTRIBUTES_DOC, True, config=True),
    Rule("prelabel-field", "prelabels go in hypothesis (every type) or base_annotations (image "
         "and video types); a config fills neither", TASKS_DOC, True, config=True),
    Rule("prelabel-shape", "segmentannotation: {labelMapping, annotations.combined.indexedImage}; "
         "imageannotation: {annotations: [...]}; videoplaybackannotation: {annotations: {url}}; "
         "videoannotation: {annotations: [per-frame list] or {url}} (inferred: no page); "
         "base_annotations always holds annotations", "https://docs.scale.com/reference/image-annotation-hypothesis-2",
         True),
    Rule("indexed-image", "a segmentation prelabel names a single-channel 8-bit PNG as "
         "annotations.combined.indexedImage; an extendedIndexedImage never replaces it",
         _SEGMENT_HYPOTHESIS_DOC, True),
    Rule("label-mapping", "labelMapping names leaf labels of the task; an instance label maps to "
         "a list of entries, any other label to one; each entry has a whole index 1-255, unique",
         _SEGMENT_HYPOTHESIS_DOC, True),
    Rule("prelabel-label", "each prelabel's type is one of the task's geometries and its label a "
         "leaf of that geometry's objects_to_annotate",
         "https://docs.scale.com/reference/image-annotation-hypothesis-2", True),
    Rule("prelabel-geometry", "each prelabel has its geometry's fields: box left, top, width, "
         "height; polygon and line vertices [{x, y}]; point x, y; ellipse 4 vertices",
         "https://docs.scale.com/reference/boxes", True),
    Rule("attribute-values", "prelabel attributes are defined in annotation_attributes; category "
         "values among the choices; numbers within min..max on the step grid (default step 1: "
         "whole numbers); angles 0-360; text and linked values strings",
         "https://docs.scale.com/reference/numerical-attributes", True),
    Rule("playback-file", "the hosted videoplayback file maps each uuid to {geometry, frames: "
         "[{key, timestamp, geometry fields}]}",
         "https://docs.scale.com/reference/video-playback-annotation-hypothesis", True),
    Rule("hosted-file", "every file a prelabel names resolves: no artifact:// placeholder "
         "reaches Scale, an uploaded scaledata:// file exists (validate: artifacts/NAME exists)",
         "prelabel: artifact:// is prelabel's placeholder for files submit uploads", False),
    Rule("param-known", "a body carries only parameters its task type documents",
         "prelabel: Scale does not document what it does with unknown parameters", False,
         config=True),
    Rule("instance-label-leaf", "instance_label is set on leaf labels; a parent's is not "
         "inherited by its subchoices", "prelabel: the label-nesting page is silent on "
         "inheritance and returns leaves only", False, config=True),
    Rule("vertices", "prelabel polygons have min_vertices..max_vertices vertices (at least 3), "
         "lines at least 2", "prelabel: Scale does not say whether it enforces vertex limits on "
         "prelabels", False, config=True),
    Rule("box-settings", "prelabel boxes respect min_width, min_height, integer_pixels and "
         "can_rotate", "prelabel: Scale does not say whether it enforces them on prelabels", False),
    Rule("polygon-valid", "prelabel polygons have 3 distinct vertices, an area, and no crossing "
         "edges (a keyhole bridge touching itself is fine)", "prelabel: a crossing ring has no "
         "one meaning", False),
    Rule("uuid-unique", "annotation uuids are unique within a frame (an image task: the task)",
         "prelabel: a repeated uuid merges two objects", False),
    Rule("mask-pixels", "every index in the indexed PNG is in labelMapping, numPixels counts its "
         "pixels, the PNG is the image's size, and unlabeled pixels only with allow_unlabeled",
         "prelabel: the hypothesis page shows the fields, not their consistency", False),
    Rule("video-frames", "a videoannotation per-frame list has one entry per attachment",
         "prelabel: the response format has one entry per task frame", False),
    Rule("playback-keys", "videoplayback frame keys are whole numbers >= 0, unique within an "
         "object; timestamps >= 0", "prelabel: keys are video frame numbers, timestamps seconds",
         False),
    Rule("in-bounds", "prelabel geometry lies inside the image extended by padding",
         "prelabel: padding lets annotations leave the image, nothing more", False,
         sandbox=False),
)  # fmt: skip
RULE_IDS: Final = frozenset(r.id for r in RULES)
RELAXABLE: Final = tuple(r.id for r in RULES if r.relaxable)


def rule(rule_id: str) -> Rule:
    """The rule named ``rule_id`` (a KeyError names an unknown one)."""
    for entry in RULES:
        if entry.id == rule_id:
            return entry
    raise KeyError(rule_id)
