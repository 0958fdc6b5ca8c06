"""google_sync: copy a Google Drive folder into ``<sync_data_dir>/<uuid>`` with ``rclone``.

Parameters: ``data_url`` (or ``google_drive_link``; a Drive folder link or a bare folder id),
``user_email`` (impersonated when ``impersonate`` is true: domain-wide delegation),
``service_account_file`` (a file name inside ``auth_dir``; default: the only ``*.json`` there),
``destination`` (default ``<sync_data_dir>/<uuid>``). ``input_path``, ``output_path``,
``sensor_type`` and ``conversion_params`` (from the migration) are not used here: they are
carried to the chained conversion, whose output ``output_path`` is.

The drive remote reaches rclone one key per environment variable (``RCLONE_CONFIG_SCSOURCE_<KEY>``),
so no value can add a key (issue 19: a newline in ``user_email`` once added ``type = alias``), and
a control character in any value is refused before rclone starts. ``--config`` names an empty
private (0600) temporary file deleted after the run: nothing is read from the user's own rclone
config. Files land in
``.<uuid>.sc-partial-<job_id>`` and the folder is swapped in on success (a re-sync downloads
everything again: rclone's local backend cannot seed it server-side, and hard-linked seeds
would be rewritten in place by rclone 1.60). The chained conversion gets
``input_path`` = the synced folder.

Test and offline override: ``rclone_source`` (a directory inside the data directories) replaces
the Drive remote with an rclone ``local`` remote on that directory, so the same command line,
config file and progress parsing run without Google. It cannot name anything outside the data
directories.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.base import JobContext
from sccli.handlers.containment import strip_tree_bits
from sccli.handlers.manifest import walk_files
from sccli.handlers.params import get_bool, get_str
from sccli.handlers.specs import check_parameters, control_character
from sccli.handlers.staging import partial_path, promote, remove_partials, remove_path
from sccli.handlers.tools import require_tool, run_tool
from sccli.settings import Settings

JOB_TYPE = "google_sync"
REMOTE = "scsource"
_FOLDER_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_STATS_PERCENT = re.compile(r"(\d{1,3})%")


def folder_id(link: str) -> str:
    """The folder id of a Drive link (``.../folders/<id>``, ``?id=<id>``) or a bare id."""
    for pattern in (r"/folders/([A-Za-z0-9_-]+)", r"[?&]id=([A-Za-z0-9_-]+)"):
        match = re.search(pattern, link)
        if match:
            return match.group(1)
    if _FOLDER_ID.match(link):
        return link
    raise InvalidInput(f"data_url {link!r} is not a Google Drive folder link or id")


def service_account(ctx: JobContext) -> Path:
    """The service-account JSON in ``auth_dir`` (named, or the only one there)."""
    auth = Path(ctx.settings.auth_dir).resolve()
    name = ctx.params.get("service_account_file")
    if name is not None:
        path = (auth / get_str(ctx.params, "service_account_file")).resolve()
        if auth not in path.parents:
            raise InvalidInput("service_account_file must name a file inside auth_dir")
    else:
        found = sorted(auth.glob("*.json")) if auth.is_dir() else []
        if len(found) != 1:
            raise PermanentError(
                f"auth_dir {auth} must hold exactly one service-account *.json (found {len(found)}); or set "
                "service_account_file"
            )
        path = found[0]
    if not path.is_file():
        raise InvalidInput(f"service-account file {path} does not exist")
    check_key(path)
    return path


def check_key(path: Path) -> None:
    """PermanentError unless ``path`` holds a service-account key's shape (rclone would fail on
    it at every attempt: a malformed key is not a transient failure)."""
    try:
        key = json.loads(path.read_text(errors="replace"))
    except ValueError:
        raise PermanentError(f"{path.name} is not valid JSON") from None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise PermanentError(f"{path.name} is not a Google service-account key")
    email, private = key.get("client_email"), key.get("private_key")
    if not (isinstance(email, str) and "@" in email and isinstance(private, str) and "PRIVATE KEY-----" in private):
        raise PermanentError(f"{path.name} is a malformed service-account key (no client_email or PEM private_key)")


def remote_config(ctx: JobContext) -> tuple[dict[str, str], str]:
    """(the remote's rclone configuration keys, source path on the remote)."""
    local = ctx.params.get("rclone_source")
    if local is not None:
        path = ctx.confine(get_str(ctx.params, "rclone_source"), must_exist=True)
        return {"type": "local"}, str(path)
    link = ctx.params.get("data_url") or ctx.params.get("google_drive_link")
    if not link:
        raise InvalidInput("parameter 'data_url' (a Google Drive folder link) is required")
    root = folder_id(get_str({"data_url": link}, "data_url"))
    account = service_account(ctx)
    keys = {"type": "drive", "scope": "drive.readonly", "service_account_file": str(account), "root_folder_id": root}
    if get_bool(ctx.params, "impersonate", False):
        keys["impersonate"] = get_str(ctx.params, "user_email")
    return keys, ""


def rclone_env(keys: dict[str, str]) -> dict[str, str]:
    """The remote's keys as rclone's per-key environment variables: a value is one key's value
    whatever it holds; a control character is refused all the same (a tool may log or re-parse it)."""
    env: dict[str, str] = {}
    for key, value in keys.items():
        bad = control_character(value)
        if bad is not None:
            raise InvalidInput(f"rclone setting {key!r} contains a control character ({bad!r}): {value!r}")
        env[f"RCLONE_CONFIG_{REMOTE.upper()}_{key.upper()}"] = value
    return env


def run(ctx: JobContext) -> dict[str, Any]:
    """Sync the folder; result: files, bytes, duration, destination; next_parameters.input_path."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    final = ctx.confine(ctx.params.get("destination") or Path(ctx.settings.sync_data_dir) / ctx.dataset_uuid)
    keys, source_path = remote_config(ctx)
    remote_env = rclone_env(keys)
    rclone = require_tool("rclone")
    partial = partial_path(final, ctx.attempt)
    partial.mkdir(parents=True, exist_ok=True)
    fd, config_path = tempfile.mkstemp(prefix=f"sc-rclone-{ctx.job['job_id']}-", suffix=".conf")
    os.close(fd)  # empty and 0600: rclone reads no other config and writes nothing readable elsewhere
    try:
        argv = [
            rclone, "copy", f"{REMOTE}:{source_path}", str(partial), "--config", config_path, "--stats", "1s",
            "--stats-one-line", "--stats-log-level", "NOTICE", "--use-mmap", "--checkers", "8", "--transfers", "4",
            "--retries", "3",
        ]
        run_tool(ctx, argv, on_line=lambda line: _progress(ctx, line), env=_tool_env(config_path, remote_env))
        strip_tree_bits(partial)
        promote(partial, final, ctx=ctx)
    except BaseException:
        remove_path(partial)
        raise
    finally:
        Path(config_path).unlink(missing_ok=True)
    files = list(walk_files(final))
    size = sum(p.stat().st_size for p in files)
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "synced")
    return {
        "status": "success", "message": f"synced {len(files)} files ({size} bytes) in {duration}s",
        "destination": str(final), "files": [p.relative_to(final).as_posix() for p in files][:1000],
        "file_count": len(files), "bytes": size, "duration_seconds": duration,
        "next_parameters": {"input_path": str(final)},
    }


def _tool_env(config_path: str, remote_env: dict[str, str]) -> dict[str, str]:
    """The service's environment without any inherited ``RCLONE_CONFIG_*`` remote, plus ours."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_CONFIG_")}
    return {**inherited, "RCLONE_CONFIG": config_path, **remote_env}


def _progress(ctx: JobContext, line: str) -> None:
    match = _STATS_PERCENT.search(line)
    if match and ("Transferred" in line or "ETA" in line or "/s" in line):
        ctx.progress(min(99.0, float(match.group(1))), line.split(": ", 1)[-1][:120])


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove the partial sync folder and the private rclone config a killed sync left."""
    remove_partials(job, settings, "destination")
    for config in Path(tempfile.gettempdir()).glob(f"sc-rclone-{job.get('job_id')}-*.conf"):
        config.unlink(missing_ok=True)
