"""``prelabel import``: bring completed tasks back and write them in the model world's formats.

Library use::

    from prelabel.responses.run import ImportRequest, import_tasks
    from prelabel.scale.client import ScaleClient

    with ScaleClient(api_key) as client:
        summary = import_tasks(ImportRequest(final="final/", out_dir="out/"), client)

Writes into FINAL:

* ``tasks.jsonl`` — one line per imported task, ``{"task_type", "body", "task_id",
  "status"}``, the final labels in ``body.hypothesis`` (see :mod:`prelabel.responses.read`);
* ``artifacts/downloads/`` — the hosted result files, fetched once;
* ``responses/TASK_ID.json`` — the task objects as Scale returned them;
* ``report.json`` — what was imported and skipped (and why), the ``tasks[]`` entries
  (unique_id, task_id, item key, image size, the tracker-id map of ``convert``), notes, and
  the exports: ``coco.json`` (image tasks), ``masks/``, ``instances/``, ``panoptic/``,
  ``panoptic.json`` (segmentation), ``mot/``, ``frames/`` (video).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from prelabel.errors import InputError
from prelabel.responses.coco import MAPPING, coco_dataset
from prelabel.responses.fetch import (
    Downloads,
    TaskCache,
    journal_ids,
    journal_tasks,
    list_tasks,
    read_export,
)
from prelabel.responses.local import LocalDir
from prelabel.responses.masks import write_masks
from prelabel.responses.mot import Frames, write_mot
from prelabel.responses.read import FinalTask, Unsupported, final_task, image_size
from prelabel.scale.client import ScaleClient

EXPORTS = ("coco.json", "masks", "instances", "panoptic", "panoptic.json", "mot", "frames")
# everything import and score write into FINAL
OWN = frozenset({*EXPORTS, "tasks.jsonl", "tasks.jsonl.partial", "report.json", "responses",
                 "artifacts", "score.json", "review.html", "review_previews"})  # fmt: skip


@dataclass(slots=True)
class ImportRequest:
    """What to import and where.

    Attributes:
        final: The output folder (FINAL).
        out_dir: The ``convert`` folder whose tasks to import (its journal names them).
        project, batch, unique_ids: ``GET /tasks`` filters (completed tasks only) instead
            of the journal.
        export: A Scale export file or a folder of callback payloads instead of the API.
        journal: The submit journal (default ``out_dir/journal.sqlite``).
        frames: Task frame → source frame number (MOT export).
        concurrency: Requests in flight at once.
    """

    final: str | os.PathLike[str]
    out_dir: str | os.PathLike[str] | None = None
    project: str | None = None
    batch: str | None = None
    unique_ids: tuple[str, ...] = ()
    export: str | os.PathLike[str] | None = None
    journal: str | os.PathLike[str] | None = None
    frames: Frames = field(default_factory=Frames)
    concurrency: int = 8

    @property
    def source(self) -> str:
        if self.export is not None:
            return "export"
        if self.project or self.batch or self.unique_ids:
            return "list"
        return "journal"


@dataclass(slots=True)
class ImportSummary:
    """What an import did."""

    final: str
    source: str
    api_url: str | None
    imported: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    cached: int = 0
    downloads: int = 0
    downloads_reused: int = 0
    exports: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "final": self.final,
            "source": self.source,
            "api_url": self.api_url,
            "imported": self.imported,
            "by_type": self.by_type,
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(Counter(s["reason"].split(":")[0] for s in self.skipped)),
            "tasks_cached": self.cached,
            "downloads": self.downloads,
            "downloads_reused": self.downloads_reused,
            "exports": self.exports,
            "notes": self.notes,
        }


def import_tasks(request: ImportRequest, client: ScaleClient | None) -> ImportSummary:
    """Fetch (or read) the completed tasks, write FINAL, and export them.

    Raises:
        InputError: bad arguments, a malformed export or converted directory.
        SubmitError: the API or a hosted file failed after retries.
    """
    final = Path(request.final)
    check_final(final)
    final.mkdir(parents=True, exist_ok=True)
    sent = LocalDir(request.out_dir) if request.out_dir is not None else None
    api_url = client.api_url if client is not None else None
    summary = ImportSummary(str(final), request.source, api_url)
    cache = TaskCache(final)
    docs = _gather(request, client, cache, sent, summary)
    downloads = Downloads(client, final / "artifacts")
    results = _finalize(docs, sent, downloads, request.concurrency, summary)
    _write(final, results, sent, summary)
    summary.cached, summary.downloads, summary.downloads_reused = (
        cache.hits, downloads.fetched, downloads.reused)  # fmt: skip
    summary.exports = export_all(final, request.frames, summary.notes)
    _write_report(final, results, sent, summary)
    return summary


def check_final(final: Path) -> None:
    """FINAL must be new, or hold only what ``import`` (and ``score``) write: its exports
    are replaced, so a folder with anything else is refused."""
    if not final.exists():
        return
    if not final.is_dir():
        raise InputError("not a folder", path=final)
    strangers = sorted(p.name for p in final.iterdir() if p.name not in OWN)
    if strangers:
        raise InputError(
            f"holds {strangers[0]!r}, which `prelabel import` did not write (its outputs here"
            " would be replaced); choose a new or empty folder",
            path=final,
        )


# --- gathering task objects -------------------------------------------------------------


def _gather(
    request: ImportRequest,
    client: ScaleClient | None,
    cache: TaskCache,
    sent: LocalDir | None,
    summary: ImportSummary,
) -> list[dict[str, Any]]:
    if request.source == "export":
        assert request.export is not None
        docs = read_export(request.export)
    elif client is None:
        raise InputError("no API client: pass --api-url / a key, or --from-export")
    elif request.source == "list":
        filters: dict[str, Any] = {
            "project": request.project,
            "batch": request.batch,
            "status": "completed",
        }
        if request.unique_ids:
            filters["unique_id"] = list(request.unique_ids)
        docs = list(list_tasks(client, **filters))
    else:
        if sent is None:
            raise InputError(
                "nothing to import: give DIR, --project, --batch, --unique-id or --from-export"
            )
        ids = {
            **earlier_ids(Path(request.final)),
            **journal_ids(sent.root, client.api_url, request.journal),
        }
        uids = [t.unique_id for t in sent.tasks]
        docs, missing = journal_tasks(client, cache, uids, ids, concurrency=request.concurrency)
        summary.skipped += [{"unique_id": u, "reason": "not found on the server"} for u in missing]
    for doc in docs:
        if doc.get("status") == "completed":
            cache.put(doc)
    return _join(docs, sent, summary)


def earlier_ids(final: Path) -> dict[str, str]:
    """unique_id → task_id of an earlier import into FINAL (its cached tasks are reused)."""
    path = final / "report.json"
    try:
        doc = orjson.loads(path.read_bytes()) if path.is_file() else {}
    except orjson.JSONDecodeError:
        return {}
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    return {
        str(t["unique_id"]): str(t["task_id"])
        for t in tasks or []
        if isinstance(t, dict) and t.get("unique_id") and t.get("task_id")
    }


def _join(
    docs: list[dict[str, Any]], sent: LocalDir | None, summary: ImportSummary
) -> list[dict[str, Any]]:
    """Completed tasks only; with a converted directory, only its tasks, in its order."""
    out = []
    for doc in docs:
        status = str(doc.get("status") or "completed")
        uid = str(doc.get("unique_id") or "")
        if sent is not None and uid not in sent.by_uid:
            summary.skipped.append({"task_id": doc.get("task_id"), "unique_id": uid or None,
                                    "reason": "not a task of DIR"})  # fmt: skip
        elif status != "completed":
            summary.skipped.append({"task_id": doc.get("task_id"), "unique_id": uid or None,
                                    "reason": f"status {status}"})  # fmt: skip
        else:
            out.append(doc)
    if sent is not None:
        order = {u: n for n, u in enumerate(sent.by_uid)}
        out.sort(key=lambda d: order[str(d.get("unique_id"))])
    return out


def _finalize(
    docs: list[dict[str, Any]],
    sent: LocalDir | None,
    downloads: Downloads,
    concurrency: int,
    summary: ImportSummary,
) -> list[FinalTask]:
    def one(doc: dict[str, Any]) -> FinalTask | str:
        line = sent.by_uid.get(str(doc.get("unique_id"))) if sent is not None else None
        try:
            return final_task(doc, line, downloads)
        except Unsupported as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(one, docs))
    out = []
    seen: set[str] = set()
    for doc, result in zip(docs, results, strict=True):
        if isinstance(result, str):
            summary.skipped.append(
                {"task_id": doc.get("task_id"), "reason": f"unsupported: {result}"}
            )
        elif result.unique_id in seen:
            summary.skipped.append(
                {"task_id": result.task_id, "reason": f"duplicate unique_id {result.unique_id}"}
            )
        else:
            seen.add(result.unique_id)
            out.append(result)
    return out


# --- writing ----------------------------------------------------------------------------


def _write(
    final: Path, results: list[FinalTask], sent: LocalDir | None, summary: ImportSummary
) -> None:
    for name in EXPORTS:
        target = final / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    partial = final / "tasks.jsonl.partial"
    with partial.open("wb") as fh:
        for r in results:
            fh.write(orjson.dumps(r.line()) + b"\n")
            summary.notes += [f"{r.unique_id}: {n}" for n in r.notes]
    partial.replace(final / "tasks.jsonl")
    summary.imported = len(results)
    summary.by_type = dict(Counter(r.task_type for r in results))
    _write_report(final, results, sent, summary)  # first version: exports read task entries


def task_entry(result: FinalTask, sent: LocalDir | None, final: Path) -> dict[str, Any]:
    """The report's ``tasks[]`` entry: ids, item key, image size and the tracker-id map."""
    info = dict(sent.info.get(result.unique_id, {})) if sent is not None else {}
    entry: dict[str, Any] = {"unique_id": result.unique_id, "task_id": result.task_id}
    entry["key"] = info.get("key") or result.unique_id
    entry["width"], entry["height"] = info.get("width"), info.get("height")
    if entry["width"] is None and result.task_type == "segmentannotation":
        size = _png_size(result, final)
        if size is not None:
            entry["width"], entry["height"] = size
    if info.get("tracks"):
        entry["tracks"] = info["tracks"]
    return entry


def _png_size(result: FinalTask, final: Path) -> tuple[int, int] | None:
    combined = (result.body["hypothesis"].get("annotations") or {}).get("combined") or {}
    for ref in combined.values():
        if isinstance(ref, str) and ref.startswith("artifact://"):
            return image_size(final / "artifacts" / ref[len("artifact://") :])
    return None


def _write_report(
    final: Path, results: list[FinalTask], sent: LocalDir | None, summary: ImportSummary
) -> None:
    doc = {
        "format": "scale",
        "task_type": Counter(r.task_type for r in results).most_common(1)[0][0] if results else "",
        "imported_from": str(sent.root) if sent is not None else None,
        "summary": summary.as_dict(),
        "coco_mapping": MAPPING,
        "skipped": summary.skipped,
        "notes": summary.notes,
        "tasks": [task_entry(r, sent, final) for r in results],
    }
    (final / "report.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def export_all(final: Path, frames: Frames, notes: list[str]) -> dict[str, Any]:
    """Write the model-world formats of FINAL's tasks; what was written."""
    local = LocalDir(final)
    out: dict[str, Any] = {}
    coco = coco_dataset(local)
    if coco is not None:
        (final / "coco.json").write_bytes(orjson.dumps(coco, option=orjson.OPT_INDENT_2))
        out["coco"] = {"file": "coco.json", "images": len(coco["images"]),
                       "annotations": len(coco["annotations"])}  # fmt: skip
    masks = write_masks(local, final)
    if masks is not None:
        notes += masks.pop("notes")
        out["masks"] = masks
    mot = write_mot(local, final, frames)
    if mot is not None:
        notes += mot.pop("notes")
        out["mot"] = mot
    return out
