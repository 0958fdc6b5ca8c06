"""Sign-in, session cookies, CSRF, roles (dashboard and JSON API) and /metrics, without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccli.api.auth import SESSION_COOKIE, SessionSigner, _b64, _unb64, resolve_roles
from sccli.errors import InvalidInput
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import JobQuery
from tests.conftest import add_dataset

from .conftest import CSRF_FIELD, OPERATOR_TOKEN, ORIGIN, TOKENS, VIEWER_TOKEN, Dash, failed_job, make_dash


def test_pages_need_a_session_and_sign_in_sets_a_strict_http_only_cookie(dash: Dash) -> None:
    for path in ("/", "/jobs", "/failures", "/report", "/datasets"):
        response = dash.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
    fragment = dash.client.get("/fragments/overview", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/jobs?status=failed"})
    assert fragment.status_code == 204 and fragment.headers["hx-redirect"] == "/login?next=/jobs%3Fstatus%3Dfailed"
    assert dash.client.get("/login").status_code == 200

    wrong = dash.post("/login", {"token": "not-a-token-0123456789", "next": "/jobs"})
    assert (
        wrong.status_code == 401
        and "not valid" in wrong.text
        and SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    )
    right = dash.post("/login", {"token": OPERATOR_TOKEN, "next": "/jobs"})
    assert right.status_code == 303 and right.headers["location"] == "/jobs"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = dash.client.get("/")
    assert page.status_code == 200 and "signed in as <strong>portal</strong>" in page.text


def test_sign_in_returns_only_to_local_pages(dash: Dash) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "jobs"):
        response = dash.post("/login", {"token": OPERATOR_TOKEN, "next": target})
        assert response.headers["location"] == "/", target


def test_sign_in_from_another_site_is_refused(dash: Dash) -> None:
    response = dash.post("/login", {"token": OPERATOR_TOKEN}, Origin="http://evil.example")
    assert response.status_code == 403 and SESSION_COOKIE not in response.headers.get("set-cookie", "")


def _forge(value: str, **changes: object) -> str:
    import json

    body, mac = value.split(".")
    payload = json.loads(_unb64(body))
    payload.update(changes)
    return f"{_b64(json.dumps(payload, separators=(',', ':')).encode())}.{mac}"


def test_a_tampered_expired_or_stale_cookie_is_no_session() -> None:
    now = [1_000_000.0]
    signer = SessionSigner(b"k" * 32, TOKENS, {"watcher": "viewer"}, clock=lambda: now[0])
    value = signer.issue("watcher")
    session = signer.verify(value)
    assert session is not None and (session.identity.name, session.identity.role) == ("watcher", "viewer")
    assert signer.verify(_forge(value, n="portal")) is None  # payload changed, MAC kept
    body, mac = value.split(".")
    assert signer.verify(f"{body}.{_b64(b'x' * 32)}") is None
    assert signer.verify(f"{body}.{mac}x") is None and signer.verify("garbage") is None and signer.verify("") is None
    assert signer.verify(body + "." + mac + ".extra") is None
    assert SessionSigner(b"other-secret" * 3, TOKENS, {}).verify(value) is None
    assert SessionSigner(b"k" * 32, {**TOKENS, "watcher": "rotated-token-0123456789"}, {}).verify(value) is None
    assert SessionSigner(b"k" * 32, {"portal": OPERATOR_TOKEN}, {}).verify(value) is None  # token removed
    now[0] += 13 * 3600
    assert signer.verify(value) is None


def test_a_forged_cookie_does_not_open_pages(dash: Dash) -> None:
    dash.sign_in(VIEWER_TOKEN)
    value = dash.client.cookies[SESSION_COOKIE]
    dash.client.cookies.set(SESSION_COOKIE, _forge(value, n="portal"))
    assert dash.client.get("/", follow_redirects=False).status_code == 303


def test_actions_need_the_session_csrf_token_and_this_origin(operator: Dash) -> None:
    job_id = failed_job(operator.queue, add_dataset(operator.store))
    csrf = operator.csrf(f"/jobs/{job_id}")
    for data, headers in (
        ({}, {}),
        ({"csrf": ""}, {}),
        ({"csrf": csrf + "x"}, {}),
        ({"csrf": csrf}, {"Origin": "http://evil.example"}),
        ({"csrf": csrf}, {"Origin": "null"}),
        ({"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        response = operator.post(f"/jobs/{job_id}/retry", data, **headers)
        assert response.status_code == 403 and "Refused" in response.text, (data, headers)
    assert operator.store.get_job(job_id)["status"] == "failed"
    json_body = operator.client.post(f"/jobs/{job_id}/retry", json={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert json_body.status_code == 403
    done = operator.post(f"/jobs/{job_id}/retry", {"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/jobs/{job_id}?notice=retried"
    assert operator.store.get_job(job_id)["status"] == "pending"
    assert operator.store.find_events(job_id)[-1]["actor"] == "api:portal"


def test_the_csrf_token_of_another_session_is_refused(tmp_path: Path) -> None:
    for first in make_dash(tmp_path):
        first.sign_in()
        stolen = first.csrf()
        first.client.cookies.clear()
        first.sign_in()
        job_id = failed_job(first.queue, add_dataset(first.store))
        assert first.post(f"/jobs/{job_id}/retry", {"csrf": stolen}).status_code == 403
        assert first.csrf() != stolen


def test_a_viewer_sees_pages_but_every_action_is_refused(dash: Dash) -> None:
    dataset = add_dataset(dash.store)
    failed = failed_job(dash.queue, dataset)
    dash.sign_in(VIEWER_TOKEN)
    page = dash.client.get(f"/jobs/{failed}")
    assert page.status_code == 200 and 'id="retry-job"' not in page.text and "viewer" in page.text
    csrf = dash.csrf(f"/jobs/{failed}")
    signature = dash.client.get("/failures").text.split('id="group-')[1].split('"')[0]
    for path, data in (
        (f"/jobs/{failed}/retry", {"csrf": csrf}),
        (f"/jobs/{failed}/cancel", {"csrf": csrf}),
        ("/jobs/bulk", [("csrf", csrf), ("action", "retry"), ("job_id", failed), ("confirmed", "yes")]),
        ("/failures/retry", {"csrf": csrf, "job_type": "data_validation", "signature": signature, "hours": "24"}),
    ):
        response = dash.post(path, data)
        assert response.status_code == 403 and "is a viewer" in response.text, path
    assert dash.store.get_job(failed)["status"] == "failed"
    assert dash.post("/logout", {"csrf": csrf}).status_code == 303  # signing out is not an action on jobs


def test_the_json_api_enforces_the_same_roles(dash: Dash) -> None:
    dataset = add_dataset(dash.store)
    failed = failed_job(dash.queue, dataset)
    viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    assert dash.client.get("/api/v1/jobs", headers=viewer).status_code == 200
    assert dash.client.get(f"/api/v1/jobs/{failed}", headers=viewer).status_code == 200
    assert dash.client.get("/api/v1/jobs/queue/stats", headers=viewer).status_code == 200
    body = {"dataset_uuid": dataset, "job_type": "data_validation"}
    for path, payload in (
        ("/api/v1/jobs", body), (f"/api/v1/jobs/{failed}/retry", None), (f"/api/v1/jobs/{failed}/cancel", None),
    ):
        refused = dash.client.post(path, json=payload, headers=viewer)
        assert refused.status_code == 403 and "viewer" in refused.json()["detail"], path
    assert dash.store.get_job(failed)["status"] == "failed" and dash.store.count_jobs(JobQuery()) == 1
    retried = dash.client.post(f"/api/v1/jobs/{failed}/retry", headers=operator)
    assert retried.status_code == 200 and dash.store.find_events(failed)[-1]["actor"] == "api:portal"
    created = dash.client.post("/api/v1/jobs", json={**body, "allow_duplicate": True}, headers=operator)
    assert created.status_code == 201 and created.json()["created_by"] == "api:portal"


def test_roles_come_from_settings_and_default_to_operator() -> None:
    tokens = {"portal": "p" * 16, "watcher": "w" * 16}
    assert resolve_roles(Settings(), tokens) == {"portal": "operator", "watcher": "operator"}
    assert resolve_roles(Settings(api_roles={"watcher": "viewer", "env": "viewer"}), tokens) == {
        "portal": "operator",
        "watcher": "viewer",
    }
    with pytest.raises(InvalidInput, match="one of viewer, operator"):
        resolve_roles(Settings(api_roles={"watcher": "admin"}), tokens)
    with pytest.raises(InvalidInput, match="'watchr'"):
        resolve_roles(Settings(api_roles={"watchr": "viewer"}), tokens)


def test_metrics_need_a_token_unless_public(tmp_path: Path) -> None:
    for dash in make_dash(tmp_path / "closed"):
        add_dataset(dash.store)
        failed_job(dash.queue, add_dataset(dash.store))
        assert dash.client.get("/metrics").status_code == 401
        assert (
            dash.client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        )
        response = dash.client.get("/metrics", headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'sc_jobs{job_type="data_validation",status="failed"} 1.0' in response.text
        assert "# TYPE sc_health gauge" in response.text
    for dash in make_dash(tmp_path / "open", metrics_public=True):
        assert dash.client.get("/metrics").status_code == 200


def test_no_auth_server_signs_in_without_a_token_and_still_checks_csrf(tmp_path: Path) -> None:
    from sccli.api import create_app

    from .conftest import TestClient

    app = create_app(f"sqlite:///{tmp_path / 'open.db'}", "x", Settings(), {}, allow_anonymous=True)
    here = "http://127.0.0.1:8080"  # an open server answers loopback names only
    with TestClient(app, base_url=here) as client:
        assert 'name="token"' not in client.get("/login").text
        assert (
            client.post("/login", data={"next": "/"}, headers={"Origin": here}, follow_redirects=False).status_code
            == 303
        )
        page = client.get("/")
        assert "anonymous" in page.text
        assert client.post("/jobs/x/retry", data={"csrf": "forged"}, headers={"Origin": here}).status_code == 403
        store = app.state.api.store
        job_id = failed_job(JobQueue(store, actor="cli:test@host"), add_dataset(store))
        csrf = CSRF_FIELD.search(client.get(f"/jobs/{job_id}").text)
        assert csrf
        done = client.post(
            f"/jobs/{job_id}/retry", data={"csrf": csrf.group(1)}, headers={"Origin": here}, follow_redirects=False
        )
        assert done.status_code == 303 and store.find_events(job_id)[-1]["actor"] == "api:anonymous"


def test_sign_out_ends_the_session(operator: Dash) -> None:
    csrf = operator.csrf("/")
    assert operator.post("/logout", {}).status_code == 403
    out = operator.post("/logout", {"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert operator.client.get("/", follow_redirects=False).status_code == 303
