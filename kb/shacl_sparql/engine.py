"""Running the compiled constraints on a pyoxigraph Store: set-based, in Oxigraph, shape by shape.

Focus sets live in the store's named graph <urn:x-kb-shacl:focus> (compile.GRAPH) as
`<set> <urn:x-kb-shacl:node> node` triples (a node in object position, so that literal value nodes can be
the focus nodes of a nested shape); the data itself is the default graph, which is all that SPARQL-based
targets and constraints see. Each set is filled by one SPARQL Update (targets, the value nodes of a property
shape) or from the few nodes Python already holds (the nodes that fail a nested shape).

Focus nodes follow pySHACL's `focus_nodes` option for the shapes that have targets: each shape's targets
intersected with the given IRIs. Nested shapes (sh:node, sh:or, sh:qualifiedValueShape) are evaluated on
every value node, as SHACL defines them (pySHACL 0.40 restricts those to the given IRIs too: it skips a
nested check whose value node is not in the list, which kb.pyshacl_speedups corrects for the fallback).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib.namespace import RDF, RDFS, XSD

from . import compile as q
from .literals import well_typed
from .model import Constraint, Shape, ShapesModel

_GRAPH = ox.NamedNode(q.GRAPH)
_NODE = ox.NamedNode(q.NODE)


@dataclass(eq=False)
class Raw:
    """One validation result, in terms of the store (pyoxigraph terms) and of the shape objects."""

    shape: Shape
    constraint: Constraint
    focus: object
    value: object = None
    path: object = None          # rdflib node: the shape's path, or a SPARQL constraint's ?path
    bindings: dict | None = None  # SPARQL constraint: the solution, for {?var} in messages
    details: list = field(default_factory=list)  # sh:node: the results of the nested shape for the value
    component: object = None


class Run:
    def __init__(self, model: ShapesModel, store: ox.Store):
        self.model = model
        self.store = store
        self.counter = itertools.count(1)
        self.value_sets: dict = {}
        self.subclass_memo: dict = {}
        self.queries = 0

    # --- sets -----------------------------------------------------------------------------------------

    def new_key(self) -> str:
        return f"urn:x-kb-shacl:set/{next(self.counter)}"

    def update(self, text: str) -> None:
        self.queries += 1
        self.store.update(text)

    def rows(self, text: str):
        self.queries += 1
        return self.store.query(text)

    def insert_into(self, key: str, where: str, var: str = "this", prologue: str = "") -> str:
        self.update(f"{prologue}INSERT {{ GRAPH <{q.GRAPH}> {{ <{key}> <{q.NODE}> ?{var} }} }} WHERE {{ {where} }}")
        return key

    def set_of(self, nodes) -> str:
        key = self.new_key()
        subject = ox.NamedNode(key)
        self.store.extend(ox.Quad(subject, _NODE, n, _GRAPH) for n in nodes)
        return key

    def targets(self, shape: Shape, given: str | None) -> str:
        key = self.new_key()
        restrict = q.in_set(given) if given else ""
        for cls in shape.target_classes:
            self.insert_into(key, f"{restrict} ?this <{RDF.type}>/<{RDFS.subClassOf}>* {q.n3(cls)} .")
        for target in shape.sparql_targets:
            self.insert_into(key, f"{restrict} {{ {target.select} }}", prologue=target.prologue)
        return key

    def values_of(self, shape: Shape, key: str) -> str:
        """The set of value nodes of the focus nodes in `key` (a node shape: the focus nodes themselves)."""
        if not shape.is_property:
            return key
        memo = (shape.key, key)
        if memo not in self.value_sets:
            self.value_sets[memo] = self.insert_into(
                self.new_key(), f"{q.in_set(key)} ?this {shape.path.sparql()} ?v .", var="v")
        return self.value_sets[memo]

    def subclasses(self, cls) -> list:
        if cls not in self.subclass_memo:
            self.subclass_memo[cls] = [r["c"] for r in self.rows(q.SUBCLASSES.replace("{cls}", q.n3(cls)))]
        return self.subclass_memo[cls]

    # --- evaluation -----------------------------------------------------------------------------------

    def validate(self, focus: list[str] | None) -> list[Raw]:
        given = self.set_of(ox.NamedNode(f) for f in focus) if focus else None
        out: list[Raw] = []
        for shape in self.model.top:
            if not shape.deactivated:
                out += self.evaluate(shape, self.targets(shape, given))
        return out

    def evaluate(self, shape: Shape, key: str) -> list[Raw]:
        if shape.deactivated:
            return []
        out: list[Raw] = []
        for c in shape.constraints:
            out += self.constraint(shape, c, key)
        if shape.properties:
            children = self.values_of(shape, key)
            for prop in shape.properties:
                out += self.evaluate(prop, children)
        return out

    def _pairs(self, shape, c, text, path=True) -> list[Raw]:
        p = shape.path.node if shape.is_property and path else None
        out = []
        for r in self.rows(text):
            out.append(Raw(shape, c, r["this"], r["v"], p))
        return out

    def _foci(self, shape, c, text, component=None) -> list[Raw]:
        p = shape.path.node if shape.is_property else None
        return [Raw(shape, c, r["this"], None, p, component=component) for r in self.rows(text)]

    def nested(self, shape: Shape, nested: Shape, key: str) -> dict:
        """The results of `nested` for each value node of the focus nodes in `key` that fails it."""
        by_focus: dict = defaultdict(list)
        for r in self.evaluate(nested, self.values_of(shape, key)):
            by_focus[r.focus].append(r)
        return by_focus

    def constraint(self, shape: Shape, c: Constraint, key: str) -> list[Raw]:
        kind = c.kind
        if kind == "class":
            return self._pairs(shape, c, q.class_check(key, shape, self.subclasses(c.param)))
        if kind == "datatype":
            out = self._pairs(shape, c, q.datatype_mismatch(key, shape, c.param))
            if c.param not in (RDF.langString, XSD.string):
                literals = [r["v"] for r in self.rows(q.datatype_literals(key, shape, c.param))]
                bad = [v for v in literals if not well_typed(v.value, v.datatype.value)]
                if bad:
                    out += self._pairs(shape, c, q.with_values(key, shape, bad))
            return out
        if kind == "nodeKind":
            return self._pairs(shape, c, q.node_kind(key, shape, c.param))
        if kind == "minCount":
            return self._foci(shape, c, q.count_check(key, shape, "<", c.param))
        if kind == "maxCount":
            return self._foci(shape, c, q.count_check(key, shape, ">", c.param))
        if kind == "pattern":
            return self._pairs(shape, c, q.pattern_check(key, shape, c.param))
        if kind == "languageIn":
            return self._pairs(shape, c, q.language_in(key, shape, c.param))
        if kind == "uniqueLang":
            return self._foci(shape, c, q.unique_lang(key, shape))
        if kind == "hasValue":
            return self._foci(shape, c, q.has_value(key, shape, c.param))
        if kind == "in":
            return self._pairs(shape, c, q.in_list(key, shape, c.param))
        if kind == "lessThanOrEquals":
            return self._pairs(shape, c, q.less_than_or_equals(key, shape, c.param))
        if kind == "minInclusive":
            return self._pairs(shape, c, q.min_inclusive(key, shape, c.param))
        if kind == "node":
            failing = self.nested(shape, c.shapes[0], key)
            if not failing:
                return []
            out = self._pairs(shape, c, q.in_failed(key, shape, self.set_of(failing)))
            for r in out:
                r.details = failing.get(r.value, [])
            return out
        if kind == "or":
            failing = None
            for member in c.shapes:
                fails = set(self.nested(shape, member, key))
                failing = fails if failing is None else failing & fails
            if not failing:
                return []
            return self._pairs(shape, c, q.in_failed(key, shape, self.set_of(failing)))
        if kind == "qualified":
            failing = self.nested(shape, c.shapes[0], key)
            return self._foci(shape, c, q.qualified_min(key, shape, self.set_of(failing), c.param))
        if kind == "sparql":
            return [] if c.param else self.sparql(shape, c, key)
        raise AssertionError(kind)  # pragma: no cover - model.COMPONENTS and this dispatch agree

    def sparql(self, shape: Shape, c: Constraint, key: str) -> list[Raw]:
        query = c.query
        out = []
        for r in self.rows(query.text(q.in_set(key))):
            bindings = {n: r[n] for n in query.projection if r[n] is not None}
            if not query.this_projected:
                bindings.pop("this", None)
            if not {"this", "path", "value"} & set(bindings):
                continue  # pySHACL ignores a solution that binds none of $this, ?path, ?value
            out.append(Raw(shape, c, r["this"], None, None, bindings=bindings))
        return out
