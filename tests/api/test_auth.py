"""Bearer tokens, the start-up rule and the JSON encoding of documents."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sccli.api.auth import check_can_serve, is_loopback, match_token, resolve_tokens
from sccli.errors import InvalidInput
from sccli.settings import Settings
from tests.conftest import add_dataset, make_spec

from .conftest import TOKEN, Api, TestClient


def test_every_job_endpoint_needs_a_valid_bearer_token(api: Api) -> None:
    endpoints = [("get", "/api/v1/jobs"), ("get", "/api/v1/jobs/x"), ("get", "/api/v1/jobs/queue/stats")]
    endpoints += [("post", "/api/v1/jobs"), ("post", "/api/v1/jobs/x/cancel"), ("post", "/api/v1/jobs/x/retry")]
    for method, path in endpoints:
        for headers in (
            {}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            response = getattr(api.client, method)(path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
    assert (
        api.client.get(
            "/api/v1/jobs", headers={"Authorization": "Bearer café-token-0123456789".encode("latin-1")}
        ).status_code
        == 401
    )


def test_health_needs_no_token(api: Api) -> None:
    body = api.client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["store"] in ("sqlite", "mongo")


def test_tokens_come_from_settings_and_the_environment() -> None:
    settings = Settings(api_tokens={"portal": "p" * 16})
    assert resolve_tokens(settings, {}) == {"portal": "p" * 16}
    assert resolve_tokens(settings, {"SC_API_TOKEN": "e" * 20}) == {"portal": "p" * 16, "env": "e" * 20}
    assert resolve_tokens(Settings(), {"SC_API_TOKEN": ""}) == {}
    with pytest.raises(InvalidInput, match="at least 16"):
        resolve_tokens(Settings(api_tokens={"weak": "123"}), {})


def test_match_token_names_the_token_and_refuses_others() -> None:
    tokens = {"a": "a" * 16, "b": "b" * 16}
    assert match_token("b" * 16, tokens) == "b"
    assert match_token("b" * 15, tokens) is None
    assert match_token("", tokens) is None
    assert match_token("\udcff" * 16, tokens) is None


def test_server_refuses_to_start_open_to_the_network() -> None:
    check_can_serve("127.0.0.1", {"a": "a" * 16}, no_auth=False)
    check_can_serve("0.0.0.0", {"a": "a" * 16}, no_auth=False)
    check_can_serve("::1", {}, no_auth=True)
    check_can_serve("localhost", {}, no_auth=True)
    with pytest.raises(InvalidInput, match="no API token"):
        check_can_serve("127.0.0.1", {}, no_auth=False)
    with pytest.raises(InvalidInput, match="loopback"):
        check_can_serve("0.0.0.0", {}, no_auth=True)
    assert (
        is_loopback("127.0.0.2")
        and is_loopback("[::1]")
        and not is_loopback("10.0.0.1")
        and not is_loopback("example.org")
    )


def test_create_app_refuses_no_tokens_unless_anonymous_is_explicit(tmp_path: Path) -> None:
    from sccli.api import create_app

    spec = make_spec("sqlite", tmp_path)
    with pytest.raises(InvalidInput, match="token"):
        create_app(spec.url, spec.db_name, Settings(), {})
    app = create_app(spec.url, spec.db_name, Settings(), {}, allow_anonymous=True)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:  # anonymous: loopback Host only
        dataset = add_dataset(app.state.api.store)
        job = client.post("/api/v1/jobs", json={"dataset_uuid": dataset, "job_type": "data_validation"}).json()
    assert job["created_by"] == "api:anonymous"


def test_env_token_records_its_name(tmp_path: Path) -> None:
    from sccli.api import create_app

    spec = make_spec("sqlite", tmp_path)
    tokens = resolve_tokens(Settings(), {"SC_API_TOKEN": "from-the-environment-1"})
    app = create_app(spec.url, spec.db_name, Settings(), tokens)
    with TestClient(app) as client:
        dataset = add_dataset(app.state.api.store)
        response = client.post(
            "/api/v1/jobs", json={"dataset_uuid": dataset, "job_type": "data_validation"},
            headers={"Authorization": "Bearer from-the-environment-1"},
        )
    assert response.json()["created_by"] == "api:env"


def test_documents_become_plain_json() -> None:
    from bson import ObjectId

    from sccli.api.errors import job_json, plain

    oid = ObjectId()
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert plain({"_id": oid, "a": {"b": [naive, float("nan"), oid, (1, 2)]}}) == {
        "a": {"b": ["2026-01-02T03:04:05Z", None, str(oid), [1, 2]]}
    }
    assert job_json({"job_id": "j", "lease_token": "secret", "_id": oid}, explanation=["x"]) == {
        "job_id": "j",
        "explanation": ["x"],
    }
