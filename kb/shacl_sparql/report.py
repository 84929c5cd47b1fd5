"""The sh:ValidationReport graph of a run, shaped like pySHACL's (what kb.validation._results and the
renderers read).

Per result: rdf:type sh:ValidationResult, sh:focusNode, sh:resultPath, sh:value, sh:resultSeverity (the shape's),
sh:sourceShape, sh:sourceConstraintComponent, sh:sourceConstraint (SPARQL constraints), sh:resultMessage and, for
sh:node, sh:detail with the nested shape's results. Blank nodes keep their labels and bring their description
(up to ten levels, as pySHACL clones them): shapes and paths from the shapes graph, focus and value nodes from
the data. Messages: the shape's sh:message literals; a SPARQL constraint's own messages first, then the
shape's, {?var} / {$var} replaced by the solution's values and, as pySHACL does, without language tag; pySHACL's
wording when the shape has no message (kb.shacl_sparql.messages).
"""

from __future__ import annotations

import logging
import re

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

from .engine import Raw
from .messages import generic
from .model import ShapesModel

_DEPTH = 10


def to_rdf(term):
    """pyoxigraph -> rdflib, as pySHACL's Oxigraph backend converts (xsd:string literals keep the datatype)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"cannot convert {term!r}")


class _Builder:
    def __init__(self, model: ShapesModel, store: ox.Store):
        self.model = model
        self.store = store
        self.g = Graph(bind_namespaces="core")
        for prefix, ns in model.graph.namespace_manager.namespaces():
            self.g.namespace_manager.bind(prefix, ns)
        self.cloned: set = set()

    def shape_node(self, node):
        """A shapes-graph node; a blank node with its description."""
        if isinstance(node, BNode) and ("sg", node) not in self.cloned:
            self.cloned.add(("sg", node))
            self._copy_sg(node, 0)
        return node

    def _copy_sg(self, node, depth: int) -> None:
        if depth >= _DEPTH:
            return
        for p, o in self.model.graph.predicate_objects(node):
            self.g.add((node, p, o))
            if isinstance(o, BNode):
                self._copy_sg(o, depth + 1)

    def data_node(self, term):
        """A data node (pyoxigraph term) as rdflib; a blank node with its description from the data."""
        node = to_rdf(term)
        if isinstance(term, ox.BlankNode) and ("data", node) not in self.cloned:
            self.cloned.add(("data", node))
            self._copy_data(term, 0)
        return node

    def _copy_data(self, term, depth: int) -> None:
        if depth >= _DEPTH:
            return
        for quad in self.store.quads_for_pattern(term, None, None, ox.DefaultGraph()):
            self.g.add((to_rdf(term), to_rdf(quad.predicate), to_rdf(quad.object)))
            if isinstance(quad.object, ox.BlankNode):
                self._copy_data(quad.object, depth + 1)

    def result(self, raw: Raw):
        g, shape, c = self.g, raw.shape, raw.constraint
        node = BNode()
        g.add((node, RDF.type, SH.ValidationResult))
        g.add((node, SH.sourceConstraintComponent, c.component))
        g.add((node, SH.sourceShape, self.shape_node(shape.node)))
        g.add((node, SH.resultSeverity, shape.severity))
        g.add((node, SH.focusNode, self.data_node(raw.focus)))
        value, path = raw.value, raw.path
        if c.kind == "sparql":
            b = raw.bindings
            value = b.get("value", None if shape.is_property else raw.focus)
            path = to_rdf(b["path"]) if "path" in b else (shape.path.node if shape.is_property else None)
        if value is not None:
            g.add((node, SH.value, self.data_node(value)))
        if path is not None:
            g.add((node, SH.resultPath, self.shape_node(path) if isinstance(path, BNode) else path))
        if c.kind == "sparql":
            g.add((node, SH.sourceConstraint, self.shape_node(c.node)))
        for m in self.messages(raw, value, path):
            g.add((node, SH.resultMessage, m))
        for d in raw.details:
            g.add((node, SH.detail, self.result(d)))
        return node

    def messages(self, raw: Raw, value, path) -> list:
        shape, c = raw.shape, raw.constraint
        if c.kind != "sparql":
            return list(shape.messages) or generic(self.model.graph, raw, self.store)
        subs = {k: to_rdf(v) for k, v in raw.bindings.items() if k not in ("this", "path", "value")}
        if "this" in raw.bindings:
            subs["this"] = to_rdf(raw.bindings["this"])
        if "path" in raw.bindings:
            subs["path"] = path
        if value is not None:
            subs["value"] = to_rdf(value)
        own = [m for m in c.messages if m not in shape.messages]
        return [Literal(_fill(str(m), subs)) for m in own + list(shape.messages)]


def _fill(message: str, subs: dict) -> str:
    """pySHACL's substitution of {?var} and {$var}, each occurrence by the value's string form (replaced
    literally: pySHACL passes the value to re.sub as a template, which mangles or rejects backslashes)."""
    for var, val in subs.items():
        message = re.sub("{[?$]" + re.escape(var) + "}", lambda _m, s=str(val): s, message)
    return message


def build(model: ShapesModel, store: ox.Store, raws: list[Raw]) -> Graph:
    term_log = logging.getLogger("rdflib.term")
    level = term_log.level
    term_log.setLevel(logging.CRITICAL)  # ill-typed literals in sh:value: rdflib would log a traceback each
    try:
        b = _Builder(model, store)
        report = BNode()
        b.g.add((report, RDF.type, SH.ValidationReport))
        b.g.add((report, SH.conforms, Literal(not raws)))
        for raw in raws:
            b.g.add((report, SH.result, b.result(raw)))
        return b.g
    finally:
        term_log.setLevel(level)
