"""HTML for people: labels in the reader's language, property labels from the ontology, values linked, dates
formatted, incoming links phrased, the SVG timeline, schema.org JSON-LD, class indexes, search, /def and
/shapes."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import rdflib

from ld_sample_data import ACTION, AGENCY, CONVENTION, EVENTS, NON_ASCII, PARENT, PROGRAMME, sample_app

BASE = "https://w3id.org/thb-kb/"


def doc(iri: str) -> str:
    return "/doc/" + iri[len(BASE) + 3:]


@pytest.fixture(scope="module")
def c(request, store_kind):
    return sample_app(request, page_size=100).test_client()


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def section(html: str, heading: str) -> str:
    m = re.search(rf'<h2 id="[^"]+">{re.escape(heading)}</h2>(.*?)</section>', html, re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def test_entity_page_in_english(c):
    html = c.get(doc(AGENCY)).get_data(as_text=True)
    assert "<h1 id=\"title\" lang=\"en\">Ankara Police Department</h1>" in html
    assert "A police department." in html
    text = text_of(html)
    # property labels come from the ontology; values are linked to their pages with their labels
    assert re.search(r'<span title="http://www.w3.org/ns/org#subOrganizationOf">part of organisation</span>', html)
    assert f'<a href="{doc(PARENT)}"' in html and ">National Police</a>" in html
    assert f'href="/doc/place/s%C3%A3o-tom%C3%A9"' in html and "Sao Tome" in text
    # other names keep their language
    assert 'lang="tr"' in html


def test_entity_page_in_french_by_header_and_by_parameter(c):
    for headers, url in (({"Accept-Language": "fr"}, doc(AGENCY)), ({}, doc(AGENCY) + "?lang=fr")):
        html = c.get(url, headers=headers).get_data(as_text=True)
        assert '<html lang="fr">' in html
        assert "Direction de la police d&#39;Ankara" in html
        assert "Une direction de police." in html
        assert ">Police nationale</a>" in html
        assert "fait partie de l&#39;organisation" in html
        assert "organisateur de" in html
    # ?lang= is carried along the links
    html = c.get(doc(AGENCY) + "?lang=fr").get_data(as_text=True)
    assert f'href="{doc(PARENT)}?lang=fr"' in html


def test_unknown_language_falls_back_to_english(c):
    html = c.get(doc(AGENCY), headers={"Accept-Language": "de-DE, ja;q=0.5"}).get_data(as_text=True)
    assert ">Ankara Police Department</h1>" in html


def test_incoming_links_are_phrased(c):
    html = c.get(doc(AGENCY)).get_data(as_text=True)
    incoming = text_of(section(html, "Referred to by"))
    assert "organiser of" in incoming and "participant in" in incoming
    assert "(participant)" in incoming, "the role of the participation is shown"
    assert "has the unit" in text_of(section(c.get(doc(PARENT)).get_data(as_text=True), "Referred to by"))
    action = text_of(section(c.get(doc(ACTION)).get_data(as_text=True), "Referred to by"))
    assert "includes the event" in action and "Meeting 1" in action


def test_dates_are_formatted(c):
    html = c.get(doc(EVENTS[0])).get_data(as_text=True)
    assert "11 January 2021" in text_of(html)
    html = c.get(doc(EVENTS[0]) + "?lang=fr").get_data(as_text=True)
    assert "11 janvier 2021" in text_of(html)


@pytest.mark.parametrize("iri,expected", [(AGENCY, 7), (ACTION, 7), (PROGRAMME, 7), (PARENT, 3)])
def test_timeline_svg(c, iri, expected):
    html = c.get(doc(iri)).get_data(as_text=True)
    svgs = re.findall(r'<svg class="timeline tl-(narrow|wide)".*?</svg>', html, re.S)
    assert sorted(svgs) == ["narrow", "wide"], "a server-rendered timeline, drawn for narrow and wide screens"
    for svg in re.finditer(r'<svg class="timeline tl-(?:narrow|wide)".*?</svg>', html, re.S):
        links = re.findall(r'<a href="([^"]+)">', svg.group(0))
        assert len(links) == expected
        # chronological: the links follow the events' dates
        order = [EVENTS.index(BASE + "id/" + link[len("/doc/"):]) for link in links]
        assert order == sorted(order)
        assert "2021" in svg.group(0) and 'role="group"' in svg.group(0)  # links stay reachable (not an img)
        assert "<script" not in svg.group(0)


def test_no_timeline_where_there_are_no_events(c):
    assert "<svg" not in c.get(doc(CONVENTION)).get_data(as_text=True)


def test_schema_org_json_ld_in_entity_pages(c):
    for iri, typ in ((AGENCY, "GovernmentOrganization"), (EVENTS[0], "Event"), (CONVENTION, "Legislation"),
                     (ACTION, "Project"), (NON_ASCII, "Place")):
        html = c.get(doc(iri)).get_data(as_text=True)
        block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        data = json.loads(block.group(1))
        assert data["@context"] == "https://schema.org" and data["@type"] == typ and data["@id"] == iri
        assert data["name"]
        g = rdflib.Graph().parse(data=json.dumps({**data, "@context": {"@vocab": "https://schema.org/"}}),
                                 format="json-ld")
        assert len(g) >= 2
    event = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>',
                                 c.get(doc(EVENTS[0])).get_data(as_text=True), re.S).group(1))
    assert event["startDate"] == "2021-01-11" and event["organizer"][0]["name"] == "Ankara Police Department"


def test_class_index_paged_and_sorted():
    c = sample_app(page_size=3).test_client()
    html = c.get("/class/event").get_data(as_text=True)
    names = re.findall(r'<li><a href="[^"]+">([^<]+)</a>', html)
    assert names == ["Meeting 1", "Meeting 2", "Meeting 3"]
    assert 'rel="next" href="/class/event?page=2"' in html and "Page 1 of 3" in html
    all_names = []
    for page in (1, 2, 3):
        all_names += re.findall(r'<li><a href="[^"]+">([^<]+)</a>', c.get(f"/class/event?page={page}").get_data(as_text=True))
    assert all_names == [f"Meeting {i}" for i in range(1, 8)]
    by_date = re.findall(r'<li><a href="[^"]+">([^<]+)</a>', c.get("/class/event?sort=date").get_data(as_text=True))
    assert by_date == ["Meeting 7", "Meeting 6", "Meeting 5"]
    fr = re.findall(r'<li><a href="[^"]+">([^<]+)</a>', c.get("/class/event?lang=fr").get_data(as_text=True))
    assert fr == ["Réunion 1", "Réunion 2", "Réunion 3"]


def test_index_and_search_pages_vary_on_language(c):
    for url in ("/class/", "/class/agency", "/search?q=police"):
        assert "Accept-Language" in c.get(url).headers["Vary"]


def test_class_index_for_machines_is_a_paged_hydra_collection():
    c = sample_app(page_size=3).test_client()
    H = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
    members, url, pages = set(), "/class/event", 0
    while url:
        r = c.get(url, headers={"Accept": "text/turtle"})
        assert r.status_code == 200 and r.mimetype == "text/turtle" and "Accept" in r.headers["Vary"]
        g = rdflib.Graph().parse(data=r.data, format="turtle")
        coll = rdflib.URIRef(BASE + "class/event")
        assert int(g.value(coll, H.totalItems)) == 7
        page_members = set(g.objects(coll, H.member))
        assert len(page_members) <= 3 and not page_members & members
        for m in page_members:
            assert g.value(m, rdflib.RDFS.label) is not None
        members |= page_members
        nxt = g.value(g.value(coll, H.view), H.next)
        url = "/" + str(nxt)[len(BASE):] if nxt is not None else None
        pages += 1
    assert pages == 3 and members == {rdflib.URIRef(e) for e in EVENTS}
    assert c.get("/class/event", headers={"Accept": "image/png"}).status_code == 406


def test_browse_page_counts(c):
    text = text_of(c.get("/class/").get_data(as_text=True))
    assert re.search(r"Events\s+7", text) and re.search(r"Agencies\s+4", text)


@pytest.mark.parametrize("q,expected", [
    ("sao tome", "Sao Tome"),            # accents ignored
    ("SÃO", "Sao Tome"),                 # case and accents
    ("emniyet mudurlugu", "Ankara Police Department"),  # a Turkish name, found without its letters ğ ü
    ("réunion 3", "Meeting 3"),          # a French label finds the thing; shown in the reader's language
    ("police", "National Police"),
])
def test_search_any_language_accent_insensitive(c, q, expected):
    html = c.get("/search", query_string={"q": q}).get_data(as_text=True)
    results = re.findall(r'<li>\s*<a href="([^"]+)">([^<]+)</a>', html)
    assert expected in [unescape(label) for _, label in results], (q, results)
    for href, _ in results:
        assert c.get(href).status_code == 200


def test_search_ranks_exact_and_prefix_matches_first(c):
    html = c.get("/search?q=national police").get_data(as_text=True)
    results = [unescape(x) for x in re.findall(r'<li>\s*<a href="[^"]+">([^<]+)</a>', html)]
    assert results[0] == "National Police"
    html = c.get("/search?q=police&class=agency").get_data(as_text=True)
    assert "Meeting" not in html


def test_def_documents_every_term(c):
    html = c.get("/def").get_data(as_text=True)
    onto = rdflib.Graph().parse(data=c.get("/def.ttl").data, format="turtle")
    OWL = rdflib.OWL
    thb = BASE + "def#"
    terms = {s for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty) for s in onto.subjects(rdflib.RDF.type, t)
             if str(s).startswith(thb)}
    assert len(terms) > 10
    for term in terms:
        anchor = str(term)[len(thb):]
        assert f'id="{anchor}"' in html, anchor
    agency = re.search(r'<article class="term card" id="Agency".*?</article>', html, re.S).group(0)
    assert "Used in the KB" in agency and re.search(r"<dd>4 instances</dd>", agency)
    organiser = re.search(r'<article class="term card" id="organiser".*?</article>', html, re.S).group(0)
    assert "Domain" in organiser and "thb:Event" in organiser and "7 statements" in organiser
    assert "Range" in organiser and 'href="/def#Agency"' in organiser


def test_term_iris_resolve_through_def(c):
    r = c.get("/def", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["Content-Location"] == "/def.ttl"
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    assert (rdflib.URIRef(BASE + "def#Agency"), rdflib.RDF.type, rdflib.OWL.Class) in g
    assert c.get("/def", headers={"Accept": "application/ld+json"}).mimetype == "application/ld+json"


def test_shapes_page_lists_shapes_constraints_and_messages(c):
    html = c.get("/shapes").get_data(as_text=True)
    shapes = rdflib.Graph().parse(data=c.get("/shapes.ttl").data, format="turtle")
    SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    node_shapes = {s for s in shapes.subjects(rdflib.RDF.type, SH.NodeShape) if isinstance(s, rdflib.URIRef)}
    assert node_shapes
    for s in node_shapes:
        assert f'id="{str(s).rpartition("#")[2]}"' in html
    assert "minCount" in html
    page = unescape(html)
    messages = {str(m) for s in node_shapes for p in shapes.objects(s, SH.property)
                for m in shapes.objects(p, SH.message)}
    assert messages
    for m in messages:
        assert m in page, m


def test_language_switch_links(c):
    html = c.get(doc(AGENCY)).get_data(as_text=True)
    assert f'href="{doc(AGENCY)}?lang=fr" hreflang="fr"' in html
    fr = c.get(doc(AGENCY) + "?lang=fr").get_data(as_text=True)
    assert re.search(r'hreflang="fr" lang="fr" aria-current="true"', fr)


def test_iris_the_ontology_names_under_def_resolve(c):
    onto = rdflib.Graph().parse(data=c.get("/def.ttl").data, format="turtle")
    version = onto.value(rdflib.URIRef(BASE + "def"), rdflib.OWL.versionIRI)
    assert version is not None and str(version).startswith(BASE + "def/")
    r = c.get("/" + str(version)[len(BASE):], headers={"Accept": "text/turtle"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/def.ttl")
    assert c.get("/" + str(version)[len(BASE):]).headers["Location"].endswith("/def")
    assert c.get("/def/no-such-part").status_code == 404


def test_format_table_follows_kb_rdfio():
    from kb import rdfio
    from server import negotiation

    assert [f.suffix for f in negotiation.FORMATS] == ["html", "ttl", "nt", "jsonld", "rdf"]
    for f in negotiation.RDF_FORMATS:
        assert f.rdf is rdfio.format_for(f.name) and f.media_type == f.rdf.media_type
        assert "." + f.suffix in f.rdf.extensions


def test_a_session_without_its_own_date_is_drawn_at_its_event_start():
    import pyoxigraph as ox

    from ld_sample_data import MANY_NAMES

    app = sample_app(page_size=100)
    store = app.extensions["kb"].store
    session = ox.NamedNode(BASE + "id/event/2021-01-11-meeting-1-session-1")
    t = lambda p, o: ox.Triple(session, ox.NamedNode(p), o)  # noqa: E731
    store.add_to_graph(store.iris.graph("ld-sample"), [
        t("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", ox.NamedNode(BASE + "def#Event")),
        t("http://www.w3.org/2000/01/rdf-schema#label", ox.Literal("Opening session", language="en")),
        t("https://schema.org/superEvent", ox.NamedNode(EVENTS[0])),
        t(BASE + "def#organiser", ox.NamedNode(MANY_NAMES))])
    html = app.test_client().get(doc(MANY_NAMES)).get_data(as_text=True)
    svg = re.search(r'<svg class="timeline tl-wide".*?</svg>', html, re.S).group(0)
    assert "Opening session" in svg and "11 Jan 2021" in svg
