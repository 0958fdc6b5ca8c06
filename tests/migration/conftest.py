"""A realistic legacy store: datasets in every status, some without input directory or archive,
some already with jobs, as ScientistCloud's old status-driven service left them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sccli.clock import utcnow
from sccli.domain import DatasetStatus
from sccli.migration import MIGRATION_TABLE, JobMigration
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import Store

ALL_STATUSES = [s.value for s in DatasetStatus]
#: Datasets per backend: mongomock checks unique indexes in O(n²) per insert, so it gets few;
#: the Mongo backend sees thousands through the wire server.
SIZES = {"sqlite": 2500, "mongomock": 200, "wire": 1500}


@dataclass
class Legacy:
    """What the fixture put in the store, for the tests to check against."""

    store: Store
    settings: Settings
    status_of: dict[str, str] = field(default_factory=dict)
    by_status: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    existing_jobs: dict[str, str] = field(default_factory=dict)  # dataset uuid → active job it had before
    no_input: set[str] = field(default_factory=set)
    no_archive: set[str] = field(default_factory=set)
    no_link: set[str] = field(default_factory=set)
    no_files: set[str] = field(default_factory=set)

    def blocked(self) -> set[str]:
        """Datasets whose job would lack what it needs: listed by the plan, not given a job."""
        out = set()
        for uid, status in self.status_of.items():
            job_type = MIGRATION_TABLE.get(status, ("",))[0]
            if job_type == "google_sync":
                out |= {uid} & self.no_link
            elif job_type == "file_upload":
                out |= {uid} & self.no_files
            elif job_type:
                out |= {uid} & (self.no_input | self.no_archive)
        return out

    def needing_jobs(self) -> list[str]:
        """Datasets a run must give a job: a migratable status, no active job yet, nothing blocking."""
        blocked = self.blocked()
        return sorted(
            u
            for u, s in self.status_of.items()
            if s in MIGRATION_TABLE and u not in self.existing_jobs and u not in blocked
        )

    def left_blocked(self) -> list[str]:
        """Blocked datasets without an active job: listed with their problems by the plan, no
        job after a run, a ``blocked`` finding of validation."""
        return sorted(self.blocked() - set(self.existing_jobs))

    def migration(self, **kwargs: Any) -> JobMigration:
        return JobMigration(
            self.store, settings=self.settings, actor="cli:test@host", batch_size=kwargs.pop("batch_size", 300),
            **kwargs,
        )


def settings_for(root: Path) -> Settings:
    for name in ("in", "out", "sync", "auth"):
        (root / name).mkdir(exist_ok=True)
    return Settings(
        in_data_dir=str(root / "in"), out_data_dir=str(root / "out"), sync_data_dir=str(root / "sync"),
        auth_dir=str(root / "auth"),
    )


def dataset_doc(i: int, status: str) -> dict[str, Any]:
    now = utcnow()
    doc: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "name": f"legacy {i}", "status": status, "created_at": now, "updated_at": now,
        "sensor": ["TIFF", "4D_Probe", "HDF5"][i % 3],
    }
    if i % 11:
        doc["user"] = f"user{i % 13}@example.org"
    if i % 4:
        doc["google_drive_link"] = f"https://drive.google.com/drive/folders/f{i}"
    if i % 5 == 0:
        doc["conversion_parameters"] = {"Xs_dataset": "/data/x", "Ys_dataset": "/data/y"}
    if status in ("upload queued", "uploading") and i % 3:
        doc["files"] = [f"/uploads/{i}/data.bin"]
    return doc


def build_legacy(store: Store, root: Path, count: int) -> Legacy:
    legacy = Legacy(store, settings_for(root))
    docs = [dataset_doc(i, ALL_STATUSES[i % len(ALL_STATUSES)]) for i in range(count)]
    for doc in docs:  # the portal keeps uploaded files inside the data directories
        if "files" in doc:
            doc["files"] = [str(root / "in" / doc["uuid"] / "upload" / "data.bin")]
    store.ledger.insert_datasets(docs)
    queue = JobQueue(store, actor="cli:legacy@host")
    for i, doc in enumerate(docs):
        uid, status = doc["uuid"], doc["status"]
        legacy.status_of[uid] = status
        legacy.by_status[status].append(uid)
        _lay_out_files(legacy, root, i, doc)
        if status in MIGRATION_TABLE and i % 9 == 0:  # some were already put on the queue by hand
            job = queue.build_job(uid, MIGRATION_TABLE[status][0], {}, None, None, None, created_by="cli:legacy@host")
            store.insert_job(job)
            legacy.existing_jobs[uid] = job["job_id"]
    return legacy


def _lay_out_files(legacy: Legacy, root: Path, i: int, doc: dict[str, Any]) -> None:
    uid = doc["uuid"]
    if "google_drive_link" not in doc:
        legacy.no_link.add(uid)
    if "files" not in doc:
        legacy.no_files.add(uid)
    if i % 7 == 3:
        legacy.no_input.add(uid)
        return
    (root / "in" / uid).mkdir()
    if doc["status"] == "unzipping":
        if i % 2:
            (root / "in" / uid / "upload.zip").write_bytes(b"PK\x05\x06" + bytes(18))
        else:
            legacy.no_archive.add(uid)


@pytest.fixture
def legacy(store: Store, store_spec: Any, tmp_path: Path) -> Legacy:
    return build_legacy(store, tmp_path, SIZES[store_spec.kind])


@pytest.fixture
def small_legacy(store: Store, tmp_path: Path) -> Legacy:
    """Every status a few times: for tests about single datasets and scopes."""
    return build_legacy(store, tmp_path, 3 * len(ALL_STATUSES))
