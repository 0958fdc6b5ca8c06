"""JobMigration: the library API behind ``sc migrate`` and ``sccli.compat.SC_JobMigration``."""

from __future__ import annotations

from typing import Any

from sccli.migration.rollback import Rollback, RollbackReport
from sccli.migration.run import DEFAULT_BATCH_SIZE, DEFAULT_GRACE_SECONDS, MigrationReport, MigrationRun, Progress
from sccli.migration.validate import Finding, Validation
from sccli.queue import JobQueue, as_store
from sccli.settings import Settings
from sccli.store.base import Store


class JobMigration:
    """Moves datasets driven only by status strings onto the job queue, checks and undoes it.

    ``JobMigration(MongoClient(url), "scientistcloud")`` works like the original; so do a
    :class:`~sccli.store.base.Store` or a store URL. Settings give the data directories.
    """

    def __init__(
        self,
        store: Store | Any = None,
        db_name: str | None = None,
        *,
        settings: Settings | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        actor: str | None = None,
    ) -> None:
        self.store = as_store(store, db_name)
        self.settings = settings or Settings()
        self.grace_seconds = grace_seconds
        self.batch_size = batch_size
        self.queue = JobQueue.from_settings(self.store, self.settings, actor=actor)

    # -- the library API --------------------------------------------------------------------
    def run(
        self,
        *,
        dry_run: bool = False,
        dataset_uuid: str | None = None,
        skip_problems: bool = True,
        grace_seconds: float | None = None,
        progress: Progress | None = None,
        detail: bool = True,
    ) -> MigrationReport:
        """Create the missing jobs (or, with ``dry_run``, only plan them) and record the run.

        ``detail=False`` keeps in ``report.items`` only the datasets that need attention, which
        saves memory on large runs; the counts are complete either way. A dataset whose job
        could not succeed is always listed with its problems and skipped: ``skip_problems`` is
        accepted for compatibility and is the only behaviour (a job that fails on every attempt
        is never created).
        """
        del skip_problems
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        run = MigrationRun(self.queue, self.settings, grace_seconds=grace, batch_size=self.batch_size)
        return run.execute(dry_run=dry_run, dataset_uuid=dataset_uuid, progress=progress, detail=detail)

    def validate(self, progress: Progress | None = None) -> list[Finding]:
        """Every finding (empty when the queue and the datasets agree)."""
        return Validation(self.store, settings=self.settings, batch_size=self.batch_size).execute(progress)

    def rollback(
        self,
        *,
        migration_id: str | None = None,
        dataset_uuid: str | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> RollbackReport:
        """Remove unstarted migrated jobs and restore statuses (all migrations when no scope is given)."""
        return Rollback(self.store, batch_size=self.batch_size).execute(
            migration_id=migration_id, dataset_uuid=dataset_uuid, dry_run=dry_run, progress=progress
        )

    def migrations(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Ledger headers, newest first."""
        return self.store.ledger.list_migrations(limit)

    # -- the original's method names ----------------------------------------------------------
    def migrate_all_datasets(self, dry_run: bool = False) -> dict[str, Any]:
        """Original name: migrate every dataset that needs a job; the report as a dict."""
        return self.run(dry_run=dry_run).as_dict()

    def migrate_specific_dataset(self, dataset_uuid: str, dry_run: bool = False) -> dict[str, Any]:
        """Original name: migrate one dataset; the report as a dict."""
        return self.run(dry_run=dry_run, dataset_uuid=dataset_uuid).as_dict()

    def validate_migration(self) -> dict[str, Any]:
        """Original name: ``{"valid": bool, "findings": [...]}`` (the original could never validate)."""
        findings = self.validate()
        return {"valid": not findings, "findings": [f.as_dict() for f in findings]}

    def rollback_migration(
        self, dataset_uuid: str | None = None, migration_id: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Original name: roll back (only unstarted migrated jobs; see :meth:`rollback`)."""
        return self.rollback(migration_id=migration_id, dataset_uuid=dataset_uuid, dry_run=dry_run).as_dict()
