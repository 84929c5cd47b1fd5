"""SHACL validation with the trusted shapes only.

The shapes come from `shapes/` (never from the data: the data graph is validated against a shapes graph
this module loads itself, and `sh:` triples in contributed data have no effect on it). The ontology and the
concept schemes are added to the data graph as context, so that class hierarchy, concept schemes and the
"predicate is defined" rule see them. The report stays RDF (`Report.graph`); text and the other formats
are renderings of it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from . import paths, rdfio

SEVERITY_ORDER = {SH.Info: 0, SH.Warning: 1, SH.Violation: 2}
SEVERITY_NAMES = {SH.Info: "info", SH.Warning: "warning", SH.Violation: "violation"}
_lock = threading.Lock()


def _load_turtle(files: Iterable[Path]) -> Graph:
    g = Graph()
    for f in files:
        rdfio.triples_to_graph(rdfio.read_file(f), g)
    return g


@functools.lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    files = paths.shape_files()
    if not files:
        raise FileNotFoundError(f"no shapes found in {paths.SHAPES_DIR}")
    return _load_turtle(files)


@functools.lru_cache(maxsize=1)
def ontology_graph() -> Graph:
    files = paths.ontology_files()
    if not files:
        raise FileNotFoundError(f"no ontology found in {paths.ONTOLOGY_DIR}")
    return _load_turtle(files)


@dataclass
class Result:
    focus: Node
    path: Node | None
    value: Node | None
    message: str
    severity: str
    shape: Node | None
    constraint: Node | None
    source: str | None = None  # file the focus node came from, when known
    line: int | None = None

    def as_dict(self) -> dict:
        def s(n):
            return None if n is None else str(n)

        return {"focus": s(self.focus), "path": s(self.path), "value": s(self.value), "message": self.message,
                "severity": self.severity, "shape": s(self.shape), "constraint": s(self.constraint),
                "source": self.source, "line": self.line}


@dataclass
class Report:
    conforms: bool
    graph: Graph
    results: list[Result] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for r in self.results if r.severity == severity)

    def fails(self, threshold: str = "violation") -> bool:
        order = {"info": 0, "warning": 1, "violation": 2}
        return any(order[r.severity] >= order[threshold] for r in self.results)

    def text(self) -> str:
        if not self.results:
            return "Conforms: no violations, no warnings."
        lines = []
        for r in sorted(self.results, key=lambda r: (r.source or "", str(r.focus), str(r.path))):
            where = f"{r.source}:{r.line}: " if r.source and r.line else (f"{r.source}: " if r.source else "")
            lines.append(f"{where}{r.severity.upper()} {r.focus}")
            if r.path is not None:
                lines.append(f"  path:    {r.path}")
            if r.value is not None:
                lines.append(f"  value:   {r.value}")
            lines.append(f"  message: {r.message}")
            lines.append(f"  shape:   {r.shape}")
        lines.append(f"{self.count('violation')} violation(s), {self.count('warning')} warning(s), "
                     f"{self.count('info')} info.")
        return "\n".join(lines)


def _results(report: Graph) -> list[Result]:
    out = []
    # top-level results only (sh:result of the report), not the nested sh:detail results
    for node in report.objects(None, SH.result):
        sev = report.value(node, SH.resultSeverity)
        msgs = [m for m in report.objects(node, SH.resultMessage) if isinstance(m, Literal)]
        en = [m for m in msgs if m.language in (None, "en")]
        message = str((en or msgs or [Literal("constraint not met")])[0])
        out.append(Result(
            focus=report.value(node, SH.focusNode),
            path=report.value(node, SH.resultPath),
            value=report.value(node, SH.value),
            message=message,
            severity=SEVERITY_NAMES.get(sev, "violation"),
            shape=report.value(node, SH.sourceShape),
            constraint=report.value(node, SH.sourceConstraintComponent),
        ))
    return out


def validate(data: Graph, *, context: Graph | None = None, with_ontology: bool = True,
             engine: str = "sparql") -> Report:
    """Validate `data` (plus `context`, plus the ontology) against the trusted shapes.

    engine "sparql" (the default): kb.shacl_sparql over an in-memory Oxigraph store (pySHACL when the
    shapes use a feature it lacks); "pyshacl" (or "oxigraph"): pySHACL over an in-memory Oxigraph store with
    kb.pyshacl_speedups installed; "rdflib": pySHACL over an rdflib Graph with the plain shapes graph, the
    reference backend. Same results (tests/validate/test_validate_speedups.py,
    tests/validate/test_shacl_sparql_differential.py); on the curated KB plus every invalid shape example
    (1,041 triples, 41 results) pySHACL's Oxigraph backend took 0.13 s, rdflib with the speed-ups
    0.54-0.88 s, plain rdflib 3.6-8 s."""
    from . import shacl_runner

    engine = shacl_runner.engine_name(engine)
    graphs = [data] + ([context] if context is not None else []) + ([ontology_graph()] if with_ontology else [])
    if engine == "sparql" and shacl_runner._sparql_model() is not None:
        import pyoxigraph as ox

        from . import shacl_sparql

        store = ox.Store()
        store.bulk_extend(ox.Quad(rdfio.to_ox(s), rdfio.to_ox(p), rdfio.to_ox(o), ox.DefaultGraph())
                          for part in graphs for s, p, o in part)
        report_graph = shacl_sparql.validate(store, shacl_runner._sparql_model())
        results = _results(report_graph)
        return Report(conforms=not results, graph=report_graph, results=results)
    import pyshacl

    if engine == "rdflib":
        g = Graph()
        for prefix, ns in data.namespaces():
            g.bind(prefix, ns, override=False)
        for part in graphs:
            g += part
        shapes, kwargs = shapes_graph(), {}
    else:
        import pyoxigraph as ox

        from . import pyshacl_speedups

        pyshacl_speedups.install()
        g = ox.Store()
        g.bulk_extend(ox.Quad(rdfio.to_ox(s), rdfio.to_ox(p), rdfio.to_ox(o), ox.DefaultGraph())
                      for part in graphs for s, p, o in part)
        shapes, kwargs = pyshacl_speedups.trusted_shapes(), {"inplace": True}
    with _lock:  # pySHACL is not documented as thread-safe
        conforms, report_graph, _ = pyshacl.validate(
            g, shacl_graph=shapes, ont_graph=None, inference="none", advanced=True,
            allow_warnings=False, allow_infos=False, meta_shacl=False, js=False, do_owl_imports=False,
            **kwargs)
    results = _results(report_graph)
    return Report(conforms=not results, graph=report_graph, results=results)


def run_checks(graph: Graph) -> dict[str, list]:
    """Run the ontology quality rules (`ontology/checks/*.rq`); each must return no rows."""
    failures: dict[str, list] = {}
    for path in paths.check_files():
        rows = list(graph.query(path.read_text(encoding="utf-8")))
        if rows:
            failures[path.name] = rows
    return failures


def focus_is_ours(node: Node, base: str) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(base)
