"""The JSON of a planned table: the videoplayback hypothesis (streamed in chunks of whole
objects) and the videoannotation per-frame list, assembled by polars.

Rows sent as fitted boxes become text column by column; rows sent as another geometry (and
every row's attributes, when the task takes some) are written one by one with
:mod:`prelabel.geometry.scale` and put in place.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from prelabel.geometry.scale import geometry_fields, to_annotation
from prelabel.model import Frame, TrackTable
from prelabel.tracks.filter import appearance
from prelabel.tracks.keys import frame_numbers, frame_times
from prelabel.tracks.numbers import number_frame, number_text
from prelabel.tracks.plan import Context, Plan
from prelabel.tracks.records import Records, json_text, record_line

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- rows on frames that are no task frame --------------------------------------------------


def drop_frames(
    table: TrackTable, keep: BoolArray, reasons: Sequence[str], ctx: Context, task: str
) -> TrackTable:
    """The table without rows on frames not in ``keep`` (a mask over the item's frames),
    each recorded as dropped with the ``reasons`` entry of its frame, in appearance order."""
    rows = ~keep[table.frame]
    if not rows.any():
        return table
    records = Records()
    order = appearance(table)
    for k, r in enumerate(order[rows[order]].tolist()):
        reason = reasons[int(table.frame[r])]
        line = record_line(
            table, r, "dropped", table.labels[int(table.label[r])], task, reason=reason
        )
        records.dropped(k, line, reason)
    records.flush(ctx.report)
    return table.take(~rows)


def unsampled(frames: Sequence[Frame]) -> list[str]:
    """Per frame, the reason a row on it is dropped when it is no task frame."""
    return [
        f"not a task frame: frame {n} falls between frame_rate samples"
        for n in frame_numbers(frames).tolist()
    ]


# --- attributes ---------------------------------------------------------------------------


def _attribute_texts(attributes: list[dict[str, Any]] | None, n: int) -> pl.Series:
    if attributes is None:
        return pl.select(pl.repeat("", n, dtype=pl.String)).to_series()
    texts = [',"attributes":' + json_text(a) if a else "" for a in attributes]
    return pl.Series(texts, dtype=pl.String)


# --- geometry text ----------------------------------------------------------------------------


def _box_frame(plan_: Plan, rows: IntArray) -> tuple[pl.DataFrame, list[pl.Expr]]:
    """The fitted boxes of ``rows`` as scaled integers, and the text of their fields
    ``"left":..,"top":..,"width":..,"height":..`` (0 where a row is another geometry)."""
    fit = plan_.fit
    cols = {"left": fit.left[rows], "top": fit.top[rows], "width": fit.width[rows]}
    cols["height"] = fit.height[rows]
    if plan_.shapes:
        other = np.isin(rows, list(plan_.shapes))
        cols = {k: np.where(other, 0.0, v) for k, v in cols.items()}
    frame, text = number_frame(cols)
    parts: list[pl.Expr] = []
    for n, name in enumerate(cols):
        parts += [pl.lit(("," if n else "") + f'"{name}":'), text[name]]
    return frame, parts


def _integer(ctx: Context, kind: str) -> bool:
    return ctx.config.limits.geometries[kind].integer_pixels  # type: ignore[index]


def _put(texts: pl.Series, at: list[int], values: list[str]) -> pl.Series:
    """``texts`` with the entries at positions ``at`` replaced."""
    if not at:
        return texts
    return texts.scatter(at, pl.Series(values, dtype=pl.String))


def _text(frame: pl.DataFrame, parts: list[pl.Expr]) -> pl.Series:
    return frame.select(pl.concat_str(parts)).to_series()


# --- videoplayback ----------------------------------------------------------------------------

# rows of hosted JSON made per polars call (a few tens of MB of text at a time)
ROWS = 25_000


def playback_chunks(
    plan_: Plan, frames: Sequence[Frame], ctx: Context, fps: float
) -> Iterator[bytes]:
    """The uuid-keyed videoplayback hypothesis, in chunks of whole objects."""
    if not len(plan_.rows):
        yield b"{}"
        return
    attributes = plan_.attributes
    base = ctx.config.prelabel.frame_key_base
    heads = _frame_heads(frames, base, fps)
    openings = _openings(plan_)
    starts = np.flatnonzero(np.r_[True, plan_.obj[1:] != plan_.obj[:-1]])
    at = np.searchsorted(starts, np.arange(ROWS, len(plan_.rows), ROWS))
    bounds = [*sorted({0, *starts[at[at < len(starts)]].tolist()}), len(plan_.rows)]
    shapes = None
    if plan_.shapes:
        shapes = functools.partial(_playback_shapes, plan_, ctx, base, frame_times(frames, fps)[0])
    parts = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    batch = max(1, min(4, pl.thread_pool_size()))  # chunks made side by side
    yield b"{"
    for n in range(0, len(parts), batch):
        texts = [
            _playback_part(plan_, heads, openings, part, attributes, shapes)
            for part in parts[n : n + batch]
        ]
        for text in pl.collect_all(texts):
            yield text.to_series().cast(pl.Binary).item()
    yield b"}"


def _openings(plan_: Plan) -> pl.Series:
    """Each object's ``,"uuid":{"label":..,"geometry":..,"frames":[``."""
    objects = plan_.objects
    labels = [json_text(x) for x in objects.labels]
    return pl.Series(
        [
            ',"' + uuid + '":{"label":' + label + ',"geometry":"' + kind + '","frames":['
            for uuid, label, kind in zip(objects.uuids, labels, plan_.kinds, strict=True)
        ],
        dtype=pl.String,
    )


def _playback_part(
    plan_: Plan,
    heads: pl.Series,
    openings: pl.Series,
    part: slice,
    attributes: list[dict[str, Any]] | None,
    shapes: Callable[[slice, list[dict[str, Any]] | None], tuple[list[int], list[str]]] | None,
) -> pl.LazyFrame:
    """Whole objects ``"uuid":{"label","geometry","frames":[...]}`` of rows ``part`` (to
    collect: a few chunks are made at once, one a thread).

    Rows are in object order, so each row's text is its frame entry ``{"key":..,
    "timestamp":..,"left":..}`` led by the object's opening (first row) or a comma, and
    closed by ``]}`` on the object's last row: one concatenation, no grouping.
    """
    rows, obj = plan_.rows[part], plan_.obj[part]
    n = len(obj)
    first = np.flatnonzero(np.r_[True, obj[1:] != obj[:-1]])
    last = np.r_[first[1:] - 1, n - 1]
    opening = openings.gather(obj[first])
    if part.start == 0:  # the file's first object: no comma before it
        opening = opening.scatter(0, opening[0][1:])
    frame, entry = _box_frame(plan_, rows)
    frame = frame.with_columns(
        head=heads.gather(plan_.frame[rows]),
        lead=pl.select(pl.repeat(",", n, dtype=pl.String)).to_series().scatter(first, opening),
        trail=pl.select(pl.repeat("}", n, dtype=pl.String)).to_series().scatter(last, "}]}"),
    )
    entry = [pl.col("head"), *entry]
    if attributes is not None:
        frame = frame.with_columns(attrs=_attribute_texts(attributes[part], n))
        entry.append(pl.col("attrs"))
    if shapes is not None:  # rows sent as another geometry: their entries put in place
        frame = frame.with_columns(entry=_put(_text(frame, entry), *shapes(part, attributes)))
        entry = [pl.col("entry")]
    text = pl.concat_str([pl.col("lead"), *entry, pl.col("trail")]).str.join("")
    return frame.lazy().select(text)


def _playback_shapes(
    plan_: Plan,
    ctx: Context,
    base: int,
    stamps: FloatArray,
    part: slice,
    attributes: list[dict[str, Any]] | None,
) -> tuple[list[int], list[str]]:
    """Positions in ``part`` and frame entries of the rows sent as another geometry."""
    at: list[int] = []
    values: list[str] = []
    for k, r in enumerate(plan_.rows[part].tolist()):
        if r not in plan_.shapes:
            continue
        kind, geometry = plan_.shapes[r]
        f = int(plan_.frame[r])
        entry: dict[str, Any] = {"key": f + base, "timestamp": round(float(stamps[f]), 6)}
        fields = geometry_fields(geometry, integer_pixels=_integer(ctx, kind))
        fields.pop("type")
        entry.update(fields)
        if attributes is not None and attributes[part.start + k]:
            entry["attributes"] = attributes[part.start + k]
        at.append(k)
        values.append(orjson.dumps(entry).decode()[:-1])
    return at, values


def _frame_heads(frames: Sequence[Frame], base: int, fps: float) -> pl.Series:
    """Per frame ``{"key":K,"timestamp":T,`` (timestamp rounded to 6 decimals, a float)."""
    stamps, index = frame_times(frames, fps)
    table = pl.DataFrame(
        {"key": index + base, "t": number_text(stamps, 6, as_float=True)},
        schema={"key": pl.Int64, "t": pl.String},
    )
    return table.select(
        pl.concat_str(
            [
                pl.lit('{"key":'),
                pl.col("key").cast(pl.String),
                pl.lit(',"timestamp":'),
                pl.col("t"),
                pl.lit(","),
            ]
        )
    ).to_series()


# --- videoannotation --------------------------------------------------------------------------


def frames_json(plan_: Plan, used: Sequence[Frame], frame_pos: IntArray, ctx: Context) -> bytes:
    """The videoannotation per-frame list: one ``{"annotations": [...]}`` per task frame."""
    by_frame: dict[int, str] = {}
    if len(plan_.rows):
        attributes = plan_.attributes
        objects = plan_.objects
        suffix = [
            ',"label":' + json_text(objects.labels[o]) + ',"uuid":' + json_text(objects.uuids[o])
            for o in range(len(objects.uuids))
        ]
        cols, parts = _box_frame(plan_, plan_.rows)
        cols = cols.with_columns(
            tail=pl.Series(suffix, dtype=pl.String).gather(plan_.obj),
            attrs=_attribute_texts(attributes, len(plan_.rows)),
        )
        parts = [pl.lit('{"type":"box",'), *parts, pl.col("tail"), pl.col("attrs"), pl.lit("}")]
        entries = _put(_text(cols, parts), *_annotations(plan_, attributes, ctx))
        frame_of = plan_.frame[plan_.rows]
        order = np.argsort(frame_pos[frame_of], kind="stable")
        frame = pl.DataFrame({"frame": frame_of, "e": entries})[order]
        grouped = frame.group_by("frame", maintain_order=True).agg(pl.col("e").str.join(","))
        by_frame = dict(zip(grouped["frame"].to_list(), grouped["e"].to_list(), strict=True))
    lists = ['{"annotations":[' + by_frame.get(f.index, "") + "]}" for f in used]
    return ("[" + ",".join(lists) + "]").encode()


def _annotations(
    plan_: Plan, attributes: list[dict[str, Any]] | None, ctx: Context
) -> tuple[list[int], list[str]]:
    """Positions and annotation texts of the rows sent as another geometry."""
    at: list[int] = []
    values: list[str] = []
    if not plan_.shapes:
        return at, values
    objects = plan_.objects
    for k, (r, o) in enumerate(zip(plan_.rows.tolist(), plan_.obj.tolist(), strict=True)):
        if r not in plan_.shapes:
            continue
        kind, geometry = plan_.shapes[r]
        annotation = to_annotation(
            geometry,
            label=objects.labels[o],
            uuid=objects.uuids[o],
            attributes=None if attributes is None else attributes[k],
            integer_pixels=_integer(ctx, kind),
        )
        at.append(k)
        values.append(orjson.dumps(annotation).decode())
    return at, values
