"""A bounded property-based fuzz of the OpenAPI schema: no request makes the API answer 5xx.

Schemathesis turns each operation of ``/api/v1/openapi.json`` into a hypothesis strategy of
requests (valid ones and, in negative mode, invalid ones) that run in-process against the
ASGI app over a SQLite store holding a dataset and jobs in several states. Every response must
also match the schema (status documented, body conformant).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from sccli.settings import Settings
from tests.conftest import add_dataset, make_spec

from .conftest import AUTH, TOKEN

#: Examples per operation and generation mode (hypothesis stops earlier when the space is small).
MAX_EXAMPLES = 25

OPERATIONS = [
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{job_id}"),
    ("GET", "/api/v1/jobs/queue/stats"),
    ("POST", "/api/v1/jobs/{job_id}/cancel"),
    ("POST", "/api/v1/jobs/{job_id}/retry"),
    ("GET", "/api/v1/health"),
]

#: Operations without parameters or body (negative generation has nothing to break).
NO_INPUT = {"/api/v1/health"}


@pytest.fixture
def api_schema(tmp_path: Path) -> Any:
    """The loaded schema of an app whose store holds one dataset and pending and cancelled jobs."""
    import schemathesis

    from sccli.api import create_app
    from sccli.queue import JobQueue

    spec = make_spec("sqlite", tmp_path)
    app = create_app(spec.url, spec.db_name, Settings(), {"portal": TOKEN})
    queue = JobQueue(app.state.api.store, actor="cli:test@host")
    dataset = add_dataset(app.state.api.store)
    for job_type in ("dataset_conversion", "data_validation", "backup_creation"):
        queue.create_job(dataset, job_type)
    queue.cancel(queue.claim_next("w1")["job_id"])  # type: ignore[index]
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_makes_a_server_error(api_schema: Any, method: str, path: str, mode: str) -> None:
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    if mode == "negative" and path in NO_INPUT:
        pytest.skip("the operation takes no input, so there is no invalid request to generate")
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        response = case.call(headers=dict(AUTH))
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
        )
        # Job parameters are declared per job type (checked at creation): the schema keeps them an
        # open object, so a schema-valid body may still get a 422 naming the parameter.
        case.validate_response(response, headers=dict(AUTH), excluded_checks=[positive_data_acceptance])

    check()
