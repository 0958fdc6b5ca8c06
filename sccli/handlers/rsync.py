"""rsync_transfer: ``rsync`` between a data directory and another data directory or an allowed host.

Parameters: ``source`` and ``destination`` (a local path inside the data directories, or
``[user@]host:path`` / ``rsync://host/...`` where ``host`` is in ``settings.rsync_allowed_hosts``;
at least one side is local), ``options`` (list, from an allow-list; default ``["-a"]``).

Never allowed: anything that runs a program (``-e``/``--rsh``, ``--rsync-path``, ``--daemon``,
``--filter``/``-F`` merge rules, ``--config``), anything that follows links out of the tree
(``-L``, ``-k``, ``-K``, ``--copy-*links``), extended attributes (``-X``: file capabilities),
``--chmod`` modes with ``s`` or ``t``, and anything else not on the allow-list;
``--files-from``/``--exclude-from``/``--include-from`` only with a file inside the data
directories. Always added: ``--chmod=ug-s,a-t`` (last, so no setuid, setgid or sticky bit
reaches the destination), ``--no-devices --no-specials``, ``--safe-links`` (links pointing out
of the transferred tree are skipped), ``--partial-dir`` (resumable), ``--temp-dir`` (a local
destination's in-flight files live in ``<destination>/.sc-rsync-tmp``, so a kill leaves nothing
half-written among the real files; cleanup removes both), ``--info=progress2`` (progress),
``--protect-args``, and ``--`` before the paths. A local destination is a directory (created
when missing). A local source with a link leading out of the data directories is refused.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, PermanentError, ScError
from sccli.handlers.base import JobContext, confine_path
from sccli.handlers.containment import check_tree
from sccli.handlers.params import get_str, get_str_list
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import remove_path
from sccli.handlers.tools import require_tool, run_tool
from sccli.settings import Settings

JOB_TYPE = "rsync_transfer"
PARTIAL_DIR = ".sc-rsync-partial"
TEMP_DIR = ".sc-rsync-tmp"

#: Short flags that only change what is copied or how it is reported.
SHORT_FLAGS = set("arvzcltpgoHhunSxWqiAmOJ")
#: Long options allowed as they are.
LONG_FLAGS = {
    "--archive", "--recursive", "--verbose", "--compress", "--checksum", "--links", "--times", "--perms", "--group",
    "--owner", "--hard-links", "--human-readable", "--update", "--dry-run", "--sparse", "--one-file-system",
    "--whole-file", "--quiet", "--itemize-changes", "--acls", "--prune-empty-dirs", "--omit-dir-times", "--delete",
    "--delete-after", "--delete-delay", "--delete-excluded", "--ignore-existing", "--existing", "--size-only",
    "--no-perms", "--no-owner", "--no-group", "--no-times", "--numeric-ids", "--safe-links", "--stats", "--inplace",
    "--append-verify", "--mkpath", "--list-only", "--ignore-times",
}
#: Long options taking a harmless value (``--opt=value``).
VALUE_OPTIONS = {
    "--exclude", "--include", "--bwlimit", "--max-size", "--min-size", "--timeout", "--contimeout", "--chmod",
    "--compress-level", "--max-delete", "--modify-window",
}
#: Long options whose value is a file that must be inside the data directories.
FILE_OPTIONS = {"--files-from", "--exclude-from", "--include-from"}
#: Always last among the options: whatever the user's modes, no special permission bit survives.
FORCED_OPTIONS = ["--chmod=ug-s,a-t", "--no-devices", "--no-specials", "--safe-links"]

_REMOTE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(?P<path>.*)$")
_DAEMON = re.compile(r"^rsync://(?:[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+)(?::\d+)?/(?P<path>.*)$")


def sets_special_bits(modes: str) -> bool:
    """Whether a ``--chmod`` value names setuid, setgid or sticky (``u+s``, ``+t``, ``D2775``)."""
    for clause in modes.split(","):
        bits = clause.lstrip("DF")
        if "s" in bits or "t" in bits or (bits.isdigit() and set(bits) <= set("01234567") and int(bits, 8) & 0o7000):
            return True
    return False


def check_option(option: str, settings: Settings, dataset_uuid: str | None = None) -> str:
    """The option unchanged when it is allowed; InvalidInput naming it otherwise."""
    if not isinstance(option, str) or not option.startswith("-"):
        raise InvalidInput(f"rsync option {option!r} is not an option")
    if option.startswith("--"):
        name, eq, value = option.partition("=")
        if name == "--chmod" and eq and sets_special_bits(value):
            raise InvalidInput(f"rsync option {option!r} is not allowed: no setuid, setgid or sticky bits")
        if option in LONG_FLAGS or (eq and name in VALUE_OPTIONS and value):
            return option
        if eq and name in FILE_OPTIONS:
            confine_path(value, settings.data_dirs, must_exist=True, dataset_uuid=dataset_uuid)
            return option
        raise InvalidInput(f"rsync option {option!r} is not allowed")
    flags = option[1:]
    if not flags or not set(flags) <= SHORT_FLAGS:
        bad = "".join(sorted(set(flags) - SHORT_FLAGS)) or option
        raise InvalidInput(f"rsync option {option!r} is not allowed (flag {bad!r})")
    return option


def check_location(text: str, settings: Settings, dataset_uuid: str | None = None) -> tuple[str, bool]:
    """(argument for rsync, is_local). A local path is confined; a remote's host must be allowed."""
    if not isinstance(text, str) or not text or text.startswith("-"):
        raise InvalidInput(f"rsync location {text!r} is not a path")
    match = _DAEMON.match(text) or (_REMOTE.match(text) if not text.startswith(("/", ".")) else None)
    if match:
        host = match.group("host").strip("[]")
        if host not in settings.rsync_allowed_hosts:
            raise InvalidInput(f"rsync host {host!r} is not in settings.rsync_allowed_hosts")
        return text, False
    trailing = "/" if text.endswith("/") else ""
    return str(confine_path(text, settings.data_dirs, dataset_uuid=dataset_uuid)) + trailing, True


def run(ctx: JobContext) -> dict[str, Any]:
    """Run rsync; result: source, destination, bytes and files transferred, duration."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    own = ctx.dataset_uuid
    options = [check_option(o, ctx.settings, own) for o in get_str_list(ctx.params, "options", ["-a"])]
    source, source_local = check_location(get_str(ctx.params, "source"), ctx.settings, own)
    destination, dest_local = check_location(get_str(ctx.params, "destination"), ctx.settings, own)
    if not (source_local or dest_local):
        raise InvalidInput("rsync between two remote hosts is not allowed: one side must be a data directory")
    if source_local and not Path(source.rstrip("/") or "/").exists():
        raise InvalidInput(f"rsync source {source} does not exist")
    if source_local:
        check_tree(Path(source.rstrip("/") or "/"), ctx.scope, what="rsync source")
    staging: list[str] = []
    if dest_local:
        temp = Path(destination) / TEMP_DIR
        temp.mkdir(parents=True, exist_ok=True)
        staging = [f"--temp-dir={temp}"]
    argv = [
        require_tool("rsync"), *options, *FORCED_OPTIONS, f"--partial-dir={PARTIAL_DIR}", *staging,
        "--exclude=.sc-rsync-*", "--info=progress2,stats2", "--no-inc-recursive", "--protect-args", "--", source,
        destination,
    ]
    last = [0.0]

    def on_line(line: str) -> None:
        match = re.search(r"\s(\d{1,3})%\s", f" {line} ")
        if match and time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            ctx.progress(float(match.group(1)), line.strip()[:120])

    try:
        lines = run_tool(ctx, argv, on_line=on_line, keep=60, quiet=lambda line: "%" in line and "to-chk" in line,
                         classify=_classify)
    finally:
        if dest_local:  # the partial dir stays for a resumed retry; in-flight temporaries do not
            remove_path(Path(destination) / TEMP_DIR)
    stats = parse_stats(lines)
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "transferred")
    return {
        "status": "success",
        "message": f"rsync {source} -> {destination}: {stats.get('files_transferred', '?')} files, "
        f"{stats.get('bytes_transferred', '?')} bytes in {duration}s",
        "source": source,
        "destination": destination,
        "options": options,
        "duration_seconds": duration,
        **stats,
    }


def parse_stats(lines: list[str]) -> dict[str, int]:
    """Numbers from rsync's ``--stats`` summary."""
    wanted = {
        "Number of files": "files", "Number of regular files transferred": "files_transferred",
        "Total file size": "total_bytes", "Total transferred file size": "bytes_transferred",
    }
    stats: dict[str, int] = {}
    for line in lines:
        label, sep, value = line.partition(":")
        if sep and label.strip() in wanted:
            digits = re.match(r"\s*([\d,.]+)", value)
            if digits:
                stats[wanted[label.strip()]] = int(digits.group(1).replace(",", "").replace(".", ""))
    return stats


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove rsync's temporary and partial-file directories from a local destination."""
    destination = (job.get("parameters") or {}).get("destination")
    if not isinstance(destination, str):
        return
    try:
        _, local = check_location(destination, settings)
    except InvalidInput:
        return
    if not local:
        return
    root = confine_path(destination, settings.data_dirs)
    if not root.is_dir():
        return
    for path in [root / TEMP_DIR, *root.rglob(PARTIAL_DIR)]:
        if path.is_dir() and not path.is_symlink():
            remove_path(path)


#: rsync's exit codes for a refusal of the command itself: 1 syntax or usage error, 2 protocol
#: incompatibility. The same command fails the same way again: permanent, not retried.
USAGE_EXIT_CODES = (1, 2)


def _classify(code: int, lines: list[str]) -> type[ScError] | None:
    return PermanentError if code in USAGE_EXIT_CODES else None
