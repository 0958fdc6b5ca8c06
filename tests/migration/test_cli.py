"""sc migrate run | validate | rollback | list through the CLI, on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from sccli.cli import migrate as migrate_cli
from sccli.cli.app import app
from sccli.store import open_store
from sccli.store.base import JobQuery, Store

from .conftest import Legacy, build_legacy


@pytest.fixture
def cli_legacy(tmp_path: Path) -> Legacy:
    store = open_store(f"sqlite:///{tmp_path / 'cli.db'}")
    return build_legacy(store, tmp_path, 60)


@pytest.fixture
def sc(cli_legacy: Legacy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "250")
    settings = tmp_path / "settings.json"
    s = cli_legacy.settings
    settings.write_text(
        json.dumps(
            {
                "in_data_dir": s.in_data_dir, "out_data_dir": s.out_data_dir, "sync_data_dir": s.sync_data_dir,
                "auth_dir": s.auth_dir,
            }
        )
    )
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(
            app, ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "--settings", str(settings), "migrate", *args],
            input=input, catch_exceptions=False,
        )

    return run


def _jobs(store: Store) -> int:
    return store.count_jobs(JobQuery())


def test_dry_run_prints_the_plan_and_writes_nothing(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    before = _jobs(cli_legacy.store)
    result = sc("run", "--dry-run", "--show", "0")
    assert result.exit_code == 0, result.output
    for uid in cli_legacy.needing_jobs():
        assert uid in result.stdout
    for uid in cli_legacy.left_blocked():  # listed with their problems, first
        assert uid in result.stdout
    assert (
        "dry run: nothing written" in result.stdout
        and "no archive to unzip" in result.stdout
        and "no files to upload" in result.stdout
    )
    assert f"{len(cli_legacy.left_blocked())} dataset(s) with problems (listed first) would get no job" in result.stdout
    assert "3600 s" in result.stdout  # in-flight datasets wait out the grace period
    assert _jobs(cli_legacy.store) == before and cli_legacy.store.ledger.list_migrations() == []


def test_live_run_without_a_terminal_needs_yes(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    before = _jobs(cli_legacy.store)
    result = sc("run")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert _jobs(cli_legacy.store) == before


def test_live_run_on_a_terminal_asks(
    sc: Callable[..., Any], cli_legacy: Legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate_cli, "_interactive", lambda: True)
    before = _jobs(cli_legacy.store)
    refused = sc("run", input="n\n")
    assert refused.exit_code == 1 and _jobs(cli_legacy.store) == before
    accepted = sc("run", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert _jobs(cli_legacy.store) == before + len(cli_legacy.needing_jobs())


def test_run_json_then_rerun_then_validate(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    first = json.loads(sc("run", "--yes", "--json", "--grace-seconds", "60").stdout)
    assert first["jobs_created"] == len(cli_legacy.needing_jobs()) and first["dry_run"] is False
    assert sorted(i["dataset_uuid"] for i in first["items"] if i["job_id"]) == cli_legacy.needing_jobs()
    assert first["with_problems"] == len(cli_legacy.left_blocked()) > 0
    second = json.loads(sc("run", "--yes", "--json", "--skip-problems").stdout)  # accepted: it is the default
    assert second["jobs_created"] == 0
    blocked = sc("validate", "--json")
    assert blocked.exit_code == 1
    assert {(f["check"], f["dataset_uuid"]) for f in json.loads(blocked.stdout)["findings"]} == {
        ("blocked", u) for u in cli_legacy.left_blocked()
    }
    for uid in cli_legacy.left_blocked():  # an administrator gives up on them
        cli_legacy.store.update_dataset(uid, None, {"status": "failed"})
    valid = sc("validate")
    assert valid.exit_code == 0 and valid.stdout.startswith("valid")
    listed = json.loads(sc("list", "--json").stdout)["items"]
    assert [m["migration_id"] for m in listed] == [second["migration_id"], first["migration_id"]]


def test_single_dataset(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    uid = cli_legacy.needing_jobs()[0]
    result = sc("run", "--yes", "--dataset-uuid", uid)
    assert result.exit_code == 0 and uid in result.stdout
    assert cli_legacy.store.count_jobs(JobQuery(dataset_uuid=uid)) == 1
    assert _jobs(cli_legacy.store) == len(cli_legacy.existing_jobs) + 1
    missing = sc("run", "--yes", "--dataset-uuid", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 4 and missing.stderr.startswith("Error: dataset")


def test_validate_failure_exits_1_with_each_finding(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    result = sc("validate", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert (
        sorted(f["dataset_uuid"] for f in data["findings"] if f["check"] == "missing_job") == cli_legacy.needing_jobs()
    )
    assert sorted(f["dataset_uuid"] for f in data["findings"] if f["check"] == "blocked") == cli_legacy.left_blocked()
    assert len(data["findings"]) == len(cli_legacy.needing_jobs()) + len(cli_legacy.left_blocked())
    assert "Error: migration validation found" in result.stderr
    table = sc("validate", "--format", "plain")
    assert table.exit_code == 1 and table.stdout.count("missing_job") == len(cli_legacy.needing_jobs())
    assert table.stdout.count("blocked") == len(cli_legacy.left_blocked())


def test_rollback(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    run = json.loads(sc("run", "--yes", "--json").stdout)
    assert sc("rollback").exit_code == 2  # no terminal, no --yes
    plan = json.loads(sc("rollback", "--dry-run", "--json", "--migration", run["migration_id"]).stdout)
    assert plan["jobs_removed"] == run["jobs_created"] and _jobs(cli_legacy.store) == run["jobs_created"] + len(
        cli_legacy.existing_jobs
    )
    done = sc("rollback", "--yes", "--migration", run["migration_id"])
    assert done.exit_code == 0 and f"removed {run['jobs_created']} unstarted jobs" in done.stdout
    assert _jobs(cli_legacy.store) == len(cli_legacy.existing_jobs)
    unknown = sc("rollback", "--yes", "--migration", "mig-nope")
    assert unknown.exit_code == 4


def test_rollback_reports_what_it_could_not_undo(sc: Callable[..., Any], cli_legacy: Legacy) -> None:
    from sccli.store.base import JobChange

    run = json.loads(sc("run", "--yes", "--json").stdout)
    job_id = next(i["job_id"] for i in run["items"] if i["job_id"])
    cli_legacy.store.update_job(
        job_id, {"status": "pending"}, JobChange(set={"status": "running"}, inc={"attempts": 1})
    )
    result = sc("rollback", "--yes", "--format", "plain")
    assert result.exit_code == 1 and job_id in result.stdout and "has started" in result.stdout
    assert "1 item(s) could not be undone" in result.stderr


def test_compat_keeps_the_original_method_names(cli_legacy: Legacy) -> None:
    from sccli.compat import SC_JobMigration

    migration = SC_JobMigration(cli_legacy.store, settings=cli_legacy.settings)
    assert migration.validate_migration()["valid"] is False
    assert migration.migrate_all_datasets(dry_run=True)["jobs_planned"] == len(cli_legacy.needing_jobs())
    one = cli_legacy.needing_jobs()[0]
    assert migration.migrate_specific_dataset(one)["jobs_created"] == 1
    assert migration.migrate_all_datasets()["jobs_created"] == len(cli_legacy.needing_jobs()) - 1
    after = migration.validate_migration()
    assert after["valid"] is False and {f["check"] for f in after["findings"]} == {"blocked"}
    assert migration.rollback_migration(dataset_uuid=one)["jobs_removed"] == 1
    assert migration.rollback_migration()["jobs_removed"] == len(cli_legacy.needing_jobs()) - 1


def test_progress_bar_only_on_a_terminal_and_for_large_runs() -> None:
    import io

    from rich.console import Console

    from sccli.cli.context import Application

    a = Application()
    out = io.StringIO()
    a._err = Console(file=out, force_terminal=True, width=80)
    with migrate_cli.progress_bar(a, "migrating") as update:
        assert update is not None
        update(10, 20)
    assert out.getvalue() == ""  # a small run shows no bar
    with migrate_cli.progress_bar(a, "migrating") as update:
        assert update is not None
        update(500, 1000)
        update(1000, 1000)
    assert "migrating" in out.getvalue()
    a._err = Console(file=io.StringIO(), force_terminal=False)
    with migrate_cli.progress_bar(a, "migrating") as update:
        assert update is None


def test_grace_period_comes_from_settings(tmp_path) -> None:
    import json as _json

    from typer.testing import CliRunner

    from sccli.cli.app import app
    from sccli.datasets import add_dataset
    from sccli.store import open_store
    from sccli.store.base import JobQuery

    url = f"sqlite:///{tmp_path / 'g.db'}"
    store = open_store(url)
    uuid = "550e8400-e29b-41d4-a716-446655440001"
    add_dataset(store, uuid, "busy", "converting")
    settings = tmp_path / "settings.json"
    settings.write_text(_json.dumps({"migration_grace_seconds": 120}))
    result = CliRunner().invoke(app, ["--db", url, "--settings", str(settings), "migrate", "run", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    job = store.find_jobs(JobQuery(dataset_uuid=uuid))[0]
    wait = (job["run_after"] - job["created_at"]).total_seconds()
    assert 119 <= wait <= 121
