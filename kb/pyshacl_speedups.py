"""The one place where pySHACL (0.40) and rdflib (7) are made faster for our validations, results unchanged.

Every validation of the project runs through here: `kb validate` (kb.validate_cmd), the import pipeline and
`kb load` (kb.shacl_runner, in-process and in its worker processes), and kb.validation.validate. Each calls
`install()` (idempotent, process-wide) and gives pySHACL `trusted_shapes()` (the memoised shapes graph).

Each patch fixes a measured hot spot of pySHACL's per-focus-node Python work; none changes what is found.
The tests that prove it compare results: tests/validate/test_validate_same_results.py (`kb validate` over
Oxigraph vs kb.validation over rdflib), tests/imports/test_import_validation.py (the batch check vs whole-KB
validation, and pySHACL over Oxigraph vs over rdflib, the reference backend), and
tests/validate/test_validate_speedups.py (each patch on its own).

Each patch is guarded: it checks the library version it was written for (SUPPORTED) and the attribute it
replaces, and when either differs it does nothing (slower, never different). `installed()` tells which
patches are active.

One patch is a correction, not a speed-up ("nested-shapes-ignore-focus-list"): with `focus_nodes`, pySHACL
0.40 also filters the value nodes that nested shapes (sh:node, sh:or, sh:qualifiedValueShape, sh:property)
are checked on by that list, so a value outside the list (every literal, and every IRI that is not itself a
focus node) passes unchecked: an import with only a French rdfs:label was accepted. With the patch the list
restricts the targets of the shapes only, as SHACL and kb.shacl_sparql define it (the import pipeline always
passes a focus list; tests/validate/test_shacl_sparql_semantics.py shows the difference).
"""

from __future__ import annotations

import functools
import threading

SUPPORTED = {"pyshacl": ("0.40.",), "rdflib": ("7.",)}

_lock = threading.Lock()
_installed: set[str] = set()


def _version_ok(package: str) -> bool:
    try:
        version = __import__(package).__version__
    except (ImportError, AttributeError):
        return False
    return version.startswith(SUPPORTED[package])


class SetList(list):
    """A list whose `in` is a set lookup (and whose copies and appends keep it so)."""

    def __init__(self, items=()):
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members

    def copy(self) -> "SetList":
        return SetList(self)

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)


def _truthy_oxigraph_data_graph() -> bool:
    """pySHACL evaluates `datagraph or shapes_graph` for every result it describes (also the discarded ones
    inside sh:or/sh:node); the truth value of its Oxigraph-backed data graph is `len()`, a COUNT over the
    whole store. Quadratic: 40 s for 10,000 triples in `kb validate` before this patch. The data graphs we
    pass are never empty, so their truth value is True (as `len() > 0` would say)."""
    from pyshacl import graph_abstraction as ga

    cls = getattr(ga, "OxigraphDataGraph", None)
    if cls is None:
        return False
    if "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True
    return True


def _memoised_sparql_check() -> bool:
    """pySHACL re-checks the text of a SPARQL constraint with nine regular expressions for every focus node
    (a fifth of `kb validate` on 10,000 triples). The check depends only on the text, on whether a value node
    is bound and on the names of the pre-bound variables, so a passed check is remembered (a failing one
    still raises every time)."""
    from pyshacl.helper import sparql_query_helper as sqh

    helper = getattr(sqh, "SPARQLQueryHelper", None)
    check = getattr(helper, "check_invalid_sparql", None)
    if check is None:
        return False
    if getattr(check, "_kb_memo", False):
        return True
    passed: set = set()

    def check_invalid_sparql(self, sparql_text, valuenode=None, extravars=None):
        key = (sparql_text, valuenode is not None, frozenset(extravars or ()))
        if key not in passed:
            check(self, sparql_text, valuenode=valuenode, extravars=extravars)  # raises if invalid
            passed.add(key)
        return True

    check_invalid_sparql._kb_memo = True
    helper.check_invalid_sparql = check_invalid_sparql
    return True


def _constraint_parameters_as_set() -> bool:
    """For every shape evaluation (once per value node for nested shapes) pySHACL tests each predicate of the
    shape for membership in its list of ~40 constraint parameters; the list becomes a SetList (same items,
    same order, `in` is a set lookup; pySHACL's copy() and append() in advanced mode keep it so)."""
    from pyshacl import shape as shape_mod

    try:
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    except ImportError:
        return False
    current = getattr(shape_mod, "CONSTRAINT_PARAMS", (None, None))
    if not isinstance(current, tuple) or len(current) != 2:
        return False
    if not isinstance(current[0], SetList):
        shape_mod.CONSTRAINT_PARAMS = (SetList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)
    return True


class _FocusList(list):
    """The focus node list with a set for `in`."""

    def __init__(self, items):
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members


def _fast_focus_membership() -> bool:
    """With `focus_nodes` (the import pipeline validates chunks of 2,000 focus nodes) pySHACL keeps them in a
    list and tests every target node of every shape with `in`: O(targets x focus). The executor's list gets a
    set for membership."""
    from pyshacl.validator import Validator

    make = getattr(Validator, "make_executor", None)
    if make is None:
        return False
    if getattr(make, "_kb_fast", False):
        return True

    def make_executor(self):
        executor = make(self)
        if getattr(executor, "focus_nodes", None):
            executor.focus_nodes = _FocusList(executor.focus_nodes)
        return executor

    make_executor._kb_fast = True
    Validator.make_executor = make_executor
    return True


def _nested_shapes_ignore_focus_list() -> bool:
    """pySHACL's Shape.validate applies the executor's focus list to the focus nodes it is given too, which
    are the value nodes when a shape is evaluated for sh:node, sh:or, sh:qualifiedValueShape or sh:property
    (the top-level call, from the validator, passes none and finds its targets). The list is hidden from
    those nested calls."""
    from pyshacl.shape import Shape

    validate = getattr(Shape, "validate", None)
    if validate is None:
        return False
    if getattr(validate, "_kb_nested", False):
        return True

    def nested_validate(self, executor, target_graph, focus=None, _evaluation_path=None):
        listed = getattr(executor, "focus_nodes", None)
        if focus is None or not listed:
            return validate(self, executor, target_graph, focus, _evaluation_path)
        executor.focus_nodes = None
        try:
            return validate(self, executor, target_graph, focus, _evaluation_path)
        finally:
            executor.focus_nodes = listed

    nested_validate._kb_nested = True
    Shape.validate = nested_validate
    return True


def _prepared_query_cache() -> bool:
    """pySHACL runs each SPARQL constraint once per focus node with the same text and other initial bindings,
    and rdflib parses and translates the text every time (~35 ms each: 90 % of a validation over rdflib, and
    of the SPARQL-based targets over Oxigraph's rdflib-compatible path). The translated query is cached by
    text, namespaces and base: rdflib evaluates a prepared `Query` with different bindings by design
    (`prepareQuery`)."""
    from rdflib.plugins.sparql import processor

    cls = getattr(processor, "SPARQLProcessor", None)
    original = getattr(cls, "query", None)
    if original is None or not hasattr(processor, "translateQuery") or not hasattr(processor, "parseQuery"):
        return False
    if getattr(original, "_kb_cached", False):
        return True

    @functools.lru_cache(maxsize=512)
    def prepared(text: str, base, ns: tuple):
        return processor.translateQuery(processor.parseQuery(text), base, dict(ns) if ns else None)

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):  # noqa: N803
        if isinstance(strOrQuery, str):
            try:
                key_ns = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
                strOrQuery = prepared(strOrQuery, base, key_ns)
            except TypeError:  # unhashable namespaces: no caching
                pass
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    query._kb_cached = True
    cls.query = query
    return True


_PATCHES = (
    ("pyshacl", "truthy-oxigraph-data-graph", _truthy_oxigraph_data_graph),
    ("pyshacl", "memoised-sparql-check", _memoised_sparql_check),
    ("pyshacl", "constraint-parameters-set", _constraint_parameters_as_set),
    ("pyshacl", "focus-membership-set", _fast_focus_membership),
    ("pyshacl", "nested-shapes-ignore-focus-list", _nested_shapes_ignore_focus_list),
    ("rdflib", "prepared-query-cache", _prepared_query_cache),
)


def install() -> frozenset[str]:
    """Install every patch whose library version and attribute match (idempotent, thread-safe); return the
    names of the active ones."""
    with _lock:
        for package, name, patch in _PATCHES:
            if name in _installed or not _version_ok(package):
                continue
            try:
                ok = patch()
            except (ImportError, AttributeError):  # another layout: leave it as it is
                ok = False
            if ok:
                _installed.add(name)
        return frozenset(_installed)


def installed() -> frozenset[str]:
    return frozenset(_installed)


def memoised(shapes):
    """A copy of a shapes graph whose triple look-ups are remembered: pySHACL reads the same shape parameters
    again for every focus node (a quarter of `kb validate` on 10,000 triples: 1.11 s -> 0.91 s). Any change
    to the copy forgets what it remembered."""
    from rdflib import Graph

    class MemoGraph(Graph):
        def __init__(self):
            super().__init__()
            self._memo: dict = {}

        def triples(self, pattern):
            try:
                hit = self._memo.get(pattern)
            except TypeError:  # a pattern term that cannot be hashed: no memo
                yield from super().triples(pattern)
                return
            if hit is None:
                hit = self._memo[pattern] = list(super().triples(pattern))
            yield from hit

        def add(self, triple):
            self._memo.clear()
            return super().add(triple)

        def addN(self, quads):  # noqa: N802 - rdflib's name
            self._memo.clear()
            return super().addN(quads)

        def remove(self, triple):
            self._memo.clear()
            return super().remove(triple)

    copy = MemoGraph()
    for prefix, ns in shapes.namespaces():
        copy.bind(prefix, ns, override=True)
    for t in shapes:
        Graph.add(copy, t)
    return copy


@functools.lru_cache(maxsize=1)
def trusted_shapes():
    """The memoised copy of the trusted shapes (kb.validation.shapes_graph), made once per process."""
    from .validation import shapes_graph

    return memoised(shapes_graph())
