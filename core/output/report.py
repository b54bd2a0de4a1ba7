"""The conversion report: every input object ends up converted, fixed (how) or dropped (why).

``report.json`` holds the totals and one record per object, except that a run of plainly
converted rows on consecutive lines of a file may be one run record (``source.lines``
``[first, last]`` and ``count``), and so may plainly converted results at consecutive indexes
of a results list that went to one task (``source.indexes`` ``[first, last]``, ``count``
and each one's label in ``labels``); :func:`expand_record` gives one record per object; the
invariant ``objects_in == objects_out + objects_dropped`` holds by construction (fixed
objects count among ``objects_out``). Tasks that carry no prelabel are flagged
``"empty": true`` in ``tasks`` and counted in the summary; with ``--skip-empty`` they are
left out and named in ``skipped_tasks``.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from prelabel.collector import paused_gc
from prelabel.errors import InputError
from prelabel.model import SourceRef
from prelabel.output.layout import (
    MANIFEST_FILE,
    REPORT_FILE,
    TASKS_FILE,
    Shard,
    environment_failure,
    open_new,
    output_shards,
    replace_atomically,
)

Outcome = Literal["converted", "fixed", "dropped"]


@dataclass(slots=True)
class ObjectRecord:
    """The fate of one input object."""

    source: SourceRef
    outcome: Outcome
    label: str | None = None
    task: str | None = None  # unique_id of the task it went to
    reason: str | None = None  # why it was dropped
    fixes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    iou: float | None = None
    annotations: int = 0  # how many Scale annotations it became
    # a run record: the lines first..last of source.file, each an object with this outcome
    lines: tuple[int, int] | None = None
    # or the array indexes first..last of a results list, each an object with its label here
    indexes: tuple[int, int] | None = None
    labels: list[str] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectRecord:
        """The inverse of :meth:`as_dict`."""
        lines = data["source"].get("lines")
        indexes = data["source"].get("indexes")
        return cls(
            SourceRef(data["source"]["file"], data["source"]["location"]),
            data["outcome"],
            label=data.get("label"),
            task=data.get("task"),
            reason=data.get("reason"),
            fixes=list(data.get("fixes", [])),
            flags=list(data.get("flags", [])),
            iou=data.get("iou"),
            annotations=data.get("annotations", 0),
            lines=None if lines is None else (int(lines[0]), int(lines[1])),
            indexes=None if indexes is None else (int(indexes[0]), int(indexes[1])),
            labels=None if data.get("labels") is None else list(data["labels"]),
        )

    @property
    def count(self) -> int:
        """How many objects the record stands for (a run: one per line or index)."""
        run = self.lines or self.indexes
        return 1 if run is None else run[1] - run[0] + 1

    def as_dict(self) -> dict[str, Any]:
        source: dict[str, Any] = {"file": self.source.file, "location": self.source.location}
        out: dict[str, Any] = {"source": source}
        if self.lines is not None:
            source["lines"] = list(self.lines)
            out["count"] = self.count
        if self.indexes is not None:
            source["indexes"] = list(self.indexes)
            out["count"] = self.count
        out["outcome"] = self.outcome
        if self.labels is not None:
            out["labels"] = self.labels
        for key in ("label", "task", "reason", "iou"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 6) if key == "iou" else value
        if self.fixes:
            out["fixes"] = self.fixes
        if self.flags:
            out["flags"] = self.flags
        if self.outcome != "dropped":
            out["annotations"] = self.annotations
        return out


class RecordLines:
    """Records of plainly converted objects of one results list and task (one annotation
    each, no fix or flag), made as report.json lines in bulk and added to ``report`` on
    :meth:`flush`, without a record object each: objects at consecutive indexes of the list
    become one run record (``source.indexes``, ``count``, ``labels``), a lone one the
    record :meth:`Report.converted` would add. Flush before anything else records into
    ``report``, to keep the order."""

    def __init__(self, report: Report, file: str, array: str, task: str) -> None:
        """``array``: the name the list's locations use (``results`` in ``results[7]``)."""
        self.report = report
        self.array = array
        self.head = b'{"source":{"file":' + orjson.dumps(file) + b',"location":'
        self.task = b',"task":' + orjson.dumps(task) + b',"annotations":1}\n'
        self.indexes: list[int] = []
        self.labels: list[str] = []

    def converted(self, index: int, label: str) -> None:
        """Record the object at ``array[index]`` converted as it was, into one annotation."""
        self.indexes.append(index)
        self.labels.append(label)

    def flush(self) -> None:
        indexes, labels = self.indexes, self.labels
        if not indexes:
            return
        parts, start = [], 0
        for end in range(1, len(indexes) + 1):
            if end < len(indexes) and indexes[end] == indexes[end - 1] + 1:
                continue
            first, last = indexes[start], indexes[end - 1]
            if first == last:
                location = orjson.dumps(f"{self.array}[{first}]")
                tail = b'},"outcome":"converted","label":' + orjson.dumps(labels[start])
            else:
                location = orjson.dumps(f"{self.array}[{first}-{last}]")
                location += f',"indexes":[{first},{last}]'.encode()
                tail = (
                    f'}},"count":{last - first + 1},"outcome":"converted","labels":'.encode()
                    + orjson.dumps(labels[start:end])
                )
            parts.append(self.head + location + tail + self.task)
            start = end
        n = len(indexes)
        self.report.add_lines(b"".join(parts), outcomes={"converted": n}, annotations=n)
        indexes.clear()
        labels.clear()


def expand_record(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One record per object (a report.json ``objects`` entry): a run record (``"count"``,
    ``source.lines`` or ``source.indexes``) gives one record per line or index of its run,
    any other record itself."""
    source = record.get("source") or {}
    lines, indexes = source.get("lines"), source.get("indexes")
    if not lines and not indexes:
        yield dict(record)
        return
    rest = {k: v for k, v in record.items() if k not in ("source", "count", "labels")}
    file = source.get("file")
    if lines:
        for line in range(int(lines[0]), int(lines[1]) + 1):
            yield {"source": {"file": file, "location": f"line {line}"}, **rest}
        return
    array = str(source.get("location", "")).partition("[")[0]
    labels = record.get("labels") or []
    assert indexes is not None
    for k, index in enumerate(range(int(indexes[0]), int(indexes[1]) + 1)):
        where = {"file": file, "location": f"{array}[{index}]"}
        yield {"source": where, "outcome": rest.get("outcome"), "label": labels[k], **rest}


@dataclass(slots=True)
class Report:
    """Collects object records, notes and task counts for one conversion.

    Totals are kept as counters while records arrive. By default records are kept in
    memory (``records``); with ``spool`` set (the pipeline does) each record is written to
    that file as it arrives and never held, so a conversion of millions of objects keeps a
    constant-size report in memory. With ``lines`` set (a bytearray) each record is kept as
    its report.json line instead, and each IoU in arrival order: what a worker process
    sends back, folded into a run's report (:meth:`merge`) with no per-record work and the
    same bytes as if the run had made the records itself.
    """

    format: str = ""
    task_type: str = ""
    records: list[ObjectRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tasks: int = 0
    artifacts: int = 0
    # one entry per task written: unique_id, item key, image size (validate needs the size),
    # "empty": true when it carries no prelabel
    task_items: list[dict[str, Any]] = field(default_factory=list)
    # per video task (unique_id): which tracker track became which annotation uuid, as
    # report.json's tasks[].tracks: {"source", "track_id", "uuid", "run"} each
    track_maps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # tasks left out (--skip-empty): unique_id, item key, reason
    skipped_tasks: list[dict[str, str]] = field(default_factory=list)
    spool: Path | None = None
    lines: bytearray | None = None
    _outcomes: Counter[str] = field(default_factory=Counter)
    _reasons: Counter[str] = field(default_factory=Counter)
    _fixes: Counter[str] = field(default_factory=Counter)
    _annotations: int = 0
    _iou: list[float] = field(default_factory=lambda: [0, 0.0, 1.0])  # count, sum, min
    _ious: list[float] = field(default_factory=list)  # each IoU, in order (``lines`` only)
    _sink: IO[bytes] | None = None
    _written: Path | None = None

    def _add(self, rec: ObjectRecord) -> ObjectRecord:
        self._outcomes[rec.outcome] += 1
        if rec.outcome == "dropped":
            self._reasons[(rec.reason or "").split(":")[0]] += 1
        else:
            self._annotations += rec.annotations
        for fix in rec.fixes:
            self._fixes[fix.split(":")[0]] += 1
        if rec.iou is not None:
            self.add_iou(rec.iou)
        if self.lines is not None:
            self.lines += orjson.dumps(rec.as_dict()) + b"\n"
        elif self.spool is None:
            self.records.append(rec)
        else:
            self._spool_write(orjson.dumps(rec.as_dict()) + b"\n")
        return rec

    def _spool_write(self, data: bytes) -> None:
        """Append record lines to the spool file (created afresh, never through a link)."""
        assert self.spool is not None
        if self._sink is None:
            self._sink = open_new(self.spool)
        try:
            self._sink.write(data)
        except OSError as exc:
            raise environment_failure(exc, self.spool, "write the file") from None

    def converted(
        self,
        source: SourceRef,
        *,
        label: str | None,
        task: str | None,
        fixes: list[str] | None = None,
        flags: list[str] | None = None,
        iou: float | None = None,
        annotations: int = 1,
    ) -> ObjectRecord:
        rec = ObjectRecord(
            source,
            "fixed" if fixes else "converted",
            label=label,
            task=task,
            fixes=list(fixes or []),
            flags=list(flags or []),
            iou=iou,
            annotations=annotations,
        )
        return self._add(rec)

    def dropped(
        self,
        source: SourceRef,
        reason: str,
        *,
        label: str | None = None,
        task: str | None = None,
        iou: float | None = None,
    ) -> ObjectRecord:
        rec = ObjectRecord(source, "dropped", label=label, task=task, reason=reason, iou=iou)
        return self._add(rec)

    def add_lines(
        self,
        lines: bytes,
        *,
        outcomes: Mapping[str, int],
        reasons: Mapping[str, int] | None = None,
        fixes: Mapping[str, int] | None = None,
        annotations: int = 0,
    ) -> None:
        """Add records serialized elsewhere (columnar writers), with their counts.

        ``lines`` is NDJSON, one record a line in exactly the shape of
        :meth:`ObjectRecord.as_dict`; the counts must describe those lines (``reasons`` and
        ``fixes`` keyed by the part before ``':'``, as :meth:`reasons` reports them).
        """
        self._outcomes.update(outcomes)
        self._reasons.update(reasons or {})
        self._fixes.update(fixes or {})
        self._annotations += annotations
        if not lines:
            return
        if not lines.endswith(b"\n"):
            lines += b"\n"
        if self.lines is not None:
            self.lines += lines
            return
        if self.spool is None:
            self.records.extend(ObjectRecord.from_dict(orjson.loads(x)) for x in lines.splitlines())
            return
        self._spool_write(lines)

    def skipped(self, task: str, key: str, reason: str) -> None:
        """Record a task left out of ``tasks.jsonl`` (its objects keep their own records)."""
        self.skipped_tasks.append({"unique_id": task, "key": key, "reason": reason})

    def empty_tasks(self) -> int:
        """How many written tasks carry no prelabel."""
        return sum(1 for t in self.task_items if t.get("empty"))

    def add_iou(self, iou: float) -> None:
        """Count the IoU of one traced mask (records added by :meth:`add_lines` carry their
        IoU in the text only: their writer adds each here, in record order)."""
        self._iou[0] += 1
        self._iou[1] += iou
        self._iou[2] = min(self._iou[2], iou)
        if self.lines is not None:
            self._ious.append(iou)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # --- totals --------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        out = self._outcomes["converted"] + self._outcomes["fixed"]
        return {
            "objects_in": out + self._outcomes["dropped"],
            "objects_out": out,
            "objects_fixed": self._outcomes["fixed"],
            "objects_dropped": self._outcomes["dropped"],
            "annotations_out": self._annotations,
            "tasks": self.tasks,
            "artifacts": self.artifacts,
        }

    def reasons(self) -> dict[str, int]:
        """Dropped objects counted by reason (the part before any ':' detail)."""
        return dict(self._reasons.most_common())

    def fix_kinds(self) -> dict[str, int]:
        return dict(self._fixes.most_common())

    def iou_summary(self) -> dict[str, float] | None:
        count, total, least = self._iou
        if not count:
            return None
        return {"count": int(count), "mean": total / count, "min": least}

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every record as its report.json dict, in arrival order (from the spool if any)."""
        if self.lines is not None:
            yield from (orjson.loads(line) for line in bytes(self.lines).splitlines())
            return
        if self.spool is None:
            yield from (r.as_dict() for r in self.records)
            return
        if self._written is not None:  # the spool was folded into report.json
            with paused_gc():
                objects = orjson.loads(self._written.read_bytes())["objects"]
            yield from objects
            return
        if self._sink is not None:
            self._sink.flush()
        if self.spool.exists():
            with self.spool.open("rb") as f:
                yield from (orjson.loads(line) for line in f)

    def header(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "task_type": self.task_type,
            "totals": self.totals(),
            "dropped_by_reason": self.reasons(),
            "fixes_by_kind": self.fix_kinds(),
            "iou": self.iou_summary(),
            "notes": self.notes,
            "skipped_tasks": self.skipped_tasks,
            "tasks": [self._task(t) for t in self.task_items],
        }

    def _task(self, item: dict[str, Any]) -> dict[str, Any]:
        tracks = self.track_maps.get(str(item.get("unique_id")))
        return item if tracks is None else {**item, "tracks": tracks}

    def as_dict(self) -> dict[str, Any]:
        return {**self.header(), "objects": list(self.iter_records())}

    def write(self, path: Path) -> None:
        """Write report.json, streaming the object records (spooled ones are not loaded).

        The file appears whole or not at all (written beside it and renamed into place: a
        full disk leaves no truncated report), and never through a link planted in its place.
        """
        try:
            self._write(path)
        except BaseException:
            self.close()  # the run failed: its record spool goes too
            raise

    def _write(self, path: Path) -> None:
        head = orjson.dumps(self.header(), option=orjson.OPT_INDENT_2)
        with replace_atomically(path) as f:
            f.write(head[:-2] + b',\n  "objects": [')
            if self.spool is not None and self._sink is not None:
                self._sink.close()
                self._sink = None
                with self.spool.open("rb") as records:
                    _copy_records(records, f)
            elif self.lines is not None:
                _copy_records(io.BytesIO(self.lines), f)
            else:
                for n, rec in enumerate(self.records):
                    f.write((b"\n    " if n == 0 else b",\n    ") + orjson.dumps(rec.as_dict()))
            f.write(b"\n  ]\n}\n")
        if self.spool is not None and self.spool.exists():
            self.spool.unlink()
            self._written = path

    def close(self) -> None:
        """Drop the spool file (after an error, when no report is written)."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        if self.spool is not None:
            self.spool.unlink(missing_ok=True)

    def summary_lines(self) -> list[str]:
        """A few readable lines for stderr."""
        t = self.totals()
        lines = [
            f"{t['tasks']} task(s), {t['artifacts']} artifact(s); objects: {t['objects_in']} in, "
            f"{t['objects_out']} out ({t['objects_fixed']} fixed), {t['objects_dropped']} dropped"
        ]
        if self.skipped_tasks:
            lines.append(
                f"  left out {len(self.skipped_tasks)} task(s) with no prelabel (--skip-empty; "
                "report.json skipped_tasks names them)"
            )
        if empty := self.empty_tasks():
            lines.append(f"  {empty} task(s) carry no prelabel (--skip-empty leaves them out)")
        for reason, n in self.reasons().items():
            lines.append(f"  dropped {n}: {reason}")
        for kind, n in self.fix_kinds().items():
            lines.append(f"  fixed {n}: {kind}")
        iou = self.iou_summary()
        if iou:
            lines.append(
                f"  traced masks: {iou['count']}, IoU mean {iou['mean']:.4f}, min {iou['min']:.4f}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines

    # --- a task's share, travelling as JSON ----------------------------------------------

    def share(self) -> dict[str, Any]:
        """Everything but the records, as JSON-ready data (the records travel as report.json
        lines); :meth:`from_share` rebuilds the report exactly (a spooled report's IoUs are
        not kept one by one: not for a spooled report)."""
        return {
            "outcomes": dict(self._outcomes),
            "reasons": dict(self._reasons),
            "fixes": dict(self._fixes),
            "annotations": self._annotations,
            "ious": self._ious
            if self.lines is not None
            else [r.iou for r in self.records if r.iou is not None],
            "notes": list(self.notes),
            "tasks": list(self.task_items),
            "skipped_tasks": list(self.skipped_tasks),
            "tracks": dict(self.track_maps),
            "artifacts": self.artifacts,
        }

    @classmethod
    def from_share(
        cls, share: Mapping[str, Any], lines: bytes, *, format: str = "", task_type: str = ""
    ) -> Report:
        """The report :meth:`share` and its record lines describe."""
        report = cls(format=format, task_type=task_type, lines=bytearray(lines))
        report._outcomes.update(share["outcomes"])
        report._reasons.update(share["reasons"])
        report._fixes.update(share["fixes"])
        report._annotations = int(share["annotations"])
        for iou in share["ious"]:
            report.add_iou(float(iou))
        report.notes = list(share["notes"])
        report.task_items = list(share["tasks"])
        report.skipped_tasks = list(share["skipped_tasks"])
        report.track_maps = dict(share["tracks"])
        report.tasks, report.artifacts = len(report.task_items), int(share["artifacts"])
        return report

    # --- folding reports together --------------------------------------------------------

    def merge(self, other: Report, *, records: bool = True) -> None:
        """Add ``other`` to this report: its totals, notes, task entries and track maps, and
        (with ``records``) its object records after this report's, in their order.

        A task's own report (:attr:`prelabel.Task.report`) folds into a run's this way, so a
        directory written from tasks made elsewhere (another process) holds the same report
        as one written as the tasks were made. ``records=False`` keeps the totals and notes
        only (no object records, task entries, skipped tasks or track maps: a running tally
        that does not grow with the tasks).
        """
        self._outcomes.update(other._outcomes)
        self._reasons.update(other._reasons)
        self._fixes.update(other._fixes)
        self._annotations += other._annotations
        self._merge_iou(other)
        for text in other.notes:
            self.note(text)
        self.tasks += other.tasks
        self.artifacts += other.artifacts
        if not records:
            return
        self.task_items.extend(other.task_items)
        self.skipped_tasks.extend(other.skipped_tasks)
        for task, entries in other.track_maps.items():
            self.track_maps.setdefault(task, []).extend(entries)
        self._take_records(other)

    def _merge_iou(self, other: Report) -> None:
        """IoUs of records in memory are added one by one, in order, so the sum (and the
        mean report.json shows) is the float a report that saw them arrive holds."""
        if other.lines is not None:
            for iou in other._ious:
                self.add_iou(iou)
            return
        if other.spool is None:
            for rec in other.records:
                if rec.iou is not None:
                    self.add_iou(rec.iou)
            return
        count, total, least = other._iou
        if count:
            self._iou = [self._iou[0] + count, self._iou[1] + total, min(self._iou[2], least)]

    def _take_records(self, other: Report) -> None:
        if other.lines is not None:
            self.add_lines(bytes(other.lines), outcomes={})
            return
        if self.lines is not None:
            self.lines += b"".join(orjson.dumps(r) + b"\n" for r in other.iter_records())
            return
        if self.spool is None:
            if other.spool is None:
                self.records.extend(other.records)
            else:
                self.records.extend(ObjectRecord.from_dict(r) for r in other.iter_records())
            return
        lines = (
            [orjson.dumps(r.as_dict()) for r in other.records]
            if other.spool is None
            else [orjson.dumps(r) for r in other.iter_records()]
        )
        if lines:
            self._spool_write(b"\n".join(lines) + b"\n")


def _copy_records(records: IO[bytes], out: IO[bytes], block: int = 1 << 20) -> None:
    """Copy NDJSON records into the ``objects`` array in blocks (no per-line Python work)."""
    first, pending = True, b""
    while chunk := records.read(block):
        data = pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        body, pending = data[:cut], data[cut + 1 :]
        if body:
            out.write((b"\n    " if first else b",\n    ") + body.replace(b"\n", b",\n    "))
            first = False
    if pending:
        out.write((b"\n    " if first else b",\n    ") + pending)


def read_report(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """``DIR/report.json`` of an output directory (empty when there is none); of a sharded
    directory, its shards' reports as one (:func:`merge_reports`).

    Raises:
        InputError: a file is not a JSON object.
    """
    root = Path(directory)
    if (root / MANIFEST_FILE).is_file():
        return merge_reports([_report_file(s.report) for s in output_shards(root)])
    return _report_file(root / REPORT_FILE)


def _report_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with paused_gc():  # a report of millions of records: parsed 3-4x faster
            data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc}); cut short? convert again", path=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path)
    return data


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Reports of shards as one report: totals and counts added up, IoU count, mean and min
    over all, notes once each, tasks, skipped tasks and objects one shard after the other."""
    reports = [r for r in reports if r]
    if not reports:
        return {}
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    fixes: Counter[str] = Counter()
    for report in reports:
        totals.update(report.get("totals") or {})
        reasons.update(report.get("dropped_by_reason") or {})
        fixes.update(report.get("fixes_by_kind") or {})
    notes = list(dict.fromkeys(n for r in reports for n in r.get("notes") or []))
    return {
        "format": reports[0].get("format", ""),
        "task_type": reports[0].get("task_type", ""),
        "totals": {k: totals[k] for k in reports[0].get("totals") or totals},
        "dropped_by_reason": dict(reasons.most_common()),
        "fixes_by_kind": dict(fixes.most_common()),
        "iou": _merged_iou([r.get("iou") for r in reports]),
        "notes": notes,
        "skipped_tasks": [t for r in reports for t in r.get("skipped_tasks") or []],
        "tasks": [t for r in reports for t in r.get("tasks") or []],
        "objects": [o for r in reports for o in r.get("objects") or []],
    }


def _merged_iou(parts: list[Any]) -> dict[str, float] | None:
    parts = [p for p in parts if isinstance(p, dict) and p.get("count")]
    if not parts:
        return None
    count = sum(int(p["count"]) for p in parts)
    total = sum(float(p["mean"]) * int(p["count"]) for p in parts)
    return {"count": count, "mean": total / count, "min": min(float(p["min"]) for p in parts)}


def complete_report(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The report of an output directory (of a sharded one, its shards' reports as one),
    checked to belong with the task lines beside it before they are submitted or validated.

    ``convert`` writes each report last and whole, so a report that is missing, is not a
    complete JSON object, or lists another number of tasks than its ``tasks.jsonl`` holds
    means the conversion did not finish or the files come from different runs: the tasks
    are not to be trusted.

    Raises:
        InputError: naming the report and what is wrong with it (exit 3).
    """
    reports = [_complete_shard(shard) for shard in output_shards(directory)]
    return reports[0] if len(reports) == 1 else merge_reports(reports)


def _complete_shard(shard: Shard) -> dict[str, Any]:
    path = shard.report
    if not path.is_file():
        raise InputError(
            f"no {REPORT_FILE} beside {TASKS_FILE}: the conversion did not finish; convert again",
            path=path,
        )
    report = _report_file(path)
    with shard.tasks.open("rb") as fh:
        tasks = sum(1 for raw in fh if raw.strip())
    entries = report.get("tasks")
    listed = len(entries) if isinstance(entries, list) else 0
    if listed != tasks:
        raise InputError(
            f"lists {listed} task(s) but {TASKS_FILE} holds {tasks}: they come from "
            "different runs; convert again",
            path=path,
        )
    return report


def task_entries(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's per-task entries (``key``, ``width``, ``height``) by unique_id."""
    tasks = report.get("tasks", [])
    entries = tasks if isinstance(tasks, list) else []
    return {str(t.get("unique_id")): t for t in entries if isinstance(t, dict)}
