"""``sc migrate rollback``: undo what migrations did, and only that.

Only jobs a migration created and that have not started (pending, 0 attempts) are removed;
for those the dataset status recorded before the run is restored, except over ``done`` or
``failed`` (a finished dataset is never reset). Whatever cannot be undone is reported, not
forced. Ledger entries are read in pages and their jobs removed in batches, each batch's
writes one transaction on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sccli.clock import utcnow
from sccli.domain import DatasetStatus, JobStatus, is_valid_uuid
from sccli.errors import InvalidInput, NotFound
from sccli.store.base import Store

#: Statuses rollback never overwrites.
FINAL_DATASET_STATUSES = frozenset({DatasetStatus.DONE.value, DatasetStatus.FAILED.value})


@dataclass
class RollbackReport:
    """What a rollback removed, restored and left alone."""

    dry_run: bool
    migration_id: str | None = None
    dataset_uuid: str | None = None
    examined: int = 0
    removed: int = 0
    restored: int = 0
    already_gone: int = 0
    migrations: set[str] = field(default_factory=set)
    not_undone: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "migration_id": self.migration_id, "dataset_uuid": self.dataset_uuid,
            "examined": self.examined, "jobs_removed": self.removed, "statuses_restored": self.restored,
            "jobs_already_gone": self.already_gone, "migrations": sorted(self.migrations),
            "not_undone": self.not_undone,
        }


class Rollback:
    """Rolls back one migration, one dataset's entries, or every migration."""

    def __init__(self, store: Store, *, batch_size: int = 1000) -> None:
        self.store = store
        self.batch_size = batch_size

    def execute(
        self,
        *,
        migration_id: str | None = None,
        dataset_uuid: str | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> RollbackReport:
        """Undo the matching ledger entries not rolled back yet."""
        total = self._check_scope(migration_id, dataset_uuid)
        report = RollbackReport(dry_run, migration_id, dataset_uuid)
        after: str | None = None
        while True:
            entries = self.store.ledger.find_migration_entries(
                migration_id, dataset_uuid, after, self.batch_size, pending_only=True
            )
            if not entries:
                break
            after = entries[-1]["entry_id"]
            self._batch(report, entries)
            if progress is not None:
                progress(report.examined, max(total, report.examined))
        if not dry_run:
            self._close_headers(report)
        return report

    def _check_scope(self, migration_id: str | None, dataset_uuid: str | None) -> int:
        """Refuse unknown migrations and malformed uuids; return the expected number of entries."""
        if dataset_uuid is not None and not is_valid_uuid(dataset_uuid):
            raise InvalidInput(f"malformed dataset UUID {dataset_uuid!r}")
        if migration_id is not None:
            header = self.store.ledger.get_migration(migration_id)
            if header is None:
                raise NotFound(f"migration {migration_id} not found (sc migrate list shows them)")
            headers = [header]
        else:
            headers = self.store.ledger.list_migrations()
        return 1 if dataset_uuid else sum(int(h.get("jobs_created") or 0) for h in headers)

    def _batch(self, report: RollbackReport, entries: list[dict[str, Any]]) -> None:
        """One page of entries; live, its writes (jobs, events, statuses, entries) are one
        transaction on SQLite, so each touched page is written once per batch."""
        if report.dry_run:
            self._undo(report, entries)
            return
        with self.store.atomic():
            self._undo(report, entries)

    def _undo(self, report: RollbackReport, entries: list[dict[str, Any]]) -> None:
        report.examined += len(entries)
        report.migrations.update(e["migration_id"] for e in entries)
        ids = [e["job_id"] for e in entries]
        if report.dry_run:
            deleted: set[str] = set()
            states = self.store.ledger.job_states(ids)
        else:  # delete first (one statement per chunk), then look only at what is left
            deleted = set(self.store.ledger.delete_unstarted_jobs(ids))
            states = self.store.ledger.job_states([i for i in ids if i not in deleted])
        removable = deleted if not report.dry_run else {i for i, state in states.items() if _unstarted(state)}
        removed = [e for e in entries if e["job_id"] in removable]
        gone = [e for e in entries if e["job_id"] not in deleted and e["job_id"] not in states]
        for entry in entries:
            state = states.get(entry["job_id"])
            if state is not None and entry["job_id"] not in removable:
                reason = (
                    f"job {entry['job_id']} has started (status {state['status']}, {state.get('attempts') or 0} "
                    "attempts): left alone"
                )
                self._not_undone(report, entry, reason)
        report.already_gone += len(gone)
        report.removed += len(removed)
        if not report.dry_run and deleted:
            self.store.delete_events(sorted(deleted))
        self._restore(report, removed)
        if not report.dry_run:
            self._mark(removed, "job removed")
            self._mark(gone, "job no longer exists: dataset status left as it is")

    def _restore(self, report: RollbackReport, entries: list[dict[str, Any]]) -> None:
        """Put back each dataset's recorded status where it moved (one status read per batch)."""
        if not entries:
            return
        statuses = self.store.ledger.dataset_statuses([e["dataset_uuid"] for e in entries])
        for entry in entries:
            if entry["dataset_uuid"] not in statuses:
                continue
            before, current = entry.get("status_before"), statuses[entry["dataset_uuid"]]
            if current == before or before is None:
                continue
            if current in FINAL_DATASET_STATUSES:
                self._not_undone(report, entry, f"dataset is {current!r} now: not reset to {before!r}")
            elif report.dry_run or self._write_status(entry, before):
                report.restored += 1
            else:
                self._not_undone(report, entry, f"dataset status changed during rollback: not reset to {before!r}")

    def _write_status(self, entry: dict[str, Any], before: str) -> bool:
        """Restore ``before`` through the one function that moves datasets: forced, because
        putting back a recorded status is an administrative exit from the transition table
        (its event says ``(forced)``), logged with the migration as actor."""
        from sccli.datasets import move_dataset

        uuid, migration_id, job_id = entry["dataset_uuid"], entry["migration_id"], entry["job_id"]
        reason = f"rollback of migration {migration_id} (removed job {job_id})"
        return move_dataset(
            self.store, uuid, before, actor=f"migration:{migration_id}", reason=reason, job_id=job_id, force=True
        )

    def _not_undone(self, report: RollbackReport, entry: dict[str, Any], reason: str) -> None:
        report.not_undone.append(
            {
                "migration_id": entry["migration_id"], "dataset_uuid": entry["dataset_uuid"], "job_id": entry["job_id"],
                "reason": reason,
            }
        )

    def _mark(self, entries: list[dict[str, Any]], outcome: str) -> None:
        if entries:
            fields = {"rolled_back": True, "rolled_back_at": utcnow(), "rollback_outcome": outcome}
            self.store.ledger.update_migration_entries([e["entry_id"] for e in entries], fields)

    def _close_headers(self, report: RollbackReport) -> None:
        now = utcnow()
        for migration_id in sorted(report.migrations):
            remaining = self.store.ledger.find_migration_entries(migration_id, limit=1, pending_only=True)
            status = "partially rolled back" if remaining else "rolled back"
            self.store.ledger.update_migration(migration_id, {"status": status, "rolled_back_at": now})


def _unstarted(state: dict[str, Any] | None) -> bool:
    return state is not None and state.get("status") == JobStatus.PENDING and not state.get("attempts")
