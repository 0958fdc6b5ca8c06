"""Server-rendered SVG bar charts, readable without colour: each series has its own fill
pattern (solid, hatched, dotted), a legend that shows the pattern, and numbers on the bars.

No JavaScript: the chart is part of the HTML (so htmx refreshes it with its fragment), and a
table of the same figures follows it for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 28, 40


@dataclass(frozen=True)
class Series:
    """One bar per point: ``key`` in each point's mapping, its legend ``label`` and its pattern."""

    key: str
    label: str
    pattern: str  # solid, hatch or dots


_PATTERNS = """<defs>
<pattern id="p-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" class="fill-failed-bg"/>\
<line x1="0" y1="0" x2="0" y2="6" class="stroke-failed" stroke-width="3"/></pattern>
<pattern id="p-dots" width="5" height="5" patternUnits="userSpaceOnUse">
<rect width="5" height="5" class="fill-cancelled-bg"/>\
<circle cx="2.5" cy="2.5" r="1.3" class="fill-cancelled"/></pattern>
</defs>"""

_FILLS = {"solid": "fill-completed", "hatch": "fill-hatch", "dots": "fill-dots"}


def _nice_max(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(
    points: Sequence[dict[str, Any]], label_key: str, series: Sequence[Series], title: str, chart_id: str
) -> Markup:
    """An SVG of grouped bars, one group per point (labelled ``point[label_key]``)."""
    top = _nice_max(max((float(p.get(s.key) or 0) for p in points for s in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(1, len(points))
    bar_w = max(2.0, min(28.0, (group_w - 4) / len(series)))
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc"'
        ' preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(points, label_key, series))}</desc>',
        _PATTERNS,
    ]
    for tick in (0, top / 2, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_short(tick)}</text>')
    every = max(1, len(points) // 12)
    for i, point in enumerate(points):
        x0 = LEFT + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, s in enumerate(series):
            value = float(point.get(s.key) or 0)
            h = plot_h * value / top
            x, y = x0 + j * bar_w, TOP + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" class="bar '
                f'{_FILLS[s.pattern]}">'
                f"<title>{escape(str(point[label_key]))}: {int(value):,} {escape(s.label)}</title></rect>"
            )
            if value and bar_w >= 9:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" class="value" '
                    f'text-anchor="middle">{_short(value)}</text>'
                )
        if i % every == 0:
            parts.append(
                f'<text x="{LEFT + (i + 0.5) * group_w:.1f}" y="{HEIGHT - BOTTOM + 16}" class="axis" '
                f'text-anchor="middle">{escape(str(point[label_key]))}</text>'
            )
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[Series]) -> str:
    out, x = [], LEFT
    for s in series:
        out.append(f'<rect x="{x}" y="6" width="14" height="14" class="bar {_FILLS[s.pattern]}"/>')
        out.append(f'<text x="{x + 19}" y="17" class="legend">{escape(s.label)}</text>')
        x += 30 + 8 * len(s.label)
    return "".join(out)


def _describe(points: Sequence[dict[str, Any]], label_key: str, series: Sequence[Series]) -> str:
    totals = ", ".join(f"{sum(int(p.get(s.key) or 0) for p in points):,} {s.label}" for s in series)
    if not points:
        return "no data"
    return (
        f"{len(points)} bars from {points[0][label_key]} to {points[-1][label_key]}; in all {totals}. The "
        "table below has every figure."
    )


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


THROUGHPUT = (Series("completed", "completed", "solid"), Series("failed", "failed", "hatch"))
DAILY = (
    Series("completed", "completed", "solid"), Series("failed", "failed", "hatch"),
    Series("cancelled", "cancelled", "dots"),
)
