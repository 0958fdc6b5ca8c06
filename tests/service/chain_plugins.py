"""Instant stand-ins for the chained built-in types (registered over them through
``settings.handlers``), so crash and chaos tests exercise chaining without real files."""

from __future__ import annotations

from typing import Any

from sccli.handlers import JobContext


def upload_archive(ctx: JobContext) -> dict[str, Any]:
    """A file_upload that 'uploaded' an archive: chains a file_extraction."""
    return {"status": "ok", "message": "uploaded", "archives": ["upload.zip"]}


def instant(ctx: JobContext) -> dict[str, Any]:
    return {"status": "ok", "message": f"{ctx.job['job_type']} done"}


CHAIN_HANDLERS = {
    "file_upload": "tests.service.chain_plugins:upload_archive",
    "file_extraction": "tests.service.chain_plugins:instant",
    "dataset_conversion": "tests.service.chain_plugins:instant",
    "google_sync": "tests.service.chain_plugins:instant",
}
