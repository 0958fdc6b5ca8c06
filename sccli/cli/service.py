"""``sc service``: run the background service, list services, stop one."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer

from sccli.cli.context import Application
from sccli.cli.options import FormatOpt, JsonOpt

app = typer.Typer(help="Run the background service that executes jobs, list services, stop one.", no_args_is_help=True)

STATUS_COLUMNS = ["worker_id", "host", "pid", "state", "started_at", "heartbeat_at", "beat_age_s", "slots", "running", "types"]
STATUS_HEADERS = ["WORKER", "HOST", "PID", "STATE", "STARTED", "LAST BEAT", "AGE S", "SLOTS", "RUNNING", "TYPES"]


@app.command("run")
def run(
    ctx: typer.Context,
    settings_file: Annotated[Optional[str], typer.Argument(metavar="SETTINGS.json", help="Settings file (else --settings, else defaults).", show_default=False)] = None,
    pid_file: Annotated[Optional[str], typer.Option("--pid-file", help="Write the PID here; refuse to start while another live service holds it.")] = None,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit 0 once nothing is pending or running (cron, demos).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line.")] = False,
    worker_id: Annotated[Optional[str], typer.Option("--worker-id", help="Name of this service in the workers collection (default HOST:PID).")] = None,
) -> None:
    """Claim and run jobs, each in a child process of its own, until SIGTERM (drain) or idle."""
    from sccli.service import run_service
    from sccli.service.config import ServiceOptions

    a: Application = ctx.obj
    if settings_file:
        a.settings_path = settings_file
    options = ServiceOptions(pid_file=pid_file, until_idle=until_idle, worker_id=worker_id, verbose=verbose, log_json=log_json)
    raise typer.Exit(run_service(a.store, a.settings, options))


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """List services from their heartbeats: host, pid, started, last beat, running jobs; dead ones marked."""
    from sccli.service.status import service_rows

    a: Application = ctx.obj
    rows = service_rows(a.store, a.settings.stale_after_seconds)
    if as_json:
        a.print_json(rows)
    elif not rows:
        a.info("no service has registered yet (start one with: sc service run SETTINGS.json)")
    else:
        a.print_table(rows, STATUS_COLUMNS, fmt=fmt, headers=STATUS_HEADERS, title="services")


@app.command("stop")
def stop(
    ctx: typer.Context,
    pid_file: Annotated[Optional[str], typer.Option("--pid-file", help="PID file the service was started with.")] = None,
    worker_id: Annotated[Optional[str], typer.Option("--worker-id", help="Stop this service (from sc service status); it must run on this host.")] = None,
    now: Annotated[bool, typer.Option("--now", help="Do not drain: a second signal stops running jobs at once.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the service to exit (0: do not wait).")] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Send SIGTERM to a service (it drains), and wait for it to exit.

    The service is the one in --pid-file, the one named by --worker-id, or else the only live
    service on this host (from the heartbeat documents). A PID that cannot be proven to be that
    service (a stale PID file, a reused PID) is never signalled."""
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
    if as_json:
        a.print_json({"pid": pid, "signalled": True, "stopped": stopped})
    elif stopped:
        a.info(f"service {pid} stopped")
    else:
        a.info(f"service {pid} signalled; still draining" if wait > 0 else f"service {pid} signalled")
    if wait > 0 and not stopped:
        raise typer.Exit(1)
