"""The review page in headless Chromium, driven over the DevTools protocol (aiohttp client):
it loads from disk with no console errors and no network, thumbnails render, filters work."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import FIXTURES, SHARED

from prelabel.config.load import load_config
from prelabel.converters.coco.common import CocoOptions
from prelabel.converters.registry import get_reader
from prelabel.pipeline import convert
from prelabel.review.page import reason_keys, write_review

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


class Page:
    """A minimal CDP session on one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            future = self.waiting.pop(data.get("id", -1), None)
            if future is not None:
                future.set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[n] = future
        await self.ws.send_json({"id": n, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 20)
        assert "error" not in reply, reply
        result: dict[str, Any] = reply["result"]
        return result

    async def eval(self, expression: str) -> Any:
        reply = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    async def wait_event(self, method: str, timeout: float = 20) -> None:
        async def poll() -> None:
            while not any(e.get("method") == method for e in self.events):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout)


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Page]:
    """Start headless Chromium and yield a CDP session on its first page."""
    proc = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = await asyncio.wait_for(asyncio.to_thread(devtools_port, proc), 30)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = await resp.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                page = Page(ws)
                yield page
                page.reader.cancel()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def devtools_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            return int(found.group(1))
    raise AssertionError("chromium exited without a DevTools port")


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A review page of the README's demo conversion (fixed, dropped, traced masks)."""
    tmp = tmp_path_factory.mktemp("review")
    dataset = get_reader("coco")(
        [str(SHARED / "cocoapi/results/instances_val2014_fakesegm100_results.json")],
        CocoOptions(images=str(SHARED / "faster_coco_eval/cocoapi/instances_val2014_100.json")),
    )
    convert(dataset, load_config(FIXTURES / "demo/task.toml"), tmp / "out")
    return write_review(tmp / "out", None, tmp / "site" / "review.html", limit=6).path


async def inspect(page_file: Path, profile: Path) -> dict[str, Any]:
    async with chromium(profile) as page:
        for domain in ("Runtime", "Log", "Page", "Network"):
            await page.send(f"{domain}.enable")
        await page.send("Page.navigate", url=page_file.as_uri())
        await page.wait_event("Page.loadEventFired")
        out: dict[str, Any] = {"events": page.events}
        out["thumbs"] = await page.eval(
            "Array.from(document.querySelectorAll('img.thumb')).map(i => [i.complete, i.naturalWidth])"
        )
        out["links"] = await page.eval(
            "Array.from(document.querySelectorAll('.thumbs a')).map(a => a.getAttribute('href'))"
        )
        out["rows"] = await page.eval("document.querySelectorAll('#objects tbody tr').length")
        out["svg_bars"] = await page.eval("document.querySelectorAll('#iou-histogram rect').length")
        out["filtered"] = {}
        for reason, label in (("unmatched label", ""), ("score", "person"), ("simplified", "")):
            out["filtered"][(reason, label)] = await page.eval(
                f"""(() => {{
                  for (const [id, v] of [['f-reason', {json.dumps(reason)}], ['f-label', {json.dumps(label)}]]) {{
                    const s = document.getElementById(id); s.value = v;
                    s.dispatchEvent(new Event('change'));
                  }}
                  const visible = Array.from(document.querySelectorAll('#objects tbody tr'))
                    .filter(r => !r.hidden && r.offsetParent !== null).length;
                  return [visible, Number(document.getElementById('shown').textContent)];
                }})()"""
            )
        return out


@pytest.mark.slow
def test_review_page_in_headless_chromium(page_file: Path, tmp_path: Path) -> None:
    got = asyncio.run(inspect(page_file, tmp_path / "profile"))
    errors = [
        e
        for e in got["events"]
        if e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "assert")
        )
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    # no network: everything the page loaded is the file itself or data: URIs
    urls = [
        e["params"]["request"]["url"]
        for e in got["events"]
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    # six thumbnails, all decoded, each linking to a preview beside the page
    assert len(got["thumbs"]) == 6 and all(done and width == 240 for done, width in got["thumbs"])
    for href in got["links"]:
        assert (page_file.parent / href).is_file()
    # the table: every fixed or dropped object, filters show exactly the matching rows
    report = json.loads((page_file.parents[1] / "out/report.json").read_text())
    listed = [o for o in report["objects"] if o["outcome"] != "converted"]
    assert got["rows"] == len(listed)
    for (reason, label), (visible, counter) in got["filtered"].items():
        want = sum(
            reason in reason_keys(o) and (not label or o.get("label") == label) for o in listed
        )
        assert visible == counter == want > 0, (reason, label, visible, counter, want)
    assert got["svg_bars"] == 20
