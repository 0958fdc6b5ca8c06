"""`GET /api/v1/jobs` takes the CLI's search filters: param, user, dataset_name."""

from __future__ import annotations

from typing import Any

from sccli.datasets import add_dataset
from sccli.queue import JobQueue
from tests.api.conftest import Api
from tests.conftest import new_uuid


def test_list_searches_by_parameter_user_and_dataset_name(api: Api) -> None:
    queue = JobQueue(api.store)
    alice = str(add_dataset(api.store, new_uuid(), "Brain scan", user="alice@example.org")["uuid"])
    bob = str(add_dataset(api.store, new_uuid(), "liver", user="bob@example.org")["uuid"])
    a = queue.create_job(alice, "data_compression", {"format": "lz4"})
    b = queue.create_job(bob, "data_compression", {"format": "zst"})

    def listed(**params: Any) -> list[str]:
        reply = api.get("/api/v1/jobs", params=params)
        assert reply.status_code == 200, reply.text
        assert reply.json()["notices"] == []
        return [j["job_id"] for j in reply.json()["jobs"]]

    assert listed(user="alice@example.org") == [a]
    assert listed(dataset_name="LIVER") == [b]
    assert listed(param="format=zst") == [b]
    assert listed(param=["format=lz4"], user="bob@example.org") == []
    bad = api.get("/api/v1/jobs", params={"param": "format"})
    assert bad.status_code == 422 and "key=value" in bad.text
    assert api.get("/api/v1/jobs", params={"user": ""}).status_code == 422
