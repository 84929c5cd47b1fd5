"""/sitemap.xml lists the HTML page of every entity under {base}id/ with lastmod; /robots.txt points to it."""

from __future__ import annotations

import datetime as dt
import urllib.robotparser
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pyoxigraph as ox
import pytest

from conftest import BASE

NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def entities(store) -> set[str]:
    q = f'SELECT DISTINCT ?s {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{BASE}id/")) }}'
    return {r["s"].value.split("#", 1)[0] for r in store.query(q)}  # a hash IRI is described by its page


def sitemap_locs(client) -> tuple[list[str], list[str]]:
    resp = client.get("/sitemap.xml")
    assert resp.status_code == 200 and resp.mimetype == "application/xml"
    root = ET.fromstring(resp.data)  # well-formed XML, or this raises
    assert root.tag == NS + "urlset"
    urls = root.findall(NS + "url")
    return [u.findtext(NS + "loc") for u in urls], [u.findtext(NS + "lastmod") for u in urls]


def loc_to_iri(loc: str) -> str:
    """Undo the page mapping: http://host/doc/T/S.html -> {base}id/T/S (percent-escapes of the IRI kept)."""
    path = urlsplit(loc).path
    assert path.startswith("/doc/") and path.endswith(".html"), loc
    return BASE + "id/" + path[len("/doc/"):-len(".html")]


def test_sitemap_lists_every_entity(metadata_app, metadata_store):
    locs, lastmods = sitemap_locs(metadata_app.test_client())
    assert len(locs) == len(set(locs))
    want = entities(metadata_store)
    assert len(want) >= 10
    got = {unquote(loc_to_iri(loc)) for loc in locs}
    assert got == {unquote(i) for i in want}
    # every loc is a plain ASCII URL (IRIs with non-ASCII characters are percent-encoded)
    assert all(loc.isascii() and " " not in loc for loc in locs)
    assert any("minist%C3%A8re-de-l'int%C3%A9rieur" in loc for loc in locs)
    assert any("a%2Fb-unit" in loc for loc in locs)  # an escaped slash stays escaped
    modified = metadata_store.last_modified().replace(microsecond=0)
    assert {dt.datetime.fromisoformat(m) for m in lastmods} == {modified}


def test_sitemap_follows_writes(metadata_app, metadata_store):
    client = metadata_app.test_client()
    first = client.get("/sitemap.xml")
    assert client.get("/sitemap.xml", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    new = ox.NamedNode(BASE + "id/agency/new-agency")
    metadata_store.add_to_graph(BASE + "graph/fixture", [
        ox.Triple(new, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), ox.Literal("New", language="en"))])
    locs, _ = sitemap_locs(client)
    assert "http://localhost/doc/agency/new-agency.html" in locs
    assert len(locs) == len(entities(metadata_store))


def test_sitemap_index_beyond_50000_urls(metadata_app, metadata_store, monkeypatch):
    """Past the sitemaps.org limit the sitemap becomes an index of pages that together list everything
    (the limit is lowered here so that the test stays small)."""
    from server import sitemap

    monkeypatch.setattr(sitemap, "MAX_URLS", 4)
    client = metadata_app.test_client()
    resp = client.get("/sitemap.xml")
    root = ET.fromstring(resp.data)
    assert root.tag == NS + "sitemapindex"
    pages = [s.findtext(NS + "loc") for s in root.findall(NS + "sitemap")]
    total = len(entities(metadata_store))
    assert len(pages) == -(-total // 4)
    listed = []
    for page in pages:
        sub = client.get(urlsplit(page).path)
        assert sub.status_code == 200
        listed += [u.findtext(NS + "loc") for u in ET.fromstring(sub.data).findall(NS + "url")]
    assert len(listed) == len(set(listed)) == total
    assert client.get(f"/sitemap-{len(pages) + 1}.xml").status_code == 404


def test_robots_txt(metadata_app):
    resp = metadata_app.test_client().get("/robots.txt")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    lines = resp.get_data(as_text=True).splitlines()
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    assert "User-agent: *" in lines and "Disallow: /sparql" in lines
    assert "Disallow: /" not in lines  # the entity pages stay crawlable
    # what a crawler that obeys robots.txt (here the standard library's parser) may fetch
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(lines)
    allowed = {path: parser.can_fetch("Googlebot", "http://localhost" + path) for path in (
        "/", "/doc/agency/pt-sef.html", "/dumps/kb.nt.gz", "/catalog", "/sparql?query=ASK%7B%7D", "/search?q=x",
        "/graph/fixture")}
    assert allowed == {"/": True, "/doc/agency/pt-sef.html": True, "/dumps/kb.nt.gz": True, "/catalog": True,
                       "/sparql?query=ASK%7B%7D": False, "/search?q=x": False, "/graph/fixture": False}


def test_every_sitemap_page_answers_in_html(metadata_app):
    """The sitemap's URLs are the ones the Linked Data pages answer at, awkward IRIs included."""
    client = metadata_app.test_client()
    locs, _ = sitemap_locs(client)
    for loc in locs:
        resp = client.get(urlsplit(loc).path, headers={"Accept": "text/html"})
        assert resp.status_code == 200 and resp.mimetype == "text/html", loc


@pytest.mark.oxigraph_only  # a subclass of the embedded store
def test_sitemap_complete_from_a_store_that_caps_results(metadata_store):
    """A store with a row cap (Virtuoso's ResultSetMaxRows, which the remote store reports as ResultCut)
    still yields the whole sitemap: it is read again in ordered pages below the cap."""
    from conftest import make_settings
    from kb.store.oxigraph import OxigraphStore
    from kb.store.remote import ResultCut
    from server import create_app

    class CappedStore(OxigraphStore):
        cap = 4

        def query(self, sparql, **kwargs):
            result = super().query(sparql, **kwargs)
            if sparql.lstrip().upper().startswith("SELECT") and "LIMIT" not in sparql.upper():
                rows = list(result)
                if len(rows) > self.cap:
                    raise ResultCut(self.cap, "the capped test store")
                return rows
            return result

    store = CappedStore(metadata_store.iris)
    store.apply(insert=list(metadata_store.quads()))
    client = create_app(make_settings(), store=store, load_if_empty=False).test_client()
    locs, _ = sitemap_locs(client)
    assert len(entities(metadata_store)) > CappedStore.cap
    assert {unquote(loc_to_iri(loc)) for loc in locs} == {unquote(i) for i in entities(metadata_store)}
    # VoID's grouped statistics are paged the same way: the same numbers as from the uncapped store
    from rdflib import Graph, URIRef
    from rdflib.namespace import VOID

    def void_numbers(c):
        g = Graph().parse(data=c.get("/.well-known/void", headers={"Accept": "text/turtle"}).data, format="turtle")
        ds = URIRef(BASE + "dataset")
        return (int(g.value(ds, VOID.triples)), int(g.value(ds, VOID.classes)), int(g.value(ds, VOID.properties)),
                len(list(g.objects(ds, VOID.propertyPartition))), len(list(g.objects(ds, VOID.subset))))

    uncapped = create_app(make_settings(), store=metadata_store, load_if_empty=False).test_client()
    assert void_numbers(client) == void_numbers(uncapped)
    assert void_numbers(client)[2] > CappedStore.cap
