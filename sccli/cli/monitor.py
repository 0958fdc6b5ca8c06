"""``sc monitor``: overview (with --watch and --check), stale, failed, report, metrics, cleanup."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.confirm import YesOpt, confirm_write
from sccli.cli.context import Application, envelope
from sccli.cli.options import FormatOpt, JsonOpt, finite
from sccli.errors import EXIT_CHECK_FAILED, InvalidInput

if TYPE_CHECKING:
    from sccli.monitor import JobMonitor

app = typer.Typer(
    help="Monitor the queue for on-call: health, stale and failed jobs, reports, metrics, cleanup.",
    no_args_is_help=True,
)

#: Longest windows accepted (ten years): beyond them a window is a typo, and dates overflow.
MAX_DAYS = 3650
MAX_HOURS = 24.0 * MAX_DAYS
#: A cleanup deleting at least this many jobs shows a progress bar (on a terminal).
PROGRESS_THRESHOLD = 5000


def monitor_for(a: Application) -> JobMonitor:
    from sccli.monitor import JobMonitor

    return JobMonitor(queue=a.queue(), settings=a.settings)


@app.command("overview")
def overview(
    ctx: typer.Context,
    watch: Annotated[
        bool,
        typer.Option("--watch", "-w", help="Redraw the overview live until Ctrl-C; `--watch 5` redraws every 5 s."),
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.2, max=86400, callback=finite, help="Seconds between redraws with --watch."),
    ] = 2.0,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Print one status line and exit 0 healthy, 1 warning, 2 critical, 3 unknown (Nagios)."
        ),
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    section: Annotated[
        Optional[str],
        typer.Option(
            "--section",
            help="Only this table: queue, paused, types, services or failures (needed by --format csv/jsonl).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Queue counts by status and type, health and its issues, active services, recent activity, errors.

    \b
    Example: sc monitor overview --watch 5
    """
    from sccli.cli import monitor_view

    a: Application = ctx.obj
    if check:
        monitor_view.overview_check(a)
    if watch:
        _watch(a, monitor_view.read_monitor(a), interval)
        return
    monitor_view.overview_once(a, fmt, as_json, section)


def _watch(a: Application, monitor: JobMonitor, interval: float) -> None:
    import time

    from rich.live import Live

    from sccli.cli.monitor_view import overview_frame

    try:
        with Live(
            overview_frame(monitor.get_queue_overview()), console=a.console, auto_refresh=False, screen=False
        ) as live:
            while True:
                time.sleep(interval)
                live.update(overview_frame(monitor.get_queue_overview()), refresh=True)
    except KeyboardInterrupt:
        return


@app.command("stale")
def stale(
    ctx: typer.Context,
    requeue: Annotated[
        bool,
        typer.Option(
            "--requeue", help="Recover them now: back to pending, or failed when no attempt is left (fenced by lease)."
        ),
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Running jobs whose service died, whose heartbeat stopped, or that ran past their timeout.

    \b
    Example: sc monitor stale --requeue
    """
    a: Application = ctx.obj
    monitor = monitor_for(a)
    jobs = monitor.get_stale_jobs()
    recovered = monitor.requeue_stale_jobs() if requeue else None
    data = {"stale_jobs": jobs, "requeued": recovered} if requeue else envelope(jobs)
    a.emit(data, lambda _: _print_stale(a, jobs, recovered, fmt), as_json=as_json)


def _print_stale(
    a: Application, jobs: list[dict[str, Any]], recovered: list[dict[str, Any]] | None, fmt: FormatOpt
) -> None:
    from sccli.monitor.stale import REASONS

    rows = [{**j, "why": REASONS[j["stale_reason"]]} for j in jobs]
    a.print_table(
        rows, ["job_id", "job_type", "worker_id", "attempts", "heartbeat_age_seconds", "running_seconds", "why"],
        fmt=fmt, headers=["JOB ID", "TYPE", "WORKER", "TRIES", "BEAT AGE S", "RUNNING S", "WHY"],
    )
    if recovered is not None:
        moved = sum(1 for r in recovered if r["status"])
        a.info(
            f"requeued {moved} of {len(recovered)} stale jobs ({len(recovered) - moved} changed "
            "meanwhile and were left alone)"
        )


@app.command("failed")
def failed(
    ctx: typer.Context,
    hours: Annotated[
        float, typer.Option("--hours", min=0.01, max=MAX_HOURS, callback=finite, help="Look back this many hours.")
    ] = 24.0,
    job_type: Annotated[
        Optional[str], typer.Option("--type", "-t", help="Only this job type.", autocompletion=complete.job_types)
    ] = None,
    signature: Annotated[
        Optional[str],
        typer.Option(
            "--signature", help="Only this signature (its id, or part of its text).", autocompletion=complete.signatures
        ),
    ] = None,
    retry: Annotated[
        bool, typer.Option("--retry", help="Retry the failed jobs of the listed groups (asks first; --yes in scripts).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --retry: show what would be retried.")] = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Failed jobs grouped by error signature and type: counts, first/last seen, how many had tries left.

    With --retry the count is confirmed (--yes without a terminal); a job whose retry is refused
    (e.g. its dataset already has an active job of the type) is named with the reason, exit 1.

    \b
    Example: sc monitor failed --hours 6 --type google_sync
    Example: sc monitor failed --retry --signature 11c01b15 --yes
    """
    a: Application = ctx.obj
    if job_type is not None:
        a.queue().check_type(job_type)
    if signature is not None and not signature.strip():
        raise InvalidInput("--signature is empty (give a signature's id or part of its text)")
    monitor = monitor_for(a)
    groups = monitor.get_failure_groups(hours, job_type, signature)
    if retry and not dry_run and groups:
        confirm_write(a, f"Retry {sum(g['count'] for g in groups)} failed job(s) in {a.store.display_url}?", yes)
    result = monitor.retry_failed_jobs(hours, job_type, signature, dry_run=dry_run) if retry else None
    data = {"groups": groups, "retry": result} if retry else envelope(groups)
    a.emit(data, lambda _: _print_failures(a, groups, result, hours, dry_run, fmt), as_json=as_json)
    _exit_if_refused(result)


def _print_failures(
    a: Application, groups: list[dict[str, Any]], result: dict[str, Any] | None, hours: float, dry_run: bool,
    fmt: FormatOpt,
) -> None:
    from sccli.cli.monitor_view import machine_format

    rows = (
        groups
        if machine_format(fmt)
        else [{**g, "retry_available": f"{g['retry_available']} of {g['count']}"} for g in groups]
    )
    # "HAD TRIES LEFT": how many of the group failed before using all their attempts (a permanent error)
    a.print_table(
        rows, ["signature_id", "job_type", "count", "first_seen", "last_seen", "retry_available", "signature"], fmt=fmt,
        title=f"Failures in the last {hours:g} h",
        headers=["ID", "TYPE", "COUNT", "FIRST SEEN", "LAST SEEN", "HAD TRIES LEFT", "SIGNATURE"],
    )
    if result is not None:
        for refused in result["skipped"]:
            a.notice(f"refused {refused['job_id']}: {refused['reason']}")
        verb = "would retry" if dry_run else "retried"
        refused = f"; {len(result['skipped'])} refused" if result["skipped"] else ""
        a.info(f"{verb} {len(result['retried'])} jobs{refused}")


def _exit_if_refused(result: dict[str, Any] | None) -> None:
    """Exit 1 when a retry was refused (as ``sc job retry`` does): a script must not take it for done."""
    if result is not None and result["skipped"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("report")
def report(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=MAX_DAYS, help="Report on this many days back.")] = 7,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per type: jobs, success rate, duration avg/p50/p95/max (s), retries, timeouts; a per-day chart; advice.

    With --format plain, markdown or csv only the table goes to stdout (the rest to stderr).

    \b
    Example: sc monitor report --days 7 --format csv > report.csv
    """
    from sccli.cli import monitor_view

    a: Application = ctx.obj
    data = monitor_for(a).get_performance_report(days)
    a.emit(data, lambda _: monitor_view.print_report(a, data, fmt), as_json=as_json)


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    hours: Annotated[int, typer.Option("--hours", min=1, max=int(MAX_HOURS),
                                       help="Window of the --json duration and throughput figures.")] = 24,
    as_json: JsonOpt = False,
) -> None:
    """The queue's gauges in Prometheus text format, as the API's /metrics (node-exporter textfile
    collector); --json: the monitor's figures over --hours. Counters of finished jobs and
    histograms of durations come from each service (sc service run --metrics-port).

    \b
    Example: sc monitor metrics > /var/lib/node_exporter/sc.prom
    """
    a: Application = ctx.obj
    if as_json:
        a.print_json(monitor_for(a).get_performance_metrics(hours))
    else:
        from sccli.monitor.metrics import queue_metrics_text

        sys.stdout.write(queue_metrics_text(monitor_for(a)))


@app.command("cleanup")
def cleanup(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=1, max=MAX_DAYS,
            help="Delete completed and cancelled jobs older than this (failed: twice this).",
        ),
    ] = 30,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete old finished jobs, their events and their log files sc_job_<id>.log in the settings'
    log_dir (global --settings; default /tmp), and the orphaned partial outputs (.sc-partial-*) of
    ended jobs in the data directories; never pending or running jobs. Safe from cron:
    silent on success unless -v or --json, errors on stderr.

    \b
    Example: sc --settings /etc/sccli/settings.json monitor cleanup --days 30
    """
    a: Application = ctx.obj
    monitor = monitor_for(a)
    preview = monitor.cleanup_old_data(days, dry_run=True, log_files=dry_run)
    total = preview["completed_jobs_deleted"] + preview["failed_jobs_deleted"] + preview["cancelled_jobs_deleted"]
    if dry_run:
        result = preview
    elif total:
        result = _cleanup_with_progress(a, monitor, days, total)
    else:  # nothing to do: exit 0 without a second pass
        nothing = {"job_events_deleted": 0, "log_files_deleted": 0, "log_bytes_deleted": 0, "log_files_failed": 0}
        result = {**preview, **nothing, "dry_run": False, "log_dir": a.settings.log_dir}
    result = {**result, **monitor.sweep_partials(dry_run=dry_run)}
    if result["log_files_failed"]:
        a.warn(f"{result['log_files_failed']} job log files could not be deleted ({result['log_error']})")
    if result["partials_failed"]:
        a.warn(f"{result['partials_failed']} orphaned partial outputs could not be removed ({result['partial_error']})")
    a.emit(result, lambda done: _print_cleanup(a, done, days, dry_run), as_json=as_json)


def _print_cleanup(a: Application, result: dict[str, Any], days: int, dry_run: bool) -> None:
    # -v comes with the global flags
    if not dry_run and not (getattr(a, "verbosity", 0) or getattr(a, "verbose", False)):
        return  # cron mails whatever a job prints: silent on success, errors go to stderr
    verb = "would delete" if dry_run else "deleted"
    events = "" if result["job_events_deleted"] is None else f", {result['job_events_deleted']} events"
    a.result(f"{verb} {result['completed_jobs_deleted']} completed, {result['failed_jobs_deleted']} failed and "
             f"{result['cancelled_jobs_deleted']} cancelled jobs{events} and {result['log_files_deleted']} log files "
             f"({result['log_bytes_deleted']} bytes in {result['log_dir']}) "
             f"(older than {days} days; failed: {2 * days} days)"
             f" and {result['partials_removed']} orphaned partial outputs of ended jobs")


def _cleanup_with_progress(a: Application, monitor: JobMonitor, days: int, total: int) -> dict:
    if total < PROGRESS_THRESHOLD or not a.err.is_terminal:
        return monitor.cleanup_old_data(days)
    from rich.progress import Progress

    with Progress(console=a.err, transient=True) as bar:
        task = bar.add_task("deleting old jobs", total=total)
        return monitor.cleanup_old_data(days, progress=lambda done, _total: bar.update(task, completed=done))
