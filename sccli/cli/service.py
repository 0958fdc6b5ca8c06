"""``sc service``: run the background service, list services, stop one."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer

from sccli.cli.context import Application, envelope
from sccli.cli.options import FormatOpt, JsonOpt, finite
from sccli.cli.render import cell

app = typer.Typer(help="Run the background service that executes jobs, list services, stop one.", no_args_is_help=True)

STATUS_COLUMNS = [
    "worker_id", "host", "pid", "state", "started_at", "heartbeat_at", "beat_age_s", "slots", "running", "types",
    "paused",
]
STATUS_HEADERS = [
    "WORKER", "HOST", "PID", "STATE", "STARTED", "LAST BEAT", "AGE S", "SLOTS", "RUNNING", "TYPES", "PAUSED",
]


@app.command("run")
def run(
    ctx: typer.Context,
    settings_file: Annotated[
        Optional[str],
        typer.Argument(
            metavar="SETTINGS.json", help="Settings file (else --settings, else defaults).", show_default=False
        ),
    ] = None,
    pid_file: Annotated[
        Optional[str],
        typer.Option("--pid-file", help="Write the PID here; refuse to start while another live service holds it."),
    ] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit 0 once nothing is pending or running (cron, demos).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line.")] = False,
    worker_id: Annotated[
        Optional[str],
        typer.Option("--worker-id", help="Name of this service in the workers collection (default HOST:PID)."),
    ] = None,
    metrics_port: Annotated[
        Optional[int],
        typer.Option("--metrics-port", min=1, max=65535, help="Serve this service's metrics at http://HOST:N/metrics."),
    ] = None,
) -> None:
    """Claim and run jobs, each in a child process of its own, until SIGTERM (drain) or idle.

    \b
    Example: sc service run /etc/sccli/settings.json --pid-file /run/sc-service/sc-service.pid --metrics-port 9464
    """
    from sccli.service import run_service
    from sccli.service.config import ServiceOptions

    a: Application = ctx.obj
    if settings_file:
        a.settings_path = settings_file
    options = ServiceOptions(pid_file=pid_file, until_idle=until_idle, worker_id=worker_id,
                             verbose=verbose or a.verbosity > 1, log_json=log_json, metrics_port=metrics_port)
    raise typer.Exit(run_service(a.store_for_write, a.settings, options))


@app.command("unit")
def unit(
    ctx: typer.Context,
    which: Annotated[
        str, typer.Argument(metavar="[service|api]", help="Which unit: the job service or the API.")
    ] = "service",
    user: Annotated[str, typer.Option("--user", help="User (and group) the unit runs as.")] = "visus",
    as_json: JsonOpt = False,
) -> None:
    """Print the systemd unit of the service (Type=notify, watchdog, hardened) or of the API.

    The unit starts with the settings file given by --settings (default /etc/sccli/settings.json);
    its write paths come from those settings (data directories, job log directory, a SQLite
    store's directory). Secrets go in /etc/sccli/sccli.env, never in the unit.

    \b
    Example: sc --settings /etc/sccli/settings.json service unit > /etc/systemd/system/sc-service.service
    """
    from sccli.service.units import render_unit

    a: Application = ctx.obj
    target = None if a.target.is_default else a.target
    import os

    path = os.path.abspath(a.settings_path) if a.settings_path else "/etc/sccli/settings.json"
    text = render_unit(which, a.settings, settings_path=path, target=target, user=user)
    a.emit({"unit": which, "text": text}, lambda unit: a.result(unit["text"], nl=False), as_json=as_json)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """List services from their heartbeats: host, pid, started, last beat, running jobs, paused
    types they serve; dead ones marked (until `sc service prune` removes them).

    \b
    Example: sc service status --format plain
    """
    from sccli.service.status import service_rows

    a: Application = ctx.obj
    rows = service_rows(a.store, a.settings.stale_after_seconds)
    paused = _paused(a)
    for row in rows:
        row["paused"] = _paused_for(row, paused)
    a.emit(envelope(rows), lambda listed: _print_status(a, listed["items"], paused, fmt), as_json=as_json)


def _print_status(a: Application, rows: list[dict[str, Any]], paused: dict[str, Any], fmt: FormatOpt) -> None:
    if not rows:
        a.info("no service has registered yet (start one with: sc service run SETTINGS.json)")
    else:
        a.print_table(rows, STATUS_COLUMNS, fmt=fmt, headers=STATUS_HEADERS, title="services")
    if paused:
        a.info(
            "paused: "
            + ", ".join(f"{t} ({info.get('reason') or 'no reason given'})" for t, info in sorted(paused.items()))
            + " — see sc queue status"
        )


def _paused(a: Application) -> dict:
    from sccli.monitor.coverage import paused_job_types

    return paused_job_types(a.store)


def _paused_for(row: dict, paused: dict) -> list[str]:
    """The paused types this service would otherwise claim (``*``: all of them)."""
    if "*" in paused:
        return ["*"]
    served = row.get("types")
    return sorted(t for t in paused if served in (None, "all") or t in (served or []))


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Remove services stopped or dead whose last beat is older than this: 30m, 2h, 7d."
        ),
    ] = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove the workers entries of services that stopped or died long ago (live ones are kept).

    \b
    Example: sc service prune --older-than 2d --dry-run
    """
    from sccli.operations import parse_duration, prune_services

    a: Application = ctx.obj
    gone = prune_services(a.store, parse_duration(older_than), a.settings.stale_after_seconds, dry_run=dry_run)
    report = {"dry_run": dry_run, "removed": [r["worker_id"] for r in gone]}
    a.emit(report, lambda _: _print_pruned(a, gone, dry_run, older_than), as_json=as_json)


def _print_pruned(a: Application, gone: list[dict[str, Any]], dry_run: bool, older_than: str) -> None:
    for row in gone:
        a.result(f"{row['worker_id']}  {row['state']}  last beat {cell(row.get('heartbeat_at'))}")
    a.info(
        f"{'would remove' if dry_run else 'removed'} {len(gone)} service entr{'y' if len(gone) == 1 else 'ies'} "
        f"(stopped or dead, last beat over {older_than} ago)"
    )


@app.command("stop")
def stop(
    ctx: typer.Context,
    pid_file: Annotated[
        Optional[str], typer.Option("--pid-file", help="PID file the service was started with.")
    ] = None,
    worker_id: Annotated[
        Optional[str],
        typer.Option("--worker-id", help="Stop this service (from sc service status); it must run on this host."),
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Do not drain: a second signal stops running jobs at once.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, max=86400, callback=finite,
            help="Seconds to wait for the service to exit (0: do not wait).",
        ),
    ] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Send SIGTERM to a service (it drains), and wait for it to exit.

    The service is the one in --pid-file, the one named by --worker-id, or else the only live
    service on this host (from the heartbeat documents). A PID that cannot be proven to be that
    service (a stale PID file, a reused PID) is never signalled.

    \b
    Example: sc service stop --pid-file /run/sc-service/sc-service.pid --wait 120
    """
    from sccli.service.pidfile import pid_alive, service_pid, signal_service
    from sccli.service.status import local_service_pid

    a: Application = ctx.obj
    if pid_file is not None:
        pid = service_pid(pid_file)  # proven by the file's lock, or refused
    else:
        pid, _ = local_service_pid(a.store, a.settings.stale_after_seconds, worker_id)
    signal_service(pid, twice=now)
    deadline = time.monotonic() + wait
    while wait > 0 and pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = not pid_alive(pid)
    if stopped:
        note = f"service {pid} stopped"
    else:
        note = f"service {pid} signalled; still draining" if wait > 0 else f"service {pid} signalled"
    a.emit({"pid": pid, "signalled": True, "stopped": stopped}, lambda _: a.info(note), as_json=as_json)
    if wait > 0 and not stopped:
        raise typer.Exit(1)
