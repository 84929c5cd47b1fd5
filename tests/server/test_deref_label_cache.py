"""The labels an entity document carries for the IRIs it mentions come from a per-KB-version cache: a write
that changes another thing's label shows in the documents that mention it, and a full cache starts again
without losing labels."""

from __future__ import annotations

import pyoxigraph as ox
import rdflib

from ld_sample_data import AGENCY, PARENT, sample_app, sample_store

BASE = "https://w3id.org/thb-kb/"
PATH = AGENCY[len(BASE) + 3:]
SKOS_PREF = "http://www.w3.org/2004/02/skos/core#prefLabel"


def _graph(resp) -> rdflib.Graph:
    assert resp.status_code == 200, resp.status_code
    return rdflib.Graph().parse(data=resp.data, format="turtle")


def test_a_new_label_of_a_mentioned_thing_shows_after_a_write():
    app = sample_app(page_size=100)
    c = app.test_client()
    before = _graph(c.get(f"/doc/{PATH}.ttl"))
    assert (rdflib.URIRef(AGENCY), None, rdflib.URIRef(PARENT)) in before  # the parent is mentioned...
    assert any(before.objects(rdflib.URIRef(PARENT), rdflib.RDFS.label))   # ...with its label
    c.get(f"/doc/{PATH}?lang=fr", headers={"Accept": "text/html"})
    store = app.extensions["kb"].store
    new = ox.Literal("Police nationale (nouveau nom)", language="fr")
    store.add_to_graph(store.iris.graph("ld-sample"), [ox.Triple(ox.NamedNode(PARENT), ox.NamedNode(SKOS_PREF), new)])
    after = _graph(c.get(f"/doc/{PATH}.ttl"))
    assert (rdflib.URIRef(PARENT), rdflib.URIRef(SKOS_PREF), rdflib.Literal(new.value, lang="fr")) in after
    assert (rdflib.URIRef(PARENT), rdflib.URIRef(SKOS_PREF), rdflib.Literal(new.value, lang="fr")) not in before


def test_documents_are_the_same_with_a_tiny_label_cache():
    from server import documents
    from server.iris import IriMap
    from server.labels import LabelCache

    store = sample_store()
    imap = IriMap(BASE)
    tiny = LabelCache(max_entries=3)  # starts again empty on almost every document
    paths = [r["s"].value[len(BASE) + 3:] for r in store.query(
        f'SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{BASE}id/")) }} ORDER BY ?s')]
    assert len(paths) > 5
    for path in paths * 2:  # the second round reads the cache
        plain = documents.build(store, imap, path, page_size=5)
        cached = documents.build(store, imap, path, page_size=5, labels=lambda i: tiny.triples(store, "v1", i))
        if plain is None:
            assert cached is None
            continue
        assert sorted(map(str, plain.labels)) == sorted(map(str, cached.labels)), path
        assert set(plain.triples()) == set(cached.triples()), path


def test_triples_are_in_the_order_of_their_terms():
    """`in_term_order` sorts triples by their N-Triples line: the same order as term by term, also where one
    IRI or blank node label is a prefix of another and the next character sorts below `>` or the space."""
    from server.labels import in_term_order

    ex = "http://example.org/"
    subjects = [ox.NamedNode(ex + "a"), ox.NamedNode(ex + "a-b"), ox.NamedNode(ex + "a.b"), ox.NamedNode(ex + "a/b"),
                ox.NamedNode(ex + "a0"), ox.NamedNode(ex + "a b".replace(" ", "%20")), ox.BlankNode("b1"),
                ox.BlankNode("b1x"), ox.BlankNode("b12"), ox.BlankNode("b1-2")]
    predicates = [ox.NamedNode(ex + "p"), ox.NamedNode(ex + "p!"), ox.NamedNode(ex + "p-q")]
    objects = [ox.Literal("x"), ox.Literal("x", language="en"), ox.Literal("x", language="en-gb"),
               ox.Literal("x y"), ox.Literal("1", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
               ox.NamedNode(ex + "a"), ox.BlankNode("b1")]
    triples = [ox.Triple(s, p, o) for s in subjects for p in predicates for o in objects]
    by_terms = sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    assert in_term_order(reversed(triples)) == by_terms
    rows = [(t.subject, t.predicate, t.object) for t in triples]  # not triples: term by term
    assert in_term_order(reversed(rows)) == [(t.subject, t.predicate, t.object) for t in by_terms]
