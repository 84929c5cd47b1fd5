"""The change feed `/changes`: every write of the KB (its import records, newest first) as a paged
`ldes:EventStream`, for harvesters that mirror the KB incrementally: `?since=` returns only what changed after
a moment, each member carries its record (when, which graphs, replace/merge/drop, triples added and removed),
and the record IRIs dereference. HTML for people; validators follow the KB version."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import URIRef

from conftest import BASE, make_settings

LDES, TREE, PROV = "https://w3id.org/ldes#", "https://w3id.org/tree#", "http://www.w3.org/ns/prov#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
FEED = URIRef(BASE + "changes")


@pytest.fixture(scope="module")
def app():
    from kb.importer import Importer
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    application = create_app(make_settings(page_size=1), store=store)  # the curated build: the first record
    triples = [q.triple for q in ox.parse(
        f'<{BASE}id/place/x> <http://www.w3.org/2000/01/rdf-schema#label> "X"@en .'.encode(), format=ox.RdfFormat.TURTLE)]
    Importer(store, make_settings()).write({BASE + "graph/extra-place": triples}, mode="merge", validate=False)
    return application


def feed(client, query="", accept="text/turtle") -> rdflib.Graph:
    r = client.get("/changes" + query, headers={"Accept": accept})
    assert r.status_code == 200, r.get_data(as_text=True)
    return rdflib.Graph().parse(data=r.data, format="turtle" if accept == "text/turtle" else "json-ld")


def members(g: rdflib.Graph) -> list[URIRef]:
    items = list(g.objects(FEED, URIRef(TREE + "member")))
    return sorted(items, key=lambda m: str(g.value(m, URIRef(PROV + "endedAtTime"))), reverse=True)


def test_the_feed_lists_every_write_newest_first_one_page_at_a_time(app):
    c = app.test_client()
    first = feed(c)
    assert (FEED, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), URIRef(LDES + "EventStream")) in first
    assert int(first.value(FEED, URIRef(HYDRA + "totalItems"))) == 2
    newest = members(first)
    assert len(newest) == 1  # page size 1
    assert URIRef(BASE + "graph/extra-place") in set(first.objects(newest[0], URIRef(BASE + "def#targetGraph")))
    view = first.value(FEED, URIRef(HYDRA + "view"))
    nxt = first.value(view, URIRef(HYDRA + "next"))
    assert str(nxt) == BASE + "changes?page=2"
    second = feed(c, "?page=2", accept="application/ld+json")
    older = members(second)
    assert len(older) == 1 and older != newest
    assert str(second.value(older[0], URIRef(PROV + "endedAtTime"))) < str(first.value(newest[0], URIRef(PROV + "endedAtTime")))
    # a member is an import record: its IRI dereferences
    assert c.get("/" + str(older[0])[len(BASE):], headers={"Accept": "text/turtle"}, follow_redirects=True).status_code == 200


def test_since_returns_only_later_writes(app):
    c = app.test_client()
    g = feed(c, "?page=2")
    older = members(g)[0]
    since = str(g.value(older, URIRef(PROV + "endedAtTime")))
    later = feed(c, "?since=" + since.replace("+", "%2B"))
    assert int(later.value(FEED, URIRef(HYDRA + "totalItems"))) == 1
    assert older not in members(later)
    assert int(feed(c, "?since=2999-01-01T00:00:00Z").value(FEED, URIRef(HYDRA + "totalItems"))) == 0


def test_bad_parameters_are_400(app):
    c = app.test_client()
    for q in ("?since=yesterday", "?since=2024-13-45T00:00:00Z", "?page=0"):
        r = c.get("/changes" + q, headers={"Accept": "text/turtle"})
        assert r.status_code == 400, q
    assert c.get("/changes?page=99", headers={"Accept": "text/turtle"}).status_code == 404


def test_html_and_validators(app):
    c = app.test_client()
    r = c.get("/changes", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    text = r.get_data(as_text=True)
    assert "extra-place" in text and 'href="/doc/import/' in text
    again = c.get("/changes", headers={"Accept": "text/html", "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    assert "Accept" in r.headers["Vary"] and r.headers["Last-Modified"]
    home = c.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/changes"' in home
