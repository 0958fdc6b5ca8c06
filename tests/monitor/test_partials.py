"""``sc monitor cleanup`` sweeps orphaned partial outputs (``.sc-partial-*``) of ended or deleted
jobs from the data directories (a dry run counts them); those of pending and running jobs stay."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.clock import utcnow
from sccli.store import open_store
from tests.monitor.history import ago, insert, job


def test_cleanup_sweeps_orphaned_partials_of_ended_jobs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sc.db'}"
    store = open_store(db)
    store.ensure_schema()
    dirs = {key: tmp_path / key for key in ("in", "out", "sync", "auth")}
    for path in dirs.values():
        path.mkdir()
    settings = tmp_path / "settings.json"
    config = {f"{key}_data_dir": str(dirs[key]) for key in ("in", "out", "sync")}
    settings.write_text(json.dumps({**config, "auth_dir": str(dirs["auth"]), "log_dir": str(tmp_path / "logs")}))
    now = utcnow()
    failed, completed = insert(store, job(status="failed", completed_at=ago(hours=1, now=now)),
                               job(completed_at=ago(minutes=5, now=now)))
    running = insert(store, job(status="running", completed_at=None, started_at=ago(minutes=1, now=now)))[0]
    deleted = str(uuid.uuid4())
    dataset = dirs["in"] / str(uuid.uuid4())
    (dataset / "sub").mkdir(parents=True)
    staging = dataset / f".extract.sc-partial-{failed}-0badf00d"
    (staging / "deep").mkdir(parents=True)
    (staging / "deep" / "f.txt").write_text("x")
    orphans = [staging, dirs["out"] / f".{dataset.name}.sc-partial-{completed}-deadbeef",
               dataset / "sub" / f".big.bin.sc-partial-{deleted}"]
    orphans[1].mkdir()
    orphans[2].write_text("x")
    kept = [dataset / f".a.bin.sc-partial-{running}-c0ffee00", dataset / ".b.bin.sc-partial-not-a-job",
            dataset / "sub" / "plain.txt"]
    for path in kept:
        path.write_text("x")

    def cleanup(*args: str) -> dict:
        argv = ["--db", db, "--settings", str(settings), "monitor", "cleanup", "--days", "30", "--json", *args]
        out = CliRunner().invoke(app, argv)
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    assert cleanup("--dry-run")["partials_removed"] == 3
    assert all(p.exists() for p in orphans + kept)
    assert cleanup()["partials_removed"] == 3
    assert not any(p.exists() for p in orphans) and all(p.exists() for p in kept)
    assert cleanup()["partials_removed"] == 0


def test_the_sweep_asks_each_store_which_jobs_are_still_active(store, tmp_path: Path) -> None:
    from sccli.monitor.partials import sweep_partials

    now = utcnow()
    ended, active = insert(store, job(status="cancelled", completed_at=ago(minutes=1, now=now)),
                           job(status="pending", completed_at=None))
    root = tmp_path / "data"
    root.mkdir()
    gone, stays = root / f".x.sc-partial-{ended}-12345678", root / f".y.sc-partial-{active}-12345678"
    gone.write_text("x")
    stays.write_text("x")
    assert sweep_partials(store, [root], dry_run=True).found == 1 and gone.exists()
    swept = sweep_partials(store, [root])
    assert (swept.found, swept.removed, swept.paths) == (1, 1, [str(gone)])
    assert not gone.exists() and stays.exists()


def test_a_job_scheduled_for_a_retry_keeps_its_partials(store, tmp_path: Path) -> None:
    """A failed attempt waiting out its backoff is ``scheduled``: its next attempt resumes from its partials."""
    from sccli.monitor.partials import sweep_partials

    waiting = insert(store, job(status="scheduled", completed_at=None))[0]
    root = tmp_path / "data"
    root.mkdir()
    stays = root / f".y.sc-partial-{waiting}-12345678"
    stays.write_text("x")
    assert sweep_partials(store, [root]).found == 0 and stays.exists()
