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
from . import inline
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


@dataclass(frozen=True)
class FocusSet:
    """A SPARQL pattern binding ?this to each focus node of a set exactly once."""

    pattern: str
    key: str | None = None  # the materialised set's IRI, if it is one


def _weight(shape: Shape) -> int:
    """A rough cost of a shape, to start the expensive ones first: SPARQL targets scan the whole graph."""
    return 50 * len(shape.sparql_targets) + len(shape.constraints) + sum(_weight(p) for p in shape.properties)


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

    def insert_into(self, key: str, where: str, var: str = "this", prologue: str = "") -> FocusSet:
        self.update(f"{prologue}INSERT {{ GRAPH <{q.GRAPH}> {{ <{key}> <{q.NODE}> ?{var} }} }} WHERE {{ {where} }}")
        return FocusSet(q.in_set(key), key)

    def set_of(self, nodes) -> FocusSet:
        key = self.new_key()
        subject = ox.NamedNode(key)
        self.store.extend(ox.Quad(subject, _NODE, n, _GRAPH) for n in nodes)
        return FocusSet(q.in_set(key), key)

    def targets(self, shape: Shape) -> FocusSet:
        if len(shape.target_classes) == 1 and not shape.sparql_targets:
            classes = self.subclasses(shape.target_classes[0])
            if len(classes) == 1:  # no subclass: each instance once, no set to fill
                return FocusSet(f"?this <{RDF.type}> {q.n3(classes[0])} .")
        key = self.new_key()
        for cls in shape.target_classes:
            self.insert_into(key, f"?this <{RDF.type}>/<{RDFS.subClassOf}>* {q.n3(cls)} .")
        for target in shape.sparql_targets:
            self.insert_into(key, f"{{ {target.select} }}", prologue=target.prologue)
        return FocusSet(q.in_set(key), key)

    def values_of(self, shape: Shape, fs: FocusSet) -> FocusSet:
        """The set of value nodes of the focus nodes of `fs` (a node shape: the focus nodes themselves)."""
        if not shape.is_property:
            return fs
        memo = (shape.key, fs.pattern)
        if memo not in self.value_sets:
            self.value_sets[memo] = self.insert_into(
                self.new_key(), f"{fs.pattern} ?this {shape.path.sparql()} ?v .", var="v")
        return self.value_sets[memo]

    def subclasses(self, cls) -> list:
        if cls not in self.subclass_memo:
            self.subclass_memo[cls] = sorted((r["c"] for r in self.rows(q.SUBCLASSES.replace("{cls}", q.n3(cls)))),
                                             key=str)
        return self.subclass_memo[cls]

    # --- evaluation -----------------------------------------------------------------------------------

    def validate(self, focus: list[str] | None, threads: int = 1) -> list[Raw]:
        """The results of every shape with targets, in the model's order; with `focus` (IRIs), only those
        about a focus node in the list: for each shape, its targets in the list (pySHACL's focus_nodes, which
        ignores blank nodes). Every target is evaluated and the results filtered, as the results about a
        node do not depend on which other nodes are validated: cheaper than restricting every query to the
        list. With threads > 1 the shapes are evaluated in parallel (Oxigraph releases the GIL while it
        evaluates; each shape has its own sets)."""
        shapes = [s for s in self.model.top if not s.deactivated]
        wanted = set(focus) if focus else None

        def one(shape: Shape) -> list[Raw]:
            raws = self.evaluate(shape, self.targets(shape))
            if wanted is None:
                return raws
            return [r for r in raws if isinstance(r.focus, ox.NamedNode) and r.focus.value in wanted]

        if threads <= 1 or len(shapes) < 2:
            results = [one(s) for s in shapes]
        else:
            from concurrent.futures import ThreadPoolExecutor

            heavy_first = sorted(shapes, key=lambda s: -_weight(s))
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kb-shacl") as pool:
                done = dict(zip(heavy_first, pool.map(one, heavy_first)))
            results = [done[s] for s in shapes]
        return [r for part in results for r in part]

    def evaluate(self, shape: Shape, fs: FocusSet) -> list[Raw]:
        if shape.deactivated:
            return []
        out: list[Raw] = []
        counted = [c for c in shape.constraints if c.kind in ("minCount", "maxCount")]
        if counted:
            out += self.counts(shape, counted, fs)
        for c in shape.constraints:
            if c not in counted:
                out += self.constraint(shape, c, fs)
        if shape.properties:
            children = self.values_of(shape, fs)
            for prop in shape.properties:
                out += self.evaluate(prop, children)
        return out

    def _pairs(self, shape, c, text) -> list[Raw]:
        p = shape.path.node if shape.is_property else None
        return [Raw(shape, c, r["this"], r["v"], p) for r in self.rows(text)]

    def _foci(self, shape, c, text) -> list[Raw]:
        p = shape.path.node if shape.is_property else None
        return [Raw(shape, c, r["this"], None, p) for r in self.rows(text)]

    def counts(self, shape: Shape, counted: list, fs: FocusSet) -> list[Raw]:
        """sh:minCount and sh:maxCount of one property shape in one query."""
        low = next((c for c in counted if c.kind == "minCount"), None)
        high = next((c for c in counted if c.kind == "maxCount"), None)
        p = shape.path.node
        out = []
        for r in self.rows(q.counts(fs.pattern, shape, low and low.param, high and high.param)):
            n = r["n"]
            n = 0 if n is None else int(n.value)
            for c in (low, high):
                if c is not None and (n < c.param if c is low else n > c.param):
                    out.append(Raw(shape, c, r["this"], None, p))
        return out

    def nested(self, shape: Shape, nested: Shape, fs: FocusSet) -> dict:
        """The results of `nested` for each value node of the focus nodes of `fs` that fails it."""
        by_focus: dict = defaultdict(list)
        for r in self.evaluate(nested, self.values_of(shape, fs)):
            by_focus[r.focus].append(r)
        return by_focus

    def constraint(self, shape: Shape, c: Constraint, fs: FocusSet) -> list[Raw]:
        kind, focus = c.kind, fs.pattern
        if kind == "datatype":
            if c.param in (RDF.langString, XSD.string):
                return self._pairs(shape, c, q.value_rows(focus, shape, q.datatype_ok(c.param, "?v")))
            dt = str(c.param)
            bad = [v for v in (r["v"] for r in self.rows(q.distinct_values(focus, shape)))
                   if not (isinstance(v, ox.Literal) and v.datatype.value == dt and well_typed(v.value, dt))]
            return self._pairs(shape, c, q.with_values(focus, shape, bad)) if bad else []
        if kind in q.VALUE_LOCAL:
            classes = self.subclasses(c.param) if kind == "class" else None
            return self._pairs(shape, c, q.value_rows(focus, shape, q.ok(c, "?v", classes)))
        if kind == "uniqueLang":
            return self._foci(shape, c, q.unique_lang(focus, shape))
        if kind == "hasValue":
            return self._foci(shape, c, q.has_value(focus, shape, c.param))
        if kind == "lessThanOrEquals":
            return self._pairs(shape, c, q.less_than_or_equals(focus, shape, c.param))
        if kind in ("node", "or", "qualified"):
            return self.shape_based(shape, c, fs)
        if kind == "sparql":
            return [] if c.param else self.sparql(shape, c, fs)
        raise AssertionError(kind)  # pragma: no cover - model.COMPONENTS and this dispatch agree

    def shape_based(self, shape: Shape, c: Constraint, fs: FocusSet) -> list[Raw]:
        """sh:node, sh:or, sh:qualifiedValueShape: inline when the nested shapes allow it, else on the set of
        value nodes."""
        conditions = [inline.conforms(s, "?v", self.subclasses) for s in c.shapes]
        if None not in conditions:
            cond = conditions[0] if len(conditions) == 1 else "(" + " || ".join(conditions) + ")"
            if c.kind == "qualified":
                return self._foci(shape, c, q.counts(fs.pattern, shape, c.param, None, f"FILTER ({cond})"))
            out = self._pairs(shape, c, q.value_rows(fs.pattern, shape, cond))
            if c.kind == "node" and out:  # the nested results, for sh:detail
                failing = self.nested_on(c.shapes[0], {r.value for r in out})
                for r in out:
                    r.details = failing.get(r.value, [])
            return out
        if c.kind == "or":
            failing = None
            for member in c.shapes:
                fails = set(self.nested(shape, member, fs))
                failing = fails if failing is None else failing & fails
            return self._pairs(shape, c, q.in_failed(fs.pattern, shape, self.set_of(failing).key)) if failing else []
        failing = self.nested(shape, c.shapes[0], fs)
        if c.kind == "qualified":
            conforming = f"FILTER NOT EXISTS {{ {q.in_set(self.set_of(failing).key, 'v')} }}"
            return self._foci(shape, c, q.counts(fs.pattern, shape, c.param, None, conforming))
        if not failing:
            return []
        out = self._pairs(shape, c, q.in_failed(fs.pattern, shape, self.set_of(failing).key))
        for r in out:
            r.details = failing.get(r.value, [])
        return out

    def nested_on(self, nested: Shape, nodes: set) -> dict:
        by_focus: dict = defaultdict(list)
        for r in self.evaluate(nested, self.set_of(nodes)):
            by_focus[r.focus].append(r)
        return by_focus

    def sparql(self, shape: Shape, c: Constraint, fs: FocusSet) -> list[Raw]:
        query = c.query
        out = []
        for r in self.rows(query.text(fs.pattern)):
            bindings = {n: r[n] for n in query.projection if r[n] is not None}
            if not query.this_projected:
                bindings.pop("this", None)
            if not {"this", "path", "value"} & set(bindings):
                continue  # pySHACL ignores a solution that binds none of $this, ?path, ?value
            out.append(Raw(shape, c, r["this"], None, None, bindings=bindings))
        return out
