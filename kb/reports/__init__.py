"""Renderings of the one RDF validation report that `kb validate` builds (see model.py).

`render(graph, name)` -> str for name in FORMATS: text, turtle, json, junit, github, sarif.
"""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from .model import KBV, ReportView, view

FORMATS = ("text", "turtle", "json", "junit", "github", "sarif")
EXTENSIONS = {".txt": "text", ".log": "text", ".ttl": "turtle", ".turtle": "turtle", ".json": "json",
              ".xml": "junit", ".junit": "junit", ".sarif": "sarif"}

__all__ = ["FORMATS", "EXTENSIONS", "KBV", "ReportView", "format_for_path", "render", "view"]


def format_for_path(path: str) -> str | None:
    """The report format a file name asks for (`report.sarif` -> sarif), None if its extension says nothing."""
    name = Path(path).name.lower()
    if name.endswith(".sarif.json"):
        return "sarif"
    return EXTENSIONS.get(Path(name).suffix)


def render(report: Graph | ReportView, fmt: str) -> str:
    rv = report if isinstance(report, ReportView) else view(report)
    if fmt == "turtle":
        return rv.graph.serialize(format="turtle")
    if fmt == "text":
        from .text import render as r
    elif fmt == "json":
        from .json_report import render as r
    elif fmt == "junit":
        from .junit import render as r
    elif fmt == "github":
        from .github import render as r
    elif fmt == "sarif":
        from .sarif import render as r
    else:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
    return r(rv)
