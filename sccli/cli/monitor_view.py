"""Rendering of ``sc monitor``: one frame builder shared by ``overview`` and ``--watch``, the
report's tables and its per-day bar chart; ``overview`` itself (typer-free, for the fast lane
:mod:`sccli.cli.fast`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

from sccli.cli.render import cell
from sccli.domain import JOB_STATUS_VALUES

if TYPE_CHECKING:
    from sccli.cli.context import Application
    from sccli.monitor import JobMonitor

Section = tuple[str, list[dict[str, Any]], list[str], list[str]]
#: ``--section`` names of the overview's tables, in the order of :func:`overview_sections`.
SECTIONS = ("queue", "limits", "paused", "types", "services", "failures")
HEALTH_STYLES = {"healthy": "bold green", "warning": "bold yellow", "critical": "bold red", "unknown": "bold magenta"}
BAR_WIDTH = 40


def overview_sections(ov: dict[str, Any]) -> list[Section]:
    """The overview as titled tables (rows, columns, headers); "limits" and "paused" only when something is."""
    return [section for name, section in named_sections(ov).items() if name not in ("limits", "paused") or section[1]]


def named_sections(ov: dict[str, Any]) -> dict[str, Section]:
    """The overview's tables by ``--section`` name, in :data:`SECTIONS` order ("limits", "paused" maybe empty)."""
    qs = ov["queue_stats"]
    queue = [
        {"status": s, "jobs": qs[f"{s}_jobs"], "last_24h": ov["recent_activity"].get(s, 0)} for s in JOB_STATUS_VALUES
    ]
    types = [
        {"job_type": t, "jobs": n, "avg_duration": ov["performance_metrics"]["avg_duration_by_type"].get(t)}
        for t, n in qs["job_types"].items()
    ]
    workers = [
        {
            "worker_id": w.get("worker_id"), "host": w.get("host"), "status": w.get("status"),
            "running": w.get("running_count"), "slots": w.get("slots"), "beat_age": w.get("heartbeat_age_seconds"),
        }
        for w in ov["workers"]
    ]
    errors = [
        {"job_type": e["_id"], "count": e["count"], "top_errors": " | ".join(e["errors"][:3])}
        for e in ov["error_summary"]["by_job_type"]
    ]
    paused = [{"job_type": t, **info} for t, info in sorted((ov.get("paused") or {}).items())]
    return {
        "queue": (
            "Queue (updated in the last 24 h)", queue, ["status", "jobs", "last_24h"],
            ["STATUS", "JOBS", "UPDATED 24H"],
        ),
        # only shown when something is limited or paused: sc queue set / sc queue resume change it
        "limits": (
            "Limits (sc queue set)", ov.get("limits") or [], ["job_type", "max_running", "rate", "held"],
            ["TYPE", "MAX RUNNING", "RATE", "HELD NOW"],
        ),
        "paused": (
            "Paused (sc queue resume)", paused, ["job_type", "reason", "actor", "at"],
            ["TYPE", "REASON", "BY", "SINCE"],
        ),
        "types": (
            "Job types (avg duration of the last 24 h, s)", types, ["job_type", "jobs", "avg_duration"],
            ["TYPE", "JOBS", "AVG S"],
        ),
        "services": (
            "Active services", workers, ["worker_id", "host", "status", "running", "slots", "beat_age"],
            ["WORKER", "HOST", "STATUS", "RUNNING", "SLOTS", "BEAT AGE S"],
        ),
        "failures": (
            "Failures in the last 24 h", errors, ["job_type", "count", "top_errors"],
            ["TYPE", "FAILED", "TOP ERROR SIGNATURES"],
        ),
    }


def check_section(section: str | None, fmt: Any) -> None:
    """One table per CSV/JSONL stream: those formats need ``--section``; an unknown name is refused."""
    from sccli.errors import InvalidInput

    if section is None and machine_format(fmt):
        raise InvalidInput(
            f"--format {getattr(fmt, 'value', fmt)} prints one table: choose it with --section ({'|'.join(SECTIONS)})"
        )
    if section is not None and section not in SECTIONS:
        raise InvalidInput(f"--section must be one of {', '.join(SECTIONS)}, got {section[:40]!r}")


def health_line(ov: dict[str, Any]) -> str:
    h = ov["health_status"]
    rate = "n/a" if h["failure_rate"] is None else f"{h['failure_rate']:.1%}"
    head = (
        f"Health: {h['overall'].upper()}  stale jobs: {h['stale_jobs']}  failure rate (1 h): {rate}  active services: "
        f"{h['active_workers']}"
    )
    from sccli.monitor.retention import retention_line

    return "\n".join([head, *(f"  - {issue}" for issue in h["issues"]), retention_line(ov.get("retention"))])


def overview_frame(ov: dict[str, Any]) -> Any:
    """A Rich renderable of the whole overview (printed once, or redrawn by Rich Live)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [
        Text(f"sc monitor  {cell(ov['timestamp'])} UTC", style="bold"),
        Text(health_line(ov), style=HEALTH_STYLES[ov["health_status"]["overall"]]),
    ]
    for title, rows, columns, headers in overview_sections(ov):
        table = Table(title=title, title_justify="left", header_style="bold")
        for head in headers:
            table.add_column(head, overflow="fold")
        for row in rows:
            table.add_row(*[cell(row.get(c)) for c in columns])
        parts.append(table)
    return Group(*parts)


def print_overview(a: Application, ov: dict[str, Any], fmt: Any, section: str | None = None) -> None:
    """The overview on a terminal as one frame, else as plain/markdown/csv tables; ``section``: that table alone."""
    if section is not None:
        title, rows, columns, headers = named_sections(ov)[section]
        a.print_table(rows, columns, fmt=fmt, title=title, headers=headers)
        return
    name = getattr(fmt, "value", fmt)
    if name == "table" or (name is None and sys.stdout.isatty()):
        a.console.print(overview_frame(ov))
        return
    prose = sys.stderr if only_tables(fmt) else sys.stdout
    prose.write(f"sc monitor  {cell(ov['timestamp'])} UTC\n{health_line(ov)}\n\n")
    for title, rows, columns, headers in overview_sections(ov):
        a.print_table(rows, columns, fmt=fmt, title=title, headers=headers)
        sys.stdout.write("\n")


def read_monitor(a: Application) -> JobMonitor:
    """A monitor for reading: on the store, so no plugin lookup (its queue is built only for a write)."""
    from sccli.monitor import JobMonitor

    return JobMonitor(a.store, settings=a.settings)


def overview_once(a: Application, fmt: Any = None, as_json: bool = False, section: str | None = None) -> None:
    """``sc monitor overview``: one snapshot; a store that cannot be read fails (exit 3)."""
    if not as_json:
        check_section(section, fmt)
    ov = read_monitor(a).get_queue_overview()
    if ov["health_status"]["overall"] == "unknown":  # --watch keeps going; a one-shot overview fails like any command
        from sccli.errors import EXIT_STORE_UNREACHABLE

        a.abort(ov["health_status"]["issues"][0], EXIT_STORE_UNREACHABLE)
    a.emit(ov, lambda _: print_overview(a, ov, fmt, section), as_json=as_json)


def overview_check(a: Application) -> NoReturn:
    """``sc monitor overview --check``: one status line, exit 0 healthy, 1 warning, 2 critical, 3 unknown."""
    from sccli.errors import ScError
    from sccli.monitor.health import CHECK_CODES, UNKNOWN, check_line, unknown_health

    try:
        code, line = read_monitor(a).check()
    except ScError as exc:  # unreadable settings or store: the plugin's UNKNOWN
        code, line = CHECK_CODES[UNKNOWN], check_line(unknown_health(str(exc)), 0.0, 0)
    sys.stdout.write(line + "\n")
    raise SystemExit(code)


def daily_chart(days: list[dict[str, Any]], width: int = BAR_WIDTH) -> list[str]:
    """One line per day: completed (█) then failed (░) scaled to ``width`` characters."""
    peak = max((d["completed"] + d["failed"] for d in days), default=0)
    lines = []
    for d in days:
        done = round(width * d["completed"] / peak) if peak else 0
        bad = round(width * d["failed"] / peak) if peak else 0
        if d["failed"] and not bad:
            bad = 1
        lines.append(
            f"{d['day']}  {'█' * done}{'░' * bad}{' ' * max(width - done - bad, 0)}  {d['completed']} completed, "
            f"{d['failed']} failed"
        )
    return lines


REPORT_COLUMNS = [
    "_id", "count", "completed", "failed", "cancelled", "success_rate", "avg_duration", "p50_duration", "p95_duration",
    "max_duration", "retries", "timeouts",
]
REPORT_HEADERS = [
    "TYPE", "JOBS", "DONE", "FAILED", "CANCELLED", "SUCCESS", "AVG S", "P50 S", "P95 S", "MAX S", "RETRIES", "TIMEOUTS",
]


def machine_format(fmt: Any) -> bool:
    """csv or jsonl: cells are values for a program (a rate as 0.45, not "45.0%")."""
    return getattr(fmt, "value", fmt) in ("csv", "jsonl")


RESOURCE_COLUMNS = ["job_type", "attempts", "p50_memory", "p95_memory", "p50_cpu", "p95_cpu"]
RESOURCE_HEADERS = ["TYPE", "ATTEMPTS", "P50 PEAK MEM", "P95 PEAK MEM", "P50 CPU", "P95 CPU"]


def print_resources(a: Application, resources: dict[str, Any] | None, fmt: Any, out: Any) -> None:
    """The report's per-type resources table (peak memory and CPU of recorded attempts)."""
    if not resources or not resources["by_job_type"]:
        return
    from sccli.usage import human_bytes, seconds_text

    rows = [{"job_type": r["job_type"], "attempts": r["attempts"], "p50_memory": human_bytes(r["p50_peak_rss_bytes"]),
             "p95_memory": human_bytes(r["p95_peak_rss_bytes"]), "p50_cpu": seconds_text(r["p50_cpu_seconds"]),
             "p95_cpu": seconds_text(r["p95_cpu_seconds"])} for r in resources["by_job_type"]]
    out.write(f"\nResources by job type (attempts of the {resources['sampled_jobs']} jobs that finished last)\n")
    a.print_table(rows, RESOURCE_COLUMNS, fmt=fmt, headers=RESOURCE_HEADERS)


def only_tables(fmt: Any) -> bool:
    """An explicit plain, markdown or csv format: stdout gets the tables alone (prose goes to
    stderr), so ``report --format csv > r.csv`` loads in a spreadsheet."""
    return getattr(fmt, "value", fmt) in ("plain", "markdown", "csv", "jsonl")


def print_report(a: Application, report: dict[str, Any], fmt: Any) -> None:
    period, summary = report["report_period"], report["summary"]
    out = sys.stderr if only_tables(fmt) else sys.stdout
    out.write(f"Performance report: {cell(period['start'])} to {cell(period['end'])} UTC ({period['days']} days)\n")
    out.write(
        f"{summary['total_jobs']} jobs ended: {summary['completed']} completed, {summary['failed']} failed, "
        f"{summary['cancelled']} cancelled; "
        f"success rate {summary['success_rate']:.1%}\n\n"
    )
    rows = (
        report["by_job_type"]
        if machine_format(fmt)
        else [{**r, "success_rate": f"{r['success_rate']:.1%}"} for r in report["by_job_type"]]
    )
    a.print_table(rows, REPORT_COLUMNS, fmt=fmt, title="By job type (durations in seconds)", headers=REPORT_HEADERS)
    if not machine_format(fmt):  # one table per CSV/JSONL stream: the resources are in --json
        print_resources(a, report.get("resources"), fmt, out)
    out.write(f"\nPer day, the last {len(report['daily'])} days (█ completed, ░ failed)\n")
    for line in daily_chart(report["daily"]):
        out.write(line + "\n")
    out.write("\nRecommendations\n")
    for advice in report["recommendations"] or ["none: no slow types, failure hot spots or long queues"]:
        out.write(f"  - {advice}\n")
