"""Dereferencing over HTTP: 303 by Accept, documents by Accept and suffix, 406, 404 in the negotiated format,
HEAD, Vary, Content-Location, typed Link alternates, validators and 304, Cache-Control, gzip."""

from __future__ import annotations

import gzip
import re

import pytest
import rdflib

from ld_sample_data import AGENCY, PARENT, sample_app

BASE = "https://w3id.org/thb-kb/"
PATH = AGENCY[len(BASE) + 3:]  # agency/ankara-police
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
RDFLIB_FORMATS = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}


@pytest.fixture(scope="module")
def c(request, store_kind):
    return sample_app(request, cache_control="public, max-age=60").test_client()


@pytest.mark.parametrize("accept,target", [
    (BROWSER, f"/doc/{PATH}"),
    (None, f"/doc/{PATH}"),
    ("*/*", f"/doc/{PATH}"),
    ("text/turtle", f"/doc/{PATH}.ttl"),
    ("application/ld+json", f"/doc/{PATH}.jsonld"),
    ("application/json", f"/doc/{PATH}.jsonld"),
    ("application/rdf+xml", f"/doc/{PATH}.rdf"),
    ("application/n-triples", f"/doc/{PATH}.nt"),
    ("text/html;q=0.5, text/turtle;q=0.9", f"/doc/{PATH}.ttl"),
    ("application/ld+json;q=0.2, application/rdf+xml;q=0.8, text/html;q=0.1", f"/doc/{PATH}.rdf"),
    ("text/*", f"/doc/{PATH}"),
])
def test_id_answers_303_to_the_preferred_document(c, accept, target):
    headers = {"Accept": accept} if accept else {}
    r = c.get(f"/id/{PATH}", headers=headers)
    assert r.status_code == 303
    assert r.headers["Location"] == "http://localhost" + target
    assert "Accept" in r.headers["Vary"]
    follow = c.get(target, headers=headers)
    assert follow.status_code == 200


def test_head_everywhere(c):
    for url in (f"/id/{PATH}", f"/doc/{PATH}", f"/doc/{PATH}.ttl", "/def", "/shapes", "/class/agency", "/search?q=x"):
        got, head = c.get(url), c.head(url)
        assert head.status_code == got.status_code, url
        assert head.data == b""
        assert head.headers.get("Content-Type") == got.headers.get("Content-Type")


@pytest.mark.parametrize("suffix,media", [("html", "text/html"), ("ttl", "text/turtle"),
                                          ("jsonld", "application/ld+json"), ("rdf", "application/rdf+xml"),
                                          ("nt", "application/n-triples")])
def test_documents_by_suffix_and_by_accept_agree(c, suffix, media):
    by_suffix = c.get(f"/doc/{PATH}.{suffix}")
    by_accept = c.get(f"/doc/{PATH}", headers={"Accept": media})
    for r in (by_suffix, by_accept):
        assert r.status_code == 200
        assert r.mimetype == media
        assert r.headers["Last-Modified"] and r.headers["ETag"].startswith('W/"')
        assert r.headers["Cache-Control"] == "public, max-age=60"
    assert by_suffix.data == by_accept.data
    assert by_accept.headers["Content-Location"] == f"/doc/{PATH}.{suffix}"
    assert "Accept" in by_accept.headers["Vary"]
    if suffix in RDFLIB_FORMATS:
        g = rdflib.Graph().parse(data=by_suffix.data, format=RDFLIB_FORMATS[suffix])
        assert (rdflib.URIRef(AGENCY), rdflib.RDFS.label, rdflib.Literal("Ankara Police Department", lang="en")) in g


def test_every_format_holds_the_same_graph(c):
    graphs = [rdflib.Graph().parse(data=c.get(f"/doc/{PATH}.{s}").data, format=f) for s, f in RDFLIB_FORMATS.items()]
    from rdflib.compare import isomorphic

    assert len(graphs[0]) > 10
    for g in graphs[1:]:
        assert isomorphic(graphs[0], g)


def test_typed_alternate_links_in_headers_and_html_head(c):
    r = c.get(f"/doc/{PATH}")
    link = r.headers["Link"]
    html = r.get_data(as_text=True)
    for suffix, media in (("html", "text/html"), ("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                          ("rdf", "application/rdf+xml"), ("nt", "application/n-triples")):
        assert f'</doc/{PATH}.{suffix}>; rel="alternate"; type="{media}"' in link
        assert re.search(rf'<link rel="alternate" type="{re.escape(media)}" href="/doc/{PATH}.{suffix}"', html)
    assert f'<{AGENCY}>; rel="describes"' in link
    # the 303 target of every RDF alternate really serves that type
    for m in re.finditer(r'<([^>]+)>; rel="alternate"; type="([^"]+)"', link):
        assert c.get(m.group(1)).mimetype == m.group(2)


def test_406_lists_the_formats(c):
    for url in (f"/id/{PATH}", f"/doc/{PATH}", "/def"):
        r = c.get(url, headers={"Accept": "image/png"})
        assert r.status_code == 406, url
        text = r.get_data(as_text=True)
        for media in ("text/html", "text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"):
            assert media in text
        assert 'rel="alternate"' in r.headers["Link"]


@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                        ("application/rdf+xml", "xml"), ("application/n-triples", "nt")])
def test_404_in_the_negotiated_format(c, accept, fmt):
    for url in ("/id/agency/no-such-agency", "/doc/agency/no-such-agency", "/doc/agency/no-such-agency.ttl"):
        r = c.get(url, headers={"Accept": accept})
        assert r.status_code == 404
        if url.endswith(".ttl"):
            continue
        assert r.mimetype == accept
        g = rdflib.Graph().parse(data=r.data, format=fmt)
        hydra = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
        assert any("does not describe" in str(o) for o in g.objects(None, hydra.description))


def test_404_html_for_browsers(c):
    r = c.get("/id/agency/no-such-agency", headers={"Accept": BROWSER})
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "does not describe" in r.get_data(as_text=True)


def test_etag_and_last_modified_give_304(c):
    r = c.get(f"/doc/{PATH}.ttl")
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    again = c.get(f"/doc/{PATH}.ttl", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    since = c.get(f"/doc/{PATH}.ttl", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    other = c.get(f"/doc/{PATH}.ttl", headers={"If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200
    # representations differ: their validators differ
    assert c.get(f"/doc/{PATH}.nt").headers["ETag"] != etag


def test_a_write_changes_the_validators():
    app = sample_app(page_size=100)
    c = app.test_client()
    first = c.get(f"/doc/{PATH}.ttl")
    import pyoxigraph as ox

    store = app.extensions["kb"].store
    store.add_to_graph(store.iris.graph("ld-sample"), [ox.Triple(
        ox.NamedNode(AGENCY), ox.NamedNode("http://www.w3.org/2004/02/skos/core#altLabel"), ox.Literal("APD", language="en"))])
    second = c.get(f"/doc/{PATH}.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert second.headers["ETag"] != first.headers["ETag"]
    assert b'"APD"@en' in second.data


def test_gzip_when_accepted(c):
    plain = c.get(f"/doc/{PATH}.ttl")
    for url in (f"/doc/{PATH}.ttl", f"/doc/{PATH}", "/def", "/class/agency"):
        r = c.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert r.headers.get("Content-Encoding") == "gzip", url
        assert "Accept-Encoding" in r.headers["Vary"]
        body = gzip.decompress(r.data)
        if url.endswith(".ttl"):
            assert body == plain.data
    assert "Content-Encoding" not in plain.headers


def test_language_is_part_of_html_negotiation(c):
    en = c.get(f"/doc/{PATH}", headers={"Accept-Language": "en"})
    fr = c.get(f"/doc/{PATH}", headers={"Accept-Language": "fr-FR, fr;q=0.9"})
    assert "Accept-Language" in en.headers["Vary"]
    assert en.headers["ETag"] != fr.headers["ETag"]
    assert "Ankara Police Department" in en.get_data(as_text=True)
    assert "Direction de la police d&#39;Ankara" in fr.get_data(as_text=True)


def test_lang_parameter_survives_the_303(c):
    r = c.get(f"/id/{PATH}?lang=fr")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/doc/{PATH}?lang=fr")


def test_parent_document_links_back(c):
    html = c.get(PARENT.replace(BASE + "id/", "/doc/")).get_data(as_text=True)
    assert f'href="/doc/{PATH}"' in html


def test_document_cache_is_bounded_by_bytes():
    from server.http_common import document_weight
    from server.lru import LRU

    lru = LRU(max_entries=100, max_bytes=10_000, sizeof=document_weight)
    for i in range(50):
        lru.put(i, (b"x" * 1000, None))
    assert lru.bytes <= 10_000 and len(lru.data) < 10
    assert lru.get(49) is not None and lru.get(0) is None
    lru.put(49, (b"y" * 10, None))
    assert lru.bytes == sum(document_weight(v) for v in lru.data.values())


def test_signposting_links(c):
    r = c.get(f"/id/{PATH}", headers={"Accept": "text/turtle"})
    link = r.headers["Link"]
    for suffix, media in (("ttl", "text/turtle"), ("jsonld", "application/ld+json"), ("html", "text/html")):
        assert f'</doc/{PATH}.{suffix}>; rel="describedby"; type="{media}"' in link
    assert f'<{AGENCY}>; rel="cite-as"' in link
    doc = c.get(f"/doc/{PATH}.ttl").headers["Link"]
    assert f'<{BASE}doc/{PATH}>; rel="cite-as"' in doc and 'rel="license"' in doc


def test_suffixes_ignore_case(c):
    r = c.get(f"/doc/{PATH}.TTL")
    assert r.status_code == 200 and r.mimetype == "text/turtle"
