"""VoID at /.well-known/void: every format parses, and every number equals what SPARQL counts on the store."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, SKOS, VOID

from conftest import BASE

DS = URIRef(BASE + "dataset")
FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
           "application/n-triples": "nt"}


def fetch_void(client, accept="text/turtle") -> Graph:
    resp = client.get("/.well-known/void", headers={"Accept": accept})
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == accept
    return Graph().parse(data=resp.data, format=FORMATS[accept])


def one(store, sparql: str) -> int:
    return int(next(iter(store.query(sparql)))["n"].value)


def value(g: Graph, s, p) -> int:
    vals = list(g.objects(s, p))
    assert len(vals) == 1, (s, p, vals)
    return int(vals[0])


def expected(store) -> dict:
    """The numbers, counted independently with plain SPARQL over the union of the named graphs."""
    return {
        "triples": one(store, "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { GRAPH ?g { ?s ?p ?o } } }"),
        "subjects": one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) { GRAPH ?g { ?s ?p ?o } }"),
        "objects": one(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) { GRAPH ?g { ?s ?p ?o } }"),
        "entities": one(store, f'SELECT (COUNT(DISTINCT ?s) AS ?n) {{ GRAPH ?g {{ ?s ?p ?o }} '
                               f'FILTER(STRSTARTS(STR(?s), "{BASE}id/")) }}'),
        "classes": {r["c"].value: int(r["n"].value) for r in store.query(
            "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) { GRAPH ?g { ?s a ?c } } GROUP BY ?c")},
        "properties": {r["p"].value: int(r["n"].value) for r in store.query(
            "SELECT ?p (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?p ?o { GRAPH ?g { ?s ?p ?o } } } GROUP BY ?p")},
    }


def partitions(g: Graph, link, key, count) -> dict[str, int]:
    return {str(g.value(part, key)): int(g.value(part, count)) for part in g.objects(DS, link)}


def check_numbers(g: Graph, store) -> None:
    want = expected(store)
    assert value(g, DS, VOID.triples) == want["triples"]
    assert value(g, DS, VOID.distinctSubjects) == want["subjects"]
    assert value(g, DS, VOID.distinctObjects) == want["objects"]
    assert value(g, DS, VOID.entities) == want["entities"]
    assert partitions(g, VOID.classPartition, VOID["class"], VOID.entities) == want["classes"]
    assert partitions(g, VOID.propertyPartition, VOID.property, VOID.triples) == want["properties"]
    assert value(g, DS, VOID.classes) == len(want["classes"])
    assert value(g, DS, VOID.properties) == len(want["properties"])


@pytest.mark.parametrize("accept", list(FORMATS))
def test_void_parses_in_every_format_and_says_the_same(metadata_app, accept):
    client = metadata_app.test_client()
    g = fetch_void(client, accept)
    assert (DS, RDF.type, VOID.Dataset) in g
    reference = fetch_void(client, "text/turtle")
    assert len(g) == len(reference)


def test_void_numbers_equal_sparql_counts(metadata_app, metadata_store):
    g = fetch_void(metadata_app.test_client())
    check_numbers(g, metadata_store)
    # the convention's triples sit in two graphs: the union counts them once, the store twice
    assert value(g, DS, VOID.triples) < metadata_store.count()


def test_void_follows_the_store_after_a_write(fresh_store):
    from server import create_app

    from conftest import make_settings

    app = create_app(make_settings(), store=fresh_store, load_if_empty=False)
    client = app.test_client()
    before = fetch_void(client)
    check_numbers(before, fresh_store)
    assert value(before, DS, VOID.triples) == 0
    ev = ox.NamedNode(BASE + "id/event/e1")
    fresh_store.add_to_graph(BASE + "graph/new", [
        ox.Triple(ev, ox.NamedNode(str(RDF.type)), ox.NamedNode(BASE.rstrip("/") + "/def#Event")),
        ox.Triple(ev, ox.NamedNode(str(OWL.sameAs)), ox.NamedNode("http://www.wikidata.org/entity/Q1")),
    ])
    after = fetch_void(client)
    check_numbers(after, fresh_store)
    assert value(after, DS, VOID.entities) == 1
    # the two new triples, and the version record the write added to the metadata graph (part of the KB)
    meta = fresh_store.count(fresh_store.iris.meta_graph)
    assert meta > 0
    assert value(after, DS, VOID.triples) == value(before, DS, VOID.triples) + 2 + meta


def test_void_entry_points_and_linksets(metadata_app, metadata_store):
    g = fetch_void(metadata_app.test_client())
    root = "http://localhost/"
    assert (DS, VOID.sparqlEndpoint, URIRef(root + "sparql")) in g
    dumps = {str(o) for o in g.objects(DS, VOID.dataDump)}
    assert {root + "dumps/kb.nt.gz", root + "dumps/kb.ttl", root + "dumps/kb.jsonld"} <= dumps
    assert str(g.value(DS, VOID.uriSpace)) == BASE + "id/"
    vocabularies = {str(o) for o in g.objects(DS, VOID.vocabulary)}
    assert {"http://www.w3.org/2000/01/rdf-schema", "https://schema.org/", BASE + "def"} <= vocabularies
    examples = {str(o) for o in g.objects(DS, VOID.exampleResource)}
    assert examples and all(e.startswith(BASE + "id/") for e in examples)
    assert g.value(DS, URIRef("http://purl.org/dc/terms/license")) is not None
    # linksets: one per (predicate, external identifier space), counted against SPARQL
    linksets = {}
    for ls in g.objects(DS, VOID.subset):
        assert (ls, RDF.type, VOID.Linkset) in g
        target = g.value(ls, VOID.objectsTarget)
        linksets[(str(g.value(ls, VOID.linkPredicate)), str(g.value(target, VOID.uriSpace)))] = \
            int(g.value(ls, VOID.triples))
    assert linksets[(str(OWL.sameAs), "http://www.wikidata.org/entity/")] == one(
        metadata_store, f'SELECT (COUNT(*) AS ?n) {{ SELECT DISTINCT ?s ?o {{ GRAPH ?g {{ ?s <{OWL.sameAs}> ?o }} '
                        'FILTER(STRSTARTS(STR(?o), "http://www.wikidata.org/entity/")) } }')
    assert linksets[(str(SKOS.exactMatch), "http://publications.europa.eu/resource/authority/")] == 1
    assert linksets[(str(SKOS.exactMatch), "https://www.coe.int/")] == 1


def test_void_validators_and_negotiation(metadata_app):
    client = metadata_app.test_client()
    first = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert first.headers["ETag"] and "Accept" in first.headers["Vary"]
    assert 'rel="alternate"' in first.headers["Link"]
    again = client.get("/.well-known/void", headers={"Accept": "text/turtle", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    other = client.get("/.well-known/void", headers={"Accept": "application/ld+json",
                                                     "If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200, "a different format must not match the Turtle ETag"
    html = client.get("/.well-known/void", headers={"Accept": "text/html,application/xhtml+xml;q=0.9"})
    assert html.status_code == 200 and html.mimetype == "text/html" and b"<h1>" in html.data
    assert client.get("/.well-known/void?format=jsonld").mimetype == "application/ld+json"
    refused = client.get("/.well-known/void", headers={"Accept": "image/png"})
    assert refused.status_code == 406 and b"text/turtle" in refused.data
    assert client.get("/.well-known/void?format=pdf").status_code == 406
    dataset = client.get("/dataset")
    assert dataset.status_code == 303 and dataset.headers["Location"].endswith("/.well-known/void")


@pytest.mark.oxigraph_only  # a subclass of the embedded store
def test_statistics_are_computed_once_for_concurrent_requests(metadata_store):
    """After a write, simultaneous requests share one computation of the statistics (on a large KB it takes
    seconds; every request running it would stall the server)."""
    import threading

    from conftest import make_settings
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    class CountingStore(OxigraphStore):
        statistics_runs = 0

        def query(self, sparql, **kwargs):
            if sparql.startswith("SELECT ?p (COUNT(*) AS ?n)"):  # the property partitions
                type(self).statistics_runs += 1
                threading.Event().wait(0.2)  # a slow store: the other requests arrive meanwhile
            return super().query(sparql, **kwargs)

    store = CountingStore(metadata_store.iris)
    store.apply(insert=list(metadata_store.quads()))
    app = create_app(make_settings(), store=store, load_if_empty=False)
    results = []

    def fetch():
        results.append(app.test_client().get("/.well-known/void", headers={"Accept": "text/turtle"}).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 6
    assert CountingStore.statistics_runs == 1
