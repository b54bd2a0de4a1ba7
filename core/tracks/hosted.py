"""The hosted JSON of the columnar tracking path: the videoplayback hypothesis (streamed in
chunks of whole objects) and the videoannotation per-frame list, assembled by polars."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from prelabel.model import Frame, Item, TrackTable
from prelabel.tracks.filter import appearance
from prelabel.tracks.keys import frame_numbers, frame_times
from prelabel.tracks.numbers import number_columns, number_text
from prelabel.tracks.plan import Plan, plan
from prelabel.tracks.records import CHUNK, Records, json_text, record_line

if TYPE_CHECKING:
    from prelabel.output.artifacts import ArtifactStore
    from prelabel.writers.context import WriteContext

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _attribute_note(plan_: Plan, ctx: WriteContext) -> None:
    """The note the per-object writer makes when rows carry attributes the task lacks."""
    if not len(plan_.rows) or not plan_.table.attributes:
        return
    defined = ctx.config.params.get("annotation_attributes") or {}
    skipped = sorted(set(plan_.table.attributes) - set(defined))
    if skipped:
        ctx.report.note(
            "attributes not defined in params.annotation_attributes were not sent: "
            + ", ".join(skipped)
        )


def _box_columns(plan_: Plan) -> pl.DataFrame:
    """The sent rows' fitted boxes as number text."""
    r = plan_.rows
    fit = plan_.fit
    return number_columns(
        {"left": fit.left[r], "top": fit.top[r], "width": fit.width[r], "height": fit.height[r]}
    )


def _geometry_text(prefix: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [
            prefix,
            pl.lit('"left":'),
            pl.col("left"),
            pl.lit(',"top":'),
            pl.col("top"),
            pl.lit(',"width":'),
            pl.col("width"),
            pl.lit(',"height":'),
            pl.col("height"),
        ]
    )


def playback_json(item: Item, ctx: WriteContext, task: str, fps: float) -> Iterator[bytes]:
    """The uuid-keyed videoplayback hypothesis of ``item.tracks``, in chunks of whole objects
    (records and notes are made before the first chunk)."""
    table = item.tracks
    frames = item.frames or []
    assert table is not None
    plan_ = plan(table, item, ctx, task, np.arange(len(frames), dtype=np.int64))
    _attribute_note(plan_, ctx)
    return _playback_chunks(plan_, frames, ctx.config.prelabel.frame_key_base, fps)


def _playback_chunks(
    plan_: Plan, frames: Sequence[Frame], base: int, fps: float
) -> Iterator[bytes]:
    if not len(plan_.rows):
        yield b"{}"
        return
    heads = _frame_heads(frames, base, fps)
    starts = np.flatnonzero(np.r_[True, plan_.obj[1:] != plan_.obj[:-1]])
    at = np.searchsorted(starts, np.arange(CHUNK, len(plan_.rows), CHUNK))
    bounds = [*sorted({0, *starts[at[at < len(starts)]].tolist()}), len(plan_.rows)]
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        yield (b"{" if n == 0 else b",") + _playback_part(plan_, heads, slice(a, b))
    yield b"}"


def _playback_part(plan_: Plan, heads: pl.Series, part: slice) -> bytes:
    """Whole objects ``"uuid":{"label","geometry","frames":[...]}`` of rows ``part``.

    Rows are in object order, so each row's text is its frame entry led by the object's
    opening (first row) or a comma, and closed by ``]}`` on the object's last row: one
    concatenation, no grouping.
    """
    rows = plan_.rows[part]
    obj = plan_.obj[part]
    n = len(rows)
    first = np.flatnonzero(np.r_[True, obj[1:] != obj[:-1]])
    last = np.r_[first[1:] - 1, n - 1]
    openings = [
        ("," if k else "")
        + json_text(plan_.uuids[o])
        + ':{"label":'
        + json_text(plan_.labels[o])
        + ',"geometry":"box","frames":['
        for k, o in enumerate(obj[first].tolist())
    ]
    lead = pl.select(pl.repeat(",", n, dtype=pl.String)).to_series()
    lead = lead.scatter(first, pl.Series(openings, dtype=pl.String))
    trail = pl.select(pl.repeat("}", n, dtype=pl.String)).to_series().scatter(last, "}]}")
    fit = plan_.fit
    cols = number_columns(
        {
            "left": fit.left[rows],
            "top": fit.top[rows],
            "width": fit.width[rows],
            "height": fit.height[rows],
        }
    ).with_columns(head=heads.gather(plan_.table.frame[rows]), lead=lead, trail=trail)
    text = pl.concat_str([pl.col("lead"), _geometry_text(pl.col("head")), pl.col("trail")])
    data: bytes = cols.select(text.str.join("")).to_series().cast(pl.Binary).item()
    return data


def add_artifact(store: ArtifactStore, name: str, chunks: Iterable[bytes]) -> str:
    """``ArtifactStore.add`` for data written a chunk at a time (never whole in memory)."""
    return store.add_chunks(name, chunks)


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


def video_frames_json(item: Item, used: Sequence[Frame], ctx: WriteContext, task: str) -> bytes:
    """The videoannotation per-frame list for ``used`` task frames (records and notes made);
    rows on source frames that are no task frame are dropped with the reference reason."""
    table = item.tracks
    frames = item.frames or []
    assert table is not None
    unique = list({f.index: f for f in used}.values())
    frame_pos = np.full(len(frames), len(frames), dtype=np.int64)
    frame_pos[[f.index for f in unique]] = np.arange(len(unique))
    chosen = frame_pos[table.frame] < len(frames)
    _drop_unsampled(table, ~chosen, frames, task, ctx)
    if not chosen.all():
        table = table.take(chosen)
    plan_ = plan(table, item, ctx, task, frame_pos)
    by_frame: dict[int, str] = {}
    if len(plan_.rows):
        suffix = [
            ',"label":' + json_text(plan_.labels[o]) + ',"uuid":' + json_text(plan_.uuids[o]) + "}"
            for o in range(len(plan_.uuids))
        ]
        cols = _box_columns(plan_).with_columns(
            tail=pl.Series(suffix, dtype=pl.String).gather(plan_.obj),
            frame=pl.Series(table.frame[plan_.rows]),
        )
        order = np.argsort(frame_pos[table.frame[plan_.rows]], kind="stable")
        entries = cols[order].select(
            pl.col("frame"),
            pl.concat_str([_geometry_text(pl.lit('{"type":"box",')), pl.col("tail")]).alias("e"),
        )
        grouped = entries.group_by("frame", maintain_order=True).agg(pl.col("e").str.join(","))
        by_frame = dict(zip(grouped["frame"].to_list(), grouped["e"].to_list(), strict=True))
        _attribute_note(plan_, ctx)
    parts = ['{"annotations":[' + by_frame.get(f.index, "") + "]}" for f in used]
    return ("[" + ",".join(parts) + "]").encode()


def _drop_unsampled(
    table: TrackTable, rows: BoolArray, frames: Sequence[Frame], task: str, ctx: WriteContext
) -> None:
    if not rows.any():
        return
    records = Records()
    numbers = frame_numbers(frames).tolist()
    order = appearance(table)
    for k, r in enumerate(order[rows[order]].tolist()):
        reason = f"not a task frame: frame {numbers[int(table.frame[r])]} falls between frame_rate samples"
        line = record_line(
            table, r, "dropped", table.labels[int(table.label[r])], task, reason=reason
        )
        records.dropped(k, line, reason)
    records.flush(ctx.report)
