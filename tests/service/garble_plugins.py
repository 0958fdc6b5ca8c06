"""A handler that garbles its channel to the service (what a buggy plugin or a stray write does)."""

from __future__ import annotations

import os
import struct
from typing import Any

from sccli.handlers import JobContext
from sccli.service import protocol

#: What ``parameters.how`` writes into the job socket before the handler returns normally.
GARBAGE = {
    "frame": struct.pack("!i", 7) + b"garbage",  # a well-framed message that is not msgpack
    "raw": b"garbage, no frame at all",  # its first 4 bytes read as a length of ~1.7 GB
    "foreign": (lambda data: struct.pack("!i", len(data)) + data)(protocol.encode(protocol.Promote(1, True))),
}


def garble(ctx: JobContext) -> dict[str, Any]:
    """Writes ``GARBAGE[parameters.how]`` into the child's job socket, then returns a result."""
    fd = ctx.gate.__self__.fd  # type: ignore[union-attr]  # the gate is the child's Channel.may_promote
    os.write(fd, GARBAGE[ctx.params["how"]])
    return {"status": "ok", "message": "should not count: the channel was garbled first"}
