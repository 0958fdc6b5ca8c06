"""API exposure: loopback Host names only for --no-auth, 413 above the body limit, 422 (never
500) for values no store can hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli.api.guards import host_name, is_loopback_host
from sccli.settings import Settings
from tests.conftest import add_dataset, make_spec

from .conftest import AUTH, TOKEN, TestClient


@pytest.fixture
def anonymous(tmp_path: Path) -> Iterator[Any]:
    """A --no-auth app (loopback only) and a client that says Host: 127.0.0.1:8080."""
    from sccli.api import create_app

    app = create_app(make_spec("sqlite", tmp_path).url, "x", Settings(), {}, allow_anonymous=True)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        yield client


@pytest.fixture
def small_limit(tmp_path: Path) -> Iterator[Any]:
    from sccli.api import create_app

    app = create_app(make_spec("sqlite", tmp_path).url, "x", Settings(api_max_body_bytes=2048), {"portal": TOKEN})
    with TestClient(app) as client:
        client.dataset = add_dataset(app.state.api.store)  # type: ignore[attr-defined]
        yield client


@pytest.mark.parametrize(
    ("header", "loopback"),
    [
        ("localhost", True), ("LOCALHOST:8080", True), ("127.0.0.1", True), ("127.0.0.1:65535", True), ("[::1]", True),
        ("[::1]:8080", True), ("localhost.", True), ("evil.example", False), ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False), ("", False), ("[::1]x", False), (None, False),
    ],
)
def test_loopback_host_names(header: str | None, loopback: bool) -> None:
    assert is_loopback_host(header) is loopback


def test_host_name_strips_the_port() -> None:
    assert host_name("[::1]:8080") == "[::1]" and host_name("LocalHost:1") == "localhost"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost.evil.example", "10.0.0.5"])
def test_no_auth_server_refuses_foreign_host_names(anonymous: Any, host: str) -> None:
    for method, path in (("GET", "/api/v1/jobs"), ("GET", "/api/v1/health"), ("POST", "/api/v1/jobs")):
        response = anonymous.request(method, path, headers={"Host": host}, json={})
        assert response.status_code == 403, (method, path)
        assert "not a loopback name" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1", "[::1]:8080"])
def test_no_auth_server_answers_loopback_names(anonymous: Any, host: str) -> None:
    assert anonymous.get("/api/v1/jobs", headers={"Host": host}).status_code == 200


def test_a_token_server_is_not_limited_to_loopback_names(api: Any) -> None:
    assert api.client.get("/api/v1/jobs", headers={**AUTH, "Host": "sc.example.org"}).status_code == 200


def test_body_over_the_limit_is_413_by_its_length(small_limit: Any) -> None:
    body = json.dumps(
        {"dataset_uuid": small_limit.dataset, "job_type": "data_validation", "parameters": {"blob": "x" * 4000}}
    )
    response = small_limit.post("/api/v1/jobs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than 2048 bytes (setting api_max_body_bytes)"}
    assert small_limit.get("/api/v1/jobs", headers=AUTH).json()["total"] == 0


def test_streamed_body_over_the_limit_is_413(small_limit: Any) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(1000):
            yield b" " * 1024

    response = small_limit.post("/api/v1/jobs", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert small_limit.get("/api/v1/jobs", headers=AUTH).json()["total"] == 0


def test_streamed_body_stops_being_read_at_the_limit() -> None:
    """At the ASGI level: of a 1,000-chunk body, only the chunks up to the limit are pulled."""
    from sccli.api.guards import BodySizeLimit

    pulled: list[int] = []
    sent: list[dict[str, Any]] = []
    reached_app: list[bool] = []

    async def receive() -> dict[str, Any]:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": len(pulled) < 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached_app.append(True)

    guard = BodySizeLimit(app, max_bytes=4096)
    asyncio.run(guard({"type": "http", "headers": [(b"transfer-encoding", b"chunked")]}, receive, send))
    assert sent[0]["status"] == 413 and len(pulled) == 5 and not reached_app


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    from sccli.api.guards import BodySizeLimit

    chunks = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    seen: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message.get("body", b""))
            if not message.get("more_body"):
                break

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("the guard answered by itself")

    asyncio.run(BodySizeLimit(app, max_bytes=4)({"type": "http", "headers": []}, receive, send))
    assert b"".join(seen) == b"abcd"


def test_body_under_the_limit_reaches_the_app(small_limit: Any) -> None:
    response = small_limit.post("/api/v1/jobs/no-such-job/cancel", json={"reason": "x" * 480}, headers=AUTH)
    # the handler answered, not the guard
    assert response.status_code == 404 and "not found" in response.json()["detail"]


def test_a_bad_content_length_is_400(small_limit: Any) -> None:
    response = small_limit.post(
        "/api/v1/jobs", content=b"{}", headers={**AUTH, "Content-Length": "abc", "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(("parameters", "message"), [
    ('{"n": 1180591620717411303424}', "parameters.n: integer 1180591620717411303424 does not fit in 64 bits"),
    ('{"n": [1, -9223372036854775809]}', "parameters.n[1]: integer"),
    ('{"n": NaN}', "parameters.n: nan is not a finite number"),
    ('{"n": {"m": Infinity}}', "parameters.n.m: inf is not a finite number"),
    ('{"n": 1e400}', "parameters.n: inf is not a finite number"),
    (deep(200), "nested deeper than 90 levels"),
    ('{"$where": "1"}', "key '$where' may not start with '$'"),
    ('{"a": {"b.c": 1}}', "key 'b.c' may not contain '.'"),
])
def test_unstorable_parameters_are_422_naming_the_field(api: Any, parameters: str, message: str) -> None:
    dataset = add_dataset(api.store)
    body = f'{{"dataset_uuid": "{dataset}", "job_type": "data_validation", "parameters": {parameters}}}'
    response = api.client.post("/api/v1/jobs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "parameters"] and message in error["msg"]
    assert api.get("/api/v1/jobs").json()["total"] == 0


@pytest.mark.parametrize("field", ["priority", "max_attempts", "timeout_minutes"])
def test_huge_integers_elsewhere_are_422(api: Any, field: str) -> None:
    dataset = add_dataset(api.store)
    body = f'{{"dataset_uuid": "{dataset}", "job_type": "data_validation", "{field}": {2**70}}}'
    response = api.client.post("/api/v1/jobs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_thousands_deep_body_is_a_client_error_not_500(api: Any) -> None:
    body = '{"dataset_uuid": "x", "job_type": "data_validation", "parameters": ' + deep(50_000) + "}"
    response = api.client.post("/api/v1/jobs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
