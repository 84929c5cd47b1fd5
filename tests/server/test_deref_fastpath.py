"""Documents the cache holds are answered again without Flask (server.fastpath): the same status, headers and
bytes as Flask's answer to the same request; conditional requests, other methods, another KB version and
documents that left the cache go through Flask; /metrics counts them all."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from ld_sample_data import AGENCY, BASE, EVENTS, ESCAPED, NON_ASCII, PARENT, sample_app

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
HEADERS = [{"Accept": "text/turtle"}, {"Accept": "text/html", "Accept-Language": "fr"},
           {"Accept": "text/html", "Accept-Encoding": "gzip"}, {"Accept": "application/ld+json, */*;q=0.1"},
           {"Accept": "application/n-quads", "Accept-Encoding": "gzip, deflate"}]


def _paths():
    from urllib.parse import quote

    out = []
    for iri in [AGENCY, PARENT, NON_ASCII, ESCAPED] + EVENTS[:3]:
        path = "/doc/" + quote(iri[len(BASE) + 3:], safe="/%")
        out += [path, path + ".ttl", path + ".html?lang=fr", path + "?page=2"]
    return out


def _fast(app):
    return app.wsgi_app


def _seen(r):
    return r.status_code, r.get_data(), sorted((k, v) for k, v in r.headers.items() if k != "Date")


@pytest.fixture
def app():
    return sample_app()


def test_a_cached_document_is_the_same_response_without_flask(app):
    client = app.test_client()
    replayed = 0
    for path in _paths():
        for headers in HEADERS:
            first = client.get(path, headers=headers)
            hits = _fast(app).hits
            again = client.get(path, headers=headers)
            if first.status_code == 200:
                assert _seen(again) == _seen(first), (path, headers)
                assert _fast(app).hits == hits + 1, "answered by the fast path"
                replayed += 1
            else:  # errors go through Flask every time (an RDF error names a fresh blank node)
                assert again.status_code == first.status_code and _fast(app).hits == hits
    assert replayed > 60


def test_mounted_under_a_prefix_the_links_stay_under_it(app):
    client = app.test_client()
    path = f"/doc/{AGENCY[len(BASE) + 3:]}"
    root = client.get(path, headers={"Accept": "text/html"})
    mounted = [client.get(path, headers={"Accept": "text/html"}, base_url="http://localhost/kb/") for _ in range(2)]
    assert _seen(mounted[0]) == _seen(mounted[1])
    assert 'href="/kb/doc/' in mounted[1].get_data(as_text=True)
    assert 'href="/kb/doc/' not in root.get_data(as_text=True)


def test_conditional_requests_and_head_go_through_flask(app):
    client = app.test_client()
    path = f"/doc/{AGENCY[len(BASE) + 3:]}.ttl"
    first = client.get(path)
    client.get(path)
    hits = _fast(app).hits
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    head = client.head(path)
    assert head.status_code == 200 and head.headers["ETag"] == first.headers["ETag"] and not head.get_data()
    assert _fast(app).hits == hits


def test_after_a_write_the_new_version_is_served(app):
    client = app.test_client()
    path = f"/doc/{PARENT[len(BASE) + 3:]}.ttl"
    old = [client.get(path) for _ in range(2)][1]
    store = app.extensions["kb"].store
    name = "Police nationale (after a write)"
    store.add_to_graph(BASE + "graph/ld-sample",
                       [ox.Triple(ox.NamedNode(PARENT), ox.NamedNode(RDFS_LABEL), ox.Literal(name, language="fr"))])
    hits = _fast(app).hits
    new = client.get(path)
    assert _fast(app).hits == hits, "another version: through Flask"
    assert name in new.get_data(as_text=True) and new.headers["ETag"] != old.headers["ETag"]
    assert _seen(client.get(path)) == _seen(new) and _fast(app).hits == hits + 1


def test_a_document_that_left_the_cache_is_built_again(app):
    client = app.test_client()
    path = f"/doc/{AGENCY[len(BASE) + 3:]}.html"
    first = [client.get(path) for _ in range(2)][1]
    cache = app.extensions["kb.ld"]["cache"]
    for key in [k for k in cache.data if k[0] != "route"]:  # the documents go, the records stay
        cache.data.pop(key)
    hits = _fast(app).hits
    again = client.get(path)
    assert _fast(app).hits == hits and _seen(again) == _seen(first)


def test_metrics_count_the_requests_answered_without_flask(app):
    client = app.test_client()
    path = f"/doc/{AGENCY[len(BASE) + 3:]}.ttl"

    def count() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        line = next((ln for ln in text.splitlines() if ln.startswith("thb_kb_http_requests_total{")
                     and 'endpoint="/doc/<path:_path>"' in ln and 'status="200"' in ln), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = count()
    for _ in range(5):
        assert client.get(path).status_code == 200
    assert count() == before + 5
    assert _fast(app).hits >= 4


def test_a_memento_request_is_never_answered_with_the_cached_document(app):
    client = app.test_client()
    path = f"/doc/{AGENCY[len(BASE) + 3:]}.ttl"
    current = [client.get(path) for _ in range(2)][1]
    hits = _fast(app).hits
    for when in ("Tue, 01 Dec 2020 12:00:00 GMT", "not a date"):
        r = client.get(path, headers={"Accept-Datetime": when})
        assert r.status_code in (302, 400, 404) and r.get_data() != current.get_data()  # the TimeGate's answer
    assert _fast(app).hits == hits
