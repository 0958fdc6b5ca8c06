"""Service logging to stderr: levelled text lines, or one JSON object per line (``--log-json``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

#: Record attributes that become JSON fields when a call passes them in ``extra``.
EXTRA_FIELDS = ("job_id", "job_type", "worker_id", "pid", "outcome", "kind", "attempt", "duration_s",
                "token_name", "method", "path", "status", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message and any known extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in EXTRA_FIELDS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(verbose: bool = False, as_json: bool = False) -> None:
    """Send the ``sccli`` loggers to stderr at INFO (DEBUG with ``verbose``)."""
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("sccli")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
