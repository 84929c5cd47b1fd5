"""Assemble the one RDF validation report (see model.py for its vocabulary)."""

from __future__ import annotations

import re

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import Node

from .model import FILE_SHAPE, KBV, READABLE, REPORT_PREFIXES, SEVERITY_IRI

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def named_shapes(shapes: Graph) -> list[URIRef]:
    """Top-level shapes: IRIs typed sh:NodeShape/sh:PropertyShape or declaring a target."""
    found: set[URIRef] = set()
    for cls in (SH.NodeShape, SH.PropertyShape):
        found.update(s for s in shapes.subjects(RDF.type, cls) if isinstance(s, URIRef))
    for prop in _TARGETS:
        found.update(s for s in shapes.subjects(prop, None) if isinstance(s, URIRef))
    return sorted(found, key=str)


class ReportBuilder:
    def __init__(self, fail_on: str = "violation", shapes: Graph | None = None):
        self.graph = Graph()
        for prefix, ns in REPORT_PREFIXES.items():
            self.graph.bind(prefix, ns)
        self.report = BNode("report")
        self.graph.add((self.report, RDF.type, SH.ValidationReport))
        self.graph.add((self.report, KBV.failOn, SEVERITY_IRI[fail_on]))
        self._parent: dict[Node, Node] = {}
        self._files: dict[str, BNode] = {}
        self._n = 0
        if shapes is not None:
            for s, _, o in shapes:
                if isinstance(o, BNode):
                    self._parent.setdefault(o, s)
            for shape in named_shapes(shapes):
                self.graph.add((self.report, KBV.checkedShape, shape))

    def node_shape(self, shape: Node | None) -> Node | None:
        """The named shape a (possibly nested, blank) source shape belongs to."""
        seen = 0
        while isinstance(shape, BNode) and shape in self._parent and seen < 50:
            shape = self._parent[shape]
            seen += 1
        return shape

    def _new(self) -> BNode:
        self._n += 1
        return BNode(f"r{self._n}")

    def file_node(self, path: str) -> BNode:
        if path not in self._files:
            node = BNode(f"file{len(self._files) + 1}")
            self._files[path] = node
            self.graph.add((self.report, KBV.checkedFile, node))
            self.graph.add((node, KBV.path, Literal(path)))
        return self._files[path]

    def add_file(self, path: str, fmt: str | None, triples: int) -> None:
        node = self.file_node(path)
        if fmt:
            self.graph.set((node, KBV["format"], Literal(fmt)))
        self.graph.set((node, KBV.triples, Literal(triples, datatype=XSD.integer)))

    def _locate(self, result: Node, file: str | None, line: int | None, column: int | None = None) -> None:
        if file is not None:
            self.file_node(file)
            self.graph.add((result, KBV.file, Literal(file)))
        if line is not None:
            self.graph.add((result, KBV.line, Literal(line, datatype=XSD.integer)))
        if column is not None:
            self.graph.add((result, KBV.column, Literal(column, datatype=XSD.integer)))

    def add_problem(self, file: str | None, message: str, *, line: int | None = None, column: int | None = None,
                    severity: str = "violation", component: URIRef = READABLE, shape: URIRef = FILE_SHAPE,
                    focus: Node | None = None, value: Node | None = None) -> Node:
        """A finding that is not a SHACL result: a file that cannot be read, a failing quality rule."""
        r = self._new()
        g = self.graph
        g.add((self.report, SH.result, r))
        g.add((r, RDF.type, SH.ValidationResult))
        if focus is None:
            focus = self.file_node(file) if file is not None else self.report
        g.add((r, SH.focusNode, focus))
        g.add((r, SH.resultSeverity, SEVERITY_IRI[severity]))
        g.add((r, SH.sourceConstraintComponent, component))
        g.add((r, SH.sourceShape, shape))
        g.add((r, KBV.nodeShape, shape))
        g.add((r, SH.resultMessage, Literal(message)))
        if value is not None:
            g.add((r, SH.value, value))
        self._locate(r, file, line, column)
        return r

    def copy_result(self, source: Graph, result: Node, *, file: str | None, line: int | None) -> Node:
        """Copy one top-level result of a pySHACL report (with its nested blank nodes) and annotate it."""
        new = self._new()
        mapping = {result: new}
        stack = [result]
        g = self.graph
        while stack:
            node = stack.pop()
            for p, o in source.predicate_objects(node):
                if isinstance(o, BNode) and p not in (SH.focusNode, SH.value, SH.sourceShape):
                    if o not in mapping:
                        mapping[o] = BNode()
                        stack.append(o)
                    o = mapping[o]
                g.add((mapping[node], p, o))
        g.add((self.report, SH.result, new))
        self._keep_constraint_message(source, result, new)
        shape = source.value(result, SH.sourceShape)
        top = self.node_shape(shape)
        if top is not None:
            g.add((new, KBV.nodeShape, top))
        self._locate(new, file, line)
        return new

    def _keep_constraint_message(self, source: Graph, result: Node, new: Node) -> None:
        """pySHACL gives a SPARQL-constraint result both the shape's sh:message and the constraint's own
        (with {?var} filled in); keep only the constraint's, which says what is wrong."""
        constraint = source.value(result, SH.sourceConstraint)
        templates = [str(m) for m in source.objects(constraint, SH.message)] if constraint is not None else []
        if not templates:
            return
        patterns = [re.compile("^" + re.sub(r"\\\{\\[?$]\w+\\\}", ".*", re.escape(t)) + "$", re.S)
                    for t in templates]
        messages = list(self.graph.objects(new, SH.resultMessage))
        own = [m for m in messages if any(p.match(str(m)) for p in patterns)]
        if own:
            for m in messages:
                if m not in own:
                    self.graph.remove((new, SH.resultMessage, m))

    def finish(self) -> Graph:
        conforms = next(iter(self.graph.objects(self.report, SH.result)), None) is None
        self.graph.set((self.report, SH.conforms, Literal(conforms)))
        return self.graph
