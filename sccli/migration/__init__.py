"""Legacy migration: datasets driven only by status strings get jobs on the queue, safely.

``JobMigration(store).run(dry_run=True)`` plans, ``.run()`` creates the jobs and records them in
the ``job_migrations`` ledger, ``.validate()`` lists findings, ``.rollback()`` undoes only what
migrations created and what has not started.
"""

from __future__ import annotations

from sccli.migration.migrator import JobMigration
from sccli.migration.plan import MIGRATION_TABLE, PlanItem
from sccli.migration.rollback import RollbackReport
from sccli.migration.run import MigrationReport
from sccli.migration.validate import Finding

__all__ = ["Finding", "JobMigration", "MIGRATION_TABLE", "MigrationReport", "PlanItem", "RollbackReport"]
