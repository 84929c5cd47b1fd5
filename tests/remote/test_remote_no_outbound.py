"""No outbound request through a remote store: Virtuoso runs a function IRI as one of its procedures
(`bif:http_get(<url>)` fetches the URL from the store's machine); thb-kb's endpoint refuses such calls."""

from __future__ import annotations

import http.server
import threading
from urllib.parse import urlencode

import pytest
import requests



@pytest.fixture()
def listener():
    """A loopback HTTP server that records the paths asked of it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"fetched")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.hits = hits
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()


def calls(url: str) -> list[str]:
    return [f'PREFIX b: <bif:> SELECT (b:http_get("{url}/prefixed") AS ?x) WHERE {{}}',
            f'SELECT ?x WHERE {{ BIND(<bif:http_get>("{url}/iri") AS ?x) }}',
            f'SELECT ?x WHERE {{ BIND(<bif:http_get> # comment\n ("{url}/comment") AS ?x) }}']


def test_virtuoso_alone_would_fetch(virtuoso, listener):
    """The danger is real: Virtuoso's own endpoint fetches the URL (so the next test can fail)."""
    resp = requests.post(virtuoso.url, data={"query": calls(listener.url)[1]},
                         headers={"Accept": "application/sparql-results+json"}, timeout=20)
    assert resp.status_code == 200 and listener.hits == ["/iri"]


def test_the_endpoint_refuses_function_calls_that_would_reach_the_network(virtuoso, listener):
    from server import create_app

    virtuoso.empty_store()
    app = create_app(virtuoso.settings(), load_if_empty=False)
    client = app.test_client()
    for query in calls(listener.url):
        resp = client.get("/sparql?" + urlencode({"query": query}), headers={"Accept": "application/sparql-results+json"})
        assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
        assert "function <bif:http_get> is not allowed" in resp.get_data(as_text=True)
    resp = client.get("/sparql?" + urlencode({"query": 'SELECT (xsd:integer("7") AS ?n) WHERE {}'}),
                      headers={"Accept": "application/sparql-results+json"})
    assert resp.status_code == 200 and resp.get_json()["results"]["bindings"][0]["n"]["value"] == "7"
    assert listener.hits == []
