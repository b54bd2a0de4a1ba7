"""The report records of a plan's rows, each recorded exactly once: dropped (no task
geometry, broken past repair, another geometry than its videoplayback object's), thinned, or
converted / fixed. Odd rows get a record each (:func:`~prelabel.tracks.records.record_line`);
a file's plain boxes are recorded in bulk, a template per (label, fixes)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import orjson

from prelabel.model import SourceRef, TrackTable
from prelabel.output.report import ObjectRecord
from prelabel.tracks.fit import BoxFit, Fits, Targets
from prelabel.tracks.records import FIX_TEXTS, THINNED, THINNED_BIT, Records, record_line

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _label(table: TrackTable, r: int) -> str:
    return table.labels[int(table.label[r])]


def no_target(
    table: TrackTable, rows: IntArray, targets: Targets, key: IntArray, records: Records, task: str
) -> None:
    for p in np.flatnonzero(targets.missing[rows]).tolist():
        r = int(rows[p])
        reason = targets.names[int(targets.code[r])]
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)


def drops(
    table: TrackTable,
    rows: IntArray,
    boxed: BoolArray,
    fits: Fits,
    key: IntArray,
    records: Records,
    task: str,
) -> None:
    """Rows the fit dropped (broken past repair), with its reason."""
    for p in np.flatnonzero(boxed & ~fits.alive).tolist():
        r = int(rows[p])
        reason = fits.fit.dropped[r]
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)
    for p, fitted in fits.shaped.items():
        if fitted.dropped is not None or not fitted.geometries:
            r = int(rows[p])
            reason = fitted.dropped or "nothing left after fitting"
            line = record_line(
                table, r, "dropped", _label(table, r), task, reason=reason, iou=fitted.iou
            )
            records.dropped(int(key[p]), line, reason, fitted.iou)


def mixed(
    table: TrackTable,
    rows: IntArray,
    obj: IntArray,
    fits: Fits,
    kinds: list[str],
    key: IntArray,
    records: Records,
    task: str,
) -> None:
    """Drop rows whose geometry is not their object's (a videoplayback object has one)."""
    if not fits.kinds:  # every row a box
        return
    for p in np.flatnonzero(fits.alive).tolist():
        kind = fits.kinds.get(p, "box")
        want = kinds[int(obj[p])]
        if kind == want:
            continue
        r = int(rows[p])
        fits.alive[p] = False
        reason = f"mixed geometry: a {kind} on a track sent as a {want} (its first frame's)"
        line = record_line(table, r, "dropped", _label(table, r), task, reason=reason)
        records.dropped(int(key[p]), line, reason)


def shaped(
    records: Records,
    table: TrackTable,
    rows: IntArray,
    key: IntArray,
    fits: Fits,
    thinned: BoolArray,
    task: str,
) -> None:
    """Records of the rows fitted one by one and kept (as the report records a fit)."""
    for p, fitted in fits.shaped.items():
        if not fits.alive[p]:
            continue
        r = int(rows[p])
        repairs = table.row_repairs(r)
        if thinned[p]:
            fixes, iou, n = [*repairs, *fitted.fixes, THINNED], None, 0
        else:
            fixes, iou, n = [*repairs, *fitted.fixes], fitted.iou, len(fitted.geometries)
        rec = ObjectRecord(
            table.source(r),
            "fixed" if fixes else "converted",
            label=_label(table, r),
            task=task,
            fixes=list(fixes),
            flags=list(fitted.flags),
            iou=iou,
            annotations=n,
        )
        records.text(int(key[p]), orjson.dumps(rec.as_dict()), iou)
        _count(records, fixes, n)


def converted(
    records: Records,
    table: TrackTable,
    rows: IntArray,
    key: IntArray,
    alive: BoolArray,
    thinned: BoolArray,
    fit: BoxFit,
    task: str,
) -> None:
    """Records of the boxes fitted at once: flagged ones (and rows made from instances) one
    by one, a file's others in bulk."""
    flagged = np.zeros(len(rows), dtype=bool)
    if table.objects is not None:
        flagged = alive
    elif fit.flags:
        flagged = alive & np.isin(rows, list(fit.flags))
    for p in np.flatnonzero(flagged).tolist():
        r = int(rows[p])
        fixes = [*table.row_repairs(r), *(text for bit, text in FIX_TEXTS if fit.fixes[r] & bit)]
        n = 0 if thinned[p] else 1
        line = record_line(
            table,
            r,
            "fixed" if fixes else "converted",
            _label(table, r),
            task,
            fixes=fixes,
            flags=[fit.flags[r]] if r in fit.flags else [],
            annotations=n,
        )
        records.text(int(key[p]), line)
        _count(records, fixes, n)
    if table.objects is None:
        _bulk(records, table, _table_order(rows[alive & ~flagged], len(table)), fit, task)


def _bulk(records: Records, table: TrackTable, sel: IntArray, fit: BoxFit, task: str) -> None:
    """Records of a file's plain boxes (table rows ``sel``, in line order): one template per
    (label, reader repairs, fixes), filled with each row's line a chunk at a time when
    flushed."""
    if not len(sel):
        return
    combo = table.label[sel].astype(np.int64)
    if table.repair is not None:  # (label, repair) pairs coded label * n + repair
        combo *= len(table.repairs)
        combo += table.repair[sel]
    combo *= 16
    combo += fit.fixes[sel]
    tally = np.bincount(combo)  # few distinct (label, fixes) pairs: no sort needed
    combos = np.flatnonzero(tally)
    lookup = np.zeros(len(tally), dtype=np.int64)
    lookup[combos] = np.arange(len(combos))
    which = lookup[combo]
    del combo
    tails, compact = [], []
    n_repairs = 1 if table.repair is None else len(table.repairs)
    for c, n_rows in zip(combos.tolist(), tally[combos].tolist(), strict=True):
        label, repair = divmod(c // 16, n_repairs)
        fixes = [*table.repairs[repair], *(text for bit, text in FIX_TEXTS if (c % 16) & bit)]
        n = 0 if (c % 16) & THINNED_BIT else 1
        rec = ObjectRecord(
            SourceRef("", ""),
            "fixed" if fixes else "converted",
            label=table.labels[label],
            task=task,
            fixes=fixes,
            annotations=n,
        )
        tails.append(orjson.dumps(rec.as_dict()).decode().split('"},', 1)[1])
        compact.append(not fixes)  # plainly converted: runs of lines make one record
        records.outcomes["fixed" if fixes else "converted"] += n_rows
        for fix in fixes:
            records.fixes[fix.split(":")[0]] += n_rows
        records.annotations += n * n_rows
    lines = table.line[sel]
    records.bulk(table.file, lines, lines, which, tails, compact)


def _table_order(rows: IntArray, n: int) -> IntArray:
    """``rows`` (distinct table rows) in table order, without a sort."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    out: IntArray = np.flatnonzero(mask)
    return out


def _count(records: Records, fixes: list[str], annotations: int) -> None:
    records.outcomes["fixed" if fixes else "converted"] += 1
    for fix in fixes:
        records.fixes[fix.split(":")[0]] += 1
    records.annotations += annotations
