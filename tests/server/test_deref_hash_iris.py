"""Hash IRIs (`{base}id/action/x#period`, an import record's `#agent`): the document of `x` describes them.
The RDF at `/doc/action/x` holds their statements (foaf:primaryTopic stays `x`), and the HTML page shows
them in place, in an element whose id is the fragment, so that the link `/doc/action/x#period` lands."""

from __future__ import annotations

import re

import pyoxigraph as ox
import rdflib
from rdflib import URIRef

from conftest import BASE, make_settings

THING = BASE + "id/action/hash-test"
PART = THING + "#period"
OTHER = BASE + "id/event/2020-01-01-hash-test"
TTL = f"""@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{THING}> a <https://w3id.org/thb-kb/def#Action> ; rdfs:label "Hash test action"@en ;
    <http://purl.org/dc/terms/temporal> <{PART}> .
<{PART}> rdfs:label "2019 to 2022"@en ; <https://schema.org/startDate> "2019-01-01" .
<{OTHER}> a <https://w3id.org/thb-kb/def#Event> ; rdfs:label "An event in that period"@en ;
    <http://purl.org/dc/terms/temporal> <{PART}> .
"""


def client():
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    store.replace_graph(BASE + "graph/fixture", [q.triple for q in ox.parse(TTL.encode(), format=ox.RdfFormat.TURTLE)])
    return create_app(make_settings(), store=store, load_if_empty=False).test_client()


def test_the_document_describes_the_hash_iris_of_its_topic():
    c = client()
    for suffix, parser in (("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml"), ("nt", "nt")):
        g = rdflib.Graph().parse(data=c.get(f"/doc/action/hash-test.{suffix}").data, format=parser)
        assert (URIRef(PART), URIRef("https://schema.org/startDate"), rdflib.Literal("2019-01-01")) in g, suffix
        assert set(g.objects(None, URIRef("http://xmlns.com/foaf/0.1/primaryTopic"))) == {URIRef(THING)}


def test_the_page_has_an_anchor_for_each_hash_iri_and_links_to_it_land():
    c = client()
    page = c.get("/doc/action/hash-test", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert len(re.findall(r'\bid="period"', page)) == 1
    assert "2019 to 2022" in page
    # another thing's page links to the hash IRI: the link goes to the document, at the anchor
    other = c.get("/doc/event/2020-01-01-hash-test", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/doc/action/hash-test#period"' in other
