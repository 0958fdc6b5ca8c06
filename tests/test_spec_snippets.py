"""The Python snippets of SC_JobProcessing.md run as written, import lines adapted, on mongomock.

Adaptations, and only these: ``from SC_X import Y`` becomes ``from sccli.compat import Y``;
``from pymongo import MongoClient`` becomes mongomock's; a snippet that uses a name of the
original's modules without importing it (``SC_JobType`` in the config table, ``Enum``) gets that
import; the snippets that the spec says belong in ``SC_BackgroundService.py`` (the handler and
the registry) are placed there, in a subclass, in a module of their own. The one block that is
HTTP, not Python (API Integration), is left out.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli import domain
from sccli.errors import NotFound

SPEC = Path("/work/shared/spec/SC_JobProcessing.md")
LOCAL_SPEC = Path(__file__).resolve().parents[1] / "docs" / "SC_JobProcessing.md"
DATASET = "550e8400-e29b-41d4-a716-446655440000"
PRELUDE = "from enum import Enum\nfrom sccli.compat import SC_JOB_TYPE_CONFIGS, SC_JobType\n"


def spec_text() -> str:
    for path in (SPEC, LOCAL_SPEC):
        if path.is_file():
            return path.read_text()
    pytest.skip("SC_JobProcessing.md is not available")


def python_blocks() -> list[str]:
    blocks = re.findall(r"^[ \t]*```python\n(.*?)^[ \t]*```", spec_text(), flags=re.S | re.M)
    return [textwrap.dedent(b) for b in blocks]


def adapt(code: str) -> str:
    code = re.sub(r"^from SC_\w+ import ", "from sccli.compat import ", code, flags=re.M)
    return re.sub(r"^from pymongo import MongoClient$", "from mongomock import MongoClient", code, flags=re.M)


def is_python(code: str) -> bool:
    """Python rather than HTTP shown in a python fence (which happens to parse: ``POST / api``)."""
    return not re.search(r"^(GET|POST) /", code, flags=re.M)


def run(code: str, namespace: dict[str, Any]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(PRELUDE + adapt(code), "<snippet>", "exec"), namespace)  # noqa: S102 - the spec's own code
    return out.getvalue()


@pytest.fixture
def registry() -> Iterator[None]:
    """Job types a snippet registers are forgotten afterwards."""
    from sccli.compat import SC_JOB_TYPE_CONFIGS

    before_domain, before_compat = dict(domain.JOB_TYPE_CONFIGS), dict(SC_JOB_TYPE_CONFIGS)
    yield
    domain.JOB_TYPE_CONFIGS.clear()
    domain.JOB_TYPE_CONFIGS.update(before_domain)
    dict.clear(SC_JOB_TYPE_CONFIGS)
    dict.update(SC_JOB_TYPE_CONFIGS, before_compat)


def blocks_by_topic() -> dict[str, str]:
    blocks = [b for b in python_blocks() if is_python(b)]
    topics: dict[str, str] = {}
    for code in blocks:
        topic = next(name for name, marker in MARKERS.items() if marker in code)
        topics[topic] = topics.get(topic, "") + code
    return topics


MARKERS = {
    "create": "job_queue.create_job(",
    "monitor": "monitor = SC_JobMonitor(",
    "config_table": "SC_JOB_TYPE_CONFIGS = {",
    "health": "['health_status']\nif",
    "metrics": "get_performance_metrics()",
    "cleanup": "cleanup_old_data(days=30)",
    "retry_config": "job_config = {",
    "manual": "retry_failed_job(",
    "new_enum": "class SC_JobType(Enum):",
    "new_config": "SC_JOB_TYPE_CONFIGS[SC_JobType.NEW_JOB_TYPE]",
    "handler": "def _handle_new_job_type(self, job):",
    "registry": "self.job_handlers = {",
}


def test_every_block_is_accounted_for() -> None:
    blocks = python_blocks()
    not_python = [b for b in blocks if not is_python(b)]
    assert len(not_python) == 1 and not_python[0].lstrip().startswith("# Submit job via API")
    assert set(blocks_by_topic()) == set(MARKERS)


def test_the_snippets_print_what_the_spec_says(registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import mongomock

    from sccli.datasets import add_dataset
    from sccli.store.mongo import MongoStore

    client = mongomock.MongoClient("mongodb://localhost:27017")
    monkeypatch.setattr(mongomock, "MongoClient", lambda *args, **kwargs: client)
    store = MongoStore.from_client(client, "scientistcloud")
    store.ensure_schema()
    add_dataset(store, DATASET, "spec dataset", "submitted")
    topics = blocks_by_topic()
    ns: dict[str, Any] = {}

    created = run(topics["create"], ns)
    job_id = ns["job_id"]
    assert created == f"Created job: {job_id}\n"
    assert store.get_job(job_id)["priority"] == 1  # type: ignore[index]

    # The spec asks about "job_12345": unknown here, and the monitor says so (a LookupError).
    with pytest.raises(NotFound, match="no job with id 'job_12345'"):
        run(topics["monitor"], ns)
    store.insert_job({**store.get_job(job_id), "job_id": "job_12345", "active_key": None, "allow_duplicate": True})  # type: ignore[dict-item]
    printed = run(topics["monitor"], ns).splitlines()
    assert printed == ["Queue status: healthy", "Job status: pending", "Success rate: 0.0%"]

    assert run(topics["config_table"], dict(ns)) == ""
    assert run(topics["health"], ns) == ""  # healthy: nothing to say
    assert run(topics["metrics"], ns) == "Average conversion time: 0.0s\n"  # works with no finished job
    assert run(topics["cleanup"], ns) == "Cleaned up 0 old jobs\n"
    assert run(topics["retry_config"], ns) == ""
    assert run(topics["manual"], ns) == ""
    assert ns["success"] is True and store.get_job("job_12345")["status"] == "cancelled"  # type: ignore[index]

    # Adding a job type: the enum and the table entry make it a type queues accept.
    run(topics["new_enum"] + topics["new_config"], ns)
    assert domain.is_builtin_type("new_job_type") and domain.job_type_config("new_job_type").timeout_minutes == 30
    new_job = ns["job_queue"].create_job(DATASET, "new_job_type")
    assert store.get_job(new_job)["max_attempts"] == 3  # type: ignore[index]


def test_a_new_type_with_its_handler_runs_on_the_service(
    registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps 3 and 4 of "Adding New Job Types" go into SC_BackgroundService (here a subclass in
    a module of its own, since handlers run in child processes); the service then runs the type."""
    import json

    from sccli.compat import SC_JOB_TYPE_CONFIGS
    from sccli.queue import JobQueue
    from sccli.store import open_store
    from tests.conftest import add_dataset

    topics = blocks_by_topic()
    body = textwrap.indent(topics["handler"], "    ")
    init = "    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n" + textwrap.indent(
        topics["registry"], "        "
    )
    source = (
        "from sccli.compat import SC_BackgroundService as _Base\n\n\nclass "
        f"SC_BackgroundService(_Base):\n{body}\n{init}"
    )
    (tmp_path / "spec_service.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    SC_JOB_TYPE_CONFIGS["new_job_type"] = {
        "description": "New job type description", "timeout_minutes": 30, "max_attempts": 3, "requires_internet": False,
        "priority": 2,
    }

    for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir"):
        (tmp_path / key).mkdir()
    db = f"sqlite:///{tmp_path / 'sc.db'}"
    settings = {k: str(tmp_path / k) for k in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")}
    settings.update(
        db_url=db, log_dir=str(tmp_path / "logs"), types=["new_job_type"], poll_interval_seconds=0.02,
        heartbeat_seconds=0.2,
    )
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    store = open_store(db)
    store.ensure_schema()
    job_id = JobQueue(store).create_job(add_dataset(store), "new_job_type")

    module = __import__("spec_service")
    service = module.SC_BackgroundService(str(tmp_path / "settings.json"))
    assert service.job_handlers == {"new_job_type": "spec_service:SC_BackgroundService._handle_new_job_type"}
    monkeypatch.delitem(sys.modules, "spec_service")
    assert service.run(until_idle=True) == 0
    assert store.get_job(job_id)["status"] == "completed"  # type: ignore[index]
