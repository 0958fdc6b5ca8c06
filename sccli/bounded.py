"""Bounded reads of files named by a user (``--settings``, ``--params-json @file``): a device
such as ``/dev/zero`` or a huge file is refused once past the limit, never read without end."""

from __future__ import annotations

import os
from pathlib import Path

from sccli.errors import InvalidInput

#: Settings files are a few KiB; 4 MiB leaves room for long converter and handler tables.
MAX_SETTINGS_BYTES = 4 * 1024 * 1024
#: Twice what a job document may hold: a larger file is refused here, a smaller one too large for
#: the store is refused with the store's own figure.
MAX_PARAMETERS_FILE_BYTES = 32 * 1024 * 1024


def read_at_most(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of ``path``, or InvalidInput naming ``what`` when it holds more than ``limit``
    bytes (reads at most ``limit + 1``). OSError passes on to the caller, who words it."""
    with Path(path).open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{what} {str(path)[:200]} is larger than {limit:,} bytes")
    return data
