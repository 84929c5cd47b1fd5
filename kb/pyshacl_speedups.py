"""Process-wide speed-ups of pySHACL 0.40, installed once, results unchanged.

Each one fixes a measured hot spot of pySHACL over an Oxigraph data graph; tests/validate/
test_validate_same_results.py checks that `kb validate` (which installs them) finds exactly what pySHACL over
rdflib finds. Every patch is idempotent and leaves an unknown pySHACL layout as it is.
"""

from __future__ import annotations


class SetList(list):
    """A list whose `in` is a set lookup (and whose copies are too)."""

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


def install() -> None:
    """Three measured hot spots of pySHACL 0.40 over an Oxigraph data graph, fixed without changing results
    (tests/validate/test_validate_same_results.py compares with pySHACL over rdflib):

    - it evaluates `datagraph or shapes_graph` for every result it describes (also the discarded ones inside
      sh:or/sh:node), and the truth value of its Oxigraph-backed graph is `len()`, a COUNT over the whole
      store: quadratic, 40 s for 10,000 triples. A data graph we pass is never empty: its truth value is True.
    - it re-checks the text of a SPARQL constraint with nine regular expressions for every focus node (a fifth
      of the run for 10,000 triples); the check depends only on the text and the pre-bound variables, so a
      passed check is remembered.
    - for every shape evaluation (once per value node for nested shapes) it tests each predicate of the shape
      for membership in a list of ~40 constraint parameters; the list becomes one with a set for `in`.
    """
    from pyshacl import graph_abstraction as ga
    from pyshacl import shape as shape_mod
    from pyshacl.helper import sparql_query_helper as sqh

    try:
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    except ImportError:  # another pySHACL layout: leave it as it is
        ALL_CONSTRAINT_PARAMETERS = None
    if ALL_CONSTRAINT_PARAMETERS is not None and getattr(shape_mod, "CONSTRAINT_PARAMS", None) is None:
        shape_mod.CONSTRAINT_PARAMS = (SetList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)

    cls = getattr(ga, "OxigraphDataGraph", None)
    if cls is not None and "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True
    helper = getattr(sqh, "SPARQLQueryHelper", None)
    check = getattr(helper, "check_invalid_sparql", None)
    if check is not None and not getattr(check, "_kb_memo", False):
        passed: set = set()

        def memo(self, sparql_text, valuenode=None, extravars=None):
            key = (sparql_text, valuenode is not None, frozenset(extravars or ()))
            if key not in passed:
                check(self, sparql_text, valuenode=valuenode, extravars=extravars)
                passed.add(key)
            return True

        memo._kb_memo = True
        helper.check_invalid_sparql = memo


def memoised(shapes):
    """A copy of the trusted shapes graph whose triple look-ups are remembered: pySHACL reads the same shape
    parameters again for every focus node (a quarter of `kb validate` on 10,000 triples). Any change to the
    copy forgets what it remembered."""
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
