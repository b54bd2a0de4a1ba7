"""The conversion report: every input object ends up converted, fixed (how) or dropped (why).

``report.json`` holds the totals and one record per object, except that a run of plainly
converted rows on consecutive lines of a file may be one run record (``source.lines``
``[first, last]`` and ``count``; :func:`expand_record` gives one record per line); the
invariant ``objects_in == objects_out + objects_dropped`` holds by construction (fixed
objects count among ``objects_out``). Tasks that carry no prelabel are flagged
``"empty": true`` in ``tasks`` and counted in the summary; with ``--skip-empty`` they are
left out and named in ``skipped_tasks``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from prelabel.errors import InputError
from prelabel.model import SourceRef
from prelabel.output.layout import (
    REPORT_FILE,
    TASKS_FILE,
    environment_failure,
    open_new,
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectRecord:
        """The inverse of :meth:`as_dict`."""
        lines = data["source"].get("lines")
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
        )

    @property
    def count(self) -> int:
        """How many objects the record stands for (a run: one per line)."""
        return 1 if self.lines is None else self.lines[1] - self.lines[0] + 1

    def as_dict(self) -> dict[str, Any]:
        source: dict[str, Any] = {"file": self.source.file, "location": self.source.location}
        out: dict[str, Any] = {"source": source}
        if self.lines is not None:
            source["lines"] = list(self.lines)
            out["count"] = self.count
        out["outcome"] = self.outcome
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


def expand_record(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One record per object (a report.json ``objects`` entry): a run record (``"count"``,
    ``source.lines``) gives one record per line of its run, any other record itself."""
    source = record.get("source") or {}
    lines = source.get("lines")
    if not lines:
        yield dict(record)
        return
    rest = {k: v for k, v in record.items() if k not in ("source", "count")}
    for line in range(int(lines[0]), int(lines[1]) + 1):
        yield {"source": {"file": source.get("file"), "location": f"line {line}"}, **rest}


@dataclass(slots=True)
class Report:
    """Collects object records, notes and task counts for one conversion.

    Totals are kept as counters while records arrive. By default records are kept in
    memory (``records``); with ``spool`` set (the pipeline does) each record is written to
    that file as it arrives and never held, so a conversion of millions of objects keeps a
    constant-size report in memory.
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
    _outcomes: Counter[str] = field(default_factory=Counter)
    _reasons: Counter[str] = field(default_factory=Counter)
    _fixes: Counter[str] = field(default_factory=Counter)
    _annotations: int = 0
    _iou: list[float] = field(default_factory=lambda: [0, 0.0, 1.0])  # count, sum, min
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
        if self.spool is None:
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
        if self.spool is None:
            yield from (r.as_dict() for r in self.records)
            return
        if self._written is not None:  # the spool was folded into report.json
            yield from orjson.loads(self._written.read_bytes())["objects"]
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
    """``DIR/report.json`` of an output directory (empty when there is none).

    Raises:
        InputError: the file is not a JSON object.
    """
    path = Path(directory) / REPORT_FILE
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc}); cut short? convert again", path=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path)
    return data


def complete_report(directory: str | os.PathLike[str], tasks: int) -> dict[str, Any]:
    """``DIR/report.json``, checked to belong with the ``tasks`` task lines of
    ``DIR/tasks.jsonl`` before they are submitted or validated.

    ``convert`` writes the report last and whole, so a report that is missing, is not a
    complete JSON object, or lists another number of tasks means the conversion did not
    finish or the files come from different runs: the tasks are not to be trusted.

    Raises:
        InputError: naming the report and what is wrong with it (exit 3).
    """
    path = Path(directory) / REPORT_FILE
    if not path.is_file():
        raise InputError(
            f"no {REPORT_FILE} beside {TASKS_FILE}: the conversion did not finish; convert again",
            path=path,
        )
    report = read_report(directory)
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
