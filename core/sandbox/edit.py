"""The seeded edits of ``prelabel sandbox --complete edit``: what a labeler might change.

Every created task gets its own RNG, ``random.Random(f"{seed}:{unique_id}")`` (the task_id
when there is no unique_id), so a task's edits do not depend on the order tasks arrive in.
With probability ``rate`` each object is edited, one of (drawn uniformly):

* ``deleted`` — the object is removed;
* ``edited`` / ``relabelled`` — another label of the same geometry (segments: another
  instance label, or a plain label the image does not use yet); where there is none, the
  object is moved (reshaped) instead;
* ``edited`` / ``moved`` — boxes, polygons, lines, points (every frame of a video track)
  shifted by 2-8 px along each axis; for segments ``reshaped``: the segment's pixels below
  its median row (or right of its median column) become unlabeled.

Then, with probability ``rate``, one object is ``added``: a box (or the task's first
geometry) of a random label at a random place; a video track on the first three task frames;
a segment of a random instance label (or an unused plain label) over a quarter-size window,
taking only pixels that were unlabeled in the prelabels or belong to untouched segments (a
segment that loses pixels to it is recorded as ``edited`` / ``reshaped``; one that would
lose all of them keeps them).

Each edit is one :class:`Edit`; the sandbox writes them to ``STORE/edits.jsonl``. The label
of an ``edited`` or ``deleted`` object is the label that was sent (``new_label`` holds a
relabel's new one); an ``added`` object's label is its own.
"""

from __future__ import annotations

import copy
import random
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from prelabel.config.taxonomy import TaxonomyError, parse_labels

EditKind = Literal["edited", "deleted", "added"]
CHOICES = ("moved", "relabelled", "deleted")
SEGMENT_CHOICES = ("reshaped", "relabelled", "deleted")
# geometries an added object may take, in order of preference
ADD_KINDS = ("box", "polygon", "line", "point", "ellipse")


@dataclass(slots=True)
class Edit:
    """One change the sandbox made to a task's prelabels."""

    uuid: str | None
    kind: EditKind
    label: str
    detail: str | None = None
    new_label: str | None = None
    index: int | None = None  # segmentation: the labelMapping index

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uuid": self.uuid, "kind": self.kind, "label": self.label}
        for key in ("detail", "new_label", "index"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(slots=True)
class Segment:
    """One labelMapping entry: its index, label, whether it is an instance, other fields."""

    index: int
    label: str
    instance: bool
    fields: dict[str, Any]


def leaves(entries: Any) -> list[str]:
    """Leaf choices of a ``labels`` / ``objects_to_annotate`` array (strings if malformed)."""
    try:
        return [n.choice for n in parse_labels(entries).leaf_nodes()]
    except TaxonomyError:
        return [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else []


def instance_leaves(params: dict[str, Any]) -> set[str]:
    """Instance labels of a segmentation task (``instance_label`` leaves, or the legacy
    ``instance_labels`` list)."""
    out = {e for e in params.get("instance_labels") or [] if isinstance(e, str)}
    try:
        out |= set(parse_labels(params.get("labels") or []).instance_leaves())
    except TaxonomyError:
        pass
    return out


def num(value: float) -> float | int:
    """A coordinate as the writers write it: 3 decimals, whole numbers as ints."""
    rounded = round(float(value), 3)
    return int(rounded) if rounded.is_integer() else rounded


def shifted(obj: dict[str, Any], dx: int, dy: int) -> dict[str, Any]:
    """``obj`` (an annotation or a videoplayback frame) moved by ``(dx, dy)`` pixels."""
    out = copy.deepcopy(obj)
    for xk, yk in (("left", "top"), ("x", "y")):
        if isinstance(out.get(xk), (int, float)) and isinstance(out.get(yk), (int, float)):
            out[xk], out[yk] = num(out[xk] + dx), num(out[yk] + dy)
    for key in ("vertices", "edges"):
        for v in out.get(key) or []:
            for xk, yk in (("x", "y"), ("x1", "y1"), ("x2", "y2")):
                if isinstance(v, dict) and xk in v and yk in v:
                    v[xk], v[yk] = num(v[xk] + dx), num(v[yk] + dy)
    return out


class Editor:
    """Applies the seeded edits to one task's prelabels and records each :class:`Edit`."""

    def __init__(self, rng: random.Random, rate: float, params: dict[str, Any]) -> None:
        self.rng = rng
        self.rate = rate
        self.params = params
        self.edits: list[Edit] = []
        geometries = params.get("geometries")
        self.geometries: dict[str, Any] = geometries if isinstance(geometries, dict) else {}

    def hit(self) -> bool:
        return self.rng.random() < self.rate

    def record(self, uid: Any, kind: EditKind, label: str, detail: str | None = None,
               **extra: Any) -> None:  # fmt: skip
        self.edits.append(Edit(None if uid is None else str(uid), kind, label, detail, **extra))

    def mint(self) -> str:
        """A uuid4 drawn from the task's RNG (reproducible)."""
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def shift(self) -> tuple[int, int]:
        dx, dy = (self.rng.choice((-1, 1)) * self.rng.randint(2, 8) for _ in range(2))
        return dx, dy

    def labels_of(self, kind: Any) -> list[str]:
        spec = self.geometries.get(str(kind))
        return leaves(spec.get("objects_to_annotate")) if isinstance(spec, dict) else []

    def other_label(self, kind: Any, label: str) -> str | None:
        others = [x for x in self.labels_of(kind) if x != label]
        return self.rng.choice(others) if others else None

    # --- image annotations ----------------------------------------------------------------

    def annotations(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One image's annotations after the edits."""
        out: list[dict[str, Any]] = []
        for a in items:
            if not self.hit():
                out.append(a)
                continue
            edited = self._edit_annotation(a)
            if edited is not None:
                out.append(edited)
        if self.hit():
            kind = self.add_kind()
            if kind is not None:
                label = self.rng.choice(self.labels_of(kind) or ["object"])
                added = {"uuid": self.mint(), "type": kind, "label": label, **self.new_shape(kind)}
                self.record(added["uuid"], "added", label)
                out.append(added)
        return out

    def _edit_annotation(self, a: dict[str, Any]) -> dict[str, Any] | None:
        choice, label = self.rng.choice(CHOICES), str(a.get("label", ""))
        if choice == "deleted":
            self.record(a.get("uuid"), "deleted", label)
            return None
        new = self.other_label(a.get("type"), label) if choice == "relabelled" else None
        if new is not None:
            self.record(a.get("uuid"), "edited", label, "relabelled", new_label=new)
            return {**a, "label": new}
        self.record(a.get("uuid"), "edited", label, "moved")
        return shifted(a, *self.shift())

    def add_kind(self) -> str | None:
        return next((k for k in ADD_KINDS if k in self.geometries), None)

    def new_shape(self, kind: str) -> dict[str, Any]:
        """Geometry fields of an added object: a box-sized shape at a random place."""
        x, y = self.rng.randint(0, 300), self.rng.randint(0, 300)
        w, h = self.rng.randint(10, 60), self.rng.randint(10, 60)
        if kind == "box":
            return {"left": x, "top": y, "width": w, "height": h}
        if kind == "point":
            return {"x": x, "y": y}
        corners: list[tuple[float, float]] = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        if kind == "line":
            corners = corners[:2]
        if kind == "ellipse":
            cx, cy = x + w / 2, y + h / 2
            corners = [(x, cy), (cx, y), (x + w, cy), (cx, y + h)]
        return {"vertices": [{"x": num(px), "y": num(py)} for px, py in corners]}

    # --- video tracks ---------------------------------------------------------------------

    def track(self, uid: str, label: str, kind: Any) -> tuple[str, str | None, tuple[int, int]]:
        """What happens to one track: ``("keep" | "deleted" | "relabelled" | "moved",
        new label, shift)``, recorded."""
        if not self.hit():
            return "keep", None, (0, 0)
        choice = self.rng.choice(CHOICES)
        if choice == "deleted":
            self.record(uid, "deleted", label)
            return "deleted", None, (0, 0)
        new = self.other_label(kind, label) if choice == "relabelled" else None
        if new is not None:
            self.record(uid, "edited", label, "relabelled", new_label=new)
            return "relabelled", new, (0, 0)
        self.record(uid, "edited", label, "moved")
        return "moved", None, self.shift()

    def new_track(self) -> tuple[str, str, str, dict[str, Any]] | None:
        """An added track's (uuid, label, geometry, shape), recorded; None when not drawn."""
        if not self.hit():
            return None
        kind = self.add_kind() or "box"
        label = self.rng.choice(self.labels_of(kind) or ["object"])
        uid = self.mint()
        self.record(uid, "added", label)
        return uid, label, kind, self.new_shape(kind)

    # --- segments -------------------------------------------------------------------------

    def segments(
        self, entries: list[Segment], index: npt.NDArray[np.int64], max_index: int
    ) -> list[Segment]:
        """Edit a segmentation's entries and (in place) its index array."""
        unlabeled = index == 0
        untouched = {e.index for e in entries}
        top = max(untouched, default=0)
        out: list[Segment] = []
        for i, e in enumerate(entries):
            if not self.hit():
                out.append(e)
                continue
            untouched.discard(e.index)
            kept = self._edit_segment(e, index, out + entries[i + 1 :])
            if kept is not None:
                out.append(kept)
        if self.hit() and top < max_index:
            self._add_segment(out, index, unlabeled, untouched, top + 1)
        return out

    def _edit_segment(
        self, e: Segment, index: npt.NDArray[np.int64], others: list[Segment]
    ) -> Segment | None:
        choice = self.rng.choice(SEGMENT_CHOICES)
        new = self._segment_label(e, others) if choice == "relabelled" else None
        if new is not None:
            self.record(None, "edited", e.label, "relabelled", new_label=new, index=e.index)
            return Segment(e.index, new, e.instance, e.fields)
        if choice != "deleted" and _erase_half(index, e.index):
            self.record(None, "edited", e.label, "reshaped", index=e.index)
            return e
        index[index == e.index] = 0
        self.record(None, "deleted", e.label, index=e.index)
        return None

    def _segment_label(self, e: Segment, others: list[Segment]) -> str | None:
        instance = instance_leaves(self.params)
        if e.instance:
            pool = sorted(instance - {e.label})
        else:
            used = {o.label for o in others if not o.instance} | {e.label}
            pool = [x for x in leaves(self.params.get("labels") or []) if x not in instance | used]
        return self.rng.choice(pool) if pool else None

    def _add_segment(
        self,
        entries: list[Segment],
        index: npt.NDArray[np.int64],
        unlabeled: npt.NDArray[np.bool_],
        untouched: set[int],
        new_index: int,
    ) -> None:
        label, instance = self._new_segment_label(entries)
        if label is None or not index.size:
            return
        region = _window(index.shape, self.rng) & (unlabeled | np.isin(index, list(untouched)))
        for idx in np.unique(index[region]).tolist():
            if idx and region[index == idx].all():
                region &= index != idx  # never empty a segment: it keeps its pixels
        if not region.any():
            return
        for e in entries:
            if e.index in untouched and region[index == e.index].any():
                self.record(None, "edited", e.label, "reshaped", index=e.index)
        index[region] = new_index
        entries.append(Segment(new_index, label, instance, {}))
        self.record(None, "added", label, index=new_index)

    def _new_segment_label(self, entries: list[Segment]) -> tuple[str | None, bool]:
        instance = sorted(instance_leaves(self.params))
        if instance:
            return self.rng.choice(instance), True
        used = {e.label for e in entries}
        pool = [x for x in leaves(self.params.get("labels") or []) if x not in used]
        return (self.rng.choice(pool), False) if pool else (None, False)


def _window(shape: tuple[int, ...], rng: random.Random) -> npt.NDArray[np.bool_]:
    """A quarter-size rectangle (at least one pixel) at a random place."""
    h, w = int(shape[0]), int(shape[1])
    wh, ww = max(1, h // 4), max(1, w // 4)
    top, left = rng.randint(0, h - wh), rng.randint(0, w - ww)
    out = np.zeros((h, w), dtype=bool)
    out[top : top + wh, left : left + ww] = True
    return out


def _erase_half(index: npt.NDArray[np.int64], value: int) -> bool:
    """Unlabel the pixels of ``value`` below its median row (else right of its median
    column); False when that would erase nothing or everything."""
    ys, xs = np.nonzero(index == value)
    if not len(ys):
        return False
    for coords in (ys, xs):
        cut = coords > np.median(coords)
        if cut.any() and not cut.all():
            index[ys[cut], xs[cut]] = 0
            return True
    return False
