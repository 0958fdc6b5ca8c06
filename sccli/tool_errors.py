"""The one line of a tool's output that names why it failed.

rclone, rsync and 7z print kilobytes on failure: progress, retries, the same request URL on every
attempt. The job's error (and so its failure signature) is the last line that reads as an error,
with the tool's timestamp and log-level prefixes removed and URLs cut to their host; the whole
output stays in the job log. Pure text functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Words that mark a line as an error report rather than progress or chatter.
_ERROR_WORD = re.compile(
    r"\b(?:error|errors|failed|failure|fatal|denied|refused|cannot|can't|can not|couldn't|could not|unable|"
    r"no such|not found|invalid|timeout|timed out|unreachable|forbidden|unauthorized|exceeded)\b",
    re.IGNORECASE,
)
# rclone's "2024/05/01 10:00:00 ERROR : " and similar date, time and level prefixes.
_PREFIX = re.compile(
    r"^\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\s*(?:(?:ERROR|NOTICE|CRITICAL|FATAL)\s*:\s*)?"
)
# A quoted or bare URL: the host is what tells causes apart, the path and query are noise.
_URL = re.compile(r"\"?\b([a-z][a-z0-9+.-]*://[^/\s\"]+)([^\s\"]*)\"?", re.IGNORECASE)
# Lines that carry no cause: rclone's retry bookkeeping and its closing statistics.
_CHATTER = re.compile(r"^(?:Attempt \d+/\d+ (?:failed|succeeded)|Errors:\s*\d+|Elapsed time:|Transferred:|Checks:)")
#: The longest line kept as an error; longer ones keep their start and their end (the cause).
MAX_LINE = 300
#: How run_tool joins a tool's last output lines in older stored errors.
JOIN = " | "


def clean_line(line: str) -> str:
    """``line`` without its timestamp/level prefix, with each URL cut to scheme and host."""
    text = _PREFIX.sub("", line.strip(), count=1).strip()
    text = _URL.sub(lambda m: m.group(1) + ("/…" if m.group(2).strip("/") else ""), text)
    if len(text) > MAX_LINE:
        half = MAX_LINE // 2 - 1
        text = f"{text[:half]} … {text[-half:]}"
    return text


def last_error_line(lines: Sequence[str]) -> str:
    """The last line of ``lines`` that reads as an error (cleaned), else the last non-blank one.

    >>> last_error_line(["Transferred: 0 B", "2024/05/01 10:00:00 ERROR : x: dial tcp: no such host", "Errors: 1"])
    'x: dial tcp: no such host'
    """
    cleaned = [clean_line(line) for line in lines if line.strip()]
    for text in reversed(cleaned):
        if text and _ERROR_WORD.search(text) and not _CHATTER.match(text):
            return text
    return next((text for text in reversed(cleaned) if text), "")


def summarize_failure(tool: str, code: int, lines: Sequence[str]) -> str:
    """The job error for a tool that exited with ``code``: its name, the code and one line."""
    line = last_error_line(lines)
    return f"{tool} failed with exit code {code}: {line}" if line else f"{tool} failed with exit code {code}"
