"""Error signatures: an error text with its variable parts (ids, paths, numbers) normalised, so
failures with the same cause group together."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sccli.tool_errors import JOIN, last_error_line

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"']*(?:\s*…)?", re.IGNORECASE)
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_PATH = re.compile(r"(?:(?<=^)|(?<=[\s\"'(=:,\[]))(?:~|\.{1,2})?/[^\s\"'),;\]]*")
# Hex runs of 8+ characters holding at least one digit and one letter (tokens, hashes, ObjectIds).
_HEX = re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"(?<![A-Za-z_<])[-+]?\d+(?:[.,:]\d+)*")
_SPACE = re.compile(r"\s+")
# Lines that carry no cause: separators, bare punctuation, a traceback's header and frames.
_NOISE = re.compile(
    r"^(?:[\W_]*|Traceback \(most recent call last\):|File \".*|During handling of the above exception.*)$"
)
_LINE_BREAK = re.compile(r"\r?\n| \| ")
_TOOL_FAILED = re.compile(r"^([\w.+-]+) failed with exit code ")
MAX_LENGTH = 200
NO_ERROR = "(no error text)"


def first_meaningful_line(error: str) -> str:
    """The line of a (possibly multi-KB, multi-line) error that names its cause: the first line
    that is not blank or a separator; for a Python traceback, its last line (the exception).

    >>> first_meaningful_line("\\n-----\\nrsync: connection refused\\nrsync error: code 10")
    'rsync: connection refused'
    """
    tool = _TOOL_FAILED.match(str(error))
    if tool and JOIN in str(error) and "\n" not in str(error):  # stored before errors were one line
        head, _, rest = str(error).partition(": ")
        return f"{head}: {last_error_line(rest.split(JOIN))}"
    # run_tool joins a tool's last output lines with " | ": those are lines too.
    lines = [line.strip() for line in _LINE_BREAK.split(str(error))]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        tail = [
            line
            for line in str(error).splitlines()
            if line.strip() and not line[:1].isspace() and not _NOISE.match(line.strip())
        ]
        if tail:
            return tail[-1].strip()
    return next((line for line in lines if not _NOISE.match(line)), "")


def error_signature(error: str | None) -> str:
    """The error's first meaningful line with uuids, paths, hex ids and numbers replaced by
    placeholders, capped at ``MAX_LENGTH`` characters.

    >>> error_signature("timeout after 3600s on /data/in/5f0c1d2e-1111-4222-8333-444455556666/a.tar")
    'timeout after <n>s on <path>'
    """
    if not error or not str(error).strip():
        return NO_ERROR
    text = _SPACE.sub(" ", first_meaningful_line(str(error)[:100_000])).strip()
    if not text:
        return NO_ERROR
    tool = _TOOL_FAILED.match(text)  # keep a tool's name (7z) out of the number rule
    head, text = (tool.group(1), text[tool.end(1):]) if tool else ("", text)
    text = _URL.sub("<url>", text)
    text = _UUID.sub("<uuid>", text)
    text = _PATH.sub("<path>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return (head + text)[:MAX_LENGTH]


def signature_id(signature: str, job_type: str = "") -> str:
    """A short stable id of a (job type, signature) group, usable as ``--signature`` on the
    command line: the same text in two job types gives two ids (two groups)."""
    return hashlib.sha1(f"{job_type}\0{signature}".encode()).hexdigest()[:8]


def merge_groups(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge the database's (job_type, exact error) groups into (job_type, signature) groups,
    largest first; ``example`` is the most recent exact error text."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        sig = error_signature(group.get("error"))
        key = (str(group.get("job_type")), sig)
        into = merged.get(key)
        if into is None:
            merged[key] = {
                "job_type": key[0], "signature": sig, "signature_id": signature_id(sig, key[0]), "count": 0,
                "first_seen": group["first_seen"], "last_seen": group["last_seen"], "retry_available": 0,
                "example": group.get("error"), "job_ids": [],
            }
            into = merged[key]
        into["count"] += int(group["count"])
        into["retry_available"] += int(group["retry_available"])
        into["job_ids"].extend(group.get("job_ids") or [])
        into["first_seen"] = _earliest(into["first_seen"], group["first_seen"])
        if group["last_seen"] and (into["last_seen"] is None or group["last_seen"] >= into["last_seen"]):
            into["last_seen"], into["example"] = group["last_seen"], group.get("error")
    return sorted(merged.values(), key=lambda g: (-g["count"], g["job_type"], g["signature"]))


def matches_signature(group: dict[str, Any], wanted: str) -> bool:
    """True when ``wanted`` is the group's signature id (or a prefix of it) or part of its text."""
    wanted = wanted.strip()
    return group["signature_id"].startswith(wanted.lower()) or wanted.lower() in group["signature"].lower()


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)
