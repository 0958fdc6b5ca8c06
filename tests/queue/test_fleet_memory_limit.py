"""The memory limit as a fleet control (``sc queue set TYPE --memory-limit-mb``): stored in
``queue_controls`` on every backend, read by the claim itself, and before the settings'
``memory_limit_mb_by_type`` and ``memory_limit_mb``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.controls import memory_limit_mb, read_limits, set_limits
from sccli.errors import InvalidInput
from sccli.queue import JobQueue
from sccli.service.duties import claim_with_limits
from sccli.settings import settings_from_dict
from tests.conftest import StoreSpec, add_dataset

TYPE = "dataset_conversion"
SETTINGS = settings_from_dict({"memory_limit_mb": 8192, "memory_limit_mb_by_type": {TYPE: 4096}})


def _claim(queue: JobQueue, job_type: str = TYPE) -> int | None:
    queue.create_job(add_dataset(queue.store), job_type, allow_duplicate=True)
    claimed = claim_with_limits(queue, SETTINGS, "w1", [job_type], "host", 1)
    assert claimed is not None and claimed.job["job_type"] == job_type
    return claimed.memory_limit_mb


def test_the_fleet_limit_comes_before_the_settings_and_is_read_by_the_claim(queue: JobQueue) -> None:
    assert _claim(queue) == 4096  # no control: the settings' per-type limit
    assert _claim(queue, "data_validation") == 8192  # the settings' default
    set_limits(queue.store, TYPE, {"memory_limit_mb": 512}, [], "cli:test", "big inputs OOM the hosts")
    assert read_limits(queue.store)[TYPE].memory_limit_mb == 512
    queue.controls_ttl = 0.0
    assert _claim(queue) == 512  # the claim's own snapshot of the controls
    assert _claim(queue, "data_validation") == 8192  # other types keep theirs
    after = set_limits(queue.store, TYPE, {}, ["memory_limit_mb"], "cli:test")
    assert after is None and TYPE not in read_limits(queue.store)
    assert _claim(queue) == 4096


def test_a_limit_set_with_others_is_kept_and_audited(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[dict] = []
    real = queue.store.insert_event
    monkeypatch.setattr(queue.store, "insert_event", lambda e: (events.append(e), real(e))[1])
    set_limits(queue.store, TYPE, {"max_running": 2, "memory_limit_mb": 1024}, [], "cli:alice", "OOM")
    set_limits(queue.store, TYPE, {}, ["max_running"], "cli:bob")
    assert read_limits(queue.store)[TYPE].memory_limit_mb == 1024
    assert [(e["to"]["memory_limit_mb"], e["from"]["memory_limit_mb"]) for e in events] == [(1024, None), (1024, 1024)]
    assert events[0]["reason"] == "OOM" and events[1]["actor"] == "cli:bob"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "512", (1 << 30) + 1])
def test_a_bad_memory_limit_is_refused_before_anything_is_written(queue: JobQueue, bad: object) -> None:
    with pytest.raises(InvalidInput, match="memory_limit_mb"):
        set_limits(queue.store, TYPE, {"memory_limit_mb": bad}, [], "cli:test")
    assert TYPE not in read_limits(queue.store)


def test_precedence_without_a_store() -> None:
    from sccli.controls import TypeLimits

    none = settings_from_dict({})
    assert memory_limit_mb(TYPE, None, none) is None
    assert memory_limit_mb(TYPE, TypeLimits(TYPE, max_running=3), none) is None
    assert memory_limit_mb(TYPE, TypeLimits(TYPE, memory_limit_mb=300), SETTINGS) == 300
    assert memory_limit_mb(TYPE, TypeLimits(TYPE), SETTINGS) == 4096


def test_cli_sets_shows_and_unsets_the_memory_limit(sqlite_spec: StoreSpec) -> None:
    sqlite_spec.open().ensure_schema()

    def sc(*args: str) -> object:
        return CliRunner().invoke(app, ["--db", sqlite_spec.url, *args], catch_exceptions=False)

    done = sc("queue", "set", TYPE, "--memory-limit-mb", "2048", "--reason", "hosts of 8 GB")
    assert done.exit_code == 0 and "memory_limit_mb=2048" in done.stdout, done.output
    [row] = json.loads(sc("queue", "status", "--json").stdout)["limits"]
    assert row["job_type"] == TYPE and row["memory_limit_mb"] == 2048
    assert "MEMORY (MB)" in sc("queue", "status").stdout
    bad = sc("queue", "set", TYPE, "--memory-limit-mb", "0")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert sc("queue", "set", TYPE, "--unset", "memory-limit-mb").exit_code == 0
    assert json.loads(sc("queue", "status", "--json").stdout)["limits"] == []
