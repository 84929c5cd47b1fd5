"""What only a real remote engine shows: Virtuoso's own graphs never leak into the KB, its result caps and
time limits are never silent, its blank nodes read back as blank nodes."""

from __future__ import annotations

import io
import time

import pyoxigraph as ox
import pytest

from conftest import BASE
from kb.store import QueryTimeout, StoreError

EX = "http://example.org/"
G1, G2 = BASE + "graph/one", BASE + "graph/two"


def t(s, o):
    return ox.Triple(ox.NamedNode(EX + s), ox.NamedNode(EX + "p"), ox.Literal(o))


@pytest.fixture()
def store(virtuoso, dialect):
    s = virtuoso.empty_store()
    s.replace_graph(G1, [t("a", "1"), t("b", "2")])
    s.replace_graph(G2, [t("c", "3")])
    return s


@pytest.fixture(params=["virtuoso-dialect", "sparql11-protocol"])
def dialect(request, monkeypatch):
    """Virtuoso's own way (graph exclusion pragmas, off by default: slow plans at scale) and the plain
    SPARQL 1.1 Protocol way (the registered graphs as default-graph-uri / named-graph-uri), the default."""
    from kb.store.remote import RemoteStore

    monkeypatch.setattr(RemoteStore, "generic", request.param == "sparql11-protocol")
    monkeypatch.setattr(RemoteStore, "virtuoso_exclusions", request.param == "virtuoso-dialect")
    return request.param


def test_virtuoso_system_graphs_and_foreign_graphs_stay_out(virtuoso, dialect):
    from kb.store import open_store

    # another application's data on the same engine, written behind thb-kb's back
    other = virtuoso.empty_store()
    other._update(f'INSERT DATA {{ GRAPH <{EX}foreign> {{ <{EX}x> a <{EX}Thing> ; <{EX}p> "foreign" }} }}')
    try:
        other.replace_graph(G1, [t("a", "1"), t("b", "2")])
        other.replace_graph(G2, [t("c", "3")])
        store = open_store(virtuoso.settings())  # an app server starting now
        graphs = {r["g"].value for r in store.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}
        assert graphs == {G1, G2, store.iris.meta_graph}
        assert store.graphs() == sorted(graphs)
        n = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value)
        assert n == store.count() == 3 + 2  # the data and the two version triples, nothing of Virtuoso's
        classes = list(store.query("SELECT DISTINCT ?c WHERE { ?s a ?c }"))
        assert classes == []  # virtrdf#, ldp# and the foreign graph would bring classes
        assert not bool(store.query(f'ASK {{ ?s ?p "foreign" }}'))
        assert not bool(store.query(f'ASK {{ GRAPH ?g {{ ?s ?p "foreign" }} }}'))
        # a query that names its own dataset gets it, as on Oxigraph
        assert bool(store.query(f'ASK FROM <{EX}foreign> {{ ?s ?p "foreign" }}'))
        # a graph the KB writes later is in the union at once, in this process and in others
        other.replace_graph(BASE + "graph/later", [t("d", "4")])
        assert bool(store.query(f'ASK {{ <{EX}d> ?p "4" }}'))
        assert bool(open_store(virtuoso.settings()).query(f'ASK {{ GRAPH <{BASE}graph/later> {{ ?s ?p "4" }} }}'))
    finally:
        other._update(f"DROP SILENT GRAPH <{EX}foreign>")


def test_protocol_dataset_and_union(store):
    rows = store.query(f"SELECT ?s WHERE {{ ?s <{EX}p> ?o }} ORDER BY ?s", default_graph=[G2])
    assert [r["s"].value for r in rows] == [EX + "c"]
    rows = store.query(f"SELECT ?g ?s WHERE {{ GRAPH ?g {{ ?s <{EX}p> ?o }} }} ORDER BY ?s", named_graphs=[G1])
    assert [(r["g"].value, r["s"].value) for r in rows] == [(G1, EX + "a"), (G1, EX + "b")]
    assert isinstance(store.query("ASK { ?s ?p ?o }"), ox.QueryBoolean)
    assert isinstance(store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"), ox.QueryTriples)
    assert isinstance(store.query("SELECT * WHERE { ?s ?p ?o }"), ox.QuerySolutions)


def test_a_graph_named_in_the_query_is_read(store):
    """GRAPH <iri> and GRAPH prefix:name (Virtuoso answers them with nothing under its graph-exclusion
    pragmas: the labels of the ontology's properties went missing from every page)."""
    store.query("ASK {}")  # the engine has said who it is: the next queries take its dialect
    rows = store.query(f"SELECT ?s WHERE {{ GRAPH <{G1}> {{ ?s <{EX}p> ?o }} }} ORDER BY ?s")
    assert [r["s"].value for r in rows] == [EX + "a", EX + "b"]
    rows = store.query(f"PREFIX kb: <{BASE}graph/> SELECT ?o WHERE {{ graph kb:two {{ ?s ?p ?o }} }}")
    assert [r["o"].value for r in rows] == ["3"]
    assert store.query(f"ASK {{ GRAPH <{G2}> {{ <{EX}c> ?p ?o }} GRAPH ?g {{ <{EX}a> ?p ?x }} }}")
    # (a query naming one of the store's hidden graphs, the registry or a staging slot, does read it on
    # Virtuoso, whose GRAPH <iri> ignores named-graph-uri: see docs/deploy.md)


def test_syntax_errors_are_syntax_errors(store):
    with pytest.raises(SyntaxError):
        store.query("SELECT WHERE {")
    store.query("ASK {}")  # the engine has said who it is: the next query carries its pragmas
    with pytest.raises(SyntaxError, match=r"^error at 2:\d+: ") as info:  # with its position, as on Oxigraph
        store.query("SELECT * WHERE {\n  ?s ?p \n}")
    assert "DEFINE" not in str(info.value)  # not the store's echo of the text it was sent


def test_blank_nodes_round_trip(store):
    a, b = ox.BlankNode(), ox.BlankNode()
    store.replace_graph(G1, [ox.Triple(a, ox.NamedNode(EX + "p"), b),
                             ox.Triple(b, ox.NamedNode(EX + "q"), ox.Literal("leaf"))])
    rows = list(store.query(f"SELECT ?x ?y WHERE {{ ?x <{EX}p> ?y . ?y <{EX}q> \"leaf\" }}"))
    assert len(rows) == 1 and isinstance(rows[0]["x"], ox.BlankNode) and isinstance(rows[0]["y"], ox.BlankNode)
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.TURTLE, G1)
    assert len(list(ox.parse(out.getvalue(), ox.RdfFormat.TURTLE))) == 2


def test_a_query_past_its_time_limit_is_stopped_and_said_so(store):
    store.add_to_graph(G1, [t(f"s{i}", str(i)) for i in range(400)])
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f FILTER(STR(?b) != STR(?f)) }"
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        list(store.query(heavy, timeout=1))
    assert time.monotonic() - started < 1 + 2.5


@pytest.fixture(scope="module")
def capped(virtuoso_factory):
    """A Virtuoso whose ResultSetMaxRows is 100 (the Debian default is 10,000)."""
    return virtuoso_factory("capped", VIRTUOSO_MAX_ROWS="100")


def test_a_store_row_cap_is_never_silent(capped):
    store = capped.empty_store()
    store.replace_graph(G1, [t(f"s{i}", str(i)) for i in range(250)])
    with pytest.raises(StoreError, match="cut the result at 100 rows"):
        list(store.query("SELECT * WHERE { ?s ?p ?o }"))
    assert len(list(store.query("SELECT * WHERE { ?s ?p ?o } LIMIT 50"))) == 50
    # whole graphs are read page by page: every triple, once
    assert len(set(store.triples(G1))) == len(list(store.triples(G1))) == 250
    assert len(list(store.quads())) == 252
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.N_QUADS)
    assert len(list(ox.parse(out.getvalue(), ox.RdfFormat.N_QUADS))) == 252


def test_graphs_loaded_behind_the_kbs_back_join_it_when_registered(store):
    g = BASE + "graph/bulk-loaded"
    store._update(f'INSERT DATA {{ GRAPH <{g}> {{ <{EX}z> a <{EX}Thing> ; <{EX}p> "bulk" }} }}')
    assert not bool(store.query('ASK { ?s ?p "bulk" }')) and g not in store.graphs()
    before = store.version()
    assert store.register_graphs([g]) == store.version() != before
    assert bool(store.query('ASK { ?s ?p "bulk" }')) and g in store.graphs() and store.count(g) == 2
