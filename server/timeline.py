"""A server-rendered SVG timeline of the events of an agency, an action or a programme (no JavaScript).

Vertical, so it reads on a 375 px screen: one axis, a year marker where the year changes, and per event a
dot, its date (and kind) and its title, linked to the event's page. Widths are percentages and text keeps
its pixel size, so the picture never shrinks its text on a narrow screen; a long title is shortened, with
the full title in the element's <title> (a tooltip, read by screen readers).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from kb.namespaces import M8G, PREFIXES, SCHEMA, THB

from .labels import labels_of, local_name, pick, triples_label_map

MAX_EVENTS = 300
ROW, YEAR_ROW, TOP = 46, 30, 8
MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
}


def format_date(value: str, langs: list[str]) -> str:
    """'2021-06-08' -> '8 June 2021' (or '8 juin 2021'); '2021-06' -> 'June 2021'; other text unchanged."""
    lang = next((lg for lg in langs if lg in MONTHS), "en")
    parts = value[:10].split("-")
    try:
        if len(parts) == 3 and len(parts[0]) == 4:
            y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
            return f"{d} {MONTHS[lang][m - 1]} {y}"
        if len(parts) == 2 and len(parts[0]) == 4:
            return f"{MONTHS[lang][int(parts[1]) - 1]} {int(parts[0])}"
    except (ValueError, IndexError):
        pass
    return value


@dataclass
class Event:
    iri: str
    label: str
    start: str
    end: str | None
    kind: str | None


def _pattern(kind: str, iri: str) -> str | None:
    s = f"<{iri}>"
    if kind == "Action":
        return f"?e <{THB.partOfAction}> {s} ."
    if kind == "Programme":
        return f"?e <{THB.partOfAction}> ?a . ?a <{THB.partOfProgramme}> {s} ."
    if kind == "Agency":
        return (f"{{ ?e ?p {s} }} UNION {{ ?e <{M8G.hasParticipation}> ?pp . ?pp <{M8G.hasParticipant}> {s} }}")
    return None


def events_for(store, iri: str, kind: str, langs: list[str], label_source=None) -> tuple[list[Event], bool]:
    """The dated events linked to the thing, sorted by date; and whether the list was cut. A session without
    a date of its own is drawn at the start of the event it is part of (schema:superEvent). `label_source(iris)`
    gives label triples (default: one query; the server passes its per-KB-version label cache)."""
    pattern = _pattern(kind, iri)
    if pattern is None:
        return [], False
    # the linked things first (a subquery), then their dates: joining the other way round scans every event
    q = (f"SELECT ?e ?start ?end ?type WHERE {{ {{ SELECT DISTINCT ?e WHERE {{ {pattern} }} LIMIT {MAX_EVENTS * 3} }} "
         f"?e a <{THB.Event}> . OPTIONAL {{ ?e <{SCHEMA.startDate}> ?own }} "
         f"OPTIONAL {{ ?e <{SCHEMA.superEvent}> ?parent . ?parent <{SCHEMA.startDate}> ?inherited }} "
         f"BIND(COALESCE(?own, ?inherited) AS ?start) FILTER(BOUND(?start)) "
         f"OPTIONAL {{ ?e <{SCHEMA.endDate}> ?end }} OPTIONAL {{ ?e <{PREFIXES['dct']}type> ?type }} }} ORDER BY ?start ?e")
    rows: dict[str, dict] = {}
    for e_node, start, end, type_ in store.query(q):
        e = e_node.value
        if e not in rows:
            rows[e] = {"start": start.value, "end": end.value if end else None, "type": type_.value if type_ else None}
    cut = len(rows) > MAX_EVENTS
    events = list(rows.items())[:MAX_EVENTS]
    need = {e for e, _ in events} | {v["type"] for _, v in events if v["type"]}
    if label_source is None:
        labels = labels_of(store, need)
    else:
        labels = triples_label_map(label_source(need))

    def lbl(i: str) -> str:
        got = pick(labels.get(i, []), langs)
        return got[0] if got else local_name(i)

    out = [Event(e, lbl(e), v["start"], v["end"], lbl(v["type"]) if v["type"] else None) for e, v in events]
    out.sort(key=lambda ev: (ev.start, ev.label))
    return out, cut


def _lines(text: str, width: int = 34, most: int = 2) -> list[str]:
    """Wrap a title into at most `most` lines of about `width` characters (SVG text does not wrap)."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return [ln if len(ln) <= width + 6 else ln[: width - 1] + "…" for ln in lines] or [""]


def short_date(value: str, langs: list[str]) -> str:
    """'2021-06-08' -> '8 Jun 2021' (the timeline's compact form)."""
    full = format_date(value, langs)
    parts = full.split(" ")
    if len(parts) == 3 and len(parts[1]) > 4:
        parts[1] = parts[1][:3] + ("." if langs and langs[0] == "fr" else "")
    return " ".join(parts)


def render_svg(events: list[Event], href, langs: list[str], title: str) -> Markup:
    """The SVG markup; `href(iri)` gives the link of an event page. Two drawings: titles wrapped for narrow
    screens, and on one long line for wide ones; the stylesheet shows the one that fits (media query)."""
    if not events:
        return Markup("")
    rows = [_row(ev, href, langs) for ev in events]  # what both drawings share, escaped once
    return Markup(_svg(rows, title, "narrow", 34, 2) + _svg(rows, title, "wide", 90, 1))


def _row(ev: Event, href, langs: list[str]) -> tuple[str, str, str, str, str]:
    """(year, label, escaped link, escaped full title, escaped date line) of an event."""
    when = short_date(ev.start, langs)
    if ev.end and ev.end != ev.start:
        when += " – " + short_date(ev.end, langs)
    meta = when + (f" · {ev.kind}" if ev.kind else "")
    full = f"{ev.label} ({format_date(ev.start, langs)})"
    return ev.start[:4], ev.label, str(escape(href(ev.iri))), str(escape(full)), str(escape(meta))


def _svg(rows: list[tuple[str, str, str, str, str]], title: str, variant: str, width: int, most: int) -> str:
    parts: list[str] = []
    y = TOP
    year = None
    axis_x = 14
    for ev_year, label, link, full, meta in rows:
        if ev_year != year:
            year = ev_year
            parts.append(f'<g class="tl-year"><rect x="0" y="{y + 4}" width="46" height="20" rx="10"/>'
                         f'<text x="23" y="{y + 18}" text-anchor="middle">{escape(year)}</text></g>')
            y += YEAR_ROW
        lines = _lines(label, width, most)
        spans = "".join(f'<tspan x="32" dy="{0 if i == 0 else 18}">{escape(line)}</tspan>' for i, line in enumerate(lines))
        parts.append(
            f'<a href="{link}"><title>{full}</title>'
            f'<circle cx="{axis_x}" cy="{y + 13}" r="6"/>'
            f'<text class="tl-date" x="32" y="{y + 16}">{meta}</text>'
            f'<text class="tl-label" x="32" y="{y + 35}">{spans}</text></a>')
        y += ROW + 18 * (len(lines) - 1)
    height = y + TOP
    return (f'<svg class="timeline tl-{variant}" role="group" aria-labelledby="tl-title-{variant}" width="100%" '
            f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="tl-title-{variant}">{escape(title)}</title>'
            f'<line class="tl-axis" x1="{axis_x}" y1="{TOP}" x2="{axis_x}" y2="{height - TOP}"/>'
            + "".join(parts) + "</svg>")
