"""A small KB of our own for the Linked Data tests: the awkward cases the curated KB does not hold.

Non-ASCII, %-escaped and reserved characters in IRIs; real blank nodes (participations); a label holding
markup and `javascript:` IRIs; French labels; an agency with many events (timeline) and a concept with
more incoming links than one page holds. Loaded with the real ontology and shapes graphs (labels come from
the ontology), into a fresh in-memory store; page size 5 so paging shows.
"""

from __future__ import annotations

import pyoxigraph as ox

BASE = "https://w3id.org/thb-kb/"
ID = BASE + "id/"
NON_ASCII = ID + "place/são-tomé"
ESCAPED = ID + "place/a%2Fb%20c"
RESERVED = ID + "place/x(y):z@w!$&'*+,;="
QUESTION = ID + "place/q%3Fa%23b"
EVIL = ID + "agency/evil"
AGENCY = ID + "agency/ankara-police"
PARENT = ID + "agency/national-police"
ACTION = ID + "action/horizontal-facility"
PROGRAMME = ID + "programme/hf-ii"
CONVENTION = ID + "convention/cets-197"
CONCEPT = ID + "concept/event-type/workshop"
MANY_NAMES = ID + "agency/many-names"
EVENTS = [ID + f"event/2021-0{m}-1{m}-meeting-{m}" for m in range(1, 8)]

TTL = f"""
@prefix thb: <https://w3id.org/thb-kb/def#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix schema: <https://schema.org/> .
@prefix m8g: <http://data.europa.eu/m8g/> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<{NON_ASCII}> a thb:Place ; rdfs:label "São Tomé"@pt , "Sao Tome"@en .
<{ESCAPED}> a thb:Place ; rdfs:label "Slash place"@en .
<{RESERVED}> a thb:Place ; rdfs:label "Reserved place"@en .
<{QUESTION}> a thb:Place ; rdfs:label "Question place"@en .

<{EVIL}> a thb:Agency ; rdfs:label "<script>alert('label')</script> Evil & Co"@en ;
    dct:description "<img src=x onerror=alert(1)>"@en ;
    owl:sameAs <javascript:alert(1)> ; foaf:homepage <javascript:alert(2)> ;
    skos:altLabel "</script><script>alert('jsonld')</script>"@en .

<{PARENT}> a thb:Agency ; rdfs:label "National Police"@en , "Police nationale"@fr ;
    dct:description "The national police."@en , "La police nationale."@fr .
<{AGENCY}> a thb:Agency ; rdfs:label "Ankara Police Department"@en , "Direction de la police d'Ankara"@fr ;
    skos:prefLabel "Ankara Emniyet Müdürlüğü"@tr ;
    org:subOrganizationOf <{PARENT}> ; dct:spatial <{NON_ASCII}> ;
    dct:description "A police department."@en , "Une direction de police."@fr .
<{PROGRAMME}> a thb:Programme ; rdfs:label "Horizontal Facility II"@en .
<{ACTION}> a thb:Action ; rdfs:label "Horizontal Facility action"@en ; thb:partOfProgramme <{PROGRAMME}> ;
    thb:appliesConvention <{CONVENTION}> .
<{CONVENTION}> a thb:Convention ; rdfs:label "Council of Europe Convention on Action against Trafficking in Human Beings"@en .
<{CONCEPT}> a skos:Concept ; skos:prefLabel "workshop"@en , "atelier"@fr .
<{MANY_NAMES}> a thb:Agency ; rdfs:label "Many names"@en ;
    skos:altLabel {", ".join(f'"name {i:02d}"@en' for i in range(12))} .
""" + "\n".join(
    f"""<{e}> a thb:Event ; rdfs:label "Meeting {i + 1}"@en , "Réunion {i + 1}"@fr ;
    schema:startDate "2021-0{i + 1}-1{i + 1}"^^xsd:date ; dct:type <{CONCEPT}> ; thb:partOfAction <{ACTION}> ;
    thb:organiser <{AGENCY if i % 2 == 0 else PARENT}> ;
    m8g:hasParticipation [ a thb:Participation ; m8g:hasParticipant <{AGENCY}> ;
        m8g:role <https://w3id.org/thb-kb/id/concept/role/participant> ] ."""
    for i, e in enumerate(EVENTS))


def sample_store(request=None):
    """A fresh store: the ontology and shapes graphs, and the sample data. In-memory Oxigraph, or (given
    the requesting fixture's `request`, and its `store_kind` is virtuoso) the KB emptied on a Virtuoso of
    its own."""
    from conftest import make_settings

    from kb import curated
    from kb.store import open_store

    if request is not None and request.getfixturevalue("store_kind") == "virtuoso":
        store = request.getfixturevalue("virtuoso_factory")("ld-sample").empty_store()
    else:
        store = open_store(make_settings())
    iris = store.iris
    graphs = curated.read_sources(iris)
    quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(g)) for g, ts in graphs.items()
             if g in (iris.graph("ontology"), iris.graph("shapes")) for t in ts]
    g = ox.NamedNode(iris.graph("ld-sample"))
    quads += [ox.Quad(q.subject, q.predicate, q.object, g) for q in ox.parse(TTL.encode(), ox.RdfFormat.TURTLE)]
    store.apply(insert=quads)
    return store


def sample_app(request=None, **overrides):
    """An app over `sample_store(request)` (both store kinds when the fixture asks for `store_kind`)."""
    from conftest import make_settings

    from server import create_app

    app = create_app(make_settings(**{"page_size": 5, **overrides}), store=sample_store(request),
                     load_if_empty=False)
    app.testing = True
    return app
