"""Task config: loading, every validation rule with its exact message, derived limits."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURES, SHARED
from hypothesis import given
from hypothesis import strategies as st

from prelabel.config import rules
from prelabel.config.load import TaskConfig, config_from_dict, load_config, read_config_file
from prelabel.config.task_types import TASK_TYPES
from prelabel.config.taxonomy import TaxonomyError, parse_labels
from prelabel.errors import ConfigError, InputError

CONFIGS = FIXTURES / "configs"
REFERENCE = SHARED.parent / "reference"

# --- writing configs as TOML -----------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict), value
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def write_toml(folder: Path, data: dict[str, Any], name: str = "task.toml") -> Path:
    """Write ``data`` as TOML (one line per top-level key; tables inline)."""
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


IMAGE: dict[str, Any] = {
    "task_type": "imageannotation",
    "params": {
        "project": "p",
        "geometries": {
            "box": {"objects_to_annotate": ["car", "person"]},
            "polygon": {"objects_to_annotate": ["car"], "min_vertices": 3, "max_vertices": 50},
        },
    },
}
SEGMENT: dict[str, Any] = {
    "task_type": "segmentannotation",
    "params": {"labels": ["road", {"choice": "vehicle", "subchoices": ["car", "bus"]}]},
}
VIDEO: dict[str, Any] = {
    "task_type": "videoannotation",
    "params": {"geometries": {"box": {"objects_to_annotate": ["pedestrian"]}}},
}
PLAYBACK: dict[str, Any] = {
    "task_type": "videoplaybackannotation",
    "params": {"geometries": {"box": {}}},
}

Patch = Callable[[dict[str, Any]], None]


def params(**values: Any) -> Patch:
    return lambda c: c["params"].update(values)


def prelabel(**values: Any) -> Patch:
    return lambda c: c.setdefault("prelabel", {}).update(values)


def geometry(kind: str, **values: Any) -> Patch:
    return lambda c: c["params"]["geometries"].setdefault(kind, {}).update(values)


def drop(key: str) -> Patch:
    return lambda c: c["params"].pop(key)


def top(**values: Any) -> Patch:
    return lambda c: c.update(values)


BIG_METADATA = {f"key{i}": "x" * 100 for i in range(110)}
BIG_METADATA_SIZE = len(orjson.dumps(BIG_METADATA))

# (base, patch, location, reason)
BROKEN: list[tuple[dict[str, Any], Patch, str | None, str]] = [
    (IMAGE, params(priority=15), "params.priority", "must be one of 10, 20, 30 (got 15)"),
    (IMAGE, params(priority=True), "params.priority", "must be one of 10, 20, 30 (got True)"),
    (
        IMAGE,
        geometry("polygon", max_vertices=2),
        "params.geometries.polygon.max_vertices",
        "must be >= min_vertices (3), got 2",
    ),
    (
        IMAGE,
        geometry("polygon", min_vertices=1, max_vertices=2),
        "params.geometries.polygon.max_vertices",
        "a polygon needs at least 3 vertices, got 2",
    ),
    (
        IMAGE,
        geometry("line", max_vertices=1),
        "params.geometries.line.max_vertices",
        "a line needs at least 2 vertices, got 1",
    ),
    (
        IMAGE,
        geometry("polygon", min_vertices=0),
        "params.geometries.polygon.min_vertices",
        "must be a whole number >= 1, got 0",
    ),
    (
        IMAGE,
        params(callback_url="ftp://example.com/cb"),
        "params.callback_url",
        "must be an http(s) URL or an e-mail address",
    ),
    (
        IMAGE,
        params(callback_url="not an address"),
        "params.callback_url",
        "must be an http(s) URL or an e-mail address",
    ),
    (
        VIDEO,
        params(attachment_type="video", attachments=["https://x/1.jpg"]),
        "params.attachments",
        'must be omitted when attachment_type is "video"',
    ),
    (
        VIDEO,
        params(attachment_type="video", attachment="https://x/clip.avi?sig=1"),
        "params.attachment",
        "video attachments must be mp4, webm or ogg (got .avi)",
    ),
    (
        PLAYBACK,
        params(attachment="https://x/clip.MOV"),
        "params.attachment",
        "video attachments must be mp4, webm or ogg (got .mov)",
    ),
    (
        VIDEO,
        params(attachments=["https://x/1.jpg", "https://x/2.mp4"]),
        "params.attachments[1]",
        "frame images must be jpg, jpeg, png, bmp, gif, tif or tiff (got .mp4)",
    ),
    (
        IMAGE,
        params(
            attachment="https://x/a.jpg",
            context_attachments=[
                {"attachment": "https://x/legend.png"},
                {"attachment": "https://x/a.jpg"},
            ],
        ),
        "params.context_attachments[1].attachment",
        "must not repeat the task's attachment",
    ),
    (
        IMAGE,
        params(context_attachments=[{"url": "https://x/a.jpg"}]),
        "params.context_attachments[0].url",
        "not a context attachment field (only attachment)",
    ),
    (
        SEGMENT,
        params(attachment_type="video"),
        "params.attachment_type",
        "segmentannotation takes attachment_type 'image' (got 'video')",
    ),
    (IMAGE, params(tags=[f"t{i}" for i in range(7)]), "params.tags", "at most 5 tags (got 7)"),
    (IMAGE, params(tags=["ok", 3]), "params.tags[1]", "must be a non-empty string, got 3"),
    (
        SEGMENT,
        params(labels=[f"l{i}" for i in range(51)]),
        "params.labels",
        "at most 50 labels (got 51)",
    ),
    (
        IMAGE,
        params(metadata=BIG_METADATA),
        "params.metadata",
        f"{BIG_METADATA_SIZE} bytes serialized (+{rules.DIGEST_RESERVE_BYTES} for prelabel's"
        " body digest), Scale allows 10240",
    ),
    (
        IMAGE,
        prelabel(on_violation="repair"),
        "prelabel.on_violation",
        "must be one of fix, drop, error (got 'repair')",
    ),
    (
        SEGMENT,
        params(max_vertice=10),
        "params.max_vertice",
        "not a segmentannotation parameter; max_vertices is a geometry setting "
        "(geometries.<kind>) of image and video tasks",
    ),
    (
        IMAGE,
        params(min_vertices=3),
        "params.min_vertices",
        "not an imageannotation parameter; did you mean geometries.<kind>.min_vertices?",
    ),
    (
        SEGMENT,
        params(lables=["a"]),
        "params.lables",
        "not a segmentannotation parameter; did you mean labels?",
    ),
    (
        SEGMENT,
        params(links={}),
        "params.links",
        "not a segmentannotation parameter (only imageannotation, videoannotation take it)",
    ),
    (
        IMAGE,
        params(unique_id="fixed"),
        "params.unique_id",
        "not allowed in a config: " + rules.FORBIDDEN_IN_CONFIG["unique_id"],
    ),
    (
        IMAGE,
        params(hypothesis={"annotations": []}),
        "params.hypothesis",
        "not allowed in a config: " + rules.FORBIDDEN_IN_CONFIG["hypothesis"],
    ),
    (
        IMAGE,
        top(task_type="imageannotaton"),
        "task_type",
        "must be one of segmentannotation, imageannotation, videoannotation, "
        "videoplaybackannotation (got 'imageannotaton'); did you mean imageannotation?",
    ),
    (
        IMAGE,
        lambda c: c.pop("task_type"),
        "task_type",
        "missing; set it to one of segmentannotation, imageannotation, videoannotation, "
        "videoplaybackannotation",
    ),
    (IMAGE, top(labels=["a"]), "labels", "Scale parameters go in the [params] table"),
    (IMAGE, top(on_violation="fix"), "on_violation", "toolkit options go in the [prelabel] table"),
    (
        IMAGE,
        top(param={}),
        "param",
        "not a config key (keys: task_type, params, prelabel); did you mean params?",
    ),
    (SEGMENT, drop("labels"), "params.labels", "missing; segmentannotation requires it"),
    (IMAGE, drop("geometries"), "params.geometries", "missing; imageannotation requires it"),
    (
        PLAYBACK,
        drop("geometries"),
        "params.geometries",
        "missing; videoplaybackannotation requires it",
    ),
    (
        IMAGE,
        params(geometries={}),
        "params.geometries",
        "must name at least one of box, polygon, line, point, ellipse, cuboid",
    ),
    (
        IMAGE,
        geometry("boxes"),
        "params.geometries.boxes",
        "not a geometry (geometries: box, polygon, line, point, ellipse, cuboid); did you mean box?",
    ),
    (
        IMAGE,
        geometry("box", max_vertices=4),
        "params.geometries.box.max_vertices",
        "not a box setting (can_rotate, integer_pixels, min_height, min_width, "
        "objects_to_annotate)",
    ),
    (
        IMAGE,
        geometry("box", min_width=-1),
        "params.geometries.box.min_width",
        "must be a number >= 0, got -1",
    ),
    (
        IMAGE,
        geometry("box", can_rotate="yes"),
        "params.geometries.box.can_rotate",
        "must be true or false, got 'yes'",
    ),
    (
        IMAGE,
        geometry("cuboid", camera_intrinsics={"fx": 1, "fz": 2}),
        "params.geometries.cuboid.camera_intrinsics.fz",
        "not one of cx, cy, fx, fy, scale_factor, scalefactor, skew",
    ),
    (
        IMAGE,
        geometry("point", objects_to_annotate=["a", "b"], connections=[{"pair": ["a", "c"]}]),
        "params.geometries.point.connections[0].pair",
        "'c' is not one of the point's objects_to_annotate",
    ),
    (
        IMAGE,
        geometry("box", objects_to_annotate=[{"choice": "v", "subchoices": ["car", ""]}]),
        "params.geometries.box.objects_to_annotate[0].subchoices[1]",
        "a label must be a non-empty string, got ''",
    ),
    (
        IMAGE,
        geometry("box", objects_to_annotate=[{"choice": "v", "subchoices": []}]),
        "params.geometries.box.objects_to_annotate[0].subchoices",
        "must be a non-empty array of labels",
    ),
    (
        IMAGE,
        geometry("box", objects_to_annotate=[{"choice": "v", "colour": "red"}]),
        "params.geometries.box.objects_to_annotate[0].colour",
        "not a LabelDescription field (fields: choice, display, instance_label, subchoices)",
    ),
    (
        SEGMENT,
        params(labels=["car", {"choice": "vehicle", "subchoices": ["car"]}]),
        "params.labels",
        "label 'car' appears twice; leaf choices must be unique",
    ),
    (
        SEGMENT,
        params(labels=[["vehicle"]]),
        "params.labels[0]",
        "must be a string or a LabelDescription table, got an array",
    ),
    (SEGMENT, params(labels=[]), "params.labels", "must name at least one label"),
    (
        SEGMENT,
        params(
            annotation_attributes={
                "occluded": {
                    "choices": ["y", "n"],
                    "conditions": {"label_condition": {"label": "vehicle"}},
                }
            }
        ),
        "params.annotation_attributes.occluded.conditions.label_condition.label",
        "'vehicle' has subchoices; conditions name leaf labels",
    ),
    (
        SEGMENT,
        params(
            annotation_attributes={
                "occluded": {"conditions": {"label_condition": {"label": ["car", "bsu"]}}}
            }
        ),
        "params.annotation_attributes.occluded.conditions.label_condition.label",
        "'bsu' is not one of the task's labels; did you mean bus?",
    ),
    (
        IMAGE,
        params(annotation_attributes={"size": {"type": "numbr"}}),
        "params.annotation_attributes.size.type",
        "must be one of angle, category, linked, number, text (got 'numbr'); did you mean number?",
    ),
    (
        IMAGE,
        params(annotation_attributes={"a": {"conditions": []}}),
        "params.annotation_attributes.a.conditions",
        "must be a table, got an array",
    ),
    (IMAGE, params(padding=-1), "params.padding", "must be a whole number of pixels >= 0, got -1"),
    (
        IMAGE,
        params(paddingX=2.5),
        "params.paddingX",
        "must be a whole number of pixels >= 0, got 2.5",
    ),
    (VIDEO, params(frame_rate=0), "params.frame_rate", "must be a number > 0, got 0"),
    (PLAYBACK, params(start_time=-1), "params.start_time", "must be a number >= 0, got -1"),
    (IMAGE, params(project=""), "params.project", "must be a non-empty string, got ''"),
    (
        SEGMENT,
        params(allow_unlabeled="false"),
        "params.allow_unlabeled",
        "must be true or false, got 'false'",
    ),
    (IMAGE, params(metadata=[1]), "params.metadata", "must be a table, got an array"),
    (IMAGE, top(params=[]), "params", "must be a table, got an array"),
    (
        IMAGE,
        prelabel(on_violations="fix"),
        "prelabel.on_violations",
        "not a prelabel option; did you mean on_violation?",
    ),
    (
        IMAGE,
        prelabel(score_threshold=1.5),
        "prelabel.score_threshold",
        "must be between 0 and 1, got 1.5",
    ),
    (
        IMAGE,
        prelabel(score_thresholds={"car": -0.1}),
        "prelabel.score_thresholds.car",
        "must be between 0 and 1, got -0.1",
    ),
    (
        IMAGE,
        prelabel(score_thresholds={"car": "high"}),
        "prelabel.score_thresholds.car",
        "must be a number (got 'high')",
    ),
    (IMAGE, prelabel(top_k=0), "prelabel.top_k", "must be >= 1, got 0"),
    (IMAGE, prelabel(top_k="5"), "prelabel.top_k", "must be a whole number (got '5')"),
    (
        IMAGE,
        prelabel(allow_unmatched_labels=1),
        "prelabel.allow_unmatched_labels",
        "must be true or false (got 1)",
    ),
    (IMAGE, prelabel(frame_key_base=2), "prelabel.frame_key_base", "must be 0 or 1, got 2"),
    (IMAGE, prelabel(min_hole_area=-5), "prelabel.min_hole_area", "must be >= 0, got -5.0"),
    (
        IMAGE,
        prelabel(attachment_url="https://cdn/{file_name"),
        "prelabel.attachment_url",
        "not a valid template: expected '}' before end of string",
    ),
    (
        IMAGE,
        prelabel(unique_id="task-{}"),
        "prelabel.unique_id",
        "a placeholder needs a field name, e.g. {file_name}",
    ),
    (IMAGE, prelabel(unique_id=" "), "prelabel.unique_id", "must not be empty"),
    (
        IMAGE,
        prelabel(artifact_url="https://cdn/{file}"),
        "prelabel.artifact_url",
        "uses {file}; artifact_url knows {name}, {sha256}, {stem}",
    ),
    (IMAGE, prelabel(label_map="nowhere.json"), "prelabel.label_map", "no such file: {dir}"),
    (
        SEGMENT,
        prelabel(fill_unlabeled="vehicle"),
        "prelabel.fill_unlabeled",
        "'vehicle' is not a leaf of params.labels",
    ),
    (
        SEGMENT,
        prelabel(fill_unlabeled="raod"),
        "prelabel.fill_unlabeled",
        "'raod' is not a leaf of params.labels; did you mean road?",
    ),
    (
        IMAGE,
        prelabel(fill_unlabeled="car"),
        "prelabel.fill_unlabeled",
        "only applies to segmentannotation tasks",
    ),
    (
        SEGMENT,
        prelabel(prelabel_as="base_annotations"),
        "prelabel.prelabel_as",
        "segmentannotation takes prelabels in hypothesis only",
    ),
    (
        IMAGE,
        prelabel(prelabel_as="base"),
        "prelabel.prelabel_as",
        "must be one of hypothesis, base_annotations (got 'base')",
    ),
]


def _case_id(case: tuple[dict[str, Any], Patch, str | None, str]) -> str:
    base, _, location, reason = case
    return f"{base['task_type'][:5]}-{location}-{reason[:30]}"


@pytest.mark.parametrize("case", BROKEN, ids=[_case_id(c) for c in BROKEN])
def test_broken_config_names_field_and_rule(
    case: tuple[dict[str, Any], Patch, str | None, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, patch, location, reason = case
    data = copy.deepcopy(base)
    patch(data)
    write_toml(tmp_path, data)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("task.toml")
    reason = reason.replace("{dir}", str(tmp_path / "nowhere.json"))
    assert str(info.value) == f"task.toml, {location}: {reason}"
    assert isinstance(info.value, InputError)  # exit code 3 at the CLI


def test_broken_table_covers_every_task_type() -> None:
    assert {base["task_type"] for base, *_ in BROKEN} == set(TASK_TYPES)


# --- files and syntax ------------------------------------------------------------------------


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "bad" / "syntax.toml")
    assert info.value.location == "line 5, column 26"
    assert info.value.reason == "TOML syntax error: Expected '=' after a key in a key/value pair"
    assert info.value.path == str(CONFIGS / "bad" / "syntax.toml")


def test_json_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "bad" / "syntax.json")
    assert info.value.location == "line 5, column 3"
    assert info.value.reason.startswith("JSON syntax error: ")


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    (tmp_path / "task.ini").write_text("[params]\n")
    with pytest.raises(ConfigError, match=r"unknown config file type '\.ini'"):
        load_config(tmp_path / "task.ini")


def test_top_level_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "task.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="the top level must be a table"):
        load_config(tmp_path / "task.json")


def test_yaml_config_loads_or_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(
        "task_type: imageannotation\nparams:\n  geometries:\n    box:\n"
        "      objects_to_annotate: [car]\nprelabel:\n  on_violation: drop\n"
    )
    if importlib.util.find_spec("yaml") is None:
        with pytest.raises(ConfigError, match="YAML configs need PyYAML"):
            load_config(path)
        return
    config = load_config(path)
    assert config.prelabel.on_violation == "drop"
    assert config.leaf_labels() == {"car"}


# --- the example configs ---------------------------------------------------------------------

EXAMPLES = sorted(
    p
    for p in CONFIGS.iterdir()
    if p.suffix in (".toml", ".json") and p.name != "street_label_map.json"
)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_load(path: Path) -> None:
    config = load_config(path)
    assert config.task_type in TASK_TYPES
    assert config.path == str(path)
    assert config.leaf_labels()
    for label in config.leaf_labels():
        assert config.label_allowed(label)


def test_one_example_per_task_type() -> None:
    assert {load_config(p).task_type for p in EXAMPLES} == set(TASK_TYPES)


def test_example_round_trips_through_json(tmp_path: Path) -> None:
    """The same config as JSON gives the same result as the TOML file."""
    data = read_config_file(CONFIGS / "imageannotation.toml")
    (tmp_path / "task.json").write_text(json.dumps(data))
    assert (
        load_config(tmp_path / "task.json").limits
        == load_config(CONFIGS / "imageannotation.toml").limits
    )


# --- overrides and paths ---------------------------------------------------------------------


def test_cli_overrides_win_and_none_means_not_given() -> None:
    config = load_config(
        CONFIGS / "imageannotation.toml",
        {"on_violation": "drop", "top_k": None, "score_thresholds": {"car": 0.9}},
    )
    assert config.prelabel.on_violation == "drop"
    assert config.prelabel.top_k == 50  # from the file
    assert config.prelabel.score_thresholds == {"person": 0.5, "car": 0.9}


def test_bad_override_is_blamed_on_the_command_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "imageannotation.toml", {"score_threshold": 2.0})
    assert info.value.location == "prelabel.score_threshold (from the command line)"
    assert info.value.reason == "must be between 0 and 1, got 2.0"


def test_per_label_thresholds_merge_with_the_file() -> None:
    config = load_config(
        CONFIGS / "imageannotation.toml", {"score_thresholds": {"car": 0.9, "person": 0.7}}
    )
    assert config.prelabel.score_thresholds == {"person": 0.7, "car": 0.9}
    config = load_config(CONFIGS / "imageannotation.toml", {"score_thresholds": {"car": 0.9}})
    assert config.prelabel.score_thresholds == {"person": 0.5, "car": 0.9}


def test_label_map_resolves_against_the_config_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(CONFIGS / "segmentannotation.toml")
    assert config.prelabel.label_map == str(CONFIGS / "street_label_map.json")


def test_label_map_override_resolves_against_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "map.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    config = load_config(CONFIGS / "segmentannotation.toml", {"label_map": "map.json"})
    assert config.prelabel.label_map == str(tmp_path / "map.json")


def test_config_from_dict_without_a_file() -> None:
    config = config_from_dict(copy.deepcopy(IMAGE))
    assert config.path is None
    with pytest.raises(ConfigError) as info:
        config_from_dict({"task_type": "x"}, path="inline")
    assert str(info.value).startswith("inline, task_type: must be one of")


# --- derived limits --------------------------------------------------------------------------


def test_segment_limits_from_nested_label_descriptions() -> None:
    config = load_config(CONFIGS / "segmentannotation.toml")
    limits = config.limits
    assert limits.segment_labels == {
        "background",
        "road",
        "building",
        "person",
        "car",
        "bus",
        "bicycle",
        "parked car",
    }
    # instance_label is set on each leaf ("parked car" has none); nothing is inherited
    assert limits.instance_labels == {"person", "car", "bus", "bicycle"}
    assert limits.allow_unlabeled is False
    assert not limits.geometries
    assert config.label_allowed("car")
    assert not config.label_allowed("vehicle")  # a parent is navigation only


def test_allow_unlabeled_defaults_false_for_segments_and_follows_params() -> None:
    data = copy.deepcopy(SEGMENT)
    assert config_from_dict(data).limits.allow_unlabeled is False
    data["params"]["allow_unlabeled"] = True
    assert config_from_dict(data).limits.allow_unlabeled is True


def test_image_limits_per_geometry_and_padding() -> None:
    config = load_config(CONFIGS / "imageannotation.toml")
    box = config.limits.geometries["box"]
    assert box.labels == {"car", "truck", "bus", "motorcycle", "bicycle", "person", "dog"}
    assert (box.min_width, box.min_height, box.integer_pixels, box.can_rotate) == (
        4,
        4,
        True,
        False,
    )
    polygon = config.limits.geometries["polygon"]
    assert (polygon.min_vertices, polygon.max_vertices) == (3, 100)
    assert polygon.labels == {"person", "car", "dog"}
    # paddingY overrides padding for y only
    assert (config.limits.pad_x, config.limits.pad_y) == (10, 0)
    assert config.limits.bounds(640, 480) is not None
    assert config.label_allowed("truck") and not config.label_allowed("vehicle")
    assert not config.label_allowed("cat")


def test_polygon_min_vertices_is_at_least_three() -> None:
    config = load_config(CONFIGS / "videoplaybackannotation.toml")
    polygon = config.limits.geometries["polygon"]
    assert (polygon.min_vertices, polygon.max_vertices) == (3, 12)
    assert (config.limits.pad_x, config.limits.pad_y) == (20, 20)


def test_geometry_without_objects_accepts_any_label() -> None:
    config = config_from_dict(copy.deepcopy(PLAYBACK))
    assert config.label_allowed("anything")
    assert config.leaf_labels() == frozenset()


def test_body_params_is_a_deep_copy_without_per_item_fields() -> None:
    config = load_config(CONFIGS / "videoplaybackannotation.toml")
    body = config.body_params()
    assert "attachment" not in body and body["frame_rate"] == 5
    body["geometries"]["box"]["min_width"] = 99
    body["tags"].append("x")
    assert config.params["geometries"]["box"]["min_width"] == 3
    assert len(config.params["tags"]) == 2
    assert config.params["attachment"].endswith(".mp4")  # kept in params, validated


def test_attachment_problem_for_per_item_urls() -> None:
    playback = load_config(CONFIGS / "videoplaybackannotation.toml")
    assert playback.attachment_problem("https://cdn/x/clip.webm") is None
    assert playback.attachment_problem("https://cdn/x/clip.avi?t=1") == (
        "video attachments must be mp4, webm or ogg (got .avi)"
    )
    segment = load_config(CONFIGS / "segmentannotation.toml")
    assert segment.attachment_problem("https://cdn/a/2011_000003.jpg") is None
    legend = "https://cdn.example.com/street-scenes/legend.png"
    assert segment.attachment_problem(legend) == (
        f"attachment {legend} repeats one of params.context_attachments"
    )
    assert segment.attachment_problem("s3://bucket/no-extension") is None


def test_task_config_defaults_still_construct() -> None:
    config = TaskConfig(task_type="imageannotation", params={})
    assert config.body_params() == {}
    assert config.leaf_labels() == frozenset()


# --- Scale's rules against the reference -----------------------------------------------------

SEED_SECTIONS = {
    "Create Semantic Segmentation Annotation Task": rules.SEGMENT,
    "Create General Video Annotation Task": rules.VIDEO,
    "Create Video Playback Annotation Task": rules.PLAYBACK,
}


def test_every_seed_parameter_is_accepted(shared: Path) -> None:
    text = (REFERENCE / "seed-scale-tasks.md").read_text(encoding="utf-8")
    sections = re.split(r"^# ", text, flags=re.M)
    found = 0
    for section in sections:
        title = section.splitlines()[0].strip() if section else ""
        if title not in SEED_SECTIONS:
            continue
        task_type = SEED_SECTIONS[title]
        names = set(re.findall(r'<ParamField path="([^"]+)"', section)) - {"Body Params"}
        assert names, title
        assert names <= rules.PARAMS[task_type], (task_type, names - rules.PARAMS[task_type])
        found += 1
    assert found == 3


def test_limits_are_data_in_scale_rules() -> None:
    assert rules.PRIORITIES == (10, 20, 30)
    assert rules.METADATA_MAX_BYTES == 10240
    assert (rules.MAX_TAGS, rules.MAX_LABELS) == (5, 50)
    assert rules.VIDEO_EXTENSIONS == ("mp4", "webm", "ogg")
    assert rules.MAX_IMAGE_SIDE == 10000
    assert rules.CREATE_RATE_PER_SECOND == 30 and rules.LIST_PAGE_SIZE == 100
    for task_type in TASK_TYPES:
        assert set(rules.REQUIRED_PARAMS[task_type]) <= rules.PARAMS[task_type]


def test_changing_a_limit_changes_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy.deepcopy(IMAGE)
    data["params"]["tags"] = ["a", "b", "c"]
    config_from_dict(data)
    monkeypatch.setattr(rules, "MAX_TAGS", 2)
    with pytest.raises(ConfigError, match=r"at most 2 tags \(got 3\)"):
        config_from_dict(data)


# --- taxonomy --------------------------------------------------------------------------------


def test_taxonomy_parents_display_and_errors() -> None:
    taxonomy = parse_labels(
        [
            "a",
            {
                "choice": "p",
                "display": "Parent",
                "subchoices": [{"choice": "q", "subchoices": ["r"]}],
            },
        ]
    )
    assert taxonomy.leaves() == {"a", "r"}
    assert taxonomy.parents() == {"p", "q"}
    assert taxonomy.nodes[1].display == "Parent"
    with pytest.raises(TaxonomyError) as info:
        parse_labels([{"choice": "p", "instance_label": "yes"}])
    assert (info.value.location, info.value.reason) == (
        "[0].instance_label",
        "must be true or false, got 'yes'",
    )
    with pytest.raises(TaxonomyError, match="must be an array of labels"):
        parse_labels("car")


_names = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
_trees = st.recursive(
    _names,
    lambda kids: st.tuples(_names, st.lists(kids, min_size=1, max_size=3)),
    max_leaves=12,
)


def _as_labels(tree: Any, counter: list[int]) -> Any:
    """Make names unique (leaf choices must be) and turn tuples into LabelDescriptions."""
    counter[0] += 1
    if isinstance(tree, str):
        return f"{tree}{counter[0]}"
    return {
        "choice": f"{tree[0]}{counter[0]}",
        "subchoices": [_as_labels(t, counter) for t in tree[1]],
    }


def _expected_leaves(entry: Any) -> set[str]:
    if isinstance(entry, str):
        return {entry}
    return set().union(*(_expected_leaves(s) for s in entry["subchoices"]))


@given(st.lists(_trees, min_size=1, max_size=5))
def test_leaves_of_random_nested_taxonomies(trees: list[Any]) -> None:
    counter = [0]
    labels = [_as_labels(t, counter) for t in trees]
    expected = set().union(*(_expected_leaves(e) for e in labels))
    taxonomy = parse_labels(labels)
    assert taxonomy.leaves() == expected
    assert not taxonomy.leaves() & taxonomy.parents()
    assert len(taxonomy) == len(labels)


# --- through the command line ----------------------------------------------------------------


def _run_convert(tmp_path: Path, config: Path, *flags: str) -> Any:
    from click.testing import CliRunner

    from prelabel.cli.main import cli

    results = SHARED / "cocoapi" / "results" / "instances_val2014_fakebbox100_results.json"
    args = ["convert", "coco", str(results), "--config", str(config), "--out", str(tmp_path / "o")]
    return CliRunner().invoke(cli, [*args, *flags])


def test_cli_reports_a_broken_config_in_one_line(tmp_path: Path, shared: Path) -> None:
    data = copy.deepcopy(IMAGE)
    data["params"]["priority"] = 15
    config = write_toml(tmp_path, data)
    result = _run_convert(tmp_path, config)
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"Error: {config}, params.priority: must be one of 10, 20, 30 (got 15)"
    )


def test_cli_flag_value_is_blamed_on_the_command_line(tmp_path: Path, shared: Path) -> None:
    result = _run_convert(tmp_path, CONFIGS / "imageannotation.toml", "--score-threshold", "2")
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"Error: {CONFIGS / 'imageannotation.toml'}, prelabel.score_threshold "
        "(from the command line): must be between 0 and 1, got 2.0"
    )
