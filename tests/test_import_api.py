"""`prelabel import` against a running sandbox over real HTTP: by the submit journal, by
project / batch / unique_id through `GET /v1/tasks`, from callbacks the sandbox POSTed;
nothing fetched twice; errors one line, exit codes as documented, the key never shown."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import REPO, SHARED

from prelabel.cli.main import cli
from prelabel.sandbox.complete import Completion
from prelabel.sandbox.server import Sandbox, run_sandbox

KEY = "test_import_api"
PANOPTIC = SHARED / "panopticapi/sample_data"
MMPOSE = SHARED / "mmpose/coco"


def invoke(*args: Any, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def ok(*args: Any, env: dict[str, str] | None = None) -> str:
    res = invoke(*args, env=env)
    assert res.exit_code == 0, (args, res.output)
    return res.stdout


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Sandbox, dict[str, str]]]:
    with run_sandbox(store=tmp_path / "store", complete=Completion("accept")) as sb:
        yield sb, {"SCALE_API_URL": sb.url, "SCALE_API_KEY": KEY}


def convert_keypoints(out: Path) -> None:
    config = REPO / "fixtures/configs/imageannotation_keypoints.json"
    ok("convert", "coco", MMPOSE / "test_coco.json", "-c", config, "-o", out, "-q")


def final_lines(final: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(x) for x in (final / "tasks.jsonl").read_text().splitlines()]
    return {x["body"]["unique_id"]: x for x in lines}


def test_journal_import_then_nothing_is_fetched_again(
    live: tuple[Sandbox, dict[str, str]], tmp_path: Path
) -> None:
    sb, env = live
    out, final = tmp_path / "out", tmp_path / "final"
    convert_keypoints(out)
    ok("submit", out, "-q", env=env)
    first = json.loads(ok("import", out, "-o", final, "--json", "-q", env=env))
    assert first["imported"] == 4 and first["source"] == "journal" and first["skipped"] == 0
    journal_ids = {t["task_id"] for t in sb.tasks()}
    assert {x["task_id"] for x in final_lines(final).values()} == journal_ids
    before = sb.stats["requests"]
    again = json.loads(ok("import", out, "-o", final, "--json", "-q", env=env))
    assert sb.stats["requests"] == before  # every task came from FINAL/responses
    assert again["tasks_cached"] == 4 and again["imported"] == 4


def test_list_import_by_batch_and_unique_id(
    live: tuple[Sandbox, dict[str, str]], tmp_path: Path
) -> None:
    _, env = live
    out = tmp_path / "out"
    ok("convert", "masks", PANOPTIC / "panoptic_examples", "--panoptic", PANOPTIC / "panoptic_examples.json",
       "-c", REPO / "fixtures/configs/segmentannotation.toml", "--allow-unmatched-labels", "-o", out, "-q")  # fmt: skip
    ok("submit", out, "--create-batch", "-q", env=env)
    by_batch = json.loads(
        ok(
            "import",
            "-o",
            tmp_path / "b",
            "--batch",
            "street-scenes-2026-11",
            "--json",
            "-q",
            env=env,
        )
    )
    assert by_batch["source"] == "list" and by_batch["imported"] == 2
    assert by_batch["exports"]["masks"]["masks"] == 2
    assert sorted((tmp_path / "b/masks").glob("*.png")) and (tmp_path / "b/panoptic.json").is_file()
    uid = "street-scenes/segmentannotation/000000142238"
    ok("import", out, "-o", tmp_path / "one", "--unique-id", uid, "-q", env=env)
    assert list(final_lines(tmp_path / "one")) == [uid]
    score = json.loads(ok("score", out, tmp_path / "one", "--json", "-q", "--no-html"))
    assert score["tasks"] == 1 and score["tasks_missing"] == [
        "street-scenes/segmentannotation/000000439180"
    ]


def test_callbacks_the_sandbox_posted_import_from_a_folder(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "callbacks"
    folder.mkdir()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            (folder / f"{body['task_id']}.json").write_text(json.dumps(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, config = (
        tmp_path / "out",
        json.loads((REPO / "fixtures/configs/imageannotation_keypoints.json").read_text()),
    )
    config["params"]["callback_url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    (tmp_path / "c.json").write_text(json.dumps(config))
    ok("convert", "coco", MMPOSE / "test_coco.json", "-c", tmp_path / "c.json", "-o", out, "-q")
    try:
        with run_sandbox(store=tmp_path / "store", complete=Completion("accept")) as sb:
            ok("submit", out, "-q", env={"SCALE_API_URL": sb.url, "SCALE_API_KEY": KEY})
            for _ in range(200):
                if len(list(folder.glob("*.json"))) == 4:
                    break
                threading.Event().wait(0.02)
            final = tmp_path / "final"
            res = json.loads(ok("import", out, "-o", final, "--from-export", folder, "--json", "-q",
                                env={"SCALE_API_KEY": ""}))  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert res["source"] == "export" and res["imported"] == 4
    score = json.loads(ok("score", out, final, "--json", "-q", "--no-html"))
    assert score["counts"]["edited"] == score["counts"]["deleted"] == score["counts"]["added"] == 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_errors_are_one_line_with_documented_codes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert_keypoints(out)
    secret = "live_0123456789abcdefSECRET"
    (tmp_path / "key").write_text(secret)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    res = invoke("-v", "import", out, "-o", tmp_path / "f", "--api-url", url, "--api-key-file",
                 tmp_path / "key", "--retries", "0")  # fmt: skip
    assert res.exit_code == 5 and res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1
    assert secret not in res.output
    res = invoke("import", "-o", tmp_path / "f", env={"SCALE_API_KEY": KEY})
    assert res.exit_code == 3 and "nothing to import" in res.stderr
    assert invoke("import", "-o", tmp_path / "f", "--sandbox").exit_code == 2
    assert invoke("submit", out, "--complete", "accept").exit_code == 2
    res = invoke("import", out, "-o", tmp_path / "f", "--sandbox")
    assert res.exit_code == 3 and "no sandbox store here" in res.stderr


def test_import_never_overwrites_a_folder_it_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "masks").mkdir()
    (mine / "holiday.jpg").write_bytes(b"\xff\xd8")
    export = SHARED / "scale_responses/docs_transcribed/imageannotation_callback.json"
    res = invoke("import", "-o", mine, "--from-export", export, env={"SCALE_API_KEY": ""})
    assert (
        res.exit_code == 3 and "'holiday.jpg', which `prelabel import` did not write" in res.stderr
    )
    assert (mine / "masks").is_dir()
    ok("import", "-o", tmp_path / "final", "--from-export", export, "-q", env={"SCALE_API_KEY": ""})
    ok("import", "-o", tmp_path / "final", "--from-export", export, "-q", env={"SCALE_API_KEY": ""})
