"""One good and one bad task body per rule of the rule book and per task type it applies to.

Shared by ``test_rule_book.py`` (sandbox over HTTP, ``validate``, config load: same verdicts)
and the official-client test. A case is a task type, a body whose hosted files are named
``artifact://NAME``, the files themselves, and the rule the bad variant breaks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import orjson

SEGMENT, IMAGE, VIDEO, PLAYBACK = (
    "segmentannotation",
    "imageannotation",
    "videoannotation",
    "videoplaybackannotation",
)
TYPES = (SEGMENT, IMAGE, VIDEO, PLAYBACK)
SIZE = (40, 30)  # every image is 40 x 30 (report.json says so for validate)


@dataclass(frozen=True)
class Case:
    task_type: str
    body: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def edit(self, fn: Callable[[dict[str, Any], dict[str, bytes]], None]) -> Case:
        body, files = copy.deepcopy(self.body), dict(self.files)
        fn(body, files)
        return replace(self, body=body, files=files)


def _png(index: np.ndarray[Any, Any], rgba: bool = False) -> bytes:
    if rgba:
        bgra = np.zeros((*index.shape, 4), np.uint8)
        bgra[..., 2], bgra[..., 3] = index, 255
        index = bgra
    ok, buf = cv2.imencode(".png", index)
    assert ok
    return bytes(buf.tobytes())


def _mask() -> np.ndarray[Any, Any]:
    index = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    index[0:10, :] = 1  # road: 400 px
    index[10:15, 0:10] = 2  # car: 50 px
    return index


def _box(label: str, uid: str, **extra: Any) -> dict[str, Any]:
    return {"type": "box", "label": label, "uuid": uid, "left": 1, "top": 1, "width": 10,
            "height": 8, **extra}  # fmt: skip


def _vertices(*points: tuple[float, float]) -> list[dict[str, float]]:
    return [{"x": x, "y": y} for x, y in points]


def _segment() -> Case:
    body = {
        "project": "book",
        "attachment": "https://example.com/img.jpg",
        "labels": ["road", {"choice": "vehicle",
                            "subchoices": [{"choice": "car", "instance_label": True}, "bus"]}],
        "allow_unlabeled": True,
        "annotation_attributes": {
            # the seed's own conditions form: label_condition as a list of labels
            "occluded": {"choices": ["yes", "no"], "conditions": {"label_condition": ["car"]}}
        },
        "hypothesis": {
            "labelMapping": {
                "road": {"index": 1, "numPixels": 400},
                "car": [{"index": 2, "numPixels": 50, "attributes": {"occluded": "no"}}],
            },
            "annotations": {"combined": {"indexedImage": "artifact://seg.png"}},
        },
    }  # fmt: skip
    return Case(SEGMENT, body, {"seg.png": _png(_mask())})


def _image() -> Case:
    annotations = [
        _box("car", "a1", attributes={"occluded": "no", "score": 87}),
        {"type": "polygon", "label": "truck", "uuid": "a2",
         "vertices": _vertices((2, 2), (12, 2), (12, 12), (2, 12))},
        {"type": "line", "label": "lane", "uuid": "a3", "vertices": _vertices((0, 20), (39, 20))},
        {"type": "point", "label": "head", "uuid": "a4", "x": 5, "y": 5},
        {"type": "ellipse", "label": "wheel", "uuid": "a5",
         "vertices": _vertices((20, 10), (25, 15), (20, 20), (15, 15))},
    ]  # fmt: skip
    body = {
        "project": "book",
        "attachment": "https://example.com/img.jpg",
        "geometries": {
            "box": {"objects_to_annotate": ["car"], "min_width": 2, "min_height": 2},
            "polygon": {"objects_to_annotate": [{"choice": "vehicle", "subchoices": ["truck"]}],
                        "max_vertices": 6},
            "line": {"objects_to_annotate": ["lane"]},
            "point": {"objects_to_annotate": ["head"]},
            "ellipse": {"objects_to_annotate": ["wheel"]},
        },
        "annotation_attributes": {
            "occluded": {"choices": ["yes", "no"]},
            "score": {"type": "number", "min": 0, "max": 100},
        },
        "hypothesis": {"annotations": annotations},
    }  # fmt: skip
    return Case(IMAGE, body)


def _video() -> Case:
    frames = [
        {"annotations": [_box("car", "v1")]},
        {"annotations": [_box("car", "v1", left=2),
                         {"type": "line", "label": "lane", "uuid": "v2",
                          "vertices": _vertices((0, 20), (39, 20))}]},
        {"annotations": []},
    ]  # fmt: skip
    body = {
        "project": "book",
        "attachment_type": "image",
        "attachments": [f"https://example.com/f{i}.jpg" for i in range(3)],
        "geometries": {
            "box": {"objects_to_annotate": ["car"], "min_width": 2, "min_height": 2},
            "line": {"objects_to_annotate": ["lane"]},
        },
        "annotation_attributes": {"occluded": {"choices": ["yes", "no"]}},
        "hypothesis": {"annotations": {"url": "artifact://frames.json"}},
    }
    return Case(VIDEO, body, {"frames.json": orjson.dumps(frames)})


def _track(frames: list[dict[str, Any]] | None = None) -> bytes:
    frames = frames or [
        {"key": 0, "timestamp": 0.0, "left": 1, "top": 1, "width": 10, "height": 8,
         "attributes": {"score": 87}},
        {"key": 5, "timestamp": 0.5, "left": 2, "top": 1, "width": 10, "height": 8},
    ]  # fmt: skip
    return orjson.dumps({"t1": {"label": "car", "geometry": "box", "frames": frames}})


def _playback() -> Case:
    body = {
        "project": "book",
        "attachment": "https://example.com/clip.mp4",
        "frame_rate": 5,
        "geometries": {"box": {"objects_to_annotate": ["car"], "min_width": 2, "min_height": 2}},
        "annotation_attributes": {"score": {"type": "number", "min": 0, "max": 100}},
        "hypothesis": {"annotations": {"url": "artifact://track.json"}},
    }
    return Case(PLAYBACK, body, {"track.json": _track()})


BASE: dict[str, Case] = {
    SEGMENT: _segment(),
    IMAGE: _image(),
    VIDEO: _video(),
    PLAYBACK: _playback(),
}

Edit = Callable[[dict[str, Any], dict[str, bytes]], None]


def _set(**values: Any) -> Edit:
    def edit(body: dict[str, Any], files: dict[str, bytes]) -> None:
        body.update(copy.deepcopy(values))

    return edit


def _drop(key: str) -> Edit:
    return lambda body, files: body.pop(key)


def _first_annotation(fn: Callable[[dict[str, Any]], None]) -> Edit:
    """Apply ``fn`` to the first prelabel annotation of an image / video / playback body."""

    def edit(body: dict[str, Any], files: dict[str, bytes]) -> None:
        if "frames.json" in files:
            frames = orjson.loads(files["frames.json"])
            fn(frames[0]["annotations"][0])
            files["frames.json"] = orjson.dumps(frames)
        elif "track.json" in files:
            data = orjson.loads(files["track.json"])
            frame = data["t1"]["frames"][0]
            fn(frame)
            if "label" in frame:
                data["t1"]["label"] = frame.pop("label")
            files["track.json"] = orjson.dumps(data)
        else:
            fn(body["hypothesis"]["annotations"][0])

    return edit


def _mapping(fn: Callable[[dict[str, Any]], None]) -> Edit:
    return lambda body, files: fn(body["hypothesis"]["labelMapping"])


def _geometries(fn: Callable[[dict[str, Any]], None]) -> Edit:
    return lambda body, files: fn(body["geometries"])


def _metadata(size: int) -> dict[str, str]:
    return {"blob": "x" * (size - len('{"blob":""}'))}


def _attachment_txt(body: dict[str, Any], files: dict[str, bytes]) -> None:
    if "attachments" in body:
        body["attachments"][1] = "https://example.com/f1.txt"
    else:  # the MOT case: a videoplayback attachment ending in gt.txt
        body["attachment"] = "https://example.com/seq/gt/gt.txt"


def _drop_attachment(body: dict[str, Any], files: dict[str, bytes]) -> None:
    body.pop("attachments" if "attachments" in body else "attachment")


def _drop_taxonomy(body: dict[str, Any], files: dict[str, bytes]) -> None:
    body.pop("labels" if "labels" in body else "geometries")


def _duplicate_leaf(body: dict[str, Any], files: dict[str, bytes]) -> None:
    if "labels" in body:
        body["labels"].append("road")
    else:
        next(iter(body["geometries"].values()))["objects_to_annotate"] = ["car", "car"]


def _parent_instance(body: dict[str, Any], files: dict[str, bytes]) -> None:
    if "labels" in body:
        body["labels"][1]["instance_label"] = True
    else:
        body["geometries"]["polygon"]["objects_to_annotate"][0]["instance_label"] = True


def _parent_condition(body: dict[str, Any], files: dict[str, bytes]) -> None:
    attr = body["annotation_attributes"]["occluded"]
    attr["conditions"] = {"label_condition": {"label": ["vehicle"]}}  # a parent, not a leaf


def _missing_hosted(body: dict[str, Any], files: dict[str, bytes]) -> None:
    pre = body["hypothesis"]["annotations"]
    if "combined" in pre:
        pre["combined"]["indexedImage"] = "artifact://missing.png"
    else:
        pre["url"] = "artifact://missing.json"


def _bad_shape(body: dict[str, Any], files: dict[str, bytes]) -> None:
    pre = body["hypothesis"]
    if "labelMapping" in pre:
        del pre["labelMapping"]
    elif isinstance(pre["annotations"], list):
        pre["annotations"] = {"boxes": []}
    elif "frames.json" in files:
        pre["annotations"] = {"frames": 3}
    else:  # videoplayback: the annotations inline instead of {url}
        pre["annotations"] = orjson.loads(files["track.json"])


def _frames(fn: Callable[[list[dict[str, Any]]], None]) -> Edit:
    def edit(body: dict[str, Any], files: dict[str, bytes]) -> None:
        name = "frames.json" if "frames.json" in files else "track.json"
        data = orjson.loads(files[name])
        fn(data if name == "frames.json" else data["t1"]["frames"])
        files[name] = orjson.dumps(data)

    return edit


def _png_edit(fn: Callable[[np.ndarray[Any, Any]], None]) -> Edit:
    def edit(body: dict[str, Any], files: dict[str, bytes]) -> None:
        index = _mask()
        fn(index)
        files["seg.png"] = _png(index)

    return edit


def _extended(replace_indexed: bool) -> Edit:
    def edit(body: dict[str, Any], files: dict[str, bytes]) -> None:
        combined = body["hypothesis"]["annotations"]["combined"]
        files["seg-ext.png"] = _png(_mask(), rgba=True)
        combined["extendedIndexedImage"] = "artifact://seg-ext.png"
        if replace_indexed:
            del combined["indexedImage"]

    return edit


def _bow_tie(a: dict[str, Any]) -> None:
    a.update(type="polygon", label="truck", vertices=_vertices((2, 2), (12, 12), (12, 2), (2, 12)))


def _polygon(n: int) -> Callable[[dict[str, Any]], None]:
    points = [(round(20 + 8 * float(np.cos(k * 2 * np.pi / n)), 3),
               round(15 + 8 * float(np.sin(k * 2 * np.pi / n)), 3)) for k in range(n)]  # fmt: skip

    def edit(a: dict[str, Any]) -> None:
        a.update(type="polygon", label="truck", vertices=_vertices(*points))
        a.pop("width", None)

    return edit


ALL = TYPES
HOSTED = (SEGMENT, VIDEO, PLAYBACK)
BOXED = (IMAGE, VIDEO, PLAYBACK)


@dataclass(frozen=True)
class RuleCase:
    """The bad (and optional good boundary) edit of one rule for some task types.

    ``config``: whether the broken part is a config parameter (config load rejects it too).
    """

    rule: str
    types: tuple[str, ...]
    bad: Edit
    good: Edit | None = None
    config: bool = False
    note: str = ""


RULE_CASES: tuple[RuleCase, ...] = (
    RuleCase("task-type", ALL, lambda b, f: None, config=True, note="task type + 'x'"),
    RuleCase("required", ALL, _drop_taxonomy, config=True),
    RuleCase("required", ALL, _drop_attachment, note="no attachment"),
    RuleCase("param-type", ALL, _set(instruction=5), _set(instruction="Fix them."), config=True),
    RuleCase("priority", ALL, _set(priority=15), _set(priority=30), config=True),
    RuleCase("tags", ALL, _set(tags=[f"t{i}" for i in range(6)]),
             _set(tags=[f"t{i}" for i in range(5)]), config=True),
    RuleCase("metadata", ALL, _set(metadata=_metadata(11 * 1024)),
             _set(metadata=_metadata(9 * 1024)), config=True),
    RuleCase("labels-count", (SEGMENT,),
             lambda b, f: b["labels"].extend(f"l{i}" for i in range(49)),
             lambda b, f: b["labels"].extend(f"l{i}" for i in range(48)), config=True),
    RuleCase("labels", ALL, _duplicate_leaf, config=True),
    RuleCase("attachment-type", ALL, _set(attachment_type="audio"), config=True),
    RuleCase("attachment-format", ALL, _attachment_txt, config=True),
    RuleCase("callback-url", ALL, _set(callback_url="ftp://hooks.example.com/cb"),
             _set(callback_url="https://hooks.example.com/cb"), config=True),
    RuleCase("geometries", BOXED, _geometries(lambda g: g.update(circle={})),
             _geometries(lambda g: g["box"].update(can_rotate=False)), config=True),
    RuleCase("annotation-attributes", (SEGMENT, IMAGE), _parent_condition, config=True),
    RuleCase("annotation-attributes", ALL,
             lambda b, f: b["annotation_attributes"].update(colour={"type": "colour"}),
             config=True, note="unknown attribute type"),
    RuleCase("prelabel-field", (SEGMENT,), lambda b, f: b.update(base_annotations=b["hypothesis"]),
             config=True),
    RuleCase("prelabel-shape", ALL, _bad_shape),
    RuleCase("indexed-image", (SEGMENT,), _extended(True), _extended(False)),
    RuleCase("indexed-image", (SEGMENT,),
             lambda b, f: f.update({"seg.png": _png(_mask(), rgba=True)}), note="RGBA"),
    RuleCase("label-mapping", (SEGMENT,), _mapping(lambda m: m.update(road=[m["road"]]))),
    RuleCase("label-mapping", (SEGMENT,), _mapping(lambda m: m.update(sky={"index": 3})),
             note="not a task label"),
    RuleCase("prelabel-label", BOXED, _first_annotation(lambda a: a.update(label="dog"))),
    RuleCase("prelabel-geometry", BOXED, _first_annotation(lambda a: a.pop("height"))),
    RuleCase("attribute-values", BOXED,
             _first_annotation(lambda a: a.update(attributes={"colour": "red"})),
             note="not defined"),
    RuleCase("attribute-values", (IMAGE,),
             _first_annotation(lambda a: a["attributes"].update(occluded="maybe")),
             note="outside the choices"),
    RuleCase("attribute-values", (IMAGE, PLAYBACK),
             _first_annotation(lambda a: a.update(attributes={"score": 87.5})),
             _first_annotation(lambda a: a.update(attributes={"score": 88})),
             note="a score off the default step of 1"),
    RuleCase("attribute-values", (SEGMENT,),
             _mapping(lambda m: m["car"][0].update(attributes={"occluded": "maybe"}))),
    RuleCase("playback-file", (PLAYBACK,), _frames(lambda fr: fr.insert(0, "frame zero"))),  # type: ignore[arg-type]
    RuleCase("hosted-file", HOSTED, _missing_hosted),
    RuleCase("param-known", ALL, _set(colour="red"), config=True),
    RuleCase("instance-label-leaf", (SEGMENT, IMAGE), _parent_instance, config=True),
    RuleCase("vertices", (IMAGE,), _first_annotation(_polygon(7)), _first_annotation(_polygon(6))),
    RuleCase("vertices", (IMAGE,), _geometries(lambda g: g["polygon"].update(max_vertices=2)),
             config=True, note="max_vertices under a polygon's 3"),
    RuleCase("vertices", (VIDEO,), _frames(lambda fr: fr[1]["annotations"][1]["vertices"].pop())),
    RuleCase("box-settings", BOXED, _first_annotation(lambda a: a.update(width=1))),
    RuleCase("polygon-valid", (IMAGE,), _first_annotation(_bow_tie)),
    RuleCase("uuid-unique", (IMAGE,), _first_annotation(lambda a: a.update(uuid="a2"))),
    RuleCase("uuid-unique", (VIDEO,), _frames(lambda fr: fr[1]["annotations"][0].update(uuid="v2"))),
    RuleCase("mask-pixels", (SEGMENT,), _mapping(lambda m: m["road"].update(numPixels=399))),
    RuleCase("mask-pixels", (SEGMENT,), _png_edit(lambda i: i.__setitem__((20, 20), 7)),
             note="an index labelMapping lacks"),
    RuleCase("video-frames", (VIDEO,), _frames(lambda fr: fr.pop())),
    RuleCase("playback-keys", (PLAYBACK,), _frames(lambda fr: fr[1].update(key=0)),
             note="duplicate key"),
    RuleCase("playback-keys", (PLAYBACK,), _frames(lambda fr: fr[0].update(timestamp=-0.2)),
             note="negative timestamp"),
    RuleCase("in-bounds", BOXED, _first_annotation(lambda a: a.update(left=35))),
)  # fmt: skip


def cases() -> list[tuple[str, RuleCase, str]]:
    """(pytest id, rule case, task type) for every rule case and task type it covers."""
    out = []
    seen: dict[str, int] = {}
    for rc in RULE_CASES:
        for task_type in rc.types:
            key = f"{rc.rule}-{task_type}"
            seen[key] = seen.get(key, 0) + 1
            suffix = f"-{seen[key]}" if seen[key] > 1 else ""
            out.append((key + suffix, rc, task_type))
    return out


def bad_case(rc: RuleCase, task_type: str) -> tuple[str, Case]:
    """The endpoint's task type and the bad case."""
    case = BASE[task_type].edit(rc.bad)
    endpoint = task_type + "x" if rc.rule == "task-type" else task_type
    return endpoint, case


def good_case(rc: RuleCase, task_type: str) -> Case:
    return BASE[task_type].edit(rc.good) if rc.good else BASE[task_type]
