"""What a document holds: description with blank-node closure, incoming links (direct and through a blank
node), labels of every IRI it mentions, document metadata, and paging that machines can follow."""

from __future__ import annotations

import re

import pytest
import rdflib
from rdflib import RDF, RDFS, Literal, Namespace, URIRef

from ld_sample_data import ACTION, AGENCY, CONCEPT, EVENTS, MANY_NAMES, PARENT, sample_app

BASE = "https://w3id.org/thb-kb/"
THB = Namespace(BASE + "def#")
M8G = Namespace("http://data.europa.eu/m8g/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
DCT = Namespace("http://purl.org/dc/terms/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")


def doc_path(iri: str) -> str:
    return "/doc/" + iri[len(BASE) + 3:]


@pytest.fixture(scope="module")
def big(request, store_kind):
    """Page size 100: whole descriptions on one page."""
    return sample_app(request, page_size=100).test_client()


@pytest.fixture(scope="module")
def small(request, store_kind):
    return sample_app(request).test_client()  # page size 5


def graph(client, url: str) -> rdflib.Graph:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return rdflib.Graph().parse(data=r.data, format="turtle")


def test_description_with_blank_node_closure(big):
    g = graph(big, doc_path(EVENTS[0]) + ".ttl")
    ev = URIRef(EVENTS[0])
    participations = list(g.objects(ev, M8G.hasParticipation))
    assert len(participations) == 1 and isinstance(participations[0], rdflib.BNode)
    p = participations[0]
    assert (p, M8G.hasParticipant, URIRef(AGENCY)) in g
    assert (p, RDF.type, THB.Participation) in g
    assert (ev, DCT.type, URIRef(CONCEPT)) in g


def test_incoming_links_direct_and_through_blank_nodes(big):
    g = graph(big, doc_path(AGENCY) + ".ttl")
    a = URIRef(AGENCY)
    organised = set(g.subjects(THB.organiser, a))
    assert organised == {URIRef(e) for i, e in enumerate(EVENTS) if i % 2 == 0}
    # participant in every event: event -> participation (blank node) -> agency, with the role
    via = {(s, b) for b in g.subjects(M8G.hasParticipant, a) for s in g.subjects(M8G.hasParticipation, b)}
    assert {s for s, _ in via} == {URIRef(e) for e in EVENTS}
    for _, b in via:
        assert (b, M8G.role, None) in g


def test_labels_of_every_mentioned_iri(big):
    g = graph(big, doc_path(AGENCY) + ".ttl")
    mentioned = {t for triple in g for t in triple if isinstance(t, URIRef) and t.startswith(BASE + "id/")}
    mentioned.discard(URIRef(AGENCY))
    assert mentioned
    labelled = {s for s in mentioned if (s, RDFS.label, None) in g or (s, SKOS.prefLabel, None) in g}
    assert labelled == mentioned
    # predicates too (from the ontology), in English and French
    assert (THB.organiser, RDFS.label, Literal("organiser", lang="en")) in g
    assert (THB.organiser, RDFS.label, Literal("organisateur", lang="fr")) in g


def test_document_metadata(big):
    g = graph(big, doc_path(ACTION) + ".ttl")
    doc = URIRef(BASE + "doc/" + ACTION[len(BASE) + 3:])
    assert (doc, RDF.type, FOAF.Document) in g
    assert (doc, FOAF.primaryTopic, URIRef(ACTION)) in g
    assert (doc, DCT.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in g
    modified = g.value(doc, DCT.modified)
    assert modified is not None and modified.datatype == rdflib.XSD.dateTime


def follow_pages(client, start: str) -> list[rdflib.Graph]:
    """Follow Link: rel=next from the first page; check the Hydra triples agree with the headers."""
    graphs, url, seen = [], start, set()
    while url:
        assert url not in seen
        seen.add(url)
        r = client.get(url)
        assert r.status_code == 200
        g = rdflib.Graph().parse(data=r.data, format="turtle")
        graphs.append(g)
        nxt = re.search(r'<([^>]+)>; rel="next"', r.headers.get("Link", ""))
        views = list(g.subjects(RDF.type, HYDRA.PartialCollectionView))
        assert len(views) == 1
        rdf_next = g.value(views[0], HYDRA.next)
        if nxt:
            assert rdf_next is not None
            assert rdf_next.endswith("?page=" + nxt.group(1).rsplit("=", 1)[1])
        else:
            assert rdf_next is None
        url = nxt.group(1) if nxt else None
    return graphs


def test_large_descriptions_are_paged_for_machines(small, big):
    pages = follow_pages(small, doc_path(MANY_NAMES) + ".ttl")
    assert len(pages) == 3  # 12 alternative names + type + label: 14 values, 5 per page
    names = [set(g.objects(URIRef(MANY_NAMES), SKOS.altLabel)) for g in pages]
    union = set().union(*names)
    assert len(union) == 12 and sum(len(n) for n in names) == 12, "pages split the values without overlap"
    # every page names its topic and its label
    for g in pages:
        assert (None, FOAF.primaryTopic, URIRef(MANY_NAMES)) in g
        assert (URIRef(MANY_NAMES), RDFS.label, Literal("Many names", lang="en")) in g
    whole = graph(big, doc_path(MANY_NAMES) + ".ttl")
    assert set(whole.objects(URIRef(MANY_NAMES), SKOS.altLabel)) == union
    assert not list(whole.subjects(RDF.type, HYDRA.PartialCollectionView)), "no paging when it fits"


def test_incoming_links_are_paged_too(small):
    pages = follow_pages(small, doc_path(CONCEPT) + ".ttl")
    typed = set()
    for g in pages:
        typed |= set(g.subjects(DCT.type, URIRef(CONCEPT)))
    assert typed == {URIRef(e) for e in EVENTS}


def test_paging_links_in_html(small):
    r = small.get(doc_path(MANY_NAMES))
    assert 'rel="next"' in r.headers["Link"]
    html = r.get_data(as_text=True)
    assert 'rel="next" href="' + doc_path(MANY_NAMES) + '?page=2"' in html
    assert small.get(doc_path(MANY_NAMES) + "?page=3").status_code == 200
    assert small.get(doc_path(MANY_NAMES) + "?page=4").status_code == 404


def test_parent_lists_its_units(big):
    g = graph(big, doc_path(PARENT) + ".ttl")
    assert (URIRef(AGENCY), URIRef("http://www.w3.org/ns/org#subOrganizationOf"), URIRef(PARENT)) in g
