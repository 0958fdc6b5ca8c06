"""The dashboard's Jinja2 environment and the filters its templates use (times, ages, numbers)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from sccli.clock import iso, utcnow

TEMPLATES = Path(__file__).parent / "templates"
#: Every page: scripts, styles and forms only from this server; never framed; no referrer to other sites.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def utc_text(value: datetime | None) -> str:
    """``2026-12-01 07:15:36 UTC`` (seconds; the full ISO time is in the element's ``datetime``)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def age_text(value: datetime | None, now: datetime | None = None) -> str:
    """A relative age: ``12 s ago``, ``3 min ago``, ``5 h ago``, ``2 d ago`` (``in ...`` when ahead)."""
    if value is None:
        return ""
    seconds = ((now or utcnow()) - value).total_seconds()
    words = duration_text(abs(seconds), coarse=True)
    return f"in {words}" if seconds < -0.5 else f"{words} ago"


def duration_text(seconds: float | None, coarse: bool = False) -> str:
    """``0.42 s``, ``12 s``, ``3 min 4 s``, ``5.2 h``, ``2.0 d``."""
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 10 and not coarse:
        return f"{seconds:.2f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min" if coarse else f"{minutes} min {rest} s"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def time_html(value: datetime | None) -> Markup:
    """A ``<time>`` element: UTC text, with the relative age after it."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    return Markup('<time datetime="{0}" title="{0}">{1}</time> <span class="age">({2})</span>').format(
        iso(value), utc_text(value), age_text(value)
    )


def number_text(value: Any) -> str:
    """Thousands separated (``1,234,567``); floats with one decimal."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def status_badge(status: Any) -> Markup:
    """The status word in a badge; the word itself carries the meaning (not only the colour)."""
    text = str(getattr(status, "value", status) or "")
    return Markup('<span class="badge status-{0}">{0}</span>').format(escape(text))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared template environment (autoescaped HTML)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
    )
    from sccli.api.dashboard import charts
    from sccli.usage import human_bytes

    env.filters.update(
        utc=utc_text,
        ago=age_text,
        duration=duration_text,
        time=time_html,
        num=number_text,
        pct=percent_text,
        pretty=pretty_json,
        badge=status_badge,
        iso=iso,
        bytes=human_bytes,
        throughput_chart=lambda points: charts.bar_chart(
            points, "hour", charts.THROUGHPUT, "Finished jobs per hour (UTC)", "chart-hours"
        ),
        daily_chart=lambda points: charts.bar_chart(
            [{**p, "md": p["day"][5:]} for p in points], "md", charts.DAILY, "Finished jobs per day (UTC)", "chart-days"
        ),
    )
    env.tests["datetime"] = lambda value: isinstance(value, datetime)
    env.globals.update(throughput_series=charts.THROUGHPUT, daily_series=charts.DAILY)
    return env


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)


def html_response(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template as an HTML response with the security headers."""
    return HTMLResponse(render(name, **context), status_code=status_code, headers=SECURITY_HEADERS)
