"""Running the compiled constraints on a pyoxigraph Store: set-based, in Oxigraph, shape by shape.

A shape's focus nodes are a SPARQL pattern (FocusSet): the instances of its class, or a set materialised in
the store's named graph <urn:x-kb-shacl:focus> (compile.GRAPH) as `<set> <urn:x-kb-shacl:node> node` triples
(a node in object position, so that literal value nodes can be the focus nodes of a nested shape); the data
itself is the default graph, which is all that SPARQL-based targets and constraints see.

Most constraints of a property shape are first asked without the focus pattern, over every triple of the
path (one scan, usually no row, and shared by the shapes that ask the same), and the few rows are then kept
when their focus node is in the set; minimum counts need the focus nodes and use an anti-join (MINUS or NOT
EXISTS, whichever the sizes favour).

A focus list (pySHACL's `focus_nodes`: for each shape with targets, its targets that are in the list, IRIs
only) filters the results: a node's results do not depend on which other nodes are validated. Nested shapes
(sh:node, sh:or, sh:qualifiedValueShape) are checked on every value node, as SHACL defines them (pySHACL 0.40
restricts those to the list too; kb.pyshacl_speedups corrects that for the fallback).
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

CANDIDATES = 10_000  # rows of a query without its focus pattern beyond which it runs with it (0: always with it)
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
        self.sizes: dict = {}
        self.unrestricted: dict = {}  # the rows of queries without their focus pattern, shared by the shapes
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

    def restricted(self, shape: Shape, fs: FocusSet, build) -> list:
        """The rows of `build(focus pattern)`. For a property shape, first without the focus pattern (one scan
        of the path's triples, usually no row: violations are rare), then only the rows whose ?this is a focus
        node; with many rows, or blank nodes (no VALUES for those), the query with the focus pattern."""
        if not shape.is_property or CANDIDATES <= 0:
            return list(self.rows(build(fs.pattern)))
        text = build("") + f" LIMIT {CANDIDATES + 1}"
        if text not in self.unrestricted:
            self.unrestricted[text] = list(self.rows(text))
        rows = self.unrestricted[text]
        if not rows:
            return rows
        foci = {r["this"] for r in rows}
        if len(rows) > CANDIDATES or any(isinstance(f, ox.BlankNode) for f in foci):
            return list(self.rows(build(fs.pattern)))
        listed = " ".join(str(f) for f in foci)
        members = {r["this"] for r in self.rows(f"SELECT ?this WHERE {{ VALUES ?this {{ {listed} }} {fs.pattern} }}")}
        return [r for r in rows if r["this"] in members]

    def _pairs(self, shape, c, fs: FocusSet, build) -> list[Raw]:
        p = shape.path.node if shape.is_property else None
        return [Raw(shape, c, r["this"], r["v"], p) for r in self.restricted(shape, fs, build)]

    def _foci(self, shape, c, fs: FocusSet, build, restrict: bool = True) -> list[Raw]:
        p = shape.path.node if shape.is_property else None
        rows = self.restricted(shape, fs, build) if restrict else self.rows(build(fs.pattern))
        return [Raw(shape, c, r["this"], None, p) for r in rows]

    def counts(self, shape: Shape, counted: list, fs: FocusSet) -> list[Raw]:
        """sh:minCount and sh:maxCount of one property shape."""
        low = next((c for c in counted if c.kind == "minCount"), None)
        high = next((c for c in counted if c.kind == "maxCount"), None)
        if low is not None and low.param > 1:  # both in one aggregate
            out = []
            for r in self.rows(q.outside(fs.pattern, shape, low.param, high and high.param)):
                n = int(r["n"].value)
                out += [Raw(shape, c, r["this"], None, shape.path.node) for c in (low, high)
                        if c is not None and (n < c.param if c is low else n > c.param)]
            return out
        out = self.missing(shape, low, fs) if low is not None else []
        if high is not None:
            out += self._foci(shape, high, fs, lambda f: q.more_than(f, shape, high.param))
        return out

    def missing(self, shape: Shape, c: Constraint, fs: FocusSet, value_filter: str = "") -> list[Raw]:
        """Focus nodes without a value (meeting `value_filter`): an anti-join chosen by the sizes."""
        minus = 4 * self.size(fs.pattern) >= self.size(f"?s {shape.path.sparql()} ?o")
        return self._foci(shape, c, fs, lambda f: q.missing(f, shape, value_filter, minus), restrict=False)

    def size(self, pattern: str) -> int:
        if pattern not in self.sizes:
            self.sizes[pattern] = int(next(iter(self.rows(q.size(pattern))))["n"].value)
        return self.sizes[pattern]

    def nested(self, shape: Shape, nested: Shape, fs: FocusSet) -> dict:
        """The results of `nested` for each value node of the focus nodes of `fs` that fails it."""
        by_focus: dict = defaultdict(list)
        for r in self.evaluate(nested, self.values_of(shape, fs)):
            by_focus[r.focus].append(r)
        return by_focus

    def constraint(self, shape: Shape, c: Constraint, fs: FocusSet) -> list[Raw]:
        kind = c.kind
        if kind == "datatype":
            if c.param in (RDF.langString, XSD.string):
                cond = q.datatype_ok(c.param, "?v")
                return self._pairs(shape, c, fs, lambda f: q.value_rows(f, shape, cond))
            dt = str(c.param)
            # the distinct values of the path (of every subject, when the shape has a path: a superset)
            scope = "" if shape.is_property else fs.pattern
            bad = [v for v in (r["v"] for r in self.rows(q.distinct_values(scope, shape)))
                   if not (isinstance(v, ox.Literal) and v.datatype.value == dt and well_typed(v.value, dt))]
            return self._pairs(shape, c, fs, lambda f: q.with_values(f, shape, bad)) if bad else []
        if kind in q.VALUE_LOCAL:
            cond = q.ok(c, "?v", self.subclasses(c.param) if kind == "class" else None)
            return self._pairs(shape, c, fs, lambda f: q.value_rows(f, shape, cond))
        if kind == "uniqueLang":
            return self._foci(shape, c, fs, lambda f: q.unique_lang(f, shape))
        if kind == "hasValue":
            return self._foci(shape, c, fs, lambda f: q.has_value(f, shape, c.param), restrict=False)
        if kind == "lessThanOrEquals":
            return self._pairs(shape, c, fs, lambda f: q.less_than_or_equals(f, shape, c.param))
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
                return self.at_least(shape, c, fs, f"FILTER ({cond})")
            out = self._pairs(shape, c, fs, lambda f: q.value_rows(f, shape, cond))
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
            if not failing:
                return []
            key = self.set_of(failing).key
            return self._pairs(shape, c, fs, lambda f: q.in_failed(f, shape, key))
        failing = self.nested(shape, c.shapes[0], fs)
        if c.kind == "qualified":
            conforming = f"FILTER NOT EXISTS {{ {q.in_set(self.set_of(failing).key, 'v')} }}"
            return self.at_least(shape, c, fs, conforming)
        if not failing:
            return []
        key = self.set_of(failing).key
        out = self._pairs(shape, c, fs, lambda f: q.in_failed(f, shape, key))
        for r in out:
            r.details = failing.get(r.value, [])
        return out

    def at_least(self, shape: Shape, c: Constraint, fs: FocusSet, value_filter: str) -> list[Raw]:
        """sh:qualifiedMinCount: focus nodes with fewer than c.param values meeting `value_filter`."""
        if c.param == 1:
            return self.missing(shape, c, fs, value_filter)
        return self._foci(shape, c, fs, lambda f: q.outside(f, shape, c.param, None, value_filter), restrict=False)

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
