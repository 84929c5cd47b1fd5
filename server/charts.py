"""Server-rendered SVG charts (no JavaScript): small, accessible, scaled by the viewBox."""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(counts: list[tuple[int, int]], *, title: str, unit: str = "events") -> Markup:
    """A vertical bar chart of (year, count) pairs; every missing year between the first and last is shown
    as zero so that the time axis is honest. `role=img` with a title and a description for screen readers."""
    if not counts:
        return Markup("")
    by_year = dict(counts)
    years = list(range(min(by_year), max(by_year) + 1))
    values = [by_year.get(y, 0) for y in years]
    top = max(values) or 1
    bar_w, gap, left, bottom, height = 28, 8, 8, 22, 140
    width = left * 2 + len(years) * (bar_w + gap) - gap
    total_h = height + bottom + 18
    summary = ", ".join(f"{y}: {v}" for y, v in zip(years, values))
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(unit.capitalize())} per year: {escape(summary)}.</desc>',
        f'<line x1="{left}" y1="{height + 18}" x2="{width - left}" y2="{height + 18}" class="axis"/>',
    ]
    for i, (year, value) in enumerate(zip(years, values)):
        x = left + i * (bar_w + gap)
        h = round(value / top * height)
        y = height + 18 - h
        parts.append(f'<g><title>{year}: {value} {escape(unit if value != 1 else unit.rstrip("s"))}</title>'
                     f'<rect x="{x}" y="{y}" width="{bar_w}" height="{h}" class="bar"/>'
                     f'<text x="{x + bar_w / 2}" y="{y - 4}" text-anchor="middle" class="value">{value}</text>'
                     f'<text x="{x + bar_w / 2}" y="{height + 34}" text-anchor="middle" class="year">'
                     f'{year}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
