"""The validation report as RDF, and the read-only view every renderer works from.

`kb validate` produces ONE report: an RDF graph with a `sh:ValidationReport` (SHACL's own vocabulary) plus a
few annotations in the `kbv:` vocabulary (https://w3id.org/thb-kb/def/validate#), which SHACL has no terms
for:

- `kbv:file` / `kbv:line` / `kbv:column` on a `sh:ValidationResult`: where its focus node is written;
- `kbv:nodeShape` on a result: the named (top-level) shape its `sh:sourceShape` belongs to;
- `kbv:checkedFile` on the report: one node per input, with `kbv:path`, `kbv:format`, `kbv:triples`;
- `kbv:checkedShape` on the report: every named shape the data was checked against;
- `kbv:failOn` on the report: the severity threshold (`sh:Violation`, `sh:Warning`, `sh:Info`).

Problems that stop a file from being read (unreadable, binary, empty, not RDF) and failing quality rules
(`--qc`) are results too, with `sh:sourceConstraintComponent kbv:ReadableRDF` / `kbv:QualityRule`, so that
no renderer needs a second source. `view(graph)` turns the graph into plain Python objects, sorted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from ..namespaces import PREFIXES

KBV = Namespace("https://w3id.org/thb-kb/def/validate#")
READABLE = KBV.ReadableRDF  # constraint component of "this file can be read as RDF"
QUALITY = KBV.QualityRule  # constraint component of an ontology quality rule (--qc)
FILE_SHAPE = KBV.WellFormedFile  # source shape of the file-level findings
SEVERITIES = ("violation", "warning", "info")
SEVERITY_IRI = {"violation": SH.Violation, "warning": SH.Warning, "info": SH.Info}
SEVERITY_NAME = {v: k for k, v in SEVERITY_IRI.items()}
RANK = {"info": 0, "warning": 1, "violation": 2}
REPORT_PREFIXES = {**PREFIXES, "kbv": str(KBV)}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_BY_LENGTH = sorted(((ns, p) for p, ns in REPORT_PREFIXES.items()), key=lambda x: -len(x[0]))


def compact(node: Node | None) -> str:
    """A short, readable form: prefixed name for known namespaces, <iri> otherwise, literals quoted."""
    if node is None:
        return ""
    if isinstance(node, URIRef):
        s = str(node)
        for ns, prefix in _BY_LENGTH:
            if s.startswith(ns) and s[len(ns):] and "/" not in s[len(ns):] and "#" not in s[len(ns):]:
                return f"{prefix}:{s[len(ns):]}"
        return f"<{s}>"
    if isinstance(node, BNode):
        return f"_:{node}"
    if isinstance(node, Literal):
        lexical = Literal(str(node)).n3()  # quoted and escaped
        if node.language:
            return f"{lexical}@{node.language}"
        if node.datatype is not None and str(node.datatype) != _XSD_STRING:
            return f"{lexical}^^{compact(node.datatype)}"
        return lexical
    return str(node)


def path_text(graph: Graph, path: Node | None) -> str:
    """A SHACL property path in SPARQL syntax: `dct:title`, `^org:hasUnit`, `a/b`, `(a|b)`, `a*`."""
    if path is None:
        return ""
    if isinstance(path, URIRef):
        return "a" if path == RDF.type else compact(path)
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + path_text(graph, inverse)
    alt = graph.value(path, SH.alternativePath)
    if alt is not None:
        return "(" + "|".join(path_text(graph, p) for p in graph.items(alt)) + ")"
    for prop, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = graph.value(path, prop)
        if inner is not None:
            return path_text(graph, inner) + suffix
    items = list(graph.items(path))
    if items:
        return "/".join(path_text(graph, p) for p in items)
    return compact(path)


@dataclass
class Finding:
    severity: str
    message: str
    focus: Node | None
    path: str  # SPARQL path syntax, "" if none
    path_iri: str | None  # the path when it is a plain predicate
    value: Node | None
    shape: Node | None
    node_shape: Node | None
    component: Node | None
    file: str | None
    line: int | None
    column: int | None
    details: list[str] = field(default_factory=list)

    @property
    def shape_name(self) -> str:
        return compact(self.node_shape or self.shape) or "(no shape)"

    @property
    def rule_id(self) -> str:
        """Stable identifier of the rule broken: named shape, path (if any) and constraint component,
        e.g. `thbsh:EventShape/dct:title/sh:MinCount`."""
        comp = compact(self.component).replace("ConstraintComponent", "") if self.component is not None else ""
        return "/".join(part for part in (self.shape_name, self.path, comp) if part)


@dataclass
class CheckedFile:
    path: str
    format: str | None
    triples: int


@dataclass
class ReportView:
    conforms: bool
    fail_on: str
    findings: list[Finding]
    files: list[CheckedFile]
    shapes: list[Node]
    graph: Graph

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failing(self, finding: Finding) -> bool:
        return RANK[finding.severity] >= RANK[self.fail_on]

    @property
    def passed(self) -> bool:
        return not any(self.failing(f) for f in self.findings)

    @property
    def triples(self) -> int:
        return sum(f.triples for f in self.files)

    def summary(self) -> str:
        """The one-line summary every format ends with (text) or carries (json, junit, sarif)."""
        nfiles = len(self.files)
        unreadable = len({f.file for f in self.findings if f.component == READABLE})
        counts = ", ".join(f"{self.count(s)} {s}{'' if self.count(s) == 1 else 's'}" for s in SEVERITIES)
        files = f"{nfiles} file{'' if nfiles == 1 else 's'}"
        if unreadable:
            files += f" ({unreadable} not readable as RDF)"
        verdict = "PASSED" if self.passed else "FAILED"
        return f"kb validate: {verdict}: {files}, {self.triples} triples: {counts} (fail on: {self.fail_on})."


def _int(node: Node | None) -> int | None:
    return int(node) if isinstance(node, Literal) else None


def _message(graph: Graph, result: Node) -> str:
    msgs = [m for m in graph.objects(result, SH.resultMessage) if isinstance(m, Literal)]
    en = [m for m in msgs if m.language in (None, "en")]
    chosen = sorted(en or msgs, key=str)
    return str(chosen[0]) if chosen else "constraint not met"


def _finding(graph: Graph, node: Node) -> Finding:
    path = graph.value(node, SH.resultPath)
    details = []
    for d in graph.objects(node, SH.detail):
        dp = path_text(graph, graph.value(d, SH.resultPath))
        details.append(f"{compact(graph.value(d, SH.focusNode))} {dp}: {_message(graph, d)}".replace("  ", " "))
    file = graph.value(node, KBV.file)
    focus = graph.value(node, SH.focusNode)
    value = graph.value(node, SH.value)
    return Finding(
        severity=SEVERITY_NAME.get(graph.value(node, SH.resultSeverity), "violation"),
        message=_message(graph, node),
        focus=focus,
        path=path_text(graph, path),
        path_iri=str(path) if isinstance(path, URIRef) else None,
        value=None if value == focus else value,
        shape=graph.value(node, SH.sourceShape),
        node_shape=graph.value(node, KBV.nodeShape),
        component=graph.value(node, SH.sourceConstraintComponent),
        file=None if file is None else str(file),
        line=_int(graph.value(node, KBV.line)),
        column=_int(graph.value(node, KBV.column)),
        details=sorted(details),
    )


def view(graph: Graph) -> ReportView:
    """Read a report graph (as built by kb validate, or any sh:ValidationReport) into a ReportView."""
    report = next(iter(graph.subjects(RDF.type, SH.ValidationReport)), None)
    if report is None:
        raise ValueError("the graph holds no sh:ValidationReport")
    conforms = graph.value(report, SH.conforms)
    fail_on = SEVERITY_NAME.get(graph.value(report, KBV.failOn), "violation")
    findings = [_finding(graph, r) for r in graph.objects(report, SH.result)]
    findings.sort(key=lambda f: (f.file is None, f.file or "", f.line or 0, str(f.focus), f.path,
                                 -RANK[f.severity], f.message))
    files = []
    for node in graph.objects(report, KBV.checkedFile):
        fmt = graph.value(node, KBV["format"])
        files.append(CheckedFile(path=str(graph.value(node, KBV.path)), format=None if fmt is None else str(fmt),
                                 triples=_int(graph.value(node, KBV.triples)) or 0))
    files.sort(key=lambda f: f.path)
    shapes = sorted(graph.objects(report, KBV.checkedShape), key=str)
    return ReportView(conforms=bool(conforms.toPython()) if isinstance(conforms, Literal) else not findings,
                      fail_on=fail_on, findings=findings, files=files, shapes=shapes, graph=graph)
