"""ScaleClient over httpx.MockTransport: auth, retries, Retry-After, typed errors, key hygiene."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from prelabel.errors import SubmitRejectedError, SubmitTransportError
from prelabel.scale.client import RetryPolicy, ScaleClient, is_test_key, load_api_key
from prelabel.scale.errors import (
    BadRequestError,
    DuplicateError,
    NotEnabledError,
    NotFoundError,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
    scrub,
)
from prelabel.scale.ratelimit import TokenBucket

KEY = "live_SECRETKEY0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def scale_error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"status_code": status, "error": message}, headers=headers)


def make_client(handler: Handler, sleeps: list[float] | None = None, **kw: Any) -> ScaleClient:
    record: list[float] = sleeps if sleeps is not None else []
    policy = RetryPolicy(attempts=4, initial=0.1, max_wait=5.0, sleep=record.append)
    return ScaleClient(
        KEY,
        api_url="https://api.example/v1",
        transport=httpx.MockTransport(handler),
        retry=policy,
        rate=kw.pop("rate", 0),
        **kw,
    )


def test_basic_auth_key_as_username_and_paths() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"task_id": "t1", "type": "imageannotation"})

    with make_client(handler) as client:
        doc = client.create_task("imageannotation", {"unique_id": "u1", "project": "p"})
    assert doc["task_id"] == "t1"
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.example/v1/task/imageannotation"
    expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert request.headers["Authorization"] == expected
    assert json.loads(request.content) == {"unique_id": "u1", "project": "p"}


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retries_retryable_statuses_then_succeeds(status: int) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return scale_error(status, "try again")
        return httpx.Response(200, json={"task_id": "t9"})

    sleeps: list[float] = []
    with make_client(handler, sleeps) as client:
        assert client.create_task("imageannotation", {"unique_id": "u"})["task_id"] == "t9"
    assert len(calls) == 3
    assert len(sleeps) == 2
    assert all(0 <= s <= 5.0 for s in sleeps)


def test_retry_after_is_honoured() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return scale_error(429, "slow down", **{"Retry-After": "3"})
        if len(calls) == 2:
            return scale_error(503, "busy", **{"Retry-After": "0.25"})
        return httpx.Response(200, json={"docs": [], "total": 0})

    sleeps: list[float] = []
    with make_client(handler, sleeps) as client:
        client.list_tasks(unique_id="x")
    assert sleeps == [3.0, 0.25]


def test_retry_after_is_capped_by_max_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return scale_error(429, "slow down", **{"Retry-After": "3600"})

    sleeps: list[float] = []
    with make_client(handler, sleeps) as client, pytest.raises(TooManyRequestsError) as info:
        client.get_task("t1")
    assert sleeps == [5.0, 5.0, 5.0]  # 4 attempts, 3 waits, each capped
    assert info.value.retry_after == 3600
    assert info.value.status == 429


def test_jittered_backoff_grows_and_varies() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return scale_error(500, "down")

    runs = []
    for _ in range(5):
        sleeps: list[float] = []
        with make_client(handler, sleeps) as client, pytest.raises(ServerError):
            client.get_task("t")
        runs.append(tuple(sleeps))
    assert len(set(runs)) > 1, "backoff must be jittered"
    assert all(len(r) == 3 for r in runs)
    assert max(r[2] for r in runs) <= 0.8 + 1e-9  # 0.1 * 2**3 cap for the third wait


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, UnauthorizedError),
        (402, NotEnabledError),
        (404, NotFoundError),
        (409, DuplicateError),
    ],
)
def test_typed_errors_carry_scales_message_and_are_not_retried(
    status: int, cls: type[SubmitRejectedError]
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return scale_error(status, f"scale says no ({status})")

    with make_client(handler, []) as client, pytest.raises(cls) as info:
        client.create_task("imageannotation", {"unique_id": "u"})
    assert len(calls) == 1
    assert info.value.status == status
    assert f"scale says no ({status})" in str(info.value)
    assert info.value.exit_code == 5


def test_non_json_error_body_is_kept_as_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="<html>bad gateway thing</html>")

    with make_client(handler, []) as client, pytest.raises(BadRequestError, match="bad gateway"):
        client.get_task("t")


def test_connection_errors_are_retried_then_typed() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    with make_client(handler, sleeps) as client, pytest.raises(SubmitTransportError) as info:
        client.get_task("t")
    assert len(calls) == 4
    assert "ConnectError" in str(info.value)
    assert info.value.exit_code == 5


def test_key_never_in_errors_reprs_or_messages() -> None:
    b64 = base64.b64encode(f"{KEY}:".encode()).decode()

    def echo_auth(request: httpx.Request) -> httpx.Response:
        # a hostile/buggy server echoing the credentials back in its error message
        return scale_error(400, f"bad key {KEY} in header {request.headers['Authorization']}")

    def transport_leak(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out on {request.url} auth={b64} key={KEY}", request=request)

    for handler, cls in ((echo_auth, BadRequestError), (transport_leak, SubmitTransportError)):
        with make_client(handler, []) as client:
            with pytest.raises(cls) as info:
                client.create_task("imageannotation", {"unique_id": "u"})
            texts = [str(info.value), repr(info.value), info.value.reason, repr(client)]
            texts += [str(a) for a in info.value.args]
            for text in texts:
                assert KEY not in text
                assert b64.rstrip("=") not in text
            assert "***" in str(info.value)
            assert info.value.__cause__ is None and info.value.__suppress_context__


def test_key_in_url_userinfo_is_hidden() -> None:
    client = ScaleClient(KEY, api_url=f"https://{KEY}:@api.example/v1")
    try:
        assert KEY not in repr(client)
        assert KEY not in client.api_url
    finally:
        client.close()


def test_repr_says_live_or_test_without_key() -> None:
    with ScaleClient("test_abcdef123456") as client:
        assert repr(client) == (
            "ScaleClient(api_url='https://api.scale.com/v1', api_key=<test key hidden>)"
        )
        assert "abcdef" not in repr(client)


def test_test_key_detection() -> None:
    assert is_test_key("test_abc")
    assert is_test_key("abc|test")
    assert not is_test_key("live_abc")
    assert not is_test_key("abc_test")


def test_load_api_key_from_env_and_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_API_KEY", " test_env \n")
    assert load_api_key() == "test_env"
    key_file = tmp_path / "key"
    key_file.write_text("test_file\n")
    assert load_api_key(key_file) == "test_file"
    monkeypatch.delenv("SCALE_API_KEY")
    from prelabel.errors import InputError

    with pytest.raises(InputError, match="SCALE_API_KEY"):
        load_api_key()
    (tmp_path / "empty").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_api_key(tmp_path / "empty")


def test_upload_is_multipart_with_file_part() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "f1", "attachment_url": "scaledata://x/f1"})

    with make_client(handler) as client:
        doc = client.upload_file("m.png", b"\x89PNGdata", mimetype="image/png", project_name="p")
    assert doc["attachment_url"] == "scaledata://x/f1"
    request = seen[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="file"; filename="m.png"' in body
    assert b"\x89PNGdata" in body
    assert b'name="project_name"' in body


def test_rate_limit_paces_task_creations_only() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    bucket = TokenBucket(10, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert waits == pytest.approx([0.1, 0.1, 0.1, 0.1])
    assert TokenBucket(0).acquire() == 0.0 and not TokenBucket(0).enabled

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"task_id": "t", "docs": [], "total": 0})

    with make_client(handler, rate=1000) as client:
        assert client.limiter.enabled
        client.limiter = bucket
        before = len(waits)
        client.list_tasks()
        client.get_task("t")
        assert len(waits) == before  # reads are not paced
        client.create_task("imageannotation", {"unique_id": "u"})
        assert len(waits) == before + 1


def test_scrub_covers_raw_base64_and_quoted_forms() -> None:
    key = "live_a/b+c"
    text = f"{key} {base64.b64encode(f'{key}:'.encode()).decode()} live_a%2Fb%2Bc"
    assert scrub(text, [key]) == "*** *** ***"


def test_scrub_hides_fragments_and_a_cut_key() -> None:
    key = "test_CANARY_5f2b8c1d9e7a4063"
    assert scrub(f"echo {key[:14]} and {key[6:20]}", [key]) == "echo *** and ***"
    assert scrub("the key ends in test_CANA", [key]) == "the key ends in ***"
    assert scrub("this sandbox serves imageannotation", [key]) == (
        "this sandbox serves imageannotation"  # ordinary words stay
    )


def test_error_text_is_scrubbed_before_it_is_cut() -> None:
    """Issue 17: a 500 echoing the key near character 490 left ``test_CANAR`` after the cut."""
    key = "test_CANARY_5f2b8c1d9e7a4063"
    body = "x" * 490 + key + " rest"
    transport = httpx.MockTransport(lambda r: httpx.Response(502, text=body))
    policy = RetryPolicy(attempts=1, sleep=lambda s: None)
    with ScaleClient(key, api_url="https://h/v1", transport=transport, retry=policy) as client:
        with pytest.raises(SubmitRejectedError) as info:
            client.get_task("t")
    assert "CANA" not in info.value.message and "***" in info.value.message
    assert len(info.value.reason) <= len("HTTP 502: ") + 500


def test_key_never_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    b64 = base64.b64encode(f"{KEY}:".encode()).decode()

    def handler(request: httpx.Request) -> httpx.Response:
        return scale_error(500, "down")

    caplog.set_level("DEBUG")
    with make_client(handler, []) as client, pytest.raises(ServerError):
        client.create_task("imageannotation", {"unique_id": "u"})
    assert caplog.records, "httpx/tenacity debug logging should have produced records"
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert KEY not in logged and b64 not in logged


def test_find_task_ignores_docs_for_other_unique_ids() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["unique_id"] == "mine"
        docs = [{"task_id": "t0", "unique_id": "other"}, {"task_id": "t1", "unique_id": "mine"}]
        return httpx.Response(200, json={"docs": docs, "total": 2})

    with make_client(handler) as client:
        found = client.find_task("mine")
    assert found is not None and found["task_id"] == "t1"
