"""Request URLs <-> canonical IRIs: non-ASCII, %-escapes and reserved characters round-trip, over the test
client and over real HTTP; the base IRI is independent of the address; X-Forwarded-* behind a proxy."""

from __future__ import annotations

import urllib.request

import pytest
import rdflib

from conftest import LiveServer
from ld_sample_data import AGENCY, ESCAPED, NON_ASCII, QUESTION, RESERVED, sample_app

from server.iris import IriMap, iri_path_to_url, path_candidates

BASE = "https://w3id.org/thb-kb/"
ODD = [NON_ASCII, ESCAPED, RESERVED, QUESTION]


@pytest.fixture(scope="module")
def app(request, store_kind):
    return sample_app(request)


@pytest.fixture(scope="module")
def live(app):
    server = LiveServer(app)
    yield server
    server.stop()


def test_iri_path_to_url_and_back():
    for iri in ODD:
        path = iri[len(BASE) + 3:]
        url = iri_path_to_url(path)
        assert url.isascii() and " " not in url and "?" not in url and "#" not in url
        assert path_candidates(url.encode("ascii"))[0] == path or path in path_candidates(url.encode("ascii"))
    # RFC 3986 normalisation first: escapes of unreserved characters are decoded, of reserved ones kept
    assert path_candidates(b"place/%61b%2Fc")[0] == "place/ab%2Fc"
    assert "place/ab/c" not in path_candidates(b"place/%61b%2Fc")
    assert path_candidates(b"place/s%C3%A3o")[0] == "place/são"
    assert path_candidates(b"place/%FF") == ["place/%FF"]  # not UTF-8: only the raw form


def test_local_urls():
    m = IriMap(BASE)
    assert m.local_url(BASE + "id/agency/x") == "/doc/agency/x"
    assert m.local_url(BASE + "def#Agency") == "/def#Agency"
    assert m.local_url(BASE + "id/place/são", "/kb") == "/kb/doc/place/s%C3%A3o"
    assert m.local_url("http://example.org/x") is None


@pytest.mark.parametrize("iri", ODD)
def test_odd_iris_dereference_through_the_test_client(app, iri):
    c = app.test_client()
    url_path = iri_path_to_url(iri[len(BASE) + 3:])
    r = c.get("/id/" + url_path, headers={"Accept": "text/turtle"})
    assert r.status_code == 303, (iri, r.status_code)
    doc = c.get(r.headers["Location"].replace("http://localhost", ""))
    assert doc.status_code == 200
    g = rdflib.Graph().parse(data=doc.data, format="turtle")
    assert (rdflib.URIRef(iri), None, None) in g, f"the document is about {iri}"
    foaf = rdflib.Namespace("http://xmlns.com/foaf/0.1/")
    assert rdflib.URIRef(iri) in set(g.objects(None, foaf.primaryTopic))


@pytest.mark.parametrize("iri", ODD)
def test_odd_iris_round_trip_over_real_http(live, iri):
    url_path = iri_path_to_url(iri[len(BASE) + 3:])
    req = urllib.request.Request(f"{live.url}/id/{url_path}", headers={"Accept": "application/n-triples"})
    with urllib.request.urlopen(req) as resp:  # follows the 303
        assert resp.status == 200
        data = resp.read()
    g = rdflib.Graph().parse(data=data, format="nt")
    assert (rdflib.URIRef(iri), None, None) in g
    # and the HTML page links to the IRI's document with the same URL
    with urllib.request.urlopen(f"{live.url}/doc/{url_path}") as resp:
        html = resp.read().decode()
    assert f'href="/doc/{url_path}.ttl"' in html.replace("&#39;", "'").replace("&amp;", "&")


def test_iri_written_with_escapes_or_in_iri_form_is_the_same_thing(app):
    c = app.test_client()
    # the IRI holds "são-tomé" (an IRI, not a URI): the request path is %-escaped UTF-8, in either case
    assert c.get("/doc/place/s%C3%A3o-tom%C3%A9.ttl").status_code == 200
    assert c.get("/doc/place/s%c3%a3o-tom%c3%a9.ttl").status_code == 200
    # "a%2Fb%20c" keeps its escapes: "a/b c" is another (unknown) IRI
    assert c.get("/doc/place/a%2Fb%20c.ttl").status_code == 200
    assert c.get("/doc/place/a/b%20c.ttl").status_code == 404


def test_base_iri_independent_of_the_listening_address(live):
    with urllib.request.urlopen(urllib.request.Request(
            f"{live.url}/doc/{AGENCY[len(BASE) + 3:]}.ttl")) as resp:
        text = resp.read().decode()
    assert AGENCY in text and "127.0.0.1" not in text


def test_forwarded_headers_are_honoured_only_when_trusted():
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kb.example.org", "X-Forwarded-Prefix": "/thb",
               "Accept": "text/turtle"}
    path = AGENCY[len(BASE) + 3:]
    trusted = sample_app(trust_proxy=1, page_size=100).test_client()
    r = trusted.get(f"/id/{path}", headers=headers)
    assert r.headers["Location"] == f"https://kb.example.org/thb/doc/{path}.ttl"
    doc = trusted.get(f"/doc/{path}", headers=headers)
    assert doc.headers["Content-Location"] == f"/thb/doc/{path}.ttl"
    assert f'</thb/doc/{path}.jsonld>; rel="alternate"' in doc.headers["Link"]
    html = trusted.get(f"/doc/{path}", headers={**headers, "Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/thb/static/style.css"' in html and 'href="/thb/doc/agency/national-police"' in html
    # the data keeps the canonical IRIs whatever the proxy says
    assert AGENCY.encode() in doc.data and b"kb.example.org" not in doc.data
    untrusted = sample_app().test_client()
    r = untrusted.get(f"/id/{path}", headers=headers)
    assert r.headers["Location"] == f"http://localhost/doc/{path}.ttl"


def raw_http(live, target: bytes, accept: str = "text/turtle") -> tuple[bytes, dict[bytes, bytes]]:
    """One request with exactly these bytes as its target (clients may send UTF-8 unescaped)."""
    import socket

    with socket.create_connection(("127.0.0.1", live.port)) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nAccept: " + accept.encode() +
                  b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in head[1:] if b": " in line)
    return head[0], headers


def test_unescaped_utf8_in_the_request_target(live):
    status, headers = raw_http(live, "/id/place/são-tomé".encode("utf-8"))
    assert b" 303 " in status and headers[b"Location"].endswith(b"/doc/place/s%C3%A3o-tom%C3%A9.ttl")
    status, _ = raw_http(live, "/doc/place/são-tomé.ttl".encode("utf-8"))
    assert b" 200 " in status
    status, _ = raw_http(live, b"/doc/place/\xff\xfe.ttl")
    assert b" 404 " in status
