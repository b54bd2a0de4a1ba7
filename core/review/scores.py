"""The ``score`` section of the review page: what the prelabels were worth.

Built from the JSON summary of ``prelabel score`` (:mod:`prelabel.score.run`): the counts of
kept / edited / deleted / added objects overall and one stacked bar per label; precision and
recall at each IoU threshold; pixel accuracy and per-class IoU (segmentation); frame
outcomes and id switches (video); and the worst tasks, each as two thumbnails — the
prelabels sent (from DIR) beside the final labels (from FINAL) — linking to the full
previews written beside the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prelabel.review.load import ImageFinder, load_output
from prelabel.review.page import thumbnail_uri
from prelabel.review.preview import preview_task

KIND_COLOURS = {"kept": "#4caf50", "edited": "#ffb300", "deleted": "#e53935", "added": "#1e88e5"}
STYLE = (
    "<style>.bar{display:flex;width:420px;height:14px;border:1px solid #ccc}"
    ".bar span{display:block;height:100%}.pair{display:flex;gap:6px}"
    ".pair figure{margin:0;width:240px}.pair img{width:240px;border:1px solid #ccc}</style>"
)


def _e(value: Any) -> str:
    import html

    return html.escape(str(value), quote=True)


def _or_dash(value: Any) -> Any:
    return "-" if value is None else value


def bar(counts: dict[str, int]) -> str:
    """One stacked bar of kept / edited / deleted / added."""
    total = sum(counts.get(k, 0) for k in KIND_COLOURS) or 1
    spans = "".join(
        f'<span style="width:{100 * counts.get(k, 0) / total:.2f}%;background:{c}" '
        f'title="{k} {counts.get(k, 0)}"></span>'
        for k, c in KIND_COLOURS.items()
    )
    return f'<div class="bar">{spans}</div>'


def counts_row(name: str, counts: dict[str, int]) -> str:
    cells = "".join(f'<td class="num">{counts.get(k, 0)}</td>' for k in KIND_COLOURS)
    return f"<tr><td>{_e(name)}</td>{cells}<td>{bar(counts)}</td></tr>"


def labels_html(summary: dict[str, Any]) -> str:
    head = "".join(f'<th style="color:{c}">{k}</th>' for k, c in KIND_COLOURS.items())
    rows = counts_row("all labels", summary["counts"])
    rows += "".join(counts_row(label, c) for label, c in summary["by_label"].items())
    edited = summary.get("edited") or {}
    details = ", ".join(f"{k} {v}" for k, v in (edited.get("by_detail") or {}).items()) or "none"
    return (
        f'<h3>Objects per label</h3><table id="score-labels"><tr><th>label</th>{head}'
        f"<th></th></tr>{rows}</table><p>Edits: {_e(details)}; mean IoU of edited shapes "
        f"{_e(_or_dash(edited.get('iou_mean')))}, mean vertex move "
        f"{_e(_or_dash(edited.get('vertex_move_mean_px')))} px.</p>"
    )


def pr_html(summary: dict[str, Any]) -> str:
    table = summary.get("precision_recall") or {}
    rows = "".join(
        f"<tr><td>{_e(t)}</td><td class='num'>{_e(v['precision'])}</td>"
        f"<td class='num'>{_e(v['recall'])}</td><td class='num'>{v['tp']}</td></tr>"
        for t, v in (table.get("overall") or {}).items()
    )
    return (
        "<h3>Prelabels as detections of the final labels</h3><table id='score-pr'>"
        f"<tr><th>IoU</th><th>precision</th><th>recall</th><th>matches</th></tr>{rows}</table>"
    )


def extras_html(summary: dict[str, Any]) -> str:
    out = ""
    seg = summary.get("segmentation")
    if seg:
        rows = "".join(
            f"<tr><td>{_e(k)}</td><td class='num'>{_e(v)}</td></tr>"
            for k, v in seg["class_iou"].items()
        )
        out += (f"<h3>Segmentation</h3><p>Pixel accuracy {_e(seg['pixel_accuracy'])} over "
                f"{seg['pixels']} pixels.</p><table><tr><th>class</th><th>IoU</th></tr>{rows}</table>")  # fmt: skip
    video = summary.get("video")
    if video:
        frames = ", ".join(f"{k} {v}" for k, v in video["frames"].items())
        out += f"<h3>Video</h3><p>Frames: {_e(frames)}. Id switches introduced: {video['id_switches']}.</p>"
    return out


def worst_html(
    summary: dict[str, Any], pairs: list[tuple[str, Path | None, Path | None]], page_dir: Path
) -> str:
    per_task = {t["unique_id"]: t for t in summary.get("per_task") or []}
    figures = []
    for uid, sent, final in pairs:
        counts = per_task.get(uid, {}).get("counts", {})
        caption = f"{uid}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        figures.append(f'<div class="pair">{_figure(sent, "sent", page_dir)}{_figure(final, "final", page_dir)}'
                       f"</div><p>{_e(caption)}</p>")  # fmt: skip
    if not figures:
        return "<h3>Worst tasks</h3><p>Every prelabel was kept.</p>"
    return f"<h3>Worst tasks (sent | final)</h3>{''.join(figures)}"


def _figure(path: Path | None, what: str, page_dir: Path) -> str:
    if path is None:
        return f"<figure><figcaption>{what}: not drawn</figcaption></figure>"
    href = Path(os.path.relpath(path, page_dir)).as_posix()
    return (f'<figure><a href="{_e(href)}" target="_blank"><img alt="{what}" src="{thumbnail_uri(path)}">'
            f"</a><figcaption>{what}</figcaption></figure>")  # fmt: skip


def draw_worst(
    summary: dict[str, Any], dest: Path, finder: ImageFinder, limit: int
) -> list[tuple[str, Path | None, Path | None]]:
    """Previews of the worst tasks, sent and final side by side (under ``dest``)."""
    sent, final = load_output(summary["dir"]), load_output(summary["final"])
    by_s, by_f = {t.unique_id: t for t in sent.tasks}, {t.unique_id: t for t in final.tasks}
    out = []
    for uid in summary.get("worst_tasks", [])[:limit]:
        paths: list[Path | None] = []
        for side, tasks, name in ((sent, by_s, "sent"), (final, by_f, "final")):
            folder = dest / f"score_{name}"
            folder.mkdir(parents=True, exist_ok=True)
            task = tasks.get(uid)
            paths.append(
                preview_task(side, task, finder, folder).path if task is not None else None
            )
        out.append((uid, paths[0], paths[1]))
    return out


def score_section(
    summary: dict[str, Any], dest: Path, finder: ImageFinder, page_dir: Path, *, worst: int = 8
) -> str:
    """The whole section: counts and bars, precision / recall, extras, worst tasks."""
    kept = summary["counts"]
    total = sum(kept.values())
    share = f"{100 * kept['kept'] / total:.1f}%" if total else "-"
    pairs = draw_worst(summary, dest, finder, worst)
    return (
        f"{STYLE}<h2 id='score'>What the prelabels were worth</h2><p>{summary['tasks']} task(s) "
        f"scored against {_e(summary['final'])}; {share} of the objects were kept as sent.</p>"
        + labels_html(summary)
        + pr_html(summary)
        + extras_html(summary)
        + worst_html(summary, pairs, page_dir)
    )
