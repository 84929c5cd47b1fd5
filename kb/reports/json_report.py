"""JSON for scripts (jq): the summary, the checked files, and one object per finding with full IRIs.

    {"conforms": false, "passed": false, "failOn": "violation", "summary": {...}, "files": [...],
     "results": [{"file": "x.ttl", "line": 12, "column": null, "severity": "violation", "focus": "https://...",
                  "path": "thb:organiser", "pathIri": "https://...", "value": "<https://...>", "message": "...",
                  "shape": "https://...", "nodeShape": "https://...", "constraint": "http://www.w3.org/ns/shacl#..."}]}

`value` is in N-Triples syntax (so literals keep datatype and language); the others are plain strings.
"""

from __future__ import annotations

import json

from rdflib import BNode
from rdflib.term import Node

from .model import SEVERITIES, ReportView


def _iri(node: Node | None) -> str | None:
    if node is None:
        return None
    return f"_:{node}" if isinstance(node, BNode) else str(node)


def document(report: ReportView) -> dict:
    per_file: dict[str, dict[str, int]] = {}
    for f in report.findings:
        if f.file is not None:
            counts = per_file.setdefault(f.file, dict.fromkeys(SEVERITIES, 0))
            counts[f.severity] += 1
    return {
        "conforms": report.conforms,
        "passed": report.passed,
        "failOn": report.fail_on,
        "summary": {"files": len(report.files), "triples": report.triples,
                    **{s: report.count(s) for s in SEVERITIES}, "text": report.summary()},
        "files": [{"path": f.path, "format": f.format, "triples": f.triples,
                   **per_file.get(f.path, dict.fromkeys(SEVERITIES, 0))} for f in report.files],
        "results": [{
            "file": f.file, "line": f.line, "column": f.column, "severity": f.severity,
            "focus": _iri(f.focus), "path": f.path or None, "pathIri": f.path_iri,
            "value": None if f.value is None else f.value.n3(), "message": f.message,
            "shape": _iri(f.shape), "nodeShape": _iri(f.node_shape), "constraint": _iri(f.component),
            "details": f.details,
        } for f in report.findings],
    }


def render(report: ReportView) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
