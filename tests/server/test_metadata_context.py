"""`/context.jsonld`: the IRI of thb-kb's JSON-LD context, `{base}context.jsonld`, dereferences to the context
(application/ld+json, ETag and 304, CORS for cross-origin JSON-LD processors), and what a client fetches
from a real server is the very context the importer inlines from its local copy."""

from __future__ import annotations

import json
import urllib.request

import pytest

from conftest import BASE, LiveServer, make_settings
from kb import jsonld_contexts, rdfio
from server.iris import IriMap


@pytest.fixture(scope="module")
def app():
    from kb.store import open_store
    from server import create_app

    settings = make_settings(base_iri="http://kb.test/")
    application = create_app(settings, store=open_store(settings), load_if_empty=False)
    application.testing = True
    return application


def test_the_context_iri_dereferences_with_validators_and_cors(app):
    client = app.test_client()
    path = IriMap("http://kb.test/").local_url("http://kb.test/context.jsonld")
    r = client.get(path, headers={"Origin": "https://elsewhere.example", "Accept": "application/ld+json"})
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.data == jsonld_contexts.OWN_CONTEXT.read_bytes()
    assert "@context" in json.loads(r.data)
    etag = r.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    assert client.head(path).status_code == 200
    preflight = client.options(path, headers={"Origin": "https://elsewhere.example",
                                              "Access-Control-Request-Method": "GET"})
    assert preflight.headers.get("Access-Control-Allow-Origin") == "*"


def test_a_client_fetching_the_context_from_the_server_gets_the_triples_the_importer_makes(app):
    server = LiveServer(app)
    try:
        req = urllib.request.Request(server.url + "/context.jsonld", headers={"Accept": "application/ld+json",
                                                                              "Accept-Encoding": "identity"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"] == "application/ld+json"
            fetched = json.loads(resp.read())
    finally:
        server.stop()
    node = {"id": BASE + "id/agency/x", "type": "Agency", "label": {"en": "X"}, "startDate": "2020-02-03",
            "organiser": BASE + "id/agency/y"}
    jsonld = rdfio.format_for("jsonld")
    by_iri = rdfio.parse_quads(json.dumps({"@context": BASE + "context.jsonld", **node}).encode(), jsonld)
    inline = rdfio.parse_quads(json.dumps({"@context": fetched["@context"], **node}).encode(), jsonld)
    assert sorted(map(str, by_iri)) == sorted(map(str, inline)) and len(by_iri) == 4
