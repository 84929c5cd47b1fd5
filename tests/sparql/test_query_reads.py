"""kb.store.query_reads: what a query's patterns can match, and when a graph can be left out of its dataset.

The unit cases pin the scan's answers. The differential test checks that leaving a graph out never changes
an answer: for every W3C SPARQL 1.1 query-evaluation test, its data D and a graph M holding D's nodes under
other predicates and classes (so M joins with D wherever a pattern could reach it: variable predicates,
zero-length paths, `rdf:type` with any class), the query is evaluated by pyoxigraph over D + M and over D
alone; wherever `untouched` says M is out of the query's reach, the two answers must be the same. And the
test has power: among the queries the scan declines, M changes the answer of many.
"""

from __future__ import annotations

import hashlib

import pyoxigraph as ox
import pytest

from kb.store.query_reads import RDF_TYPE, Reads, reads, untouched
from test_sparql_w3c_query import collect, load_file, local, query_text

P = "PREFIX : <http://x/> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "


def x(*names: str) -> frozenset[str]:
    return frozenset(n if n.startswith("http") else "http://x/" + n for n in names)


@pytest.mark.parametrize("query,predicates,types", [
    ("SELECT * { ?s :p ?o ; :q ?v , ?w . ?o :r [ :s ?z ] }", x("p", "q", "r", "s"), x()),
    ("SELECT * { ?s a :C , :D ; rdf:type :E }", x(), x("C", "D", "E")),
    ("SELECT * { ?s a ?c }", x(RDF_TYPE), x()),
    ("SELECT * { ?c ^a :x }", x(RDF_TYPE), x()),  # an inverse: any rdf:type triple whose subject is :x
    ("SELECT * { ?s :p/:q+|^:r ?o }", x("p", "q", "r"), x()),
    ("SELECT * { ?s :p ?o OPTIONAL { ?o :q ?v } MINUS { ?s :r 1 } { ?a :s \"t\"@en } UNION { ?a :t 'u'^^:dt } }",
     x("p", "q", "r", "s", "t"), x()),
    ("SELECT * { ?s :p ?o FILTER NOT EXISTS { ?o :q ?v } FILTER (?o != 3) FILTER regex(?o, \"a{2}\") }",
     x("p", "q"), x()),
    ("SELECT ?s (COUNT(*) AS ?n) { { SELECT ?s WHERE { ?s :p ?o } GROUP BY ?s LIMIT 3 } ?s :q _:b . _:b :r -1.5 } "
     "GROUP BY ?s ORDER BY DESC(?n) VALUES ?s { :a :b }", x("p", "q", "r"), x()),
    ("SELECT * { BIND (1 AS ?one) VALUES (?a ?b) { (1 2) (UNDEF :z) } [ :p ?o ] . [] :q ?v }", x("p", "q"), x()),
    ("ASK { :s :p :o }", x("p"), x()),
    ("CONSTRUCT { ?s :made ?o } WHERE { ?s :p ?o }", x("made", "p"), x()),
])
def test_what_the_patterns_read(query, predicates, types):
    assert reads(P + query) == Reads(predicates, types)


@pytest.mark.parametrize("query", [
    "SELECT * { ?s ?p ?o }",                                   # a variable predicate
    "SELECT * { ?s :p ?o ; ?q ?v }",
    "SELECT * { ?s :p* ?o }",                                  # zero-length paths reach every node
    "SELECT * { ?s :p? ?o }",
    "SELECT * { ?s (:p|:q) ?o }",                              # bracketed paths are not followed
    "SELECT * { ?s !:p ?o }",                                  # a negated property set
    "SELECT * { GRAPH ?g { ?s :p ?o } }",
    "SELECT * { SERVICE <http://e/> { ?s :p ?o } }",
    "SELECT * FROM <http://g/> { ?s :p ?o }",
    "DESCRIBE ?s { ?s :p ?o }",
    "SELECT * { ?s :p (1 2) }",                                # a collection (rdf:first, rdf:rest)
    "SELECT * { ?s :p ?o FILTER (EXISTS { ?s ?q ?o }) }",      # a group inside an expression
    "SELECT * { BIND (EXISTS { ?s ?q ?o } AS ?b) }",
    "SELECT * { ?s <p> ?o }",                                  # a relative IRI (BASE)
    "SELECT * { ?s unknown:p ?o }",                            # an undeclared prefix
    "SELECT * { ?s :p\\-q ?o }",                               # an escape in a local name
    "SELECT * { ?s :p ?o FILTER(?o<?b)?s?p?o.FILTER(?c>?d) }",  # an IRI token that swallows a pattern
    "SELECT * { ?s :p ?o",                                     # unterminated
    "SELECT * { ?s :p ?o } VALUES (?s ?o",
])
def test_what_the_scan_declines(query):
    assert reads(P + query) is None


def test_untouched_by_predicates_and_classes():
    meta_p, meta_t = x("version", RDF_TYPE), x("Activity")
    assert untouched(reads(P + "SELECT * { ?s :p ?o ; a :Event }"), meta_p, meta_t)
    assert not untouched(reads(P + "SELECT * { ?s :version ?v }"), meta_p, meta_t)
    assert not untouched(reads(P + "SELECT * { ?s a :Activity }"), meta_p, meta_t)
    assert not untouched(reads(P + "SELECT * { ?s a ?c }"), meta_p, meta_t)
    assert untouched(reads(P + "SELECT * { ?s a ?c }"), x("version"), x())  # a graph without rdf:type
    assert not untouched(None, x(), x())


# -- the differential test ------------------------------------------------------------------------------
D, M = ox.NamedNode("http://d/"), ox.NamedNode("http://m/")


def _other(term: ox.NamedNode, kind: str) -> ox.NamedNode:
    return ox.NamedNode(f"http://m/{kind}/{hashlib.sha1(term.value.encode()).hexdigest()[:10]}")


def _store(case) -> tuple[ox.Store, frozenset[str], frozenset[str]]:
    store = ox.Store()
    quads = [q for iri in case["data"] for q in load_file(iri)]
    store.extend(ox.Quad(q.subject, q.predicate, q.object, D) for q in quads)
    shadow = []
    for q in quads:
        shadow.append(ox.Quad(q.subject, _other(q.predicate, "p"), q.object, M))
        if q.predicate.value == RDF_TYPE and isinstance(q.object, ox.NamedNode):
            shadow.append(ox.Quad(q.subject, q.predicate, _other(q.object, "c"), M))
    if not shadow:  # a test without data: M still holds a node of its own
        shadow.append(ox.Quad(ox.NamedNode("http://m/s"), ox.NamedNode("http://m/p"), ox.Literal("m"), M))
    store.extend(shadow)
    predicates = frozenset(q.predicate.value for q in shadow)
    types = frozenset(q.object.value for q in shadow if q.predicate.value == RDF_TYPE)
    return store, predicates, types


def _answer(store: ox.Store, query: str, graphs: list[ox.NamedNode]):
    result = store.query(query, default_graph=graphs, named_graphs=[])
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    masked = lambda t: "_:b" if isinstance(t, ox.BlankNode) else str(t)  # noqa: E731 - fresh per evaluation
    if isinstance(result, ox.QueryTriples):
        return sorted((masked(t.subject), str(t.predicate), masked(t.object)) for t in result)
    return sorted(tuple(masked(v) if v is not None else "" for v in row) for row in result)


def test_leaving_an_untouched_graph_out_never_changes_an_answer():
    compared = differing_declined = declined = 0
    wrong = []
    for param in collect():
        case = param.values[0]
        if case["graph_data"] or not local(case["query"]).exists():
            continue
        query = query_text(case)
        store, predicates, types = _store(case)
        try:
            full = _answer(store, query, [D, M])
        except (SyntaxError, OSError, ValueError):
            continue  # a query pyoxigraph refuses, or one with FROM naming a file: nothing to compare
        found = reads(query)
        if untouched(found, predicates, types):
            compared += 1
            if _answer(store, query, [D]) != full:
                wrong.append(case["iri"])
        else:
            declined += 1
            differing_declined += _answer(store, query, [D]) != full
    assert not wrong, f"leaving M out changed the answers of {wrong}"
    assert compared >= 120, (compared, declined)
    assert differing_declined >= 30, (differing_declined, declined)  # M does reach the queries the scan declines
