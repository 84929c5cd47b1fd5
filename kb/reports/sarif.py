"""SARIF 2.1.0 (OASIS), the format GitHub code scanning and other static-analysis dashboards import.

One run, tool `kb validate`. Rules are the broken constraints, identified as `{named shape}/{component}`
(e.g. `thbsh:EventShape/sh:Class`), so code scanning groups alerts by rule. A result's location is the file
(relative URI, as given on the command line) and line; its logical location is the focus node's IRI.
`partialFingerprints` hash the rule, focus node, path and value, so an alert keeps its identity when lines
move. Level: `error` at or above `--fail-on`, else `warning`/`note`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

from rdflib import URIRef

from .. import __version__
from .model import Finding, ReportView, compact

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def _level(report: ReportView, f: Finding) -> str:
    if report.failing(f):
        return "error"
    return "warning" if f.severity == "warning" else "note"


def _uri(path: str) -> str:
    """A relative reference for relative paths (what code scanning matches against the checkout)."""
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(path.replace("\\", "/"), safe="/")


def _fingerprint(f: Finding) -> str:
    key = "\x1f".join([f.rule_id, str(f.focus) if isinstance(f.focus, URIRef) else "", f.path,
                       f.value.n3() if f.value is not None else "", f.message])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def document(report: ReportView) -> dict:
    rules: dict[str, dict] = {}
    results = []
    for f in report.findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = {
                "id": f.rule_id,
                "name": f.shape_name,
                "shortDescription": {"text": f.message},
                "properties": {"shape": str(f.node_shape or f.shape or ""), "constraint": str(f.component or "")},
            }
            if isinstance(f.node_shape, URIRef):
                rules[f.rule_id]["helpUri"] = str(f.node_shape)
        focus = compact(f.focus) if f.focus is not None and f.shape_name != "kbv:WellFormedFile" else ""
        value = f" = {compact(f.value)}" if f.value is not None else ""
        subject = f"{focus}{' ' + f.path if f.path else ''}{value}".strip()
        result: dict = {
            "ruleId": f.rule_id,
            "ruleIndex": list(rules).index(f.rule_id),
            "level": _level(report, f),
            "message": {"text": f"{subject}: {f.message}" if subject else f.message},
            "partialFingerprints": {"kbFinding/v1": _fingerprint(f)},
            "properties": {"severity": f.severity},
        }
        location: dict = {}
        if f.file:
            physical: dict = {"artifactLocation": {"uri": _uri(f.file)}}
            if f.line:
                physical["region"] = {"startLine": f.line, **({"startColumn": f.column} if f.column else {})}
            location["physicalLocation"] = physical
        if isinstance(f.focus, URIRef):
            location["logicalLocations"] = [{"fullyQualifiedName": str(f.focus), "kind": "object"}]
        if location:
            result["locations"] = [location]
        results.append(result)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "kb validate", "version": __version__,
                                "informationUri": "https://w3id.org/thb-kb/", "rules": list(rules.values())}},
            "artifacts": [{"location": {"uri": _uri(c.path)}, "properties": {"triples": c.triples}}
                          for c in report.files],
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": [{"message": {"text": report.summary()},
                                                             "level": "note"}]}],
            "results": results,
        }],
    }


def render(report: ReportView) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
