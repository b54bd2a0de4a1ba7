"""One self-contained HTML review page for a converted directory (``prelabel report``).

No server, no network: styles and script are inline, thumbnails are embedded as ``data:``
URIs and link to the full previews written beside the page (relative paths, so the page and
its ``<stem>_previews/`` folder can be moved together). Sections: totals and notes from
``report.json``; the fixed and dropped objects with their reasons, filterable by reason,
label and outcome (vanilla JS); a histogram of traced-mask IoU (inline SVG); a thumbnail per
task.
"""

from __future__ import annotations

import base64
import html
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from prelabel.config.load import TaskConfig
from prelabel.output.layout import REVIEW_PAGE, make_dir, own_dir, write_file
from prelabel.review.load import ImageFinder, OutputDir, load_output
from prelabel.review.preview import Preview, preview_task

THUMB_WIDTH = 240
MAX_ROWS = 5000
BINS = 20

STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
th{background:#f3f3f3}.num{text-align:right}.tot td:first-child{font-weight:600}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}.thumbs figure{margin:0;width:240px}
.thumbs img{width:240px;border:1px solid #ccc}figcaption{font-size:12px;word-break:break-all}
.scroll{max-height:60vh;overflow:auto;border:1px solid #ddd;display:inline-block}
.fixed{background:#fff8e1}.dropped{background:#fdecea}.filters{margin:.5em 0}
"""

SCRIPT = """
(function(){
  var sel = {reason: document.getElementById('f-reason'),
             label: document.getElementById('f-label'),
             outcome: document.getElementById('f-outcome')};
  var rows = document.querySelectorAll('#objects tbody tr');
  function apply(){
    var shown = 0;
    rows.forEach(function(r){
      var ok = Object.keys(sel).every(function(k){
        var v = sel[k].value;
        return v === '' || (k === 'reason' ? r.dataset.reason.split('|').indexOf(v) >= 0
                                           : r.dataset[k] === v);
      });
      r.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById('shown').textContent = shown;
  }
  Object.keys(sel).forEach(function(k){ sel[k].addEventListener('change', apply); });
  apply();
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def reason_keys(record: dict[str, Any]) -> list[str]:
    """What a record is filtered by: its drop reason, or each kind of fix (part before ':')."""
    if record.get("outcome") == "dropped":
        return [str(record.get("reason") or "").split(":")[0]]
    return sorted({str(f).split(":")[0] for f in record.get("fixes", [])})


def totals_html(report: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td>{_e(k)}</td><td class="num">{_e(v)}</td></tr>'
        for k, v in (report.get("totals") or {}).items()
    )
    counts = "".join(
        f'<tr><td>{_e(what)} {_e(k)}</td><td class="num">{_e(v)}</td></tr>'
        for what, key in (("dropped:", "dropped_by_reason"), ("fixed:", "fixes_by_kind"))
        for k, v in (report.get(key) or {}).items()
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.get("notes") or [])
    return f'<h2>Totals</h2><table class="tot" id="totals">{rows}{counts}</table>' + (
        f"<h3>Notes</h3><ul>{notes}</ul>" if notes else ""
    )


def _select(name: str, values: list[str]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(v or "(none)")}</option>' for v in values)
    return f'<label>{name} <select id="f-{name}"><option value="">all</option>{options}</select></label> '


def objects_html(report: dict[str, Any]) -> str:
    """The table of fixed and dropped objects with filters."""
    records = [o for o in report.get("objects", []) if o.get("outcome") in ("fixed", "dropped")]
    shown = records[:MAX_ROWS]
    rows = []
    for o in shown:
        src = o.get("source") or {}
        detail = o.get("reason") if o.get("outcome") == "dropped" else "; ".join(o.get("fixes", []))
        iou = o.get("iou")
        rows.append(
            f'<tr class="{_e(o["outcome"])}" data-outcome="{_e(o["outcome"])}" '
            f'data-reason="{_e("|".join(reason_keys(o)))}" data-label="{_e(o.get("label") or "")}">'
            f"<td>{_e(o['outcome'])}</td><td>{_e(o.get('label') or '')}</td>"
            f"<td>{_e(detail or '')}</td><td>{_e(src.get('file', ''))}, {_e(src.get('location', ''))}</td>"
            f'<td>{_e(o.get("task") or "")}</td><td class="num">{"" if iou is None else f"{iou:.3f}"}</td></tr>'
        )
    filters = (
        '<div class="filters">'
        + _select("reason", sorted({k for o in shown for k in reason_keys(o)}))
        + _select("label", sorted({str(o.get("label") or "") for o in shown}))
        + _select("outcome", sorted({str(o["outcome"]) for o in shown}))
        + f'<span><span id="shown">{len(shown)}</span> of {len(shown)} shown</span></div>'
    )
    more = (
        f"<p>Only the first {MAX_ROWS} of {len(records)} rows; see report.json.</p>"
        if len(records) > MAX_ROWS
        else ""
    )
    head = "<tr><th>outcome</th><th>label</th><th>reason / fixes</th><th>source</th><th>task</th><th>IoU</th></tr>"
    return (
        f"<h2>Fixed and dropped objects ({len(records)})</h2>{filters}{more}"
        f'<div class="scroll"><table id="objects"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def iou_histogram_svg(ious: list[float], bins: int = BINS) -> str:
    """An inline SVG histogram of IoU values over [0, 1]."""
    counts = Counter(min(int(v * bins), bins - 1) for v in ious)
    peak = max(counts.values(), default=1)
    width, height, bar = 420, 160, 420 / bins
    bars = []
    for b in range(bins):
        h = 130 * counts.get(b, 0) / peak
        lo = b / bins
        bars.append(
            f'<rect x="{b * bar:.1f}" y="{140 - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
            f'fill="#4a7bd0"><title>IoU {lo:.2f}-{lo + 1 / bins:.2f}: {counts.get(b, 0)}</title></rect>'
        )
    axis = "".join(
        f'<text x="{t * width:.0f}" y="155" font-size="10" text-anchor="middle">{t:.1f}</text>'
        for t in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    return (
        f'<svg id="iou-histogram" xmlns="http://www.w3.org/2000/svg" width="{width + 10}" '
        f'height="{height}" viewBox="-5 0 {width + 10} {height}">{"".join(bars)}'
        f'<line x1="0" y1="140" x2="{width}" y2="140" stroke="#333"/>{axis}</svg>'
    )


def iou_html(report: dict[str, Any]) -> str:
    ious = [float(o["iou"]) for o in report.get("objects", []) if o.get("iou") is not None]
    if not ious:
        return "<h2>Traced masks</h2><p>No traced masks (no IoU figures in report.json).</p>"
    mean = sum(ious) / len(ious)
    return (
        f"<h2>Traced masks: IoU of polygon vs mask</h2><p>{len(ious)} mask(s), mean "
        f"{mean:.4f}, min {min(ious):.4f}</p>{iou_histogram_svg(ious)}"
    )


def thumbnail_uri(path: Path) -> str:
    """A small JPEG of a preview PNG as a ``data:`` URI."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return ""
    h = max(1, round(img.shape[0] * THUMB_WIDTH / img.shape[1]))
    small = cv2.resize(img, (THUMB_WIDTH, h), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode() if ok else ""


def thumbs_html(previews: list[Preview], page_dir: Path, total: int) -> str:
    figures = []
    for p in previews:
        href = Path(os.path.relpath(p.path, page_dir)).as_posix()
        note = "" if p.image_found else " (image not found)"
        figures.append(
            f'<figure><a href="{_e(href)}" target="_blank"><img class="thumb" alt="{_e(p.unique_id)}" '
            f'src="{thumbnail_uri(p.path)}"></a><figcaption>{_e(p.unique_id)}{note}</figcaption></figure>'
        )
    more = (
        f"<p>{total - len(previews)} more task(s) not shown (--max).</p>"
        if total > len(previews)
        else ""
    )
    return f'<h2>Tasks ({total})</h2>{more}<div class="thumbs">{"".join(figures)}</div>'


@dataclass(slots=True)
class ReviewPage:
    """What ``write_review`` wrote."""

    path: Path
    previews: list[Preview]


def render_page(out: OutputDir, previews: list[Preview], page_dir: Path, extra: str = "") -> str:
    """The whole HTML document (``extra``: sections added after the totals)."""
    report = out.report
    title = f"prelabel review: {out.root.name}"
    meta = f"{report.get('format', '?')} → {report.get('task_type', '?')}, {len(out.tasks)} task(s)"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{STYLE}</style></head><body>'
        f"<h1>{_e(title)}</h1><p>{_e(meta)}</p>"
        + totals_html(report)
        + extra
        + objects_html(report)
        + iou_html(report)
        + thumbs_html(previews, page_dir, len(out.tasks))
        + f"<script>{SCRIPT}</script></body></html>"
    )


def write_review(
    directory: str | Path,
    images: str | Path | None,
    page: str | Path | None = None,
    *,
    limit: int | None = None,
    progress: Any = None,
    config: TaskConfig | None = None,
    sections: Callable[[Path, ImageFinder], str] | None = None,
) -> ReviewPage:
    """Write the review page (and the previews it links to) for a converted directory.

    Args:
        directory: the ``--out`` folder of ``prelabel convert``.
        images: folder with the images / frames, or None (plain canvases).
        page: the HTML file to write (default ``DIR/review.html``); previews go to
            ``<page stem>_previews/`` beside it.
        limit: draw thumbnails for at most this many tasks.
        progress: optional callable wrapping the task iterable (e.g. a tqdm factory).
        config: the conversion's task config (exact hosted-artifact lookup), or None.
        sections: makes more sections (HTML) from the previews folder and the image
            finder, placed after the totals (``prelabel score`` adds its own).

    Returns:
        The page path and the previews written.
    """
    out = load_output(directory, config)
    path = Path(page) if page is not None else out.root / REVIEW_PAGE
    make_dir(path.parent)
    dest = own_dir(path.parent / f"{path.stem}_previews")  # named by prelabel: never a link
    finder = ImageFinder(images)
    tasks = out.tasks[:limit] if limit is not None else out.tasks
    iterable = progress(tasks) if progress is not None else tasks
    previews = [preview_task(out, t, finder, dest) for t in iterable]
    extra = sections(dest, finder) if sections is not None else ""
    write_file(path, render_page(out, previews, path.parent, extra).encode())
    return ReviewPage(path, previews)
